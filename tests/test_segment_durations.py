"""Segments of unequal duration (``Video.durations_s``) in the simulator.

* The chunk model (profiles ``default``, ``pensieve``) plays each chunk for its own duration:
  whole sessions agree with the plain-Python reference decision for decision on random videos
  with unequal durations, for every controller the reference models; the buffer grows by each
  chunk's own duration; the media credited adds up to the sum of the durations.
* A video whose ``durations_s`` are all ``chunk_s``, given explicitly, gives the very results of
  the same video without them (one code path: every video is packed with its durations).
* The offline optimum solves the same model.
* The other player models refuse unequal durations with a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference
from abrkit import ParameterError, Profile, Trace, Video, run_batch, simulate
from abrkit._kernels import layout as L
from abrkit.custom import BuiltinController
from abrkit.optimum import offline_optimum

from test_simulate import CONTROLLER_SPECS, PROFILES, assert_matches_reference

LADDER_KBPS = [300, 750, 1200, 1850, 2850, 4300]


def shot_video(seed: int, n_chunks: int = 30, chunk_s: float = 2.0, name: str = "shots") -> Video:
    """A VBR video cut per shot: chunks from a fifth of ``chunk_s`` to one and a half times it,
    each chunk's sizes in proportion to its duration."""
    rng = np.random.default_rng(seed)
    durations = rng.choice([chunk_s, chunk_s, rng.uniform(0.2, 1.5) * chunk_s], n_chunks)
    durations = np.where(rng.random(n_chunks) < 0.4, rng.uniform(0.2, 1.5, n_chunks) * chunk_s, durations)
    ladder = np.array(LADDER_KBPS, dtype=float) * 1e3
    complexity = np.exp(rng.normal(0.0, 0.35, n_chunks))
    sizes = np.outer(complexity * durations, ladder / 8.0)
    return Video(ladder, chunk_s, sizes, name=name, durations_s=durations)


def random_trace(seed: int) -> Trace:
    rng = np.random.default_rng(seed)
    n = 12
    bw = rng.uniform(3e5, 6e6, n)
    bw[rng.random(n) < 0.15] = 0.0
    bw[0] = 2e6
    lat = None if seed % 2 else rng.uniform(0.0, 0.15, n)
    return Trace.from_durations(rng.uniform(1.0, 8.0, n), bw, latency_s=lat, name=f"t{seed}")


# -- the chunk model against the reference ----------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p if isinstance(p, str) else p.name)
@pytest.mark.parametrize("controller", CONTROLLER_SPECS)
def test_sessions_with_unequal_segments_match_the_reference(controller, profile):
    for seed in range(3):
        video = shot_video(100 + seed, n_chunks=25 if seed else 60)
        assert not video.uniform
        trace = random_trace(seed)
        assert_matches_reference(simulate(trace, video, controller, profile),
                                 reference.simulate_session(trace, video, controller, profile))


def test_python_controllers_play_unequal_segments_as_the_compiled_loop():
    # abrkit.custom.play_session (the Python twin of the loop) with the built-in controllers
    video = shot_video(7)
    traces = [random_trace(s) for s in range(3)]
    for spec in ("robustmpc", "bba1", "bola", "festive", "rate"):
        compiled = run_batch(traces, video, spec)
        python = run_batch(traces, video, BuiltinController(spec))
        np.testing.assert_array_equal(python.log, compiled.log, err_msg=spec)


# -- equal durations given explicitly: the very same results ---------------------------------------


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_explicit_equal_durations_change_nothing(profile):
    base = Video.synthetic_vbr(LADDER_KBPS, 4.0, 49, seed=3)
    explicit = Video(base.bitrates_bps, base.chunk_s, base.sizes_bytes, base.quality, name=base.name,
                     durations_s=np.full(base.n_chunks, 4.0))
    assert explicit.uniform and explicit.duration_s == base.duration_s
    traces = [random_trace(s) for s in range(4)]
    specs = ["bb", "bba0", "rate", "bba1", "mpc", "robustmpc", "festive", "bola", "bolae", "dynamic", "throughput",
             "dashjs", "hlsjs", "l2a", "lolp"]
    a = run_batch(traces, base, specs, profile)
    b = run_batch(traces, explicit, specs, profile)
    np.testing.assert_array_equal(a.log, b.log)  # bit for bit, NaN rows included
    np.testing.assert_array_equal(a.startup_s, b.startup_s)
    pd_a, pd_b = a.summary(), b.summary()
    assert pd_a.equals(pd_b)
    for trace in traces[:2]:
        oa, ob = offline_optimum(trace, base, profile), offline_optimum(trace, explicit, profile)
        assert oa.qoe == ob.qoe and np.array_equal(oa.rung, ob.rung)


# -- what the buffer gains, and the media credited ---------------------------------------------------


