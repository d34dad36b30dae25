"""The exceptions abrkit raises.

Every error abrkit raises on purpose derives from :class:`AbrkitError`, so callers (and the CLI)
can tell a problem with the input apart from a bug. Messages name the parameter or file, the bad
value and the rule it broke.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "AbrkitError",
    "ParameterError",
    "TraceFormatError",
    "VideoFormatError",
    "ModelFormatError",
    "FFmpegError",
    "ToolNotFoundError",
]


class AbrkitError(Exception):
    """Root of every error abrkit raises deliberately."""


class ParameterError(AbrkitError, ValueError):
    """An argument has an invalid value: ``name=value is invalid: rule``."""

    def __init__(self, name: str, value: object, rule: str) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        super().__init__(f"{name}={_short_repr(value)} is invalid: {rule}")


class _FileFormatError(AbrkitError, ValueError):
    """A file could not be read; carries the path and, where known, the 1-based line."""

    kind = "file"

    def __init__(self, path: str | PathLike[str] | None, message: str, line: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.message = message
        where = self.path if self.path is not None else f"<{self.kind}>"
        if line is not None:
            where = f"{where}, line {line}"
        super().__init__(f"{where}: {message}")


class TraceFormatError(_FileFormatError):
    """A network trace is malformed (file and line in the message)."""

    kind = "trace"


class VideoFormatError(_FileFormatError):
    """A video file or description is unusable: a malformed chunk-size table or movie JSON,
    or a media file that is missing, not a video, or corrupt."""

    kind = "video"


class ModelFormatError(_FileFormatError):
    """A model file is unusable: a TensorFlow checkpoint that is truncated, corrupt or of
    another architecture, or a policy file for another ladder, observation or format."""

    kind = "model"


class FFmpegError(AbrkitError):
    """An ffmpeg run failed: keeps the command, the return code and the tail of stderr."""

    def __init__(self, cmd: list[str], returncode: int, stderr: str) -> None:
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"ffmpeg exited with code {returncode}: {' '.join(self.cmd)}\n{tail}")


class ToolNotFoundError(AbrkitError):
    """An external tool (or a capability of it) is missing; the message says how to get it."""


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
