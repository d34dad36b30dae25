"""Shared test configuration: the reference data in ../shared/data, and hypothesis settings.

Tests that read ``../shared/data`` carry ``@pytest.mark.shared``; they are skipped, with the
path in the reason, when that directory is absent. The fixtures below skip the same way, so a
test that only uses them is safe even without the marker.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

#: ``<repo>/../shared/data``: where CI keeps the real traces, videos and reference outputs.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

ENVIVIO_LADDER_KBPS = (300, 750, 1200, 1850, 2850, 4300)

# Kernels compile on their first call, which can take seconds: no per-example deadline.
settings.register_profile(
    "abrkit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "abrkit-thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("ABRKIT_HYPOTHESIS_PROFILE", "abrkit"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("shared") is not None and not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data not found: {path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` directory (skips the test when it is absent)."""
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
