"""The ``abrkit`` command line: a thin layer over the public API.

Subcommands::

    abrkit simulate --traces PATH... --video PATH [--controller SPEC...] [--profile NAME] [--optimum] ...
    abrkit predict --traces PATH... [--predictor SPEC...] [--format table|csv|json]
    abrkit ladder SOURCE --out DIR [--mode fast|exhaustive] [--codec x264] ...
    abrkit traces stats PATH... [--format table|csv|json]
    abrkit traces convert IN OUT --to FORMAT [--from FORMAT]
    abrkit traces generate --preset NAME [--count N] [--duration-s S] [--seed S] --out DIR [--to FORMAT]
    abrkit traces formats

Errors abrkit raises on purpose (:class:`abrkit.AbrkitError`) become one line on stderr,
``abrkit: error: <message>``, and exit code 1; argparse usage errors exit with 2; anything else
is a bug and keeps its traceback. Outputs are deterministic: the same arguments give the same
bytes, whatever ``--workers`` is.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import numpy as np
import pandas as pd

from ._version import __version__
from .controllers import CONTROLLERS, get_controller
from .custom import load_controller, spec_of
from .predictors import PREDICTORS, get_predictor
from .errors import AbrkitError
from .event import EVENT_PROFILES, EventProfile
from .event_controllers import EVENT_CONTROLLERS
from .profiles import PROFILES, Profile, get_profile
from .qoe import QOE_MODELS, QoE, get_qoe
from .simulate import run_batch
from .tables import summary_table
from .traces import FORMATS, Trace, load_traces, read_trace, write_trace
from .video import Video, read_video

__all__ = ["main", "build_parser", "CLIError"]

PROG = "abrkit"
_HELP_WIDTH = 88


class CLIError(AbrkitError):
    """A problem with the command-line arguments found after parsing (exit code 1)."""


# ==============================================================================================
# small helpers: parsing values, one-line docs, tables, writing output
# ==============================================================================================


def _kbps_list(text: str) -> list[float]:
    """``300,750,1200`` -> [300.0, 750.0, 1200.0] (argparse type: bad input is a usage error)."""
    items = [t.strip() for t in text.split(",")]
    if not items or any(not t for t in items):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers in kbps, e.g. 300,750,1200")
    values = []
    for t in items:
        try:
            v = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{t!r} in {text!r} is not a number") from None
        if not (math.isfinite(v) and v > 0):
            raise argparse.ArgumentTypeError(f"{t!r} in {text!r} must be a finite bitrate > 0 kbps")
        values.append(v)
    return values


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be finite and > 0")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return v


def _first_sentence(obj: Any) -> str:
    """First sentence of the first paragraph of ``obj``'s docstring, reST markup removed."""
    doc = inspect.getdoc(obj) or ""
    paragraph = doc.strip().split("\n\n")[0]
    text = " ".join(paragraph.split()).replace("``", "")
    end = re.search(r"(?<=[.!?])\s+(?=[A-Z(\"'])", text)
    return text[: end.start()] if end else text


def _factory_params(factory: Callable[..., Any]) -> str:
    """``reservoir_s=5.0, cushion_s=10.0``: the parameters a controller spec can set."""
    items: list[str] = []
    if dataclasses.is_dataclass(factory):
        for f in dataclasses.fields(factory):
            if not f.init:
                continue
            if f.default is not dataclasses.MISSING:
                items.append(f"{f.name}={f.default!r}")
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                items.append(f"{f.name}={f.default_factory()!r}")  # type: ignore[misc]
            else:
                items.append(f.name)
    else:
        try:
            sig = inspect.signature(factory)
        except (TypeError, ValueError):
            return ""
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            items.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return ", ".join(items)


def _entry(name: str, text: str, width: int = _HELP_WIDTH, name_width: int = 10) -> str:
    """One help-list entry: the name, then ``text`` wrapped and indented under it."""
    head = f"  {name:<{name_width}} "
    return textwrap.fill(
        text, width=width, initial_indent=head, subsequent_indent=" " * len(head), break_on_hyphens=False,
        break_long_words=False,
    )


def _controllers_help() -> str:
    lines = ["controllers (--controller NAME or NAME:param=value,...; parameters and defaults in brackets):"]
    for title, names in (
        ("chunk model (profiles " + ", ".join(PROFILES) + ")", sorted(set(CONTROLLERS) - set(EVENT_CONTROLLERS))),
        ("event model (profiles " + ", ".join(EVENT_PROFILES) + "; see docs/controllers.md)", sorted(EVENT_CONTROLLERS)),
    ):
        lines.append(f" {title}:")
        for name in names:
            factory = CONTROLLERS[name]
            params = _factory_params(factory)
            text = _first_sentence(factory) + (f" [{params}]" if params else "")
            lines.append(_entry(name, text, name_width=12))
    return "\n".join(lines)


