"""ffmpeg children die with abrkit, and killed runs' temporary directories are cleaned up (issue 11)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from abrkit.encode import ffmpeg as ffmpeg_module
from abrkit.encode.ffmpeg import FFmpeg, find_ffmpeg, remove_stale_run_dirs, temp_run_dir

LINUX = sys.platform.startswith("linux")


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(text[text.rfind(")") + 2 :].split()[1]) == pid:
            out.append(int(entry))
    return out


def _gone(pid: int) -> bool:
    """No such process, or a zombie (killed, waiting for whichever process reaps orphans)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return text[text.rfind(")") + 2 :].split()[0] in ("Z", "X")


# -- stale temporary directories ----------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="stale directories are only swept on POSIX")
def test_only_dead_owners_directories_are_removed(tmp_path: Path) -> None:
    host = ffmpeg_module._host_tag()
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = ffmpeg_module._process_start(sleeper.pid) or "x"
        names = {
            f"abrkit-ffmpeg-{dead}.x.{host}-a1": False,  # owner gone: removed
            f"abrkit-ladder-{dead}.x.{host}-b2": False,
            f"abrkit-ffmpeg-{sleeper.pid}.{start}.{host}-c3": True,  # owner alive: kept
            f"abrkit-ffmpeg-{os.getpid()}.x.{host}-d4": True,  # this process's own
            f"abrkit-ffmpeg-{dead}.x.{'0' * 8 if host != '0' * 8 else '1' * 8}-e5": True,  # another host's
            "abrkit-ffmpeg-k2j4h5": True,  # not named by this abrkit (an older one): never touched
            f"abrkit-other-{dead}.x.{host}-f6": True,  # not abrkit's prefix
        }
        if LINUX and start != "x":
            # the sleeper's pid with another start time: a recycled pid, so its owner is gone
            names[f"abrkit-ffmpeg-{sleeper.pid}.{int(start) + 1}.{host}-g7"] = False
        for name in names:
            (tmp_path / name).mkdir()
            (tmp_path / name / "encode.log").write_text("x")
        (tmp_path / f"abrkit-ffmpeg-{dead}.x.{host}-file").write_text("a file, not a directory")
        removed = remove_stale_run_dirs(tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(p.name for p in removed) == sorted(n for n, keep in names.items() if not keep)
    for name, keep in names.items():
        assert (tmp_path / name).exists() == keep, name
    assert (tmp_path / f"abrkit-ffmpeg-{dead}.x.{host}-file").is_file()


@pytest.mark.skipif(os.name != "posix", reason="stale directories are only swept on POSIX")
def test_a_killed_runs_directory_is_removed_by_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = (
        "import sys, time\n"
        "from abrkit.encode.ffmpeg import temp_run_dir\n"
        "with temp_run_dir(prefix='abrkit-ladder-') as d:\n"
        "    (d / 'work.mkv').write_bytes(b'x' * 1000)\n"
        "    print(d, flush=True)\n"
        "    time.sleep(120)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    victim = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        left = Path(victim.stdout.readline().strip())  # type: ignore[union-attr]
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        victim.stdout.close()  # type: ignore[union-attr]
    assert left.parent == tmp_path and (left / "work.mkv").exists()  # kill -9 ran no cleanup
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(ffmpeg_module, "_SWEPT", set())
    with temp_run_dir() as mine:
        assert not left.exists()
        assert mine.exists()
    assert not mine.exists()
    assert list(tmp_path.iterdir()) == []


# -- children die with their parent -----------------------------------------------------------------


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux's")
def test_ffmpeg_dies_when_abrkit_is_killed(ff: FFmpeg) -> None:
    # ffmpeg reads a 10-minute source in real time and reports progress only every minute, so
    # without the death signal it would outlive its parent by a minute (the pipe break it would
    # notice comes with the next report).
    code = (
        "import os, sys\n"
        "from abrkit.encode.ffmpeg import find_ffmpeg\n"
        "print(os.getpid(), flush=True)\n"
        "find_ffmpeg().run(['-re', '-stats_period', '60', '-f', 'lavfi', '-i',\n"
        "                   'testsrc2=size=64x64:rate=5:duration=600', '-f', 'null', '-'])\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        children: list[int] = []
        while not children and time.monotonic() < deadline:
            children = [c for c in _children(pid) if "ffmpeg" in Path(f"/proc/{c}/cmdline").read_bytes().decode("utf-8", "replace")]
            time.sleep(0.05)
        assert children, "the helper never started ffmpeg"
        time.sleep(1.0)  # past ffmpeg's start-up writes, which a closed pipe would also end
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 5
    while not all(_gone(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [c for c in children if not _gone(c)]
    for c in survivors:  # do not leave it running if the test fails
        os.kill(c, signal.SIGKILL)
    assert not survivors, "ffmpeg outlived the killed abrkit process"


def test_keyboard_interrupt_kills_and_reaps_ffmpeg(ff: FFmpeg, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen] = []
    real = subprocess.Popen

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        proc = real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(ffmpeg_module.subprocess, "Popen", spy)

    def interrupt(_fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ff.run(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3600", "-f", "null", "-"],
               progress=interrupt, total_s=3600.0)
    assert len(started) == 1 and started[0].returncode is not None  # killed and waited for


def test_runs_without_the_death_signal_where_it_does_not_exist(ff: FFmpeg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg_module, "_PRCTL", None)  # as on macOS and Windows
    assert ffmpeg_module._die_with_parent() is None
    done = ff.run(["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=0.5", "-f", "null", "-"])
    assert done.returncode == 0
    if LINUX:
        monkeypatch.setattr(ffmpeg_module, "_PRCTL", False)  # looked up again: found on Linux
        assert ffmpeg_module._die_with_parent() is not None


def test_a_failed_rendition_stops_the_others(ff: FFmpeg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from abrkit.encode import package

    source = tmp_path / "long.mp4"  # 40 s: the healthy job would encode for seconds
    ff.run(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=40", "-c:v", "libx264", "-preset",
            "ultrafast", "-qp", "0", "-y", str(source)])
    real = package.encode
    outcome: dict[int, str] = {}
    started = threading.Event()

    def encode(src, settings, path, **kwargs):  # type: ignore[no-untyped-def]
        if settings.width == 160:
            started.wait(30)  # fail once the other job runs
            time.sleep(0.5)
            outcome[160] = "failed"
            raise RuntimeError("the small rung failed")
        started.set()
        try:
            result = real(src, settings, path, **kwargs)
        except BaseException as err:
            outcome[320] = type(err).__name__
            raise
        outcome[320] = "finished"
        return result

    monkeypatch.setattr(package, "encode", encode)
    rungs = [{"bitrate_kbps": 100, "width": 160, "height": 90, "crf": 30},
             {"bitrate_kbps": 400, "width": 320, "height": 180, "crf": 20}]
    with pytest.raises(RuntimeError, match="the small rung failed"):
        package.encode_renditions(source, rungs, out_dir=tmp_path / "out", preset="medium", quality=None,
                                  ffmpeg=ff, workers=2)
    assert outcome == {160: "failed", 320: "_Stopped"}  # killed at its next progress report, not run to the end
