"""Send Ctrl-C to a child Python process once it says it is ready (for the interruption tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def interrupt_when_ready(code: str, *args: str, delay_s: float = 0.5) -> tuple[int, str, str, float]:
    """Run ``python -c code *args``; after it prints ``ready`` wait ``delay_s`` and send SIGINT.

    Returns (return code, rest of stdout, stderr, seconds from the signal to its exit).
    """
    env = {**os.environ, "ABRKIT_QUIET": "1"}
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay_s)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        return child.returncode, out, err, time.monotonic() - sent
    finally:
        child.kill()
