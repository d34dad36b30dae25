"""Pensieve's actor network: its tensors, a plain NumPy forward pass, and the packing of its
weights into the flat float32 vector the compiled forward pass reads
(``abrkit._kernels.pensieve_net``).

The NumPy pass is the reference the compiled one is tested against (and the baseline of its
benchmark): it computes the "conv_1d" branches as the real SAME-padded convolution TensorFlow
runs, every tap, padding included, so that the compiled pass's use of one tap is checked,
not assumed.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from .._kernels import pensieve_net as N
from .._kernels.pensieve_obs import S_INFO, S_LEN
from ..errors import ModelFormatError
from .checkpoint import read_checkpoint

__all__ = ["ACTOR_TENSORS", "read_actor", "forward_numpy", "pack_network", "same_padding"]

_H = N.HIDDEN
_A = N.N_ACTIONS
_WIDTH = 4  # filter width of the conv_1d branches

#: The actor's tensors in Pensieve's checkpoint (tflearn names them in creation order) and
#: their shapes. conv_1d filters are (width, 1, in_channels, filters): a 2-D convolution over
#: an inserted axis of size 1.
ACTOR_TENSORS: dict[str, tuple[int, ...]] = {
    "actor/FullyConnected/W": (1, _H),  # row 0's last value
    "actor/FullyConnected/b": (_H,),
    "actor/FullyConnected_1/W": (1, _H),  # row 1's last value
    "actor/FullyConnected_1/b": (_H,),
    "actor/Conv1D/W": (_WIDTH, 1, S_LEN, _H),  # row 2
    "actor/Conv1D/b": (_H,),
    "actor/Conv1D_1/W": (_WIDTH, 1, S_LEN, _H),  # row 3
    "actor/Conv1D_1/b": (_H,),
    "actor/Conv1D_2/W": (_WIDTH, 1, _A, _H),  # row 4's first 6 values
    "actor/Conv1D_2/b": (_H,),
    "actor/FullyConnected_2/W": (1, _H),  # row 4's last value
    "actor/FullyConnected_2/b": (_H,),
    "actor/FullyConnected_3/W": (N.N_MERGE, _H),
    "actor/FullyConnected_3/b": (_H,),
    "actor/FullyConnected_4/W": (_H, _A),
    "actor/FullyConnected_4/b": (_A,),
}


def read_actor(prefix: str | PathLike[str]) -> dict[str, np.ndarray]:
    """The actor's float32 tensors from the TensorFlow checkpoint ``prefix``, every shape
    checked (:class:`~abrkit.errors.ModelFormatError` for a missing tensor or another shape)."""
    ckpt = read_checkpoint(prefix)
    out = {}
    for name, shape in ACTOR_TENSORS.items():
        t = ckpt.tensor(name, shape)
        if t.dtype != np.float32:
            raise ModelFormatError(ckpt.data_path, f"tensor {name!r} is {t.dtype}, expected float32")
        out[name] = t
    return out


def same_padding(length: int, width: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's SAME rule at stride 1 for an input of ``length``
    steps and a filter of ``width`` taps: the output keeps ``length`` steps, so the padding is
    ``(length - 1) + width - length`` in all, the smaller half before."""
    out = length  # ceil(length / stride) with stride 1
    total = max((out - 1) + width - length, 0)
    return total // 2, total - total // 2


def _conv1d_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tflearn conv_1d on a (steps, channels) input, SAME padding, stride 1: (steps, filters)."""
    steps = x.shape[0]
    before, after = same_padding(steps, w.shape[0])
    padded = np.concatenate([np.zeros((before, x.shape[1]), np.float32), x, np.zeros((after, x.shape[1]), np.float32)])
    out = np.empty((steps, w.shape[-1]), np.float32)
    for t in range(steps):
        acc = b.astype(np.float32).copy()
        for tap in range(w.shape[0]):
            acc += padded[t + tap] @ w[tap, 0]
        out[t] = acc
    return out


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0.0))


def forward_numpy(params: dict[str, np.ndarray], state: np.ndarray) -> np.ndarray:
    """Action probabilities (float32, shape (6,)) of the actor ``params`` (as :func:`read_actor`
    returns them) for one history ``state`` (shape (6, 8)), as ``a3c.py``'s graph computes them."""
    s = np.asarray(state, dtype=np.float32).reshape(S_INFO, S_LEN)
    p = params

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return x @ p[f"{name}/W"] + p[f"{name}/b"]

    branches = [
        _relu(dense(s[0:1, -1], "actor/FullyConnected")),
        _relu(dense(s[1:2, -1], "actor/FullyConnected_1")),
        # inputs[:, r:r+1, :] is a sequence of 1 step whose channels are the row's values
        _relu(_conv1d_same(s[2:3, :], p["actor/Conv1D/W"], p["actor/Conv1D/b"])).ravel(),
        _relu(_conv1d_same(s[3:4, :], p["actor/Conv1D_1/W"], p["actor/Conv1D_1/b"])).ravel(),
        _relu(_conv1d_same(s[4:5, :_A], p["actor/Conv1D_2/W"], p["actor/Conv1D_2/b"])).ravel(),
        _relu(dense(s[4:5, -1], "actor/FullyConnected_2")),  # row 4, as the original
    ]
    hidden = _relu(dense(np.concatenate(branches), "actor/FullyConnected_3"))
    logits = dense(hidden, "actor/FullyConnected_4")
    e = np.exp(logits - logits.max())
    return (e / e.sum()).astype(np.float32)


def pack_network(params: dict[str, np.ndarray]) -> np.ndarray:
    """The flat float32 vector of ``pensieve_net`` (``N_NET`` values): dense matrices input-major
    as stored, and of each conv_1d filter bank only tap ``CONV_TAP``, the one that meets the data."""
    net = np.zeros(N.N_NET, dtype=np.float32)

    def put(offset: int, values: np.ndarray) -> None:
        flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
        net[offset : offset + flat.size] = flat

    for name, (w_off, b_off) in {
        "actor/FullyConnected": (N.NET_FC0_W, N.NET_FC0_B),
        "actor/FullyConnected_1": (N.NET_FC1_W, N.NET_FC1_B),
        "actor/FullyConnected_2": (N.NET_FC5_W, N.NET_FC5_B),
        "actor/FullyConnected_3": (N.NET_DENSE_W, N.NET_DENSE_B),
        "actor/FullyConnected_4": (N.NET_OUT_W, N.NET_OUT_B),
    }.items():
        put(w_off, params[f"{name}/W"])
        put(b_off, params[f"{name}/b"])
    for name, (w_off, b_off) in {
        "actor/Conv1D": (N.NET_CONV2_W, N.NET_CONV2_B),
        "actor/Conv1D_1": (N.NET_CONV3_W, N.NET_CONV3_B),
        "actor/Conv1D_2": (N.NET_CONV4_W, N.NET_CONV4_B),
    }.items():
        put(w_off, params[f"{name}/W"][N.CONV_TAP, 0])
        put(b_off, params[f"{name}/b"])
    return net
