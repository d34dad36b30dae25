"""The player's recorded events as abrkit's chunk and session tables.

Times are seconds since the player was told to start (the page's ``start`` event), sizes bytes,
rates bit/s (kbit/s where the column says so), as in ``abrkit simulate``. How each column is read
from the events:

* a **download** is a media request the player completed (``done``) or abandoned (``abandon``);
  its URL gives the segment index and rung (:class:`~abrkit.emulate.stream.Stream`), its
  request / first-byte / end times and bytes are the player's own;
* the **played** download of a segment is the last one completed for it; earlier completed ones
  are ``replaced`` (dash.js fast switching re-fetches buffered segments at a better rung) and
  ``abandoned`` ones were cut off by the player's abandonment rule. All three kinds are rows of
  the chunk table, told apart by the extra ``kind`` column; only ``played`` rows enter the totals;
* ``latency_s`` = first byte - request; ``delay_s`` = end - request; ``throughput_kbps`` = bits /
  ``delay_s`` (latency included, as the simulator's sample); ``request_s`` = request time;
* ``buffer_s``: buffer ahead of the playhead when the player issued its next request (the
  simulator's "after the download and any wait"), or at the end of the last download plus its
  segment; ``wait_s``: idle time from this download's end to the next request;
* **stalls** are the <video> element's ``waiting`` -> ``playing`` intervals after playback began;
  each is charged (``rebuffer_s``) to the segment the playhead waited for; **startup** is the
  first ``playing`` event; a session that never reaches ``ended`` has status ``stalled``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..qoe import QoE
from ..video import Video

__all__ = ["downloads_frame", "chunk_table", "session_row", "stall_intervals", "CHUNK_TABLE_COLUMNS"]

#: Columns of :func:`chunk_table` (``quality`` only when the video has per-segment quality).
CHUNK_TABLE_COLUMNS = (
    "trace", "video", "controller", "chunk", "rung", "bitrate_kbps", "size_bytes", "latency_s", "delay_s", "buffer_s",
    "rebuffer_s", "wait_s", "throughput_kbps", "request_s", "controller_wait_s", "quality", "reward", "kind",
    "first_byte_s", "end_s",
)


def _s(t_ms: Any, t0_ms: float) -> float:
    if t_ms is None:
        return float("nan")
    value = float(t_ms)
    return (value - t0_ms) / 1e3 if math.isfinite(value) else float("nan")


def downloads_frame(events: Sequence[dict[str, Any]], segments: dict[str, tuple[int, int]], t0_ms: float,
                    segment_s: float) -> pd.DataFrame:
    """One row per media download (completed or abandoned), in order of request time.

    Columns: chunk, rung, kind (played / replaced / abandoned), size_bytes, request_s,
    first_byte_s, end_s, buffer_s, url.
    """
    rows = []
    requests = sorted(_s(e["t_ms"], t0_ms) for e in events if e["kind"] == "req")
    for e in events:
        if e["kind"] not in ("done", "abandon"):
            continue
        url = str(e.get("url", ""))
        key = url[len("/media/"):] if url.startswith("/media/") else url.lstrip("/")
        if key not in segments:
            continue
        chunk, rung = segments[key]
        request_s = _s(e.get("request_ms"), t0_ms)
        end_s = _s(e.get("end_ms"), t0_ms)
        if not math.isfinite(end_s):
            end_s = _s(e["t_ms"], t0_ms)
        rows.append({
            "chunk": chunk, "rung": rung, "kind": "played" if e["kind"] == "done" else "abandoned",
            "size_bytes": float(e.get("bytes") or 0.0), "request_s": request_s,
            "first_byte_s": _s(e.get("first_ms"), t0_ms), "end_s": end_s,
            "event_s": _s(e["t_ms"], t0_ms), "buffer_at_end_s": float(e.get("buffer_s") or 0.0), "url": url,
        })
    frame = pd.DataFrame(rows, columns=["chunk", "rung", "kind", "size_bytes", "request_s", "first_byte_s", "end_s",
                                        "event_s", "buffer_at_end_s", "url"])
    if frame.empty:
        return frame.assign(buffer_s=pd.Series(dtype=float), wait_s=pd.Series(dtype=float))
    frame = frame.sort_values(["request_s", "end_s"], kind="stable").reset_index(drop=True)
    done = frame["kind"] == "played"
    last = frame[done].groupby("chunk")["end_s"].transform("max")
    replaced = done & (frame["end_s"] < last.reindex(frame.index).fillna(np.inf))
    frame.loc[replaced, "kind"] = "replaced"
    # the next request the player issued after each download ended
    req = np.asarray(requests, dtype=np.float64)
    nxt = np.searchsorted(req, frame["event_s"].to_numpy(), side="right")
    has_next = nxt < req.size
    next_s = np.where(has_next, req[np.minimum(nxt, max(req.size - 1, 0))] if req.size else np.nan, np.nan)
    frame["wait_s"] = np.where(has_next, np.maximum(next_s - frame["end_s"].to_numpy(), 0.0), 0.0)
    buffer_then = {round(_s(e["t_ms"], t0_ms), 6): float(e.get("buffer_s") or 0.0) for e in events if e["kind"] == "req"}
    frame["buffer_s"] = [
        buffer_then.get(round(float(n), 6), b + segment_s) if ok else b + segment_s
        for n, ok, b in zip(next_s, has_next, frame["buffer_at_end_s"])
    ]
    return frame


def stall_intervals(events: Sequence[dict[str, Any]], t0_ms: float, end_s: float) -> tuple[float, list[tuple[float, float, float]]]:
    """(startup in seconds, stalls): each stall is (start_s, end_s, media time in s it waited at).

    Startup is the first ``playing`` event (NaN if playback never began); a stall still open at
    the end of the session lasts until ``end_s``.
    """
    startup = float("nan")
    stalls: list[tuple[float, float, float]] = []
    open_at: tuple[float, float] | None = None
    for e in events:
        t = _s(e["t_ms"], t0_ms)
        if e["kind"] == "playing":
            if math.isnan(startup):
                startup = t
            elif open_at is not None:
                stalls.append((open_at[0], t, open_at[1]))
            open_at = None
        elif e["kind"] == "waiting" and not math.isnan(startup) and open_at is None:
            open_at = (t, float(e.get("media_s") or 0.0))
        elif e["kind"] == "ended":
            open_at = None
    if open_at is not None and end_s > open_at[0]:
        stalls.append((open_at[0], end_s, open_at[1]))
    return startup, stalls


def chunk_table(trace: str, video: Video, controller: str, downloads: pd.DataFrame,
                stalls: Sequence[tuple[float, float, float]], qoe: QoE) -> pd.DataFrame:
    """The chunk table of one session: the columns of ``abrkit simulate --log`` (played rows in
    chunk order, then replaced and abandoned ones), plus kind, first_byte_s and end_s."""
    played = downloads[downloads["kind"] == "played"].sort_values("chunk")
    n = video.n_chunks
    rebuffer = np.zeros(len(played))
    chunks = played["chunk"].to_numpy(dtype=np.int64)
    ends_s = None if video.durations_s is None else np.cumsum(video.durations_s)  # segments of unequal duration
    for start, end, media_s in stalls:
        if ends_s is None:
            waited_for = min(int(media_s / video.chunk_s + 1e-6), n - 1)
        else:  # the segment whose media the player waited for
            waited_for = min(int(np.searchsorted(ends_s, media_s + 1e-6, side="right")), n - 1)
        # charged to the played download of that segment, else to the next one played
        k = int(np.searchsorted(chunks, waited_for)) if chunks.size else 0
        if chunks.size:
            rebuffer[min(k, chunks.size - 1)] += end - start
    rungs = played["rung"].to_numpy(dtype=np.int64)
    rewards = qoe.rewards(video, rungs[None, :], rebuffer[None, :])[0] if rungs.size else np.zeros(0)
    rows = pd.DataFrame({
        "trace": trace, "video": video.name, "controller": controller,
        "chunk": chunks, "rung": rungs, "bitrate_kbps": video.bitrates_bps[rungs] / 1e3,
        "size_bytes": played["size_bytes"].to_numpy(), "latency_s": (played["first_byte_s"] - played["request_s"]).to_numpy(),
        "delay_s": (played["end_s"] - played["request_s"]).to_numpy(), "buffer_s": played["buffer_s"].to_numpy(),
        "rebuffer_s": rebuffer, "wait_s": played["wait_s"].to_numpy(),
    })
    rows["throughput_kbps"] = 8.0 * rows["size_bytes"] / rows["delay_s"].where(rows["delay_s"] > 0) / 1e3
    rows["request_s"] = played["request_s"].to_numpy()
    rows["controller_wait_s"] = 0.0
    if video.quality is not None:
        rows["quality"] = video.quality[np.minimum(chunks, video.quality.shape[0] - 1), rungs]
    rows["reward"] = rewards
    rows["kind"] = "played"
    rows["first_byte_s"] = played["first_byte_s"].to_numpy()
    rows["end_s"] = played["end_s"].to_numpy()
    others = downloads[downloads["kind"] != "played"]
    if len(others):
        extra = pd.DataFrame({
            "trace": trace, "video": video.name, "controller": controller,
            "chunk": others["chunk"].to_numpy(dtype=np.int64), "rung": others["rung"].to_numpy(dtype=np.int64),
            "bitrate_kbps": video.bitrates_bps[others["rung"].to_numpy(dtype=np.int64)] / 1e3,
            "size_bytes": others["size_bytes"].to_numpy(),
            "latency_s": (others["first_byte_s"] - others["request_s"]).to_numpy(),
            "delay_s": (others["end_s"] - others["request_s"]).to_numpy(), "buffer_s": others["buffer_s"].to_numpy(),
            "rebuffer_s": 0.0, "wait_s": others["wait_s"].to_numpy(),
        })
        extra["throughput_kbps"] = 8.0 * extra["size_bytes"] / extra["delay_s"].where(extra["delay_s"] > 0) / 1e3
        extra["request_s"] = others["request_s"].to_numpy()
        extra["controller_wait_s"] = 0.0
        if video.quality is not None:
            extra["quality"] = np.nan
        extra["reward"] = np.nan
        extra["kind"] = others["kind"].to_numpy()
        extra["first_byte_s"] = others["first_byte_s"].to_numpy()
        extra["end_s"] = others["end_s"].to_numpy()
        rows = pd.concat([rows, extra], ignore_index=True)
    return rows


def session_row(chunks: pd.DataFrame, video: Video, qoe: QoE, *, profile: str, status: str, startup_s: float,
                stalls: Sequence[tuple[float, float, float]], end_s: float) -> dict[str, Any]:
    """One session's totals with the columns of ``abrkit simulate``'s session table, plus
    downloads, replaced, abandoned and rebuffer_total_s (every stall, charged or not)."""
    played = chunks[chunks["kind"] == "played"]
    n = len(played)
    rungs = played["rung"].to_numpy(dtype=np.int64)
    rewards = played["reward"].to_numpy(dtype=np.float64)
    total = float(qoe.total(rewards)) if n else 0.0
    scored = n - (0 if qoe.include_first_chunk else 1)
    kbps = video.bitrates_bps[rungs] / 1e3
    consecutive = np.diff(played["chunk"].to_numpy()) == 1 if n > 1 else np.zeros(0, dtype=bool)
    steps = np.abs(np.diff(kbps))[consecutive] if n > 1 else np.zeros(0)
    row: dict[str, Any] = {
        "trace": chunks["trace"].iloc[0] if len(chunks) else "",
        "video": video.name,
        "controller": chunks["controller"].iloc[0] if len(chunks) else "",
        "profile": profile,
        "status": status,
        "chunks": n,
        "qoe": total,
        "qoe_per_chunk": total / max(scored, 1),
        "mean_bitrate_kbps": float(kbps.mean()) if n else float("nan"),
        "rebuffer_s": float(played["rebuffer_s"].sum()),
        "rebuffer_events": int((played["rebuffer_s"] > 0).sum()),
        "startup_s": startup_s,
        "switches": int((np.diff(rungs)[consecutive] != 0).sum()) if n > 1 else 0,
        "mean_switch_kbps": float(steps.mean()) if steps.size else 0.0,
        "wait_s": float(played["wait_s"].sum()),
        "session_s": end_s,
    }
    if video.quality is not None and "quality" in played:
        row["mean_quality"] = float(played["quality"].mean()) if n else float("nan")
    row["downloads"] = int(len(chunks))
    row["replaced"] = int((chunks["kind"] == "replaced").sum())
    row["abandoned"] = int((chunks["kind"] == "abandoned").sum())
    return row
