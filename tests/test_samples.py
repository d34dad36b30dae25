"""The bundled samples are exactly what samples/make_samples.py generates, and they simulate."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from abrkit import load_traces, read_video, run_batch, simulate_many

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    if not SAMPLES.is_dir():
        pytest.skip("samples/ is not next to the tests (installed elsewhere)")
    out = tmp_path_factory.mktemp("samples")
    runpy.run_path(str(SAMPLES / "make_samples.py"), run_name="make_samples")["main"](out)
    return out


def test_samples_are_reproducible(regenerated):
    # Compared as numbers, not bytes: numpy's exp/log may differ in the last ulp across CPUs.
    for sub in ("traces", "videos"):
        committed = sorted(p.name for p in (SAMPLES / sub).iterdir())
        assert committed == sorted(p.name for p in (regenerated / sub).iterdir())
    for mine, fresh in zip(load_traces(SAMPLES / "traces"), load_traces(regenerated / "traces")):
        assert mine.name == fresh.name
        assert mine.equals(fresh, rtol=1e-9), f"traces/{mine.name} is not what make_samples.py generates"
    mine_v = read_video(SAMPLES / "videos" / "synthetic_vbr.json")
    fresh_v = read_video(regenerated / "videos" / "synthetic_vbr.json")
    np.testing.assert_allclose(mine_v.sizes_bytes, fresh_v.sizes_bytes, rtol=1e-9)
    np.testing.assert_allclose(mine_v.quality, fresh_v.quality, rtol=1e-9)
    assert mine_v.resolutions == fresh_v.resolutions


def test_samples_cover_several_formats_and_conditions():
    from abrkit.traces import detect_format

    formats = {detect_format(p) for p in (SAMPLES / "traces").iterdir()}
    assert {"sabre", "cooked", "csv"} <= formats
    traces = load_traces(SAMPLES / "traces")
    assert [t.name for t in traces] == sorted(t.name for t in traces)
    assert any((t.bandwidth_bps == 0).any() for t in traces), "the outage traces must contain outages"


def test_main_job_runs_on_samples():
    traces = load_traces(SAMPLES / "traces")
    video = read_video(SAMPLES / "videos" / "synthetic_vbr.json")
    batch = run_batch(traces, video, ["bb", "bba0", "rate"], n_workers=2)
    table = batch.sessions()
    assert table.equals(simulate_many(traces, video, ["bb", "bba0", "rate"], n_workers=1))
    assert len(table) == 3 * len(traces)
    assert (table["status"] == "complete").all()
    assert (table["chunks"] == video.n_chunks).all()
    summary = batch.summary()
    assert summary["controller"].tolist() == ["bb", "bba0", "rate"]
    assert (summary["sessions"] == len(traces)).all()
    means = table.groupby("controller", sort=False)["qoe"].mean().to_numpy()
    np.testing.assert_allclose(summary["mean_qoe"].to_numpy(), means)
