"""abrkit.emulate without a browser: the trace schedule and pacing, the server, manifests, the
stream folder, the event records as tables, the pinned players' integrity check, and the
comparison with the simulator on a recorded session."""

from __future__ import annotations

import math
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abrkit.emulate import compare as cmp
from abrkit.emulate import players
from abrkit.emulate.content import make_stream
from abrkit.emulate.link import PacedLink, Schedule
from abrkit.emulate.records import CHUNK_TABLE_COLUMNS, chunk_table, downloads_frame, session_row, stall_intervals
from abrkit.emulate.server import EmulationServer, cut_media_playlist, cut_mpd
from abrkit.emulate.session import EmulatedSession, EmulationResult
from abrkit.emulate.stream import load_stream
from abrkit.errors import AbrkitError, VideoFormatError
from abrkit.qoe import QoE
from abrkit.tables import CHUNK_COLUMNS
from abrkit.traces import Trace


@pytest.fixture(scope="module")
def tiny_stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, two rungs at 160x90 and 320x180, 2 s segments: a few seconds of ffmpeg."""
    return make_stream(6, ladder=[(150, 160, 90), (400, 320, 180)], fps=12, preset="ultrafast",
                       cache_dir=tmp_path_factory.mktemp("streams"))


# -- schedule and pacing ------------------------------------------------------------------------

def test_schedule_integrates_over_periods_and_loops() -> None:
    s = Schedule(Trace.from_durations([1.0, 2.0], [8000.0, 4000.0]))
    assert s.period_at(0.5) == (8000.0, 0.5)
    assert s.period_at(3.25) == (8000.0, 0.75)  # looped: 3.25 s is 0.25 s into the trace
    # 8000 bits in the first second, then 4000 bit/s: 12000 bits end at 2.0 s
    assert s.finish_s(0.0, 12000.0) == pytest.approx(2.0)
    # one whole loop moves 16000 bits in 3 s
    assert s.finish_s(0.0, 16000.0 + 4000.0) == pytest.approx(3.5)


def test_schedule_crosses_a_period_without_bandwidth() -> None:
    s = Schedule(Trace.from_durations([1.0, 5.0, 1.0], [1000.0, 0.0, 1000.0]))
    assert s.finish_s(0.5, 1000.0) == pytest.approx(6.5)


def test_paced_link_is_first_in_first_out() -> None:
    s = Schedule(Trace.constant(80_000.0))
    link = PacedLink(s)
    assert link.send_at(10_000) <= time.monotonic()  # not started: unshaped
    s.start()
    a = link.send_at(1000)  # 8000 bits: 0.1 s
    b = link.send_at(1000)
    assert b - a == pytest.approx(0.1, abs=1e-6)
    assert a - s.t0 == pytest.approx(0.1, abs=0.01)


# -- manifests --------------------------------------------------------------------------------------

def test_cut_mpd_sets_the_presentation_duration() -> None:
    text = '<MPD mediaPresentationDuration="PT12S" minBufferTime="PT2S"><Period id="0" start="PT0.0S" duration="PT12S">'
    out = cut_mpd(text, 6.0)
    assert 'mediaPresentationDuration="PT6.000S"' in out and 'duration="PT6.000S"' in out
    assert 'minBufferTime="PT2S"' in out


def test_cut_media_playlist_keeps_the_first_segments() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + "".join(f"#EXTINF:2.0,\nseg_{k}.ts\n" for k in range(5)) + "#EXT-X-ENDLIST\n"
    out = cut_media_playlist(text, 2)
    assert [l for l in out.splitlines() if l.startswith("seg_")] == ["seg_0.ts", "seg_1.ts"]
    assert out.rstrip().endswith("#EXT-X-ENDLIST") and out.count("#EXTINF") == 2


# -- stream folders -------------------------------------------------------------------------------

def test_load_stream_maps_every_segment_url(tiny_stream: Path) -> None:
    for kind in ("dash", "hls"):
        s = load_stream(tiny_stream, kind)
        assert s.video.n_chunks == 3 and s.video.n_rungs == 2
        assert len(s.segments) == 6
        for rel, (k, rung) in s.segments.items():
            assert (tiny_stream / rel).stat().st_size == s.video.sizes_bytes[k, rung]
        assert np.all(np.diff(s.video.bitrates_bps) > 0)


def test_load_stream_errors(tiny_stream: Path, tmp_path: Path) -> None:
    with pytest.raises(AbrkitError, match="does not exist"):
        load_stream(tmp_path / "nothing", "dash")
    with pytest.raises(AbrkitError, match="no video.json"):
        load_stream(tmp_path, "dash")
    (tmp_path / "video.json").write_bytes((tiny_stream / "video.json").read_bytes())
    with pytest.raises(AbrkitError, match="no DASH manifest"):
        load_stream(tmp_path, "dash")
    (tmp_path / "manifest.mpd").write_text("<MPD")
    with pytest.raises(VideoFormatError, match="cannot read the MPD"):
        load_stream(tmp_path, "dash")


# -- the server ---------------------------------------------------------------------------------

def test_server_adds_the_round_trip_paces_and_logs(tiny_stream: Path) -> None:
    schedule = Schedule(Trace.constant(400_000.0))
    server = EmulationServer(tiny_stream, rtt_s=0.2, link=PacedLink(schedule), page_html="<p>hi</p>")
    server.start()
    try:
        rel = "dash/chunk-1-00001.m4s"
        size = (tiny_stream / rel).stat().st_size
        schedule.start()
        t = time.monotonic()
        with urllib.request.urlopen(f"{server.url}/media/{rel}", timeout=30) as r:
            body = r.read()
        took = time.monotonic() - t
        assert body == (tiny_stream / rel).read_bytes()
        # never faster than the round trip plus the bits at 400 kbit/s
        assert took >= 0.2 + 8 * size / 400_000 - 0.01
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as r:
            assert r.read() == b"<p>hi</p>"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{server.url}/media/../video.json", timeout=10)
    finally:
        server.close()
    rec = next(r for r in server.log if r.path.endswith(rel))
    assert rec.bytes_sent == size and rec.status == 200 and not rec.aborted
    assert rec.first_byte_time - rec.request_time >= 0.2 - 0.01
    assert rec.end_time >= rec.first_byte_time


# -- records -> tables ------------------------------------------------------------------------

def _events() -> list[dict]:
    t0 = 1_000_000.0

    def ev(kind: str, t: float, **kw: object) -> dict:
        return {"kind": kind, "t_ms": t0 + 1e3 * t, "media_s": kw.pop("media_s", 0.0), "buffer_s": kw.pop("buffer_s", 0.0), **kw}

    def dl(kind: str, t: float, url: str, req: float, first: float, end: float, size: int, buffer_s: float) -> dict:
        return ev(kind, t, url=url, request_ms=t0 + 1e3 * req, first_ms=t0 + 1e3 * first, end_ms=t0 + 1e3 * end,
                  bytes=size, buffer_s=buffer_s)

    return [
        ev("start", 0.0),
        ev("req", 0.1), dl("done", 1.0, "/media/s/a0", 0.1, 0.2, 1.0, 1000, 0.0),
        ev("req", 1.1, buffer_s=2.0), dl("done", 2.0, "/media/s/a1", 1.1, 1.2, 2.0, 1100, 1.5),
        ev("playing", 1.2),
        # segment 1 fetched again at the higher rung (fast switching), then an abandoned request
        ev("req", 2.1, buffer_s=1.4), dl("done", 2.6, "/media/s/b1", 2.1, 2.2, 2.6, 3000, 0.9),
        ev("req", 2.7, buffer_s=2.5), dl("abandon", 3.0, "/media/s/b2", 2.7, 2.8, math.nan, 500, 2.2),
        ev("waiting", 5.0, media_s=4.0),
        ev("req", 3.1, buffer_s=2.0), dl("done", 6.0, "/media/s/a2", 3.1, 3.2, 6.0, 900, 0.0),
        ev("playing", 6.5), ev("ended", 9.0, media_s=6.0),
    ]


SEGMENTS = {"s/a0": (0, 0), "s/a1": (1, 0), "s/a2": (2, 0), "s/b0": (0, 1), "s/b1": (1, 1), "s/b2": (2, 1)}


def test_downloads_kinds_times_and_waits() -> None:
    events = _events()
    d = downloads_frame(events, SEGMENTS, events[0]["t_ms"], 2.0)
    assert list(d["kind"]) == ["played", "replaced", "played", "abandoned", "played"]
    assert list(d["chunk"]) == [0, 1, 1, 2, 2] and list(d["rung"]) == [0, 0, 1, 1, 0]
    assert d["request_s"].iloc[0] == pytest.approx(0.1) and d["first_byte_s"].iloc[0] == pytest.approx(0.2)
    # the first download ended at 1.0 s and the next request went out at 1.1 s with 2.0 s buffered
    assert d["wait_s"].iloc[0] == pytest.approx(0.1) and d["buffer_s"].iloc[0] == pytest.approx(2.0)
    # the last one has no next request: its buffer then plus its segment
    assert d["buffer_s"].iloc[-1] == pytest.approx(2.0) and d["wait_s"].iloc[-1] == 0.0


def test_stalls_startup_and_the_tables() -> None:
    events = _events()
    t0 = events[0]["t_ms"]
    startup, stalls = stall_intervals(events, t0, 9.0)
    assert startup == pytest.approx(1.2)
    assert stalls == [(pytest.approx(5.0), pytest.approx(6.5), 4.0)]
    video = load_video_like()
    d = downloads_frame(events, SEGMENTS, t0, 2.0)
    qoe = QoE.linear()
    chunks = chunk_table("tr", video, "dashjs-5.2.1", d, stalls, qoe)
    for name, _ in CHUNK_COLUMNS:
        assert name.replace("throughput_bps", "throughput_kbps") in chunks.columns
    assert list(chunks.columns) == [c for c in CHUNK_TABLE_COLUMNS if c != "quality"]  # this video has no quality
    played = chunks[chunks["kind"] == "played"]
    assert list(played["chunk"]) == [0, 1, 2] and list(played["rung"]) == [0, 1, 0]
    assert list(played["rebuffer_s"]) == [0.0, 0.0, pytest.approx(1.5)]  # waited at 4.0 s: segment 2
    assert played["throughput_kbps"].iloc[0] == pytest.approx(8 * 1000 / 0.9 / 1e3)
    row = session_row(chunks, video, qoe, profile="emulate-tc", status="complete", startup_s=startup, stalls=stalls,
                      end_s=9.0)
    assert (row["chunks"], row["downloads"], row["replaced"], row["abandoned"]) == (3, 5, 1, 1)
    assert row["rebuffer_s"] == pytest.approx(1.5) and row["switches"] == 2
    assert row["mean_bitrate_kbps"] == pytest.approx((300 + 900 + 300) / 3)
    assert row["qoe"] == pytest.approx(float(np.nansum(played["reward"])))


def test_a_stall_is_charged_to_the_segment_of_unequal_duration_it_waited_for() -> None:
    # the same session, but segment 1 lasts 2.5 s: media 4.0 s is in it (2.0 .. 4.5), not in segment 2
    from abrkit.video import Video

    events = _events()
    t0 = events[0]["t_ms"]
    _, stalls = stall_intervals(events, t0, 9.0)
    video = Video(bitrates_bps=np.array([300e3, 900e3]), chunk_s=2.0, sizes_bytes=np.full((3, 2), 1000.0), name="v",
                  durations_s=[2.0, 2.5, 1.5])
    chunks = chunk_table("tr", video, "dashjs-5.2.1", downloads_frame(events, SEGMENTS, t0, 2.0), stalls, QoE.linear())
    played = chunks[chunks["kind"] == "played"]
    assert list(played["rebuffer_s"]) == [0.0, pytest.approx(1.5), 0.0]


def load_video_like():
    from abrkit.video import Video

    return Video(bitrates_bps=np.array([300e3, 900e3]), chunk_s=2.0, sizes_bytes=np.full((3, 2), 1000.0), name="v")


# -- players ------------------------------------------------------------------------------------

def test_player_with_the_wrong_integrity_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(players, "_download", lambda url, timeout_s: b"not the tarball")
    with pytest.raises(AbrkitError, match="refusing to use it"):
        players.player_script("dashjs", cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.js"))
    with pytest.raises(AbrkitError, match="player='vlc' is invalid"):
        players.get_player("vlc")


# -- comparison with the simulator ----------------------------------------------------------

def test_compare_sets_the_simulator_beside_a_recorded_session(tiny_stream: Path) -> None:
    stream = load_stream(tiny_stream, "dash")
    trace = Trace.constant(2e6, name="flat")
    n = stream.video.n_chunks
    chunks = pd.DataFrame({
        "trace": "flat", "controller": "dashjs-5.2.1", "chunk": np.arange(n), "rung": np.zeros(n, dtype=int),
        "kind": "played", "reward": 0.1, "rebuffer_s": 0.0, "wait_s": 0.0,
    })
    totals = session_row(chunks, stream.video, QoE.linear(), profile="emulate-tc", status="complete", startup_s=1.0,
                         stalls=[], end_s=10.0)
    session = EmulatedSession(trace, players.get_player("dashjs"), "tc", 0.08, chunks, totals, [], [], [], stream.video)
    table = cmp.compare(EmulationResult([session, session], stream))
    assert list(table.columns) == list(cmp.COMPARE_COLUMNS) and len(table) == 2
    sim = cmp.simulate_like(EmulationResult([session], stream)).session_frame(0)
    expected = float(np.mean(sim["rung"].to_numpy() == 0))
    assert table["rung_agreement"].iloc[0] == pytest.approx(expected)
    assert table["emu_mean_bitrate_kbps"].iloc[0] == pytest.approx(stream.video.bitrates_kbps[0])
    assert table["emu_downloads"].iloc[0] == n
    # the emulation's session row has every column of abrkit simulate's session table, in its order
    sim_columns = list(cmp.simulate_like(EmulationResult([session], stream), profile="default").sessions().columns)
    assert list(totals)[:len(sim_columns)] == sim_columns
    summary = cmp.compare_summary(table)
    assert summary["sessions"] == 2.0 and summary["rung_agreement_median"] == pytest.approx(expected)


def test_cli_missing_manifest_is_one_clean_error(tiny_stream: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from abrkit import cli

    trace = tmp_path / "t.txt"
    trace.write_text("0 1.0\n1 1.0\n")
    (tmp_path / "video.json").write_bytes((tiny_stream / "video.json").read_bytes())
    assert cli.main(["emulate", "--traces", str(trace), "--video", str(tmp_path), "--player", "hlsjs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("abrkit: error: no HLS manifest in") and err.count("\n") == 1
