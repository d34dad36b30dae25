"""The encoding half of abrkit: drive ffmpeg, score quality, build per-title ladders.

Internal units as in the rest of abrkit: seconds (``_s``), bytes (``_bytes``); bitrates here
are in kbit/s (``_kbps``, 1 kbit = 1000 bits) because that is how encoders and ladders speak.

Names are re-exported lazily: ``from abrkit.encode import score`` imports only the submodule
that defines ``score``. To export a name, add one line to ``_EXPORTS`` (name -> submodule).
The exception is :func:`probe`, imported eagerly (it is light): the function shares its name
with the submodule ``probe``, and once that submodule is imported the package attribute would
otherwise be the module, not the function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .probe import MediaInfo, probe

_EXPORTS: dict[str, str] = {
    # ffmpeg.py: finding, checking and running ffmpeg
    "FFmpeg": "ffmpeg",
    "find_ffmpeg": "ffmpeg",
    "escape_filter_value": "ffmpeg",
    "file_url": "ffmpeg",
    "temp_run_dir": "ffmpeg",
    # probe.py: media information without ffprobe (imported above)
    "MediaInfo": "probe",
    "probe": "probe",
    # encoder.py: one encode, segment sizes from packets
    "CODECS": "encoder",
    "Codec": "encoder",
    "SCALERS": "encoder",
    "EncodeSettings": "encoder",
    "EncodeResult": "encoder",
    "encode": "encoder",
    "read_packets": "encoder",
    "even_width": "encoder",
    # quality.py: VMAF / PSNR / SSIM in one pass
    "BUILTIN_VMAF_MODELS": "quality",
    "QualitySettings": "quality",
    "QualityResult": "quality",
    "score": "quality",
    "encode_and_score": "quality",
    "pool": "quality",
    # shots.py: scene cuts, shot tables, explicit shot lists
    "scene_scores": "shots",
    "detect_shots": "shots",
    "read_shot_list": "shots",
    "shots_table": "shots",
    # pershot.py: per-shot allocations at a common slope
    "allocation_path": "pershot",
    "allocate": "pershot",
    "per_shot_ladder": "pershot",
    # shotladder.py: the per-shot ladder end to end (search, combination, joined rungs re-scored)
    "optimize_shots": "shotladder",
    "ShotLadderResult": "shotladder",
    "cut_shot": "shotladder",
    "join_shots": "shotladder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # let type checkers and IDEs see the lazy names
    from .encoder import CODECS, SCALERS, Codec, EncodeResult, EncodeSettings, encode, even_width, read_packets
    from .ffmpeg import FFmpeg, escape_filter_value, file_url, find_ffmpeg, temp_run_dir
    from .quality import BUILTIN_VMAF_MODELS, QualityResult, QualitySettings, encode_and_score, pool, score
    from .pershot import allocate, allocation_path, per_shot_ladder
    from .shotladder import ShotLadderResult, cut_shot, join_shots, optimize_shots
    from .shots import detect_shots, read_shot_list, scene_scores, shots_table

# package.py: final renditions, the simulator's Video, HLS and DASH; plot.py: the ladder plot
_EXPORTS.update({
    "Rendition": "package",
    "encode_renditions": "package",
    "renditions_table": "package",
    "video_from_renditions": "package",
    "write_hls": "package",
    "write_dash": "package",
    "read_media_playlist": "package",
    "packaged_segment_sizes": "package",
    "peak_bitrate_bps": "package",
    "dash_bandwidth_bps": "package",
    "codecs_string": "package",
    "plot_ladder": "plot",
})
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .package import (
        Rendition, codecs_string, dash_bandwidth_bps, encode_renditions, packaged_segment_sizes, peak_bitrate_bps,
        read_media_playlist, renditions_table, video_from_renditions, write_dash, write_hls,
    )
    from .plot import plot_ladder

# ladder.py: the per-title optimizer; sampling.py: its fast mode; cache.py: the measurement store
_EXPORTS.update({
    "optimize_ladder": "ladder",
    "LadderResult": "ladder",
    "LadderProgress": "ladder",
    "default_resolutions": "ladder",
    "default_crfs": "ladder",
    "FastSearch": "sampling",
    "MeasurementCache": "cache",
    "CacheWarning": "cache",
    "default_cache_dir": "cache",
    # catalog.py: ladders for many titles, on a cluster
    "optimize_catalog": "catalog",
    "CatalogResult": "catalog",
})
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .cache import CacheWarning, MeasurementCache, default_cache_dir
    from .catalog import CatalogResult, optimize_catalog
    from .ladder import LadderProgress, LadderResult, default_crfs, default_resolutions, optimize_ladder
    from .sampling import FastSearch
