"""abrkit.encode.shots: scene scores, cut picking, shot tables with splits, explicit shot lists."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from _clips import CAMERA_CLIP
from abrkit.encode.ffmpeg import FFmpeg, file_url, find_ffmpeg
from abrkit.encode.probe import probe
from abrkit.encode.shots import (
    SHOT_COLUMNS,
    cut_frames,
    detect_shots,
    read_shot_list,
    scene_scores,
    shots_from_starts,
    shots_table,
)
from abrkit.errors import ParameterError, VideoFormatError


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


def _concat(ff: FFmpeg, out: Path, inputs: list[list[str]], trims: list[str]) -> Path:
    """Concatenate video inputs (each trimmed by a filter chain) losslessly at 320x180, 20 fps."""
    args: list[str] = []
    for i in inputs:
        args += i
    chains = [f"[{k}:v]{t},scale=320:180,fps=20,format=yuv420p,setsar=1,setpts=PTS-STARTPTS[v{k}]" for k, t in enumerate(trims)]
    graph = ";".join(chains) + ";" + "".join(f"[v{k}]" for k in range(len(trims))) + f"concat=n={len(trims)}:v=1[out]"
    ff.run([*args, "-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
            "-y", file_url(out)])
    return out


@pytest.fixture(scope="module")
def lavfi_shots(ff: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """testsrc2 2 s, mandelbrot 2.5 s, smptebars 1.5 s at 20 fps: cuts at frames 40 and 90."""
    out = tmp_path_factory.mktemp("shots") / "lavfi.mp4"
    src = [["-f", "lavfi", "-i", f"{name}=size=320x180:rate=20"] for name in ("testsrc2", "mandelbrot", "smptebars")]
    return _concat(ff, out, src, ["trim=end_frame=40", "trim=end_frame=50", "trim=end_frame=30"])


@pytest.fixture(scope="module")
def camera_shots(ff: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The camera clip's first 2 s, 1.5 s of testsrc2, the camera clip from 8 s for 2 s: cuts at 40 and 70."""
    if not CAMERA_CLIP.exists():
        pytest.skip(f"camera clip not found at {CAMERA_CLIP}")
    out = tmp_path_factory.mktemp("shots") / "camera.mp4"
    cam = ["-i", file_url(CAMERA_CLIP)]
    src = [cam, ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=20"], cam]
    return _concat(ff, out, src, ["trim=end_frame=40", "trim=end_frame=30", "trim=start_frame=160:end_frame=200"])


def test_detects_the_cuts_it_was_given(lavfi_shots: Path, ff: FFmpeg) -> None:
    shots = detect_shots(lavfi_shots, ffmpeg=ff)
    assert list(shots.columns) == list(SHOT_COLUMNS)
    assert shots["start_frame"].tolist() == [0, 40, 90]
    assert shots["n_frames"].tolist() == [40, 50, 30] and shots["duration_s"].tolist() == [2.0, 2.5, 1.5]
    assert shots["cause"].tolist() == ["start", "cut", "cut"]
    assert np.isnan(shots["score"][0]) and (shots["score"][1:] >= 10).all()


def test_detects_cuts_in_camera_footage(camera_shots: Path, ff: FFmpeg) -> None:
    starts = detect_shots(camera_shots, ffmpeg=ff)["start_frame"].tolist()
    assert len(starts) == 3 and starts[0] == 0
    assert abs(starts[1] - 40) <= 1 and abs(starts[2] - 70) <= 1


def test_scores_one_per_frame(lavfi_shots: Path, ff: FFmpeg) -> None:
    s = scene_scores(lavfi_shots, ffmpeg=ff)
    assert s.shape == (probe(lavfi_shots, ff).n_frames,) == (120,)
    assert s[0] == 0.0 and set(np.argsort(-s)[:2]) == {40, 90}
    assert ((s >= 0) & (s <= 100)).all()


def test_threshold_min_length_and_split(lavfi_shots: Path, ff: FFmpeg) -> None:
    s = scene_scores(lavfi_shots, ffmpeg=ff)
    assert detect_shots(lavfi_shots, ffmpeg=ff, scores=s, threshold=99.0)["start_frame"].tolist() == [0]
    # the last shot is 1.5 s: a 1.6 s minimum drops its cut, keeping the one at 40
    assert detect_shots(lavfi_shots, ffmpeg=ff, scores=s, min_shot_s=1.6)["start_frame"].tolist() == [0, 40]
    split = detect_shots(lavfi_shots, ffmpeg=ff, scores=s, max_shot_s=1.0)
    assert split["start_frame"].tolist() == [0, 20, 40, 57, 73, 90, 105]
    assert split["cause"].tolist() == ["start", "split", "cut", "split", "split", "cut", "split"]
    assert (split["duration_s"] <= 1.0).all() and split["n_frames"].sum() == 120


# -- picking cuts and building tables, without ffmpeg ---------------------------------------------


def test_strongest_cut_wins_within_the_minimum_length() -> None:
    s = np.zeros(100)
    s[[30, 33, 70]] = [12.0, 40.0, 15.0]  # a flicker at 30 next to the real cut at 33
    frames, scores = cut_frames(s, 10, threshold=10, min_shot_s=1.0)
    assert frames.tolist() == [33, 70] and scores.tolist() == [40.0, 15.0]
    frames, _ = cut_frames(s, 10, threshold=10, min_shot_s=0.2)
    assert frames.tolist() == [30, 33, 70]
    frames, _ = cut_frames(s, 10, threshold=20, min_shot_s=0.0)
    assert frames.tolist() == [33]


def test_cuts_snap_to_the_grid_and_keep_their_score() -> None:
    s = np.zeros(100)
    s[[13, 50, 94]] = [30.0, 20.0, 25.0]
    frames, scores = cut_frames(s, 25, threshold=10, min_shot_s=0.0, grid_frames=8)
    # 13 -> 16, 50 -> 48, 94 -> 96 is past the last grid frame inside the video (96 < 100: kept)
    assert frames.tolist() == [16, 48, 96] and scores.tolist() == [30.0, 20.0, 25.0]
    frames, _ = cut_frames(s, 25, threshold=10, min_shot_s=0.2, grid_frames=8)  # 5 frames minimum
    assert frames.tolist() == [16, 48]


def test_split_parts_cover_the_video_on_the_grid() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(2, 400))
        grid = int(rng.choice([1, 1, 2, 5, 8, 12]))
        fps = Fraction(int(rng.choice([24, 25, 30])))
        grid_starts = list(range(grid, n, grid))
        cuts = sorted(rng.choice(grid_starts, size=min(len(grid_starts), int(rng.integers(0, 5))), replace=False).tolist()) if grid_starts else []
        max_frames = int(rng.integers(grid, 3 * grid + 40))
        table = shots_table(cuts, n, fps, max_shot_s=max_frames / float(fps), grid_frames=grid)
        starts = table["start_frame"].to_numpy()
        assert starts[0] == 0 and (np.diff(starts) > 0).all() and table["n_frames"].sum() == n
        assert (starts % grid == 0).all() and (table["n_frames"] <= max_frames).all()
        assert set(cuts) <= set(starts.tolist())
        # the fewest parts: a shot of L frames on a grid of g, parts of at most m frames,
        # needs ceil(ceil(L / g) / floor(m / g)) parts
        bounds = [0, *cuts, n]
        fewest = sum(-(-(-(-(b - a) // grid)) // (max_frames // grid)) if b - a > max_frames else 1 for a, b in zip(bounds, bounds[1:]))
        assert len(table) == fewest


def test_table_checks_its_input() -> None:
    with pytest.raises(ParameterError, match="must increase"):
        shots_table([40, 40], 100, 20)
    with pytest.raises(ParameterError, match=r"1\.\.99"):
        shots_table([0], 100, 20)
    with pytest.raises(ParameterError, match="grid of 8"):
        shots_table([41], 100, 20, grid_frames=8)
    with pytest.raises(ParameterError, match="max_shot_s"):
        shots_table([40], 100, 20, max_shot_s=0.1, grid_frames=8)
    with pytest.raises(ParameterError, match="one score per start"):
        shots_table([40], 100, 20, cut_scores=[1.0, 2.0])


# -- explicit lists ------------------------------------------------------------------------------


def test_shot_list_in_seconds_and_frames(tmp_path: Path, lavfi_shots: Path, ff: FFmpeg) -> None:
    path = tmp_path / "shots.txt"
    path.write_text("# shot starts\n0\n2.0   # seconds\n\n90f\n")
    info = probe(lavfi_shots, ff)
    starts = read_shot_list(path, info.n_frames, info.fps)
    assert starts.tolist() == [40, 90]
    table = shots_from_starts(starts, info, grid_frames=4)  # 90 is halfway between 88 and 92: the later
    assert table["start_frame"].tolist() == [0, 40, 92] and table["cause"].tolist() == ["start", "listed", "listed"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("1.0\nabc\n", r"shots.txt, line 2: time 'abc' is not a number"),
        ("1.0\n0.5\n", r"shots.txt, line 2: shot start 0.5 \(frame 10\) does not come after line 1's \(frame 20\)"),
        ("10.0\n", r"shots.txt, line 1: shot start 10.0 is frame 200, outside the video's frames 0..119"),
        ("2.5f\n", r"shots.txt, line 1: frame '2.5f' is not a whole number"),
        ("1 2\n", r"shots.txt, line 1: one shot start per line, found 2 values"),
        ("nan\n", r"shots.txt, line 1: time 'nan' is not finite"),
    ],
)
def test_bad_shot_lists(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "shots.txt"
    path.write_text(text)
    with pytest.raises(VideoFormatError, match=message):
        read_shot_list(path, 120, Fraction(20))


def test_missing_shot_list(tmp_path: Path) -> None:
    with pytest.raises(VideoFormatError, match="nope.txt: no such file"):
        read_shot_list(tmp_path / "nope.txt", 120, 20)
