"""The first run after installing: the CLI in a new process with an empty Numba cache.

Each sample starts a new ``python`` whose ``NUMBA_CACHE_DIR`` is a new empty directory (set
before Numba is imported, removed at exit), imports abrkit and runs one command line through
``abrkit.cli.main`` on the bundled samples, with the table it prints discarded. So everything
the command needs is compiled from scratch: what a new user's first command pays, and what
every user pays once after an upgrade that changes a kernel (``abrkit._jit`` then drops the
cache). Three commands:

* ``readme_main_job``: the README's first command, ``--controller bb bba0 rate``;
* ``single_controller_bb``: the same with ``--controller bb`` only;
* ``event_model_bolae_sabre``: ``--profile sabre --controller bolae``, the event model;
* ``live_model_l2a``: ``--profile live --controller l2a`` on the Twitch challenge's samples.

``timeraw_*`` is asv's wall time of the statement (interpreter start-up excluded);
``track_cpu_s_*`` the CPU seconds (user + system) of the whole child process, start-up
included, which is the number the compile-time target is stated in and which waiting for a
busy core does not inflate; ``track_python_calls_*`` the Python function calls of the same child
(``cProfile``'s count): most of a cold compile is Numba's Python (typing, lowering, its IR
passes), and this count moves only when the code compiled does, not with the machine's load, so
it shows a change in compile work that timings on a shared machine blur. ``docs/benchmarks.md``
has the numbers.
"""

from __future__ import annotations

import resource
import subprocess
import sys

from ._data import REPO

SAMPLES = REPO / "samples"

#: name -> abrkit command-line arguments (the CLI's argv after ``abrkit``).
COMMANDS: dict[str, list[str]] = {
    "readme_main_job": [
        "simulate", "--traces", str(SAMPLES / "traces"), "--video", str(SAMPLES / "videos" / "synthetic_vbr.json"),
        "--controller", "bb", "bba0", "rate",
    ],
    "single_controller_bb": [
        "simulate", "--traces", str(SAMPLES / "traces"), "--video", str(SAMPLES / "videos" / "synthetic_vbr.json"),
        "--controller", "bb",
    ],
    "event_model_bolae_sabre": [
        "simulate", "--profile", "sabre", "--traces", str(SAMPLES / "traces"),
        "--video", str(SAMPLES / "videos" / "synthetic_vbr.json"), "--controller", "bolae",
    ],
    "live_model_l2a": [
        "simulate", "--profile", "live", "--traces", str(SAMPLES / "twitch" / "traces"),
        "--video", str(SAMPLES / "twitch" / "twitch_normal.json"), "--controller", "l2a",
    ],
}

# Untimed, in the new process before the statement: an empty cache of its own, and no
# settings inherited from the shell that would change what is compiled or cached.
_EMPTY_CACHE = """
import atexit, contextlib, io, os, shutil, tempfile
for _name in ("ABRKIT_NUMBA_CACHE", "ABRKIT_DISABLE_JIT", "NUMBA_DISABLE_JIT", "NUMBA_CACHE_LOCATOR_CLASSES"):
    os.environ.pop(_name, None)
_cache = tempfile.mkdtemp(prefix="abrkit-numba-cache-")
os.environ["NUMBA_CACHE_DIR"] = _cache
os.environ["ABRKIT_QUIET"] = "1"
atexit.register(shutil.rmtree, _cache, True)
"""


def _statement(argv: list[str]) -> str:
    return (
        "from abrkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    _status = main({argv!r})\n"
        "if _status != 0:\n"
        "    raise SystemExit(f'abrkit exited with {_status}')\n"
    )


def _child_cpu_s(argv: list[str]) -> float:
    """CPU seconds (user + system) of a new process that runs ``argv`` on an empty cache."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, "-c", _EMPTY_CACHE + _statement(argv)],
        check=True, stdout=subprocess.DEVNULL,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _child_python_calls(argv: list[str]) -> float:
    """Python function calls (``cProfile``) of a new process that runs ``argv`` on an empty cache,
    from import to exit of the command."""
    profiled = (
        "import cProfile, pstats\n_profile = cProfile.Profile()\n_profile.enable()\n"
        + _statement(argv)
        + "_profile.disable()\nprint(pstats.Stats(_profile).total_calls)\n"
    )
    done = subprocess.run([sys.executable, "-c", _EMPTY_CACHE + profiled], check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


class ColdStartCommands:
    """README command lines in a new process with an empty Numba cache (see module docstring)."""

    repeat = (2, 5, 60.0)  # a sample compiles everything: a few are enough
    number = 1
    warmup_time = 0.0
    processes = 1
    timeout = 900

    def setup(self) -> None:
        if not (SAMPLES / "videos" / "synthetic_vbr.json").is_file():
            raise NotImplementedError(f"the bundled samples are missing: {SAMPLES}")

    def timeraw_readme_main_job(self) -> tuple[str, str]:
        return _statement(COMMANDS["readme_main_job"]), _EMPTY_CACHE

    def timeraw_single_controller_bb(self) -> tuple[str, str]:
        return _statement(COMMANDS["single_controller_bb"]), _EMPTY_CACHE

    def timeraw_event_model_bolae_sabre(self) -> tuple[str, str]:
        return _statement(COMMANDS["event_model_bolae_sabre"]), _EMPTY_CACHE

    def timeraw_live_model_l2a(self) -> tuple[str, str]:
        return _statement(COMMANDS["live_model_l2a"]), _EMPTY_CACHE

    def track_cpu_s_readme_main_job(self) -> float:
        return _child_cpu_s(COMMANDS["readme_main_job"])

    def track_cpu_s_single_controller_bb(self) -> float:
        return _child_cpu_s(COMMANDS["single_controller_bb"])

    def track_cpu_s_event_model_bolae_sabre(self) -> float:
        return _child_cpu_s(COMMANDS["event_model_bolae_sabre"])

    def track_cpu_s_live_model_l2a(self) -> float:
        return _child_cpu_s(COMMANDS["live_model_l2a"])

    def track_python_calls_readme_main_job(self) -> float:
        return _child_python_calls(COMMANDS["readme_main_job"])

    def track_python_calls_event_model_bolae_sabre(self) -> float:
        return _child_python_calls(COMMANDS["event_model_bolae_sabre"])

    track_python_calls_readme_main_job.unit = "calls"  # type: ignore[attr-defined]
    track_python_calls_event_model_bolae_sabre.unit = "calls"  # type: ignore[attr-defined]
    track_cpu_s_readme_main_job.unit = "s"  # type: ignore[attr-defined]
    track_cpu_s_live_model_l2a.unit = "s"  # type: ignore[attr-defined]
    track_cpu_s_single_controller_bb.unit = "s"  # type: ignore[attr-defined]
    track_cpu_s_event_model_bolae_sabre.unit = "s"  # type: ignore[attr-defined]
