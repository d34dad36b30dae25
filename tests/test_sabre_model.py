"""Proof that tests/sabre_model.py reproduces Sabre's printed output, and checks of its options.

Reference: ../shared/data/reference/sabre/sabre_4g_bbb4k.csv, one row per run of the original
``sabre.py -n TRACE -m bbb4k.json -a ABR FLAGS`` on the 40 Belgium 4G traces (12 ABR/flag
combinations, 480 rows). Sabre prints every metric with ``%f`` (counts with ``%d``), so each
metric must print the same with 6 decimals; the CSV holds the printed values read back as floats.
"""

from __future__ import annotations

import csv
import json

import pytest

from sabre_model import METRICS, run_sabre

#: Sabre command-line flags used in the reference, as run_sabre keywords.
FLAGS = {
    "": {},
    "-noa": {"no_abandon": True},
    "-ao": {"abr_osc": True},
    "-ma sliding": {"moving_average": "sliding"},
}
RUNS = [(abr, "") for abr in ("bola", "bolae", "throughput", "dynamic", "dynamicdash")]
RUNS += [(abr, "-noa") for abr in ("bola", "bolae", "throughput", "dynamic", "dynamicdash")]
RUNS += [("bola", "-ao"), ("throughput", "-ma sliding")]


def _need(path):
    if not path.exists():
        pytest.skip(f"reference data not found: {path}")
    return path


@pytest.fixture(scope="module")
def reference_rows(shared_data):
    with _need(shared_data / "reference" / "sabre" / "sabre_4g_bbb4k.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def movie(shared_data):
    m = json.loads(_need(shared_data / "videos" / "sabre" / "bbb4k.json").read_text())
    return m["segment_duration_ms"], m["bitrates_kbps"], m["segment_sizes_bits"]


@pytest.fixture(scope="module")
def traces(shared_data):
    """Trace name -> periods, parsed once for all the runs of this module."""
    folder = _need(shared_data / "traces" / "sabre-4g")
    return {
        path.name: [(p["duration_ms"], p["bandwidth_kbps"], p["latency_ms"])
                    for p in json.loads(path.read_text())]
        for path in sorted(folder.glob("*.json"))
    }


def _printed(value) -> str:
    # Sabre's %f, and %d for the estimate counts: both print the same value to 6 decimals here.
    return f"{float(value):.6f}"


@pytest.mark.shared
def test_reference_covers_every_run(reference_rows):
    assert len(reference_rows) == 480
    assert {(r["abr"], r["flags"]) for r in reference_rows} == set(RUNS)
    assert len({r["trace"] for r in reference_rows}) == 40
    assert set(METRICS) <= set(reference_rows[0])


@pytest.mark.shared
@pytest.mark.parametrize("abr, flags", RUNS)
def test_model_prints_what_sabre_printed(reference_rows, movie, traces, abr, flags):
    segment_ms, bitrates, sizes = movie
    rows = [r for r in reference_rows if (r["abr"], r["flags"]) == (abr, flags)]
    assert len(rows) == 40
    mismatches = []
    for row in rows:
        assert row["movie"] == "bbb4k.json"
        got = run_sabre(traces[row["trace"]], segment_ms, bitrates, sizes, abr,
                        **FLAGS[flags])
        for metric in METRICS:
            if _printed(got[metric]) != _printed(row[metric]):
                mismatches.append((row["trace"], metric, _printed(got[metric]), row[metric]))
    assert not mismatches, f"{len(mismatches)} metrics differ, first: {mismatches[:10]}"


# ---------------------------------------------------------- options the reference does not cover

SEGMENT_MS = 3000
BITRATES = [1000, 2500, 5000, 8000]
SIZES = [[b * SEGMENT_MS for b in BITRATES] for _ in range(30)]
# Fast start, then a long collapse: the throughput rule abandons its high-rung requests.
COLLAPSE = [(20000, 20000, 20), (30000, 800, 20), (200000, 20000, 20)]


def test_abandoned_quality_is_dropped_by_default_and_applied_when_fixed():
    runs = {
        fix: run_sabre(COLLAPSE, SEGMENT_MS, BITRATES, SIZES, "throughput",
                       apply_abandon_quality=fix)["downloads"]
        for fix in (False, True)
    }
    fixed = runs[True]
    abandoned = [i for i, d in enumerate(fixed) if d.abandon_to is not None]
    assert abandoned
    for i in abandoned:
        assert (fixed[i + 1].index, fixed[i + 1].quality) == (fixed[i].index, fixed[i].abandon_to)
    # Sabre itself re-asks the ABR: somewhere the retry is not at the abandonment's quality.
    default = runs[False]
    assert any(default[i + 1].quality != d.abandon_to
               for i, d in enumerate(default[:-1]) if d.abandon_to is not None)


@pytest.mark.parametrize("replace", ["left", "right"])
def test_replacements_rewrite_buffered_segments(replace):
    ups = [(4000, 1500, 20), (4000, 20000, 20)] * 40
    result = run_sabre(ups, SEGMENT_MS, BITRATES, SIZES, "bola", replace=replace)
    downloads = result["downloads"]
    first_requests = [d for d in downloads if not d.replacement]
    replacements = [d for d in downloads if d.replacement]
    assert replacements
    assert [d.index for d in first_requests if d.abandon_to is None] == list(range(30))
    assert all(d.abandon_to in (None, -1) for d in replacements)
    assert result["total_play_time_chunks"] >= 30


def test_download_log_and_metrics_are_consistent():
    result = run_sabre(COLLAPSE, SEGMENT_MS, BITRATES, SIZES, "bolae")
    assert set(METRICS) < set(result)
    for d in result["downloads"]:
        assert 0 < d.downloaded <= d.size
        assert d.time > d.time_to_first_bit >= 20
        assert (d.downloaded < d.size) == (d.abandon_to is not None)
        assert 0 <= d.buffer_level <= 25000
    stalls = result["total_rebuffer"] * 1000
    assert result["total_play_time"] * 1000 == pytest.approx(30 * SEGMENT_MS + stalls
                                                             + result["downloads"][0].time)
