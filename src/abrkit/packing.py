"""Traces, videos and controllers concatenated into the kernels' argument groups.

Every batch driver (the chunk model's ``simulation.run_batch``, the live model's
``live.run_live_batch``) hands its kernel the same three groups of ``_kernels.groups``; they are
built here once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._kernels import groups as G
from .controllers import Controller
from .video import Video

__all__ = ["pack_traces", "pack_videos", "pack_controllers"]


def pack_traces(parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, float, float]]) -> G.Traces:
    """:class:`~abrkit._kernels.groups.Traces` from each trace's ``kernel_trace`` tuple
    (period ends, bandwidths, latencies, start, wrap)."""
    return G.Traces(
        offsets=np.concatenate(([0], np.cumsum([p[0].size for p in parts]))).astype(np.int64),
        end_s=np.ascontiguousarray(np.concatenate([p[0] for p in parts])),
        bw_bps=np.ascontiguousarray(np.concatenate([p[1] for p in parts])),
        lat_s=np.ascontiguousarray(np.concatenate([p[2] for p in parts])),
        start_s=np.array([p[3] for p in parts], dtype=np.float64),
        wrap_s=np.array([p[4] for p in parts], dtype=np.float64),
    )


def pack_videos(videos: Sequence[Video], n_chunks: Sequence[int] | None = None) -> G.Videos:
    """:class:`~abrkit._kernels.groups.Videos`; ``n_chunks``: the chunks each session plays
    (default: every chunk of each video). Every video gets its per-chunk durations
    (``Video.chunk_durations_s``: ``chunk_s`` repeated for equal chunks), so the kernels have one
    code path."""
    played = [v.n_chunks for v in videos] if n_chunks is None else list(n_chunks)
    return G.Videos(
        offsets=np.concatenate(([0], np.cumsum([v.sizes_bytes.size for v in videos]))).astype(np.int64),
        sizes_bytes=np.ascontiguousarray(np.concatenate([v.sizes_bytes.ravel() for v in videos])),
        n_rungs=np.array([v.n_rungs for v in videos], dtype=np.int64),
        n_chunks=np.array(played, dtype=np.int64),
        chunk_s=np.array([v.chunk_s for v in videos], dtype=np.float64),
        ladder_offsets=np.concatenate(([0], np.cumsum([v.n_rungs for v in videos]))).astype(np.int64),
        ladder_bps=np.ascontiguousarray(np.concatenate([v.bitrates_bps for v in videos])),
        chunk_offsets=np.concatenate(([0], np.cumsum([v.n_chunks for v in videos]))).astype(np.int64),
        durations_s=np.ascontiguousarray(np.concatenate([v.chunk_durations_s() for v in videos]), dtype=np.float64),
    )


def pack_controllers(controllers: Sequence[Controller], buffer_s: float, n_draws: int) -> G.Controllers:
    """:class:`~abrkit._kernels.groups.Controllers`: each controller packed for a ``buffer_s``
    buffer, its predictor, and its data with ``n_draws`` draws for a sampling controller."""
    packed_ctrl = [c.pack_for(buffer_s) for c in controllers]
    packed_pred = [c.pack_predictor() for c in controllers]
    state_sizes = np.array([p[2] for p in packed_pred], dtype=np.int64)
    data = [np.ascontiguousarray(c.pack_data(n_draws), dtype=np.float32) for c in controllers]
    return G.Controllers(
        ids=np.array([c[0] for c in packed_ctrl], dtype=np.int64),
        params=np.ascontiguousarray(np.stack([c[1] for c in packed_ctrl])),
        pred_ids=np.array([p[0] for p in packed_pred], dtype=np.int64),
        pred_params=np.ascontiguousarray(np.stack([p[1] for p in packed_pred])),
        pred_state_sizes=state_sizes,
        pred_carry=np.zeros((len(controllers), int(state_sizes.max())), dtype=np.float64),
        data=np.ascontiguousarray(np.concatenate(data), dtype=np.float32),
        data_offsets=np.concatenate(([0], np.cumsum([d.size for d in data]))).astype(np.int64),
    )