def _qoe_description(q: QoE) -> str:
    parts = [f"utility={q.utility}", f"rebuffer_weight={q.rebuffer_weight:g}", f"switch_weight={q.switch_weight:g}"]
    if q.table:
        parts.append("table=" + ",".join(f"{v:g}" for v in q.table))
    return ", ".join(parts)


def _qoes_help() -> str:
    lines = ["QoE models (--qoe): reward = utility - rebuffer_weight x rebuffer_s - switch_weight x |utility change|"]
    for name, factory in QOE_MODELS.items():
        try:
            text = _qoe_description(factory())
        except AbrkitError:  # a model that needs arguments: describe it by its doc only
            text = ""
        doc = _first_sentence(factory)
        if doc and not doc.startswith(f"{getattr(factory, '__qualname__', '')}("):
            text = f"{doc} [{text}]" if text else doc
        lines.append(_entry(name, text))
    return "\n".join(lines)


def _profile_description(profile: Profile) -> str:
    described = getattr(profile, "description", "")
    try:
        base = Profile()
    except Exception:  # pragma: no cover - only if Profile() ever needs arguments
        base = None
    changed = []
    if base is not None:
        for f in dataclasses.fields(profile):
            if f.name in ("name", "qoe", "description"):
                continue
            value = getattr(profile, f.name)
            if value != getattr(base, f.name):
                changed.append(f"{f.name}={value!r}")
    q = profile.qoe
    qoe = f"QoE {q.name}, chunk 0 {'counted' if q.include_first_chunk else 'not counted'}"
    if changed:
        body = ", ".join(changed) + f"; {qoe}"
    else:
        body = f"abrkit's clean player and network model; {qoe}"
    return f"{described}: {body}" if described else body


def _event_profile_description(profile: EventProfile) -> str:
    what = (
        "Sabre's player and network model, reproducing sabre.py's printed metrics (with its abandonment defect)"
        if not profile.apply_abandon_quality else "the event model (Sabre's player) with Sabre's defects fixed"
    )
    return f"{what}: buffer_cap_s={profile.buffer_cap_s:g}, replacement={profile.replacement!r}, polling every " \
           f"{profile.min_progress_ms:g} ms or {profile.min_progress_bits:g} bits; event-model controllers only"


def _profiles_help() -> str:
    lines = ["profiles (--profile; fields documented in abrkit.profiles and abrkit.event):"]
    for name, profile in PROFILES.items():
        lines.append(_entry(name, _profile_description(profile)))
    for name, eprofile in EVENT_PROFILES.items():
        lines.append(_entry(name, _event_profile_description(eprofile)))
    return "\n".join(lines)



def _formats_help() -> str:
    lines = ["trace formats (--trace-format; * = detected from the content):"]
    width = max([10] + [len(n) + 1 for n in FORMATS])
    for name in sorted(FORMATS):
        fmt = FORMATS[name]
        mark = "*" if fmt.sniff is not None else " "
        lines.append(_entry(f"{name}{mark}", fmt.description, name_width=width))
    return "\n".join(lines)


