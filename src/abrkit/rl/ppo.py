"""Proximal Policy Optimisation (Schulman et al. 2017) on a vector environment, in NumPy.

The trainer takes any environment with gymnasium's vector interface and a discrete action
space (``num_envs``, ``single_observation_space.shape``, ``single_action_space.n``,
``reset(seed=)``, ``step(actions)``); it does not import gymnasium itself.

What makes a run reproducible and resumable: every iteration starts with ``env.reset`` seeded
from (seed, iteration) and draws its actions and minibatches from a generator seeded the same
way, so the state between two iterations is only the networks, the optimiser's moments and the
learning curve. A checkpoint holds exactly that; a run killed at any point and started again
with the same arguments continues from its last checkpoint and ends with the same weights as
one that never stopped.

The loss is the clipped surrogate, plus ``value_coef`` x the squared error of a separate value
network, minus ``entropy_coef`` x the policy's entropy; advantages by GAE(lambda), normalised
per batch; Adam with a gradient-norm clip per network; learning rate and entropy weight annealed
linearly over the run.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .._checks import integer, number
from ..errors import ParameterError
from .._kernels.pensieve_net import N_ACTIONS
from .mlp import MLP, Adam
from .pensieve_actor import N_INPUTS, pensieve_actor

__all__ = ["PPOConfig", "TrainResult", "train", "CHECKPOINT_NAME", "CURVE_NAME"]

CHECKPOINT_NAME = "checkpoint.npz"
CURVE_NAME = "curve.csv"
_FORMAT = "abrkit-ppo-checkpoint/1"


@dataclass(frozen=True)
class PPOConfig:
    """Hyper-parameters of :func:`train` (defaults suit a Pensieve-sized problem).

    ``actor``: ``"mlp"`` (layers ``hidden``) or ``"pensieve"`` (Pensieve's actor network,
    :mod:`abrkit.rl.pensieve_actor`: 6 x 8 observations, 6 actions; a policy file of it runs as
    the compiled ``learned`` controller); the value network is an MLP of layers ``hidden``.
    ``dtype``: the arithmetic of both networks (float32 is about twice as fast).
    ``n_steps`` steps per environment per iteration (a batch is ``n_steps x num_envs``);
    ``lr`` and ``entropy_coef`` fall linearly to ``lr_final`` / ``entropy_final`` by the last
    iteration; rewards are multiplied by ``reward_scale`` before learning (the curve reports
    them unscaled).
    """

    actor: str = "mlp"
    hidden: tuple[int, ...] = (128, 128)
    activation: str = "relu"
    dtype: str = "float32"
    n_steps: int = 48
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    epochs: int = 8
    minibatch: int = 4096
    lr: float = 1e-3
    lr_final: float = 1e-4
    entropy_coef: float = 0.05
    entropy_final: float = 0.005
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    reward_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.actor not in ("mlp", "pensieve"):
            raise ParameterError("actor", self.actor, "must be 'mlp' or 'pensieve'")
        if self.dtype not in ("float32", "float64"):
            raise ParameterError("dtype", self.dtype, "must be 'float32' or 'float64'")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        for i, h in enumerate(self.hidden):
            integer(f"hidden[{i}]", h, ge=1)
        for name in ("n_steps", "epochs", "minibatch"):
            integer(name, getattr(self, name), ge=1)
        for name in ("gamma", "gae_lambda"):
            number(name, getattr(self, name), ge=0, le=1)
        for name in ("clip", "lr", "reward_scale"):
            number(name, getattr(self, name), gt=0)
        for name in ("lr_final", "entropy_coef", "entropy_final", "value_coef", "max_grad_norm"):
            number(name, getattr(self, name), ge=0)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PPOConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "hidden" else v) for k, v in data.items() if k in names})


@dataclass
class TrainResult:
    """What :func:`train` returns: the policy (``actor``: observation -> action logits), the value
    network, the learning curve (one row per iteration) and where the checkpoint is."""

    actor: MLP
    critic: MLP
    curve: pd.DataFrame
    config: PPOConfig
    seed: int
    env_steps: int
    resumed_from: int = 0
    checkpoint: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions for a batch of observations ``(n, *obs_shape)``."""
        obs = np.asarray(obs, dtype=np.float64)
        return self.actor(obs.reshape(obs.shape[0], -1)).argmax(axis=1)


