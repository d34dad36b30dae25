"""Fuzzing the trace readers (issue 11): mutated real files never escape as raw exceptions.

Every trace format family is fed byte-level mutations (truncation, flipped bytes, NaN/inf/huge
values, 5,000-digit numbers, fields over 128 KiB, CRLF, Latin-1 bytes, a BOM) and, for the JSON
formats, structured ones (wrong types and shapes, deep nesting) of real files; see
``fuzz_helpers``. Property: the reader, with the format named and with it detected, returns a
usable trace (finite, within the documented limits, summarisable by ``trace_stats``) or raises
``TraceFormatError`` naming the file, within seconds.

The CI part runs a few hundred examples per family. The long run (10,000 mutated files per
family, counted rather than stopped at the first failure) is skipped unless
``ABRKIT_FUZZ_LONG=1``::

    ABRKIT_FUZZ_LONG=1 python -m pytest tests/test_fuzz_traces.py -k long -s -q
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abrkit.errors import TraceFormatError
from abrkit.traces import read_trace

from fuzz_helpers import Outcome, Seed, Tally, check_trace, mutate, run_reader, trace_seeds

FAMILIES = ["cooked", "sabre", "genet", "mahimahi", "norway-raw", "belgium-raw", "csv"]
JSON_FAMILIES = {"sabre", "genet"}
SEEDS = {fmt: trace_seeds(fmt) for fmt in FAMILIES}
CI_EXAMPLES = 200
LONG = os.environ.get("ABRKIT_FUZZ_LONG") == "1"
LONG_N = int(os.environ.get("ABRKIT_FUZZ_LONG_N", "10000"))


def _read_both(directory: Path, fmt: str, seed: Seed, data: bytes) -> list[Outcome]:
    path = directory / f"fuzz{seed.suffix}"
    path.write_bytes(data)
    names = [str(path)]
    return [
        run_reader(lambda: read_trace(path, fmt), TraceFormatError, names, check_trace),
        run_reader(lambda: read_trace(path), TraceFormatError, names, check_trace),
    ]


def test_every_family_has_seeds_that_read_cleanly() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FAMILIES:
            assert SEEDS[fmt], fmt
            for seed in SEEDS[fmt]:
                named, detected = _read_both(Path(tmp), fmt, seed, seed.data)
                assert named.kind == "ok", (fmt, seed.name, named)
                assert detected.kind == "ok", (fmt, seed.name, detected)


@pytest.mark.parametrize("fmt", FAMILIES)
@settings(
    max_examples=CI_EXAMPLES,
    deadline=None,  # each call is bounded by run_reader (10 s, counted as a hang); CI machines are noisy
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(data=st.data())
def test_fuzz_trace_reader(fmt: str, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS[fmt]), label="seed")
    rng = data.draw(st.randoms(use_true_random=False), label="rng")
    mutated = mutate(rng, seed.data, fmt in JSON_FAMILIES)
    with tempfile.TemporaryDirectory() as tmp:
        for outcome in _read_both(Path(tmp), fmt, seed, mutated):
            assert outcome.kind in ("ok", "error"), f"{seed.name}: {outcome.kind}: {outcome.detail}"


@pytest.mark.skipif(not LONG, reason="long fuzz run: set ABRKIT_FUZZ_LONG=1 (and ABRKIT_FUZZ_LONG_N, default 10000)")
@pytest.mark.parametrize("fmt", FAMILIES)
def test_fuzz_trace_reader_long(fmt: str) -> None:
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(LONG_N):
            rng = random.Random(f"{fmt}-{i}")
            seed = rng.choice(SEEDS[fmt])
            mutated = mutate(rng, seed.data, fmt in JSON_FAMILIES)
            for outcome in _read_both(Path(tmp), fmt, seed, mutated):
                tally.add(outcome, f"{fmt} #{i} from {seed.name}")
    print(f"\n[fuzz-long] traces {fmt}: {LONG_N} mutated files, reader calls {tally.counts}, slowest {tally.slowest_s:.2f} s")
    for kind, examples in tally.examples.items():
        for example in examples:
            print(f"[fuzz-long]   {kind}: {example}")
    bad = {k: v for k, v in tally.counts.items() if k not in ("ok", "error", "error naming a line")}
    assert not bad, bad
