"""Trace file formats: error paths, detection, golden reads, round trips and conversions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abrkit.errors import ParameterError, TraceFormatError
from abrkit.traces import FORMATS, Trace, detect_format, markov_trace, read_trace, write_trace
from abrkit.traces.formats import MAHIMAHI_PACKET_BYTES

PACKET_BITS = MAHIMAHI_PACKET_BYTES * 8

ALL_FORMATS = ["cooked", "sabre", "genet", "mahimahi", "norway-raw", "belgium-raw", "csv"]


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _cum_bits(trace: Trace, at_s: np.ndarray) -> np.ndarray:
    """Bits delivered from the trace's start up to each time in ``at_s`` (seconds from its start)."""
    edges = np.append(trace.time_s, trace.end_s) - trace.time_s[0]
    integral = np.concatenate(([0.0], np.cumsum(trace.bandwidth_bps * trace.duration_s)))
    return np.interp(at_s, edges, integral)


def _latency(trace: Trace) -> np.ndarray:
    # No latency and zero latency mean the same to the simulator.
    return trace.latency_s if trace.latency_s is not None else np.zeros(trace.n_periods)


def test_every_format_is_registered() -> None:
    assert set(ALL_FORMATS) <= set(FORMATS)
    for name in ALL_FORMATS:
        fmt = FORMATS[name]
        assert fmt.name == name and fmt.description and fmt.sniff is not None


# -- error paths ----------------------------------------------------------------------------------

GENET_BAD_BW = '{\n  "timestamps": [0, 1, 2],\n  "bandwidths": [1.0,\n    -2.0,\n    3.0],\n  "link_rtt": 80\n}\n'

# (format, file content, line the error must name or None, message pattern)
BAD_FILES = [
    ("cooked", "0 1.0\n1 -2.0\n", 2, r"bandwidth_Mbps -2\.0 is negative"),
    ("cooked", "0 1.0\n1 nan\n", 2, r"bandwidth_Mbps 'nan' is not finite"),
    ("cooked", "0 1.0\n1\n", 2, r"expected 2 columns 'time_s bandwidth_Mbps', got 1"),
    ("cooked", "0 1.0\n1 2.0 3.0\n", 2, r"expected 2 columns .* got 3"),
    ("cooked", "0 1.0\n2 1.0\n\n2 1.0\n", 4, r"time_s 2\.0 is not after the previous 2\.0"),
    ("cooked", "-1 1.0\n", 1, r"time_s -1\.0 is negative"),
    ("cooked", "0 1.0\n1 fast\n", 2, r"bandwidth_Mbps 'fast' is not a number"),
    ("sabre", '[\n  {"duration_ms": 1000, "bandwidth_kbps": 100, "latency_ms": 20},\n  {"duration_ms": 1000, "bandwidth_kbps": -5, "latency_ms": 20}\n]\n', 3, r"period 1: bandwidth_kbps=-5 must be >= 0"),
    ("sabre", '[\n  {"duration_ms": 1000, "bandwidth_kbps": NaN, "latency_ms": 20}\n]\n', 2, r"period 0: bandwidth_kbps=nan is not a finite number"),
    ("sabre", '[\n  {"duration_ms": 1000, "latency_ms": 20}\n]\n', 2, r"period 0 has no 'bandwidth_kbps'"),
    ("sabre", '[\n  {"duration_ms": 0, "bandwidth_kbps": 5, "latency_ms": 20}\n]\n', 2, r"duration_ms=0 must be > 0"),
    ("sabre", '[\n  {"duration_ms": 1000, "bandwidth_kbps": 5, "latency_ms": 20},\n  7\n]\n', 3, r"period 1 is not an object"),
    ("sabre", '[\n  {"duration_ms": 1000,\n', 3, r"invalid JSON"),
    ("sabre", "{}", None, r"must be a non-empty list of periods"),
    ("genet", GENET_BAD_BW, 4, r"bandwidths\[1\]=-2\.0 is negative"),
    ("genet", '{\n"timestamps": [0, 1,\n 1],\n"bandwidths": [1, 2, 3]}', 3, r"timestamps\[2\]=1\.0 is not after the previous 1\.0"),
    ("genet", '{\n"timestamps": [0, NaN],\n"bandwidths": [1, 2]}', 2, r"timestamps\[1\]=nan is not a finite number"),
    ("genet", '{\n"timestamps": [0, 1],\n"bandwidths": [1, null]}', 3, r"bandwidths\[1\]=None is not a finite number"),
    ("genet", '{"timestamps": [0, 1], "bandwidths": [1]}', None, r"'timestamps' has 2 values but 'bandwidths' has 1"),
    ("genet", '{"timestamps": [0, 1]}', None, r"Genet trace JSON has no 'bandwidths'"),
    ("genet", '{"timestamps": [], "bandwidths": []}', 1, r"'timestamps' must be a non-empty list"),
    ("genet", '{"timestamps": [0], "bandwidths": [1], "link_rtt": -3}', 1, r"link_rtt=-3 must be a finite number >= 0"),
    ("genet", '{"timestamps": [0, 1], "bandwidths": [1, 2], "delays": [5]}', 1, r"'delays' must be a number or a list of 2"),
    ("genet", '{"timestamps": [0],\n "bandwidths": [1],\n "link_rtt": 80,\n}', 4, r"invalid JSON"),
    ("genet", "[1, 2]", None, r"must be an object with 'timestamps' and 'bandwidths'"),
    ("mahimahi", "1\n2\n-3\n", 3, r"timestamp -3 is negative"),
    ("mahimahi", "1\n5\n4\n", 3, r"timestamp 4 is before the previous 5 \(timestamps must be non-decreasing\)"),
    ("mahimahi", "1\n\n2 3\n", 3, r"expected 1 column \(a millisecond timestamp\), got 2"),
    ("mahimahi", "1\n2.5\n", 2, r"timestamp '2\.5' is not an integer number of milliseconds"),
    ("mahimahi", "1\nnan\n", 2, r"timestamp 'nan' is not an integer"),
    ("mahimahi", "0\n0\n", 2, r"the last timestamp must be > 0 ms"),
    ("norway-raw", "1289406399 549692 59.85 10.78 248069\n", 1, r"expected 6 columns 'unix_time ms_since_start gps_lat gps_lon bytes elapsed_ms', got 5"),
    ("norway-raw", "1289406399 549692 59.85 10.78 248069 1008\n1289406400 550772 59.85 10.78 -1 1080\n", 2, r"bytes -1\.0 is negative"),
    ("norway-raw", "1289406399 549692 59.85 10.78 248069 0\n", 1, r"elapsed_ms 0\.0 must be > 0"),
    ("norway-raw", "1289406399 549692 nan 10.78 248069 1008\n", 1, r"gps_lat 'nan' is not finite"),
    ("norway-raw", "1289406399 549692 59.85 10.78 248069 1008\n1289406400 549692 59.85 10.78 1 1080\n", 2, r"ms_since_start 549692\.0 is not after the previous 549692\.0"),
    ("norway-raw", "1289406399 549692 59.85 10.78 x 1008\n", 1, r"bytes 'x' is not a number"),
    ("belgium-raw", "1453121790686 39287 51.03 3.73 2493100 1000\n1453121791687 40288 51.03 3.73 2763504 -1001\n", 2, r"elapsed_ms -1001\.0 must be > 0"),
    ("belgium-raw", "1453121790686 39287 51.03 3.73 2493100\n", 1, r"expected 6 columns"),
    ("csv", "time_s,bandwidth_kbps\n0,100\n1,\n", 3, r"missing value for bandwidth_kbps"),
    ("csv", "time_s,bandwidth_kbps\n0,100\n1,-5\n", 3, r"bandwidth_kbps '-5' must be >= 0"),
    ("csv", "time_s,bandwidth_kbps\n0,100\n1,NaN\n", 3, r"bandwidth_kbps 'NaN' is not finite"),
    ("csv", "time_s,bandwidth_kbps\n0,100,7\n", 2, r"expected 2 columns \(time_s,bandwidth_kbps\), got 3"),
    ("csv", "time_s,bandwidth_kbps\n0,100\n0,100\n", 3, r"time_s '0' is not after the previous 0\.0"),
    ("csv", "time_s,bandwidth\n0,100\n", 1, r"unknown column 'bandwidth' \(known: time_s"),
    ("csv", "time_s,latency_ms\n0,100\n", 1, r"the header has no bandwidth column"),
    ("csv", "time_s,time_ms,bandwidth_kbps\n0,0,100\n", 1, r"columns 'time_s' and 'time_ms' both give the time"),
    ("csv", "# a comment\ntime_s,bandwidth_kbps\n", 2, r"no data rows after the header"),
    ("csv", "# only comments\n", None, r"no header row"),
    ("csv", "time_s,bandwidth_kbps\n0,100\n# end_s=abc\n", 3, r"end_s 'abc' is not a number"),
    ("csv", "duration_s,bandwidth_kbps\n1,100\n0,100\n", 3, r"duration_s '0' must be > 0"),
    ("csv", "duration_s,bandwidth_kbps\n1,100\n# end_s=5\n", None, r"end_s=5\.0 disagrees with the durations, which end at 1\.0"),
    ("csv", "time_s,bandwidth_kbps,latency_ms\n0,100,-1\n", 2, r"latency_ms '-1' must be >= 0"),
]


