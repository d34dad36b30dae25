"""Per-title ladders for a whole catalog of titles, on one machine or a Dask cluster.

:func:`optimize_catalog` runs :func:`~abrkit.encode.ladder.optimize_ladder` for every source. With
a ``scheduler`` (:mod:`abrkit.cluster`: ``"processes"``, a ``distributed.Client`` or its address)
every encode of every title is one task, so a cluster works on all titles at once; the titles'
searches are driven by threads of this process, which only decide what to encode next.

Everything measured goes to one shared, append-only store, ``OUT/.abrkit-cache`` (the format
of :mod:`abrkit.encode.cache`, the directory ``abrkit ladder --out OUT`` uses too): a point is
keyed by the source's content hash and every setting it depends on, so a title done once is
never encoded again and two titles never collide. Each worker appends the point it measured
(under a file lock, fsynced) before its task returns, so a killed worker, client or node loses
only the encodes in flight, and running the same catalog again resumes. The store and the
sources must be on a file system every worker sees (the same machine, NFS, a cluster's shared
scratch).

Outputs in ``OUT``: ``titles/<title>.json`` (each :class:`~abrkit.encode.ladder.LadderResult`)
and ``summary.csv`` (:attr:`CatalogResult.summary`).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import AbrkitError, ParameterError
from .ladder import LadderProgress, LadderResult, optimize_ladder

__all__ = ["optimize_catalog", "CatalogResult", "SUMMARY_COLUMNS", "STORE_NAME"]

#: Name of the shared store below the output directory.
STORE_NAME = ".abrkit-cache"

#: Columns of :attr:`CatalogResult.summary` before the ``bd_rate_<ladder>_pct`` columns.
SUMMARY_COLUMNS = (
    "title", "source", "rungs", "ladder_kbps", "encodes", "performed", "cached", "cpu_s", "cpu_s_performed",
    "elapsed_s", "error",
)


@dataclass(frozen=True, eq=False)
class CatalogResult:
    """What :func:`optimize_catalog` did.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per title, in the order given: ``title``, ``source`` (path), ``rungs`` (how many),
        ``ladder_kbps`` (the rungs' search bitrates in kbit/s, space-separated), ``encodes``
        (distinct encodes the title's result uses), ``performed`` (encodes run by this call),
        ``cached`` (read from the store), ``cpu_s`` (CPU seconds of ffmpeg for all the title's
        encodes, as recorded when each was measured), ``cpu_s_performed`` (those of this call),
        ``elapsed_s`` (wall time of the title's search, which overlaps the others'), ``error``
        (empty, or why the title failed), then ``bd_rate_<ladder>_pct`` per fixed ladder (BD-rate
        of the per-title rungs against it, in percent; negative = fewer bits; NaN when the
        curves do not overlap).
    results : dict of str to LadderResult
        Title -> its result (titles that failed are missing).
    store : pathlib.Path
        The shared store.
    elapsed_s : float
        Wall time of the whole call.
    """

    summary: pd.DataFrame
    results: dict[str, LadderResult]
    store: Path
    elapsed_s: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)


def _titles(sources: Sequence[Path]) -> list[str]:
    """File stems as titles, made unique (``name``, ``name-2``, ...) and safe as file names."""
    seen: dict[str, int] = {}
    out = []
    for path in sources:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem) or "title"
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append(base if n == 1 else f"{base}-{n}")
    return out


class _CatalogBar:
    """One progress bar over every title: totals and counts summed from the titles' reports."""

    def __init__(self, show: bool, n_titles: int) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, int]] = {}
        self._bar = None
        self._titles_done = 0
        self._n_titles = n_titles
        if show:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=0, unit="encode", desc="catalog", file=sys.stderr, dynamic_ncols=True)

    def report(self, title: str, p: LadderProgress) -> None:
        with self._lock:
            self._state[title] = (p.done, p.total)
            self._refresh()

    def title_done(self) -> None:
        with self._lock:
            self._titles_done += 1
            self._refresh()

    def _refresh(self) -> None:
        if self._bar is None:
            return
        done = sum(d for d, _ in self._state.values())
        total = sum(t for _, t in self._state.values())
        self._bar.total = max(total, done)
        self._bar.n = done
        self._bar.set_postfix_str(f"titles {self._titles_done}/{self._n_titles}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def optimize_catalog(
    sources: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    scheduler: Any = None,
    progress: bool | None = None,
    max_titles_at_once: int = 64,
    **ladder_options: Any,
) -> CatalogResult:
    """Find the per-title ladder of every source; one summary table.

    Parameters
    ----------
    sources : sequence of paths
        The titles' source videos. Titles are named after the file stems (made unique).
    out_dir : path
        Output directory (created): the shared store ``OUT/.abrkit-cache``,
        ``OUT/titles/<title>.json`` and ``OUT/summary.csv``.
    scheduler : None, "processes", distributed.Client or str
        Where the encodes run (:mod:`abrkit.cluster`). None: one title after another, each on
        ``workers`` threads here. Otherwise every encode of every title is a task of one
        executor (opened once for the catalog), and up to ``max_titles_at_once`` titles are
        searched side by side so the workers always have encodes to run.
    progress : bool or None
        One bar over the whole catalog (encodes done / planned so far; fast mode plans as it
        goes, so the total grows). None: when stderr is a terminal.
    max_titles_at_once : int
        Titles searched at the same time with a scheduler (each a thread that waits on its
        encodes; default 64).
    **ladder_options
        Passed to :func:`~abrkit.encode.ladder.optimize_ladder` for every title (``mode``,
        ``codec``, ``resolutions``, ``crfs``, ``max_duration_s``, ``fixed_ladders``, ...), except
        ``cache_dir``, ``scheduler`` and ``progress``, which this function sets.

    Returns
    -------
    CatalogResult

    A title that fails (a file that is not a video, an encode error) does not stop the others:
    its row holds the error and it is missing from ``results``. Running the same call again
    encodes only what is not in the store yet.
    """
    started = time.perf_counter()
    for name in ("cache_dir", "scheduler", "progress"):
        if name in ladder_options:
            raise ParameterError(name, ladder_options[name], "is set by optimize_catalog (the store is OUT/.abrkit-cache)")
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths = [Path(s) for s in sources]
    if not paths:
        raise ParameterError("sources", [], "at least one source is needed")
    if isinstance(max_titles_at_once, bool) or not isinstance(max_titles_at_once, int) or max_titles_at_once < 1:
        raise ParameterError("max_titles_at_once", max_titles_at_once, "must be an integer >= 1")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ParameterError("out_dir", str(out), "exists and is not a directory")
    store = out / STORE_NAME
    titles = _titles(paths)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = _CatalogBar(show, len(paths))
    results: dict[str, LadderResult] = {}
    errors: dict[str, str] = {}
    executor = None
    try:
        if scheduler is not None:
            from ..cluster import check_scheduler, open_executor

            check_scheduler(scheduler)
            executor = open_executor(scheduler, n_processes=ladder_options.get("workers"))

        def one(i: int) -> None:
            title = titles[i]
            try:
                result = optimize_ladder(
                    paths[i], cache_dir=store, scheduler=executor, progress=lambda p: bar.report(title, p),
                    **ladder_options,
                )
            except AbrkitError as err:
                errors[title] = f"{type(err).__name__}: {err}"
            else:
                result.to_json(out / "titles" / f"{title}.json")
                results[title] = result
            finally:
                bar.title_done()

        if executor is None:
            for i in range(len(paths)):
                one(i)
        else:
            with ThreadPoolExecutor(max_workers=min(len(paths), max_titles_at_once), thread_name_prefix="abrkit-title") as pool:
                for fut in [pool.submit(one, i) for i in range(len(paths))]:
                    fut.result()  # anything but an abrkit error (a bug, Ctrl-C) is raised here
    finally:
        bar.close()
        if executor is not None:
            executor.close()
    summary = _summary(titles, paths, results, errors)
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "summary.csv", index=False, float_format="%.6g", lineterminator="\n")
    return CatalogResult(summary=summary, results=results, store=store, elapsed_s=time.perf_counter() - started, errors=errors)


