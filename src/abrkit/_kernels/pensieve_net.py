"""Pensieve's actor network (``test/a3c.py``) as a compiled float32 forward pass, and the
controller built on it.

The network, on the 6 x 8 history of ``pensieve_obs`` (row r, column c; column 7 newest):

* three dense branches of 128 on one value each: row 0's last, row 1's last and row 4's last
  (the original's sixth branch reads row 4, not row 5, whose values the network never sees);
* three "conv_1d" branches of 128 filters of width 4 on row 2, row 3 and row 4's first 6
  values. tflearn feeds each as a sequence of length 1 with 8 (6) channels, so with SAME
  padding TensorFlow pads one step before and two after (total ``width - 1 = 3``, the smaller
  half first): of the 4 taps, only tap 1 meets the data, and each branch is a dense layer of
  the channels through that tap's (channels x 128) matrix;
* ReLU on each branch, the 6 x 128 concatenated (in that order: row 0, row 1, row 2, row 3,
  row 4's sizes, row 4's last), a dense layer of 128 with ReLU, a dense layer of 6, softmax.

Weights live in one flat float32 vector (``N_NET`` values, ``NET_*`` offsets). Every matrix is
stored input-major, ``W[i, o]`` at ``i * n_out + o`` (TensorFlow's own layout), so the forward
pass is a sum of ``x[i] * W[i, :]`` rows: the inner loop runs over contiguous outputs with no
reduction across iterations, which LLVM vectorises without fast-math (a dot-product form
would need reassociation to vectorise and would change the rounding). Inputs that ReLU made
zero are skipped: adding ``0 * w`` changes nothing.

The controller's data (``contract``'s ``cdata``) is the network, then, for the ``sample``
policy, the draw cursor (two float32 values, ``hi * 2**22 + lo``, exact far beyond any batch)
and the draws, the integers 1..999 of ``numpy.random.RandomState(seed).randint(1, 1000)`` in
order. Parameters (``cparams``): ``P_POLICY`` (0 greedy, 1 sample), ``P_CHUNKS_CAP``.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit
from .pensieve_obs import S_INFO, S_LEN, pensieve_state_push

HIDDEN = 128
N_ACTIONS = 6
CONV_TAP = 1  # the one filter tap SAME padding lines up with a length-1 input (see above)
N_MERGE = 6 * HIDDEN

# offsets into the flat network vector: each dense branch W (1 x 128) then b (128)
NET_FC0_W = 0
NET_FC0_B = NET_FC0_W + HIDDEN
NET_FC1_W = NET_FC0_B + HIDDEN
NET_FC1_B = NET_FC1_W + HIDDEN
NET_CONV2_W = NET_FC1_B + HIDDEN  # (8, 128): tap CONV_TAP of the row-2 filters
NET_CONV2_B = NET_CONV2_W + S_LEN * HIDDEN
NET_CONV3_W = NET_CONV2_B + HIDDEN  # (8, 128), row 3
NET_CONV3_B = NET_CONV3_W + S_LEN * HIDDEN
NET_CONV4_W = NET_CONV3_B + HIDDEN  # (6, 128), row 4's first 6 values
NET_CONV4_B = NET_CONV4_W + N_ACTIONS * HIDDEN
NET_FC5_W = NET_CONV4_B + HIDDEN  # row 4's last value
NET_FC5_B = NET_FC5_W + HIDDEN
NET_DENSE_W = NET_FC5_B + HIDDEN  # (768, 128)
NET_DENSE_B = NET_DENSE_W + N_MERGE * HIDDEN
NET_OUT_W = NET_DENSE_B + HIDDEN  # (128, 6)
NET_OUT_B = NET_OUT_W + HIDDEN * N_ACTIONS
N_NET = NET_OUT_B + N_ACTIONS

# the sample policy's draw stream, after the network in cdata
DRAW_CURSOR_HI = N_NET
DRAW_CURSOR_LO = N_NET + 1
DRAWS = N_NET + 2
CURSOR_SPLIT = 1 << 22

# cparams
P_POLICY = 0
P_CHUNKS_CAP = 1
POLICY_GREEDY = 0
POLICY_SAMPLE = 1

# cstate: the history (S_INFO * S_LEN values, row-major), then the last download
ST_HISTORY = 0
ST_LAST_SIZE_BYTES = S_INFO * S_LEN
ST_LAST_DELAY_S = ST_LAST_SIZE_BYTES + 1
ST_SIZE = ST_LAST_DELAY_S + 1

_ZERO = np.float32(0.0)


@njit
def _dense_rows(net, w_off, b_off, x, n_in, out, out_off, nz):
    """out[out_off + o] = relu(b[o] + sum_i x[i] * W[i, o]) for o < HIDDEN, in float32, the
    terms added in the order of ``i`` (``nz``: int64 scratch of >= n_in indices)."""
    acc = out[out_off : out_off + HIDDEN]
    for o in range(HIDDEN):
        acc[o] = net[b_off + o]
    # ReLU leaves many zeros, and 0 * w adds nothing: list the others. Branch-free (write the
    # index, advance only past a nonzero): about half the inputs are zero, in no pattern a
    # branch predictor could learn, and a mispredicted branch per input cost more than the skip
    n = 0
    for i in range(n_in):
        nz[n] = i
        n += np.int64(x[i] != _ZERO)
    # four rows per pass over ``acc``: one load and store of it per four rows, the same
    # additions in the same order as one row at a time
    j = 0
    while j + 4 <= n:
        i0, i1, i2, i3 = nz[j], nz[j + 1], nz[j + 2], nz[j + 3]
        x0, x1, x2, x3 = x[i0], x[i1], x[i2], x[i3]
        r0 = net[w_off + i0 * HIDDEN : w_off + (i0 + 1) * HIDDEN]
        r1 = net[w_off + i1 * HIDDEN : w_off + (i1 + 1) * HIDDEN]
        r2 = net[w_off + i2 * HIDDEN : w_off + (i2 + 1) * HIDDEN]
        r3 = net[w_off + i3 * HIDDEN : w_off + (i3 + 1) * HIDDEN]
        for o in range(HIDDEN):
            acc[o] = (((acc[o] + x0 * r0[o]) + x1 * r1[o]) + x2 * r2[o]) + x3 * r3[o]
        j += 4
    while j < n:
        i0 = nz[j]
        x0 = x[i0]
        r0 = net[w_off + i0 * HIDDEN : w_off + (i0 + 1) * HIDDEN]
        for o in range(HIDDEN):
            acc[o] += x0 * r0[o]
        j += 1
    for o in range(HIDDEN):
        if acc[o] < _ZERO:
            acc[o] = _ZERO


@njit
def pensieve_forward(net, state, probs, scratch):
    """Action probabilities (float32, written to ``probs``, shape (6,)) for the history
    ``state`` (float64, (S_INFO, S_LEN); cast to float32 as TensorFlow's placeholder does).
    ``net``: the flat float32 weights (``N_NET``); ``scratch``: float32, >= N_MERGE + HIDDEN + S_LEN."""
    nz = np.empty(N_MERGE, dtype=np.int64)
    merge = scratch[:N_MERGE]
    hidden = scratch[N_MERGE : N_MERGE + HIDDEN]
    x = scratch[N_MERGE + HIDDEN : N_MERGE + HIDDEN + S_LEN]
    last = S_LEN - 1
    for r, w_off, b_off, slot in ((0, NET_FC0_W, NET_FC0_B, 0), (1, NET_FC1_W, NET_FC1_B, 1), (4, NET_FC5_W, NET_FC5_B, 5)):
        x[0] = np.float32(state[r, last])
        _dense_rows(net, w_off, b_off, x, 1, merge, slot * HIDDEN, nz)
    for r, w_off, b_off, n_in, slot in ((2, NET_CONV2_W, NET_CONV2_B, S_LEN, 2), (3, NET_CONV3_W, NET_CONV3_B, S_LEN, 3),
                                        (4, NET_CONV4_W, NET_CONV4_B, N_ACTIONS, 4)):
        for c in range(n_in):
            x[c] = np.float32(state[r, c])
        _dense_rows(net, w_off, b_off, x, n_in, merge, slot * HIDDEN, nz)
    _dense_rows(net, NET_DENSE_W, NET_DENSE_B, merge, N_MERGE, hidden, 0, nz)
    for a in range(N_ACTIONS):
        probs[a] = net[NET_OUT_B + a]
    for j in range(HIDDEN):
        hj = hidden[j]
        if hj != _ZERO:
            for a in range(N_ACTIONS):
                probs[a] += hj * net[NET_OUT_W + j * N_ACTIONS + a]
    top = probs[0]
    for a in range(1, N_ACTIONS):
        top = max(top, probs[a])
    total = _ZERO
    for a in range(N_ACTIONS):
        # exp in double, rounded once to float32: the same bits from Python's math.exp, so the
        # plain-Python reference can match the kernel exactly
        probs[a] = np.float32(math.exp(float(probs[a] - top)))
        total += probs[a]
    inv = np.float32(1.0) / total
    for a in range(N_ACTIONS):
        probs[a] *= inv


@njit
def next_draw(cdata):
    """The next uniform of the sample policy's stream, ``randint(1, 1000) / 1000`` (cursor advanced)."""
    cursor = np.int64(cdata[DRAW_CURSOR_HI]) * CURSOR_SPLIT + np.int64(cdata[DRAW_CURSOR_LO])
    if DRAWS + cursor >= cdata.size:
        raise ValueError("pensieve: the sample policy ran out of precomputed draws")
    u = float(cdata[DRAWS + cursor]) / 1000.0
    cursor += 1
    cdata[DRAW_CURSOR_HI] = np.float32(cursor // CURSOR_SPLIT)
    cdata[DRAW_CURSOR_LO] = np.float32(cursor % CURSOR_SPLIT)
    return u


@njit
def pick(probs, policy, cdata):
    """The rung for ``probs``: the first most likely (greedy), or the original's sampling,
    the first rung whose float32 cumulative probability exceeds the next draw (in float32)."""
    if policy == POLICY_SAMPLE:
        # the original compares its float32 cumulative sums with the draw as NumPy does, in
        # float32 (a Python float meets a float32 array); in double they could differ when a
        # sum equals the rounded draw
        u = np.float32(next_draw(cdata))
        acc = _ZERO
        for a in range(probs.size):
            acc += probs[a]
            if acc > u:
                return np.int64(a)
        return np.int64(0)  # argmax of all-False, as the original
    best = np.int64(0)
    for a in range(1, probs.size):
        if probs[a] > probs[best]:
            best = np.int64(a)
    return best


@njit
def pensieve_start(cparams, cstate, cdata):
    """A new session: the history starts at zero (the loop zeroed ``cstate``). Between two
    sessions of the sample policy one draw is discarded: the original draws a decision after
    the last chunk of every video and then throws it away."""
    if int(cparams[P_POLICY]) == POLICY_SAMPLE:
        if cdata[DRAW_CURSOR_HI] != _ZERO or cdata[DRAW_CURSOR_LO] != _ZERO:
            next_draw(cdata)


@njit
def pensieve_choose(cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes):
    """Push the last download into the history (after the first one) and ask the network."""
    state = cstate[ST_HISTORY : ST_HISTORY + S_INFO * S_LEN].reshape((S_INFO, S_LEN))
    if prev_rung >= 0:
        top = bitrates_bps[0]
        for r in range(1, bitrates_bps.size):
            top = max(top, bitrates_bps[r])
        pensieve_state_push(
            state, bitrates_bps[prev_rung] / top, buffer_s, cstate[ST_LAST_SIZE_BYTES], cstate[ST_LAST_DELAY_S],
            sizes_bytes[k], n_chunks - k, cparams[P_CHUNKS_CAP],
        )
    probs = np.empty(N_ACTIONS, dtype=np.float32)
    scratch = np.empty(N_MERGE + HIDDEN + S_LEN, dtype=np.float32)
    pensieve_forward(cdata[:N_NET], state, probs, scratch)
    return pick(probs, int(cparams[P_POLICY]), cdata)
