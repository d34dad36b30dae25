"""Convert Pensieve's pretrained TensorFlow checkpoint into abrkit's shipped policy file.

    python scripts/convert_pensieve_weights.py ../shared/data/models/pensieve/pretrain_linear_reward.ckpt \
        src/abrkit/learned/data/pensieve_actor.npz

Reads the checkpoint with abrkit's own reader (no TensorFlow), keeps the actor's 16 tensors
(shapes and CRC-32C checked; the critic and the optimiser's slots are left out) and writes
them, float32, as a policy file (``abrkit.learned.policy``). The weights are Pensieve's
(MIT licence, Copyright (c) 2017 Pensieve): ship ``PENSIEVE_LICENSE`` next to the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from abrkit.learned.actor import read_actor
from abrkit.learned.policy import load_policy, save_policy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="checkpoint prefix (PREFIX.index and PREFIX.data-00000-of-00001)")
    parser.add_argument("out", type=Path, help="policy file to write (.npz)")
    args = parser.parse_args(argv)
    params = read_actor(args.checkpoint)
    save_policy(
        args.out, params, source="Pensieve test/models/pretrain_linear_reward.ckpt (hongzimao/pensieve, MIT), actor only",
    )
    back = load_policy(args.out)  # the written file must read back to the same values
    for name, value in params.items():
        if not np.array_equal(back.params[name], value):
            raise SystemExit(f"{args.out}: tensor {name} did not round-trip")
    n = sum(v.size for v in params.values())
    print(f"wrote {args.out}: {len(params)} tensors, {n} float32 values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
