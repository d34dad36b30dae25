"""Throughput predictors: frozen, validated specs that pack into arrays for the kernels.

Every predictor follows one contract (see ``abrkit._kernels.predictors``): it learns from each
finished download — its size in bytes, the time the player measured it over, its request
latency — and predicts the next download's throughput in bits per second. Use one with a
controller (``RateBased(predictor=DualEwma.dashjs())``) or compare many offline with
:func:`abrkit.evaluate.evaluate_predictors`.

===================  ========================================================================
spec                 definition
===================  ========================================================================
``LastSample``       the last sample
``Mean``             arithmetic mean of the last ``window`` samples
``HarmonicMean``     harmonic mean of the last ``window`` samples (MPC: 5)
``RobustDiscount``   RobustMPC: ``base / (1 + max relative error of the last window estimates)``
``Ewma``/``DualEwma``  time-weighted EWMAs with zero-bias correction; the minimum of two
                     (presets: dash.js 5 ``dashjs``: 3 / 8 at weight 1.5 per second of
                     download; dash.js 4 ``dashjs4``: 3 s / 8 s; Shaka 2 s / 5 s; hls.js 3 s / 9 s)
``SlidingWindow``    Sabre: the minimum over window sizes of the window means
``SabreEwma``        Sabre's EWMA pair (and its latency estimate)
``SlidingPercentile``  ExoPlayer: weighted percentile, weight floor(sqrt(bytes)), total <= 2000
``PufferMean``       Puffer: mean seconds-per-byte of the last ``window`` chunks, inverted
``KalmanLog``        abrkit: a Kalman filter on log throughput with predictive quantiles
``Oracle``           sees the future trace: the throughput the next request will get
===================  ========================================================================
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields
from statistics import NormalDist
from typing import Any, Callable, ClassVar

import numpy as np

from ._checks import integer, number
from ._kernels import layout as L
from ._kernels.predictors import replay as _replay
from .errors import ParameterError

__all__ = [
    "Predictor", "LastSample", "Mean", "HarmonicMean", "RobustDiscount", "Ewma", "DualEwma",
    "SlidingWindow", "SabreEwma", "SlidingPercentile", "PufferMean", "KalmanLog", "Oracle",
    "PREDICTORS", "get_predictor", "replay_predictor",
]


@dataclass(frozen=True)
class Predictor:
    """Base class: subclasses set ``kernel_id`` and implement ``params()`` and ``state_size()``."""

    kernel_id: ClassVar[int]
    label: ClassVar[str]

    def params(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_size(self) -> int:
        return 1

    def pack(self) -> tuple[int, np.ndarray, int]:
        """(kernel id, parameter vector of length ``layout.PRED_PARAMS``, state size)."""
        values = self.params()
        if len(values) > L.PRED_PARAMS:
            raise ParameterError("predictor", self.name, f"packs {len(values)} parameters, more than {L.PRED_PARAMS}")
        p = np.zeros(L.PRED_PARAMS, dtype=np.float64)
        p[: len(values)] = values
        return self.kernel_id, p, max(int(self.state_size()), 1)

    @property
    def name(self) -> str:
        """Short label with the non-default parameters, e.g. ``harmonic(window=3)``."""
        return spec_name(self)

    def settings(self) -> dict[str, Any]:
        return spec_settings(self, "predictor")


def spec_name(spec: Any) -> str:
    """``label(field=value, ...)`` listing the fields of a spec dataclass that differ from their
    defaults (nested predictors by their own names); just ``label`` when none does."""
    changed = []
    for f in fields(spec):
        value = getattr(spec, f.name)
        default = f.default if f.default_factory is MISSING else f.default_factory()  # type: ignore[misc]
        if value != default:
            changed.append(f"{f.name}={value.name if isinstance(value, Predictor) else repr(value)}")
    return f"{spec.label}({', '.join(changed)})" if changed else spec.label


def spec_settings(spec: Any, kind: str) -> dict[str, Any]:
    """``{kind: label, field: value, ...}`` for a spec dataclass; nested predictors as dicts."""
    out: dict[str, Any] = {kind: spec.label}
    for f in fields(spec):
        value = getattr(spec, f.name)
        out[f.name] = value.settings() if isinstance(value, Predictor) else value
    return out


def _ring(window: int) -> int:
    return 2 + window


@dataclass(frozen=True)
class LastSample(Predictor):
    """The most recent throughput sample."""

    kernel_id: ClassVar[int] = L.PRED_LAST
    label: ClassVar[str] = "last"

    def params(self) -> list[float]:
        return [1.0]

    def state_size(self) -> int:
        return _ring(1)


@dataclass(frozen=True)
class Mean(Predictor):
    """Arithmetic mean of the last ``window`` throughput samples."""

    window: int = 5
    kernel_id: ClassVar[int] = L.PRED_MEAN
    label: ClassVar[str] = "mean"

    def __post_init__(self) -> None:
        integer("window", self.window, ge=1)

    def params(self) -> list[float]:
        return [float(self.window)]

    def state_size(self) -> int:
        return _ring(self.window)


@dataclass(frozen=True)
class HarmonicMean(Mean):
    """Harmonic mean of the last ``window`` throughput samples (MPC's estimator, window 5)."""

    kernel_id: ClassVar[int] = L.PRED_HARMONIC
    label: ClassVar[str] = "harmonic"


@dataclass(frozen=True)
class PufferMean(Mean):
    """Puffer's MPC estimate: 8 / mean(seconds per byte) over the last ``window`` chunks.

    As a one-step estimate this equals the harmonic mean of the per-chunk throughputs; it is
    kept as its own spec because it is how Puffer states it (and extends it over a horizon).
    """

    kernel_id: ClassVar[int] = L.PRED_PUFFER
    label: ClassVar[str] = "puffer"


@dataclass(frozen=True)
class RobustDiscount(Predictor):
    """RobustMPC's discount (Yin et al., SIGCOMM 2015): ``base / (1 + e)``, where ``e`` is the
    largest relative error ``|estimate - sample| / sample`` of the base estimates over the last
    ``window`` samples (0 before the first estimate)."""

    base: Predictor = field(default_factory=lambda: HarmonicMean(5))
    window: int = 5
    kernel_id: ClassVar[int] = L.PRED_ROBUST
    label: ClassVar[str] = "robust"

    def __post_init__(self) -> None:
        if not isinstance(self.base, Predictor) or isinstance(self.base, (RobustDiscount, Oracle)):
            raise ParameterError("base", self.base, "must be a Predictor other than RobustDiscount or Oracle")
        integer("window", self.window, ge=1)

    def _base_offset(self) -> int:
        return 2 + _ring(self.window)

    def params(self) -> list[float]:
        base_id, base_p, _ = self.base.pack()
        used = len(self.base.params())
        if 3 + used > L.PRED_PARAMS:
            raise ParameterError("base", self.base.name, "has too many parameters to be wrapped")
        return [float(self.window), float(base_id), float(self._base_offset()), *base_p[:used].tolist()]

    def state_size(self) -> int:
        return self._base_offset() + self.base.pack()[2]


@dataclass(frozen=True)
class DualEwma(Predictor):
    """The minimum of two time-weighted EWMAs with zero-bias correction (units: seconds, bytes, bps).

    Each sample ``x = 8 * bytes / t`` (``t`` the measured time, floored at ``min_sample_s``)
    enters with weight ``w = weight_per_s * t``: ``est = (1 - a) x + a est`` with
    ``a = 0.5 ** (w / half_life)``. The read-out divides each estimate by
    ``1 - 0.5 ** (total_weight / half_life)`` and returns ``safety x min(fast, slow)``. Samples
    under ``min_sample_bytes`` are ignored; until ``min_total_bytes`` and ``min_total_weight``
    are reached the estimate is ``default_bps`` (None: no estimate).

    The half-lives are in units of weight, which are seconds of download time when
    ``weight_per_s`` is 1 (dash.js 4, Shaka, hls.js); dash.js 5 weighs each sample by
    ``0.0015 x download time in ms`` (``weight_per_s=1.5``), so its "3 s" and "8 s" half-lives
    are 2 s and 5.33 s of download time.
    """

    fast_half_life_s: float = 3.0
    slow_half_life_s: float = 8.0
    min_sample_bytes: float = 0.0
    min_total_bytes: float = 0.0
    default_bps: float | None = None
    min_sample_s: float = 0.0
    safety: float = 1.0
    min_total_weight: float = 0.0
    weight_per_s: float = 1.0
    kernel_id: ClassVar[int] = L.PRED_DUAL_EWMA
    label: ClassVar[str] = "dual-ewma"

    def __post_init__(self) -> None:
        number("fast_half_life_s", self.fast_half_life_s, gt=0)
        number("slow_half_life_s", self.slow_half_life_s, gt=0)
        number("min_sample_bytes", self.min_sample_bytes, ge=0)
        number("min_total_bytes", self.min_total_bytes, ge=0)
        if self.default_bps is not None:
            number("default_bps", self.default_bps, gt=0)
        number("min_sample_s", self.min_sample_s, ge=0)
        number("safety", self.safety, gt=0)
        number("min_total_weight", self.min_total_weight, ge=0)
        number("weight_per_s", self.weight_per_s, gt=0)

    @classmethod
    def dashjs(cls) -> "DualEwma":
        """dash.js as it is today: :meth:`dashjs5`."""
        return cls.dashjs5()

    @classmethod
    def dashjs5(cls) -> "DualEwma":
        """dash.js 5.x ``ThroughputModel`` + ``ThroughputController.getEwma`` (EWMA mode, the
        default): each sample weighs ``weightDownloadTimeMultiplicationFactor`` (0.0015) x its
        download time in ms, i.e. 1.5 per second; half-lives 3 and 8 (``throughputFast/Slow
        HalfLifeSeconds``, in units of that weight); the minimum of the two zero-bias corrected
        EWMAs times ``bandwidthSafetyFactor`` 0.9. The sample is 8 x bytes / download time,
        without the request latency (``useDeadTimeLatency: true``). See docs/predictors.md
        for the source lines."""
        return cls(3.0, 8.0, safety=0.9, weight_per_s=1.5)

    @classmethod
    def dashjs4(cls) -> "DualEwma":
        """dash.js 4.x ``ThroughputHistory``: half-lives 3 s and 8 s, weight = download time in
        seconds (``0.001 * downloadTimeInMilliseconds`` in its source), safety factor 0.9."""
        return cls(3.0, 8.0, safety=0.9)

    @classmethod
    def shaka(cls) -> "DualEwma":
        """Shaka Player ``EwmaBandwidthEstimator``: half-lives 2 s and 5 s, samples under 16 kB
        ignored, 1 Mbit/s default until 128 kB have been sampled."""
        return cls(2.0, 5.0, min_sample_bytes=16_000.0, min_total_bytes=128_000.0, default_bps=1e6)

    @classmethod
    def hlsjs(cls) -> "DualEwma":
        """hls.js ``EwmaBandWidthEstimator`` (VoD): half-lives 3 s and 9 s, durations floored at
        50 ms, 500 kbit/s default until a total weight of 0.001 s."""
        return cls(3.0, 9.0, default_bps=5e5, min_sample_s=0.05, min_total_weight=0.001)

    @property
    def name(self) -> str:
        """The preset's name (``dashjs`` for dash.js 5, ``dashjs4``, ``shaka``, ``hlsjs``) when it
        is one, else the fields."""
        for preset in ("dashjs", "dashjs4", "shaka", "hlsjs"):
            if self == getattr(DualEwma, preset)():
                return preset
        return super().name

    def params(self) -> list[float]:
        return [
            self.fast_half_life_s, self.slow_half_life_s, self.min_sample_bytes, self.min_total_bytes,
            -1.0 if self.default_bps is None else self.default_bps, self.min_sample_s, self.safety,
            self.min_total_weight, self.weight_per_s,
        ]

    def state_size(self) -> int:
        return 4


@dataclass(frozen=True)
class Ewma(Predictor):
    """One time-weighted EWMA with zero-bias correction (``DualEwma`` with equal half-lives)."""

    half_life_s: float = 3.0
    kernel_id: ClassVar[int] = L.PRED_DUAL_EWMA
    label: ClassVar[str] = "ewma"

    def __post_init__(self) -> None:
        number("half_life_s", self.half_life_s, gt=0)

    def params(self) -> list[float]:
        return DualEwma(self.half_life_s, self.half_life_s).params()

    def state_size(self) -> int:
        return 4


def _sizes(name: str, values: tuple[float, ...], *, integral: bool) -> tuple[Any, ...]:
    if isinstance(values, (int, float)):
        values = (values,)
    if isinstance(values, str):
        raise ParameterError(name, values, "must be a number or a sequence of numbers, e.g. (3, 5) or 3/5")
    values = tuple(values)
    if not 1 <= len(values) <= 4:
        raise ParameterError(name, values, "must hold 1 to 4 values")
    for i, v in enumerate(values):
        integer(f"{name}[{i}]", v, ge=1) if integral else number(f"{name}[{i}]", v, gt=0)
    return values


@dataclass(frozen=True)
class SlidingWindow(Predictor):
    """Sabre's ``SlidingWindow``: for each window size the mean of that many recent samples;
    the lowest throughput (and the highest latency) wins. Sabre's default window is 3."""

    windows: tuple[int, ...] = (3,)
    kernel_id: ClassVar[int] = L.PRED_SABRE_WINDOW
    label: ClassVar[str] = "sabre-window"

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", _sizes("windows", self.windows, integral=True))

    def params(self) -> list[float]:
        return [float(len(self.windows)), float(max(self.windows)), *map(float, self.windows)]

    def state_size(self) -> int:
        return 2 * _ring(max(self.windows))


@dataclass(frozen=True)
class SabreEwma(Predictor):
    """Sabre's ``Ewma``: throughput averaged with weight = download time and each half-life;
    latency with weight one per sample and half-life ``half_life / segment_s`` samples; the
    lowest throughput (highest latency) over the half-lives. Sabre: 8 s and 3 s."""

    half_lives_s: tuple[float, ...] = (8.0, 3.0)
    segment_s: float = 3.0
    kernel_id: ClassVar[int] = L.PRED_SABRE_EWMA
    label: ClassVar[str] = "sabre-ewma"

    def __post_init__(self) -> None:
        object.__setattr__(self, "half_lives_s", _sizes("half_lives_s", self.half_lives_s, integral=False))
        number("segment_s", self.segment_s, gt=0)

    def params(self) -> list[float]:
        return [float(len(self.half_lives_s)), self.segment_s, *map(float, self.half_lives_s)]

    def state_size(self) -> int:
        return 10


@dataclass(frozen=True)
class SlidingPercentile(Predictor):
    """ExoPlayer's ``DefaultBandwidthMeter``: the ``percentile`` of samples weighted by
    ``floor(sqrt(bytes))``, oldest weight trimmed so the total stays <= ``max_weight``.
    ``default_bps`` until ``min_elapsed_s`` of transfer or ``min_bytes`` have been seen."""

    max_weight: float = 2000.0
    percentile: float = 0.5
    default_bps: float | None = 1e6
    min_elapsed_s: float = 2.0
    min_bytes: float = 512 * 1024.0
    kernel_id: ClassVar[int] = L.PRED_EXO_PERCENTILE
    label: ClassVar[str] = "exoplayer"

    def __post_init__(self) -> None:
        number("max_weight", self.max_weight, ge=1)
        number("percentile", self.percentile, ge=0, le=1)
        if self.default_bps is not None:
            number("default_bps", self.default_bps, gt=0)
        number("min_elapsed_s", self.min_elapsed_s, ge=0)
        number("min_bytes", self.min_bytes, ge=0)

    def _capacity(self) -> int:
        # Every whole sample weighs >= 1 and only the oldest can be fractional.
        return int(self.max_weight) + 2

    def params(self) -> list[float]:
        return [
            self.max_weight, self.percentile, -1.0 if self.default_bps is None else self.default_bps,
            self.min_elapsed_s, self.min_bytes, float(self._capacity()),
        ]

    def state_size(self) -> int:
        return 5 + 2 * self._capacity()


@dataclass(frozen=True)
class KalmanLog(Predictor):
    """A Kalman filter on log throughput that predicts a quantile, not just a mean.

    Model: the log-throughput level follows a random walk whose variance grows by
    ``process_var_per_s`` per second of session time (so an estimate grows less certain while
    the player idles); each sample adds ``measurement_var`` of noise. The prediction is the
    ``quantile`` of the predictive distribution of the next sample (log-normal), so a
    controller can plan against, say, the 10th percentile (``quantile=0.1``). Log space fits
    throughput's multiplicative, right-skewed variation; the filter weighs new samples by how
    uncertain the level has become, where fixed-window means weigh them equally.

    The first sample sets the level; ``initial_var`` is the level's variance after it (not a
    prior before it). The defaults were fitted on Pensieve's training traces (median RMS log
    error, then 10 %/90 % quantile calibration) and checked on the Norway test traces, which
    the fit never saw: there the 0.1 quantile over-estimates 9.9 % of downloads
    (``examples/predictor_table.py --tune-kalman``; see docs/predictors.md).
    """

    quantile: float = 0.5
    process_var_per_s: float = 0.015
    measurement_var: float = 0.03
    initial_var: float = 0.03
    kernel_id: ClassVar[int] = L.PRED_KALMAN
    label: ClassVar[str] = "kalman"

    def __post_init__(self) -> None:
        q = number("quantile", self.quantile, gt=0)
        if q >= 1:
            raise ParameterError("quantile", self.quantile, "must be in (0, 1)")
        number("process_var_per_s", self.process_var_per_s, ge=0)
        number("measurement_var", self.measurement_var, gt=0)
        number("initial_var", self.initial_var, ge=0)

    def params(self) -> list[float]:
        z = NormalDist().inv_cdf(self.quantile)
        return [self.process_var_per_s, self.measurement_var, z, self.initial_var]

    def state_size(self) -> int:
        return 4


@dataclass(frozen=True)
class Oracle(Predictor):
    """Sees the future trace: the throughput the next request will measure, for upper bounds.

    In a session it answers for the next chunk at the previous rung; in
    :func:`~abrkit.evaluate.evaluate_predictors` for the chunk actually requested (so its
    error there is zero by construction: a check of the harness, not a result).
    """

    kernel_id: ClassVar[int] = L.PRED_ORACLE
    label: ClassVar[str] = "oracle"

    def params(self) -> list[float]:
        return []


#: Name -> factory (the CLI and :func:`get_predictor` resolve names here).
PREDICTORS: dict[str, Callable[..., Predictor]] = {
    "last": LastSample,
    "mean": Mean,
    "harmonic": HarmonicMean,
    "robust": RobustDiscount,
    "ewma": Ewma,
    "dual-ewma": DualEwma,
    "dashjs": DualEwma.dashjs,  # dash.js 5 (DualEwma.dashjs5); one name per preset, so no "dashjs5"
    "dashjs4": DualEwma.dashjs4,
    "shaka": DualEwma.shaka,
    "hlsjs": DualEwma.hlsjs,
    "sabre-window": SlidingWindow,
    "sabre-ewma": SabreEwma,
    "exoplayer": SlidingPercentile,
    "puffer": PufferMean,
    "kalman": KalmanLog,
    "oracle": Oracle,
}


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses: ``a=1,b=f(x=1,y=2)`` -> ``['a=1', 'b=f(x=1,y=2)']``."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_spec(spec: str, what: str) -> tuple[str, dict[str, str]]:
    """``name``, ``name:a=1,b=2`` or ``name(a=1,b=2)`` -> (name, {"a": "1", "b": "2"})."""
    m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(?:\((.*)\)|:(.*))?\s*", spec, flags=re.S)
    if not m:
        raise ParameterError(what, spec, "must look like name, name:param=value,... or name(param=value,...)")
    name, arg_text = m.group(1).lower(), m.group(2) if m.group(2) is not None else (m.group(3) or "")
    args: dict[str, str] = {}
    for item in split_top_level(arg_text):
        key, eq, raw = item.partition("=")
        if not eq:
            raise ParameterError(what, spec, f"parameter {item!r} must look like name=value")
        args[key.strip()] = raw.strip()
    return name, args


def parse_value(raw: str) -> Any:
    """A parameter value from text: int, float, a tuple ``(1,2)``/``1/2``, ``none``, or the text."""
    text = raw.strip()
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text.startswith("(") and text.endswith(")"):
        return tuple(parse_value(t) for t in split_top_level(text[1:-1]))
    if "/" in text and all(parse_value(t) is not None for t in text.split("/")):
        return tuple(parse_value(t) for t in text.split("/"))
    return text


def build(registry: dict[str, Callable[..., Any]], name: str, args: dict[str, Any], what: str, spec: str) -> Any:
    if name not in registry:
        raise ParameterError(what, spec, f"unknown {what}; known: {', '.join(sorted(registry))}")
    try:
        return registry[name](**args)
    except TypeError as exc:
        factory = registry[name]
        target = factory if isinstance(factory, type) else getattr(factory, "__self__", None)
        valid = [f.name for f in fields(target)] if target is not None else []  # type: ignore[arg-type]
        hint = f"; parameters of {name!r}: {', '.join(valid)}" if valid else ""
        raise ParameterError(what, spec, f"{exc}{hint}") from None


def get_predictor(spec: str | Predictor, **params: Any) -> Predictor:
    """Resolve ``"harmonic"``, ``"harmonic:window=3"``, ``"robust(base=ewma(half_life_s=2))"`` or a Predictor."""
    if isinstance(spec, Predictor):
        if params:
            raise ParameterError("params", params, "cannot be combined with a Predictor instance")
        return spec
    if not isinstance(spec, str):
        raise ParameterError("predictor", spec, "must be a predictor name or a Predictor instance")
    name, raw = parse_spec(spec, "predictor")
    for key, value in raw.items():
        params[key] = get_predictor(value) if key == "base" else parse_value(value)
    return build(PREDICTORS, name, params, "predictor", spec)


def replay_predictor(
    predictor: Predictor | str,
    size_bytes: Any,
    time_s: Any,
    latency_s: Any = None,
    now_s: Any = None,
    request_s: Any = None,
) -> np.ndarray:
    """One-step predictions of ``predictor`` over a recorded sequence of downloads.

    ``size_bytes``, ``time_s`` (measured download times), ``latency_s`` (default 0), ``now_s``
    (session clock at each download's end; default the running sum of ``time_s``) and
    ``request_s`` (session clock at each request; default the previous download's end, 0 for
    the first) are arrays of shape (n,); a session's per-chunk log has all of them. Returns
    shape (n,): entry ``i`` is the estimate, in bits per second, made at download ``i``'s
    request (NaN where the predictor has none yet).
    """
    pred = get_predictor(predictor)
    if isinstance(pred, Oracle):
        raise ParameterError("predictor", "oracle", "needs the trace: evaluate it with evaluate_predictors")
    size = _samples("size_bytes", size_bytes, positive=True)
    if size.size == 0:
        raise ParameterError("size_bytes", [], "an empty history: replay needs at least one download")
    t = _samples("time_s", time_s, positive=True)
    if t.shape != size.shape:
        raise ParameterError("time_s", f"{t.size} values", f"must match size_bytes ({size.size} values)")
    lat = np.zeros_like(size) if latency_s is None else _samples("latency_s", latency_s, positive=False)
    now = np.cumsum(t) if now_s is None else _samples("now_s", now_s, positive=False)
    if request_s is None:
        req = np.concatenate(([0.0], now[:-1])) if now.size else now
    else:
        req = _samples("request_s", request_s, positive=False)
    for name, arr in (("latency_s", lat), ("now_s", now), ("request_s", req)):
        if arr.shape != size.shape:
            raise ParameterError(name, f"{arr.size} values", f"must match size_bytes ({size.size} values)")
    pid, p, n_state = pred.pack()
    out = np.empty(size.size, dtype=np.float64)
    _replay(pid, p, np.zeros(n_state), size, t, lat, now, req, out)
    return out


def _samples(name: str, values: Any, *, positive: bool) -> np.ndarray:
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(name, values, "must be an array of numbers") from None
    if arr.ndim != 1:
        raise ParameterError(name, f"array of shape {arr.shape}", "must be one-dimensional")
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"{name}[{i}]", float(arr[i]), f"must be finite and {'> 0' if positive else '>= 0'}")
    return arr