def test_the_buffer_grows_by_each_chunks_own_duration():
    video = shot_video(11, n_chunks=40)
    d = video.durations_s
    prof = Profile(buffer_cap_s=86400.0)  # no full-buffer waits
    for spec in ("fixed:rung=5", "bb", "robustmpc"):
        r = simulate(random_trace(4), video, spec, prof)
        assert r.n_chunks == video.n_chunks
        assert r.buffer_s[0] == d[0]  # the first chunk sets the buffer (it is startup, not rebuffering)
        for k in range(1, video.n_chunks):
            assert r.buffer_s[k] == max(r.buffer_s[k - 1] - r.delay_s[k], 0.0) + d[k], (spec, k)
            assert r.rebuffer_s[k] == max(r.delay_s[k] - r.buffer_s[k - 1], 0.0)


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_media_credited_is_the_sum_of_the_durations(profile):
    video = shot_video(12, n_chunks=48)
    for seed in range(3):
        batch = run_batch(random_trace(seed), video, ["bb", "robustmpc", "bba1"], profile)
        for j in range(len(batch)):
            n = int(batch.n_done[j])
            assert n == int(batch.n_chunks[j])
            log = batch.log[j, :n]
            end_s = log[-1, L.LOG_REQUEST_S] + log[-1, L.LOG_DELAY_S] + log[-1, L.LOG_WAIT_S]
            if profile == "default":  # chunk 0's download is startup; playback starts when it is in
                start_s = log[0, L.LOG_REQUEST_S] + log[0, L.LOG_DELAY_S]
                stalls_s = log[1:, L.LOG_REBUFFER_S].sum()
            else:  # pensieve: playback time starts at the first request, chunk 0's download rebuffers
                start_s = log[0, L.LOG_REQUEST_S]
                stalls_s = log[:, L.LOG_REBUFFER_S].sum()
            played_s = end_s - start_s - stalls_s
            credited_s = played_s + log[-1, L.LOG_BUFFER_S]  # played, plus what is left in the buffer
            assert credited_s == pytest.approx(video.durations_s[:n].sum(), rel=1e-9, abs=1e-9)
        # the summary's rebuffer ratio divides by the real media time
        sessions = batch.sessions()
        summary = batch.summary(sessions)
        for c, row in summary.iterrows():
            mine = sessions[sessions["controller"] == row["controller"]]
            media_s = float(np.sum([video.played_s(int(n)) for n in mine["chunks"]]))
            rebuf = float(mine["rebuffer_s"].sum())
            assert row["rebuffer_ratio"] == pytest.approx(rebuf / (rebuf + media_s))


def test_the_optimum_is_exact_and_bounds_the_controllers():
    video = shot_video(13, n_chunks=30)
    for seed in (1, 3, 5):  # traces without per-period latencies (those the optimum relaxes)
        trace = random_trace(seed)
        opt = offline_optimum(trace, video)
        assert opt.exact, opt.reason
        best = run_batch(trace, video, ["bb", "bba0", "rate", "bba1", "robustmpc", "bola"]).sessions()["qoe"].max()
        assert opt.qoe >= best - 1e-9
        # its rung sequence, played with a fixed plan of rungs, has the reported buffer after each chunk
        d = video.durations_s
        assert opt.buffer_s[0] == d[0]
        for k in range(1, video.n_chunks):
            assert opt.buffer_s[k] >= d[k]


# -- the other player models refuse unequal durations --------------------------------------------


@pytest.mark.parametrize("profile", ["sabre", "event", "dashjs", "hlsjs"])
def test_event_model_profiles_refuse_unequal_segments(profile):
    video = shot_video(5, n_chunks=10)
    message = rf"profile '{profile}' .*plays every segment for chunk_s; the chunk model \(profiles 'default' and 'pensieve'"
    with pytest.raises(ParameterError, match=message):
        simulate(random_trace(1), video, "bb", profile)
    # equal durations given explicitly are fine
    equal = Video(video.bitrates_bps, 2.0, video.sizes_bytes, name="equal", durations_s=np.full(10, 2.0))
    assert simulate(random_trace(1), equal, "bb", profile).n_chunks > 0


def test_live_and_rl_refuse_unequal_segments():
    from abrkit.live import run_live_batch
    from abrkit.rl import AbrEnv

    video = shot_video(6, n_chunks=10)
    with pytest.raises(ParameterError, match=r"but the live profile 'live' plays every segment for chunk_s"):
        run_live_batch(random_trace(1), video, "bb")
    rl_message = r"has segments of unequal duration \(.* s, nominal chunk_s=2 s\), but the abrkit\.rl environment plays"
    with pytest.raises(ParameterError, match=rl_message):
        AbrEnv([random_trace(1)], video)


def test_the_error_says_which_profiles_model_unequal_segments():
    video = shot_video(8, n_chunks=5)
    with pytest.raises(ParameterError) as info:
        video.require_uniform("somewhere")
    text = str(info.value)
    assert "video='shots' is invalid" in text and "'default' and 'pensieve'" in text and "offline optimum" in text


# -- the command line ------------------------------------------------------------------------------


def test_cli_simulates_unequal_segments_and_refuses_them_under_sabre(tmp_path, capsys, monkeypatch):
    from abrkit import cli
    from abrkit.traces import write_trace

    import abrkit._jit

    notice = getattr(abrkit._jit, "_notice", None)
    if notice is not None:  # keep the first-compile notice out of stderr
        monkeypatch.setattr(notice, "shown", True, raising=False)
    video = tmp_path / "shots.json"
    shot_video(9, n_chunks=12).to_json(video)
    trace = tmp_path / "trace"
    write_trace(random_trace(3), trace, "cooked")
    code = cli.main(["simulate", "--traces", str(trace), "--video", str(video), "--controller", "bb", "robustmpc",
                     "--optimum"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "video shots: 12 chunks of unequal duration (" in out and "optimum" in out
    code = cli.main(["simulate", "--traces", str(trace), "--video", str(video), "--controller", "bb", "--profile", "sabre"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "profile 'sabre' (the event model) plays every segment for chunk_s" in err and len(err.strip().splitlines()) == 1
