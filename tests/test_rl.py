"""abrkit.rl: the Gymnasium environments against the simulator, their spaces, seeding and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from abrkit import Trace, Video, load_traces, run_batch, simulate  # noqa: E402
from abrkit._kernels import layout as L  # noqa: E402
from abrkit.errors import ParameterError  # noqa: E402
from abrkit.profiles import PROFILES, TRAINING_PROFILES  # noqa: E402
from abrkit.rl import LOG_NAMES, AbrEnv, VectorAbrEnv  # noqa: E402

from pathlib import Path  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def sample_traces():
    return load_traces(SAMPLES / "traces")


@pytest.fixture(scope="module")
def vbr():
    return Video.synthetic_vbr([300.0, 750.0, 1200.0, 1850.0, 2850.0, 4300.0], 4.0, 12, seed=3, name="vbr")


def _check(env) -> None:
    with warnings.catch_warnings():
        # gymnasium's notes about render modes and environments made without gymnasium.make
        warnings.filterwarnings("ignore", message=".*render", category=UserWarning)
        check_env(env, skip_render_check=True)


# -- gymnasium's own checks -----------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["default", "pensieve", "pensieve-train"])
def test_check_env(profile, sample_traces, vbr):
    _check(AbrEnv(sample_traces, vbr, profile=profile, seed=5))


def test_spaces(sample_traces, vbr):
    env = AbrEnv(sample_traces, vbr, history=5)
    assert env.action_space == gymnasium.spaces.Discrete(6)
    assert env.observation_space.shape == (4 + 2 * 5 + 6,) and env.observation_space.dtype == np.float32
    vec = VectorAbrEnv(3, sample_traces, vbr, history=5)
    assert vec.action_space.shape == (3,) and vec.single_action_space == env.action_space
    assert vec.observation_space.shape == (3, 20) and vec.single_observation_space == env.observation_space
    assert vec.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP


# -- the environments are the simulator, one chunk per step -------------------------------------------


def _replay_single(env, trace_index, rungs):
    """Play ``rungs`` (the whole session's, chunk 0 included) in ``env`` on trace ``trace_index``;
    returns (log, rewards of the steps, infos)."""
    obs, info = env.reset(options={"trace": trace_index})
    infos = [info]
    rewards = []
    first = 1 if info["chunk"] == 0 else 0
    assert first == (env.profile.initial_rung is not None)
    for k in range(first, len(rungs)):
        obs, reward, terminated, truncated, info = env.step(int(rungs[k]))
        assert env.observation_space.contains(obs)
        assert info["chunk"] == k and not truncated
        assert terminated == (k == len(rungs) - 1)
        rewards.append(reward)
        infos.append(info)
    return env.log.copy(), np.array(rewards), infos


def _assert_same_rows(got, want, what):
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(got, want, err_msg=what)  # bit for bit, NaN where not played


@pytest.mark.parametrize("profile", ["default", "pensieve"])
@pytest.mark.parametrize("controller", ["bb", "bba0", "rate", "robustmpc", "festive"])
def test_single_env_replays_the_simulator(profile, controller, sample_traces, vbr):
    batch = run_batch(sample_traces, vbr, controller, profile, n_workers=1)
    env = AbrEnv(sample_traces, vbr, profile=profile, seed=0)
    for j in range(len(batch)):
        n = int(batch.n_done[j])
        assert n == batch.n_chunks[j]
        rungs = batch.log[j, :n, L.LOG_RUNG].astype(np.int64)
        log, rewards, infos = _replay_single(env, j, rungs)
        _assert_same_rows(log, batch.log[j, :n], f"{controller} on trace {j}")
        want = batch.rewards(j)
        if not batch.qoe.include_first_chunk:
            want[0] = 0.0
        first = n - rewards.size
        np.testing.assert_array_equal(rewards, want[first:])
        for info in infos:
            if info["chunk"] >= 0:
                assert [info[name] for name in LOG_NAMES] == batch.log[j, info["chunk"]].tolist()
                assert info["trace"] == j and info["status"] == "complete"


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_vector_env_replays_the_simulator(profile, sample_traces, vbr):
    controllers = ["bb", "robustmpc", "bba0"]
    batch = run_batch(sample_traces, vbr, controllers, profile, n_workers=1)
    n_envs = len(batch)
    vec = VectorAbrEnv(n_envs, sample_traces, vbr, profile=profile, seed=0)
    obs, info = vec.reset(options={"trace": batch.job_trace})
    assert obs.shape == vec.observation_space.shape and vec.observation_space.contains(obs)
    n = int(batch.n_chunks[0])
    rungs = batch.log[:, :n, L.LOG_RUNG].astype(np.int64)
    first = 1 if profile == "pensieve" else 0
    if first:
        assert np.all(info["chunk"] == 0) and np.all(info["_rung"])
    rewards = []
    for k in range(first, n):
        obs, reward, terminated, truncated, info = vec.step(rungs[:, k])
        assert vec.observation_space.contains(obs)
        assert np.all(info["chunk"] == k) and np.all(info["_delay_s"]) and not truncated.any()
        np.testing.assert_array_equal(info["rung"], rungs[:, k])
        for col, name in enumerate(LOG_NAMES[1:], start=1):
            np.testing.assert_array_equal(info[name], batch.log[:, k, col], err_msg=name)
        assert np.all(terminated == (k == n - 1))
        rewards.append(reward)
    _assert_same_rows(vec.log, batch.log[:, :n], "vector env log")
    want = np.stack([batch.rewards(j) for j in range(n_envs)])
    if not batch.qoe.include_first_chunk:
        want[:, 0] = 0.0
    np.testing.assert_array_equal(np.stack(rewards, axis=1), want[:, first:])


@pytest.mark.shared
def test_pensieve_evaluation_set_replays(norway_traces, envivio):
    """The whole Norway test set under 'pensieve': every row of every session, one vector step per chunk."""
    batch = run_batch(norway_traces, envivio, "robustmpc", "pensieve", n_workers=1)
    vec = VectorAbrEnv(len(batch), norway_traces, envivio, profile="pensieve", include_info=False)
    vec.reset(seed=0, options={"trace": np.arange(len(batch))})
    rungs = batch.log[:, :, L.LOG_RUNG].astype(np.int64)
    for k in range(1, rungs.shape[1]):
        vec.step(rungs[:, k])
    _assert_same_rows(vec.log, batch.log, "norway set")


def test_observation_reads_the_log(sample_traces, vbr):
    """The default observation, recomputed from the log and the video in Python."""
    history = 3
    env = AbrEnv(sample_traces, vbr, profile="default", history=history, seed=2)
    obs, _ = env.reset(options={"trace": 1})
    np.testing.assert_array_equal(obs[:4], [0.0, 0.0, 1.0, 0.0])
    top = vbr.bitrates_bps[-1]
    for k, rung in enumerate([0, 5, 2, 2, 4, 1, 0, 3, 3, 5, 1, 2]):
        obs, *_ = env.step(rung)
        log = env.log[: k + 1]
        want = [log[k, L.LOG_BUFFER_S] / env.profile.buffer_cap_s, rung / 5, (vbr.n_chunks - k - 1) / vbr.n_chunks,
                log[k, L.LOG_REBUFFER_S] / vbr.chunk_s]
        past = [log[c] if c >= 0 else None for c in range(k + 1 - history, k + 1)]
        want += [0.0 if r is None else r[L.LOG_THROUGHPUT_BPS] / top for r in past]
        want += [0.0 if r is None else r[L.LOG_DELAY_S] / vbr.chunk_s for r in past]
        nxt = vbr.sizes_bytes[k + 1] * 8.0 / vbr.chunk_s / top if k + 1 < vbr.n_chunks else np.zeros(6)
        want += list(nxt)
        np.testing.assert_allclose(obs, np.array(want, dtype=np.float32), rtol=1e-6)


# -- autoreset, seeding, training conditions ----------------------------------------------------------


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_autoreset_next_step(profile, sample_traces):
    video = Video.synthetic_vbr([300.0, 1200.0], 2.0, 3, seed=1)
    vec = VectorAbrEnv(2, sample_traces, video, profile=profile, seed=4)
    vec.reset()
    steps = 3 if profile == "default" else 2
    for k in range(steps):
        obs, reward, terminated, truncated, info = vec.step(np.array([1, 0]))
    assert terminated.all()
    final_log = vec.log.copy()
    assert not np.isnan(final_log).any()
    obs, reward, terminated, truncated, info = vec.step(np.array([1, 1]))  # actions ignored: new episodes
    assert not terminated.any() and not truncated.any() and np.all(reward == 0.0)
    assert np.all(obs[:, 2] == np.float32((3 - (steps == 2)) / 3))  # chunks left of the new episode
    if profile == "default":
        assert np.all(info["chunk"] == -1) and not info["_rung"].any() and np.isnan(vec.log).all()
    else:
        assert np.all(info["chunk"] == 0) and np.all(info["rung"] == 1)  # chunk 0 at the initial rung
    obs, reward, terminated, truncated, info = vec.step(np.array([0, 1]))
    assert np.all(info["chunk"] == 1 - (profile == "default"))
    np.testing.assert_array_equal(info["rung"], [0, 1])


def _episode(env, seed, actions):
    obs, info = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, reward, terminated, _, info = env.step(a)
        out += [obs, np.float32(reward)]
        if terminated:
            break
    return np.concatenate([np.ravel(x) for x in out]), env.log.copy()


def test_seeding_is_reproducible(sample_traces, vbr):
    actions = np.random.default_rng(0).integers(0, 6, 40)
    env = AbrEnv(sample_traces, vbr, profile="pensieve-train")
    a1, log1 = _episode(env, 11, actions)
    a2, log2 = _episode(AbrEnv(sample_traces, vbr, profile="pensieve-train"), 11, actions)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(log1, log2)
    b, _ = _episode(env, 12, actions)
    assert not np.array_equal(a1, b)
    # the constructor's seed serves the first reset
    c, _ = _episode(AbrEnv(sample_traces, vbr, profile="pensieve-train", seed=11), None, actions)
    np.testing.assert_array_equal(a1, c)


def test_vector_streams_do_not_depend_on_n_envs(sample_traces, vbr):
    rng = np.random.default_rng(1)
    actions = rng.integers(0, 6, (30, 5))

    def run(n, seed):
        vec = VectorAbrEnv(n, sample_traces, vbr, profile="pensieve-train")
        obs, _ = vec.reset(seed=seed)
        trail = [obs]
        for a in actions:
            obs, reward, terminated, _, info = vec.step(a[:n])
            trail += [obs, reward[:, None], terminated[:, None]]
        return np.concatenate([x.reshape(n, -1).astype(np.float64) for x in trail], axis=1)

    five, three = run(5, 7), run(3, 7)
    np.testing.assert_array_equal(five[:3], three)
    # a list of seeds: environment i plays what AbrEnv seeded with seeds[i] plays
    listed = run(2, [21, 22])
    single = AbrEnv(sample_traces, vbr, profile="pensieve-train")
    obs, _ = single.reset(seed=22)
    np.testing.assert_array_equal(listed[1, : obs.size], obs)
    obs, reward, *_ = single.step(int(actions[0, 1]))
    np.testing.assert_array_equal(listed[1, obs.size : 2 * obs.size], obs)
    assert listed[1, 2 * obs.size] == reward


def test_training_profile_noise_and_start(sample_traces, vbr):
    train = TRAINING_PROFILES["pensieve-train"]
    assert train.random_start and train.delay_noise == (0.9, 1.1)
    assert {k: v for k, v in train.settings().items() if k not in ("profile", "random_start", "delay_noise")} == {
        k: v for k, v in PROFILES["pensieve"].settings().items() if k != "profile"
    }
    trace = sample_traces[0]
    clean = AbrEnv(trace, vbr, profile=train.replace(random_start=False, delay_noise=(1.0, 1.0)))
    _, info = clean.reset(seed=0)
    clean_delay = info["delay_s"]
    noisy = AbrEnv(trace, vbr, profile=train.replace(random_start=False))
    ratios = []
    for seed in range(40):
        _, info = noisy.reset(seed=seed)
        ratios.append(info["delay_s"] / clean_delay)  # same start, same chunk: only the noise differs
        assert info["throughput_bps"] == info["size_bytes"] * 8.0 / info["delay_s"]
    ratios = np.array(ratios)
    assert np.all((ratios >= 0.9 - 1e-12) & (ratios <= 1.1 + 1e-12))
    assert ratios.std() > 0.03  # U(0.9, 1.1) has a standard deviation of 0.058
    starts = AbrEnv(trace, vbr, profile=train.replace(delay_noise=(1.0, 1.0)))
    delays = {starts.reset(seed=s)[1]["delay_s"] for s in range(40)}
    assert len(delays) > 10  # different start points
    many = AbrEnv(sample_traces, vbr, profile=train)
    assert {many.reset(seed=s)[1]["trace"] for s in range(60)} == set(range(len(sample_traces)))


def test_simulate_refuses_a_training_profile(sample_traces, vbr):
    with pytest.raises(ParameterError, match="draws random start points or delay noise"):
        simulate(sample_traces[0], vbr, "bb", TRAINING_PROFILES["pensieve-train"])
    with pytest.raises(ParameterError, match="delay_noise"):
        PROFILES["pensieve"].replace(delay_noise=(1.1, 0.9))


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input(sample_traces, vbr):
    with pytest.raises(ParameterError, match="observation=.pixels. is invalid: must be one of abrkit, pensieve"):
        AbrEnv(sample_traces, vbr, observation="pixels")
    with pytest.raises(ParameterError, match="traces=.* at least one is needed"):
        AbrEnv([], vbr)
    with pytest.raises(ParameterError, match="must be Trace objects"):
        AbrEnv(["trace.txt"], vbr)
    silent = Trace(np.arange(5.0), np.array([1e6, 0.0, 0.0, 0.0, 0.0]), name="silent")  # line 0 is never used
    with pytest.raises(ParameterError, match="traces='silent' is invalid: never delivers a byte as profile 'pensieve'"):
        AbrEnv([sample_traces[0], silent], vbr, profile="pensieve")
    with pytest.raises(ParameterError, match="event-model"):
        AbrEnv(sample_traces, vbr, profile="sabre")
    with pytest.raises(ParameterError, match="unknown profile"):
        AbrEnv(sample_traces, vbr, profile="nope")
    with pytest.raises(ParameterError, match="n_envs=0 is invalid"):
        VectorAbrEnv(0, sample_traces, vbr)
    env = AbrEnv(sample_traces, vbr)
    with pytest.raises(ParameterError, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    for bad in (6, -1, 1.0, True, "2", np.array([1, 2])):
        with pytest.raises(ParameterError, match=r"must be an integer rung in 0\.\.5"):
            env.step(bad)
    env.step(np.int32(2))
    env.step(np.array(3))
    with pytest.raises(ParameterError, match="trace indices run from 0 to 7"):
        env.reset(options={"trace": 8})
    with pytest.raises(ParameterError, match="unknown keys"):
        env.reset(options={"start": 4})
    with pytest.raises(ParameterError, match="seed=-1 is invalid"):
        env.reset(seed=-1)
    vec = VectorAbrEnv(2, sample_traces, vbr)
    vec.reset(seed=1)
    with pytest.raises(ParameterError, match=r"must be 2 integer rungs"):
        vec.step(np.array([1, 2, 3]))
    with pytest.raises(ParameterError, match=r"must be 2 integer rungs"):
        vec.step(np.array([1.0, 2.0]))
    with pytest.raises(ParameterError, match="rungs run from 0 to 5"):
        vec.step(np.array([0, 6]))
    with pytest.raises(ParameterError, match="one per environment"):
        vec.reset(seed=[1, 2, 3])
    with pytest.raises(ParameterError, match="one per environment"):
        vec.reset(options={"trace": [0, 1, 2]})
    while not env.step(0)[2]:
        pass
    with pytest.raises(ParameterError, match="after the episode ended"):
        env.step(0)


def test_splitmix64_known_output():
    """SplitMix64 from state 0: the first outputs published with the generator's reference code."""
    import reference_rlenv

    state, outputs = 0, []
    for _ in range(3):
        state, z = reference_rlenv.splitmix64(state)
        outputs.append(z)
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("profile", ["default", "pensieve"])
def test_benchmark_python_step_does_the_same_work(profile, sample_traces, vbr):
    """The plain-Python step the environment benchmarks compare with logs, scores and observes the same."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_python_env", SAMPLES.parent / "benchmarks" / "_python_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    py = module.PythonAbrEnv(sample_traces, vbr, profile=profile)
    env = AbrEnv(sample_traces, vbr, profile=profile)
    rungs = np.random.default_rng(5).integers(0, 6, vbr.n_chunks)
    for t in range(len(sample_traces)):
        np.testing.assert_array_equal(py.reset(trace=t), env.reset(options={"trace": t})[0])
        for k in range(len(py.log), vbr.n_chunks):  # chunk 0 was played by reset under 'pensieve'
            obs, reward, terminated = py.step(int(rungs[k]))
            e_obs, e_reward, e_terminated, _, _ = env.step(int(rungs[k]))
            np.testing.assert_array_equal(obs, e_obs)
            assert reward == e_reward and terminated == e_terminated
        np.testing.assert_array_equal(np.array(py.log), env.log)


@pytest.mark.parametrize("profile", ["pensieve", "pensieve-train"])
def test_pensieve_observation(profile, sample_traces, vbr):
    """Pensieve's 6 x 8 state, rebuilt the way its test/rl_no_training.py builds it (np.roll, then
    the new column, delays in milliseconds) from the log rows the environment reports, bit for bit."""
    env = AbrEnv(sample_traces, vbr, profile=profile, observation="pensieve", seed=3)
    assert env.observation_space.shape == (6, 8) and env.observation_space.dtype == np.float64
    _check(AbrEnv(sample_traces, vbr, profile=profile, observation="pensieve", seed=3))
    kbps = (vbr.bitrates_bps / 1e3).astype(np.int64)  # Pensieve's VIDEO_BIT_RATE, in kbit/s
    n = vbr.n_chunks
    rungs = np.random.default_rng(2).integers(0, 6, 3 * n)
    step = 0
    for episode in range(3):
        obs, info = env.reset()
        state = np.zeros((6, 8))
        while True:
            k = info["chunk"]
            delay_ms = info["delay_s"] * 1000.0
            state = np.roll(state, -1, axis=1)
            state[0, -1] = kbps[info["rung"]] / float(np.max(kbps))
            state[1, -1] = info["buffer_s"] / 10.0
            state[2, -1] = float(info["size_bytes"]) / float(delay_ms) / 1000.0
            state[3, -1] = float(delay_ms) / 1000.0 / 10.0
            state[4, :6] = vbr.sizes_bytes[k + 1 if k + 1 < n else 0] / 1000.0 / 1000.0
            state[5, -1] = np.minimum(n - k - 1, 48) / 48.0
            np.testing.assert_array_equal(obs, state, err_msg=f"episode {episode}, chunk {k}")
            if k == n - 1:
                break
            obs, reward, terminated, _, info = env.step(int(rungs[step]))
            step += 1
        assert terminated


def test_pensieve_observation_needs_at_most_8_rungs(sample_traces):
    ten = Video.synthetic_vbr([200.0 * 1.4**i for i in range(10)], 4.0, 5, seed=0, name="ten")
    with pytest.raises(ParameterError, match="at most 8 rungs; video 'ten' has 10"):
        AbrEnv(sample_traces, ten, observation="pensieve")
    AbrEnv(sample_traces, ten)  # the default observation has room for any ladder
