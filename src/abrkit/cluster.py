"""Where batch work runs: the ``scheduler=`` argument shared by abrkit's batch APIs.

:func:`~abrkit.run_batch` / :func:`~abrkit.simulate_many`, :func:`~abrkit.offline_optimum_many`,
:func:`~abrkit.evaluate.evaluate_predictors`, :func:`~abrkit.encode.optimize_ladder` and
:func:`~abrkit.encode.optimize_catalog` take one argument saying where their work runs:

``None`` (default)
    This process, on threads, as always.
``"processes"``
    A pool of local processes made for the call and closed after it (no Dask needed); for
    work that holds the GIL or when threads are not wanted.
a ``distributed.Client``, a scheduler address (``"tcp://10.0.0.5:8786"``) or a cluster object
    A Dask cluster: a ``LocalCluster``, dask-jobqueue on Slurm/PBS, dask-kubernetes, ...
    (an address or a cluster object gets a Client of its own for the call). Needs the optional
    extra: ``pip install 'abrkit[cluster]'``.

Results are bit-identical whatever runs them: a batch is cut into tasks along its traces (or
encodes), every task computes exactly what the local run computes for its part, and the parts
are put back in the local order.

How the work is shipped (see ``docs/cluster.md`` for the cost model):

* **Compiled once per worker.** Before the first task, one warm-up task per worker runs the
  task's function on one item, so Numba compiles (or loads from the cache) there, outside the
  timed tasks. The client warms itself first, which fills the cache the workers start from.
* **A Numba cache directory per worker process** (numba#4807: processes writing one cache at
  once can corrupt it). Each worker claims a slot directory below :func:`worker_cache_root`
  with an exclusive file lock, seeds it from the cache its installation already has, and
  writes only there (:func:`abrkit._jit.use_cache_dir`).
* **Data sent once.** What every task needs (videos, controllers, the profile) is scattered
  to every worker once per call; the traces are split among the tasks, so each trace travels
  once, with the one task that uses it.
* **Tasks of seconds.** The client times the work of one item (after its own warm-up) and cuts
  the batch into tasks of about :data:`TASK_TARGET_S` seconds, but at least
  :data:`MIN_TASKS_PER_WORKER` tasks per worker when the batch allows (load balance).
"""

from __future__ import annotations

import math
import os
import pickle
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as _cf_as_completed
from pathlib import Path
from typing import Any

from .errors import ParameterError, ToolNotFoundError

__all__ = [
    "Executor",
    "open_executor",
    "check_scheduler",
    "plan_tasks",
    "time_items",
    "run_parts",
    "progress_bar",
    "future_key",
    "worker_cache_root",
    "TASK_TARGET_S",
    "MIN_TASKS_PER_WORKER",
    "MIN_TASK_S",
    "WORKER_CACHE_ENV_VAR",
]

#: Wall time a task aims at, in seconds: long enough that the scheduler's per-task cost
#: (milliseconds) is a small fraction, short enough to balance load and lose little to a kill.
TASK_TARGET_S = 2.0
#: Fewer, longer tasks leave workers idle at the end of a batch (the last task of one worker
#: runs alone; with items of uneven cost, such as the optimum's traces, it is often the longest):
#: at least this many per worker, so the idle tail is a few percent of the batch...
MIN_TASKS_PER_WORKER = 16
#: ...unless tasks would get shorter than this (seconds of work), where the scheduler's cost per
#: task (5-10 ms measured) would start to count.
MIN_TASK_S = 0.25
#: Environment variable naming the folder below which workers keep their Numba caches.
WORKER_CACHE_ENV_VAR = "ABRKIT_WORKER_CACHE"

_INSTALL = "pip install 'abrkit[cluster]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ToolNotFoundError(
            f"scheduler= a Dask cluster needs dask.distributed, which is not installed: {_INSTALL}"
        ) from None
    return distributed


