"""``abrkit train``: train an ABR policy with PPO on the simulator and write a policy file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..qoe import QOE_MODELS
from ._args import PROG, HelpFormatter, positive_int
from ._inputs import add_strict_arg, add_video_ladder_args, load_trace_args, load_video
from ._output import write_text

__all__ = ["add_parser", "cmd_train"]


def cmd_train(args: argparse.Namespace) -> int:
    """Run ``abrkit train``; prints a JSON summary (policy file, steps, final scores)."""
    from ..rl.ppo import PPOConfig
    from ..rl.training import train_dir, train_policy

    traces = load_trace_args(args.traces, strict=args.strict)
    video = load_video(args)
    eval_traces = load_trace_args(args.eval_traces, strict=args.strict) if args.eval_traces else None
    config = PPOConfig(actor="pensieve", n_steps=args.rollout_steps, lr=args.lr, lr_final=args.lr / 10)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    result = train_policy(
        traces, video, args.out, steps=args.steps, profile=args.profile, qoe=args.qoe, n_envs=args.envs,
        seed=args.seed, config=config, eval_traces=eval_traces, eval_profile=args.eval_profile,
        eval_every=args.eval_every, resume=not args.restart, progress=progress,
    )
    last = result.curve.iloc[-1]
    summary: dict[str, Any] = {
        "policy": str(result.extra["policy"]),
        "train_dir": str(train_dir(args.out)),
        "env_steps": int(result.env_steps),
        "iterations": int(last["iteration"]),
        "resumed_from_iteration": int(result.resumed_from),
        "final_episode_return": float(last["episode_return"]),
        "final_eval_mean_qoe": result.extra.get("final_eval"),
        "seconds": float(result.curve["seconds"].sum()),
    }
    write_text(json.dumps(summary, indent=2) + "\n", None, sys.stdout)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``train`` to the subcommands ``sub``; returns its parser."""
    from ..profiles import PROFILES, TRAINING_PROFILES

    chunk_profiles = [*TRAINING_PROFILES, *PROFILES]
    p = sub.add_parser(
        "train",
        help="train an ABR policy (PPO) and write a policy file",
        description="Train Pensieve's actor network with PPO on the simulator (abrkit.rl.VectorAbrEnv) and write\n"
        "a policy file that runs as '--controller learned:path=FILE' under every profile. The checkpoint,\n"
        "the learning curve (curve.csv, curve.png) live in FILE.train/; a killed run started again with\n"
        "the same arguments resumes there. Needs the rl extra: pip install 'abrkit[rl]'.",
        formatter_class=HelpFormatter,
        epilog="example:\n  "
        f"{PROG} train --traces traces/pensieve-train --video videos/envivio \\\n"
        "      --bitrates-kbps 300,750,1200,1850,2850,4300 --steps 8000000 --out policy.npz \\\n"
        "      --eval-traces traces/norway-hsdpa-test\n"
        f"  {PROG} simulate --profile pensieve --traces traces/norway-hsdpa-test --video videos/envivio \\\n"
        "      --bitrates-kbps 300,750,1200,1850,2850,4300 --controller robustmpc learned:path=policy.npz",
    )
    g = p.add_argument_group("inputs")
    g.add_argument("--traces", nargs="+", required=True, metavar="PATH", help="training traces (files or directories)")
    add_strict_arg(g)
    g.add_argument("--video", required=True, metavar="PATH", help="the video (6 rungs), as for abrkit simulate")
    add_video_ladder_args(g, "the ladder of a Pensieve directory, e.g. 300,750,1200,1850,2850,4300")
    g.add_argument("--eval-traces", nargs="+", metavar="PATH", default=None,
                   help="traces to score the greedy policy on during training (the curve's eval column)")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=positive_int, required=True, metavar="N", help="environment steps (chunks) in all")
    g.add_argument("--out", required=True, metavar="FILE.npz", help="the policy file to write")
    g.add_argument("--profile", default="pensieve-train", choices=chunk_profiles, metavar="NAME",
                   help=f"training conditions: {', '.join(chunk_profiles)} (default: pensieve-train)")
    g.add_argument("--eval-profile", default="pensieve", choices=list(PROFILES), metavar="NAME",
                   help="profile of the evaluation (default: pensieve)")
    g.add_argument("--qoe", default="linear", choices=list(QOE_MODELS), metavar="NAME",
                   help="the reward: each chunk's QoE under this model (default: linear)")
    g.add_argument("--envs", type=positive_int, default=128, metavar="N", help="environments stepped together (128)")
    g.add_argument("--rollout-steps", type=positive_int, default=48, metavar="N",
                   help="steps per environment per PPO iteration (48)")
    g.add_argument("--lr", type=float, default=1e-3, metavar="X",
                   help="Adam's learning rate, falling linearly to a tenth of it (1e-3)")
    g.add_argument("--eval-every", type=positive_int, default=20, metavar="N", help="iterations between evaluations")
    g.add_argument("--seed", type=int, default=0, metavar="N", help="seed of everything random (0)")
    g.add_argument("--restart", action="store_true", help="ignore a checkpoint in FILE.train/ and start over")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_train)
    return p
