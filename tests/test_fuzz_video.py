"""Fuzzing the video readers (issue 11): mutated real files never escape as raw exceptions.

Families: Pensieve ``video_size_N`` directories (Envivio's when ``../shared/data`` is present),
Sabre movie JSON (Big Buck Bunny's), abrkit's video JSON (the bundled sample) and ``abrkit
ladder`` results (``result.json``, a small one made here in the writer's shape), with byte-level
and structured mutations (see ``fuzz_helpers``). Property: the reader returns a usable
``Video`` (finite sizes within the documented limits, whole-number resolutions) or raises
``VideoFormatError`` naming the file or directory, within seconds.

The long run (10,000 mutated inputs per family) is skipped unless ``ABRKIT_FUZZ_LONG=1``::

    ABRKIT_FUZZ_LONG=1 python -m pytest tests/test_fuzz_video.py -k long -s -q
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abrkit.errors import VideoFormatError
from abrkit.video import read_abrkit_video, read_ladder_video, read_sabre_video, read_video

from fuzz_helpers import (
    Outcome,
    Seed,
    Tally,
    check_video,
    mutate,
    mutate_bytes,
    pensieve_seeds,
    run_reader,
    video_json_seeds,
)


def _ladder_seed() -> Seed:
    """A ladder result as ``LadderResult.to_json`` writes it: 3 rungs, 3 segments (a short tail)."""
    rungs, segments = [], []
    for k, (pid, w, h, crf, rate, vmaf) in enumerate([
        ("0f3a9c1d2e4b5a60", 160, 90, 40.0, 71.25, 38.5), ("1a2b3c4d5e6f7081", 320, 180, 32.0, 240.5, 71.0),
        ("9e8d7c6b5a493827", 640, 360, 26.0, 715.75, 93.25),
    ]):
        rungs.append({
            "rung": k + 1, "point_id": pid, "width": w, "height": h, "crf": crf, "bitrate_kbps": rate,
            "peak_bitrate_kbps": rate * 1.3, "size_bytes": int(rate * 600), "payload_bytes": int(rate * 560),
            "vmaf": vmaf, "vmaf_hmean": vmaf - 1, "vmaf_min": vmaf - 9, "vmaf_p1": vmaf - 8, "vmaf_p5": vmaf - 5,
            "psnr_y": 38.0, "psnr_u": 41.0, "psnr_v": 42.0, "ssim": 0.97, "n_frames": 90, "duration_s": 4.5,
            "elapsed_s": 0.4, "round": 0, "cached": False, "on_pareto": True, "on_hull": True,
        })
        for seg, d in enumerate((2.0, 2.0, 0.5)):
            segments.append({"point_id": pid, "segment": seg, "duration_s": d, "size_bytes": int(rate * d * 125) + seg,
                             "vmaf": vmaf + seg})
    data = {
        "format": "abrkit-ladder", "version": 1, "rungs": rungs, "bd_rate": {"apple-hls-h264": -12.5},
        "bd_rate_hull": {}, "bd_vmaf": {}, "source": {"path": "title.mp4", "sha256": "ab" * 32, "fps": "20/1",
                                                      "width": 640, "height": 360, "n_frames": 90},
        "settings": {"codec": "x264", "segment_s": 2.0, "mode": "fast"}, "versions": {"abrkit": "0"},
        "n_encodes": {"search": 3}, "elapsed_s": 3.5, "notes": [], "hull": rungs, "points": rungs, "fixed": {},
        "segments": segments,
    }
    return Seed("handmade/result.json", json.dumps(data, indent=1).encode(), ".json")


FAMILIES = ["pensieve", "sabre-movie", "abrkit-video", "ladder-result"]
JSON_SEEDS = {
    "sabre-movie": video_json_seeds("sabre"), "abrkit-video": video_json_seeds("abrkit"), "ladder-result": [_ladder_seed()],
}
DIRECT = {"sabre-movie": read_sabre_video, "abrkit-video": read_abrkit_video, "ladder-result": read_ladder_video}
PENSIEVE = pensieve_seeds()
CI_EXAMPLES = 200
LONG = os.environ.get("ABRKIT_FUZZ_LONG") == "1"
LONG_N = int(os.environ.get("ABRKIT_FUZZ_LONG_N", "10000"))


def _ladder(n: int) -> list[float]:
    return [300.0 * (r + 1) for r in range(n)]


def _pensieve(rng: random.Random, tmp: Path) -> list[Outcome]:
    files = list(rng.choice(PENSIEVE))
    for _ in range(rng.randint(1, 2)):
        r = rng.randrange(len(files))
        files[r] = mutate_bytes(rng, files[r])
    d = tmp / "video"
    d.mkdir()
    for r, data in enumerate(files):
        (d / f"video_size_{r}").write_bytes(data)
    n_rungs = len(files)
    extra = rng.random()
    if extra < 0.05:
        (d / f"video_size_{n_rungs}").write_bytes(files[0])  # one rung file too many
    elif extra < 0.1:
        (d / "video_size_0").unlink()
    ladder = _ladder(n_rungs)
    return [run_reader(lambda: read_video(d, ladder), VideoFormatError, [str(d)], check_video)]


def _json(family: str, rng: random.Random, tmp: Path) -> list[Outcome]:
    seed = rng.choice(JSON_SEEDS[family])
    path = tmp / f"movie{seed.suffix or '.json'}"
    path.write_bytes(mutate(rng, seed.data, is_json=True))
    names = [str(path)]
    return [
        run_reader(lambda: read_video(path), VideoFormatError, names, check_video),
        run_reader(lambda: DIRECT[family](path), VideoFormatError, names, check_video),
    ]


def _run(family: str, rng: random.Random) -> list[Outcome]:
    with tempfile.TemporaryDirectory() as tmp:
        if family == "pensieve":
            return _pensieve(rng, Path(tmp))
        return _json(family, rng, Path(tmp))


def test_seeds_read_cleanly() -> None:
    assert PENSIEVE and all(JSON_SEEDS.values())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "video"
        d.mkdir()
        for r, data in enumerate(PENSIEVE[0]):
            (d / f"video_size_{r}").write_bytes(data)
        assert run_reader(lambda: read_video(d, _ladder(len(PENSIEVE[0]))), VideoFormatError, [str(d)], check_video).kind == "ok"
        for family, seeds in JSON_SEEDS.items():
            for seed in seeds:
                path = Path(tmp) / f"{family}.json"
                path.write_bytes(seed.data)
                outcome = run_reader(lambda: read_video(path), VideoFormatError, [str(path)], check_video)
                assert outcome.kind == "ok", (seed.name, outcome)


@pytest.mark.parametrize("family", FAMILIES)
@settings(
    max_examples=CI_EXAMPLES,
    deadline=None,  # each call is bounded by run_reader (10 s, counted as a hang); CI machines are noisy
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(data=st.data())
def test_fuzz_video_reader(family: str, data: st.DataObject) -> None:
    rng = data.draw(st.randoms(use_true_random=False), label="rng")
    for outcome in _run(family, rng):
        assert outcome.kind in ("ok", "error"), f"{family}: {outcome.kind}: {outcome.detail}"


@pytest.mark.skipif(not LONG, reason="long fuzz run: set ABRKIT_FUZZ_LONG=1 (and ABRKIT_FUZZ_LONG_N, default 10000)")
@pytest.mark.parametrize("family", FAMILIES)
def test_fuzz_video_reader_long(family: str) -> None:
    tally = Tally()
    for i in range(LONG_N):
        for outcome in _run(family, random.Random(f"{family}-{i}")):
            tally.add(outcome, f"{family} #{i}")
    print(f"\n[fuzz-long] video {family}: {LONG_N} mutated inputs, reader calls {tally.counts}, slowest {tally.slowest_s:.2f} s")
    for kind, examples in tally.examples.items():
        for example in examples:
            print(f"[fuzz-long]   {kind}: {example}")
    bad = {k: v for k, v in tally.counts.items() if k not in ("ok", "error", "error naming a line")}
    assert not bad, bad
