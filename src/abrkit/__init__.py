"""abrkit: adaptive-bitrate streaming and encoding optimization.

Units. Internally abrkit uses seconds (``_s``), bits per second (``_bps``) and bytes
(``_bytes``); every quantity carries its unit in its name. Readers and writers convert from
and to what each file format stores (Mbps, kbps, ms, bits); the CLI and tables show kbps
where people expect them (``bitrate_kbps``).
"""

from .controllers import BBA0, CONTROLLERS, BufferBased, Controller, FixedRung, RateBased, get_controller
from .event import EVENT_PROFILES, EventBatchResult, EventProfile, run_event_batch
from .event_controllers import Bola, BolaE, DashJsDynamic, Dynamic, DynamicDash, ThroughputRule
from .errors import AbrkitError, FFmpegError, ParameterError, ToolNotFoundError, TraceFormatError, VideoFormatError
from .profiles import PROFILES, Profile, get_profile
from .qoe import QOE_MODELS, QoE, get_qoe
from .simulate import BatchResult, SimResult, run_batch, simulate, simulate_many
from .traces import Trace, load_traces, read_trace, write_trace
from .video import Video, read_video

from ._version import __version__

__all__ = [
    "AbrkitError", "ParameterError", "TraceFormatError", "VideoFormatError", "FFmpegError", "ToolNotFoundError",
    "Trace", "load_traces", "read_trace", "write_trace",
    "Video", "read_video",
    "Controller", "BufferBased", "BBA0", "RateBased", "FixedRung", "CONTROLLERS", "get_controller",
    "QoE", "QOE_MODELS", "get_qoe",
    "Profile", "PROFILES", "get_profile",
    "Bola", "BolaE", "ThroughputRule", "Dynamic", "DynamicDash", "DashJsDynamic",
    "EventProfile", "EVENT_PROFILES", "run_event_batch", "EventBatchResult",
    "simulate", "simulate_many", "run_batch", "SimResult", "BatchResult",
    "__version__",
]
