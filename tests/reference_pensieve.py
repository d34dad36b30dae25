"""Plain-Python references of Pensieve's kernels (``_kernels/pensieve_obs.py``,
``_kernels/pensieve_net.py``), registered for ``tests/test_simulate.py``'s kernel-versus-
reference check.

The state update is ``rl_no_training.py``'s lines (``np.roll`` and all). The decision does in
NumPy float32 what the kernel does in float32, element for element and in the same order (rows
added one after the other from the bias, zero inputs skipped, exp in double rounded to float32,
a sequential sum), so the two agree to the bit; the layout constants (offsets into the flat
network) are the kernel module's, as the packed arrays are shared.
"""

from __future__ import annotations

import math

import numpy as np

from abrkit._kernels import pensieve_net as N

_F0 = np.float32(0.0)


def pensieve_state_push(state, bitrate_ratio, buffer_s, size_bytes, delay_s, next_sizes_bytes, chunks_left, chunks_cap):
    state[:] = np.roll(state, -1, axis=1)
    delay_ms = delay_s * 1000.0
    state[0, -1] = bitrate_ratio
    state[1, -1] = buffer_s / 10.0
    state[2, -1] = float(size_bytes) / float(delay_ms) / 1000.0
    state[3, -1] = float(delay_ms) / 1000.0 / 10.0
    n = len(next_sizes_bytes)
    state[4, :n] = np.asarray(next_sizes_bytes, dtype=np.float64) / 1000.0 / 1000.0
    state[5, -1] = np.minimum(float(chunks_left), float(chunks_cap)) / float(chunks_cap)


def _layer(net, w_off, b_off, x, n_out):
    acc = net[b_off : b_off + n_out].copy()
    for i, xi in enumerate(x):
        if xi != _F0:
            acc = acc + np.float32(xi) * net[w_off + i * n_out : w_off + (i + 1) * n_out]
    return acc


def _relu(v):
    return np.where(v < _F0, _F0, v).astype(np.float32)


def forward(net, state):
    """Action probabilities (float32, (6,)) of the flat network ``net`` for ``state`` (6 x 8)."""
    s = state.astype(np.float32)
    h = N.HIDDEN
    merge = np.concatenate([
        _relu(_layer(net, N.NET_FC0_W, N.NET_FC0_B, s[0, -1:], h)),
        _relu(_layer(net, N.NET_FC1_W, N.NET_FC1_B, s[1, -1:], h)),
        _relu(_layer(net, N.NET_CONV2_W, N.NET_CONV2_B, s[2, :], h)),
        _relu(_layer(net, N.NET_CONV3_W, N.NET_CONV3_B, s[3, :], h)),
        _relu(_layer(net, N.NET_CONV4_W, N.NET_CONV4_B, s[4, : N.N_ACTIONS], h)),
        _relu(_layer(net, N.NET_FC5_W, N.NET_FC5_B, s[4, -1:], h)),  # row 4, as the original
    ])
    hidden = _relu(_layer(net, N.NET_DENSE_W, N.NET_DENSE_B, merge, h))
    logits = _layer(net, N.NET_OUT_W, N.NET_OUT_B, hidden, N.N_ACTIONS)
    top = max(logits)
    e = np.array([np.float32(math.exp(float(v - top))) for v in logits], dtype=np.float32)
    total = _F0
    for v in e:
        total = np.float32(total + v)
    return e * (np.float32(1.0) / total)


def _next_draw(cdata):
    cursor = int(cdata[N.DRAW_CURSOR_HI]) * N.CURSOR_SPLIT + int(cdata[N.DRAW_CURSOR_LO])
    u = float(cdata[N.DRAWS + cursor]) / 1000.0
    cursor += 1
    cdata[N.DRAW_CURSOR_HI] = cursor // N.CURSOR_SPLIT
    cdata[N.DRAW_CURSOR_LO] = cursor % N.CURSOR_SPLIT
    return u


def pensieve_start(cparams, cstate, cdata):
    if int(cparams[N.P_POLICY]) == N.POLICY_SAMPLE and (cdata[N.DRAW_CURSOR_HI] != 0 or cdata[N.DRAW_CURSOR_LO] != 0):
        _next_draw(cdata)


