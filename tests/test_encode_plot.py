"""abrkit.encode.plot: the rate-quality plot of a ladder search."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from abrkit.encode.plot import plot_ladder
from abrkit.errors import ParameterError, ToolNotFoundError

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _points() -> pd.DataFrame:
    """Two resolutions x four CRFs on VMAF-like curves; the small size wins at low rates."""
    rows = []
    for (w, h), scale, cap in (((320, 180), 60.0, 88.0), ((640, 360), 150.0, 97.0)):
        for crf in (36, 32, 28, 24):
            rate = scale * 2 ** ((36 - crf) / 4)
            vmaf = cap * (1 - np.exp(-rate / (1.2 * scale)))
            rows.append({"width": w, "height": h, "crf": float(crf), "bitrate_kbps": rate, "vmaf": vmaf})
    return pd.DataFrame(rows)


def _result(**changes: object) -> SimpleNamespace:
    points = _points()
    hull = points.iloc[[0, 1, 2, 6, 7]].sort_values("bitrate_kbps").reset_index(drop=True)
    rungs = hull.iloc[[0, 2, 4]].reset_index(drop=True)
    fixed = {
        "apple-hls": pd.DataFrame({"bitrate_kbps": [145.0, 365.0, 730.0], "width": [416, 480, 640], "height": [234, 270, 360],
                                   "vmaf": [55.0, 75.0, 88.0]}),
        "netflix-2015": pd.DataFrame({"bitrate_kbps": [235.0, 560.0], "vmaf": [60.0, 82.0]}),
    }
    fields = dict(points=points, hull=hull, rungs=rungs, fixed=fixed, bd_rate={"apple-hls": -23.4, "netflix-2015": None},
                  source={"path": "/data/clips/cockatoo_720p.mp4"}, settings={"codec": "x264"})
    fields.update(changes)
    return SimpleNamespace(**fields)


def _legend(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_writes_a_png_with_every_layer(tmp_path: Path) -> None:
    fig = plot_ladder(_result())
    out = tmp_path / "ladder.png"
    fig.savefig(out, dpi=60)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_ylabel() == "VMAF" and "bitrate (kb/s)" in ax.get_xlabel()
    assert ax.get_title() == "per-title ladder: cockatoo_720p.mp4, x264"
    assert _legend(fig) == [
        "320x180", "640x360", "convex hull", "apple-hls (fixed; per-title BD-rate -23.4 %)", "netflix-2015 (fixed)",
        "chosen rungs (3)",
    ]
    # one line per resolution through its four CRF points, in order of rate
    line = next(li for li in ax.get_lines() if li.get_label() == "640x360")
    assert list(line.get_xdata()) == sorted(line.get_xdata()) and len(line.get_xdata()) == 4
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 3 and labels[0].startswith("320x180\n")


def test_plot_options_and_given_axes() -> None:
    fig, ax = plt.subplots()
    assert plot_ladder(_result(), ax=ax, log_rate=False, label_rungs=False, title="mine") is fig
    assert ax.get_xscale() == "linear" and ax.get_title() == "mine" and not ax.texts


def test_plot_without_hull_table_uses_on_hull_column() -> None:
    points = _points()
    points["on_hull"] = False
    points.loc[[0, 1, 2, 6, 7], "on_hull"] = True
    fig = plot_ladder(_result(points=points, hull=None, fixed={}, bd_rate={}))
    hull = next(li for li in fig.axes[0].get_lines() if li.get_label() == "convex hull")
    assert len(hull.get_xdata()) == 5


def test_plot_of_a_ladder_result() -> None:
    from abrkit.encode.ladder import SEGMENT_COLUMNS, LadderResult

    base = _result()
    result = LadderResult(
        points=base.points, hull=base.hull, rungs=base.rungs, fixed=base.fixed, bd_rate=base.bd_rate,
        bd_rate_hull={}, bd_vmaf={}, segments=pd.DataFrame(columns=list(SEGMENT_COLUMNS)), settings=base.settings,
        versions={}, source=base.source, n_encodes={},
    )
    fig = plot_ladder(result)
    assert "chosen rungs (3)" in _legend(fig)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"points": None}, "must have a 'points' DataFrame"),
        ({"rungs": pd.DataFrame({"bitrate_kbps": [1.0]})}, r"result.rungs=.* missing \['vmaf'\]"),
        ({"hull": [1, 2]}, "result.hull='list' is invalid: must be a pandas DataFrame"),
        ({"fixed": {"apple-hls": pd.DataFrame({"kbps": [1.0]})}}, r"result.fixed\['apple-hls'\]"),
    ],
)
def test_plot_rejects_incomplete_results(changes: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        plot_ladder(_result(**changes))


def test_plot_of_another_metric_needs_its_column() -> None:
    with pytest.raises(ParameterError, match=r"missing \['psnr_y'\]"):
        plot_ladder(_result(), metric="psnr_y")


def test_missing_matplotlib_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ToolNotFoundError, match=r"pip install 'abrkit\[plot\]'"):
        plot_ladder(_result())
