"""One session's result, from either player model: :class:`SimResult`.

It reads a batch through a small interface that both batch types provide (``traces``,
``videos``, ``controllers``, ``profile``, ``qoe``, ``job_*``, ``log`` with the ``layout.LOG_*``
columns in seconds and bytes, ``n_done``, ``status``, ``startup_s``, ``rewards(j)``,
``session_totals(j)`` and ``session_frame(j)``), so ``simulate()`` returns the same class under
every profile.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._kernels import layout as L

__all__ = ["SimResult", "STATUS_NAMES"]

STATUS_NAMES = {L.STATUS_COMPLETE: "complete", L.STATUS_STALLED: "stalled", L.STATUS_NO_BANDWIDTH: "no_bandwidth"}


class SimResult:
    """One session, from either player model: per-chunk arrays (``rung``, ``delay_s``,
    ``buffer_s``, ...; in the event model one entry per segment played) and totals."""

    def __init__(self, batch: Any, j: int) -> None:
        self._batch = batch
        self._j = j
        n = int(batch.n_done[j])
        self.trace = batch.traces[batch.job_trace[j]]
        self.video = batch.videos[batch.job_video[j]]
        self.controller = batch.controllers[batch.job_ctrl[j]]
        self.profile = batch.profile
        self.qoe_model = batch.qoe
        self.status = STATUS_NAMES[int(batch.status[j])]
        self.n_chunks = n
        log = batch.log[j, :n]
        self.rung = log[:, L.LOG_RUNG].astype(np.int64)
        self.size_bytes = log[:, L.LOG_SIZE_BYTES].copy()
        self.latency_s = log[:, L.LOG_LATENCY_S].copy()
        self.delay_s = log[:, L.LOG_DELAY_S].copy()
        self.buffer_s = log[:, L.LOG_BUFFER_S].copy()
        self.rebuffer_s = log[:, L.LOG_REBUFFER_S].copy()
        self.wait_s = log[:, L.LOG_WAIT_S].copy()
        self.throughput_bps = log[:, L.LOG_THROUGHPUT_BPS].copy()
        self.request_s = log[:, L.LOG_REQUEST_S].copy()
        self.bitrate_kbps = self.video.bitrates_bps[self.rung] / 1e3
        self.reward = batch.rewards(j)[:n]
        self.startup_s = float(batch.startup_s[j])
        self.controller_wait_s = log[:, L.LOG_CTRL_WAIT_S].copy()
        self.totals: dict[str, Any] = batch.session_totals(j)

    @property
    def qoe(self) -> float:
        return float(self.totals["qoe"])

    @property
    def stalled(self) -> bool:
        return self.status != "complete"

    def to_frame(self) -> pd.DataFrame:
        """The per-chunk log as a DataFrame (one row per played chunk)."""
        return self._batch.session_frame(self._j)

    def __repr__(self) -> str:
        return (
            f"SimResult(trace={self.trace.name!r}, controller={self.controller.name!r}, status={self.status!r}, "
            f"chunks={self.n_chunks}, qoe={self.qoe:.3f}, rebuffer_s={self.totals['rebuffer_s']:.3f})"
        )