def pensieve_choose(cparams, cstate, cdata, k, n_chunks, buffer_s, prev_rung, bitrates_bps, sizes_bytes):
    state = cstate[: 6 * 8].reshape(6, 8)  # a view: the history is updated in place
    if prev_rung >= 0:
        pensieve_state_push(state, bitrates_bps[prev_rung] / max(bitrates_bps), buffer_s, cstate[N.ST_LAST_SIZE_BYTES],
                            cstate[N.ST_LAST_DELAY_S], sizes_bytes[k], n_chunks - k, cparams[N.P_CHUNKS_CAP])
    probs = forward(cdata[: N.N_NET], state)
    if int(cparams[N.P_POLICY]) == N.POLICY_SAMPLE:
        u = np.float32(_next_draw(cdata))
        cumulative = np.cumsum(probs)  # float32, as the original's np.cumsum of the network's output
        hits = cumulative > u
        return int(hits.argmax())
    return int(np.argmax(probs))


# -- random inputs ---------------------------------------------------------------------------------


def _args_push(rng):
    state = rng.random((6, 8)) * 3.0
    n_rungs = int(rng.integers(1, 9))
    return (state, float(rng.random()), float(rng.uniform(0, 60)), float(rng.integers(1000, 5_000_000)),
            float(rng.uniform(0.01, 20.0)), rng.uniform(1e4, 5e6, n_rungs), int(rng.integers(0, 100)), 48.0)


def _random_net(rng):
    net = (rng.standard_normal(N.N_NET) * 0.08).astype(np.float32)
    net[N.NET_OUT_W : N.NET_OUT_B] *= 20.0  # confident and unsure outputs both occur
    return net


def _cdata(rng, policy):
    net = _random_net(rng)
    if policy == N.POLICY_GREEDY:
        return net
    cursor = int(rng.integers(0, 3))
    draws = rng.integers(1, 1000, 50).astype(np.float32)
    return np.concatenate([net, np.array([0, cursor], dtype=np.float32), draws])


def _args_start(rng):
    policy = int(rng.integers(0, 2))
    cparams = np.zeros(32)
    cparams[N.P_POLICY] = policy
    cparams[N.P_CHUNKS_CAP] = 48.0
    return cparams, np.zeros(82), _cdata(rng, policy)


def _args_choose(rng):
    policy = int(rng.integers(0, 2))
    cparams = np.zeros(32)
    cparams[N.P_POLICY] = policy
    cparams[N.P_CHUNKS_CAP] = 48.0
    cstate = np.zeros(82)
    if rng.random() < 0.7:
        cstate[:48] = rng.random(48) * np.repeat([1.0, 3.0, 2.0, 1.0, 2.5, 1.0], 8)
    cstate[N.ST_LAST_SIZE_BYTES] = float(rng.integers(50_000, 3_000_000))
    cstate[N.ST_LAST_DELAY_S] = float(rng.uniform(0.1, 10.0))
    ladder = np.sort(rng.uniform(2e5, 5e6, 6))
    n_chunks = int(rng.integers(2, 60))
    k = int(rng.integers(0, n_chunks))
    sizes = np.outer(rng.uniform(0.5, 1.5, n_chunks + 1), ladder * 0.5)
    prev = int(rng.integers(-1, 6)) if k > 0 else -1
    return cparams, cstate, _cdata(rng, policy), k, n_chunks, float(rng.uniform(0, 60)), prev, ladder, sizes


#: Kernel (``"module.function"`` under ``abrkit._kernels``) -> reference with the same signature.
REFERENCES = {
    "pensieve_obs.pensieve_state_push": pensieve_state_push,
    "pensieve_net.pensieve_start": pensieve_start,
    "pensieve_net.pensieve_choose": pensieve_choose,
}

#: Kernel name -> (random-argument maker, number of random cases).
KERNEL_INPUTS = {
    "pensieve_obs.pensieve_state_push": (_args_push, 300),
    "pensieve_net.pensieve_start": (_args_start, 50),
    "pensieve_net.pensieve_choose": (_args_choose, 150),
}

#: Helpers checked through the kernel that calls them (the forward pass also against the
#: full-convolution NumPy pass in tests/test_pensieve_agent.py).
COVERED_BY = {
    "pensieve_net._dense_rows": "pensieve_net.pensieve_choose",
    "pensieve_net.pensieve_forward": "pensieve_net.pensieve_choose",
    "pensieve_net.next_draw": "pensieve_net.pensieve_choose",
    "pensieve_net.pick": "pensieve_net.pensieve_choose",
}