@pytest.mark.parametrize("fmt, text, line, match", BAD_FILES, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_FILES)])
def test_reader_errors_name_file_and_line(tmp_path: Path, fmt: str, text: str, line: int | None, match: str) -> None:
    path = _file(tmp_path, f"bad_{fmt}.trace", text)
    where = re.escape(str(path)) + (f", line {line}" if line is not None else "")
    with pytest.raises(TraceFormatError, match=f"^{where}: .*{match}") as info:
        read_trace(path, fmt)
    assert info.value.path == str(path) and info.value.line == line


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_empty_files_are_rejected(tmp_path: Path, fmt: str, text: str) -> None:
    path = _file(tmp_path, "empty.txt", text)
    with pytest.raises(TraceFormatError, match=re.escape(str(path)) + r": empty file"):
        read_trace(path, fmt)


# mahimahi is absent: every line is an opportunity, so it cannot say "zero bandwidth".
@pytest.mark.parametrize("fmt", [f for f in ALL_FORMATS if f != "mahimahi"])
def test_all_zero_bandwidth_is_rejected_with_the_file_name(tmp_path: Path, fmt: str) -> None:
    zero = {
        "cooked": "0 0\n1 0\n",
        "sabre": '[{"duration_ms": 1000, "bandwidth_kbps": 0, "latency_ms": 0}]',
        "genet": '{"timestamps": [0, 1], "bandwidths": [0, 0]}',
        "norway-raw": "1289406399 549692 59.85 10.78 0 1008\n",
        "belgium-raw": "1453121790686 39287 51.03 3.73 0 1000\n",
        "csv": "time_s,bandwidth_kbps\n0,0\n",
    }[fmt]
    path = _file(tmp_path, "zero.txt", zero)
    with pytest.raises(TraceFormatError, match=re.escape(str(path)) + r": bandwidth_bps='all zero'"):
        read_trace(path, fmt)


