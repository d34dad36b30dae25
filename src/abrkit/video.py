"""The :class:`Video` type: a bitrate ladder with per-chunk sizes and optional quality.

Internal units: bits per second for bitrates, bytes for sizes, seconds for durations.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._checks import number
from .errors import ParameterError, VideoFormatError

__all__ = ["Video", "read_video", "load_video"]

PathLike = str | os.PathLike[str]
_JSON_FORMAT = "abrkit-video"
_JSON_VERSION = 1


@dataclass(frozen=True, eq=False)
class Video:
    """A video as the simulator sees it.

    Parameters
    ----------
    bitrates_bps : array of shape (n_rungs,)
        Nominal (advertised) bitrate of each rung in bits per second; strictly increasing, > 0.
    chunk_s : float
        Duration of every chunk (segment) in seconds, > 0.
    sizes_bytes : array of shape (n_chunks, n_rungs)
        Size of chunk ``k`` at rung ``r`` in bytes; finite and > 0.
    quality : array of shape (n_chunks, n_rungs), optional
        Per-chunk quality (for example VMAF) used by quality-based QoE models.
    resolutions : sequence of (width, height), optional
        One per rung.
    name : str
        Label used in results.
    """

    bitrates_bps: np.ndarray
    chunk_s: float
    sizes_bytes: np.ndarray
    quality: np.ndarray | None = None
    resolutions: tuple[tuple[int, int], ...] | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        ladder = np.array(self.bitrates_bps, dtype=np.float64)
        if ladder.ndim != 1 or ladder.size == 0:
            raise ParameterError("bitrates_bps", self.bitrates_bps, "must be a non-empty 1-D ladder")
        bad = ~np.isfinite(ladder) | (ladder <= 0)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"bitrates_bps[{i}]", float(ladder[i]), "must be finite and > 0")
        steps = np.diff(ladder)
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0]) + 1
            raise ParameterError(
                "bitrates_bps", ladder.tolist(),
                f"ladder must be strictly increasing, but rung {i} ({ladder[i]:g}) <= rung {i - 1} ({ladder[i - 1]:g})",
            )
        chunk_s = float(self.chunk_s)
        if not (np.isfinite(chunk_s) and chunk_s > 0):
            raise ParameterError("chunk_s", self.chunk_s, "must be finite and > 0")
        sizes = np.array(self.sizes_bytes, dtype=np.float64)
        if sizes.ndim != 2 or sizes.shape[1] != ladder.size or sizes.shape[0] == 0:
            raise ParameterError(
                "sizes_bytes", f"array of shape {sizes.shape}",
                f"must have shape (n_chunks >= 1, n_rungs={ladder.size})",
            )
        bad = ~np.isfinite(sizes) | (sizes <= 0)
        if np.any(bad):
            k, r = (int(x) for x in np.argwhere(bad)[0])
            raise ParameterError(f"sizes_bytes[{k}, {r}]", float(sizes[k, r]), "chunk sizes must be finite and > 0")
        quality = None
        if self.quality is not None:
            quality = np.array(self.quality, dtype=np.float64)
            if quality.shape != sizes.shape:
                raise ParameterError("quality", f"array of shape {quality.shape}", f"must match sizes_bytes {sizes.shape}")
            if not np.all(np.isfinite(quality)):
                k, r = (int(x) for x in np.argwhere(~np.isfinite(quality))[0])
                raise ParameterError(f"quality[{k}, {r}]", float(quality[k, r]), "must be finite")
            quality.setflags(write=False)
        res = None
        if self.resolutions is not None:
            res = tuple((int(w), int(h)) for w, h in self.resolutions)
            if len(res) != ladder.size:
                raise ParameterError("resolutions", res, f"must give one (width, height) per rung ({ladder.size})")
            if any(w <= 0 or h <= 0 for w, h in res):
                raise ParameterError("resolutions", res, "widths and heights must be > 0")
        ladder.setflags(write=False)
        sizes.setflags(write=False)
        object.__setattr__(self, "bitrates_bps", ladder)
        object.__setattr__(self, "chunk_s", chunk_s)
        object.__setattr__(self, "sizes_bytes", sizes)
        object.__setattr__(self, "quality", quality)
        object.__setattr__(self, "resolutions", res)

    # -- views ---------------------------------------------------------------------------
    @property
    def n_chunks(self) -> int:
        return int(self.sizes_bytes.shape[0])

    @property
    def n_rungs(self) -> int:
        return int(self.bitrates_bps.size)

    @property
    def bitrates_kbps(self) -> np.ndarray:
        return self.bitrates_bps / 1e3

    @property
    def duration_s(self) -> float:
        return self.n_chunks * self.chunk_s

    def mean_bitrates_bps(self) -> np.ndarray:
        """Measured mean bitrate of each rung (sizes over duration), shape (n_rungs,)."""
        return self.sizes_bytes.sum(axis=0) * 8.0 / self.duration_s

    def truncated(self, n_chunks: int) -> "Video":
        """The first ``n_chunks`` chunks of this video."""
        if not 1 <= n_chunks <= self.n_chunks:
            raise ParameterError("n_chunks", n_chunks, f"must be between 1 and {self.n_chunks}")
        q = None if self.quality is None else self.quality[:n_chunks]
        return Video(self.bitrates_bps, self.chunk_s, self.sizes_bytes[:n_chunks], q, self.resolutions, self.name, dict(self.meta))

    def looped(self, duration_s: float) -> "Video":
        """This video repeated (or cut) to ``ceil(duration_s / chunk_s)`` chunks.

        Sabre's ``-ml`` (movie length): the count is computed in milliseconds, as Sabre does,
        so a session length lands on the same number of segments.
        """
        number("duration_s", duration_s, gt=0)
        seg_ms = round(self.chunk_s * 1e3, 9)
        n = math.ceil(duration_s * 1000 / seg_ms)
        reps = math.ceil(n / self.n_chunks)
        q = None if self.quality is None else np.tile(self.quality, (reps, 1))[:n]
        sizes = np.tile(self.sizes_bytes, (reps, 1))[:n]
        return Video(self.bitrates_bps, self.chunk_s, sizes, q, self.resolutions, self.name, dict(self.meta))

    def __repr__(self) -> str:
        kbps = ", ".join(f"{b:g}" for b in self.bitrates_kbps)
        return (
            f"Video(name={self.name!r}, chunks={self.n_chunks} x {self.chunk_s:g} s, ladder_kbps=[{kbps}], "
            f"quality={'yes' if self.quality is not None else 'no'})"
        )

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def constant_bitrate(cls, bitrates_kbps: Sequence[float], chunk_s: float, n_chunks: int, name: str = "cbr") -> "Video":
        """Every chunk exactly ``bitrate x chunk_s`` in size."""
        ladder = _ladder_bps(bitrates_kbps)
        if int(n_chunks) != n_chunks or n_chunks < 1:
            raise ParameterError("n_chunks", n_chunks, "must be an integer >= 1")
        sizes = np.tile(ladder * float(chunk_s) / 8.0, (int(n_chunks), 1))
        return cls(ladder, chunk_s, sizes, name=name)

    @classmethod
    def synthetic_vbr(
        cls,
        bitrates_kbps: Sequence[float],
        chunk_s: float,
        n_chunks: int,
        seed: int = 0,
        complexity_sigma: float = 0.35,
        complexity_corr: float = 0.8,
        name: str = "synthetic-vbr",
    ) -> "Video":
        """Seeded VBR chunk sizes: a scene-complexity process shared by all rungs.

        ``log(complexity)`` follows an AR(1) process with correlation ``complexity_corr`` between
        neighbouring chunks and stationary standard deviation ``complexity_sigma``; every rung's
        chunk size is its nominal size times the (mean-one) complexity, so rungs stay ordered and
        each rung's mean bitrate stays close to nominal. A per-chunk quality score in [0, 100]
        (a VMAF-like logistic of bits per unit complexity) is attached.
        """
        ladder = _ladder_bps(bitrates_kbps)
        if int(n_chunks) != n_chunks or n_chunks < 1:
            raise ParameterError("n_chunks", n_chunks, "must be an integer >= 1")
        if not 0 <= complexity_corr < 1:
            raise ParameterError("complexity_corr", complexity_corr, "must be in [0, 1)")
        if not complexity_sigma >= 0:
            raise ParameterError("complexity_sigma", complexity_sigma, "must be >= 0")
        rng = np.random.default_rng(seed)
        n = int(n_chunks)
        innov = rng.standard_normal(n) * complexity_sigma * np.sqrt(1 - complexity_corr**2)
        x = np.empty(n)
        x[0] = rng.standard_normal() * complexity_sigma
        for k in range(1, n):
            x[k] = complexity_corr * x[k - 1] + innov[k]
        complexity = np.exp(x - complexity_sigma**2 / 2)  # mean one
        sizes = np.outer(complexity, ladder * float(chunk_s) / 8.0)
        # Quality rises with log bits per unit complexity; the top of a typical ladder nears 95.
        eff = np.log(np.outer(1.0 / complexity, ladder) / 1e5)
        quality = 100.0 / (1.0 + np.exp(-(eff - 1.0)))
        return cls(ladder, chunk_s, sizes, quality=quality, name=name, meta={"seed": seed})

    # -- abrkit JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": _JSON_FORMAT,
            "version": _JSON_VERSION,
            "name": self.name,
            "chunk_s": self.chunk_s,
            "bitrates_kbps": self.bitrates_kbps.tolist(),
            "sizes_bytes": self.sizes_bytes.tolist(),
        }
        if self.quality is not None:
            d["quality"] = self.quality.tolist()
        if self.resolutions is not None:
            d["resolutions"] = [list(r) for r in self.resolutions]
        if self.meta:
            d["meta"] = self.meta
        return d

    def to_json(self, path: PathLike) -> None:
        """Write abrkit's video JSON (read back with :func:`read_video`)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


