"""Policy files: a learned controller's weights plus what it was trained for, in one ``.npz``.

Keys (NumPy ``.npz``, read without pickle):

==================  ==========================================================================
``format``          ``"abrkit-policy"``
``format_version``  integer, :data:`FORMAT_VERSION`
``architecture``    the network, e.g. ``"pensieve-a3c-actor"`` (:data:`ARCHITECTURES`)
``observation``     the observation it reads, e.g. ``"pensieve-6x8"`` (:data:`OBSERVATIONS`)
``n_rungs``         the ladder size it chooses among (the network's outputs)
``bitrates_kbps``   the ladder it was trained with (informational: any ladder of ``n_rungs``
                    rungs runs)
``qoe``             the QoE model it was trained for (informational), e.g. ``"linear"``
``chunks_cap``      the cap of the observation's "chunks left" row (Pensieve: 48)
``source``          where the weights come from (free text)
``param/<name>``    the weight tensors, float32, named as the architecture names them
==================  ==========================================================================

Pensieve's pretrained agent ships as such a file (``data/pensieve_actor.npz``, made by
``scripts/convert_pensieve_weights.py`` from the original checkpoint; MIT, see
``data/PENSIEVE_LICENSE``), so ``pensieve`` and ``learned:path=...`` load the same way.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path

import numpy as np

from .._kernels.pensieve_obs import S_INFO, S_LEN
from ..errors import ModelFormatError
from .actor import ACTOR_TENSORS, pack_network

__all__ = [
    "FORMAT", "FORMAT_VERSION", "ARCHITECTURES", "OBSERVATIONS", "Policy", "save_policy", "load_policy",
    "pensieve_policy_path",
]

FORMAT = "abrkit-policy"
FORMAT_VERSION = 1
#: Architectures the compiled controllers implement -> the tensors (name: shape) they need.
ARCHITECTURES: dict[str, dict[str, tuple[int, ...]]] = {"pensieve-a3c-actor": ACTOR_TENSORS}
#: Observations the compiled controllers build -> (rows, columns).
OBSERVATIONS: dict[str, tuple[int, int]] = {"pensieve-6x8": (S_INFO, S_LEN)}
#: The ladder size each architecture's output layer fixes.
_ARCH_RUNGS = {"pensieve-a3c-actor": 6}
#: The observation each architecture reads.
_ARCH_OBS = {"pensieve-a3c-actor": "pensieve-6x8"}


@dataclass(frozen=True)
class Policy:
    """A loaded policy file (see the module docstring for the fields)."""

    path: str
    architecture: str
    observation: str
    n_rungs: int
    bitrates_kbps: tuple[float, ...]
    qoe: str
    chunks_cap: int
    source: str
    params: dict[str, np.ndarray] = field(repr=False, compare=False)

    def network(self) -> np.ndarray:
        """The weights as the compiled forward pass reads them (flat float32)."""
        return pack_network(self.params)


def save_policy(
    path: str | PathLike[str], params: dict[str, np.ndarray], *, architecture: str = "pensieve-a3c-actor",
    observation: str = "pensieve-6x8", bitrates_kbps: tuple[float, ...] = (300, 750, 1200, 1850, 2850, 4300),
    qoe: str = "linear", chunks_cap: int = 48, source: str = "",
) -> Path:
    """Write a policy file; the tensors are checked against the architecture first."""
    p = Path(path)
    _check_params(p, architecture, params)
    n_rungs = _ARCH_RUNGS[architecture]
    if len(bitrates_kbps) != n_rungs:
        raise ModelFormatError(p, f"bitrates_kbps has {len(bitrates_kbps)} rungs, the architecture {architecture!r} chooses among {n_rungs}")
    arrays = {f"param/{k}": np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}
    with open(p, "wb") as f:
        np.savez_compressed(
            f, format=np.array(FORMAT), format_version=np.array(FORMAT_VERSION), architecture=np.array(architecture),
            observation=np.array(observation), n_rungs=np.array(n_rungs), bitrates_kbps=np.array(bitrates_kbps, dtype=np.float64),
            qoe=np.array(qoe), chunks_cap=np.array(chunks_cap), source=np.array(source), **arrays,
        )
    return p


def _check_params(path: Path, architecture: str, params: dict[str, np.ndarray]) -> None:
    if architecture not in ARCHITECTURES:
        raise ModelFormatError(path, f"architecture {architecture!r} is not one abrkit runs ({', '.join(ARCHITECTURES)})")
    for name, shape in ARCHITECTURES[architecture].items():
        if name not in params:
            raise ModelFormatError(path, f"missing tensor {name!r} of architecture {architecture!r}")
        if tuple(params[name].shape) != shape:
            raise ModelFormatError(path, f"tensor {name!r} has shape {tuple(params[name].shape)}, architecture {architecture!r} needs {shape}")
        if not np.all(np.isfinite(params[name])):
            raise ModelFormatError(path, f"tensor {name!r} holds NaN or infinite values")


def _scalar(z: np.lib.npyio.NpzFile, path: Path, key: str) -> object:
    if key not in z.files:
        raise ModelFormatError(path, f"not a policy file: no {key!r} entry")
    value = z[key]
    if value.shape != ():
        raise ModelFormatError(path, f"entry {key!r} must be a scalar, has shape {value.shape}")
    return value.item()


def load_policy(path: str | PathLike[str]) -> Policy:
    """Read and check a policy file (:class:`~abrkit.errors.ModelFormatError` naming the file
    and the problem: not a policy file, another format version, an architecture or
    observation abrkit does not run, a tensor missing or of another shape)."""
    p = Path(path)
    try:
        z = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFormatError(p, "no such policy file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFormatError(p, f"not a readable .npz policy file ({exc})") from None
    with z:
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ModelFormatError(p, "not a policy file: a single array, not an .npz archive")
        if _scalar(z, p, "format") != FORMAT:
            raise ModelFormatError(p, f"not a policy file: format is {_scalar(z, p, 'format')!r}, expected {FORMAT!r}")
        version = _scalar(z, p, "format_version")
        if version != FORMAT_VERSION:
            raise ModelFormatError(p, f"policy format version {version}; this abrkit reads version {FORMAT_VERSION}")
        arch = str(_scalar(z, p, "architecture"))
        obs = str(_scalar(z, p, "observation"))
        if arch not in ARCHITECTURES:
            raise ModelFormatError(p, f"architecture {arch!r} is not one abrkit runs ({', '.join(ARCHITECTURES)})")
        if obs not in OBSERVATIONS:
            raise ModelFormatError(p, f"observation {obs!r} is not one abrkit builds ({', '.join(OBSERVATIONS)})")
        if obs != _ARCH_OBS[arch]:
            raise ModelFormatError(p, f"observation {obs!r} does not match architecture {arch!r}, which reads {_ARCH_OBS[arch]!r}")
        n_rungs = int(_scalar(z, p, "n_rungs"))  # type: ignore[call-overload]
        if n_rungs != _ARCH_RUNGS[arch]:
            raise ModelFormatError(p, f"n_rungs={n_rungs}, but architecture {arch!r} chooses among {_ARCH_RUNGS[arch]} rungs")
        params = {k[len("param/"):]: np.ascontiguousarray(z[k], dtype=np.float32) for k in z.files if k.startswith("param/")}
        _check_params(p, arch, params)
        ladder = tuple(float(b) for b in z["bitrates_kbps"]) if "bitrates_kbps" in z.files else ()
        chunks_cap = int(_scalar(z, p, "chunks_cap"))  # type: ignore[call-overload]
        if chunks_cap < 1:
            raise ModelFormatError(p, f"chunks_cap={chunks_cap} must be >= 1")
        return Policy(
            path=str(p), architecture=arch, observation=obs, n_rungs=n_rungs, bitrates_kbps=ladder,
            qoe=str(_scalar(z, p, "qoe")), chunks_cap=chunks_cap,
            source=str(_scalar(z, p, "source")) if "source" in z.files else "", params=params,
        )


def pensieve_policy_path() -> Path:
    """The shipped policy file of Pensieve's pretrained agent."""
    return Path(str(resources.files("abrkit.learned").joinpath("data", "pensieve_actor.npz")))
