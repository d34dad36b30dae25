"""abrkit emulate with the real browser: a smoke session through a tc-shaped link, a starved link,
a browser that crashes or hangs, and Ctrl-C removing the namespace and the browser.

Skipped, with the reason, only where Chromium or network namespaces are missing (CI is root on
Debian with Chromium installed by .ci/run, so these run there). The stream is made by code, in
seconds: 10 s of ffmpeg's test pattern at 160x90 and 320x180.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from abrkit import cli
from abrkit.emulate import BrowserError, emulate_session, load_stream, make_stream
from abrkit.emulate.cdp import Browser, find_chromium
from abrkit.emulate.link import netns_available
from abrkit.errors import ToolNotFoundError
from abrkit.traces import Trace


def _chromium_or_skip() -> Path:
    try:
        return find_chromium()
    except ToolNotFoundError as err:
        pytest.skip(f"no Chromium: {err}")


def _netns_or_skip() -> None:
    ok, why = netns_available()
    if not ok:
        pytest.skip(f"no network namespaces: {why}")


@pytest.fixture(scope="module")
def stream_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stream(10, ladder=[(150, 160, 90), (500, 320, 180)], fps=12, preset="ultrafast",
                       cache_dir=tmp_path_factory.mktemp("streams"))


def test_smoke_dashjs_through_a_tc_shaped_link(stream_dir: Path) -> None:
    _chromium_or_skip()
    _netns_or_skip()
    stream = load_stream(stream_dir, "dash")
    # 4 s at 1.5 Mbit/s, then 4 s at 200 kbit/s, looped: both rungs are reachable.
    trace = Trace.from_durations([4.0, 4.0], [1.5e6, 2e5], name="steps")
    s = emulate_session(stream, trace, "dashjs", shaper="tc", rtt_s=0.05, stall_limit_s=20)
    t = s.totals
    assert t["status"] == "complete" and t["profile"] == "emulate-tc"
    assert t["chunks"] == stream.video.n_chunks == 5
    played = s.chunks[s.chunks["kind"] == "played"]
    assert list(played["chunk"]) == list(range(5))
    # each played download is exactly the segment file of its rung
    assert np.array_equal(played["size_bytes"].to_numpy(), stream.video.sizes_bytes[np.arange(5), played["rung"]])
    assert (played["latency_s"] >= 0.05 - 0.005).all()  # the server's round trip
    assert (played["delay_s"] > played["latency_s"]).all()
    assert 0 < t["startup_s"] < 20 and t["downloads"] >= 5
    # the tc thread applied the trace's changes on time (within a second on a busy machine)
    times = [a for a, _ in s.rates_applied]
    assert times[0] == 0.0 and all(abs(a - 4.0 * k) < 1.0 for k, a in enumerate(times))
    # the server saw every segment the player reported, with the same bytes
    served = {r.path[len("/media/"):]: r.bytes_sent for r in s.requests if r.path.startswith("/media/") and not r.aborted}
    for k, r in zip(played["chunk"], played["rung"]):
        url = next(u for u, kr in stream.segments.items() if kr == (k, r))
        assert served[url] == stream.video.sizes_bytes[k, r]
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"abrkit-{os.getpid()}-" not in leftover


def test_a_starved_link_is_a_recorded_stall_through_the_cli(stream_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    _chromium_or_skip()
    trace = tmp_path / "starved.txt"
    trace.write_text("0 0.01\n1 0.01\n")  # 10 kbit/s: not one segment in time
    log = tmp_path / "chunks.csv"
    code = cli.main(["emulate", "--traces", str(trace), "--video", str(stream_dir), "--shaper", "server",
                     "--duration-s", "4", "--rtt-s", "0", "--stall-limit-s", "3", "--compare", "--format", "json",
                     "--log", str(log)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "session did not finish: trace starved.txt, status stalled" in err
    rows = json.loads(out)
    assert len(rows) == 1 and rows[0]["emu_status"] == "stalled" and rows[0]["trace"] == "starved.txt"
    assert rows[0]["emu_downloads"] < 2
    # no segment arrived: the log is the chunk table's header alone
    assert log.read_text().splitlines() == ["trace,video,controller,chunk,rung,bitrate_kbps,size_bytes,latency_s,delay_s,"
                                            "buffer_s,rebuffer_s,wait_s,throughput_kbps,request_s,controller_wait_s,"
                                            "reward,kind,first_byte_s,end_s"]


def test_a_browser_that_crashes_or_hangs_is_an_error(tmp_path: Path) -> None:
    crash = tmp_path / "crash"
    crash.write_text("#!/bin/sh\nexit 3\n")
    hang = tmp_path / "hang"
    hang.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 120\n")
    for f in (crash, hang):
        f.chmod(0o755)
    t = time.monotonic()
    with pytest.raises(BrowserError, match="exited|gone"):
        Browser(crash, start_timeout_s=10)
    with pytest.raises(BrowserError, match="no answer from the browser in 2 s"):
        Browser(hang, start_timeout_s=2)
    assert time.monotonic() - t < 30
    # the hung "browser" was ended (and reaped) with its process group
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists()


def _browser_pids(marker: str) -> set[int]:
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    pids.add(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_removes_namespace_server_and_browser(stream_dir: Path, tmp_path: Path, sig: int) -> None:
    _chromium_or_skip()
    _netns_or_skip()
    trace = tmp_path / "t.txt"
    trace.write_text("".join(f"{k} 1.0\n" for k in range(60)))
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the browser's profile goes here: find it by that path
    child = subprocess.Popen(
        [sys.executable, "-m", "abrkit", "emulate", "--traces", str(trace), "--video", str(stream_dir),
         "--shaper", "tc"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 60
        pids: set[int] = set()
        while time.monotonic() < deadline and child.poll() is None:
            pids = _browser_pids(f"--user-data-dir={tmp_path}")
            names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
            if len(pids) >= 2 and f"abrkit-{child.pid}-" in names:
                break
            time.sleep(0.2)
        assert child.poll() is None and pids, "the emulation did not start its browser"
        time.sleep(1.5)  # let the session start playing
        child.send_signal(sig)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "interrupted" in err
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"abrkit-{child.pid}-" not in names
    assert not _browser_pids(f"--user-data-dir={tmp_path}")
    assert not any(tmp_path.glob("abrkit-chromium-*")), "the browser profile was left behind"
