"""Shared test configuration: the reference data in ../shared/data, and hypothesis settings.

Tests that read ``../shared/data`` (or the directory named by ``ABRKIT_DATA``) carry
``@pytest.mark.shared``; they are skipped, with the path in the reason, when that directory is
absent. The fixtures below skip the same way, so a test that only uses them is safe even
without the marker. Under CI (``CI`` set, or ``ABRKIT_REQUIRE_SHARED=1``) missing reference
data fails those tests instead, and so does any other test's skip that names the data
directory: a CI run without the data must not pass by skipping every parity test.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# A shell starts background jobs with SIGINT ignored (``pytest ... &``, ``nohup``), and Python
# then installs no KeyboardInterrupt handler, in this process or in the children the tests start.
# The Ctrl-C tests need what a user at a terminal has, so put it back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: ``<repo>/../shared/data``: where CI keeps the real traces, videos and reference outputs.
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: The reference data this run reads: ``ABRKIT_DATA`` when set, else the default above.
SHARED_DATA = (
    Path(os.environ["ABRKIT_DATA"]).expanduser().resolve() if os.environ.get("ABRKIT_DATA") else DEFAULT_SHARED_DATA
)


def _on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in {"", "0", "false", "no", "off"}


#: Missing reference data fails instead of skipping (CI sets ``CI``; ``.ci/run`` exports both).
REQUIRE_SHARED = _on("CI") or _on("ABRKIT_REQUIRE_SHARED")

ENVIVIO_LADDER_KBPS = (300, 750, 1200, 1850, 2850, 4300)

# Kernels compile on their first call, which can take seconds: no per-example deadline.
# Derandomized: the same examples on every run, so CI is red only for a real change (the
# "abrkit-thorough" profile keeps exploring).
settings.register_profile(
    "abrkit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True, derandomize=True
)
settings.register_profile(
    "abrkit-thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("ABRKIT_HYPOTHESIS_PROFILE", "abrkit"))


def _missing(reason: str) -> None:
    if REQUIRE_SHARED:
        pytest.fail(f"{reason} (required: CI or ABRKIT_REQUIRE_SHARED is set; ABRKIT_DATA names another place)")
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("shared") is not None and not SHARED_DATA.is_dir():
        _missing(f"reference data not found at {SHARED_DATA}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI, a skip that names the reference data directory (a test that checks for a
    file of it by itself) is a failure."""
    outcome = yield
    report = outcome.get_result()
    if not (REQUIRE_SHARED and report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2])
    if any(str(root) in reason for root in (SHARED_DATA, DEFAULT_SHARED_DATA)):
        report.outcome = "failed"
        report.longrepr = f"{reason.removeprefix('Skipped: ')} (required: CI or ABRKIT_REQUIRE_SHARED is set)"


def _need(path: Path) -> Path:
    if not path.exists():
        _missing(f"reference data not found: {path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` directory, or ``ABRKIT_DATA`` (skips the test when it is absent)."""
    return _need(SHARED_DATA)


@pytest.fixture(scope="session")
def envivio(shared_data: Path):
    """Pensieve's Envivio test video (49 chunks of 4 s, six rungs)."""
    from abrkit import read_video

    return read_video(_need(shared_data / "videos" / "envivio"), ENVIVIO_LADDER_KBPS)


@pytest.fixture(scope="session")
def norway_traces(shared_data: Path):
    """All 142 traces of Pensieve's test set, sorted by file name."""
    from abrkit import load_traces

    return load_traces(_need(shared_data / "traces" / "norway-hsdpa-test"))


@pytest.fixture(scope="session")
def sabre_4g_traces(shared_data: Path):
    """The 40 Belgium 4G traces in Sabre's JSON format (they carry per-period latency)."""
    from abrkit import load_traces

    return load_traces(_need(shared_data / "traces" / "sabre-4g"))
