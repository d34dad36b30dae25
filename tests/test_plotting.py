from __future__ import annotations

import sys

import numpy as np
import pytest

from abrkit import Trace, Video, run_batch
from abrkit.errors import ToolNotFoundError

pytest.importorskip("matplotlib")

from abrkit import plotting  # noqa: E402


@pytest.fixture(scope="module")
def batch():
    traces = [Trace(np.arange(20.0), 1e6 + 5e5 * np.sin(np.arange(20.0)), name=f"t{i}").scaled(1 + i) for i in range(3)]
    video = Video.synthetic_vbr([300, 750, 1200, 1850], 4.0, 30, seed=1)
    return run_batch(traces, video, ["bb", "rate"], n_workers=1)


def test_session_plot_writes_png(batch, tmp_path):
    fig = plotting.plot_session(batch.session(0))
    out = tmp_path / "session.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bb on t0" in fig.axes[0].get_title()


def test_comparison_plot_has_one_line_per_controller(batch, tmp_path):
    fig = plotting.plot_qoe_cdf(batch.sessions())
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert [lab.split()[0] for lab in labels] == ["bb", "rate"]
    out = tmp_path / "cmp.png"
    plotting.save_comparison(batch.sessions(), str(out))
    assert out.stat().st_size > 1000


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ToolNotFoundError, match=r"pip install 'abrkit\[plot\]'"):
        plotting._pyplot()