def _ladder_bps(bitrates_kbps: Sequence[float]) -> np.ndarray:
    try:
        ladder = np.array(bitrates_kbps, dtype=np.float64) * 1e3
    except (TypeError, ValueError):
        raise ParameterError("bitrates_kbps", bitrates_kbps, "must be a sequence of numbers") from None
    return ladder


# -- readers -----------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VideoFormatError(path, "no such file") from None
    except UnicodeDecodeError:
        raise VideoFormatError(path, "not a text file") from None
    if not text.strip():
        raise VideoFormatError(path, "empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise VideoFormatError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None


def _wrap(path: Path, make: Any) -> Video:
    try:
        return make()
    except ParameterError as exc:
        raise VideoFormatError(path, str(exc)) from None


def read_pensieve_video(directory: PathLike, bitrates_kbps: Sequence[float], chunk_s: float = 4.0, prefix: str = "video_size_") -> Video:
    """Pensieve's chunk-size tables: ``{prefix}N`` holds rung N's chunk sizes, one per line, in bytes.

    The files carry no ladder, so the caller gives it (Pensieve's: 300, 750, 1200, 1850, 2850,
    4300 kbps). Pensieve's files hold one chunk more than it plays (49 for 48): the last one only
    feeds the "next chunk sizes" look-ahead. All of them are kept here; the ``pensieve`` profile
    plays the first 48.
    """
    d = Path(directory)
    if not d.is_dir():
        raise VideoFormatError(d, "not a directory of video_size_N files")
    ladder = _ladder_bps(bitrates_kbps)
    columns = []
    for r in range(ladder.size):
        f = d / f"{prefix}{r}"
        if not f.is_file():
            present = sorted(p.name for p in d.glob(f"{prefix}*"))
            raise VideoFormatError(f, f"missing: {ladder.size} rungs given, files present: {present}")
        values = []
        for lineno, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            try:
                v = float(parts[0])
            except ValueError:
                raise VideoFormatError(f, f"chunk size {parts[0]!r} is not a number", line=lineno) from None
            if not np.isfinite(v) or v <= 0:
                raise VideoFormatError(f, f"chunk size {parts[0]!r} must be finite and > 0 bytes", line=lineno)
            values.append(v)
        if not values:
            raise VideoFormatError(f, "empty file: no chunk sizes")
        columns.append(values)
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        counts = ", ".join(f"{prefix}{r}: {len(c)}" for r, c in enumerate(columns))
        raise VideoFormatError(d, f"rungs have different chunk counts ({counts})")
    extra = sorted(p.name for p in d.glob(f"{prefix}*") if p.name[len(prefix):].isdigit() and int(p.name[len(prefix):]) >= ladder.size)
    if extra:
        raise VideoFormatError(d, f"{len(extra)} more rung files than the {ladder.size} bitrates given: {extra}")
    sizes = np.array(columns).T
    return _wrap(d, lambda: Video(ladder, chunk_s, sizes, name=d.name, meta={"source": "pensieve"}))


def read_sabre_video(path: PathLike) -> Video:
    """Sabre's movie JSON: ``{segment_duration_ms, bitrates_kbps, segment_sizes_bits[seg][rung]}``."""
    p = Path(path)
    data = _load_json(p)
    if not isinstance(data, dict):
        raise VideoFormatError(p, "Sabre movie JSON must be an object")
    for key in ("segment_duration_ms", "bitrates_kbps", "segment_sizes_bits"):
        if key not in data:
            raise VideoFormatError(p, f"missing key {key!r}")
    sizes = data["segment_sizes_bits"]
    try:
        bits = np.array(sizes, dtype=np.float64)
    except (TypeError, ValueError):
        raise VideoFormatError(p, "segment_sizes_bits must be a list of equal-length lists of numbers") from None
    return _wrap(
        p,
        lambda: Video(
            _ladder_bps(data["bitrates_kbps"]),
            float(data["segment_duration_ms"]) / 1e3,
            bits / 8.0,
            name=p.stem,
            meta={"source": "sabre"},
        ),
    )


def read_abrkit_video(path: PathLike) -> Video:
    """abrkit's own video JSON (see :meth:`Video.to_json`)."""
    p = Path(path)
    data = _load_json(p)
    if not isinstance(data, dict) or data.get("format") != _JSON_FORMAT:
        raise VideoFormatError(p, f"not an abrkit video JSON (expected \"format\": \"{_JSON_FORMAT}\")")
    for key in ("chunk_s", "bitrates_kbps", "sizes_bytes"):
        if key not in data:
            raise VideoFormatError(p, f"missing key {key!r}")
    try:
        sizes = np.array(data["sizes_bytes"], dtype=np.float64)
        quality = None if data.get("quality") is None else np.array(data["quality"], dtype=np.float64)
    except (TypeError, ValueError):
        raise VideoFormatError(p, "sizes_bytes and quality must be lists of equal-length lists of numbers") from None
    res = data.get("resolutions")
    return _wrap(
        p,
        lambda: Video(
            _ladder_bps(data["bitrates_kbps"]), data["chunk_s"], sizes, quality,
            None if res is None else [tuple(r) for r in res], data.get("name") or p.stem, data.get("meta") or {},
        ),
    )


def read_video(path: PathLike, bitrates_kbps: Sequence[float] | None = None, chunk_s: float | None = None) -> Video:
    """Read a video, recognising the format.

    * a directory of ``video_size_N`` files (Pensieve; needs ``bitrates_kbps``; ``chunk_s``
      defaults to 4 s);
    * a JSON file: abrkit's own video JSON, or Sabre's movie JSON.
    """
    p = Path(path)
    if p.is_dir():
        if bitrates_kbps is None:
            raise ParameterError("bitrates_kbps", None, f"{p} is a Pensieve chunk-size directory, which holds no ladder: give the ladder in kbps")
        return read_pensieve_video(p, bitrates_kbps, 4.0 if chunk_s is None else chunk_s)
    if not p.exists():
        raise VideoFormatError(p, "no such file or directory")
    data = _load_json(p)
    if isinstance(data, dict) and data.get("format") == _JSON_FORMAT:
        video = read_abrkit_video(p)
    elif isinstance(data, dict) and "segment_sizes_bits" in data:
        video = read_sabre_video(p)
    else:
        raise VideoFormatError(p, "unknown video format: expected abrkit video JSON, Sabre movie JSON, or a directory of video_size_N files")
    given = None if bitrates_kbps is None else np.asarray(bitrates_kbps, dtype=float)
    if given is not None and (given.shape != video.bitrates_kbps.shape or not np.allclose(video.bitrates_kbps, given)):
        raise ParameterError("bitrates_kbps", list(bitrates_kbps), f"differs from the ladder stored in {p}: {video.bitrates_kbps.tolist()}")
    return video


load_video = read_video
