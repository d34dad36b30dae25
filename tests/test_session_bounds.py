"""Every session ends: the event model's per-download bound, profile bounds, degenerate ladders.

Regression tests for the hardening issue: below ~1 bit/s the event model used to run a download
for simulated months (minutes of real time, no way out); a one-rung ladder divided by zero in
every event controller; a buffer cap of 1e308 or a latency of 1e300 was accepted and never ended.
"""

from __future__ import annotations

import numpy as np
import pytest
from _interrupt_child import interrupt_when_ready

from abrkit import Trace, Video, simulate
from abrkit.custom import play_event_session
from abrkit.errors import ParameterError
from abrkit.event import EventProfile
from abrkit.profiles import Profile, get_profile

LADDER_BPS = [300e3, 750e3, 1200e3]


def _video(n_chunks: int = 40, ladder=LADDER_BPS) -> Video:
    sizes = np.outer(np.ones(n_chunks), np.asarray(ladder) * 4.0 / 8.0)
    return Video(bitrates_bps=ladder, chunk_s=4.0, sizes_bytes=sizes)


def _good_then_dead(good_s: float = 30.0) -> Trace:
    """A few seconds of 3 Mbit/s, then a day at 1 bit/s (the trace loops after that)."""
    return Trace(time_s=[0.0, good_s], bandwidth_bps=[3e6, 1.0], end_s=good_s + 86_400.0, latency_s=[0.05, 0.05],
                 name="dead-link")


@pytest.mark.parametrize(("profile", "controller"), [("event", "bb"), ("event", "mpc"), ("sabre", "bolae"),
                                                      ("sabre", "throughput"), ("sabre", "bola"), ("event", "dynamic")])
def test_a_download_past_max_download_s_ends_the_session_as_stalled(profile, controller):
    video = _video()
    r = simulate(_good_then_dead(), video, controller, profile=profile)
    assert r.totals["status"] == "stalled"
    played = r.totals["chunks"]
    # what arrived in the good 30 s is played (the first few segments), the rest never is
    assert 0 < played < video.n_chunks
    # the stalled download is not counted: nothing near a day of rebuffering
    assert r.totals["rebuffer_s"] < 600.0


def test_the_bound_is_a_profile_field_and_a_longer_one_lets_the_download_finish():
    video = _video(n_chunks=3, ladder=[300e3])
    # a 150 kB segment at 2 kbit/s takes 600 s + latency: past the default bound, inside 700 s
    slow = Trace(time_s=[0.0], bandwidth_bps=[2000.0], end_s=10_000.0, latency_s=[0.05], name="slow")
    base = get_profile("event")
    assert simulate(slow, video, "bb", profile=base).totals["status"] == "stalled"
    r = simulate(slow, video, "bb", profile=base.replace(max_download_s=700.0))
    assert r.totals["status"] == "complete"
    assert r.totals["chunks"] == 3


def test_a_session_that_stalls_on_its_first_segment_plays_nothing_and_reports_no_nan_crash():
    dead = Trace(time_s=[0.0], bandwidth_bps=[0.1], end_s=1.0, name="0.1 bit/s")
    for profile, controller in (("event", "bb"), ("sabre", "bolae")):
        r = simulate(dead, _video(), controller, profile=profile)
        assert r.totals["status"] == "stalled"
        assert r.totals["chunks"] == 0
        assert r.totals["requests"] == 0


class _Abandoner:
    """A Python controller with an abandonment hook that never abandons."""

    def __init__(self) -> None:
        self.polls = 0

    def decide(self, obs):
        return len(obs.bitrates_bps) - 1

    def abandon(self, download):
        self.polls += 1
        return None


def test_the_python_twin_with_an_abandon_hook_obeys_the_same_bound():
    ctrl = _Abandoner()
    prof = get_profile("event")
    metrics, log, played, status = play_event_session(_good_then_dead(), _video(), ctrl, prof)
    assert status == 1  # EV_STALLED
    assert 0 < played.shape[0] < 40
    # polled every 50 ms for at most max_download_s per download, not for a day
    assert ctrl.polls < 40 * (prof.max_download_s * 1000 / prof.min_progress_ms + 1)


