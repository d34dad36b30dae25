"""The reinforcement-learning environments' kernel: N sessions of the chunk model, one chunk each per call.

``env_step`` is the whole of it: for every environment ``i`` it either starts a new episode
(drawing the trace and the start point) or plays one chunk at the rung the agent chose, through
``session.play_chunks``, the very loop ``session.run_batch`` runs, for one chunk. It then scores the
chunk with the QoE model (a utility table made by ``abrkit.qoe`` and the model's weights) and
writes the observation. One compiled call steps all N environments; the single environment
(``abrkit.rl.AbrEnv``) is the case N = 1.

Randomness is explicit state: each environment owns a SplitMix64 generator (one uint64 in
``EnvState.rng``, seeded by the façade), drawn in a fixed order: at an episode's start one
uniform picks the trace (unless the façade fixed it) and, when the profile starts at a random
point, one more picks the trace period; each chunk played draws one uniform for the delay noise
when the profile has any. So an environment's stream never depends on the others.

Controller and predictor: the agent chooses, so ``play_chunks`` runs one chunk with the
fixed-rung controller set to the agent's rung (the profile's initial rung for chunk 0 when it
has one, as in the simulator) and no predictor.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._jit import njit, njit_inline
from .groups import SessionState, Traces
from .layout import (
    CPARAM_ID,
    CTRL_FIXED,
    CTRL_PARAMS,
    LOG_BUFFER_S,
    LOG_DELAY_S,
    LOG_REBUFFER_S,
    LOG_SIZE_BYTES,
    LOG_THROUGHPUT_BPS,
    PRED_GROUP_COMMON,
    PROF_BUFFER_CAP_S,
    PROF_INITIAL_RUNG,
    SS_BUFFER_S,
    SS_CLOCK_S,
    SS_K,
    SS_PREV,
    SS_PTR,
    SS_SESSION_S,
    SS_STARTUP_S,
    STATUS_COMPLETE,
)
from .pensieve_obs import S_INFO, S_LEN, pensieve_state_push
from .session import play_chunks

# -- configuration vector (EnvData.cfg) ----------------------------------------------------------
CFG_CHUNK_S = 0
CFG_N_CHUNKS = 1  # chunks in an episode
CFG_NOISE_LOW_BOUND = 2  # delay noise factor ~ U(low, high); low == high == 1: none
CFG_NOISE_HIGH_BOUND = 3
CFG_RANDOM_START = 4  # 1.0: an episode starts at the beginning of a random trace period
CFG_REBUFFER_WEIGHT = 5
CFG_SWITCH_WEIGHT = 6
CFG_FIRST_CHUNK_REWARD = 7  # 0.0: chunk 0 earns reward 0 (QoE models that skip it in totals)
CFG_OBSERVATION = 8  # OBS_*
CFG_HISTORY = 9  # chunks of history in the default observation
CFG_SIZE = 10

# -- the call's commands (int64 (N, CMD_SIZE)) and each environment's table row (float64 (N, E_SIZE))
CMD_ACTION = 0  # the rung to play
CMD_RESET = 1  # 1: start a new episode now
CMD_TRACE = 2  # the new episode's trace; < 0: drawn
CMD_SIZE = 3
E_TRACE = 0  # the episode's trace
E_DONE = 1  # 1.0: the episode ended (the next call starts a new one)
E_REWARD = 2  # what the last call wrote: the reward,
E_TERMINATED = 3  # 1.0 if the episode ended with it,
E_CHUNK = 4  # the chunk it played (-1: none),
E_STATUS = 5  # and its status (layout.STATUS_*)
E_SIZE = 6

# -- observations ---------------------------------------------------------------------------------
OBS_ABRKIT = 0
OBS_PENSIEVE = 1  # Pensieve's 6 x 8 history (pensieve_obs), flattened row-major into the observation row
#: Row 5's cap in Pensieve's observation (CHUNK_TIL_VIDEO_END_CAP), whatever the video's length.
PENSIEVE_CHUNKS_CAP = 48.0
#: The default observation's layout, for history length H and R rungs (all >= 0):
OBS_BUFFER = 0  # buffer_s / buffer cap
OBS_LAST_RUNG = 1  # last rung / (R - 1); 0 before the first chunk (and for a one-rung ladder)
OBS_CHUNKS_LEFT = 2  # chunks still to play / chunks in an episode
OBS_LAST_REBUFFER = 3  # the last chunk's rebuffering / chunk duration
OBS_HEAD = 4  # then: H throughput samples / top bitrate, H delays / chunk duration (oldest first,
# zeros before the first chunk), and R values: the next chunk's size at each rung as a bitrate
# (size x 8 / chunk duration) / top bitrate (zeros after the last chunk)


def abrkit_obs_size(history: int, n_rungs: int) -> int:
    """Length of the default observation vector."""
    return OBS_HEAD + 2 * history + n_rungs


class EnvData(NamedTuple):
    """What every environment of a vector shares.

    ``traces`` a ``groups.Traces`` (the traces as the profile reads them); ``sizes_bytes`` the
    video's size table (>= n_chunks rows, one column per rung); ``bitrates_bps`` the ladder;
    ``utility`` (n_chunks, rungs) the QoE model's utility of each chunk at each rung; ``prof``
    the packed profile (``layout.PROF_*``); ``cfg`` the ``CFG_*`` vector; ``durations_s`` each
    row's chunk duration (``CFG_CHUNK_S`` repeated: the environments play equal chunks).
    """

    traces: Traces
    sizes_bytes: np.ndarray
    bitrates_bps: np.ndarray
    utility: np.ndarray
    prof: np.ndarray
    cfg: np.ndarray
    durations_s: np.ndarray


class EnvState(NamedTuple):
    """Each environment's state, one row per environment (N of them).

    ``ss`` (N, layout.SS_SIZE) the session between chunks; ``rng`` (N,) uint64 SplitMix64
    states; ``table`` (N, E_SIZE) the episode's trace, whether it ended, and what the last call
    wrote (reward, terminated, chunk, status); ``log`` (N, n_chunks, LOG_COLS) the episode's
    log so far (NaN rows not yet played); ``obs`` (N, observation size) the observation, in the
    observation space's dtype. Few arrays, because each costs unboxing on every call.
    """

    ss: np.ndarray
    rng: np.ndarray
    table: np.ndarray
    log: np.ndarray
    obs: np.ndarray


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit_inline
def next_uniform(rng, i):
    """The next double in [0, 1) of SplitMix64 generator ``rng[i]`` (advanced in place): the
    top 53 bits of Steele, Lea and Flood's SplitMix64 output, times 2**-53."""
    s = rng[i] + _GOLDEN
    rng[i] = s
    z = (s ^ (s >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.float64(z >> _S11) * _TWO_M53


@njit_inline
def begin_episode(i, trace_choice, data, st):
    """Start environment ``i``'s next episode: its trace (``trace_choice``, or a uniform draw
    when < 0), its start point (the trace's start, or with CFG_RANDOM_START the start of a
    uniformly drawn period), an empty buffer and log."""
    cfg = data.cfg
    offsets = data.traces.offsets
    n_traces = offsets.size - 1
    t = trace_choice
    if t < 0:
        t = min(np.int64(next_uniform(st.rng, i) * n_traces), n_traces - 1)
    st.table[i, E_TRACE] = t
    ss = st.ss[i]
    ss[:] = 0.0
    ss[SS_PREV] = -1.0
    ss[SS_CLOCK_S] = data.traces.start_s[t]
    if cfg[CFG_RANDOM_START] != 0.0:
        # (Pensieve's sim/env.py: mahimahi_ptr = randint(1, len), clock at the previous line's
        # time, which under its trace alignment is the start of any of the trace's periods)
        n_periods = offsets[t + 1] - offsets[t]
        p = min(np.int64(next_uniform(st.rng, i) * n_periods), n_periods - 1)
        ss[SS_PTR] = p
        if p > 0:
            ss[SS_CLOCK_S] = data.traces.end_s[offsets[t] + p - 1]
    st.log[i] = np.nan
    st.table[i, E_DONE] = 0.0


@njit_inline
def write_obs(i, data, st, obs):
    """Environment ``i``'s observation into ``obs`` (see ``OBS_*`` and ``CFG_OBSERVATION``)."""
    cfg = data.cfg
    ss = st.ss[i]
    log = st.log[i]
    chunk_s = cfg[CFG_CHUNK_S]
    n_chunks = np.int64(cfg[CFG_N_CHUNKS])
    history = np.int64(cfg[CFG_HISTORY])
    ladder = data.bitrates_bps
    n_rungs = ladder.size
    top_bps = ladder[n_rungs - 1]
    k = np.int64(ss[SS_K])  # chunks played
    prev = ss[SS_PREV]
    obs[OBS_BUFFER] = ss[SS_BUFFER_S] / data.prof[PROF_BUFFER_CAP_S]
    obs[OBS_LAST_RUNG] = prev / (n_rungs - 1) if prev >= 0.0 and n_rungs > 1 else 0.0
    obs[OBS_CHUNKS_LEFT] = (n_chunks - k) / n_chunks
    obs[OBS_LAST_REBUFFER] = log[k - 1, LOG_REBUFFER_S] / chunk_s if k > 0 else 0.0
    for j in range(history):
        c = k - history + j
        thr = OBS_HEAD + j
        dly = OBS_HEAD + history + j
        if c >= 0:
            obs[thr] = log[c, LOG_THROUGHPUT_BPS] / top_bps
            obs[dly] = log[c, LOG_DELAY_S] / chunk_s
        else:
            obs[thr] = 0.0
            obs[dly] = 0.0
    head = OBS_HEAD + 2 * history
    for r in range(n_rungs):
        obs[head + r] = data.sizes_bytes[k, r] * 8.0 / chunk_s / top_bps if k < n_chunks else 0.0


@njit
def env_step(cmd, data, st):
    """One call for N environments (``cmd`` (N, CMD_SIZE)); environment ``i``:

    * starts a new episode when ``cmd[i, CMD_RESET]`` or its last one ended (``E_DONE``: the
      autoreset of the vector environment), on trace ``cmd[i, CMD_TRACE]`` (< 0: drawn). Under
      a profile with an initial rung it then plays chunk 0 at that rung (its log row is kept,
      its reward goes to no action: ``E_REWARD`` is 0 and ``E_CHUNK`` says which chunk was
      played);
    * otherwise plays its next chunk at rung ``cmd[i, CMD_ACTION]`` (0 <= rung < rungs,
      checked by the façade) and scores it: reward = utility - rebuffer weight x rebuffering -
      switch weight x |utility change|, as ``abrkit.qoe.QoE.rewards`` computes it (0 for chunk
      0 when the model skips it; a chunk that stalled earns only minus the rebuffering it caused).

    Then writes the observation ``st.obs[i]``. ``E_TERMINATED``: the episode ended with this
    call (its last chunk played, or a download stalled).

    ``begin_episode``, ``write_obs``, ``next_uniform`` and ``play_chunks`` are inlined (at Numba's
    IR level), each from one call site: one compiled function, no calls per environment.
    """
    cfg = data.cfg
    n_chunks = np.int64(cfg[CFG_N_CHUNKS])
    initial_rung = np.int64(data.prof[PROF_INITIAL_RUNG])
    n_rungs = data.bitrates_bps.size
    noise_lo = cfg[CFG_NOISE_LOW_BOUND]
    noise_span = cfg[CFG_NOISE_HIGH_BOUND] - noise_lo
    rebuffer_weight = cfg[CFG_REBUFFER_WEIGHT]
    switch_weight = cfg[CFG_SWITCH_WEIGHT]
    first_reward = cfg[CFG_FIRST_CHUNK_REWARD] != 0.0
    # the agent's rung goes to the loop as the fixed-rung controller's parameter (contract:
    # CTRL_FIXED plays min(cparams[0], rungs - 1)); its hooks and PRED_NONE read nothing else
    cparams = np.zeros(CTRL_PARAMS)
    cparams[CPARAM_ID] = CTRL_FIXED
    cstate = np.zeros(1)
    cdata = np.zeros(1)
    pred_none = np.int64(-1)
    offsets = data.traces.offsets
    table = st.table
    pensieve = np.int64(cfg[CFG_OBSERVATION]) == OBS_PENSIEVE
    top_bps = data.bitrates_bps.max()
    for i in range(cmd.shape[0]):
        table[i, E_REWARD] = 0.0
        table[i, E_TERMINATED] = 0.0
        table[i, E_CHUNK] = -1.0
        table[i, E_STATUS] = STATUS_COMPLETE
        starting = cmd[i, CMD_RESET] != 0 or table[i, E_DONE] != 0.0
        rung = cmd[i, CMD_ACTION]
        if starting:
            begin_episode(i, cmd[i, CMD_TRACE], data, st)
            if pensieve:
                st.obs[i] = 0.0  # Pensieve starts every video from an all-zero history
            rung = min(initial_rung, n_rungs - 1)
        if rung >= 0:  # (a new episode under a profile without an initial rung plays nothing yet)
            ss = st.ss[i]
            k = np.int64(ss[SS_K])
            prev = np.int64(ss[SS_PREV])
            state = SessionState(k, np.int64(ss[SS_PTR]), ss[SS_CLOCK_S], ss[SS_SESSION_S], ss[SS_BUFFER_S],
                                 ss[SS_STARTUP_S], prev)
            t = np.int64(table[i, E_TRACE])
            t0, t1 = offsets[t], offsets[t + 1]
            noise = 1.0
            if noise_span > 0.0:
                noise = noise_lo + noise_span * next_uniform(st.rng, i)
            log = st.log[i]
            cparams[0] = rung
            state, status = play_chunks(
                state, k + 1, noise, data.traces.end_s[t0:t1], data.traces.bw_bps[t0:t1], data.traces.lat_s[t0:t1],
                data.traces.wrap_s[t], data.sizes_bytes, data.bitrates_bps, data.durations_s, n_chunks, data.prof, CTRL_FIXED,
                cparams, cstate, cdata, PRED_GROUP_COMMON, pred_none, cparams, cstate, log, None,
            )
            ss[SS_K] = state.k
            ss[SS_PTR] = state.ptr
            ss[SS_CLOCK_S] = state.clock_s
            ss[SS_SESSION_S] = state.session_s
            ss[SS_BUFFER_S] = state.buffer_s
            ss[SS_STARTUP_S] = state.startup_s
            ss[SS_PREV] = state.prev
            table[i, E_CHUNK] = k
            table[i, E_STATUS] = status
            u = data.utility[k, rung]
            rebuf_s = log[k, LOG_REBUFFER_S]
            if status != STATUS_COMPLETE:
                reward = -rebuffer_weight * rebuf_s
            elif k > 0:
                reward = u - rebuffer_weight * rebuf_s - switch_weight * abs(u - data.utility[k - 1, prev])
            else:
                reward = u - rebuffer_weight * rebuf_s - switch_weight * 0.0
            if k == 0 and not first_reward:
                reward = 0.0
            ended = status != STATUS_COMPLETE or k + 1 >= n_chunks
            if pensieve and status == STATUS_COMPLETE:
                # after the last chunk Pensieve's environment shows the next video's first sizes
                nxt = k + 1 if k + 1 < n_chunks else 0
                pensieve_state_push(
                    st.obs[i].reshape((S_INFO, S_LEN)), data.bitrates_bps[rung] / top_bps, log[k, LOG_BUFFER_S],
                    log[k, LOG_SIZE_BYTES], log[k, LOG_DELAY_S], data.sizes_bytes[nxt], n_chunks - (k + 1),
                    PENSIEVE_CHUNKS_CAP,
                )
            table[i, E_DONE] = 1.0 if ended else 0.0
            if not starting:
                table[i, E_REWARD] = reward
                table[i, E_TERMINATED] = 1.0 if ended else 0.0
        if not pensieve:
            write_obs(i, data, st, st.obs[i])