def _format_number_column(values: np.ndarray) -> list[str]:
    """Format the floats of one column alike (integers without decimals, NaN as ``-``)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return ["-" if np.isnan(v) else str(v) for v in values]
    big = float(np.max(np.abs(finite)))
    if np.all(finite == np.round(finite)) and big < 1e15:
        fmt = "{:.0f}"
    elif big >= 1e9 or (0 < big < 1e-3):
        fmt = "{:.4g}"
    else:  # four significant digits for the column's largest value, 1 to 4 decimals
        decimals = 3 - int(math.floor(math.log10(big))) if big > 0 else 1
        fmt = "{:.%df}" % min(max(decimals, 1), 4)
    out = []
    for v in values:
        if np.isnan(v):
            out.append("-")
        elif not np.isfinite(v):
            out.append("inf" if v > 0 else "-inf")
        else:
            text = fmt.format(v)
            if text.startswith("-") and float(text) == 0:
                text = text[1:]  # no "-0.000"
            out.append(text)
    return out


def _format_table(df: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """A plain-text table: columns separated by two spaces, numbers right-aligned."""
    labels = labels or {}
    columns: list[tuple[str, list[str], bool]] = []
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            cells, right = ["yes" if v else "no" for v in s], False
        elif pd.api.types.is_integer_dtype(s):
            cells, right = [str(int(v)) for v in s], True
        elif pd.api.types.is_float_dtype(s):
            cells, right = _format_number_column(s.to_numpy(dtype=np.float64)), True
        else:
            cells, right = ["-" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in s], False
        columns.append((labels.get(col, str(col)), cells, right))
    widths = [max([len(h)] + [len(c) for c in cells]) for h, cells, _ in columns]

    def line(items: Sequence[str]) -> str:
        parts = [
            (text.rjust(w) if right else text.ljust(w))
            for text, w, (_, _, right) in zip(items, widths, columns)
        ]
        return "  ".join(parts).rstrip()

    out = [line([h for h, _, _ in columns]), line(["-" * w for w in widths])]
    for i in range(len(df)):
        out.append(line([cells[i] for _, cells, _ in columns]))
    return "\n".join(out) + "\n"


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return [_json_value(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, bool)):
        return v
    if v is pd.NA or v is pd.NaT:
        return None
    return str(v)


def _to_json(df: pd.DataFrame) -> str:
    """A JSON list of objects, one per row; NaN and infinities become null."""
    records = [{str(k): _json_value(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
    return json.dumps(records, indent=2, allow_nan=False) + "\n"


def _to_csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def _render(df: pd.DataFrame, fmt: str, labels: dict[str, str] | None = None) -> str:
    if fmt == "csv":
        return _to_csv(df)
    if fmt == "json":
        return _to_json(df)
    return _format_table(df, labels)


def _write_text(text: str, path: str | None, stdout: TextIO) -> None:
    if path is None or path == "-":
        stdout.write(text)
        stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


# ==============================================================================================
# abrkit simulate
# ==============================================================================================

_SUMMARY_LABELS = {
    "controller": "controller",
    "sessions": "sessions",
    "mean_qoe": "mean QoE",
    "mean_bitrate_kbps": "mean bitrate kbps",
    "mean_rebuffer_s": "mean rebuffer s",
    "rebuffer_ratio": "rebuffer ratio",
    "mean_switches": "mean switches",
    "stalled_sessions": "stalled",
}


def _load_video(args: argparse.Namespace) -> Video:
    path = Path(args.video)
    if path.is_dir():
        if args.bitrates_kbps is None:
            raise CLIError(
                f"--video {args.video} is a Pensieve chunk-size directory (video_size_N files), which holds no "
                "bitrate ladder: give it with --bitrates-kbps, e.g. --bitrates-kbps 300,750,1200,1850,2850,4300"
            )
        return read_video(path, args.bitrates_kbps, args.chunk_s)
    video = read_video(path, args.bitrates_kbps)
    if args.chunk_s is not None and not math.isclose(args.chunk_s, video.chunk_s, rel_tol=1e-9):
        raise CLIError(
            f"--chunk-s {args.chunk_s:g} differs from the chunk duration stored in {args.video} ({video.chunk_s:g} s); "
            "--chunk-s only applies to Pensieve chunk-size directories"
        )
    return video


def _profile_with(profile: Profile | EventProfile, settings: Sequence[str] | None) -> Profile | EventProfile:
    """``profile`` with ``FIELD=VALUE`` overrides, each value read as the field's declared type."""
    types = {f.name: str(f.type) for f in dataclasses.fields(profile) if f.name not in ("name", "qoe")}
    changes: dict[str, Any] = {}
    for item in settings or []:
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or key not in types:
            raise CLIError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(types)} "
                           f"(fields of profile {profile.name!r}; the QoE model: --qoe)")
        kind = types[key]
        word = text.lower()
        if word == "none" and "None" in kind:
            changes[key] = None
        elif kind.startswith("bool"):
            if word not in ("true", "false"):
                raise CLIError(f"--set {item!r}: {key} is true or false")
            changes[key] = word == "true"
        elif kind.startswith(("int", "float")):
            try:
                changes[key] = int(text) if kind.startswith("int") else float(text)
            except ValueError:
                raise CLIError(f"--set {item!r}: {key} takes a number ({kind})") from None
        else:
            changes[key] = text
    return profile.replace(**changes) if changes else profile


