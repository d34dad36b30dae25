"""Pensieve's actor network (``test/a3c.py``) as a trainable :class:`~abrkit.rl.mlp.MLP`, and
its weights in the tensors of a policy file.

The actor's six branches (``abrkit._kernels.pensieve_net`` describes them) are each a dense
layer from a few values of the flattened 6 x 8 history (row-major: row ``r``, column ``c`` is
input ``8 r + c``) to 128 units with ReLU, concatenated: that is one dense layer 48 -> 768 whose
weights are zero outside six blocks, so the whole actor is a three-layer MLP (48 -> 768 -> 128
-> 6) with a mask on its first layer. A policy trained in that form is written with exactly
the tensors of Pensieve's checkpoint and runs as the compiled ``learned`` controller.
"""

from __future__ import annotations

import numpy as np

from .._kernels import pensieve_net as N
from .._kernels.pensieve_obs import S_INFO, S_LEN
from ..learned.actor import ACTOR_TENSORS
from .mlp import MLP, _orthogonal

__all__ = ["BRANCHES", "N_INPUTS", "pensieve_actor", "pensieve_tensors"]

N_INPUTS = S_INFO * S_LEN

#: The branches in merge order: (tensor name prefix, the flattened inputs it reads, a conv_1d?).
BRANCHES: tuple[tuple[str, tuple[int, ...], bool], ...] = (
    ("actor/FullyConnected", (0 * S_LEN + S_LEN - 1,), False),  # row 0's last value
    ("actor/FullyConnected_1", (1 * S_LEN + S_LEN - 1,), False),  # row 1's last value
    ("actor/Conv1D", tuple(range(2 * S_LEN, 3 * S_LEN)), True),  # row 2
    ("actor/Conv1D_1", tuple(range(3 * S_LEN, 4 * S_LEN)), True),  # row 3
    ("actor/Conv1D_2", tuple(range(4 * S_LEN, 4 * S_LEN + N.N_ACTIONS)), True),  # row 4's first 6
    ("actor/FullyConnected_2", (4 * S_LEN + S_LEN - 1,), False),  # row 4's last value (the original's)
)


def pensieve_actor(rng: np.random.Generator, dtype: type = np.float64) -> MLP:
    """A freshly initialised actor: each branch block orthogonal with gain sqrt(2), the merge
    layer likewise, the output layer at gain 0.01 (a near-uniform first policy); zero biases."""
    h = N.HIDDEN
    w1 = np.zeros((N_INPUTS, N.N_MERGE))
    mask = np.zeros((N_INPUTS, N.N_MERGE))
    for k, (_, inputs, _) in enumerate(BRANCHES):
        cols = slice(k * h, (k + 1) * h)
        rows = np.array(inputs)
        w1[rows, cols] = np.sqrt(2.0) * _orthogonal(rng, rows.size, h)
        mask[rows, cols] = 1.0
    w2 = np.sqrt(2.0) * _orthogonal(rng, N.N_MERGE, h)
    w3 = 0.01 * _orthogonal(rng, h, N.N_ACTIONS)
    weights = [w.astype(dtype) for w in (w1, w2, w3)]
    biases = [np.zeros(n, dtype=dtype) for n in (N.N_MERGE, h, N.N_ACTIONS)]
    return MLP(weights, biases, "relu", [mask.astype(dtype), None, None])


def pensieve_tensors(actor: MLP) -> dict[str, np.ndarray]:
    """The actor's weights as Pensieve's checkpoint names and shapes them (float32), ready for
    :func:`abrkit.learned.policy.save_policy`. The conv_1d filter banks get their weights at
    the one tap that meets the data (``CONV_TAP``) and zeros at the others."""
    if actor.sizes != (N_INPUTS, N.N_MERGE, N.HIDDEN, N.N_ACTIONS) or actor.activation != "relu":
        raise ValueError(f"not a Pensieve actor: layers {actor.sizes}, activation {actor.activation}")
    h = N.HIDDEN
    w1, b1 = actor.weights[0], actor.biases[0]
    out: dict[str, np.ndarray] = {}
    for k, (name, inputs, conv) in enumerate(BRANCHES):
        block = w1[np.array(inputs), k * h : (k + 1) * h]
        if conv:
            bank = np.zeros(ACTOR_TENSORS[f"{name}/W"], dtype=np.float32)
            bank[N.CONV_TAP, 0] = block
            out[f"{name}/W"] = bank
        else:
            out[f"{name}/W"] = block.astype(np.float32)
        out[f"{name}/b"] = b1[k * h : (k + 1) * h].astype(np.float32)
    out["actor/FullyConnected_3/W"] = actor.weights[1].astype(np.float32)
    out["actor/FullyConnected_3/b"] = actor.biases[1].astype(np.float32)
    out["actor/FullyConnected_4/W"] = actor.weights[2].astype(np.float32)
    out["actor/FullyConnected_4/b"] = actor.biases[2].astype(np.float32)
    for name, shape in ACTOR_TENSORS.items():
        assert out[name].shape == shape, name
    return out