def _summary(titles: list[str], paths: list[Path], results: dict[str, LadderResult], errors: dict[str, str]) -> pd.DataFrame:
    ladders: list[str] = []
    for r in results.values():
        ladders += [name for name in r.bd_rate if name not in ladders]
    rows = []
    for title, path in zip(titles, paths):
        r = results.get(title)
        row: dict[str, Any] = {"title": title, "source": str(path)}
        if r is None:
            row.update(rungs=0, ladder_kbps="", encodes=0, performed=0, cached=0, cpu_s=np.nan, cpu_s_performed=np.nan,
                       elapsed_s=np.nan, error=errors.get(title, ""))
        else:
            n = r.n_encodes
            row.update(
                rungs=len(r.rungs), ladder_kbps=" ".join(f"{x:.0f}" for x in r.ladder_kbps),
                encodes=int(n["performed"] + n["cached"]), performed=int(n["performed"]), cached=int(n["cached"]),
                cpu_s=float(r.cpu_s.get("total", np.nan)), cpu_s_performed=float(r.cpu_s.get("performed", np.nan)),
                elapsed_s=float(r.elapsed_s), error="",
            )
        for name in ladders:
            value = None if r is None else r.bd_rate.get(name)
            row[f"bd_rate_{name}_pct"] = np.nan if value is None else float(value)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *(f"bd_rate_{n}_pct" for n in ladders)])
