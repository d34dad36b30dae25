"""Training benchmark (a script, not an asv suite): PPO on Pensieve's training traces against
RobustMPC and the pretrained Pensieve agent on the Norway HSDPA test traces.

    python benchmarks/train_pensieve.py --steps 8000000 --out /tmp/ppo [--data ../shared/data]

Trains Pensieve's actor network (``abrkit.rl.train_policy``) on ``traces/pensieve-train`` with
the Envivio video under the ``pensieve-train`` profile, scoring the greedy policy on
``traces/norway-hsdpa-test`` under the ``pensieve`` profile as it goes; then simulates, in the
same run and on the same traces, RobustMPC and the pretrained agent (greedy), and prints one
JSON record: the trained policy's mean QoE, the two references, the CPU seconds spent and the
step at which the policy first beat RobustMPC. The learning curve is in OUT/policy.npz.train/
(curve.csv, curve.png). Killed, it resumes where it stopped when run again with the same
arguments. ``--smoke`` runs a few thousand steps (what CI can afford).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

LADDER_KBPS = (300, 750, 1200, 1850, 2850, 4300)


def _cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("ABRKIT_DATA", str(here.parent / "shared" / "data")))
    ap.add_argument("--steps", type=int, default=8_000_000)
    ap.add_argument("--envs", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--out", default="train-pensieve")
    ap.add_argument("--smoke", action="store_true", help="a few thousand steps")
    args = ap.parse_args(argv)

    from abrkit import load_traces, read_video, simulate_many
    from abrkit.rl import PPOConfig, train_policy

    data = Path(args.data)
    train_traces = load_traces(data / "traces" / "pensieve-train")
    test_traces = load_traces(data / "traces" / "norway-hsdpa-test")
    video = read_video(data / "videos" / "envivio", list(LADDER_KBPS))
    steps = 3072 if args.smoke else args.steps
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    cpu0, wall0 = _cpu_s(), time.perf_counter()
    result = train_policy(
        train_traces, video, out / "policy.npz", steps=steps, profile="pensieve-train", qoe="linear",
        n_envs=args.envs, seed=args.seed, config=PPOConfig(actor="pensieve"), eval_traces=test_traces,
        eval_every=args.eval_every, progress=sys.stderr.isatty(),
    )
    cpu_s, wall_s = _cpu_s() - cpu0, time.perf_counter() - wall0

    refs = simulate_many(test_traces, video, ["robustmpc", "pensieve"], profile="pensieve", progress=False)
    ref_qoe = refs.groupby("controller")["qoe"].mean()
    robust = float(ref_qoe[[c for c in ref_qoe.index if c.startswith("robustmpc")][0]])
    pretrained = float(ref_qoe[[c for c in ref_qoe.index if c.startswith("pensieve")][0]])
    curve = result.curve.dropna(subset=["eval"])
    beat = curve[curve["eval"] > robust]
    record = {
        "policy": str(out / "policy.npz"),
        "env_steps": int(result.env_steps),
        "resumed_from_iteration": int(result.resumed_from),
        "trained_mean_qoe": result.extra.get("final_eval"),
        "best_eval_mean_qoe": float(curve["eval"].max()) if len(curve) else None,
        "robustmpc_mean_qoe": robust,
        "pretrained_pensieve_greedy_mean_qoe": pretrained,
        "first_step_beating_robustmpc": int(beat["env_steps"].iloc[0]) if len(beat) else None,
        "cpu_s_this_run": round(cpu_s, 1),
        "wall_s_this_run": round(wall_s, 1),
        "training_seconds_in_curve": round(float(result.curve["seconds"].sum()), 1),
    }
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
