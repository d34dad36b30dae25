"""Network traces: the :class:`Trace` type, file formats, synthetic generators, statistics."""

from ._core import Trace
from .formats import (
    FORMATS,
    TraceFormat,
    TraceSkippedWarning,
    detect_format,
    load_traces,
    read_trace,
    trace_files,
    write_trace,
)
from .stats import stats_frame, trace_stats
from .synthetic import PRESETS, markov_trace, preset_trace

__all__ = [
    "Trace",
    "FORMATS",
    "TraceFormat",
    "TraceSkippedWarning",
    "detect_format",
    "load_traces",
    "trace_files",
    "read_trace",
    "write_trace",
    "markov_trace",
    "PRESETS",
    "preset_trace",
    "trace_stats",
    "stats_frame",
]