def test_unknown_format_and_missing_files(tmp_path: Path) -> None:
    path = _file(tmp_path, "notes.txt", "hello world\nthis is not a trace\n")
    with pytest.raises(TraceFormatError, match=re.escape(str(path)) + r": unknown trace format: content matches none of"):
        read_trace(path)
    with pytest.raises(ParameterError, match=r"format='nope' is invalid: unknown trace format; known: belgium-raw"):
        read_trace(path, "nope")
    with pytest.raises(ParameterError, match=r"format='nope' is invalid"):
        write_trace(Trace.constant(1e6), tmp_path / "x", "nope")
    with pytest.raises(TraceFormatError, match=r"missing: no such file"):
        read_trace(tmp_path / "missing")
    with pytest.raises(TraceFormatError, match=r"missing: no such file"):
        read_trace(tmp_path / "missing", "csv")
    with pytest.raises(TraceFormatError, match=r"is a directory"):
        read_trace(tmp_path)
    with pytest.raises(TraceFormatError, match=r"empty file"):
        detect_format(_file(tmp_path, "blank", "\n"))
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(TraceFormatError, match=r"not a UTF-8 text file"):
        read_trace(binary, "cooked")


def test_options_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "m"
    write_trace(Trace.constant(12e6, 2.0), path, "mahimahi")
    with pytest.raises(ParameterError, match=r"bin_ms=0 is invalid: must be an integer number of milliseconds >= 1"):
        read_trace(path, "mahimahi", bin_ms=0)
    with pytest.raises(ParameterError, match=r"bin_ms=1\.5 is invalid"):
        read_trace(path, "mahimahi", bin_ms=1.5)
    with pytest.raises(ParameterError, match=r"bin_ms=5 is invalid: is not an option of the 'cooked' format \(its options: none\)"):
        read_trace(path, "cooked", bin_ms=5)
    with pytest.raises(ParameterError, match=r"colour='red' is invalid: is not an option of the 'mahimahi' format \(its options: bin_ms\)"):
        read_trace(path, "mahimahi", colour="red")
    with pytest.raises(ParameterError, match=r"bin_ms=5 is invalid: is not an option"):
        write_trace(Trace.constant(1e6), tmp_path / "w", "mahimahi", bin_ms=5)
    with pytest.raises(ParameterError, match=r"trace='str' is invalid: must be a Trace"):
        write_trace("trace", tmp_path / "w", "csv")  # type: ignore[arg-type]


def test_writers_reject_what_their_format_cannot_store(tmp_path: Path) -> None:
    tiny = Trace([0.0], [1e6], end_s=0.0004)
    with pytest.raises(ParameterError, match=r"lasts under 1 ms, which mahimahi cannot store"):
        write_trace(tiny, tmp_path / "m", "mahimahi")
    short_period = Trace([0.0, 0.0002, 1.0], [1e6, 1e6, 1e6], end_s=2.0)
    with pytest.raises(ParameterError, match=r"duration_s\[0\]=0\.0002 is invalid: must round to at least 1 ms"):
        write_trace(short_period, tmp_path / "n", "norway-raw")


# -- detection --------------------------------------------------------------------------------------


