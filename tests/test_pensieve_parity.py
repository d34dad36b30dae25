"""Acceptance: the 'pensieve' profile reproduces Pensieve's test/bb.py and test/mpc.py (RobustMPC)
run on fixed_env.py.

References: ../shared/data/reference/pensieve/bb.csv and robust_mpc.csv, produced by the original
programs on the 142 traces of norway-hsdpa-test in sorted order, in one process (rows kept for
the bus, car, ferry and metro traces), with the Envivio video, first chunk at rung 1. Pensieve
works in milliseconds; abrkit in seconds. RobustMPC's error history carries from one trace to the
next there, so its batch runs all 142 traces in order (the profile's ``carry_robust_errors``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abrkit import run_batch

pytestmark = pytest.mark.shared

N_TRACES = 142
N_CHUNKS = 48
PUBLISHED_MEAN_QOE = 30.043  # whole-set mean of BB in the reference README (chunks 1..47)
ROBUST_MPC_MEAN_QOE = 41.193  # the same for RobustMPC


@pytest.fixture(scope="module")
def reference_rows(shared_data):
    path = shared_data / "reference" / "pensieve" / "bb.csv"
    if not path.is_file():
        pytest.skip(f"reference data not found: {path}")
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def batch(norway_traces, envivio):
    assert len(norway_traces) == N_TRACES
    names = [t.name for t in norway_traces]
    assert names == sorted(names)
    return run_batch(norway_traces, envivio, "bb", "pensieve", n_workers=2, progress=False)


@pytest.fixture(scope="module")
def simulated_rows(batch):
    return batch.chunks()


def test_every_session_completes_all_48_chunks(batch):
    sessions = batch.sessions()
    assert len(sessions) == N_TRACES
    assert (sessions["status"] == "complete").all()
    assert (sessions["chunks"] == N_CHUNKS).all()


def test_reference_covers_the_expected_rows(reference_rows):
    assert reference_rows["trace"].nunique() == 65
    assert len(reference_rows) == 65 * N_CHUNKS
    assert sorted(reference_rows["chunk"].unique()) == list(range(N_CHUNKS))


def test_every_chunk_matches_pensieve(reference_rows, simulated_rows):
    merged = reference_rows.merge(
        simulated_rows, on=["trace", "chunk"], how="left", suffixes=("_ref", ""), validate="one_to_one"
    )
    assert not merged["rung"].isna().any(), "some reference rows have no simulated counterpart"

    # Decisions: exactly equal, chunk by chunk.
    wrong = merged[merged["bitrate_kbps_ref"] != merged["bitrate_kbps"]]
    assert wrong.empty, f"{len(wrong)} decisions differ; first:\n{wrong.head()}"

    # Quantities: equal within 1e-6 relative (Pensieve computes them in ms, abrkit in s).
    pairs = {
        "delay": (merged["delay_ms"], merged["delay_s"] * 1000.0),
        "buffer": (merged["buffer_s_ref"], merged["buffer_s"]),
        "rebuffer": (merged["rebuffer_s_ref"], merged["rebuffer_s"]),
        "size": (merged["size_bytes_ref"], merged["size_bytes"]),
        "reward": (merged["reward_ref"], merged["reward"]),
    }
    for what, (expected, actual) in pairs.items():
        np.testing.assert_allclose(
            actual.to_numpy(float), expected.to_numpy(float), rtol=1e-6, atol=1e-9, err_msg=f"{what} differs"
        )


def test_whole_set_mean_qoe(batch):
    # Pensieve's published totals sum the rewards of chunks 1..47 and average over traces.
    per_trace = np.array([np.sum(batch.rewards(j)[1:N_CHUNKS]) for j in range(len(batch))])
    assert per_trace.size == N_TRACES
    assert round(float(per_trace.mean()), 3) == PUBLISHED_MEAN_QOE
    # The session table reports the same totals (the profile's QoE skips chunk 0).
    np.testing.assert_allclose(batch.sessions()["qoe"].to_numpy(), per_trace, rtol=1e-12)


# -- RobustMPC (test/mpc.py) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mpc_reference_rows(shared_data):
    path = shared_data / "reference" / "pensieve" / "robust_mpc.csv"
    if not path.is_file():
        pytest.skip(f"reference data not found: {path}")
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def mpc_batch(norway_traces, envivio):
    assert [t.name for t in norway_traces] == sorted(t.name for t in norway_traces)
    return run_batch(norway_traces, envivio, "robustmpc", "pensieve", progress=False)


def test_robust_mpc_reference_covers_the_expected_rows(mpc_reference_rows):
    assert mpc_reference_rows["trace"].nunique() == 65
    assert len(mpc_reference_rows) == 65 * N_CHUNKS


def test_robust_mpc_every_chunk_matches_pensieve(mpc_reference_rows, mpc_batch):
    sessions = mpc_batch.sessions()
    assert (sessions["status"] == "complete").all() and (sessions["chunks"] == N_CHUNKS).all()
    merged = mpc_reference_rows.merge(
        mpc_batch.chunks(), on=["trace", "chunk"], how="left", suffixes=("_ref", ""), validate="one_to_one"
    )
    assert not merged["rung"].isna().any(), "some reference rows have no simulated counterpart"
    wrong = merged[merged["bitrate_kbps_ref"] != merged["bitrate_kbps"]]
    assert wrong.empty, f"{len(wrong)} decisions differ; first:\n{wrong.head()}"
    pairs = {
        "delay": (merged["delay_ms"], merged["delay_s"] * 1000.0),
        "buffer": (merged["buffer_s_ref"], merged["buffer_s"]),
        "rebuffer": (merged["rebuffer_s_ref"], merged["rebuffer_s"]),
        "size": (merged["size_bytes_ref"], merged["size_bytes"]),
        "reward": (merged["reward_ref"], merged["reward"]),
    }
    for what, (expected, actual) in pairs.items():
        np.testing.assert_allclose(
            actual.to_numpy(float), expected.to_numpy(float), rtol=1e-9, atol=1e-9, err_msg=f"{what} differs"
        )


def test_robust_mpc_whole_set_mean_qoe(mpc_batch):
    per_trace = np.array([np.sum(mpc_batch.rewards(j)[1:N_CHUNKS]) for j in range(len(mpc_batch))])
    assert round(float(per_trace.mean()), 3) == ROBUST_MPC_MEAN_QOE


def test_robust_mpc_needs_the_error_history_carried_across_sessions(mpc_reference_rows, norway_traces, envivio):
    # Each session on its own (fresh error history) departs from Pensieve's decisions; the first
    # trace, which has no predecessor, does not.
    from abrkit import get_profile

    alone = run_batch(
        norway_traces[:12], envivio, "robustmpc", get_profile("pensieve").replace(carry_robust_errors=False),
        progress=False,
    ).chunks()
    merged = mpc_reference_rows.merge(alone, on=["trace", "chunk"], how="inner", suffixes=("_ref", ""))
    first = norway_traces[0].name
    same = merged["bitrate_kbps_ref"] == merged["bitrate_kbps"]
    assert same[merged["trace"] == first].all()
    assert not same.all()