def train(
    env: Any,
    total_steps: int,
    *,
    config: PPOConfig | None = None,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    checkpoint_every_s: float = 30.0,
    evaluate: Callable[[MLP], float] | None = None,
    eval_every: int = 10,
    blas_threads: int | None = 1,
    progress: bool = True,
) -> TrainResult:
    """Train a policy on ``env`` for ``total_steps`` environment steps (rounded up to whole
    iterations of ``config.n_steps x env.num_envs``).

    ``out_dir``: where the checkpoint (``checkpoint.npz``) and the learning curve
    (``curve.csv``) are written, atomically, at most every ``checkpoint_every_s`` seconds and at
    the end; with ``resume`` a checkpoint already there (same settings, else an error naming the
    difference) is continued. ``evaluate(actor)``, if given, scores the current policy every
    ``eval_every`` iterations and at the end (the curve's ``eval`` column; e.g. the mean QoE of
    the greedy policy on test traces).
    """
    config = config or PPOConfig()
    integer("total_steps", total_steps, ge=1)
    integer("seed", seed, ge=0)
    integer("eval_every", eval_every, ge=1)
    n_envs, obs_dim, n_actions = _env_dims(env)
    batch = config.n_steps * n_envs
    n_iter = max(1, math.ceil(total_steps / batch))

    init_rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    dtype = np.dtype(config.dtype).type
    if config.actor == "pensieve":
        if (obs_dim, n_actions) != (N_INPUTS, N_ACTIONS):
            raise ParameterError("config.actor", "pensieve", f"needs {N_INPUTS} observation values and {N_ACTIONS} "
                                 f"actions (the 6 x 8 history, 6 rungs); the environment has {obs_dim} and {n_actions}")
        actor = pensieve_actor(init_rng, dtype)
    else:
        actor = MLP.init((obs_dim, *config.hidden, n_actions), init_rng, config.activation, out_gain=0.01, dtype=dtype)
    critic = MLP.init((obs_dim, *config.hidden, 1), init_rng, config.activation, out_gain=1.0, dtype=dtype)
    opt = Adam(actor.params() + critic.params(), lr=config.lr)
    rows: list[dict[str, float]] = []
    start_it = 0

    ckpt = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
    meta = {"format": _FORMAT, "config": config.to_json(), "seed": seed, "total_steps": int(total_steps),
            "n_envs": n_envs, "obs_dim": obs_dim, "n_actions": n_actions}
    if ckpt is not None:
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        if resume and ckpt.exists():
            start_it, rows = _load_checkpoint(ckpt, meta, actor, critic, opt)

    autoreset = _autoreset_mode(env)
    with _blas_limit(blas_threads):
        return _train_loop(env, config, seed, n_iter, batch, start_it, rows, actor, critic, opt, ckpt, meta,
                           autoreset, checkpoint_every_s, evaluate, eval_every, progress)


