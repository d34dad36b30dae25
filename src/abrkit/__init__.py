"""abrkit: adaptive-bitrate streaming and encoding optimization.

Units. Internally abrkit uses seconds (``_s``), bits per second (``_bps``) and bytes
(``_bytes``); every quantity carries its unit in its name. Readers and writers convert from
and to what each file format stores (Mbps, kbps, ms, bits); the CLI and tables show kbps
where people expect them (``bitrate_kbps``).
"""

from .controllers import BBA0, BBA1, CONTROLLERS, MPC, BufferBased, Controller, Festive, FixedRung, RateBased, RobustMPC, get_controller
from .custom import BuiltinController, Observation, PythonController
from .event import EVENT_PROFILES, EventBatchResult, EventProfile, run_event_batch
from .event_controllers import Bola, BolaE, DashJs4Dynamic, DashJsDynamic, Dynamic, DynamicDash, FixedQuality, ThroughputRule
from .errors import AbrkitError, FFmpegError, ParameterError, ToolNotFoundError, TraceFormatError, VideoFormatError
from .optimum import OptimumResult, offline_optimum, offline_optimum_many
from .profiles import PROFILES, Profile, get_profile
from .qoe import QOE_MODELS, QoE, get_qoe
from .simulation import BatchResult, SimResult, run_batch, simulate, simulate_many
from .traces import Trace, load_traces, read_trace, write_trace
from .video import Video, read_video

from ._version import __version__

__all__ = [
    "AbrkitError", "ParameterError", "TraceFormatError", "VideoFormatError", "FFmpegError", "ToolNotFoundError",
    "Trace", "load_traces", "read_trace", "write_trace",
    "Video", "read_video",
    "Controller", "BufferBased", "BBA0", "BBA1", "RateBased", "MPC", "RobustMPC", "FixedRung", "Festive", "CONTROLLERS",
    "get_controller",
    "Observation", "PythonController", "BuiltinController",
    "offline_optimum", "offline_optimum_many", "OptimumResult",
    "QoE", "QOE_MODELS", "get_qoe",
    "Profile", "PROFILES", "get_profile",
    "Bola", "BolaE", "ThroughputRule", "Dynamic", "DynamicDash", "DashJsDynamic", "DashJs4Dynamic", "FixedQuality",
    "EventProfile", "EVENT_PROFILES", "run_event_batch", "EventBatchResult",
    "simulate", "simulate_many", "run_batch", "SimResult", "BatchResult",
    "__version__",
]