def _resolve_controllers(specs: Sequence[str] | None) -> list[Any]:
    """Built-in specs, and Python controllers given as ``FILE.py`` or ``FILE.py:Class``."""
    specs = list(specs or ["bb"])
    controllers = [load_controller(s) if s.endswith(".py") or ".py:" in s else get_controller(s) for s in specs]
    seen: dict[str, str] = {}
    for spec, c in zip(specs, controllers):
        name = spec_of(c).name
        if name in seen:
            raise CLIError(f"controller {spec!r} is the same as {seen[name]!r} ({name}): give each controller once")
        seen[name] = spec
    return controllers


def _resolve_qoe(args: argparse.Namespace, profile: Profile | EventProfile) -> QoE:
    # The profile sets the scoring convention: a model named with --qoe keeps the profile's
    # choice of counting chunk 0 (Pensieve's totals skip it for every QoE model).
    if args.qoe is None:
        model = profile.qoe
    else:
        model = get_qoe(args.qoe).with_first_chunk(profile.qoe.include_first_chunk)
    if args.include_first_chunk is not None:
        model = model.with_first_chunk(args.include_first_chunk)
    return model


def _context_line(batch: Any, traces: Sequence[Trace]) -> str:
    q = batch.qoe
    v = batch.videos[0]
    n_chunks = int(batch.n_chunks[0]) if len(batch) else v.n_chunks
    return (
        f"profile {batch.profile.name}; QoE {q.name} (chunk 0 {'counted' if q.include_first_chunk else 'not counted'}); "
        f"video {v.name}: {n_chunks} chunks x {v.chunk_s:g} s, {v.n_rungs} rungs "
        f"{', '.join(f'{b:g}' for b in v.bitrates_kbps)} kbps; {len(traces)} trace{'s' if len(traces) != 1 else ''}\n"
    )


#: Columns the optimum rows add to the sessions table (named as in OptimumResult.totals()).
_OPTIMUM_COLUMNS = ("exact", "exact_with_cap", "lower_bound")


def _with_optimum(sessions: pd.DataFrame, optimum: pd.DataFrame) -> pd.DataFrame:
    """The sessions table with the optimum's rows appended, in the sessions' columns plus the
    exactness ones; cells that do not apply to a row are left empty."""
    columns = [*sessions.columns, *_OPTIMUM_COLUMNS]
    left, right = sessions.reindex(columns=columns), optimum.reindex(columns=columns)
    for col in columns:
        source = sessions[col] if col in sessions.columns else optimum[col]
        # Nullable dtypes: an integer column with one empty cell would otherwise turn float and
        # print the controllers' counts as "3.0"; the flags stay flags with null for controllers.
        if pd.api.types.is_bool_dtype(source):
            left[col], right[col] = left[col].astype("boolean"), right[col].astype("boolean")
        elif pd.api.types.is_integer_dtype(source):
            left[col], right[col] = left[col].astype("Int64"), right[col].astype("Int64")
    return pd.concat([left, right], ignore_index=True)


def _warn_optimum(optimum: pd.DataFrame) -> None:
    complete = (optimum["status"] == "complete").to_numpy()
    for _, row in optimum[~complete].iterrows():
        _warn(f"no offline optimum for trace {row['trace']}: status {row['status']}")
    loose = optimum[complete & ~optimum["exact"].to_numpy(dtype=bool)]
    if len(loose):
        names = ", ".join(loose["trace"].astype(str).head(5)) + (", ..." if len(loose) > 5 else "")
        _warn(
            f"the offline optimum is not exact on {len(loose)} of {len(optimum)} traces ({names}): its qoe there is "
            "only an upper bound, which no rung sequence may reach; the true optimum lies between lower_bound and qoe "
            "(cause: merged fronts, differing per-period latencies or a download past max_download_s; docs/optimum.md)"
        )


