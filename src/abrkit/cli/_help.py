"""The lists printed at the end of ``--help``: controllers, profiles, QoE models, predictors,
trace formats and synthetic presets, each read from its registry (so they never go stale)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..controllers import CONTROLLERS
from ..errors import AbrkitError
from ..event import EVENT_PROFILES, EventProfile
from ..predictors import PREDICTORS
from ..profiles import PROFILES, Profile
from ..qoe import QOE_MODELS, QoE
from ..traces import FORMATS
from ._args import entry, factory_params, first_sentence

__all__ = ["controllers_help", "profiles_help", "qoes_help", "formats_help", "predictors_help", "presets_help",
           "sweep_help"]


def sweep_help() -> str:
    """The parameter-sweep syntax of ``--controller`` (see :mod:`abrkit.cli._sweep`)."""
    return (
        "parameter sweeps (--controller): a value START:STOP:STEP is a grid (STOP included when it lies on the\n"
        "grid), a value a,b,c a list; several swept parameters give every combination, one controller each:\n"
        "  bba0:reservoir_s=2:10:2          bba0 with reservoir_s = 2, 4, 6, 8, 10\n"
        "  rate:safety=0.7:0.9:0.1          safety = 0.7, 0.8, 0.9 (decimal steps are exact)\n"
        "  'bb:reservoir_s=5,10,cushion_s=10:30:10'   2 x 3 = 6 controllers\n"
        "  'rate:predictor=harmonic,ewma,safety=0.8'  a list of predictors\n"
        "Each session row then carries every controller parameter as its own column."
    )


def controllers_help() -> str:
    lines = [
        "controllers (--controller NAME or NAME:param=value,...; parameters and defaults in brackets; every one runs",
        " under every profile: docs/controllers.md says what each player model honours):",
    ]
    for name in sorted(CONTROLLERS):
        factory = CONTROLLERS[name]
        params = factory_params(factory)
        text = first_sentence(factory) + (f" [{params}]" if params else "")
        lines.append(entry(name, text, name_width=12))
    return "\n".join(lines)


def _qoe_description(q: QoE) -> str:
    parts = [f"utility={q.utility}", f"rebuffer_weight={q.rebuffer_weight:g}", f"switch_weight={q.switch_weight:g}"]
    if q.table:
        parts.append("table=" + ",".join(f"{v:g}" for v in q.table))
    return ", ".join(parts)


def qoes_help() -> str:
    lines = ["QoE models (--qoe): reward = utility - rebuffer_weight x rebuffer_s - switch_weight x |utility change|"]
    for name, factory in QOE_MODELS.items():
        try:
            text = _qoe_description(factory())
        except AbrkitError:  # a model that needs arguments: describe it by its doc only
            text = ""
        doc = first_sentence(factory)
        if doc and not doc.startswith(f"{getattr(factory, '__qualname__', '')}("):
            text = f"{doc} [{text}]" if text else doc
        lines.append(entry(name, text))
    return "\n".join(lines)


def _profile_description(profile: Profile) -> str:
    described = getattr(profile, "description", "")
    base = Profile()
    changed = []
    for f in dataclasses.fields(profile):
        if f.name in ("name", "qoe", "description"):
            continue
        value = getattr(profile, f.name)
        if value != getattr(base, f.name):
            changed.append(f"{f.name}={value!r}")
    q = profile.qoe
    qoe = f"QoE {q.name}, chunk 0 {'counted' if q.include_first_chunk else 'not counted'}"
    body = ", ".join(changed) + f"; {qoe}" if changed else f"abrkit's clean player and network model; {qoe}"
    return f"{described}: {body}" if described else body


def _event_profile_description(profile: EventProfile) -> str:
    from ..hlsjs import HlsjsProfile

    if isinstance(profile, HlsjsProfile):
        return (
            "the hls.js 1.7.4 player on the dash.js player's loop (abrkit.hlsjs, docs/simulator.md): buffer target "
            f"8 x {profile.max_buffer_bytes:g} bytes / bitrate within {profile.buffer_cap_s:g}-{profile.max_max_buffer_s:g} s, "
            f"{profile.schedule_s:g} s tick, first fragment at {profile.initial_kbps:g} kbit/s, a media playlist once per level, "
            "no replacement, no abandonment; hls.js's own ABR is the hlsjs controller"
        )
    if profile.model == "dashjs":
        return (
            "the dash.js 5.2.1 player (abrkit.dashjs, docs/simulator.md): startup, buffer target "
            f"{profile.buffer_cap_s:g} s ({getattr(profile, 'top_buffer_s', 30.0):g} s at the top rung), fast switching, "
            "AbandonRequestsRule for every controller; the dashjs controller runs as dash.js's own rules (dashjs5)"
        )
    what = (
        "Sabre's player and network model, reproducing sabre.py's printed metrics (with its abandonment defect)"
        if not profile.apply_abandon_quality else "the event model (Sabre's player) with Sabre's defects fixed"
    )
    return (
        f"{what}: buffer_cap_s={profile.buffer_cap_s:g}, replacement={profile.replacement!r}, polling every "
        f"{profile.min_progress_ms:g} ms or {profile.min_progress_bits:g} bits (abandonment, waits and replacement honoured)"
    )


def profiles_help() -> str:
    lines = ["profiles (--profile; fields documented in abrkit.profiles, abrkit.event and abrkit.dashjs):"]
    for name, profile in PROFILES.items():
        lines.append(entry(name, _profile_description(profile)))
    for name, eprofile in EVENT_PROFILES.items():
        lines.append(entry(name, _event_profile_description(eprofile)))
    return "\n".join(lines)


def formats_help() -> str:
    lines = ["trace formats (--trace-format; * = detected from the content):"]
    width = max([10] + [len(n) + 1 for n in FORMATS])
    for name in sorted(FORMATS):
        fmt = FORMATS[name]
        mark = "*" if fmt.sniff is not None else " "
        lines.append(entry(f"{name}{mark}", fmt.description, name_width=width))
    return "\n".join(lines)


def predictors_help() -> str:
    lines = ["predictors (--predictor NAME or NAME:param=value,...; parameters and defaults in brackets):"]
    for name in sorted(PREDICTORS):
        factory = PREDICTORS[name]
        params = factory_params(factory)
        text = first_sentence(factory) + (f" [{params}]" if params else "")
        lines.append(entry(name, text, name_width=12))
    return "\n".join(lines)


def _preset_description(spec: Any) -> str:
    """``3-30 Mbps in 3 states, mean dwell 60 s, noise sigma 0.05, latency 20 ms``."""
    if not isinstance(spec, dict):
        return ""
    if spec.get("description"):
        return str(spec["description"])
    parts = []
    states = spec.get("states_kbps")
    if states:
        lo, hi = min(states), max(states)
        parts.append(f"{lo:g}-{hi:g} kbps in {len(states)} states" if len(states) > 1 else f"{lo:g} kbps")
    if spec.get("mean_dwell_s") is not None:
        dwell = spec["mean_dwell_s"]
        text = f"{dwell:g}" if np.ndim(dwell) == 0 else "/".join(f"{d:g}" for d in dwell)
        parts.append(f"mean dwell {text} s")
    if spec.get("noise_sigma"):
        parts.append(f"noise sigma {spec['noise_sigma']:g}")
    if spec.get("outage_rate_per_min"):
        parts.append(f"{spec['outage_rate_per_min']:g} outages/min of {spec.get('outage_mean_s', 2.0):g} s mean")
    if spec.get("latency_ms") is not None:
        parts.append(f"latency {spec['latency_ms']:g} ms")
    if spec.get("step_s") is not None:
        parts.append(f"{spec['step_s']:g} s steps")
    return ", ".join(parts)


def presets_help() -> str:
    from ..traces import synthetic

    lines = ["presets (--preset; parameters in abrkit.traces.synthetic.PRESETS):"]
    for name in sorted(synthetic.PRESETS):
        lines.append(entry(name, _preset_description(synthetic.PRESETS[name])))
    return "\n".join(lines)
