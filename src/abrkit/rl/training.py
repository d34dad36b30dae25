"""Training an ABR policy end to end: the vector environment, the PPO trainer, evaluation in the
simulator, and the policy file.

:func:`train_policy` trains Pensieve's actor network (:mod:`abrkit.rl.pensieve_actor`) on
Pensieve's 6 x 8 observation, so the result is a policy file of the same architecture as the
pretrained agent and runs as the compiled controller ``learned:path=FILE`` under every
profile. Next to the file, a directory ``FILE.train/`` keeps the checkpoint (a killed run
started again with the same arguments resumes from it), the learning curve (``curve.csv``) and,
with matplotlib, its plot (``curve.png``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .._checks import integer
from ..errors import ParameterError
from ..learned.controllers import Learned
from ..learned.policy import save_policy
from ..profiles import Profile, get_profile
from ..qoe import QoE, get_qoe
from ..simulation import simulate_many
from ..traces import Trace
from ..video import Video
from .mlp import MLP
from .pensieve_actor import pensieve_tensors
from .ppo import PPOConfig, TrainResult, train

__all__ = ["train_policy", "evaluate_policy", "train_dir", "plot_curve"]

#: What the policy file is observed with (the compiled controller builds the same).
OBSERVATION = "pensieve"


def train_dir(out: str | os.PathLike[str]) -> Path:
    """The directory of a policy file's training state: ``FILE.train/`` next to ``FILE``."""
    out = Path(out)
    return out.with_name(out.name + ".train")


def evaluate_policy(path: str | os.PathLike[str], traces: Iterable[Trace], video: Video,
                    profile: str | Profile = "pensieve", qoe: str | QoE | None = None) -> float:
    """Mean session QoE of the policy file ``path`` (greedy) on ``traces`` under ``profile``,
    as ``abrkit simulate --controller learned:path=... [--qoe NAME]`` reports it: ``qoe`` keeps
    the profile's choice of counting chunk 0 (Pensieve's totals skip it)."""
    prof = get_profile(profile)
    model = prof.qoe if qoe is None else (get_qoe(qoe) if not isinstance(qoe, QoE) else qoe)
    model = model.with_first_chunk(prof.qoe.include_first_chunk)
    table = simulate_many(traces, video, Learned(path=str(path)), profile=prof, qoe=model, progress=False)
    return float(table["qoe"].mean())


def train_policy(
    traces: Iterable[Trace],
    video: Video,
    out: str | os.PathLike[str],
    *,
    steps: int,
    profile: str | Profile = "pensieve-train",
    qoe: str | QoE = "linear",
    n_envs: int = 128,
    seed: int = 0,
    config: PPOConfig | None = None,
    eval_traces: Iterable[Trace] | None = None,
    eval_profile: str | Profile = "pensieve",
    eval_every: int = 20,
    resume: bool = True,
    checkpoint_every_s: float = 30.0,
    progress: bool = True,
) -> TrainResult:
    """Train a policy for ``steps`` environment steps on ``traces`` and ``video`` and write it
    to the policy file ``out``.

    ``profile``: the training conditions (default ``pensieve-train``: Pensieve's ``sim/env.py``,
    a random trace and start per episode, delay noise). ``qoe``: the reward (each chunk's QoE).
    ``eval_traces``: scored every ``eval_every`` iterations and at the end under
    ``eval_profile`` with the greedy policy (the curve's ``eval`` column: mean QoE per session).
    The video must have 6 rungs (Pensieve's output layer). The checkpoint in ``FILE.train/`` is
    written at most every ``checkpoint_every_s`` seconds: a killed or interrupted run loses at
    most that much work, and ``resume`` continues it. The result's ``extra`` holds the policy
    file's path and, with ``eval_traces``, the final mean QoE.
    """
    from .vector import VectorAbrEnv

    integer("steps", steps, ge=1)
    config = config or PPOConfig(actor="pensieve")
    if config.actor != "pensieve":
        raise ParameterError("config.actor", config.actor, "train_policy writes Pensieve-architecture policy files: "
                             "use PPOConfig(actor='pensieve') (or abrkit.rl.ppo.train for other networks)")
    out = Path(out)
    if out.suffix != ".npz":
        raise ParameterError("out", str(out), "a policy file ends in .npz")
    qoe_model = get_qoe(qoe) if not isinstance(qoe, QoE) else qoe
    env = VectorAbrEnv(n_envs, list(traces), video, profile=profile, qoe=qoe_model, observation=OBSERVATION,
                       seed=seed, include_info=False)
    eval_list = list(eval_traces) if eval_traces is not None else None
    ladder_kbps = tuple(float(b) / 1000.0 for b in video.bitrates_bps)
    source = f"abrkit PPO: seed {seed}, {steps} steps, profile {getattr(profile, 'name', profile)}"

    def write(actor: MLP, path: Path) -> None:
        save_policy(path, pensieve_tensors(actor), bitrates_kbps=ladder_kbps, qoe=qoe_model.name, source=source)

    evaluate = None
    if eval_list:
        scratch = Path(tempfile.mkdtemp(prefix="abrkit-eval-"))

        def evaluate(actor: MLP) -> float:
            path = scratch / "policy.npz"
            write(actor, path)
            return evaluate_policy(path, eval_list, video, eval_profile, qoe_model)

    work = train_dir(out)
    try:
        result = train(env, steps, config=config, seed=seed, out_dir=work, resume=resume, evaluate=evaluate,
                       eval_every=eval_every, checkpoint_every_s=checkpoint_every_s, progress=progress)
    finally:
        if eval_list:
            for f in scratch.iterdir():
                f.unlink()
            scratch.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.npz")
    write(result.actor, tmp)
    os.replace(tmp, out)
    result.extra["policy"] = out
    if "eval" in result.curve:
        result.extra["final_eval"] = float(result.curve["eval"].dropna().iloc[-1])
    try:
        plot_curve(result.curve, work / "curve.png")
    except ImportError:
        pass
    return result


def plot_curve(curve: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """The learning curve as a figure: training return per episode and, where scored, the
    evaluation QoE, against environment steps."""
    from .._optional import pyplot
    from ..errors import ToolNotFoundError

    try:
        plt = pyplot()
    except ToolNotFoundError as exc:
        raise ImportError(str(exc)) from None
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(curve["env_steps"], curve["episode_return"], lw=1, label="training return per episode")
    if "eval" in curve and curve["eval"].notna().any():
        ev = curve.dropna(subset=["eval"])
        ax.plot(ev["env_steps"], ev["eval"], "o-", label="evaluation: mean QoE per session")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("QoE")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
