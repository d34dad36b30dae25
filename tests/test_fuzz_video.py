"""Fuzzing the video readers (issue 11): mutated real files never escape as raw exceptions.

Families: Pensieve ``video_size_N`` directories (Envivio's when ``../shared/data`` is present),
Sabre movie JSON (Big Buck Bunny's) and abrkit's video JSON (the bundled sample), with byte-level
and structured mutations (see ``fuzz_helpers``). Property: the reader returns a usable
``Video`` (finite sizes within the documented limits, whole-number resolutions) or raises
``VideoFormatError`` naming the file or directory, within seconds.

The long run (10,000 mutated inputs per family) is skipped unless ``ABRKIT_FUZZ_LONG=1``::

    ABRKIT_FUZZ_LONG=1 python -m pytest tests/test_fuzz_video.py -k long -s -q
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abrkit.errors import VideoFormatError
from abrkit.video import read_abrkit_video, read_sabre_video, read_video

from fuzz_helpers import Outcome, Tally, check_video, mutate, mutate_bytes, pensieve_seeds, run_reader, video_json_seeds

FAMILIES = ["pensieve", "sabre-movie", "abrkit-video"]
JSON_SEEDS = {"sabre-movie": video_json_seeds("sabre"), "abrkit-video": video_json_seeds("abrkit")}
DIRECT = {"sabre-movie": read_sabre_video, "abrkit-video": read_abrkit_video}
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