@pytest.fixture
def sample() -> Trace:
    """A trace with latency, irregular periods and an outage, starting at 0."""
    t = markov_trace(120.0, [300.0, 1200.0, 4000.0], 6.0, step_s=1.0, outage_rate_per_min=2.0, latency_ms=80.0, seed=4)
    edges = np.append(t.time_s, t.end_s)
    edges[1:-1] += np.linspace(-0.3, 0.3, edges.size - 2)  # make the periods irregular
    return Trace(edges[:-1], t.bandwidth_bps, end_s=edges[-1], latency_s=t.latency_s, name="sample")


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_written_format_is_detected(tmp_path: Path, sample: Trace, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    write_trace(sample, path, fmt)
    assert detect_format(path) == fmt
    assert read_trace(path).equals(read_trace(path, fmt))


@pytest.mark.parametrize(
    "text, fmt",
    [
        ("0\t1.5\n1\t2.5\n", "cooked"),
        ("1\n1\n2\n3\n", "mahimahi"),  # one column of non-decreasing integers is mahimahi, never cooked
        ("5\n", "mahimahi"),
        ("1289406399 549692 59.851754 10.781778 248069 1008\n", "norway-raw"),
        ("1453121790686 39287 51.0386528885778 3.73220785642186 2493100 1000\n", "belgium-raw"),
        ("1453121790686 39287 51.03 3.73 2493100 0999\n", "belgium-raw"),
        ("# made by hand\nTime_S, Bandwidth_Mbps\n0,1\n", "csv"),
        ("duration_ms,bandwidth_bps,latency_s\n1000,1e6,0.1\n", "csv"),
        ('{"timestamps": [0, 1], "bandwidths": [1, 2]}', "genet"),
        ('[{"duration_ms": 1000, "bandwidth_kbps": 5, "latency_ms": 1}]', "sabre"),
    ],
)
def test_detection_by_content(tmp_path: Path, text: str, fmt: str) -> None:
    assert detect_format(_file(tmp_path, "t", text)) == fmt


@pytest.mark.parametrize(
    "text",
    [
        "300\n120\n900\n",  # one column, decreasing: a chunk-size table, not a trace
        "1.5\n2.5\n",  # one column of non-integers
        "1 2 3\n",
        "time,bandwidth\n0,1\n",  # CSV without units
        '{"a": 1}',
        "1289406399 549692 59.85 10.78 248069 0\n",  # elapsed 0 cannot be a raw log line
    ],
)
def test_detection_rejects_lookalikes(tmp_path: Path, text: str) -> None:
    with pytest.raises(TraceFormatError, match=r"unknown trace format"):
        detect_format(_file(tmp_path, "t", text))


def test_detection_ignores_a_truncated_last_line(tmp_path: Path) -> None:
    # 8 KiB of mahimahi lines: the sniffer's cut may land inside a number such as "12" of "120".
    stamps = np.repeat(np.arange(1, 3000), 1)
    path = _file(tmp_path, "long", "\n".join(map(str, stamps)) + "\n")
    assert detect_format(path) == "mahimahi"


@pytest.mark.shared
@pytest.mark.parametrize(
    "folder, fmt",
    [
        ("norway-hsdpa-test", "cooked"),
        ("pensieve-train", "cooked"),
        ("sabre-3g", "sabre"),
        ("sabre-4g", "sabre"),
        ("sabre-hd-fs", "sabre"),
    ],
)
def test_detection_on_real_traces(shared_data: Path, folder: str, fmt: str) -> None:
    files = sorted((shared_data / "traces" / folder).iterdir())
    assert files
    found = {f.name: detect_format(f) for f in files}
    assert set(found.values()) == {fmt}, {k: v for k, v in found.items() if v != fmt}


@pytest.mark.shared
def test_chunk_size_tables_are_not_traces(shared_data: Path) -> None:
    with pytest.raises(TraceFormatError, match=r"unknown trace format"):
        detect_format(shared_data / "videos" / "envivio" / "video_size_0")


# -- golden reads -----------------------------------------------------------------------------------


def test_mahimahi_binning_golden(tmp_path: Path) -> None:
    # Opportunity t counts in the bin holding millisecond (t-1, t]; 0 counts in the first bin.
    path = _file(tmp_path, "m", "0\n1\n1\n2\n1000\n1001\n2000\n2500\n")
    t = read_trace(path, "mahimahi")
    np.testing.assert_array_equal(t.time_s, [0.0, 1.0, 2.0])
    assert t.end_s == 2.5
    np.testing.assert_allclose(t.bandwidth_bps, [5 * PACKET_BITS, 2 * PACKET_BITS, PACKET_BITS / 0.5])
    assert t.latency_s is None and t.meta["packets"] == 8 and t.meta["bin_ms"] == 1000
    assert np.dot(t.bandwidth_bps, t.duration_s) == pytest.approx(8 * PACKET_BITS)
    fine = read_trace(path, "mahimahi", bin_ms=250)
    assert fine.n_periods == 10 and fine.end_s == 2.5
    assert np.dot(fine.bandwidth_bps, fine.duration_s) == pytest.approx(8 * PACKET_BITS)


def test_mahimahi_single_line_is_a_fixed_rate_link(tmp_path: Path) -> None:
    # mahimahi's own example: a file holding "1" is one packet per millisecond, 12 Mbps.
    t = read_trace(_file(tmp_path, "12mbps", "1\n"), bin_ms=1000)
    assert t.n_periods == 1 and t.end_s == 0.001
    assert t.bandwidth_bps[0] == pytest.approx(12e6)


@pytest.mark.parametrize(
    "mbps, expected",
    [(12.0, list(range(1, 1001))), (6.0, list(range(2, 1001, 2))), (24.0, [m for m in range(1, 1001) for _ in range(2)])],
)
def test_mahimahi_writer_golden(tmp_path: Path, mbps: float, expected: list[int]) -> None:
    path = tmp_path / "m"
    write_trace(Trace.constant(mbps * 1e6, 1.0), path, "mahimahi")
    assert [int(x) for x in path.read_text().split()] == expected


def test_mahimahi_writer_carries_fractions_and_ends_on_the_period(tmp_path: Path) -> None:
    # 1 Mbps for 1 s is 83.33 packets: 83 lines, the last at 1000 ms so the loop period is kept.
    path = tmp_path / "m"
    write_trace(Trace.constant(1e6, 1.0), path, "mahimahi")
    stamps = np.array(path.read_text().split(), dtype=int)
    assert stamps.size == 83 and stamps[-1] == 1000
    assert np.all(np.diff(stamps)[:-1] == 12)  # one packet per 12 ms
    assert stamps[-2] == 984  # the packet due at 996 ms waits for the last millisecond
    # An outage at the end still ends the file at the trace's end: the last packet waits for it.
    write_trace(Trace([0.0, 1.0], [12e6, 0.0], end_s=3.0), path, "mahimahi")
    stamps = np.array(path.read_text().split(), dtype=int)
    assert stamps.size == 1000 and stamps[-2] == 999 and stamps[-1] == 3000


@settings(max_examples=30)
@given(
    kbps=st.lists(st.floats(0.0, 60000.0), min_size=1, max_size=8).filter(lambda v: max(v) > 1.0),
    durations_ms=st.data(),
)
def test_mahimahi_conserves_bytes(tmp_path_factory: pytest.TempPathFactory, kbps: list[float], durations_ms) -> None:
    d = durations_ms.draw(st.lists(st.integers(1, 3000), min_size=len(kbps), max_size=len(kbps)))
    trace = Trace.from_durations(np.array(d) / 1e3, np.array(kbps) * 1e3)
    path = tmp_path_factory.mktemp("mm") / "m"
    write_trace(trace, path, "mahimahi")
    stamps = np.array(path.read_text().split(), dtype=np.int64)
    total_bits = float(np.dot(trace.bandwidth_bps, trace.duration_s))
    assert stamps[-1] == sum(d) and np.all(np.diff(stamps) >= 0)
    # Total rounded to the nearest packet, or one packet when the trace carries less than half.
    assert stamps.size == max(1, round(total_bits / PACKET_BITS))
    # Before the end the opportunities so far trail the trace by less than one packet, or two
    # where the packet that marks the loop period waits for the last millisecond.
    ms = np.arange(1, sum(d))
    delivered = np.searchsorted(stamps, ms, side="right") * PACKET_BITS
    lag = _cum_bits(trace, ms / 1e3) - delivered
    assert np.all(lag > -1e-6 * PACKET_BITS) and np.all(lag < 2 * PACKET_BITS)
    back = read_trace(path, "mahimahi")
    assert np.dot(back.bandwidth_bps, back.duration_s) == pytest.approx(stamps.size * PACKET_BITS)


def test_norway_raw_golden(tmp_path: Path) -> None:
    text = (
        "1300000000 600000 59.90 10.70 125000 1000\n"
        "1300000001 601000 59.91 10.71 250000 1000\n"
        "1300000002 602500 59.92 10.72 0 1500\n"
        "1300000003 603000 59.93 10.73 62500 500\n"
    )
    t = read_trace(_file(tmp_path, "norway.log", text))
    assert t.meta["format"] == "norway-raw"
    np.testing.assert_allclose(t.time_s, [0.0, 1.0, 2.0, 3.5])
    assert t.end_s == pytest.approx(4.0)
    np.testing.assert_allclose(t.bandwidth_kbps, [1000.0, 2000.0, 0.0, 1000.0])
    assert t.meta["unix_start_s"] == pytest.approx(1299999999.0)
    np.testing.assert_allclose(t.meta["lat_deg"], [59.90, 59.91, 59.92, 59.93])
    assert t.latency_s is None


def test_belgium_raw_golden(tmp_path: Path) -> None:
    # Belgium logs stamp unix time in ms and zero-pad the elapsed column ("0999").
    text = "1453121790686 39287 51.0386 3.7322 2500000 1000\n1453121791685 40286 51.0387 3.7323 999000 0999\n"
    t = read_trace(_file(tmp_path, "belgium.log", text))
    assert t.meta["format"] == "belgium-raw"
    np.testing.assert_allclose(t.time_s, [0.0, 1.0])
    assert t.end_s == pytest.approx(1.999)
    np.testing.assert_allclose(t.bandwidth_kbps, [20000.0, 8000.0])
    assert t.meta["unix_start_s"] == pytest.approx(1453121789.686)


def test_genet_reads_abr_and_network_simulator_traces(tmp_path: Path) -> None:
    abr = {"timestamps": [0.0, 1.5, 3.0], "bandwidths": [2.0, 0.5, 4.0], "link_rtt": 80,
           "buffer_thresh": 60000, "name": "gen"}
    t = read_trace(_file(tmp_path, "abr.json", json.dumps(abr)))
    np.testing.assert_allclose(t.bandwidth_bps, [2e6, 0.5e6, 4e6])
    np.testing.assert_allclose(t.latency_s, 0.08)
    assert t.end_s == 4.5 and t.name == "abr.json" and t.meta["genet_name"] == "gen"
    cc = {"timestamps": [0.0, 1.0], "bandwidths": [1.0, 2.0], "delays": [10, 30], "loss": 0.0, "queue": 10}
    t = read_trace(_file(tmp_path, "cc.json", json.dumps(cc)))
    np.testing.assert_allclose(t.latency_s, [0.02, 0.06])  # one round trip of the one-way delay
    cc["delays"] = 25
    np.testing.assert_allclose(read_trace(_file(tmp_path, "cc2.json", json.dumps(cc))).latency_s, 0.05)


def test_genet_file_matches_genets_loader_keys(tmp_path: Path, sample: Trace) -> None:
    path = tmp_path / "g.json"
    write_trace(sample, path, "genet")
    data = json.loads(path.read_text())
    # Genet's AbrTrace.load_from_file reads exactly these keys.
    assert {"timestamps", "bandwidths", "link_rtt", "buffer_thresh", "name"} <= set(data)
    assert data["link_rtt"] == pytest.approx(80.0)
    assert data["bandwidths"][0] == pytest.approx(sample.bandwidth_bps[0] / 1e6)


@pytest.mark.parametrize(
    "text, time_s, kbps, end_s, latency_s",
    [
        ("time_s,bandwidth_kbps\n0,100\n2,300\n", [0, 2], [100, 300], 4.0, None),
        ("time_ms,bandwidth_mbps\n0,1\n500,2\n# end_s=3\n", [0, 0.5], [1000, 2000], 3.0, None),
        ("duration_ms,bandwidth_bps,latency_s\n1000,1e6,0.1\n250,2e6,0.2\n", [0, 1], [1000, 2000], 1.25, [0.1, 0.2]),
        ('"bandwidth_kbps", "time_s", "latency_ms"\n100, 1, 20\n\n200, 2, 30\n', [1, 2], [100, 200], 3.0, [0.02, 0.03]),
        ("duration_s,bandwidth_kbps\n1.5,100\n# end_s=1.5\n", [0], [100], 1.5, None),
    ],
)
def test_csv_variants(tmp_path: Path, text, time_s, kbps, end_s, latency_s) -> None:
    t = read_trace(_file(tmp_path, "t.csv", text))
    np.testing.assert_allclose(t.time_s, time_s)
    np.testing.assert_allclose(t.bandwidth_kbps, kbps)
    assert t.end_s == pytest.approx(end_s)
    if latency_s is None:
        assert t.latency_s is None
    else:
        np.testing.assert_allclose(t.latency_s, latency_s)


def test_csv_written_file_reads_as_a_table_in_pandas(tmp_path: Path, sample: Trace) -> None:
    import pandas as pd

    path = tmp_path / "t.csv"
    write_trace(sample, path, "csv")
    df = pd.read_csv(path, comment="#")
    assert list(df.columns) == ["time_s", "bandwidth_kbps", "latency_ms"]
    np.testing.assert_allclose(df["bandwidth_kbps"], sample.bandwidth_kbps)
    assert path.read_text().rstrip().splitlines()[-1] == f"# end_s={sample.end_s!r}"


# -- round trips ------------------------------------------------------------------------------------


def _bits_tolerance(fmt: str, trace: Trace) -> float:
    """Most bits a write + read in ``fmt`` may shift the cumulative delivery at any instant."""
    peak = float(trace.bandwidth_bps.max())
    if fmt == "mahimahi":
        return 2 * PACKET_BITS + peak * 0.001  # a packet short, the forced last one, the end rounded to 1 ms
    if fmt in ("norway-raw", "belgium-raw"):
        return 8.0 + peak * 0.001  # bytes rounded on the running total, edges rounded to 1 ms
    return 1e-6 * float(np.dot(trace.bandwidth_bps, trace.duration_s)) + 1.0  # float formatting only


def _check_same_delivery(original: Trace, back: Trace, tolerance_bits: float) -> None:
    end = min(original.total_duration_s, back.total_duration_s)
    grid = np.arange(0.0, np.floor(end) + 1.0)
    grid = grid[grid <= end]
    gap = np.abs(_cum_bits(original, grid) - _cum_bits(back, grid))
    assert gap.max() <= tolerance_bits, f"cumulative bits differ by {gap.max():.0f} > {tolerance_bits:.0f}"


@pytest.mark.parametrize("fmt", ["csv", "genet", "sabre", "cooked"])
def test_lossless_round_trips(tmp_path: Path, sample: Trace, fmt: str) -> None:
    path = tmp_path / "t"
    write_trace(sample, path, fmt)
    back = read_trace(path, fmt)
    assert back.n_periods == sample.n_periods
    np.testing.assert_allclose(back.time_s, sample.time_s, rtol=0, atol=1e-9)
    np.testing.assert_allclose(back.bandwidth_bps, sample.bandwidth_bps, rtol=1e-12, atol=1e-6)
    if fmt == "cooked":  # cooked stores neither end nor latency: the end is inferred from the last step
        assert back.end_s == pytest.approx(2 * sample.time_s[-1] - sample.time_s[-2])
        assert back.latency_s is None
    else:
        assert back.end_s == pytest.approx(sample.end_s, abs=1e-9)
        np.testing.assert_allclose(back.latency_s, sample.latency_s, atol=1e-12)


def test_csv_and_genet_keep_an_offset_start(tmp_path: Path) -> None:
    t = Trace([5.0, 6.0], [1e6, 2e6], end_s=9.0)
    write_trace(t, tmp_path / "csv", "csv")
    assert read_trace(tmp_path / "csv", "csv").equals(t, atol=1e-12)
    write_trace(t, tmp_path / "genet", "genet")  # Genet always has a link RTT: 0 for none
    assert read_trace(tmp_path / "genet", "genet").equals(Trace(t.time_s, t.bandwidth_bps, 9.0, [0.0, 0.0]), atol=1e-12)


@pytest.mark.parametrize("fmt", ["mahimahi", "norway-raw", "belgium-raw"])
def test_quantized_round_trips(tmp_path: Path, sample: Trace, fmt: str) -> None:
    path = tmp_path / "t"
    write_trace(sample, path, fmt)
    back = read_trace(path, fmt)
    assert back.end_s == pytest.approx(sample.total_duration_s, abs=0.0005)
    _check_same_delivery(sample, back, _bits_tolerance(fmt, sample))
    if fmt != "mahimahi":  # one line per period: rates agree period by period
        assert back.n_periods == sample.n_periods
        np.testing.assert_allclose(back.time_s, sample.time_s, atol=0.0011)
        rate_tol = 8.0 / 0.0005 + sample.bandwidth_bps * 0.003  # a byte over the shortest period; ms rounding
        assert np.all(np.abs(back.bandwidth_bps - sample.bandwidth_bps) <= rate_tol)
        again = tmp_path / "again"
        write_trace(back, again, fmt)  # the format's own values survive unchanged, GPS and unix time included
        assert again.read_text() == path.read_text()


def test_raw_logs_round_trip_their_own_lines(tmp_path: Path) -> None:
    text = "1300000000 600000 59.9 10.7 125000 1000\n1300000001 601000 59.91 10.71 250000 1000\n"
    src = _file(tmp_path, "src.log", text)
    write_trace(read_trace(src), tmp_path / "out.log", "norway-raw")
    assert (tmp_path / "out.log").read_text() == text


@pytest.mark.parametrize("source", ALL_FORMATS)
@pytest.mark.parametrize("target", ALL_FORMATS)
def test_conversion_between_every_pair(tmp_path: Path, sample: Trace, source: str, target: str) -> None:
    write_trace(sample, tmp_path / "src", source)
    original = read_trace(tmp_path / "src", source)
    write_trace(original, tmp_path / "dst", target)
    back = read_trace(tmp_path / "dst")  # detected, not named
    _check_same_delivery(original, back, _bits_tolerance(target, original))


@pytest.mark.shared
@pytest.mark.parametrize(
    "relpath",
    ["norway-hsdpa-test/norway_bus_1", "pensieve-train/bus.ljansbakken-oslo-report.2010-09-28_1407CEST.log",
     "sabre-3g/report.2010-09-13_1003CEST.json", "sabre-4g/report_tram_0004.json"],
)
@pytest.mark.parametrize("target", ALL_FORMATS)
def test_real_traces_convert_to_every_format(shared_data: Path, tmp_path: Path, relpath: str, target: str) -> None:
    src = shared_data / "traces" / relpath
    if not src.exists():
        pytest.skip(f"reference data not found: {src}")
    original = read_trace(src)
    write_trace(original, tmp_path / "dst", target)
    back = read_trace(tmp_path / "dst", target)
    _check_same_delivery(original, back, _bits_tolerance(target, original))
    if target in ("csv", "genet", "sabre"):
        assert back.end_s - back.time_s[0] == pytest.approx(original.total_duration_s, abs=1e-6)
    if target in ("csv", "sabre"):
        np.testing.assert_allclose(_latency(back), _latency(original), atol=1e-9)


# -- hostile input (issue 11): every malformed file is a TraceFormatError with file and line ---------

HUGE = "9" * 5000

# (format, file name, content, line the error must name or None, message pattern)
HOSTILE_FILES = [
    # 5,000-digit numbers used to escape as ValueError (int-digit limit) or be read as inf.
    ("cooked", "t", f"0 1\n1 {HUGE}\n", 2, r"bandwidth_Mbps '9{30}.* has 5000 characters; a number may have at most 100"),
    ("mahimahi", "t", f"1\n{HUGE}\n", 2, r"timestamp '9+\.\.\. is above the limit of 10000000000 ms"),
    ("norway-raw", "t", f"1289406399 549692 59.85 10.78 {HUGE} 1008\n", 1, r"bytes '9+\.\.\. has 5000 characters"),
    ("csv", "t.csv", f"time_s,bandwidth_kbps\n0,1\n1,{HUGE}\n", 3, r"bandwidth_kbps '9+\.\.\. has 5000 characters"),
    ("sabre", "t.json", '[\n{"duration_ms": 1000, "bandwidth_kbps": 1, "latency_ms": 0},\n{"duration_ms": 1000,\n "bandwidth_kbps": ' + HUGE + ', "latency_ms": 0}]', 4, r"invalid JSON: a number is too long"),
    ("sabre", "t.json", '[{"duration_ms": 1000, "bandwidth_kbps": ' + "9" * 400 + ', "latency_ms": 0}]', 1, r"period 0: bandwidth_kbps=<integer of 400 digits> is not a finite number"),
    # CSV fields over the csv module's 128 KiB limit used to escape as _csv.Error.
    ("csv", "t.csv", "time_s,bandwidth_kbps\n0," + "1" * 140_000 + "\n", 2, r"line of 140002 characters; a line may have at most 65536"),
    ("csv", "t.csv", 'time_s,bandwidth_kbps\n0,"1\r2"\n', 3, r"expected 2 columns"),  # a lone \r ends a line
    # JSON values of the wrong type used to escape as TypeError from numpy.isfinite.
    ("sabre", "t.json", '[\n{"duration_ms": {"a": 1}, "bandwidth_kbps": 1, "latency_ms": 0}]', 2, r"period 0: duration_ms=\{'a': 1\} is not a finite number"),
    ("sabre", "t.json", '[\n{"duration_ms": true, "bandwidth_kbps": 1, "latency_ms": 0}]', 2, r"duration_ms=True is not a finite number"),
    ("sabre", "t.json", '[\n{"duration_ms": "1000", "bandwidth_kbps": 1, "latency_ms": 0}]', 2, r"duration_ms='1000' is not a finite number"),
    ("genet", "t.json", '{"timestamps": [0, 1],\n "bandwidths": [1, 2],\n "link_rtt": [80]}', 3, r"link_rtt=\[80\] must be a finite number >= 0"),
    ("genet", "t.json", '{"timestamps": [0, 1],\n "bandwidths": [1, 2],\n "delays": [1, {"x": 2}]}', 3, r"delays\[1\]=\{'x': 2\} must be a finite number >= 0"),
    ("genet", "t.json", '{"timestamps": [0, 1],\n "bandwidths": [1, ' + "9" * 400 + ']}', 2, r"bandwidths\[1\]=<integer of 400 digits> is not a finite number"),
    ("genet", "t.json", '{"timestamps": [0, 1], "bandwidths": [1, 2], "end_s": "5"}', 1, r"end_s='5' must be a finite number >= 0"),
    # Absurd but finite values: errors naming the line and the limit, never silent infinities.
    ("cooked", "t", "0 1\n1 1e300\n", 2, r"bandwidth_Mbps 1e300 is 1e\+306 bit/s, above the limit of 1 Tbit/s"),
    ("cooked", "t", "0 1\n1e12 1\n", 2, r"time_s 1e12 is 1e\+12 s, above the limit of 1e7 s"),
    ("sabre", "t.json", '[{"duration_ms": 1000, "bandwidth_kbps": 1000, "latency_ms": 1e300}]', 1, r"latency_ms=1e\+300 is 1e\+297 s, above the limit of 3600 s"),
    ("sabre", "t.json", '[{"duration_ms": 1e-300, "bandwidth_kbps": 1000, "latency_ms": 0}]', None, r"period 0 lasts 1e-303 s, below the limit of 1e-06 s"),
    ("csv", "t.csv", "time_s,bandwidth_mbps,latency_s\n0,1,1e9\n", 2, r"latency_s 1e9 is 1e\+09 s, above the limit of 3600 s"),
    ("csv", "t.csv", "time_s,bandwidth_kbps\n0,1\n# end_s=1e300\n", 3, r"end_s 1e300 is 1e\+300 s, above the limit"),
    ("csv", "t.csv", "time_s,bandwidth_kbps\n0,1\n# end_s=0\n5,1\n", 3, r"end_s=0\.0 must be after the last period's start, 5\.0 s"),
    ("norway-raw", "t", "1289406399 549692 59.85 10.78 1e300 1008\n", 1, r"bytes 1e300 over elapsed_ms 1008 is 7\.93651e\+300 bit/s, above the limit of 1 Tbit/s"),
    ("norway-raw", "t", "1289406399 549692 59.85 10.78 100 1e-320\n", 1, r"elapsed_ms 1e-320 is below the limit of 0\.001 ms"),
    ("belgium-raw", "t", "-5 39287 51.03 3.73 2493100 1000\n", 1, r"unix_time -5 must be between 0 and"),
    ("mahimahi", "t", "1\n100000000000\n", 2, r"timestamp 100000000000 is above the limit of 10000000000 ms"),
    ("mahimahi", "t", "1\n1000000000000000\n", 2, r"timestamp 1000000000000000 is above the limit"),
    # Python's float() and int() accept more than a trace file should: underscores, other scripts.
    ("cooked", "t", "0 1\n1 1_000\n", 2, r"bandwidth_Mbps '1_000' is not a number"),
    ("cooked", "t", "0 1\n1 \u0661\n", 2, r"bandwidth_Mbps '\u0661' is not a number"),
    ("mahimahi", "t", "1\n\u0662\n", 2, r"timestamp '\u0662' is not an integer number of milliseconds"),
    ("csv", "t.csv", "time_s,bandwidth_kbps\n0,1\n1,Infinity\n", 3, r"bandwidth_kbps 'Infinity' is not finite"),
    # Deep nesting used to reach the recursive JSON parser (RecursionError).
    ("sabre", "t.json", "[" * 100_000, 1, r"JSON nested deeper than 100 levels"),
    ("genet", "t.json", '{"timestamps":\n' + "[" * 5000 + "]" * 5000 + "}", 2, r"JSON nested deeper than 100 levels"),
    # Line numbers count \n only: a form feed or a Unicode line separator earlier does not shift them.
    ("csv", "t.csv", "time_s,bandwidth_kbps\n# note \u2028 and \x0c and \x85\n0,1\n1,x\n", 4, r"bandwidth_kbps 'x' is not a number"),
    ("cooked", "t", "0 1\x0c\n1 2\n2 -1\n", 3, r"bandwidth_Mbps -1\.0 is negative"),
    # Bytes that are not UTF-8 name the line they are on.
    ("cooked", "t", b"0 1\n1 2\n2 \xe9\n", 3, r"not a UTF-8 text file"),
]


@pytest.mark.parametrize(
    "fmt, name, text, line, match", HOSTILE_FILES, ids=[f"{h[0]}-{i}" for i, h in enumerate(HOSTILE_FILES)]
)
def test_hostile_files_are_clean_errors(tmp_path: Path, fmt: str, name: str, text: str | bytes, line: int | None, match: str) -> None:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    where = re.escape(str(path)) + (f", line {line}" if line is not None else "")
    with pytest.raises(TraceFormatError, match=f"^{where}: .*(?:{match})") as info:
        read_trace(path, fmt)
    assert info.value.path == str(path) and info.value.line == line


def test_a_far_mahimahi_timestamp_costs_no_memory(tmp_path: Path) -> None:
    # 26 bytes used to take 27.5 s and 5.9 GB; a timestamp within the limit, read in 1 ms bins,
    # now gives one zero-bandwidth period for the gap instead of billions of bins.
    path = _file(tmp_path, "far", "1\n5000000000\n")
    t = read_trace(path, "mahimahi", bin_ms=1)
    assert t.n_periods == 3 and t.end_s == 5e6
    np.testing.assert_array_equal(t.time_s, [0.0, 0.001, 4999999.999])
    np.testing.assert_allclose(t.bandwidth_bps, [PACKET_BITS / 1e-3, 0.0, PACKET_BITS / 1e-3])
    assert np.dot(t.bandwidth_bps, t.duration_s) == pytest.approx(2 * PACKET_BITS)
    from abrkit.traces import trace_stats

    assert trace_stats(t)["zero_fraction"] == pytest.approx(1.0)


def test_merged_mahimahi_bins_describe_the_same_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from abrkit.traces import formats

    path = _file(tmp_path, "m", "0\n1\n1\n2\n1000\n1001\n2000\n2500\n")
    per_bin = read_trace(path, "mahimahi", bin_ms=250)
    monkeypatch.setattr(formats, "_MAX_MAHIMAHI_BINS", 1)
    merged = read_trace(path, "mahimahi", bin_ms=250)
    assert merged.n_periods == 8 < per_bin.n_periods == 10 and merged.end_s == per_bin.end_s
    at = np.linspace(0, 2.5, 101)
    np.testing.assert_allclose(_cum_bits(merged, at), _cum_bits(per_bin, at))


def test_a_long_comment_preamble_does_not_hide_a_csv_header(tmp_path: Path) -> None:
    path = _file(tmp_path, "t.csv", "# measured on a train\n" * 1000 + "time_s,bandwidth_kbps\n0,100\n1,200\n")
    assert path.stat().st_size > 8192
    assert detect_format(path) == "csv"
    assert read_trace(path).n_periods == 2


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_utf8_bom_is_accepted_in_every_format(tmp_path: Path, sample: Trace, fmt: str) -> None:
    plain = tmp_path / f"plain{FORMATS[fmt].extension}"
    write_trace(sample, plain, fmt)
    bom = tmp_path / f"bom{FORMATS[fmt].extension}"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert detect_format(bom) == fmt
    assert read_trace(bom).equals(read_trace(plain))


def test_a_json_file_is_only_detected_as_a_json_format(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match=r"unknown trace format: .*a \.json file can only be sabre or genet"):
        read_trace(_file(tmp_path, "five.json", "5\n"))
    assert detect_format(_file(tmp_path, "five", "5\n")) == "mahimahi"  # without the suffix it is one


def test_sniffers_never_raise(tmp_path: Path) -> None:
    # Fields over the csv module's limit, 5,000-digit lines and stray quotes only fail to match.
    for text in ["time_s," + "x" * 140_000 + "\n", HUGE + "\n" + HUGE + "\n", '"\r"\n', "\x00\n"]:
        with pytest.raises(TraceFormatError, match=r"unknown trace format"):
            detect_format(_file(tmp_path, "t", text))