def cmd_simulate(args: argparse.Namespace) -> int:
    profile = _profile_with(get_profile(args.profile), args.set)
    if args.optimum and not isinstance(profile, Profile):
        # Checked before any session runs: the event player may delay requests and abandon
        # downloads, which the optimum's model (and its proof of the bound) leaves out.
        raise CLIError(
            f"--optimum is defined for the chunk-model profiles ({', '.join(PROFILES)}), not for --profile "
            f"{args.profile} (an event-model profile); see docs/optimum.md"
        )
    model = _resolve_qoe(args, profile)
    controllers = _resolve_controllers(args.controller)
    video = _load_video(args)
    if args.video_length_s is not None:
        video = video.looped(args.video_length_s)
    traces = load_traces(args.traces, args.trace_format)
    # an event-model profile (sabre, event) gives an EventBatchResult: same reading interface
    batch: Any = run_batch(traces, [video], controllers, profile, model, n_workers=args.workers, progress=args.progress)
    sessions = batch.sessions()

    for j in np.flatnonzero(sessions["status"].to_numpy() != "complete"):
        row = sessions.iloc[int(j)]
        _warn(
            f"session did not finish: trace {row['trace']}, controller {row['controller']}, status {row['status']}, "
            f"{int(row['chunks'])} of {int(batch.n_chunks[j])} chunks played"
        )

    summary = batch.summary(sessions)
    if args.optimum:
        from .optimum import offline_optimum_many

        # the check above made sure the profile (with any --set changes) is a chunk-model one
        optimum = offline_optimum_many(traces, video, profile, model, n_workers=args.workers, progress=args.progress)
        _warn_optimum(optimum)
        played_s = optimum["chunks"].to_numpy(dtype=np.float64) * video.chunk_s
        summary = pd.concat([summary, summary_table(optimum, ["optimum"], played_s)], ignore_index=True)
        sessions = _with_optimum(sessions, optimum)

    # The optimum's rows stay out of the log: offline_optimum_many returns totals only.
    if args.log is not None:
        _write_text(_to_csv(batch.chunks()), args.log, sys.stdout)

    if args.format == "table":
        text = _context_line(batch, traces) + "\n" + _format_table(summary, _SUMMARY_LABELS)
    elif args.summary:
        text = _render(summary, args.format)
    else:
        text = _render(sessions, args.format)
    _write_text(text, args.out, sys.stdout)
    return 0


# ==============================================================================================
# abrkit predict
# ==============================================================================================


def _predictors_help() -> str:
    lines = ["predictors (--predictor NAME or NAME:param=value,...; parameters and defaults in brackets):"]
    for name in sorted(PREDICTORS):
        factory = PREDICTORS[name]
        params = _factory_params(factory)
        text = _first_sentence(factory) + (f" [{params}]" if params else "")
        lines.append(_entry(name, text, name_width=12))
    return "\n".join(lines)


def cmd_predict(args: argparse.Namespace) -> int:
    from .evaluate import DEFAULT_EVAL_VIDEO, evaluate_predictors

    traces = load_traces(args.traces, args.trace_format)
    video = DEFAULT_EVAL_VIDEO if args.video is None else _load_video(args)
    predictors = [get_predictor(p) for p in (args.predictor or sorted(PREDICTORS))]
    by = ["predictor", "trace"] if args.per_trace else ["predictor"]
    table = evaluate_predictors(
        traces, predictors, video, get_controller(args.controller), args.profile, by=by,
        n_workers=args.workers, progress=args.progress,
    )
    if args.format == "table":
        text = (
            f"one-step prediction errors e = (predicted - actual) / actual; {len(traces)} traces, video "
            f"{video.name}, controller {get_controller(args.controller).name}, profile {args.profile}\n\n"
            + _format_table(table)
        )
    else:
        text = _render(table, args.format)
    _write_text(text, args.out, sys.stdout)
    return 0


# ==============================================================================================
# abrkit traces ...
# ==============================================================================================


def _synthetic() -> Any:
    from .traces import synthetic

    return synthetic


def _stats_module() -> Any:
    from .traces import stats

    return stats


def cmd_traces_stats(args: argparse.Namespace) -> int:
    traces = load_traces(args.paths, args.trace_format)
    df = _stats_module().stats_frame(traces)
    _write_text(_render(df, args.format), args.out, sys.stdout)
    return 0


_KNOWN_SUFFIXES = {f.extension for f in FORMATS.values() if f.extension} | {".txt", ".dat"}


def _trace_file_name(stem_source: str, to: str) -> str:
    """File name for a trace written in format ``to``: the source name, extension adjusted."""
    ext = FORMATS[to].extension
    p = Path(stem_source)
    stem = p.stem if p.suffix.lower() in _KNOWN_SUFFIXES else p.name
    return stem + ext


def _check_writable(to: str) -> None:
    if to not in FORMATS:
        raise CLIError(f"unknown trace format {to!r}; known: {', '.join(sorted(FORMATS))}")
    if getattr(FORMATS[to], "write", None) is None:
        writable = sorted(n for n, f in FORMATS.items() if getattr(f, "write", None) is not None)
        raise CLIError(f"trace format {to!r} can be read but not written; writable formats: {', '.join(writable)}")


