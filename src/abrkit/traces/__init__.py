"""Network traces: the :class:`Trace` type, file formats, synthetic generators, statistics."""

from ._core import Trace
from .formats import FORMATS, detect_format, load_traces, read_trace, write_trace

__all__ = ["Trace", "FORMATS", "detect_format", "load_traces", "read_trace", "write_trace"]
