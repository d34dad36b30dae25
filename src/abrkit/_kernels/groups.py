"""The named groups of arrays that the batch kernels take (the chunk model's ``session.run_batch``
and the live model's ``live.run_live_batch``), instead of dozens of positional arrays.

Module-level ``typing.NamedTuple`` classes: Numba types an instance as a (named) tuple of its
fields' types, and its on-disk cache records the class by module and name, so a kernel that
takes these groups caches like one that takes the arrays. Kernels read fields by name
(``traces.end_s``); unpacking them costs nothing. Every quantity carries its unit in its name,
as everywhere else.

The batch groups cover every session of a batch (the façade, ``simulation._pack``, builds them
once); the live batch slices one session's groups out of them, and the chunk model's
``run_batch`` reads the same slices into local names (no per-session tuple to build). Arrays
are contiguous float64 (int64 for ids, counts and offsets); a group that describes shadow
predictors is None when there are none, which compiles them out.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# -- a batch ------------------------------------------------------------------------------------


class Jobs(NamedTuple):
    """Session ``j`` runs trace ``trace[j]`` with video ``video[j]`` and controller ``ctrl[j]``
    (int64 arrays of shape (n_jobs,))."""

    trace: np.ndarray
    video: np.ndarray
    ctrl: np.ndarray


class Traces(NamedTuple):
    """Every trace of a batch, concatenated: trace ``t``'s periods are
    ``offsets[t]:offsets[t + 1]`` of ``end_s``, ``bw_bps`` and ``lat_s`` (see ``SessionTrace``)."""

    offsets: np.ndarray  # int64, (n_traces + 1,)
    end_s: np.ndarray
    bw_bps: np.ndarray
    lat_s: np.ndarray
    start_s: np.ndarray  # (n_traces,)
    wrap_s: np.ndarray  # (n_traces,)


class Videos(NamedTuple):
    """Every video of a batch, concatenated.

    Video ``v``'s size table is ``sizes_bytes[offsets[v]:offsets[v + 1]]`` (all its chunks,
    rung-minor, ``n_rungs[v]`` per chunk); its sessions play the first ``n_chunks[v]`` chunks.
    Its ladder is ``ladder_bps[ladder_offsets[v]:ladder_offsets[v + 1]]``. Each chunk's own
    duration is ``durations_s[chunk_offsets[v]:chunk_offsets[v + 1]]`` (one per row of the size
    table; ``chunk_s[v]`` repeated when its chunks are equal), ``chunk_s[v]`` the nominal one.
    """

    offsets: np.ndarray  # int64, (n_videos + 1,)
    sizes_bytes: np.ndarray  # flat
    n_rungs: np.ndarray  # int64, (n_videos,)
    n_chunks: np.ndarray  # int64, (n_videos,)
    chunk_s: np.ndarray  # (n_videos,)
    ladder_offsets: np.ndarray  # int64, (n_videos + 1,)
    ladder_bps: np.ndarray
    chunk_offsets: np.ndarray  # int64, (n_videos + 1,)
    durations_s: np.ndarray  # flat, one per chunk


class Controllers(NamedTuple):
    """Every controller of a batch and its predictor, one row each.

    ``params`` has shape (n, layout.CTRL_PARAMS), ``pred_params`` (n, layout.PRED_PARAMS);
    ``pred_state_sizes[c]`` values of state per session. ``pred_carry`` (shape (n, >= the
    largest state size), zeroed by the caller) holds what a RobustDiscount predictor carries
    from one session to the next under ``PROF_CARRY_ROBUST``; ``run_batch`` writes it.
    ``data`` (float32) holds every controller's own data end to end, controller ``c``'s at
    ``data_offsets[c]:data_offsets[c + 1]`` (int64, (n + 1,)): a learned controller's network
    weights and draws (``pensieve_net``), nothing for the others. The kernels may write a
    controller's data (the sample policy's draw cursor, which runs on from session to session
    in job order).
    """

    ids: np.ndarray  # int64, layout.CTRL_*
    params: np.ndarray
    pred_ids: np.ndarray  # int64, layout.PRED_*
    pred_params: np.ndarray
    pred_state_sizes: np.ndarray  # int64
    pred_carry: np.ndarray
    data: np.ndarray  # float32, flat
    data_offsets: np.ndarray  # int64, (n + 1,)


class Shadows(NamedTuple):
    """Shadow predictors, which only watch, and where their estimates go.

    ``ids``/``params`` as ``Controllers.pred_ids``/``pred_params``; shadow ``i``'s state is
    ``offsets[i]:offsets[i + 1]`` of one zeroed vector per session. ``pred_bps`` (shape
    (n_jobs, n_shadows, >= chunks)) is written: session ``j``'s shadow ``i`` estimate before
    chunk ``k`` at ``pred_bps[j, i, k]``, NaN for chunks not played.
    """

    ids: np.ndarray  # int64
    params: np.ndarray
    offsets: np.ndarray  # int64, (n_shadows + 1,)
    pred_bps: np.ndarray


class Outputs(NamedTuple):
    """What ``run_batch`` writes for session ``j``: ``log[j]`` (shape (>= chunks,
    layout.LOG_COLS), NaN past the chunks played), ``n_done[j]`` (chunks played, int64),
    ``status[j]`` (layout.STATUS_*, int64), ``startup_s[j]``."""

    log: np.ndarray
    n_done: np.ndarray
    status: np.ndarray
    startup_s: np.ndarray


# -- one session (the live batch slices these out of the batch groups) -------------------------


class SessionTrace(NamedTuple):
    """One trace as the profile reads it: period ``i`` ends at ``end_s[i]`` and delivers
    ``bw_bps[i]`` with latency ``lat_s[i]``; the session starts at ``start_s`` on the trace's
    clock, and a finished trace starts over at ``wrap_s``."""

    end_s: np.ndarray
    bw_bps: np.ndarray
    lat_s: np.ndarray
    start_s: float
    wrap_s: float


class SessionVideo(NamedTuple):
    """One video: ``sizes_bytes`` of shape (>= n_chunks, rungs) (planning controllers may look
    past ``n_chunks``), the ladder ``bitrates_bps``, the nominal chunk duration, the chunks to
    play, and ``durations_s`` (one per row of ``sizes_bytes``): each chunk's own duration, what
    the chunk model's buffer gains per chunk (``chunk_s`` repeated for equal chunks)."""

    sizes_bytes: np.ndarray
    bitrates_bps: np.ndarray
    chunk_s: float
    n_chunks: int
    durations_s: np.ndarray


