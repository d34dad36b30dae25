"""A small multilayer perceptron in NumPy, with hand-written gradients and Adam, for the trainer.

Why not a framework: the networks an ABR policy needs are tiny (tens of inputs, two hidden
layers of 64-256 units, a handful of outputs), so a batch's forward and backward pass is a few
matrix products that NumPy's BLAS does as fast as any framework on a CPU, and abrkit keeps its
dependencies to what installs in seconds.

Shapes: a batch of inputs is ``(n, n_in)``; layer ``i`` has weights ``(n_in_i, n_out_i)`` and
biases ``(n_out_i,)``; hidden layers apply the activation, the last layer is linear. A layer may
carry a 0/1 mask of its weights' shape: masked weights stay zero (their gradient is zeroed),
which is how a network of separate branches, such as Pensieve's actor, is one MLP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["MLP", "Adam", "ACTIVATIONS"]

ACTIVATIONS = ("relu", "tanh")


@dataclass
class MLP:
    """Weights and biases of a fully connected network (see the module docstring)."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str = "relu"
    masks: list[np.ndarray | None] | None = None

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ParameterError("activation", self.activation, f"must be one of {', '.join(ACTIVATIONS)}")
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ParameterError("weights", len(self.weights), "needs one bias vector per weight matrix, >= 1 layer")
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise ParameterError(f"layer {i}", (w.shape, b.shape), "weights (n_in, n_out) and biases (n_out,)")
            if i and w.shape[0] != self.weights[i - 1].shape[1]:
                raise ParameterError(f"layer {i}", w.shape, f"takes {self.weights[i - 1].shape[1]} inputs")
        if self.masks is not None:
            if len(self.masks) != len(self.weights):
                raise ParameterError("masks", len(self.masks), f"needs one entry (or None) per layer, {len(self.weights)}")
            for i, (w, m) in enumerate(zip(self.weights, self.masks)):
                if m is not None:
                    if m.shape != w.shape:
                        raise ParameterError(f"masks[{i}]", m.shape, f"must have the weights' shape {w.shape}")
                    w *= m

    @classmethod
    def init(cls, sizes: tuple[int, ...] | list[int], rng: np.random.Generator, activation: str = "relu",
             out_gain: float = 1.0, dtype: type = np.float64) -> "MLP":
        """A network with layer widths ``sizes`` (inputs first, outputs last), orthogonal weights
        (gain sqrt(2) on hidden layers, ``out_gain`` on the last: 0.01 makes a policy start
        near uniform), zero biases, arrays of ``dtype``."""
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ParameterError("sizes", tuple(sizes), "needs >= 2 positive layer widths")
        weights, biases = [], []
        for i in range(len(sizes) - 1):
            gain = out_gain if i == len(sizes) - 2 else np.sqrt(2.0)
            weights.append((gain * _orthogonal(rng, int(sizes[i]), int(sizes[i + 1]))).astype(dtype))
            biases.append(np.zeros(int(sizes[i + 1]), dtype=dtype))
        return cls(weights, biases, activation)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.weights[0].shape[0],) + tuple(w.shape[1] for w in self.weights)

    def params(self) -> list[np.ndarray]:
        """Every parameter array, in a fixed order (W0, b0, W1, b1, ...); views, not copies."""
        out: list[np.ndarray] = []
        for w, b in zip(self.weights, self.biases):
            out += [w, b]
        return out

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Outputs ``(n, n_out)`` and what ``backward`` needs (each layer's input)."""
        inputs = []
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(h)
            h = h @ w + b
            if i < last:
                h = np.maximum(h, 0.0) if self.activation == "relu" else np.tanh(h)
        return h, inputs

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0]

    def backward(self, inputs: list[np.ndarray], d_out: np.ndarray) -> list[np.ndarray]:
        """Gradients (in ``params()`` order) of ``sum(d_out * outputs)``: ``d_out`` is the loss's
        gradient with respect to the outputs, ``inputs`` what ``forward`` returned."""
        grads: list[np.ndarray] = [np.empty(0)] * (2 * len(self.weights))
        d = d_out
        for i in range(len(self.weights) - 1, -1, -1):
            grads[2 * i] = inputs[i].T @ d
            if self.masks is not None and self.masks[i] is not None:
                grads[2 * i] *= self.masks[i]
            grads[2 * i + 1] = d.sum(axis=0)
            if i == 0:
                break
            d = d @ self.weights[i].T
            h = inputs[i]  # this layer's input is the previous layer's activation
            d = d * (h > 0.0) if self.activation == "relu" else d * (1.0 - h * h)
        return grads

    def copy(self) -> "MLP":
        masks = None if self.masks is None else [None if m is None else m.copy() for m in self.masks]
        return MLP([w.copy() for w in self.weights], [b.copy() for b in self.biases], self.activation, masks)


def _orthogonal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    a = rng.standard_normal((max(n_in, n_out), min(n_in, n_out)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # a uniform draw over orthogonal matrices, not one QR's convention
    return q if n_in >= n_out else q.T


class Adam:
    """Adam (Kingma & Ba 2015) over a list of arrays, updated in place.

    ``state()`` / ``load_state()`` give and take the moments and step count, so a resumed run
    continues exactly where it stopped.
    """

    def __init__(self, params: list[np.ndarray], lr: float = 3e-4, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-5) -> None:
        self.params = params
        self.lr = lr
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray], lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            p -= lr * (m / c1) / (np.sqrt(v / c2) + self.eps)

    def state(self) -> dict[str, np.ndarray]:
        out = {"t": np.array(self.t)}
        for i, (m, v) in enumerate(zip(self.m, self.v)):
            out[f"m{i}"] = m
            out[f"v{i}"] = v
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        for i in range(len(self.m)):
            self.m[i][...] = state[f"m{i}"]
            self.v[i][...] = state[f"v{i}"]
