"""The emulated sessions against the simulator, session by session.

The simulator gets what the player got: the same traces (looped the same way), the segment
sizes of the files the player downloaded with the ladder its manifest announces
(:class:`~abrkit.emulate.stream.Stream`), cut to the same length, and the server's added round
trip as the event model's ``latency_s``. By default it runs ``--profile dashjs --controller
dashjs`` (abrkit's model of the dash.js 5.2.1 player and its rules, :mod:`abrkit.dashjs`).

Per session (:func:`compare`): mean bitrate, stalls, startup and downloads of both, their
differences, and the **rung agreement**: the share of segments both played at the same rung
(over the segments both played).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..qoe import QoE
from ..simulation import run_batch
from .session import EmulationResult

__all__ = ["simulate_like", "compare", "compare_summary", "plot_compare", "COMPARE_COLUMNS"]

#: Columns of :func:`compare`, in order.
COMPARE_COLUMNS = (
    "trace", "player", "simulator", "emu_status", "sim_status", "chunks", "rung_agreement",
    "emu_mean_bitrate_kbps", "sim_mean_bitrate_kbps", "bitrate_diff_pct",
    "emu_rebuffer_s", "sim_rebuffer_s", "rebuffer_diff_s", "emu_startup_s", "sim_startup_s", "startup_diff_s",
    "emu_downloads", "sim_downloads", "downloads_diff",
)


def simulate_like(result: EmulationResult, controller: str = "dashjs", profile: Any = "dashjs",
                  qoe: QoE | None = None) -> Any:
    """The simulator's batch for the emulation's traces, video and round trip."""
    from ..profiles import get_profile

    first = result.results[0]
    prof = get_profile(profile)
    if hasattr(prof, "latency_s"):
        prof = prof.replace(latency_s=first.rtt_s)
    traces = [s.trace for s in result.results]
    return run_batch(traces, [first.video], [controller], prof, qoe if qoe is not None else QoE.linear(),
                     n_workers=1, progress=False)


def compare(result: EmulationResult, controller: str = "dashjs", profile: Any = "dashjs") -> pd.DataFrame:
    """One row per emulated session with the simulator's session beside it (:data:`COMPARE_COLUMNS`).

    ``bitrate_diff_pct`` = 100 x (simulated - emulated) / emulated; the other differences are
    simulated minus emulated; ``downloads`` counts every media request (played, replaced and
    abandoned); ``rung_agreement`` is a fraction (0..1).
    """
    batch = simulate_like(result, controller, profile)
    sim_sessions = batch.sessions()
    rows = []
    for j, emu in enumerate(result.results):
        sim = sim_sessions.iloc[j]
        e = emu.totals
        played = emu.chunks[emu.chunks["kind"] == "played"]
        emu_rungs = dict(zip(played["chunk"].astype(int), played["rung"].astype(int)))
        mine = batch.session_frame(j)  # by position: a trace repeated twice stays two sessions
        sim_rungs = dict(zip(mine["chunk"].astype(int), mine["rung"].astype(int)))
        common = sorted(set(emu_rungs) & set(sim_rungs))
        agree = float(np.mean([emu_rungs[k] == sim_rungs[k] for k in common])) if common else float("nan")
        sim_downloads = int(sim["requests"]) if "requests" in sim else int(sim["chunks"])
        emu_rate, sim_rate = float(e["mean_bitrate_kbps"]), float(sim["mean_bitrate_kbps"])
        rows.append({
            "trace": e["trace"], "player": e["controller"], "simulator": f"{getattr(profile, 'name', profile)}:{controller}",
            "emu_status": e["status"], "sim_status": sim["status"], "chunks": len(common), "rung_agreement": agree,
            "emu_mean_bitrate_kbps": emu_rate, "sim_mean_bitrate_kbps": sim_rate,
            "bitrate_diff_pct": 100.0 * (sim_rate - emu_rate) / emu_rate if emu_rate > 0 else float("nan"),
            "emu_rebuffer_s": float(e["rebuffer_s"]), "sim_rebuffer_s": float(sim["rebuffer_s"]),
            "rebuffer_diff_s": float(sim["rebuffer_s"]) - float(e["rebuffer_s"]),
            "emu_startup_s": float(e["startup_s"]), "sim_startup_s": float(sim["startup_s"]),
            "startup_diff_s": float(sim["startup_s"]) - float(e["startup_s"]),
            "emu_downloads": int(e["downloads"]), "sim_downloads": sim_downloads,
            "downloads_diff": sim_downloads - int(e["downloads"]),
        })
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def compare_summary(table: pd.DataFrame) -> dict[str, float]:
    """The comparison in a few numbers: median and range of rung agreement, mean bitrate
    difference (%), sessions whose stalls differ by at most 0.5 s, mean startup difference (s)."""
    return {
        "sessions": float(len(table)),
        "rung_agreement_median": float(table["rung_agreement"].median()),
        "rung_agreement_min": float(table["rung_agreement"].min()),
        "rung_agreement_max": float(table["rung_agreement"].max()),
        "bitrate_diff_pct_mean": float(table["bitrate_diff_pct"].mean()),
        "stalls_within_0_5_s": float((table["rebuffer_diff_s"].abs() <= 0.5).mean()),
        "emu_rebuffer_s_total": float(table["emu_rebuffer_s"].sum()),
        "sim_rebuffer_s_total": float(table["sim_rebuffer_s"].sum()),
        "startup_diff_s_mean": float(table["startup_diff_s"].mean()),
        "emu_downloads_mean": float(table["emu_downloads"].mean()),
        "sim_downloads_mean": float(table["sim_downloads"].mean()),
    }


def plot_compare(table: pd.DataFrame, path: str, title: str = "") -> None:
    """Save a figure of :func:`compare`'s table: rung agreement per session, mean bitrate and
    stalls of both sides (needs matplotlib: ``pip install 'abrkit[plot]'``)."""
    from .._optional import pyplot

    plt = pyplot()
    n = len(table)
    x = np.arange(n)
    fig, axes = plt.subplots(1, 3, figsize=(max(9.0, 0.5 * n + 6.0), 3.6))
    axes[0].bar(x, 100 * table["rung_agreement"].to_numpy(dtype=float), color="tab:blue")
    axes[0].set_ylim(0, 100)
    axes[0].set_ylabel("rung agreement (%)")
    for ax, col, label in ((axes[1], "mean_bitrate_kbps", "mean bitrate (kbit/s)"), (axes[2], "rebuffer_s", "stalls (s)")):
        ax.bar(x - 0.2, table[f"emu_{col}"].to_numpy(dtype=float), width=0.4, label="player")
        ax.bar(x + 0.2, table[f"sim_{col}"].to_numpy(dtype=float), width=0.4, label="simulator")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels([str(t)[:12] for t in table["trace"]], rotation=60, ha="right", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
