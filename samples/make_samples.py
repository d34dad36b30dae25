"""Regenerate abrkit's bundled samples (seeded: the same files every time).

    python samples/make_samples.py [--out DIR]   # rewrites samples/traces/* and samples/videos/*

Traces (10 minutes each, 1 s steps), written in a mix of formats to show format detection:

* ``broadband_*.json`` — stable 20-30 Mbps broadband, 20 ms latency (Sabre JSON);
* ``4g_*.json``        — LTE-like, 2-40 Mbps, fast state changes, 20 ms latency (Sabre JSON);
* ``3g_*``             — HSDPA-like, 0.2-3 Mbps (Pensieve cooked, which has no latency column);
* ``outages_*.csv``    — mobile, 0.3-5 Mbps, about one outage (zero bandwidth) a minute, 60 ms
  latency (abrkit CSV).

Video: ``synthetic_vbr.json`` — 75 chunks of 4 s (5 minutes), an 8-rung 234p-1080p ladder
(200-6000 kbps) with VBR chunk sizes and a VMAF-like per-chunk quality, from
``Video.synthetic_vbr`` (seed 7).
"""

from __future__ import annotations

from pathlib import Path

from abrkit import Video, write_trace
from abrkit.traces.synthetic import preset_trace

HERE = Path(__file__).resolve().parent

# preset -> (format, file suffix)
TRACE_FILES = {
    "broadband": ("sabre", ".json"),
    "4g": ("sabre", ".json"),
    "3g": ("cooked", ""),
    "outages": ("csv", ".csv"),
}
PER_PRESET = 2
DURATION_S = 600.0

LADDER_KBPS = [200, 400, 800, 1200, 2000, 3000, 4500, 6000]
RESOLUTIONS = [(416, 234), (480, 270), (640, 360), (768, 432), (960, 540), (1280, 720), (1920, 1080), (1920, 1080)]


def main(out: Path = HERE) -> None:
    traces_dir = out / "traces"
    videos_dir = out / "videos"
    traces_dir.mkdir(parents=True, exist_ok=True)
    videos_dir.mkdir(parents=True, exist_ok=True)
    for old in traces_dir.iterdir():
        old.unlink()
    for p, (preset, (fmt, suffix)) in enumerate(TRACE_FILES.items()):
        for i in range(PER_PRESET):
            name = f"{preset}_{i + 1}{suffix}"
            trace = preset_trace(preset, duration_s=DURATION_S, seed=100 * p + i, name=name)
            write_trace(trace, traces_dir / name, fmt)
    video = Video.synthetic_vbr(LADDER_KBPS, chunk_s=4.0, n_chunks=75, seed=7, name="synthetic_vbr")
    video = Video(video.bitrates_bps, video.chunk_s, video.sizes_bytes, video.quality, RESOLUTIONS, video.name, video.meta)
    video.to_json(videos_dir / "synthetic_vbr.json")
    print(f"wrote {len(list(traces_dir.iterdir()))} traces to {traces_dir} and {videos_dir / 'synthetic_vbr.json'}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Regenerate abrkit's bundled samples.")
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write traces/ and videos/ into")
    main(parser.parse_args().out)