def cmd_traces_convert(args: argparse.Namespace) -> int:
    _check_writable(args.to)
    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise CLIError(f"{src}: no such file or directory")
    if src.is_dir():
        files = sorted(c for c in src.iterdir() if c.is_file() and not c.name.startswith("."))
        if not files:
            raise CLIError(f"{src}: directory holds no trace files")
        if dst.exists() and not dst.is_dir():
            raise CLIError(f"{dst}: exists and is not a directory (converting directory {src} needs a directory)")
        targets: dict[str, Path] = {}
        for f in files:
            name = _trace_file_name(f.name, args.to)
            if name in targets:
                raise CLIError(f"{f} and {targets[name]} would both be written to {dst / name}")
            targets[name] = f
        if dst.resolve() == src.resolve():
            raise CLIError(f"{dst}: output directory is the input directory; choose another one")
        traces = [read_trace(f, args.trace_format) for f in files]  # read all before writing any
        try:
            dst.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"cannot create directory {dst}: {exc.strerror or exc}") from None
        for name, trace in zip(targets, traces):
            _write_trace(trace, dst / name, args.to)
        print(f"converted {len(traces)} trace{'s' if len(traces) != 1 else ''} to {args.to} in {dst}", file=sys.stderr)
        return 0
    trace = read_trace(src, args.trace_format)
    out = dst / _trace_file_name(src.name, args.to) if dst.is_dir() else dst
    if out.exists() and out.resolve() == src.resolve():
        raise CLIError(f"{out}: output is the input file; choose another name")
    _write_trace(trace, out, args.to)
    return 0


def _write_trace(trace: Trace, path: Path, fmt: str) -> None:
    try:
        write_trace(trace, path, fmt)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_traces_generate(args: argparse.Namespace) -> int:
    synthetic = _synthetic()
    _check_writable(args.to)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out}: exists and is not a directory")
    # Trace i uses seed + i and keeps the generator's name ("<preset>-<seed>"), so any one
    # file can be regenerated on its own.
    traces = [
        synthetic.preset_trace(args.preset, duration_s=args.duration_s, seed=args.seed + i) for i in range(args.count)
    ]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create directory {out}: {exc.strerror or exc}") from None
    for trace in traces:
        _write_trace(trace, out / _trace_file_name(trace.name, args.to), args.to)
    print(f"wrote {len(traces)} {args.preset} trace{'s' if len(traces) != 1 else ''} ({args.to}) to {out}", file=sys.stderr)
    return 0


def cmd_traces_formats(args: argparse.Namespace) -> int:
    rows = [
        {
            "format": name,
            "auto_detected": FORMATS[name].sniff is not None,
            "writable": getattr(FORMATS[name], "write", None) is not None,
            "description": FORMATS[name].description,
        }
        for name in sorted(FORMATS)
    ]
    df = pd.DataFrame(rows, columns=["format", "auto_detected", "writable", "description"])
    labels = {"auto_detected": "auto-detected"}
    _write_text(_render(df, args.format, labels), None, sys.stdout)
    return 0


# ==============================================================================================
# the parser
# ==============================================================================================


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=_HELP_WIDTH)


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


