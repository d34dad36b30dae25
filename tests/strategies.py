"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

from hypothesis import strategies as st

from abrkit.predictors import (
    DualEwma,
    Ewma,
    HarmonicMean,
    KalmanLog,
    LastSample,
    Mean,
    Oracle,
    PufferMean,
    RobustDiscount,
    SabreEwma,
    SlidingPercentile,
    SlidingWindow,
)


def predictor_specs(presets=True, robust=True, oracle=False, kalman=True):
    """Predictor specs with parameters drawn from their valid ranges; ``presets`` adds the
    dash.js/Shaka/hls.js presets, ``robust`` RobustDiscount over any of the others, ``oracle``
    the oracle, ``kalman`` KalmanLog."""
    window = st.integers(1, 8)
    half_life = st.floats(0.3, 10.0)
    default = st.none() | st.floats(1e5, 5e6)
    kinds = [
        st.just(LastSample()),
        st.builds(Mean, window=window),
        st.builds(HarmonicMean, window=window),
        st.builds(PufferMean, window=window),
        st.builds(
            DualEwma, fast_half_life_s=half_life, slow_half_life_s=half_life,
            min_sample_bytes=st.just(0.0) | st.floats(0.0, 3e5), min_total_bytes=st.just(0.0) | st.floats(0.0, 1e6),
            default_bps=default, min_sample_s=st.just(0.0) | st.floats(0.0, 0.2),
            safety=st.just(1.0) | st.floats(0.5, 1.0), min_total_weight=st.just(0.0) | st.floats(0.0, 3.0),
        ),
        st.builds(Ewma, half_life_s=half_life),
        st.builds(SlidingWindow, windows=st.lists(window, min_size=1, max_size=4).map(tuple)),
        st.builds(SabreEwma, half_lives_s=st.lists(half_life, min_size=1, max_size=4).map(tuple), segment_s=st.floats(0.5, 6.0)),
        st.builds(
            SlidingPercentile, max_weight=st.just(2000.0) | st.floats(1.0, 3000.0), percentile=st.floats(0.0, 1.0),
            default_bps=default, min_elapsed_s=st.floats(0.0, 5.0), min_bytes=st.floats(0.0, 1e6),
        ),
    ]
    if kalman:
        kinds.append(st.builds(
            KalmanLog, quantile=st.floats(0.02, 0.98), process_var_per_s=st.floats(0.0, 0.2),
            measurement_var=st.floats(0.01, 1.0), initial_var=st.floats(0.0, 2.0),
        ))
    if presets:
        kinds.append(st.sampled_from([DualEwma.dashjs(), DualEwma.shaka(), DualEwma.hlsjs()]))
    plain = st.one_of(*kinds)
    out = [plain]
    if robust:
        out.append(st.builds(RobustDiscount, base=plain, window=window))
    if oracle:
        out.append(st.just(Oracle()))
    return st.one_of(*out)
