"""Trace validation, directory loading, the synthetic generator and trace statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abrkit.errors import ParameterError, TraceFormatError
from abrkit.traces import (
    PRESETS,
    Trace,
    TraceSkippedWarning,
    load_traces,
    markov_trace,
    preset_trace,
    stats_frame,
    trace_stats,
    write_trace,
)
from abrkit.traces.stats import STAT_KEYS

# -- Trace validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"time_s": [0.0, 1.0, 1.0], "bandwidth_bps": [1.0, 2.0, 3.0]}, r"time_s\[2\]=1\.0 is invalid: must be > time_s\[1\]"),
        ({"time_s": [0.0, 2.0, 1.0], "bandwidth_bps": [1.0, 2.0, 3.0]}, r"time_s\[2\]=1\.0 .*strictly increasing"),
        ({"time_s": [-1.0, 2.0], "bandwidth_bps": [1.0, 2.0]}, r"time_s\[0\]=-1\.0 is invalid: must be >= 0"),
        ({"time_s": [0.0, np.nan], "bandwidth_bps": [1.0, 2.0]}, r"time_s\[1\]=nan is invalid: must be finite"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [1.0, -2.0]}, r"bandwidth_bps\[1\]=-2\.0 is invalid: must be finite and >= 0"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [np.nan, 2.0]}, r"bandwidth_bps\[0\]=nan is invalid"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [0.0, 0.0]}, r"bandwidth_bps='all zero' is invalid: at least one period"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [1.0, 2.0, 3.0]}, r"bandwidth_bps=.*must match time_s \(2 values\)"),
        ({"time_s": [[0.0, 1.0]], "bandwidth_bps": [[1.0, 2.0]]}, r"time_s=.*must be one-dimensional"),
        ({"time_s": [], "bandwidth_bps": []}, r"time_s=\[\] is invalid: a trace needs at least one period"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [1.0, 2.0], "end_s": 1.0}, r"end_s=1\.0 is invalid: must be finite and > time_s\[-1\]"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [1.0, 2.0], "end_s": np.inf}, r"end_s=inf is invalid"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [1.0, 2.0], "latency_s": [0.1]}, r"latency_s=.*must match time_s"),
        ({"time_s": [0.0, 1.0], "bandwidth_bps": [1.0, 2.0], "latency_s": [0.1, -0.1]}, r"latency_s\[1\]=-0\.1 is invalid"),
        ({"time_s": ["a", 1.0], "bandwidth_bps": [1.0, 2.0]}, r"time_s=.*must be a sequence of numbers"),
    ],
)
def test_trace_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        Trace(**kwargs)


def test_trace_error_names_the_trace() -> None:
    with pytest.raises(ParameterError, match=r"in trace 'mine'"):
        Trace([0.0, 1.0], [0.0, 0.0], name="mine")


def test_trace_default_end_and_derived_views() -> None:
    t = Trace([0.0, 1.0, 3.0], [1e6, 2e6, 0.0], latency_s=[0.1, 0.1, 0.2])
    assert t.end_s == 5.0  # last step repeated
    np.testing.assert_array_equal(t.duration_s, [1.0, 2.0, 2.0])
    assert t.total_duration_s == 5.0
    assert t.mean_bandwidth_bps() == pytest.approx((1e6 + 4e6) / 5)
    assert Trace([2.0], [1.0]).end_s == 3.0
    assert not t.time_s.flags.writeable


# -- load_traces --------------------------------------------------------------------------------


def _write_constant(path: Path, kbps: float) -> None:
    path.write_text(f"0.0 {kbps / 1e3}\n1.0 {kbps / 1e3}\n", encoding="utf-8")


def test_load_traces_directory_order_is_sorted_and_deterministic(tmp_path: Path) -> None:
    names = ["trace_2", "b", "trace_10", "a", "C"]
    for i, n in enumerate(names):
        _write_constant(tmp_path / n, 100.0 * (i + 1))
    (tmp_path / ".hidden").write_text("garbage that is not a trace\n", encoding="utf-8")
    (tmp_path / "subdir").mkdir()
    first = [t.name for t in load_traces(tmp_path)]
    assert first == sorted(names) == ["C", "a", "b", "trace_10", "trace_2"]
    assert [t.name for t in load_traces(str(tmp_path))] == first


def test_load_traces_keeps_argument_order(tmp_path: Path) -> None:
    for n in ("x", "y"):
        _write_constant(tmp_path / n, 500.0)
    sub = tmp_path / "d"
    sub.mkdir()
    for n in ("2", "1"):
        _write_constant(sub / n, 700.0)
    got = [t.name for t in load_traces([tmp_path / "y", sub, tmp_path / "x"])]
    assert got == ["y", "1", "2", "x"]


def test_load_traces_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TraceFormatError, match=r"empty: directory holds no trace files"):
        load_traces(empty)
    with pytest.raises(TraceFormatError, match=r"nowhere: no such file or directory"):
        load_traces(tmp_path / "nowhere")


def test_load_traces_passes_format_options(tmp_path: Path) -> None:
    write_trace(Trace.constant(12e6, 2.0), tmp_path / "m", "mahimahi")
    (trace,) = load_traces(tmp_path, "mahimahi", bin_ms=500)
    assert trace.n_periods == 4
    np.testing.assert_allclose(trace.bandwidth_bps, 12e6)


def test_load_traces_skips_an_undetectable_file_in_a_directory_with_a_warning(tmp_path: Path) -> None:
    # A README in a trace directory used to abort the whole run (issue 11).
    _write_constant(tmp_path / "a", 500.0)
    _write_constant(tmp_path / "b", 700.0)
    (tmp_path / "README.md").write_text("# Traces\n\nMeasured on a bus.\n", encoding="utf-8")
    (tmp_path / "blank").write_text("\n", encoding="utf-8")
    with pytest.warns(TraceSkippedWarning) as caught:
        traces = load_traces(tmp_path)
    assert [t.name for t in traces] == ["a", "b"]
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert "README.md: unknown trace format" in messages[0] and "blank: empty file" in messages[1]
    with pytest.raises(TraceFormatError, match=r"README\.md: unknown trace format"):
        load_traces(tmp_path, strict=True)
    with pytest.raises(TraceFormatError, match=r"README\.md: unknown trace format"):
        load_traces(tmp_path / "README.md")  # a file named explicitly is always read


def test_load_traces_still_fails_on_a_malformed_trace_and_on_only_junk(tmp_path: Path) -> None:
    (tmp_path / "bad").write_text("0 1\n1 -5\n", encoding="utf-8")  # detected as cooked, then invalid
    with pytest.raises(TraceFormatError, match=r"bad, line 2: bandwidth_Mbps -5\.0 is negative"):
        load_traces(tmp_path)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello\n", encoding="utf-8")
    with pytest.warns(TraceSkippedWarning), pytest.raises(TraceFormatError, match=r"junk: no trace files: every file"):
        load_traces(junk)


# -- statistics on long and extreme traces (issue 11) ---------------------------------------------


def test_trace_stats_on_the_longest_trace_the_readers_accept() -> None:
    t = Trace([0.0, 5.0], [1e12, 0.0], end_s=1e7)  # readers' limits: 1 Tbit/s, 1e7 s
    stats = trace_stats(t)
    assert stats["duration_s"] == 1e7 and math.isfinite(stats["autocorr"])
    assert stats["mean_kbps"] == pytest.approx(1e9 * 5 / 1e7)


def test_trace_stats_refuses_too_many_bins_clearly() -> None:
    with pytest.raises(ParameterError, match=r"autocorr_lag_s=1\.0 is invalid: gives 1e\+12 bins .* at most 20000000"):
        trace_stats(Trace([0.0], [1.0], end_s=1e12))
    with pytest.raises(ParameterError, match=r"autocorr_lag_s=1e-320 is invalid: gives inf bins"):
        trace_stats(Trace([0.0], [1.0], end_s=1.0), autocorr_lag_s=1e-320)


def test_trace_stats_blocks_match_one_pass() -> None:
    from abrkit.traces import stats

    t = markov_trace(300.0, [300.0, 1200.0, 4000.0], 6.0, seed=3)
    whole = trace_stats(t, autocorr_lag_s=0.5)
    old = stats._BIN_BLOCK
    try:
        stats._BIN_BLOCK = 7
        blocked = trace_stats(t, autocorr_lag_s=0.5)
    finally:
        stats._BIN_BLOCK = old
    assert blocked["autocorr"] == pytest.approx(whole["autocorr"], rel=1e-12)


def test_trace_stats_survives_huge_bandwidths() -> None:
    stats = trace_stats(Trace([0.0, 1.0], [1e300, 3e300], end_s=2.0))
    assert stats["mean_kbps"] == pytest.approx(2e297) and stats["std_kbps"] == pytest.approx(1e297)


# -- synthetic ----------------------------------------------------------------------------------


def test_markov_same_seed_same_trace_and_different_seed_differs() -> None:
    kw = dict(states_kbps=[500, 2000, 6000], mean_dwell_s=[4.0, 8.0, 3.0], noise_sigma=0.2, outage_rate_per_min=2.0)
    a = markov_trace(300.0, seed=7, **kw)
    b = markov_trace(300.0, seed=7, **kw)
    c = markov_trace(300.0, seed=8, **kw)
    assert a.equals(b)
    np.testing.assert_array_equal(a.bandwidth_bps, b.bandwidth_bps)
    assert not np.array_equal(a.bandwidth_bps, c.bandwidth_bps)


def test_markov_outages_change_only_outage_steps() -> None:
    kw = dict(states_kbps=[1000, 3000], mean_dwell_s=5.0, seed=3)
    calm = markov_trace(200.0, **kw)
    rough = markov_trace(200.0, outage_rate_per_min=4.0, outage_mean_s=3.0, **kw)
    changed = calm.bandwidth_bps != rough.bandwidth_bps
    assert changed.any()
    assert np.all(rough.bandwidth_bps[changed] == 0.0)


def test_markov_single_state_without_noise_is_constant() -> None:
    t = markov_trace(10.5, [1500.0], 2.0, noise_sigma=0.0, step_s=2.0, latency_ms=40.0, name="flat")
    np.testing.assert_allclose(t.bandwidth_bps, 1.5e6)
    np.testing.assert_allclose(t.time_s, [0, 2, 4, 6, 8, 10])
    assert t.end_s == 10.5
    np.testing.assert_allclose(t.latency_s, 0.04)
    assert t.name == "flat"
    assert t.meta["generator"] == "markov_trace"


def test_markov_time_average_of_states() -> None:
    # Noise-free, two states far apart in time scale: every step is a mix of the two levels.
    t = markov_trace(500.0, [1000.0, 3000.0], 0.7, noise_sigma=0.0, seed=5)
    assert np.all(t.bandwidth_kbps >= 1000.0 - 1e-6) and np.all(t.bandwidth_kbps <= 3000.0 + 1e-6)
    assert 1500.0 < trace_stats(t)["mean_kbps"] < 2500.0


def test_markov_transition_matrix_is_followed() -> None:
    # A cycle 0 -> 1 -> 2 -> 0 with no noise: the level sequence must follow the cycle.
    p = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    t = markov_trace(400.0, [100.0, 200.0, 300.0], 20.0, transition=p, noise_sigma=0.0, step_s=0.01, seed=2)
    rounded = np.round(t.bandwidth_kbps, 6)  # pure steps hold one level exactly, up to float noise
    levels = rounded[np.isin(rounded, [100.0, 200.0, 300.0])]
    runs = levels[np.concatenate(([True], np.diff(levels) != 0))]
    steps = np.diff((runs / 100).astype(int)) % 3
    assert runs.size > 5 and np.all(steps == 1)


def test_markov_always_keeps_some_bandwidth() -> None:
    t = markov_trace(30.0, [0.0, 800.0], 1000.0, outage_rate_per_min=600.0, outage_mean_s=100.0, seed=0)
    assert np.any(t.bandwidth_bps > 0)
    t = markov_trace(30.0, [800.0], 5.0, outage_rate_per_min=600.0, outage_mean_s=100.0, seed=1)
    assert np.count_nonzero(t.bandwidth_bps) >= 1


@settings(max_examples=40)
@given(
    duration_s=st.floats(0.5, 400.0),
    states=st.lists(st.floats(0.0, 50000.0), min_size=1, max_size=5).filter(lambda s: max(s) > 0),
    dwell=st.floats(0.05, 60.0),
    sigma=st.floats(0.0, 1.0),
    step_s=st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0]),
    outages=st.floats(0.0, 10.0),
    seed=st.integers(0, 2**32),
)
def test_markov_properties(duration_s, states, dwell, sigma, step_s, outages, seed) -> None:
    kw = dict(noise_sigma=sigma, step_s=step_s, outage_rate_per_min=outages, seed=seed)
    t = markov_trace(duration_s, states, dwell, **kw)
    assert t.end_s == duration_s
    assert t.time_s[0] == 0.0
    assert t.n_periods == max(1, math.ceil(duration_s / step_s - 1e-9))
    assert np.all(t.bandwidth_bps >= 0) and np.any(t.bandwidth_bps > 0)
    assert np.all(t.duration_s > 0) and np.all(t.duration_s <= step_s * (1 + 1e-9) + 1e-9)
    assert t.latency_s is None
    assert markov_trace(duration_s, states, dwell, **kw).equals(t)
    if sigma == 0.0 and outages == 0.0:
        assert np.all(t.bandwidth_kbps <= max(states) * (1 + 1e-9))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"duration_s": 0.0}, r"duration_s=0\.0 is invalid: must be > 0"),
        ({"duration_s": float("nan")}, r"duration_s=nan is invalid: must be finite"),
        ({"duration_s": "10"}, r"duration_s='10' is invalid: must be a real number"),
        ({"states_kbps": []}, r"states_kbps=.*non-empty"),
        ({"states_kbps": [100.0, -1.0]}, r"states_kbps=.*finite and >= 0"),
        ({"states_kbps": [0.0, 0.0]}, r"states_kbps=.*at least one state must be > 0"),
        ({"states_kbps": "fast"}, r"states_kbps='fast' is invalid"),
        ({"mean_dwell_s": 0.0}, r"mean_dwell_s=0\.0 is invalid: must be > 0"),
        ({"mean_dwell_s": [1.0]}, r"mean_dwell_s=\[1\.0\] is invalid: must be one number or 2"),
        ({"mean_dwell_s": [1.0, -1.0]}, r"mean_dwell_s=.*finite and > 0"),
        ({"transition": [[0.5, 0.5]]}, r"transition=.*shape \(2, 2\)"),
        ({"transition": [[0.5, 0.4], [1.0, 0.0]]}, r"transition\[0\]=.*row must sum to 1"),
        ({"transition": [[1.5, -0.5], [1.0, 0.0]]}, r"transition=.*finite and >= 0"),
        ({"noise_sigma": -0.1}, r"noise_sigma=-0\.1 is invalid: must be >= 0"),
        ({"step_s": 0.0}, r"step_s=0\.0 is invalid: must be > 0"),
        ({"step_s": 1e-9}, r"step_s=1e-09 is invalid: gives"),
        ({"outage_rate_per_min": -1.0}, r"outage_rate_per_min=-1\.0 is invalid"),
        ({"outage_mean_s": 0.0}, r"outage_mean_s=0\.0 is invalid: must be > 0"),
        ({"latency_ms": -5.0}, r"latency_ms=-5\.0 is invalid: must be >= 0"),
        ({"seed": -1}, r"seed=-1 is invalid: must be an integer >= 0"),
        ({"seed": 1.5}, r"seed=1\.5 is invalid"),
        ({"seed": True}, r"seed=True is invalid"),
        ({"name": 3}, r"name=3 is invalid: must be a string"),
    ],
)
def test_markov_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    args = {"duration_s": 60.0, "states_kbps": [500.0, 1500.0], "mean_dwell_s": 5.0, **kwargs}
    with pytest.raises(ParameterError, match=match):
        markov_trace(**args)


def test_presets_have_their_character() -> None:
    assert {"broadband", "3g", "4g", "outages"} <= set(PRESETS)
    stats = {p: trace_stats(preset_trace(p, 600.0, seed=11)) for p in PRESETS}
    assert stats["broadband"]["mean_kbps"] > 15000 and stats["broadband"]["cv"] < 0.3
    assert 200 <= stats["3g"]["median_kbps"] <= 3000 and 200 <= stats["3g"]["mean_kbps"] <= 3000
    assert stats["3g"]["p5_kbps"] > 100 and stats["3g"]["p95_kbps"] < 4500
    assert 2000 <= stats["4g"]["median_kbps"] <= 40000 and stats["4g"]["p5_kbps"] > 1000
    assert stats["outages"]["zero_fraction"] > 0 and stats["3g"]["zero_fraction"] == 0
    for s in stats.values():
        assert s["duration_s"] == 600.0


def test_preset_trace_names_seeds_and_errors() -> None:
    t = preset_trace("4g", 60.0, seed=4)
    assert t.name == "4g-4"
    assert preset_trace("4g", 60.0, seed=4, name="x").name == "x"
    assert preset_trace("4g", 60.0, seed=4).equals(t)
    assert not preset_trace("4g", 60.0, seed=5).equals(t)
    with pytest.raises(ParameterError, match=r"preset='5g' is invalid: unknown preset; known: 3g, 4g"):
        preset_trace("5g")
    with pytest.raises(ParameterError, match=r"duration_s=-1"):
        preset_trace("3g", -1.0)


# -- stats --------------------------------------------------------------------------------------


@pytest.fixture
def handmade() -> Trace:
    # Durations 1, 2, 3, 4 s at 1000, 0, 2000, 4000 kbps.
    return Trace(
        [0.0, 1.0, 3.0, 6.0], [1e6, 0.0, 2e6, 4e6], end_s=10.0, latency_s=[0.1, 0.2, 0.05, 0.0], name="hand"
    )


def test_trace_stats_golden(handmade: Trace) -> None:
    s = trace_stats(handmade)
    assert list(s) == list(STAT_KEYS)
    assert s["duration_s"] == 10.0 and s["periods"] == 4
    assert s["mean_kbps"] == pytest.approx(2300.0)
    # 0.1*1300^2 + 0.2*2300^2 + 0.3*300^2 + 0.4*1700^2 = 2.41e6
    assert s["std_kbps"] == pytest.approx(math.sqrt(2.41e6))
    assert s["cv"] == pytest.approx(math.sqrt(2.41e6) / 2300.0)
    # Time shares of the sorted levels 0, 1000, 2000, 4000: cumulative 0.2, 0.3, 0.6, 1.0.
    assert (s["min_kbps"], s["p5_kbps"], s["p25_kbps"], s["median_kbps"]) == (0.0, 0.0, 1000.0, 2000.0)
    assert (s["p75_kbps"], s["p95_kbps"], s["max_kbps"]) == (4000.0, 4000.0, 4000.0)
    assert s["zero_fraction"] == pytest.approx(0.2)
    assert s["mean_latency_ms"] == pytest.approx((100 * 1 + 200 * 2 + 50 * 3) / 10)
    bins = np.array([1000, 0, 0, 2000, 2000, 2000, 4000, 4000, 4000, 4000], dtype=float)
    assert s["autocorr_lag_s"] == 1.0
    assert s["autocorr"] == pytest.approx(np.corrcoef(bins[:-1], bins[1:])[0, 1])


def test_trace_stats_percentile_on_exact_boundary() -> None:
    # Two equal halves: the median is the lower level (at or below it half the time).
    s = trace_stats(Trace([0.0, 5.0], [1e6, 3e6], end_s=10.0))
    assert s["median_kbps"] == 1000.0 and s["p75_kbps"] == 3000.0
    assert s["std_kbps"] == pytest.approx(1000.0) and s["mean_kbps"] == pytest.approx(2000.0)


def test_trace_stats_autocorr_lag_and_nan_cases(handmade: Trace) -> None:
    s = trace_stats(handmade, autocorr_lag_s=2.0)
    bins = np.array([500, 1000, 2000, 4000, 4000], dtype=float)
    assert s["autocorr"] == pytest.approx(np.corrcoef(bins[:-1], bins[1:])[0, 1])
    assert math.isnan(trace_stats(handmade, autocorr_lag_s=4.0)["autocorr"])  # only 2 whole bins
    flat = trace_stats(Trace.constant(1e6, 100.0))
    assert math.isnan(flat["autocorr"]) and flat["std_kbps"] == 0.0 and flat["cv"] == 0.0
    assert math.isnan(flat["mean_latency_ms"])
    with pytest.raises(ParameterError, match=r"autocorr_lag_s=0 is invalid"):
        trace_stats(handmade, autocorr_lag_s=0)
    with pytest.raises(ParameterError, match=r"trace='list' is invalid: must be a Trace"):
        trace_stats([1, 2])  # type: ignore[arg-type]


def test_trace_stats_weights_by_time_not_rows() -> None:
    # Many short fast periods, one long slow one: the mean follows time, not row count.
    t = Trace(np.arange(11) * 0.1, [10e6] * 10 + [1e6], end_s=11.0)
    assert trace_stats(t)["mean_kbps"] == pytest.approx((10e3 * 1.0 + 1e3 * 10.0) / 11.0)
    assert trace_stats(t)["median_kbps"] == 1000.0


def test_stats_frame(handmade: Trace) -> None:
    other = Trace.constant(2e6, 50.0, name="flat")
    df = stats_frame([handmade, other])
    assert list(df.columns) == ["trace", *STAT_KEYS]
    assert list(df["trace"]) == ["hand", "flat"]
    assert df.loc[0, "mean_kbps"] == pytest.approx(2300.0)
    assert df.loc[1, "mean_kbps"] == pytest.approx(2000.0)
    assert math.isnan(df.loc[1, "mean_latency_ms"])
    empty = stats_frame([])
    assert empty.empty and list(empty.columns) == ["trace", *STAT_KEYS]
    assert len(stats_frame(handmade)) == 1
    with pytest.raises(ParameterError, match=r"traces\[1\]='str' is invalid: must be a Trace"):
        stats_frame([handmade, "x"])  # type: ignore[list-item]


@pytest.mark.shared
def test_stats_frame_on_norway_test_set(norway_traces) -> None:
    df = stats_frame(norway_traces)
    assert len(df) == 142
    expected = [t.mean_bandwidth_bps() / 1e3 for t in norway_traces]
    np.testing.assert_allclose(df["mean_kbps"], expected, rtol=1e-12)
    assert (df["p5_kbps"] <= df["median_kbps"]).all() and (df["median_kbps"] <= df["p95_kbps"]).all()
    # HSDPA commutes: a few Mbps on average, strongly persistent from one second to the next.
    assert 300 < df["mean_kbps"].median() < 5000
    assert df["autocorr"].median() > 0.5
