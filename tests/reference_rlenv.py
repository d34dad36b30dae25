"""References and coverage of the chunk step and the reinforcement-learning kernels.

``session.play_chunks`` is ``session.run_batch``'s loop (``chunk_params`` its set-up): ``tests/reference.py``'s
independent whole-session reference checks it through it. ``rlenv.next_uniform`` has its own
reference below (SplitMix64 on Python integers). The environment kernel (``rlenv.env_step`` and
its helpers) is checked against the simulator itself in ``tests/test_rl.py``: environments
driven with the rungs simulated sessions chose log the same rows bit for bit, and their rewards
and observations are recomputed from those rows in Python; they are listed as covered by
``session.run_batch``, whose reference vouches for the simulator they are compared with.
"""

from __future__ import annotations

import numpy as np

_MASK = (1 << 64) - 1


def splitmix64(state: int) -> tuple[int, int]:
    """(new state, output) of one SplitMix64 step (Steele, Lea and Flood, 2014), on Python ints."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


def next_uniform(rng, i):
    """Reference of ``rlenv.next_uniform``: the output's top 53 bits / 2**53."""
    state, z = splitmix64(int(rng[i]))
    rng[i] = np.uint64(state)
    return (z >> 11) / float(1 << 53)


def _args_next_uniform(rng):
    n = int(rng.integers(1, 5))
    states = rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True)
    if rng.random() < 0.2:
        states[0] = np.uint64(0)
    return states, int(rng.integers(0, n))


REFERENCES = {"rlenv.next_uniform": next_uniform}
KERNEL_INPUTS = {"rlenv.next_uniform": (_args_next_uniform, 300)}
COVERED_BY: dict[str, str] = {
    "session.play_chunks": "session.run_batch",
    "session.chunk_params": "session.run_batch",
    "rlenv.env_step": "session.run_batch",
    "rlenv.begin_episode": "session.run_batch",
    "rlenv.write_obs": "session.run_batch",
}