@pytest.mark.parametrize(
    ("profile", "controller"),
    [("default", "bb"), ("pensieve", "mpc"), ("event", "bb"), ("event", "bolae"), ("sabre", "bolae"), ("sabre", "dynamic")],
)
def test_a_one_rung_ladder_plays_under_every_profile(profile, controller):
    video = _video(ladder=[1e6])
    trace = Trace(time_s=[0.0, 50.0], bandwidth_bps=[3e6, 3e6], end_s=100.0, name="flat")
    prof = get_profile(profile)
    if profile == "pensieve":
        prof = prof.replace(initial_rung=0)  # Pensieve starts at rung 1 (refused for one rung, with a clear error)
    r = simulate(trace, video, controller, profile=prof)
    assert r.totals["status"] == "complete"
    assert np.isfinite(r.totals["qoe"])
    assert r.totals["switches"] == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: EventProfile(buffer_cap_s=1e308), r"buffer_cap_s=1e\+308 is invalid: .*<= 86400"),
        (lambda: EventProfile(latency_s=1e300), r"latency_s=1e\+300 is invalid: .*<= 3600"),
        (lambda: EventProfile(max_download_s=0), r"max_download_s=0 is invalid"),
        (lambda: EventProfile(max_download_s=1e9), r"max_download_s=1000000000.0 is invalid: .*<= 86400"),
        (lambda: Profile(rtt_s=1e10), r"rtt_s=10000000000.0 is invalid: .*<= 3600"),
        (lambda: Profile(buffer_cap_s=1e308), r"buffer_cap_s=1e\+308 is invalid"),
        (lambda: Profile(max_download_s=float("inf")), r"max_download_s=inf is invalid"),
    ],
)
def test_profile_values_without_physical_meaning_are_refused(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


@pytest.mark.parametrize("profile", ["default", "event", "sabre"])
def test_chunks_below_one_byte_are_refused_before_simulating(profile):
    # a Video built by hand may hold them (the file readers refuse them with the line)
    video = Video(bitrates_bps=[1e6, 2e6], chunk_s=4.0, sizes_bytes=np.full((3, 2), 1e-320))
    trace = Trace(time_s=[0.0, 50.0], bandwidth_bps=[3e6, 3e6], end_s=100.0)
    with pytest.raises(ParameterError, match=r"sizes_bytes\[0, 0\]=1e-320 is invalid: a simulated chunk holds at least 1 byte"):
        simulate(trace, video, "bb", profile=profile)


_INTERRUPTED = r"""
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background child may inherit SIG_IGN
import numpy as np
from abrkit import Trace, Video, simulate_many
rng = np.random.default_rng(1)
traces = [Trace(time_s=np.arange(50.0), bandwidth_bps=rng.uniform(2e5, 5e6, 50), name=f"t{i}") for i in range(40_000)]
video = Video(bitrates_bps=[3e5, 7.5e5, 1.2e6], chunk_s=4.0, sizes_bytes=np.outer(np.ones(40), [1.5e5, 3.75e5, 6e5]))
simulate_many(traces[:2], video, ["bb"], profile=sys.argv[1])  # compile (or load the cache) first
print("ready", flush=True)
t = time.perf_counter()
try:
    simulate_many(traces, video, ["bb"], profile=sys.argv[1], n_workers=2)
except KeyboardInterrupt:
    print(f"interrupted {time.perf_counter() - t:.3f}", flush=True)
    sys.exit(3)
print(f"finished {time.perf_counter() - t:.3f}", flush=True)
"""


@pytest.mark.parametrize("profile", ["default", "event"])
def test_a_long_batch_stops_soon_after_ctrl_c(profile):
    returncode, out, err, waited = interrupt_when_ready(_INTERRUPTED, profile)
    # the batch is far from done when the signal comes (it takes several seconds in either model)
    assert returncode == 3, out + err
    assert waited < 5.0, f"the batch went on for {waited:.1f} s after Ctrl-C"


def test_a_looped_video_is_bounded_in_chunks():
    video = _video(n_chunks=4)
    assert video.looped(400_000.0).n_chunks == 100_000
    with pytest.raises(ParameterError, match=r"duration_s=1000000000.0 is invalid: 250,000,000 chunks of 4 s; .*at most 100,000"):
        video.looped(1e9)


def test_a_batch_leaves_the_sigint_handler_as_it_found_it():
    import signal

    before = signal.getsignal(signal.SIGINT)
    simulate(Trace(time_s=[0.0, 50.0], bandwidth_bps=[3e6, 3e6], end_s=100.0), _video(n_chunks=3), "bb", profile="event")
    simulate(Trace(time_s=[0.0, 50.0], bandwidth_bps=[3e6, 3e6], end_s=100.0), _video(n_chunks=3), "bb")
    assert signal.getsignal(signal.SIGINT) is before