def _blas_limit(threads: int | None) -> Any:
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    integer("blas_threads", threads, ge=1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _train_loop(env: Any, config: PPOConfig, seed: int, n_iter: int, batch: int, start_it: int,
                rows: list[dict[str, float]], actor: MLP, critic: MLP, opt: Adam, ckpt: Path | None,
                meta: dict[str, Any], autoreset: str, checkpoint_every_s: float,
                evaluate: Callable[[MLP], float] | None, eval_every: int, progress: bool) -> TrainResult:
    last_save = time.monotonic()
    from tqdm.auto import tqdm

    bar = tqdm(total=n_iter * batch, initial=start_it * batch, disable=not progress, unit="step", desc="train",
               file=sys.stderr)
    try:
        for it in range(start_it, n_iter):
            t0 = time.perf_counter()
            frac = it / max(n_iter - 1, 1)
            lr = config.lr + frac * (config.lr_final - config.lr)
            ent = config.entropy_coef + frac * (config.entropy_final - config.entropy_coef)
            rng = np.random.default_rng(np.random.SeedSequence([seed, 1, it]))
            roll = _rollout(env, actor, critic, config, int(rng.integers(2**31)), rng, autoreset)
            stats = _update(actor, critic, opt, roll, config, lr, ent, rng)
            row = {"iteration": it + 1, "env_steps": (it + 1) * batch, **roll.stats, **stats,
                   "seconds": time.perf_counter() - t0}
            if evaluate is not None and ((it + 1) % eval_every == 0 or it + 1 == n_iter):
                row["eval"] = float(evaluate(actor))
            rows.append(row)
            bar.update(batch)
            bar.set_postfix(ret=f"{row['episode_return']:.2f}", refresh=False)
            if ckpt is not None and (time.monotonic() - last_save >= checkpoint_every_s or it + 1 == n_iter):
                _save_checkpoint(ckpt, meta, it + 1, actor, critic, opt, rows)
                last_save = time.monotonic()
    finally:
        bar.close()
    curve = pd.DataFrame(rows)
    return TrainResult(actor, critic, curve, config, seed, n_iter * batch, start_it, ckpt)


# -- one iteration --------------------------------------------------------------------------------


@dataclass
class _Rollout:
    obs: np.ndarray  # (T, N, D)
    actions: np.ndarray  # (T, N)
    logp: np.ndarray  # (T, N)
    advantages: np.ndarray  # (T, N)
    returns: np.ndarray  # (T, N)
    valid: np.ndarray  # (T, N): False on the steps that only reset an environment
    stats: dict[str, float]


def _rollout(env, actor: MLP, critic: MLP, config: PPOConfig, reset_seed: int, rng: np.random.Generator,
             autoreset: str) -> _Rollout:
    T = config.n_steps
    dtype = actor.weights[0].dtype
    obs, _ = env.reset(seed=reset_seed)
    obs = _flat(obs, dtype)
    N, D = obs.shape
    all_obs = np.empty((T + 1, N, D), dtype=dtype)
    actions = np.empty((T, N), dtype=np.int64)
    logp = np.empty((T, N))
    rewards = np.empty((T, N))
    term = np.zeros((T, N), dtype=bool)
    done = np.zeros((T, N), dtype=bool)
    valid = np.ones((T, N), dtype=bool)
    final_v = np.full((T, N), np.nan)  # same-step autoreset: value of the true last observation
    ep_sum = np.zeros(N)
    ep_returns: list[float] = []
    resetting = np.zeros(N, dtype=bool)
    for t in range(T):
        all_obs[t] = obs
        logits = actor(obs)
        lp = _log_softmax(logits)
        u = rng.random(N)
        a = np.minimum((np.cumsum(np.exp(lp), axis=1) < u[:, None]).sum(axis=1), lp.shape[1] - 1)
        actions[t] = a
        logp[t] = lp[np.arange(N), a]
        obs, r, te, tr, info = env.step(a)
        obs = _flat(obs, dtype)
        r = np.asarray(r, dtype=np.float64)
        te = np.asarray(te, dtype=bool)
        tr = np.asarray(tr, dtype=bool)
        if autoreset == "next_step":
            valid[t] = ~resetting
            resetting = te | tr
            r = np.where(valid[t], r, 0.0)
        rewards[t] = r
        term[t] = te
        done[t] = te | tr
        ep_sum += r
        for i in np.flatnonzero(done[t]):
            ep_returns.append(float(ep_sum[i]))
            ep_sum[i] = 0.0
        if autoreset == "same_step" and (tr & ~te).any():
            final = _flat(np.stack([info["final_obs"][i] for i in np.flatnonzero(tr & ~te)]), dtype)
            final_v[t, tr & ~te] = critic(final)[:, 0]
    all_obs[T] = obs
    values = critic(all_obs.reshape((T + 1) * N, D))[:, 0].reshape(T + 1, N)
    next_v = values[1:].copy()
    if autoreset == "same_step":  # the observation after a done step is already the next episode's
        next_v[done] = 0.0
        fix = ~np.isnan(final_v)
        next_v[fix] = final_v[fix]
    next_v[term] = 0.0
    scaled = rewards * config.reward_scale
    delta = scaled + config.gamma * next_v - values[:-1]
    adv = np.zeros((T, N))
    acc = np.zeros(N)
    for t in range(T - 1, -1, -1):
        acc = delta[t] + config.gamma * config.gae_lambda * np.where(done[t], 0.0, acc)
        adv[t] = acc
    stats = {
        "episode_return": float(np.mean(ep_returns)) if ep_returns else float("nan"),
        "episodes": float(len(ep_returns)),
        "reward_per_step": float(rewards[valid].mean()),
    }
    return _Rollout(all_obs[:T], actions, logp, adv, adv + values[:-1], valid, stats)


def _update(actor: MLP, critic: MLP, opt: Adam, roll: _Rollout, config: PPOConfig, lr: float, ent_coef: float,
            rng: np.random.Generator) -> dict[str, float]:
    keep = roll.valid.reshape(-1)
    obs = roll.obs.reshape(-1, roll.obs.shape[-1])[keep]
    actions = roll.actions.reshape(-1)[keep]
    old_logp = roll.logp.reshape(-1)[keep]
    ret = roll.returns.reshape(-1)[keep]
    adv = roll.advantages.reshape(-1)[keep]
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    # everything the networks meet in their own precision: a float64 operand would make NumPy
    # upcast every float32 product
    adv, ret, old_logp = (x.astype(obs.dtype) for x in (adv, ret, old_logp))
    n = obs.shape[0]
    sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
    count = 0
    for _ in range(config.epochs):
        order = rng.permutation(n)
        for lo in range(0, n, config.minibatch):
            mb = order[lo : lo + config.minibatch]
            parts, grads = _loss_and_grads(actor, critic, obs[mb], actions[mb], old_logp[mb], adv[mb], ret[mb],
                                           config, ent_coef)
            # each network's gradient clipped on its own: the value loss's gradient can be orders
            # larger than the policy's, and a joint norm would shrink the policy's step to nothing
            n_actor = len(actor.params())
            grads = _clip_norm(grads[:n_actor], config.max_grad_norm) + _clip_norm(grads[n_actor:], config.max_grad_norm)
            opt.step(grads, lr)
            for k in sums:
                sums[k] += parts[k]
            count += 1
    out = {k: v / count for k, v in sums.items()}
    out["lr"] = lr
    out["entropy_coef"] = ent_coef
    return out


def _loss_and_grads(actor: MLP, critic: MLP, x: np.ndarray, a: np.ndarray, old_logp: np.ndarray, A: np.ndarray,
                    ret: np.ndarray, config: PPOConfig, ent_coef: float) -> tuple[dict[str, float], list[np.ndarray]]:
    """The minibatch loss (its parts, and ``loss``, the total) and its gradient in the order
    ``actor.params() + critic.params()``."""
    m = x.shape[0]
    logits, a_in = actor.forward(x)
    lp_all = _log_softmax(logits)
    p = np.exp(lp_all)
    log_ratio = lp_all[np.arange(m), a] - old_logp
    ratio = np.exp(log_ratio)
    unclipped = ratio * A
    clipped = np.clip(ratio, 1.0 - config.clip, 1.0 + config.clip) * A
    active = unclipped <= clipped  # where the minimum is the unclipped term, it has a gradient
    d_logp = np.where(active, -A * ratio, 0.0) / m
    d_logits = -d_logp[:, None] * p
    d_logits[np.arange(m), a] += d_logp
    entropy = -(p * lp_all).sum(axis=1)
    d_logits += ent_coef * p * (lp_all + entropy[:, None]) / m  # -ent_coef x d(mean H)/d logits
    v, c_in = critic.forward(x)
    err = v[:, 0] - ret
    grads = actor.backward(a_in, d_logits) + critic.backward(c_in, (config.value_coef * err / m)[:, None])
    parts = {
        "policy_loss": float(-np.minimum(unclipped, clipped).mean()),
        "value_loss": float(0.5 * (err * err).mean()),
        "entropy": float(entropy.mean()),
        "approx_kl": float(((ratio - 1.0) - log_ratio).mean()),
        "clip_fraction": float((np.abs(ratio - 1.0) > config.clip).mean()),
    }
    parts["loss"] = parts["policy_loss"] + config.value_coef * parts["value_loss"] - ent_coef * parts["entropy"]
    return parts, grads


# -- helpers --------------------------------------------------------------------------------------


def _clip_norm(grads: list[np.ndarray], max_norm: float) -> list[np.ndarray]:
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
    if norm > max_norm > 0.0:
        return [g * (max_norm / norm) for g in grads]
    return grads


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _flat(obs: Any, dtype: Any = np.float64) -> np.ndarray:
    obs = np.asarray(obs, dtype=dtype)
    return obs.reshape(obs.shape[0], -1)


def _env_dims(env: Any) -> tuple[int, int, int]:
    try:
        n_envs = int(env.num_envs)
        obs_dim = int(np.prod(env.single_observation_space.shape))
        n_actions = int(env.single_action_space.n)
    except AttributeError as exc:
        raise ParameterError("env", type(env).__name__,
                             "needs gymnasium's vector interface with a discrete action space "
                             f"(num_envs, single_observation_space, single_action_space.n): {exc}") from None
    return n_envs, obs_dim, n_actions


def _autoreset_mode(env: Any) -> str:
    """'next_step' (gymnasium's default: the step after a done one only resets) or 'same_step'."""
    mode = getattr(env, "metadata", {}).get("autoreset_mode", "next_step")
    # gymnasium's AutoresetMode values are "NextStep" / "SameStep"
    name = {"nextstep": "next_step", "samestep": "same_step"}.get(
        str(getattr(mode, "value", mode)).lower().replace("_", "").replace("-", ""), str(mode))
    if name not in ("next_step", "same_step"):
        raise ParameterError("env.metadata['autoreset_mode']", name, "the trainer handles next_step and same_step")
    return name


def _save_checkpoint(path: Path, meta: dict[str, Any], iteration: int, actor: MLP, critic: MLP, opt: Adam,
                     rows: list[dict[str, float]]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, net in (("actor", actor), ("critic", critic)):
        for i, p in enumerate(net.params()):
            arrays[f"{name}_{i}"] = p
    for k, v in opt.state().items():
        arrays[f"adam_{k}"] = v
    info = dict(meta, iteration=iteration, curve=rows)
    arrays["meta"] = np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # a kill leaves the previous checkpoint whole
    curve_tmp = path.with_name(f".{CURVE_NAME}.{os.getpid()}.tmp")
    pd.DataFrame(rows).to_csv(curve_tmp, index=False)
    os.replace(curve_tmp, path.with_name(CURVE_NAME))


def _load_checkpoint(path: Path, meta: dict[str, Any], actor: MLP, critic: MLP,
                     opt: Adam) -> tuple[int, list[dict[str, float]]]:
    try:
        with np.load(path) as data:
            info = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except Exception as exc:  # a torn or foreign file: say which, never train over it silently
        raise ParameterError("checkpoint", str(path), f"is not a readable abrkit checkpoint ({exc}); "
                             "remove it to start over") from None
    for key, want in meta.items():
        if info.get(key) != want:
            raise ParameterError("checkpoint", str(path),
                                 f"was made with {key}={info.get(key)!r}, this run has {key}={want!r}; "
                                 "use another output directory or the same settings")
    try:
        for name, net in (("actor", actor), ("critic", critic)):
            for i, p in enumerate(net.params()):
                p[...] = arrays[f"{name}_{i}"]
        opt.load_state({k[len("adam_"):]: v for k, v in arrays.items() if k.startswith("adam_")})
    except (KeyError, ValueError) as exc:
        raise ParameterError("checkpoint", str(path), f"is missing or has misshapen arrays ({exc})") from None
    return int(info["iteration"]), list(info["curve"])
