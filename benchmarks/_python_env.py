"""A plain-Python environment step: the reference the environment benchmarks divide by.

``PythonAbrEnv`` does, in interpreted Python, what one step of ``abrkit.rl.AbrEnv`` does: play
one chunk over the trace (the network steps are the kernels' own functions run as plain Python
through their ``py_func``), update the buffer, wait when it is full, score the chunk with the
QoE model's utility table and build the default observation. It is what a research environment
written in Python (Pensieve's ``sim/env.py`` and its descendants) costs per step.
``tests/test_rl.py`` checks that it logs what ``AbrEnv`` logs, so the ratio compares equal work.

Randomness (trace, start point, delay noise) comes from ``numpy.random.default_rng``; it plays
the same conditions as the compiled environment, not the same draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from abrkit._kernels import layout as L
from abrkit._kernels.network import advance_clock, transfer
from abrkit.rl._sessions import Sessions

_advance = getattr(advance_clock, "py_func", advance_clock)
_transfer = getattr(transfer, "py_func", transfer)


class PythonAbrEnv:
    """``reset()`` -> observation; ``step(rung)`` -> (observation, reward, terminated)."""

    def __init__(self, traces: Any, video: Any, profile: str = "default", seed: int = 0, history: int = 8) -> None:
        s = Sessions(1, traces, video, profile, None, "abrkit", history)  # the same validation and packing
        self.prof = s.profile
        self.qoe = s.qoe
        self.parts = [s.profile.kernel_trace(t) for t in s.traces]  # arrays: the network functions read .size
        self.sizes = np.asarray(video.sizes_bytes).tolist()
        self.ladder = np.asarray(video.bitrates_bps).tolist()
        self.utility = s.data.utility.tolist()
        self.chunk_s = float(video.chunk_s)
        self.n_chunks = s.n_chunks
        self.history = history
        self.rng = np.random.default_rng(seed)
        self.log: list[list[float]] = []

    def reset(self, trace: int | None = None) -> np.ndarray:
        p = self.prof
        self.t = int(self.rng.integers(len(self.parts))) if trace is None else trace
        ends, _, _, start_s, _ = self.parts[self.t]
        self.ptr, self.clock_s = 0, start_s
        if p.random_start:
            self.ptr = int(self.rng.integers(len(ends)))
            self.clock_s = ends[self.ptr - 1] if self.ptr > 0 else start_s
        self.k, self.session_s, self.buffer_s, self.prev = 0, 0.0, 0.0, -1
        self.log = []
        if p.initial_rung is not None:
            self._play(min(p.initial_rung, len(self.ladder) - 1))
        return self._obs()

    def _play(self, rung: int) -> float:
        p = self.prof
        ends, bw, lat, _, wrap_s = self.parts[self.t]
        k = self.k
        size = self.sizes[k][rung]
        lat_s = p.rtt_s if p.rtt_s is not None else lat[self.ptr]
        if p.rtt_advances_clock and lat_s > 0.0:
            self.ptr, self.clock_s = _advance(ends, wrap_s, self.ptr, self.clock_s, lat_s)
        xfer_s, self.ptr, self.clock_s, _ = _transfer(
            ends, bw, wrap_s, self.ptr, self.clock_s, size, p.payload_efficiency, p.max_download_s
        )
        low, high = p.delay_noise
        noise = low + (high - low) * self.rng.random() if high > low else 1.0
        delay_s = (xfer_s + lat_s) * noise
        if k == 0 and not p.first_chunk_rebuffers:
            rebuf_s, buffer_s = 0.0, self.chunk_s
        else:
            rebuf_s = max(delay_s - self.buffer_s, 0.0)
            buffer_s = max(self.buffer_s - delay_s, 0.0) + self.chunk_s
        wait_s = 0.0
        if buffer_s > p.buffer_cap_s:
            drain_s = buffer_s - p.buffer_cap_s
            q = p.wait_quantum_s
            wait_s = math.ceil(drain_s / q) * q if q > 0.0 else drain_s
            buffer_s -= wait_s
            self.ptr, self.clock_s = _advance(ends, wrap_s, self.ptr, self.clock_s, wait_s)
        meas_s = delay_s if p.throughput_includes_latency else xfer_s * noise
        self.log.append([rung, size, lat_s, delay_s, buffer_s, rebuf_s, wait_s, size * 8.0 / meas_s, self.session_s, 0.0])
        u = self.utility[k][rung]
        switch = abs(u - self.utility[k - 1][self.prev]) if k > 0 else 0.0
        reward = u - self.qoe.rebuffer_weight * rebuf_s - self.qoe.switch_weight * switch
        if k == 0 and not self.qoe.include_first_chunk:
            reward = 0.0
        self.session_s += delay_s + wait_s
        self.buffer_s = buffer_s
        self.prev = rung
        self.k = k + 1
        return reward

    def step(self, rung: int) -> tuple[np.ndarray, float, bool]:
        reward = self._play(rung)
        return self._obs(), reward, self.k >= self.n_chunks

    def _obs(self) -> np.ndarray:
        h, k, n = self.history, self.k, self.n_chunks
        top = self.ladder[-1]
        obs = [self.buffer_s / self.prof.buffer_cap_s,
               self.prev / (len(self.ladder) - 1) if self.prev >= 0 and len(self.ladder) > 1 else 0.0,
               (n - k) / n, self.log[-1][L.LOG_REBUFFER_S] / self.chunk_s if k > 0 else 0.0]
        past = [self.log[c] if c >= 0 else None for c in range(k - h, k)]
        obs += [row[L.LOG_THROUGHPUT_BPS] / top if row else 0.0 for row in past]
        obs += [row[L.LOG_DELAY_S] / self.chunk_s if row else 0.0 for row in past]
        obs += [s * 8.0 / self.chunk_s / top for s in self.sizes[k]] if k < n else [0.0] * len(self.ladder)
        return np.array(obs, dtype=np.float32)
