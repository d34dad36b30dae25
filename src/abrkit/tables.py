"""Per-controller summaries of session tables, shared by the chunk and event player models."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["summary_table"]


def summary_table(sessions: pd.DataFrame, controller_names: Sequence[str], played_s: np.ndarray) -> pd.DataFrame:
    """One row per controller (in the order given), aggregated over its sessions.

    ``sessions`` needs the columns controller, status, qoe, mean_bitrate_kbps, rebuffer_s and
    switches; ``played_s`` is each session's played media time (same order). Columns: controller,
    sessions, mean_qoe, mean_bitrate_kbps, mean_rebuffer_s, rebuffer_ratio (rebuffering over
    rebuffering plus played media), mean_switches, stalled_sessions.
    """
    stalled = (sessions["status"] != "complete").to_numpy()
    rows = []
    for name in controller_names:
        mask = (sessions["controller"] == name).to_numpy()
        g = sessions[mask]
        rebuf = float(g["rebuffer_s"].sum())
        total = rebuf + float(played_s[mask].sum())
        rows.append({
            "controller": name,
            "sessions": int(mask.sum()),
            "mean_qoe": float(g["qoe"].mean()),
            "mean_bitrate_kbps": float(g["mean_bitrate_kbps"].mean()),
            "mean_rebuffer_s": float(g["rebuffer_s"].mean()),
            "rebuffer_ratio": rebuf / total if total > 0 else float("nan"),
            "mean_switches": float(g["switches"].mean()),
            "stalled_sessions": int(stalled[mask].sum()),
        })
    return pd.DataFrame(rows)