def check_scheduler(scheduler: object, name: str = "scheduler") -> None:
    """Raise now if ``scheduler`` is not a valid value (None, ``"processes"``, a Client or an
    address); a Client or an address also needs ``distributed`` (ToolNotFoundError otherwise)."""
    if scheduler is None or scheduler == "processes":
        return
    if isinstance(scheduler, str):
        if "://" not in scheduler and ":" not in scheduler:
            raise ParameterError(
                name, scheduler, "must be None, 'processes', a distributed.Client or a scheduler address like tcp://host:8786",
            )
        _distributed()
        return
    module = type(scheduler).__module__ or ""
    if module.split(".")[0] != "distributed":
        raise ParameterError(
            name, type(scheduler).__name__, "must be None, 'processes', a distributed.Client or a scheduler address",
        )


def worker_cache_root() -> Path:
    """Folder below which worker processes claim their Numba cache slots:
    ``$ABRKIT_WORKER_CACHE``, else ``<temp dir>/abrkit-numba-workers-<user id>``."""
    env = os.environ.get(WORKER_CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"abrkit-numba-workers-{uid}"


# -- in each worker process -------------------------------------------------------------------

_SLOT: tuple[Path, Any] | None = None  # (cache folder, open lock file) of this process
_CLIENT_PID: int | None = None  # set in a process that opened an executor
_SHARED: dict[str, Any] = {}  # what a process pool's initializer received


def _claim_slot(root: Path) -> Path:
    """This process's own cache folder below ``root``: the first ``<host>-<k>`` whose lock file
    no other live process holds (the lock lasts as long as the process)."""
    global _SLOT
    if _SLOT is not None:
        return _SLOT[0]
    root.mkdir(parents=True, exist_ok=True)
    host = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in socket.gethostname()) or "host"
    try:
        import fcntl
    except ImportError:  # Windows: one folder per process id, never shared
        folder = root / f"{host}-pid{os.getpid()}"
        _SLOT = (folder, None)
        return folder
    for k in range(4096):
        lock = open(root / f"{host}-{k}.lock", "a+")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        folder = root / f"{host}-{k}"
        _SLOT = (folder, lock)
        return folder
    raise RuntimeError(f"no free Numba cache slot below {root}")  # pragma: no cover - 4096 live workers


def _setup_process(root: str) -> None:
    """Point this process's Numba cache at its own slot (idempotent; re-seeds on each call).

    Not in the client's own process (a ``LocalCluster(processes=False)`` runs its workers as
    threads there): one process has one cache and Numba serialises its own writes."""
    if _CLIENT_PID == os.getpid():
        return
    from ._jit import use_cache_dir

    use_cache_dir(_claim_slot(Path(root)))


def _task(fn: Callable[..., Any], root: str, shared: Any, *args: Any) -> tuple[Any, float, float]:
    """Run one task in a worker: (result, start time, seconds) — times for the overhead figures."""
    if _SLOT is None and _CLIENT_PID != os.getpid():  # a worker that joined after the warm-up
        _setup_process(root)
    t0 = time.time()
    started = time.perf_counter()
    out = fn(shared, *args)
    return out, t0, time.perf_counter() - started


def _task_packed(fn: Callable[..., Any], root: str, shared: Any, blob: bytes) -> tuple[Any, float, float]:
    """:func:`_task` with its arguments scattered ahead as one pickled tuple."""
    return _task(fn, root, shared, *pickle.loads(blob))


def _warm(fn: Callable[..., Any], root: str, shared: Any, *args: Any) -> float:
    """A worker's warm-up: its own cache slot, then ``fn`` once (compiles or loads kernels)."""
    _setup_process(root)
    started = time.perf_counter()
    fn(shared, *args)
    return time.perf_counter() - started


def _init_pool_process(root: str, key: str, shared: Any, fn: Callable[..., Any] | None, warm_args: tuple) -> None:
    _SHARED[key] = shared
    if fn is not None:
        _warm(fn, root, shared, *warm_args)
    else:
        _setup_process(root)


def _pool_task(fn: Callable[..., Any], root: str, key: str, *args: Any) -> tuple[Any, float, float]:
    return _task(fn, root, _SHARED[key], *args)


# -- on the client ----------------------------------------------------------------------------


