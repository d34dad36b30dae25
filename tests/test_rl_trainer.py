"""The NumPy trainer: gradients against finite differences, learning on toy environments, and
a resumed run ending with the same weights as an uninterrupted one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from abrkit.errors import ParameterError
from abrkit.rl.mlp import MLP, Adam
from abrkit.rl.ppo import CHECKPOINT_NAME, CURVE_NAME, PPOConfig, _loss_and_grads, train


class ContextBandit:
    """A vector environment in gymnasium's shape: observe a one-hot context out of ``k``, be paid 1
    for the action equal to it; episodes of ``length`` steps (next-step autoreset)."""

    metadata = {"autoreset_mode": "next_step"}

    def __init__(self, num_envs: int, k: int = 4, length: int = 5) -> None:
        self.num_envs, self.k, self.length = num_envs, k, length
        self.single_observation_space = SimpleNamespace(shape=(k,))
        self.single_action_space = SimpleNamespace(n=k)
        self.rng = np.random.default_rng(0)
        self.ctx = np.zeros(num_envs, dtype=np.int64)
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.pending = np.zeros(num_envs, dtype=bool)

    def _obs(self) -> np.ndarray:
        return np.eye(self.k)[self.ctx]

    def reset(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.ctx = self.rng.integers(self.k, size=self.num_envs)
        self.t[:] = 0
        self.pending[:] = False
        return self._obs(), {}

    def step(self, actions):
        actions = np.asarray(actions)
        reward = (actions == self.ctx).astype(float)
        reward[self.pending] = 0.0
        self.t += 1
        self.t[self.pending] = 0
        done = (self.t >= self.length) & ~self.pending
        self.pending = done.copy()
        self.ctx = self.rng.integers(self.k, size=self.num_envs)
        return self._obs(), reward, done, np.zeros(self.num_envs, dtype=bool), {}


def _numeric_grad(f, arr, eps=1e-6):
    out = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        keep = arr[idx]
        arr[idx] = keep + eps
        hi = f()
        arr[idx] = keep - eps
        lo = f()
        arr[idx] = keep
        out[idx] = (hi - lo) / (2 * eps)
    return out


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_backward_matches_finite_differences(activation):
    rng = np.random.default_rng(1)
    net = MLP.init((5, 7, 6, 3), rng, activation, out_gain=1.0)
    x = rng.standard_normal((11, 5))
    w_out = rng.standard_normal((11, 3))

    def f():
        return float((net(x) * w_out).sum())

    out, inputs = net.forward(x)
    grads = net.backward(inputs, w_out)
    for p, g in zip(net.params(), grads):
        np.testing.assert_allclose(g, _numeric_grad(f, p), rtol=1e-5, atol=1e-7)


def test_ppo_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    actor = MLP.init((4, 8, 3), rng, "tanh", out_gain=1.0)
    critic = MLP.init((4, 8, 1), rng, "tanh", out_gain=1.0)
    x = rng.standard_normal((9, 4))
    a = rng.integers(3, size=9)
    # old log-probabilities both near and far from the current ones: clipped and unclipped terms
    old_logp = np.log(np.full(9, 1 / 3)) + rng.normal(0, 0.5, 9)
    adv = rng.standard_normal(9)
    ret = rng.standard_normal(9)
    cfg = PPOConfig(clip=0.2, value_coef=0.7)

    def f():
        return _loss_and_grads(actor, critic, x, a, old_logp, adv, ret, cfg, 0.03)[0]["loss"]

    parts, grads = _loss_and_grads(actor, critic, x, a, old_logp, adv, ret, cfg, 0.03)
    assert 0.0 < parts["clip_fraction"] < 1.0  # both branches of the clipped objective are exercised
    for p, g in zip(actor.params() + critic.params(), grads):
        np.testing.assert_allclose(g, _numeric_grad(f, p), rtol=1e-4, atol=1e-7)


def test_adam_state_round_trip():
    rng = np.random.default_rng(3)
    p = [rng.standard_normal(4)]
    opt = Adam(p, lr=0.1)
    opt.step([np.ones(4)])
    q = [p[0].copy()]
    other = Adam(q, lr=0.1)
    other.load_state(opt.state())
    opt.step([np.full(4, 2.0)])
    other.step([np.full(4, 2.0)])
    np.testing.assert_array_equal(p[0], q[0])


def test_ppo_learns_a_contextual_bandit():
    env = ContextBandit(16)
    cfg = PPOConfig(hidden=(32,), n_steps=12, minibatch=64, lr=3e-3, lr_final=3e-3, entropy_coef=0.0,
                    entropy_final=0.0, reward_scale=1.0)
    res = train(env, 16 * 12 * 40, config=cfg, seed=5, progress=False)
    obs = np.eye(4)
    assert (res.act(obs) == np.arange(4)).all()
    assert res.curve["reward_per_step"].iloc[-3:].mean() > 0.9 * res.curve["reward_per_step"].max()
    assert res.curve["reward_per_step"].iloc[-1] > 0.8  # a uniform policy earns 0.25 per step
    assert res.curve["reward_per_step"].iloc[0] < 0.5


def test_same_seed_same_weights_and_other_seed_differs():
    cfg = PPOConfig(hidden=(16,), n_steps=6, minibatch=32)
    a = train(ContextBandit(8), 8 * 6 * 3, config=cfg, seed=1, progress=False)
    b = train(ContextBandit(8), 8 * 6 * 3, config=cfg, seed=1, progress=False)
    c = train(ContextBandit(8), 8 * 6 * 3, config=cfg, seed=2, progress=False)
    for p, q in zip(a.actor.params(), b.actor.params()):
        np.testing.assert_array_equal(p, q)
    assert any(not np.array_equal(p, q) for p, q in zip(a.actor.params(), c.actor.params()))


def test_resume_ends_with_the_same_weights(tmp_path):
    cfg = PPOConfig(hidden=(16,), n_steps=6, minibatch=32)
    steps = 8 * 6 * 6
    whole = train(ContextBandit(8), steps, config=cfg, seed=4, progress=False)

    def stop_at_third(actor):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return 0.0

    calls: list[int] = []
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in iteration 3: iterations 1 and 2 are saved
        train(ContextBandit(8), steps, config=cfg, seed=4, out_dir=tmp_path, checkpoint_every_s=0,
              evaluate=stop_at_third, eval_every=1, progress=False)
    again = train(ContextBandit(8), steps, config=cfg, seed=4, out_dir=tmp_path, progress=False)
    assert again.resumed_from == 2
    for p, q in zip(whole.actor.params() + whole.critic.params(), again.actor.params() + again.critic.params()):
        np.testing.assert_array_equal(p, q)
    assert list(again.curve["iteration"]) == list(range(1, 7))
    # the learning-rate schedule depends on the run's length: a checkpoint of another length is refused
    with pytest.raises(ParameterError, match="total_steps"):
        train(ContextBandit(8), 2 * steps, config=cfg, seed=4, out_dir=tmp_path, progress=False)


class TruncatingBandit(ContextBandit):
    """The bandit with same-step autoreset and episodes that end by truncation."""

    metadata = {"autoreset_mode": "same_step"}

    def step(self, actions):
        reward = (np.asarray(actions) == self.ctx).astype(float)
        self.t += 1
        trunc = self.t >= self.length
        final = self._obs()
        self.t[trunc] = 0
        self.ctx = self.rng.integers(self.k, size=self.num_envs)
        return self._obs(), reward, np.zeros(self.num_envs, dtype=bool), trunc, {"final_obs": final}


def test_same_step_autoreset_with_truncation_learns():
    cfg = PPOConfig(hidden=(32,), n_steps=12, minibatch=64, lr=3e-3, lr_final=3e-3, entropy_coef=0.0,
                    entropy_final=0.0, reward_scale=1.0)
    res = train(TruncatingBandit(16), 16 * 12 * 40, config=cfg, seed=5, progress=False)
    assert (res.act(np.eye(4)) == np.arange(4)).all()
    assert res.curve["episodes"].iloc[0] == 16 * 2  # 12 steps of 5-step episodes: 2 ends per env


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    """SIGKILL in the middle of a run; the rerun continues from the last checkpoint."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
        from test_rl_trainer import ContextBandit
        from abrkit.rl.ppo import PPOConfig, train
        cfg = PPOConfig(hidden=(16,), n_steps=6, minibatch=32)
        kill_at = int(sys.argv[1])
        ev = (lambda actor: os.kill(os.getpid(), 9)) if kill_at else None
        train(ContextBandit(8), 8 * 6 * 8, config=cfg, seed=9, out_dir={str(tmp_path)!r}, checkpoint_every_s=0,
              evaluate=ev, eval_every=max(kill_at, 1), progress=False)
    """)
    path = tmp_path / "run.py"
    path.write_text(script)
    killed = subprocess.run([sys.executable, str(path), "5"], capture_output=True)
    assert killed.returncode == -9
    import numpy as np

    with np.load(tmp_path / CHECKPOINT_NAME) as data:
        meta = __import__("json").loads(bytes(data["meta"]).decode())
    assert meta["iteration"] == 4  # iteration 5 died in its evaluation, before its checkpoint
    resumed = subprocess.run([sys.executable, str(path), "0"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    cfg = PPOConfig(hidden=(16,), n_steps=6, minibatch=32)
    whole = train(ContextBandit(8), 8 * 6 * 8, config=cfg, seed=9, progress=False)
    with np.load(tmp_path / CHECKPOINT_NAME) as data:
        for i, p in enumerate(whole.actor.params()):
            np.testing.assert_array_equal(data[f"actor_{i}"], p)
    curve = __import__("pandas").read_csv(tmp_path / CURVE_NAME)
    assert list(curve["iteration"]) == list(range(1, 9))


def test_bad_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not an npz")
    with pytest.raises(ParameterError, match="not a readable abrkit checkpoint"):
        train(ContextBandit(4), 100, config=PPOConfig(hidden=(8,), n_steps=5), out_dir=tmp_path, progress=False)


def test_env_without_vector_interface_is_refused():
    with pytest.raises(ParameterError, match="vector interface"):
        train(object(), 10, progress=False)


def test_pensieve_actor_as_mlp_equals_the_original_network():
    """The masked MLP and Pensieve's graph (the NumPy reference of the compiled pass) give the
    same probabilities, for fresh weights and for the shipped pretrained ones read back."""
    from abrkit.learned.actor import forward_numpy
    from abrkit.rl.pensieve_actor import pensieve_actor, pensieve_tensors

    rng = np.random.default_rng(7)
    actor = pensieve_actor(rng)
    actor.weights[2] *= 100.0  # far from uniform, so a wrong wiring shows
    actor.biases[0][:] = rng.normal(0, 0.1, actor.biases[0].shape)
    states = rng.uniform(0, 2, (5, 6, 8))
    tensors = pensieve_tensors(actor)
    logits = actor(states.reshape(5, 48))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    for s, row in zip(states, p):
        np.testing.assert_allclose(forward_numpy(tensors, s), row, rtol=2e-4, atol=1e-6)


def test_masked_weights_stay_zero_under_training():
    from abrkit.rl.pensieve_actor import pensieve_actor

    rng = np.random.default_rng(8)
    actor = pensieve_actor(rng)
    zero = actor.masks[0] == 0
    opt = Adam(actor.params(), lr=0.1)
    x = rng.standard_normal((4, 48))
    out, inputs = actor.forward(x)
    opt.step(actor.backward(inputs, np.ones_like(out)))
    assert np.all(actor.weights[0][zero] == 0.0)
    assert np.any(actor.weights[0][~zero] != 0.0)


def test_float32_training_learns_and_keeps_its_precision():
    cfg = PPOConfig(hidden=(32,), n_steps=12, minibatch=64, lr=3e-3, lr_final=3e-3, entropy_coef=0.0,
                    entropy_final=0.0, reward_scale=1.0, dtype="float32")
    res = train(ContextBandit(16), 16 * 12 * 40, config=cfg, seed=5, progress=False)
    assert all(p.dtype == np.float32 for p in res.actor.params() + res.critic.params())
    assert (res.act(np.eye(4)) == np.arange(4)).all()


def test_pensieve_actor_needs_pensieve_shaped_observations():
    with pytest.raises(ParameterError, match="6 x 8"):
        train(ContextBandit(4), 100, config=PPOConfig(actor="pensieve"), progress=False)
