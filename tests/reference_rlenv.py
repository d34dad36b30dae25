"""Coverage of the chunk step.

``session.play_chunk`` is the body of ``session.run_session``'s loop: ``tests/reference.py``'s
independent whole-session reference checks it through it.
"""

from __future__ import annotations

REFERENCES: dict = {}
KERNEL_INPUTS: dict = {}
COVERED_BY: dict[str, str] = {"session.play_chunk": "session.run_session"}