class Executor:
    """Tasks on local processes or a Dask cluster, as :func:`open_executor` made them.

    Every task runs ``fn(shared, *args)`` in a worker, where ``shared`` is the object given to
    :func:`open_executor`, sent once per worker. :meth:`submit` returns a future;
    :meth:`as_completed` yields futures as they finish; :meth:`result` is a finished task's
    value. ``task_times`` collects (start time, seconds) of every finished task.
    """

    def __init__(self, kind: str, n_workers: int, pool: Any, client: Any, shared: Any, key: str, owns_client: bool = False) -> None:
        self.kind = kind
        self.n_workers = n_workers
        self._pool = pool
        self._client = client
        self._shared = shared
        self._key = key
        self._owned_client = owns_client
        self._root = str(worker_cache_root())
        self.task_times: list[tuple[float, float]] = []
        self.warmup_s: dict[str, float] = {}

    def submit(self, fn: Callable[..., Any], *args: Any, shared: bool = True) -> Any:
        """Run ``fn(shared, *args)`` (``fn(*args)`` with ``shared=False``) as one task."""
        if self.kind == "processes":
            if shared:
                return self._pool.submit(_pool_task, fn, self._root, self._key, *args)
            return self._pool.submit(_task, _plain, self._root, None, fn, *args)
        payload = self._shared if shared else None
        target = fn if shared else _plain
        extra = args if shared else (fn, *args)
        return self._client.submit(_task, target, self._root, payload, *extra, pure=False)

    def submit_many(self, fn: Callable[..., Any], parts: Sequence[tuple]) -> list[Any]:
        """One task ``fn(shared, *part)`` per part. On Dask each part is scattered first, to one
        worker, so the task graph holds references, not megabytes of traces; and as one pickled
        blob: Dask's own serialisation handles each of a trace's arrays as a frame of its own,
        which measured 10x slower for 20,000 traces (5.3 s of client CPU against 0.5 s + 1 s to
        pickle)."""
        if self.kind == "processes":
            return [self.submit(fn, *p) for p in parts]
        blobs = [pickle.dumps(tuple(p), protocol=pickle.HIGHEST_PROTOCOL) for p in parts]
        handles = self._client.scatter(blobs, hash=False)
        return [self._client.submit(_task_packed, fn, self._root, self._shared, h, pure=False) for h in handles]

    def as_completed(self, futures: Sequence[Any]) -> Iterator[Any]:
        if self.kind == "processes":
            return _cf_as_completed(futures)
        return iter(_distributed().as_completed(futures, loop=self._client.loop))

    def result(self, future: Any) -> Any:
        out, t0, seconds = future.result()
        self.task_times.append((t0, seconds))
        return out

    def cancel(self, futures: Sequence[Any]) -> None:
        for f in futures:
            f.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None and self._shared is not None and hasattr(self._shared, "release"):
            self._shared.release()
        if self._owned_client:
            self._client.close()
            self._owned_client = False

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(_shared: Any, fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def _client_of(scheduler: Any) -> tuple[Any, bool]:
    distributed = _distributed()
    if isinstance(scheduler, str):
        try:
            return distributed.Client(scheduler, set_as_default=False), True
        except OSError as err:
            raise ParameterError("scheduler", scheduler, f"no Dask scheduler answers there: {err}") from None
    if not isinstance(scheduler, distributed.Client) and isinstance(getattr(scheduler, "scheduler_address", None), str):
        return distributed.Client(scheduler, set_as_default=False), True  # a cluster object (LocalCluster, SLURMCluster)
    if not isinstance(scheduler, distributed.Client):
        raise ParameterError("scheduler", type(scheduler).__name__, "must be None, 'processes', a distributed.Client or an address")
    return scheduler, False


def open_executor(
    scheduler: Any,
    shared: Any = None,
    warm: Callable[..., Any] | None = None,
    warm_args: tuple = (),
    n_processes: int | None = None,
) -> Executor:
    """An :class:`Executor` for ``scheduler`` (``"processes"``, a Client or an address).

    ``shared`` is sent once to every worker and handed to every task; ``warm(shared,
    *warm_args)`` runs once on every worker before any task (compiling its kernels there) and
    its wall time per worker lands in ``Executor.warmup_s``. ``n_processes``: size of the
    local pool (default: the CPU count, at most 8).
    """
    global _CLIENT_PID
    check_scheduler(scheduler)
    _CLIENT_PID = os.getpid()
    root = str(worker_cache_root())
    if scheduler == "processes":
        import multiprocessing

        from ._checks import worker_count

        n = worker_count(n_processes)
        key = f"{os.getpid()}-{time.perf_counter_ns()}"
        pool = ProcessPoolExecutor(
            max_workers=n, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_pool_process, initargs=(root, key, shared, warm, warm_args),
        )
        return Executor("processes", n, pool, None, shared, key)
    client, owned = _client_of(scheduler)
    workers = list(client.scheduler_info(n_workers=-1)["workers"]) if _takes_n_workers(client) else list(client.scheduler_info()["workers"])
    if not workers:
        client.wait_for_workers(1)
        workers = list(client.scheduler_info()["workers"])
    # one object, sent to every worker now (a list would be scattered item by item)
    handle = client.scatter([shared], broadcast=True, hash=False)[0] if shared is not None else None
    ex = Executor("dask", len(workers), None, client, handle, "", owns_client=owned)
    fn = warm if warm is not None else _noop
    futures = {
        w: client.submit(_warm, fn, root, handle, *warm_args, workers=[w], allow_other_workers=False, pure=False)
        for w in workers
    }
    try:
        for w, f in futures.items():
            ex.warmup_s[w] = f.result()
    except BaseException:
        ex.close()
        raise
    return ex


def _takes_n_workers(client: Any) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def _noop(_shared: Any, *args: Any) -> None:
    return None


def plan_tasks(n_items: int, item_s: float, n_workers: int, target_s: float = TASK_TARGET_S) -> list[tuple[int, int]]:
    """Cut ``n_items`` into contiguous ``(start, stop)`` ranges of at most about ``target_s``
    seconds of work each (``item_s`` seconds per item), and at least :data:`MIN_TASKS_PER_WORKER`
    ranges per worker when that leaves each at least :data:`MIN_TASK_S` of work."""
    if n_items <= 0:
        return []
    item = max(item_s, 1e-9)
    per_target = max(1, int(target_s / item))
    per_balance = max(1, math.ceil(n_items / (MIN_TASKS_PER_WORKER * max(1, n_workers))))
    per_floor = max(1, int(MIN_TASK_S / item))
    per = min(per_target, max(per_balance, per_floor))
    n_tasks = math.ceil(n_items / per)
    edges = [round(i * n_items / n_tasks) for i in range(n_tasks + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def time_items(run: Callable[[int], Any], n_items: int, budget_s: float = 0.2) -> float:
    """Seconds per item of ``run(k)`` (which processes the first ``k`` items), after one call
    that compiles: one item, then as many as fit in ``budget_s`` if one item is quick."""
    run(1)  # compile (or load from the cache) here, which also seeds the workers' caches
    started = time.perf_counter()
    run(1)
    one = time.perf_counter() - started
    if one >= budget_s / 4 or n_items <= 1:
        return one
    k = int(min(n_items, max(2, budget_s / max(one, 1e-6))))
    started = time.perf_counter()
    run(k)
    return (time.perf_counter() - started) / k


def run_parts(
    ex: Executor,
    fn: Callable[..., Any],
    parts: Sequence[tuple],
    sizes: Sequence[int],
    bar: Any = None,
) -> list[Any]:
    """Run ``fn(shared, *part)`` for every part; results in the parts' order. ``bar`` (tqdm)
    advances by each part's size as it finishes. An error cancels the rest and is raised."""
    futures = ex.submit_many(fn, parts)
    index = {future_key(f): i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(parts)
    try:
        for f in ex.as_completed(futures):
            i = index[future_key(f)]
            results[i] = ex.result(f)
            if bar is not None:
                bar.update(sizes[i])
    except BaseException:
        ex.cancel(futures)
        raise
    return results


def future_key(future: Any) -> Any:
    """What identifies a future: a Dask future's key, else the object itself."""
    key = getattr(future, "key", None)
    return key if isinstance(key, (str, tuple)) else id(future)


def progress_bar(show: bool, total: int, unit: str, desc: str) -> Any:
    """A tqdm bar on stderr, or None."""
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr)
