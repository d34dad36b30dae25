"""Precompile abrkit's kernels ahead of time, for container images and CI.

Numba compiles a kernel the first time a process calls it and keeps the machine code in its
on-disk cache (``NUMBA_CACHE_DIR`` or ``__pycache__``), so one tiny session per controller and
player profile, run once while building an image or warming a CI cache, spares every later
process that compile time::

    python -c "import abrkit.warmup as w; print(w.warmup())"
    abrkit warmup --controllers bb bba0 rate --profiles default

Each session streams a 3-chunk synthetic video over a 30 s synthetic trace, both made in code:
the kernels compiled depend on the controller and the profile, not on the sizes of the data.
The video has Pensieve's 6 rungs (300-4300 kbit/s), so that the learned controllers, which need
exactly the ladder size their network was trained for, compile too.
"""

from __future__ import annotations

import sys
import time
from typing import Iterable

import numpy as np
import pandas as pd

from .controllers import CONTROLLERS, get_controller
from .errors import ParameterError
from .event import EVENT_PROFILES
from .profiles import PROFILES, get_profile
from .simulation import run_batch
from .traces import Trace
from .video import Video

__all__ = ["warmup", "warmup_inputs", "WARMUP_COLUMNS"]

#: Columns of the table :func:`warmup` returns.
WARMUP_COLUMNS = ("controller", "profile", "status", "seconds", "note")


def warmup_inputs() -> tuple[Trace, Video]:
    """The tiny session :func:`warmup` runs: a 30 s trace (1 s periods alternating 1.5 and
    3 Mbit/s, 20 ms latency) and a 3-chunk video (300/750/1200/1850/2850/4300 kbit/s, Pensieve's
    ladder, 4 s chunks, VBR, seed 0)."""
    time_s = np.arange(30, dtype=np.float64)
    bandwidth_bps = np.where(np.arange(30) % 2 == 0, 1.5e6, 3.0e6)
    trace = Trace(time_s, bandwidth_bps, latency_s=np.full(30, 0.02), name="warmup")
    video = Video.synthetic_vbr([300.0, 750.0, 1200.0, 1850.0, 2850.0, 4300.0], 4.0, 3, seed=0)
    return trace, video


def warmup(
    controllers: Iterable[str] | None = None,
    profiles: Iterable[str] | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Run one tiny session per (controller, profile) so their kernels are compiled and cached.

    ``controllers``: registry names or specs (default: every registered controller);
    ``profiles``: profile names (default: every chunk-model and event-model profile). A
    combination the player model refuses (a controller that does not run under that profile)
    is skipped quietly. ``progress``: a tqdm bar on stderr (default: when stderr is a terminal).

    Returns one row per combination: controller, profile, status (``ran`` or ``unsupported``),
    seconds (wall time of the session, compiling or loading from the cache included; NaN when
    skipped) and note (why a combination was skipped). The first session of a player model pays
    for its kernels; the others reuse them unless a run compiles per controller. Unknown controller or profile names raise
    :class:`~abrkit.errors.ParameterError` before anything runs.
    """
    for arg, value in (("controllers", controllers), ("profiles", profiles)):
        if isinstance(value, str):
            raise ParameterError(arg, value, f"must be a list of names, e.g. [{value!r}]")
    names = sorted(CONTROLLERS) if controllers is None else list(controllers)
    profile_names = [*PROFILES, *EVENT_PROFILES] if profiles is None else list(profiles)
    for name in names:
        get_controller(name)  # unknown names and bad specs fail here, before any compile
    for pname in profile_names:
        get_profile(pname)
    trace, video = warmup_inputs()
    combos = [(c, p) for c in names for p in profile_names]
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm import tqdm

    rows = []
    bar = tqdm(combos, desc="abrkit warmup", unit="session", disable=not progress, file=sys.stderr)
    for name, pname in bar:
        bar.set_postfix_str(f"{name} / {pname}", refresh=True)
        start = time.perf_counter()
        try:
            run_batch([trace], [video], [name], pname, n_workers=1, progress=False)
        except ParameterError as exc:
            if exc.name not in ("controller", "controllers"):
                raise
            rows.append((name, pname, "unsupported", float("nan"), exc.rule))
            continue
        rows.append((name, pname, "ran", time.perf_counter() - start, ""))
    bar.close()
    return pd.DataFrame(rows, columns=list(WARMUP_COLUMNS))