def _presets_help() -> str:
    try:
        presets = _synthetic().PRESETS
    except ImportError:  # pragma: no cover - the generators ship with abrkit
        return "presets: (synthetic trace generators unavailable)"
    lines = ["presets (--preset; parameters in abrkit.traces.synthetic.PRESETS):"]
    for name in sorted(presets):
        lines.append(_entry(name, _preset_description(presets[name])))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Adaptive-bitrate streaming toolkit: simulate ABR controllers over network traces,\n"
        "score throughput predictors, and inspect, convert and generate traces.",
        formatter_class=_HelpFormatter,
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # -- simulate ---------------------------------------------------------------------------
    sim = sub.add_parser(
        "simulate",
        help="simulate controllers over traces and compare them",
        description="Simulate every (trace, controller) session of one video and compare the controllers.",
        formatter_class=_HelpFormatter,
        epilog="\n\n".join([_controllers_help(), _profiles_help(), _qoes_help(), _formats_help()])
        + "\n\nexample:\n  "
        + f"{PROG} simulate --profile pensieve --traces traces/norway-hsdpa-test --video videos/envivio \\\n"
        "      --bitrates-kbps 300,750,1200,1850,2850,4300 --controller bb rate:safety=0.8 --log chunks.csv",
    )
    g = sim.add_argument_group("inputs")
    g.add_argument("--traces", nargs="+", required=True, metavar="PATH",
                   help="trace files and/or directories of trace files (read in sorted order)")
    g.add_argument("--trace-format", choices=sorted(FORMATS), metavar="NAME", default=None,
                   help="format of every trace file (default: detect from the content)")
    g.add_argument("--video", required=True, metavar="PATH",
                   help="abrkit video JSON, Sabre movie JSON, or a Pensieve directory of video_size_N files")
    g.add_argument("--bitrates-kbps", type=_kbps_list, metavar="KBPS,...", default=None,
                   help="the ladder, e.g. 300,750,1200 (needed for Pensieve directories; checked against JSON videos)")
    g.add_argument("--chunk-s", type=_positive_float, metavar="S", default=None,
                   help="chunk duration of a Pensieve directory (default 4)")
    g = sim.add_argument_group("model")
    g.add_argument("--controller", action="extend", nargs="+", metavar="SPEC", default=None,
                   help="controllers to compare, e.g. 'bb bba0 rate:safety=0.8,predictor=dashjs'; repeatable (default: "
                        "bb). A Python controller (docs/custom-controllers.md): FILE.py:ClassName, or FILE.py when it "
                        "defines one class with decide()")
    g.add_argument("--profile", default="default", choices=[*PROFILES, *EVENT_PROFILES], metavar="NAME",
                   help=f"player and network model: {', '.join([*PROFILES, *EVENT_PROFILES])} (default: default)")
    g.add_argument("--set", action="append", metavar="FIELD=VALUE", default=None,
                   help="change a field of the profile, repeatable: e.g. --set buffer_cap_s=60 (Sabre's -b 60), "
                        "--set replacement=left (-r left), --set network_multiplier=0.5 (-nm 0.5); "
                        "docs/simulator.md and docs/controllers.md list the fields")
    g.add_argument("--video-length-s", type=_positive_float, metavar="S", default=None,
                   help="loop (or cut) the video to this length, as Sabre's -ml does")
    g.add_argument("--qoe", default=None, choices=list(QOE_MODELS), metavar="NAME",
                   help=f"QoE model: {', '.join(QOE_MODELS)} (default: the profile's)")
    g.add_argument("--optimum", action="store_true",
                   help="also add, as controller 'optimum', each trace's offline optimum: the best QoE any rung "
                   "sequence reaches knowing the trace, an upper bound on every controller (columns exact, "
                   f"exact_with_cap, lower_bound; not in --log; profiles {', '.join(PROFILES)} only; docs/optimum.md)")
    first = g.add_mutually_exclusive_group()
    first.add_argument("--skip-first-chunk", dest="include_first_chunk", action="store_false", default=None,
                       help="leave chunk 0 out of session QoE totals")
    first.add_argument("--include-first-chunk", dest="include_first_chunk", action="store_true", default=None,
                       help="count chunk 0 in session QoE totals (default: as the profile does)")
    g = sim.add_argument_group("output")
    g.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table: one row per controller; csv/json: one record per session (default: table)")
    g.add_argument("--summary", action="store_true",
                   help="with csv/json, print the per-controller comparison instead of the sessions")
    g.add_argument("--log", metavar="FILE", default=None, help="write the per-chunk log of every session as CSV")
    g.add_argument("--out", metavar="FILE", default=None, help="write the main output to FILE instead of stdout")
    g.add_argument("--workers", type=_positive_int, metavar="N", default=None,
                   help="worker threads (default: CPU count, at most 8); results do not depend on it")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: for large batches on a terminal)")
    sim.set_defaults(func=cmd_simulate)

    # -- predict ------------------------------------------------------------------------------
    pr = sub.add_parser(
        "predict",
        help="score throughput predictors on traces",
        description="Stream a video over each trace and score every predictor's one-step throughput\n"
        "predictions (the predictors only watch; a controller makes the decisions).",
        formatter_class=_HelpFormatter,
        epilog=_predictors_help() + "\n\nexample:\n  "
        + f"{PROG} predict --traces traces/norway-hsdpa-test --predictor harmonic dashjs kalman:quantile=0.1 --format csv",
    )
    g = pr.add_argument_group("inputs")
    g.add_argument("--traces", nargs="+", required=True, metavar="PATH", help="trace files and/or directories")
    g.add_argument("--trace-format", choices=sorted(FORMATS), metavar="NAME", default=None,
                   help="format of every trace file (default: detect from the content)")
    g.add_argument("--video", metavar="PATH", default=None,
                   help="video whose downloads are replayed (default: Pensieve's ladder, 4 s CBR chunks, 10 min)")
    g.add_argument("--bitrates-kbps", type=_kbps_list, metavar="KBPS,...", default=None,
                   help="the ladder of a Pensieve directory video")
    g.add_argument("--chunk-s", type=_positive_float, metavar="S", default=None,
                   help="chunk duration of a Pensieve directory (default 4)")
    g = pr.add_argument_group("model")
    g.add_argument("--predictor", action="extend", nargs="+", metavar="SPEC", default=None,
                   help="predictors to score (default: all of them)")
    g.add_argument("--controller", default="rate", metavar="SPEC",
                   help="controller that makes the decisions (default: rate)")
    g.add_argument("--profile", default="default", choices=list(PROFILES), metavar="NAME",
                   help=f"player and network model: {', '.join(PROFILES)} (default: default)")
    g = pr.add_argument_group("output")
    g.add_argument("--per-trace", action="store_true", help="one row per predictor and trace")
    g.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    g.add_argument("--out", metavar="FILE", default=None, help="write the output to FILE instead of stdout")
    g.add_argument("--workers", type=_positive_int, metavar="N", default=None, help="worker threads")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar")
    pr.set_defaults(func=cmd_predict)

    # -- traces -------------------------------------------------------------------------------
    tr = sub.add_parser(
        "traces", help="inspect, convert and generate network traces", formatter_class=_HelpFormatter,
        description="Inspect, convert and generate network traces.",
    )
    tsub = tr.add_subparsers(dest="traces_command", metavar="COMMAND", required=True)

    st = tsub.add_parser("stats", help="summary statistics of traces", formatter_class=_HelpFormatter,
                         description="Summary statistics, one row per trace.", epilog=_formats_help())
    st.add_argument("paths", nargs="+", metavar="PATH", help="trace files and/or directories")
    st.add_argument("--trace-format", "--from", dest="trace_format", choices=sorted(FORMATS), metavar="NAME",
                    default=None, help="format of the files (default: detect)")
    st.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    st.add_argument("--out", metavar="FILE", default=None, help="write to FILE instead of stdout")
    st.set_defaults(func=cmd_traces_stats)

    cv = tsub.add_parser(
        "convert", help="convert traces between formats", formatter_class=_HelpFormatter,
        description="Convert a trace file, or every file of a directory (one output file per trace), to another format.",
        epilog=_formats_help(),
    )
    cv.add_argument("input", metavar="IN", help="trace file or directory")
    cv.add_argument("output", metavar="OUT", help="output file (or directory, when IN is one)")
    cv.add_argument("--to", required=True, choices=sorted(FORMATS), metavar="FORMAT", help="output format")
    cv.add_argument("--from", "--trace-format", dest="trace_format", choices=sorted(FORMATS), metavar="FORMAT",
                    default=None, help="input format (default: detect)")
    cv.set_defaults(func=cmd_traces_convert)

    gen = tsub.add_parser(
        "generate", help="generate seeded synthetic traces", formatter_class=_HelpFormatter,
        description="Generate synthetic traces from a preset: trace i uses seed + i, so a seed reproduces the set.",
        epilog=_presets_help() + "\n\n" + _formats_help(),
    )
    gen.add_argument("--preset", required=True, metavar="NAME", help="preset (listed below)")
    gen.add_argument("--count", type=_positive_int, default=1, metavar="N", help="number of traces (default: 1)")
    gen.add_argument("--duration-s", type=_positive_float, default=600.0, metavar="S",
                     help="length of each trace in seconds (default: 600)")
    gen.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the first trace (default: 0)")
    gen.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    gen.add_argument("--to", choices=sorted(FORMATS), default="sabre", metavar="FORMAT",
                     help="file format (default: sabre, which keeps period lengths and latency)")
    gen.set_defaults(func=cmd_traces_generate)

    fm = tsub.add_parser("formats", help="list the trace formats", formatter_class=_HelpFormatter,
                         description="List the trace file formats, and whether each is detected from the content.")
    fm.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    fm.set_defaults(func=cmd_traces_formats)

    # -- ladder (abrkit.cli_ladder) -----------------------------------------------------------
    from .cli_ladder import add_parser as add_ladder_parser

    add_ladder_parser(sub, formatter_class=_HelpFormatter)
    return parser


# ==============================================================================================
# entry point
# ==============================================================================================


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse exits by itself on usage errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except AbrkitError as exc:
        message = str(exc).strip() or type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (e.g. `abrkit ... | head`): stop quietly, as Unix tools do.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 141
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