class SessionControl(NamedTuple):
    """One session's controller parameters and predictor: ``pred_id`` (layout.PRED_NONE for a
    controller without one), its parameters and its state (updated in place); ``data`` the
    controller's own data (float32, ``Controllers.data``; empty for most controllers)."""

    params: np.ndarray
    pred_id: int
    pred_params: np.ndarray
    pred_state: np.ndarray
    data: np.ndarray


class SessionShadows(NamedTuple):
    """One session's shadow predictors: ``Shadows`` plus their state (shadow ``i``'s is
    ``state[offsets[i]:offsets[i + 1]]``); ``pred_bps[i, k]`` gets shadow ``i``'s estimate
    before chunk ``k``."""

    ids: np.ndarray
    params: np.ndarray
    offsets: np.ndarray
    state: np.ndarray
    pred_bps: np.ndarray


# -- one session between two chunks (session.play_chunks) ---------------------------------------


class SessionState(NamedTuple):
    """A session between chunks, the state ``session.play_chunks`` starts from and returns: the
    next chunk ``k``, the trace clock (period ``ptr``, ``clock_s``), the session time at which
    the next request may go out, the buffer, the startup delay so far and the last rung (-1
    before the first). Scalars (int64 for ``k``, ``ptr``, ``prev``); the environments store them
    in a ``layout.SS_*`` row between calls."""

    k: int
    ptr: int
    clock_s: float
    session_s: float
    buffer_s: float
    startup_s: float
    prev: int


class ChunkParams(NamedTuple):
    """The profile fields the chunk loop reads (``layout.PROF_*``), read by ``session.chunk_params``
    once per call of ``session.play_chunks``, so the loop does not reload them from the profile
    vector every chunk."""

    rtt_s: float
    rtt_moves: bool
    efficiency: float
    max_download_s: float
    throughput_includes_latency: bool
    buffer_cap_s: float
    wait_quantum_s: float
    first_chunk_rebuffers: bool
