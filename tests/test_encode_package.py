"""abrkit.encode.package: final renditions, the simulator's Video, HLS and DASH packaging."""

from __future__ import annotations

import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _clips import cut_camera_clip, lavfi_clip
from abrkit import simulate
from abrkit.encode.encoder import CODECS, EncodeSettings, encode, read_packets
from abrkit.encode.ffmpeg import FFmpeg, file_url, find_ffmpeg
from abrkit.encode.package import (
    Rendition,
    codecs_string,
    dash_bandwidth_bps,
    encode_renditions,
    packaged_segment_sizes,
    peak_bitrate_bps,
    read_media_playlist,
    renditions_table,
    video_from_renditions,
    write_dash,
    write_hls,
)
from abrkit.encode.quality import QualitySettings
from abrkit.errors import ParameterError, VideoFormatError
from abrkit.traces import Trace

MPD = "{urn:mpeg:dash:schema:mpd:2011}"
FPS = 15
N_FRAMES = 66  # 4.4 s at 15 fps: segments of 30, 30 and 6 frames
RUNGS = pd.DataFrame({"bitrate_kbps": [60.0, 160.0], "width": [192, 320], "height": [108, 180], "crf": [30.0, 26.0]})


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("package")


@pytest.fixture(scope="module")
def source(ff: FFmpeg, work: Path) -> Path:
    """testsrc2, 320x180, 15 fps, 4.4 s: two full 2 s segments and a 0.4 s tail."""
    return lavfi_clip(ff, work / "source.mp4", size="320x180", fps=FPS, duration_s=N_FRAMES / FPS)


@pytest.fixture(scope="module")
def renditions(ff: FFmpeg, work: Path, source: Path) -> list[Rendition]:
    return encode_renditions(
        source, RUNGS, out_dir=work / "renditions", preset="veryfast", ffmpeg=ff, workers=2,
        quality=QualitySettings(psnr=False, ssim=False),
    )


# -- references from the definitions ---------------------------------------------------------------


def rfc8216_peak(sizes: list[float], durations: list[float], target: float) -> float | None:
    """Largest bit rate of any run of consecutive segments lasting 0.5 to 1.5 target durations."""
    best = None
    for i in range(len(sizes)):
        for j in range(i, len(sizes)):
            d = sum(durations[i:j + 1])
            if 0.5 * target <= d <= 1.5 * target:
                rate = 8 * sum(sizes[i:j + 1]) / d
                best = rate if best is None else max(best, rate)
    return best


def dash_leaky_bucket(sizes: list[float], durations: list[float], min_buffer_s: float) -> float:
    """Smallest rate at which, from any segment start, each segment arrives before it plays."""
    best = 0.0
    for i in range(len(sizes)):
        for j in range(i, len(sizes)):
            bits = 8 * sum(sizes[i:j + 1])
            playout_start = min_buffer_s + sum(durations[i:j])
            best = max(best, bits / playout_start)
    return best


def stream_inf(master: Path) -> list[tuple[dict[str, str], str]]:
    """(attributes, URI) of every EXT-X-STREAM-INF of a master playlist."""
    lines = master.read_text(encoding="utf-8").splitlines()
    found = []
    for k, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            found.append(({k: v.strip('"') for k, v in attrs.items()}, lines[k + 1]))
    return found


# -- renditions -------------------------------------------------------------------------------------


def test_renditions_measure_their_segments(renditions: list[Rendition]) -> None:
    assert [r.resolution for r in renditions] == [(192, 108), (320, 180)]
    for r, rung in zip(renditions, RUNGS.itertuples()):
        assert r.path.is_file() and r.path.suffix == ".mp4"
        assert r.n_frames == N_FRAMES and r.fps == FPS
        np.testing.assert_allclose(r.segment_durations_s, [2.0, 2.0, 0.4])
        assert r.segment_durations_s.sum() == pytest.approx(r.duration_s) == pytest.approx(N_FRAMES / FPS)
        # Segment sizes are the video packets: they add up to the payload, the file adds a small
        # container (ftyp + moov for 66 frames, mdat header).
        assert r.segment_sizes_bytes.sum() == r.encode.payload_bytes
        overhead = r.path.stat().st_size - int(r.segment_sizes_bytes.sum())
        assert 0 < overhead < 4096
        assert r.measured_kbps == pytest.approx(r.segment_sizes_bytes.sum() * 8 / r.duration_s / 1000)
        assert r.peak_kbps >= r.measured_kbps
        assert r.peak_kbps >= r.segment_bitrates_kbps[:2].max()  # every full segment is a window
        # capped CRF at the rung's CRF, capped at 1.5 x its bitrate
        assert r.crf == rung.crf and r.settings.crf == rung.crf
        assert r.settings.max_bitrate_kbps == pytest.approx(1.5 * rung.bitrate_kbps)
        assert r.target_kbps == rung.bitrate_kbps
        assert re.fullmatch(r"avc1\.64[0-9a-f]{4}", r.codecs)  # High profile at veryfast
        assert r.segment_vmaf is not None and r.segment_vmaf.shape == (3,)
        assert np.all((r.segment_vmaf > 0) & (r.segment_vmaf <= 100))
    assert renditions[1].vmaf > renditions[0].vmaf


def test_renditions_have_keyframes_on_segment_boundaries(renditions: list[Rendition]) -> None:
    for r in renditions:
        assert r.encode.keyframe_aligned
        starts = np.concatenate(([0.0], np.cumsum(r.segment_durations_s)[:-1]))
        np.testing.assert_allclose(r.encode.keyframe_times_s, starts, atol=1e-6)
        packets = read_packets(r.path)
        key_times = packets.times_s[packets.key]
        np.testing.assert_allclose(key_times, starts, atol=1e-6)


def test_renditions_table(renditions: list[Rendition]) -> None:
    table = renditions_table(renditions)
    assert list(table["height"]) == [108, 180]
    assert list(table["measured_kbps"]) == [r.measured_kbps for r in renditions]
    assert set(table.columns) >= {"target_kbps", "peak_kbps", "vmaf", "codecs", "path"}


def test_vbr_renditions_and_progress(ff: FFmpeg, work: Path, source: Path) -> None:
    seen: list[float] = []
    rungs = [{"bitrate_kbps": 120, "width": 320, "height": 180}]  # no CRF: fine for VBR
    (r,) = encode_renditions(
        source, rungs, out_dir=work / "vbr", rate_control="vbr", maxrate_factor=2.0, preset="ultrafast",
        quality=None, ffmpeg=ff, progress=seen.append,
    )
    assert r.settings.bitrate_kbps == 120 and r.settings.max_bitrate_kbps == 240 and r.crf is None
    assert 0.5 * 120 < r.measured_kbps < 2.0 * 120
    assert r.segment_vmaf is None and r.vmaf is None
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


@pytest.mark.parametrize(
    ("rungs", "kwargs", "match"),
    [
        (RUNGS.drop(columns="crf"), {}, r"missing \['crf'\].*rate_control='vbr'"),
        (RUNGS.drop(columns="width"), {"rate_control": "vbr"}, r"missing \['width'\]"),
        (RUNGS.iloc[:0], {}, "at least one rung"),
        (RUNGS.assign(width=[191, 320]), {}, r"width=191 is invalid: must be even"),
        (RUNGS.assign(bitrate_kbps=[0.0, 10.0]), {}, r"bitrate_kbps\[0\]=0.0 is invalid"),
        (RUNGS, {"rate_control": "cbr"}, "rate_control='cbr' is invalid"),
        (RUNGS, {"maxrate_factor": 0.9}, "maxrate_factor=0.9 is invalid: must be finite and >= 1"),
        (RUNGS, {"codec": "h266"}, "codec='h266' is invalid"),
        (RUNGS, {"quality": "vmaf"}, "quality='vmaf' is invalid"),
        (RUNGS.assign(width=[192, 640], height=[108, 360]), {}, "must not exceed the source's 320x180"),
    ],
)
def test_encode_renditions_rejects_bad_input(
    ff: FFmpeg, source: Path, tmp_path: Path, rungs: pd.DataFrame, kwargs: dict, match: str,
) -> None:
    with pytest.raises(ParameterError, match=match):
        encode_renditions(source, rungs, out_dir=tmp_path, ffmpeg=ff, **({"quality": None} | kwargs))


# -- bandwidth definitions ----------------------------------------------------------------------------


def test_peak_bitrate_of_constant_segments_is_their_rate() -> None:
    assert peak_bitrate_bps([250_000] * 5, [2.0] * 5) == pytest.approx(1e6)


def test_peak_bitrate_counts_a_short_tail_with_its_neighbour() -> None:
    # target 2 s: windows of 1 to 3 s. The 0.4 s tail alone is too short to count (its own rate
    # would be 2 Mb/s), but with the segment before it (2.4 s) it is a window.
    sizes, durations = [100_000, 100_000, 100_000], [2.0, 2.0, 0.4]
    expected = 8 * 200_000 / 2.4
    assert peak_bitrate_bps(sizes, durations) == pytest.approx(expected)
    assert rfc8216_peak(sizes, durations, 2.0) == pytest.approx(expected)
    # a presentation shorter than half the target: its average
    assert peak_bitrate_bps([1000], [0.4]) == pytest.approx(8 * 1000 / 0.4)


def test_bandwidths_match_the_definitions_on_random_segments() -> None:
    rng = np.random.default_rng(5)
    for _ in range(40):
        n = int(rng.integers(1, 12))
        durations = list(rng.choice([2.0, 2.0, 2.0, 1.5, 0.3], size=n))
        sizes = list(rng.integers(1, 500_000, size=n).astype(float))
        target = math.ceil(max(durations))
        expected = rfc8216_peak(sizes, durations, target)
        if expected is None:
            expected = 8 * sum(sizes) / sum(durations)
        assert peak_bitrate_bps(sizes, durations) == pytest.approx(expected, rel=1e-12)
        for tau in (0.5, 2.0, 6.0):
            assert dash_bandwidth_bps(sizes, durations, tau) == pytest.approx(
                dash_leaky_bucket(sizes, durations, tau), rel=1e-12,
            )


def test_dash_bandwidth_of_constant_segments() -> None:
    # with one segment of buffer, each segment must arrive within its own duration
    assert dash_bandwidth_bps([250_000] * 4, [2.0] * 4, 2.0) == pytest.approx(1e6)
    # more buffer absorbs a peak
    sizes, durations = [100_000, 400_000, 100_000], [2.0, 2.0, 2.0]
    assert dash_bandwidth_bps(sizes, durations, 2.0) > dash_bandwidth_bps(sizes, durations, 4.0)


@pytest.mark.parametrize(
    ("sizes", "durations", "match"),
    [([], [], "non-empty"), ([1, 2], [2.0], "match durations_s"), ([1], [0.0], "durations_s"), ([-1], [2.0], "sizes_bytes")],
)
def test_bandwidth_rejects_bad_segments(sizes: list, durations: list, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        peak_bitrate_bps(sizes, durations)


# -- codec strings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "pattern"),
    [
        ("x264", r"avc1\.[0-9a-f]{6}"),
        ("x265", r"hvc1\.[ABC]?\d+\.[0-9A-F]+\.[LH]\d+(\.[0-9A-F]{1,2})*"),
        ("svtav1", r"av01\.\d\.\d\d[MH]\.(08|10|12)"),
        ("vp9", r"vp09\.\d\d\.\d\d\.(08|10|12)"),
    ],
)
def test_codecs_string_from_the_sample_description(ff: FFmpeg, source: Path, tmp_path: Path, codec: str, pattern: str) -> None:
    extra = ("-tag:v", "hvc1") if codec == "x265" else ()
    settings = EncodeSettings(
        codec=codec, width=64, height=36, crf=30 if codec.startswith("x") else 45, preset=CODECS[codec].fastest_preset,
        extra=extra,
    )
    tiny = tmp_path / "tiny_source.mp4"
    ff.run(["-i", file_url(source), "-frames:v", "8", "-c", "copy", "-y", file_url(tiny)])
    enc = encode(tiny, settings, tmp_path / f"{codec}.mp4", ffmpeg=ff)
    text = codecs_string(enc.path)
    assert re.fullmatch(pattern, text), text
    if codec != "x265":  # ffmpeg's DASH muxer derives the same string (it has none for HEVC)
        ff.run(["-i", file_url(enc.path), "-c", "copy", "-f", "dash", "m.mpd"], cwd=tmp_path)
        written = re.search(r'codecs="([^"]*)"', (tmp_path / "m.mpd").read_text()).group(1)
        assert text == written


def test_codecs_string_of_known_boxes(renditions: list[Rendition]) -> None:
    # x264 High profile (100 = 0x64), no constraint flags; its level byte is 0x09..0x0d here
    assert renditions[0].codecs[:7] == "avc1.64"
    level = int(renditions[1].codecs[-2:], 16)
    assert 9 <= level <= 31


def test_codecs_string_of_a_non_mp4_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n")
    with pytest.raises(VideoFormatError, match="no 'moov' box"):
        codecs_string(text)


# -- the simulator's Video ---------------------------------------------------------------------------


def test_video_from_renditions_shapes_and_units(renditions: list[Rendition]) -> None:
    video = video_from_renditions(renditions, tail="keep")
    assert video.name == "source"
    assert video.sizes_bytes.shape == (3, 2)
    np.testing.assert_array_equal(video.sizes_bytes, np.column_stack([r.segment_sizes_bytes for r in renditions]))
    np.testing.assert_allclose(video.bitrates_bps, [r.measured_kbps * 1000 for r in renditions])
    assert video.chunk_s == 2.0
    np.testing.assert_allclose(video.quality, np.column_stack([r.segment_vmaf for r in renditions]))
    assert video.resolutions == ((192, 108), (320, 180))
    assert video.meta["tail"] == "kept" and video.meta["last_segment_s"] == pytest.approx(0.4)
    np.testing.assert_allclose(video.durations_s, [2.0, 2.0, 0.4])  # the kept tail lasts what it lasts
    assert video.duration_s == pytest.approx(4.4)
    assert video.meta["codecs"] == [r.codecs for r in renditions]
    assert video.meta["measured_kbps"] == [r.measured_kbps for r in renditions]
    assert "payload" in video.meta["bitrates"]

    # the default drops the 0.4 s tail: every chunk then holds the 2 s its size describes
    dropped = video_from_renditions(renditions, "clip")
    assert dropped.name == "clip" and dropped.n_chunks == 2 and dropped.meta["tail"] == "dropped"
    np.testing.assert_array_equal(dropped.sizes_bytes, video.sizes_bytes[:2])
    np.testing.assert_array_equal(dropped.quality, video.quality[:2])
    assert dropped.chunk_s == 2.0 and dropped.duration_s == 4.0 and dropped.durations_s is None


def test_a_tail_without_a_quality_value_is_fine_when_dropped(renditions: list[Rendition]) -> None:
    # subsampled scoring can leave a 0.4 s tail without a VMAF value: only an error if it is kept
    holed = [dataclasses.replace(r, segment_vmaf=np.append(r.segment_vmaf[:-1], np.nan)) for r in renditions]
    assert video_from_renditions(holed).n_chunks == 2
    with pytest.raises(ParameterError, match="segment 2 has no vmaf value"):
        video_from_renditions(holed, tail="keep")


def test_the_video_streams_in_the_simulator(renditions: list[Rendition]) -> None:
    video = video_from_renditions(renditions, tail="keep")
    session = simulate(Trace.constant(2e6, name="2 Mb/s"), video, "rate")
    assert session.status == "complete" and session.n_chunks == 3
    # what was downloaded is what was encoded
    np.testing.assert_array_equal(session.size_bytes, video.sizes_bytes[np.arange(3), session.rung])
    assert session.rung[-1] == 1  # 2 Mb/s is plenty for 160 kb/s
    slow = simulate(Trace.constant(80e3, name="80 kb/s"), video, "rate")
    assert slow.rung[-1] == 0


def test_video_needs_increasing_measured_rates(renditions: list[Rendition]) -> None:
    twin = dataclasses.replace(renditions[1], measured_kbps=renditions[0].measured_kbps)
    with pytest.raises(ParameterError, match=r"renditions\[1\] \(320x180@160k\) measures .* not above renditions\[0\] \(192x108@60k\)"):
        video_from_renditions([renditions[0], twin])


def test_video_needs_shared_segment_boundaries(renditions: list[Rendition]) -> None:
    short = dataclasses.replace(
        renditions[1], segment_sizes_bytes=renditions[1].segment_sizes_bytes[:2], segment_durations_s=np.array([2.0, 2.4]),
    )
    with pytest.raises(ParameterError, match="share their segment boundaries"):
        video_from_renditions([renditions[0], short])
    with pytest.raises(ParameterError, match="tail='end' is invalid"):
        video_from_renditions(renditions, tail="end")
    with pytest.raises(ParameterError, match="at least one rendition"):
        video_from_renditions([])


# -- HLS ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment_format", ["mpegts", "fmp4"])
def test_hls_playlists_add_up_and_bandwidth_is_measured(
    renditions: list[Rendition], work: Path, segment_format: str,
) -> None:
    master = write_hls(renditions, work / f"hls_{segment_format}", segment_format=segment_format)
    assert master.name == "master.m3u8"
    text = master.read_text()
    assert text.startswith("#EXTM3U\n") and "#EXT-X-INDEPENDENT-SEGMENTS" in text
    variants = stream_inf(master)
    assert len(variants) == 2
    for (attrs, uri), r in zip(variants, renditions):
        assert attrs["RESOLUTION"] == f"{r.width}x{r.height}"
        assert attrs["FRAME-RATE"] == "15.000"
        playlist = master.parent / uri
        lines = playlist.read_text().splitlines()
        assert lines[0] == "#EXTM3U" and "#EXT-X-PLAYLIST-TYPE:VOD" in lines and lines[-1] == "#EXT-X-ENDLIST"
        extinf = [float(x.split(":", 1)[1].rstrip(",")) for x in lines if x.startswith("#EXTINF:")]
        uris = [x for x in lines if x and not x.startswith("#")]
        target = int(next(x for x in lines if x.startswith("#EXT-X-TARGETDURATION:")).split(":")[1])
        assert target >= math.ceil(max(extinf))
        assert abs(sum(extinf) - N_FRAMES / FPS) <= 1 / FPS
        np.testing.assert_allclose(extinf, r.segment_durations_s, atol=0.5 / FPS)
        files = [playlist.parent / u for u in uris]
        sizes = [f.stat().st_size for f in files]
        average = 8 * sum(sizes) / sum(extinf)
        peak = max(rfc8216_peak(sizes, extinf, target), average)
        assert int(attrs["AVERAGE-BANDWIDTH"]) == math.ceil(average)
        assert int(attrs["BANDWIDTH"]) == math.ceil(peak)
        assert int(attrs["BANDWIDTH"]) >= int(attrs["AVERAGE-BANDWIDTH"])
        # the segment files carry the container: more than the video payload
        assert average > r.measured_kbps * 1000
        assert attrs["CODECS"] == r.codecs
        parsed = read_media_playlist(playlist)
        assert parsed.uris == tuple(uris) and parsed.target_duration_s == target and parsed.endlist
        if segment_format == "mpegts":
            assert parsed.version == 3 and parsed.map_uri is None and all(u.endswith(".ts") for u in uris)
            # every segment starts with a keyframe: it decodes on its own
            for f in files:
                assert read_packets(f).key[0]
        else:
            assert parsed.version == 7 and (playlist.parent / parsed.map_uri).is_file()
            assert all(u.endswith(".m4s") for u in uris)
    assert f"#EXT-X-VERSION:{3 if segment_format == 'mpegts' else 7}" in text


def test_hls_refuses_what_it_cannot_package(renditions: list[Rendition], tmp_path: Path) -> None:
    av1 = [dataclasses.replace(r, codecs="av01.0.00M.08") for r in renditions]
    with pytest.raises(ParameterError, match="MPEG-TS segments carry H.264 or HEVC only"):
        write_hls(av1, tmp_path, segment_format="mpegts")
    with pytest.raises(ParameterError, match="segment_format='cmaf' is invalid"):
        write_hls(renditions, tmp_path, segment_format="cmaf")
    with pytest.raises(ParameterError, match="master_name='a/b.m3u8' is invalid"):
        write_hls(renditions, tmp_path, master_name="a/b.m3u8")


def test_read_media_playlist_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.m3u8"
    bad.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:two,\nseg.ts\n")
    with pytest.raises(VideoFormatError, match="line 3"):
        read_media_playlist(bad)
    bad.write_text("hello\n")
    with pytest.raises(VideoFormatError, match="not an HLS playlist"):
        read_media_playlist(bad)


# -- DASH ----------------------------------------------------------------------------------------------


def test_dash_manifest_parses_with_measured_bandwidth(renditions: list[Rendition], work: Path) -> None:
    out = work / "dash"
    manifest = write_dash(renditions, out)
    root = ET.parse(manifest).getroot()
    assert root.tag == f"{MPD}MPD" and root.get("type") == "static"
    assert "urn:mpeg:dash:profile:isoff-live:2011" in root.get("profiles")
    assert root.get("minBufferTime") == "PT2S" and root.get("maxSegmentDuration") == "PT2S"
    assert root.get("mediaPresentationDuration") == "PT4.4S"
    (period,) = root.findall(f"{MPD}Period")
    (aset,) = period.findall(f"{MPD}AdaptationSet")
    assert aset.get("bitstreamSwitching") == "false"
    reps = aset.findall(f"{MPD}Representation")
    assert len(reps) == 2
    for rep, r in zip(reps, renditions):
        assert (int(rep.get("width")), int(rep.get("height"))) == r.resolution
        assert rep.get("codecs") == r.codecs and rep.get("mimeType") == "video/mp4"
        template = rep.find(f"{MPD}SegmentTemplate")
        timescale = int(template.get("timescale"))
        durations = []
        for s in template.find(f"{MPD}SegmentTimeline").findall(f"{MPD}S"):
            durations += [int(s.get("d")) / timescale] * (int(s.get("r", "0")) + 1)
        np.testing.assert_allclose(durations, [2.0, 2.0, 0.4], atol=0.5 / FPS)
        assert abs(sum(durations) - N_FRAMES / FPS) <= 1 / FPS
        media = template.get("media").replace("$RepresentationID$", rep.get("id"))
        start = int(template.get("startNumber", "1"))
        files = [out / re.sub(r"\$Number%05d\$", f"{start + k:05d}", media) for k in range(len(durations))]
        sizes = [f.stat().st_size for f in files]
        bandwidth = int(rep.get("bandwidth"))
        assert bandwidth == math.ceil(dash_leaky_bucket(sizes, durations, 2.0))
        # at least the rate of every full segment, container included
        assert bandwidth >= max(8 * s / d for s, d in zip(sizes[:2], durations[:2]))
        assert (out / template.get("initialization").replace("$RepresentationID$", rep.get("id"))).is_file()

    relaxed = write_dash(renditions, work / "dash_relaxed", min_buffer_s=6.0)
    relaxed_reps = ET.parse(relaxed).getroot().findall(f".//{MPD}Representation")
    assert ET.parse(relaxed).getroot().get("minBufferTime") == "PT6S"
    for a, b in zip(relaxed_reps, reps):
        assert int(a.get("bandwidth")) < int(b.get("bandwidth"))


# -- a frame rate that does not divide the segment ----------------------------------------------------


def test_ntsc_segments_last_2002_ms(ff: FFmpeg, work: Path) -> None:
    clip = lavfi_clip(ff, work / "ntsc.mp4", source="mandelbrot", size="192x108", fps="30000/1001", duration_s=2.5)
    (r,) = encode_renditions(
        clip, [{"bitrate_kbps": 300, "width": 192, "height": 108, "crf": 30}], out_dir=work / "ntsc",
        preset="ultrafast", quality=None, ffmpeg=ff,
    )
    np.testing.assert_allclose(r.segment_durations_s, [60 * 1.001 / 30, 15 * 1.001 / 30])
    video = video_from_renditions([r])
    assert video.chunk_s == pytest.approx(2.002)
    master = write_hls([r], work / "ntsc_hls", segment_format="fmp4")
    playlist = read_media_playlist(master.parent / stream_inf(master)[0][1])
    assert playlist.target_duration_s == 3  # ceil(2.002)
    assert stream_inf(master)[0][0]["FRAME-RATE"] == "29.970"
    root = ET.parse(write_dash([r], work / "ntsc_dash")).getroot()
    assert root.get("maxSegmentDuration") == "PT2.002S" and root.get("mediaPresentationDuration") == "PT2.5025S"


# -- the camera clip -----------------------------------------------------------------------------------


@pytest.mark.shared
def test_camera_clip_end_to_end(ff: FFmpeg, work: Path) -> None:
    clip = cut_camera_clip(ff, work / "camera.mp4", seconds=4.0, size="320x180")
    rungs = pd.DataFrame({"bitrate_kbps": [250.0, 700.0], "width": [192, 320], "height": [108, 180], "crf": [32.0, 26.0]})
    renditions = encode_renditions(
        clip, rungs, out_dir=work / "camera", preset="veryfast", ffmpeg=ff,
        quality=QualitySettings(psnr=False, ssim=False),
    )
    for r in renditions:
        assert r.n_segments == 2 and r.encode.keyframe_aligned and r.peak_kbps >= r.measured_kbps
        assert r.measured_kbps < 1.5 * r.target_kbps * 1.25  # the cap holds, give or take the VBV buffer
    video = video_from_renditions(renditions, "cockatoo")
    assert video.sizes_bytes.shape == (2, 2) and video.quality.shape == (2, 2)
    assert np.all(video.quality[:, 1] > video.quality[:, 0])
    session = simulate(Trace.constant(3e6), video, "rate")
    assert session.status == "complete"
    master = write_hls(renditions, work / "camera_hls", segment_format="mpegts")
    for (attrs, uri), r in zip(stream_inf(master), renditions):
        assert int(attrs["BANDWIDTH"]) >= int(attrs["AVERAGE-BANDWIDTH"])
        playlist = read_media_playlist(master.parent / uri)
        assert playlist.durations_s.sum() == pytest.approx(4.0, abs=1 / 20)
        # Without a short tail every RFC window is one segment, and ffmpeg's own master playlist
        # (largest single-segment rate, average over all) must agree with abrkit's to the bit.
        own = work / f"camera_ffmpeg_{r.height}"
        own.mkdir()
        ff.run(["-i", file_url(r.path), "-map", "0:V:0", "-c", "copy", "-f", "hls", "-hls_time", "2",
                "-hls_playlist_type", "vod", "-master_pl_name", "master.m3u8", "index.m3u8"], cwd=own)
        ((theirs, _),) = stream_inf(own / "master.m3u8")
        assert abs(int(theirs["BANDWIDTH"]) - int(attrs["BANDWIDTH"])) <= 1
        assert abs(int(theirs["AVERAGE-BANDWIDTH"]) - int(attrs["AVERAGE-BANDWIDTH"])) <= 1


@pytest.mark.parametrize("kind", ["hls", "dash"])
def test_video_from_packaged_segments(renditions: list[Rendition], work: Path, kind: str) -> None:
    out = work / f"packaged_{kind}"
    manifest = write_hls(renditions, out, segment_format="mpegts") if kind == "hls" else write_dash(renditions, out)
    files = packaged_segment_sizes(manifest)
    assert [f.size for f in files] == [3, 3]
    video = video_from_renditions(renditions, package=manifest, tail="keep")
    np.testing.assert_array_equal(video.sizes_bytes, np.column_stack(files))
    np.testing.assert_array_equal(video_from_renditions(renditions, package=manifest).sizes_bytes,
                                  np.column_stack(files)[:2])  # the 0.4 s tail dropped by default
    assert np.all(video.sizes_bytes > np.column_stack([r.segment_sizes_bytes for r in renditions]))  # container
    np.testing.assert_allclose(video.bitrates_bps, [f.sum() * 8 / (N_FRAMES / FPS) for f in files])
    assert "container included" in video.meta["sizes"] and "container included" in video.meta["bitrates"]
    with pytest.raises(ParameterError, match="package the same renditions"):
        video_from_renditions(renditions[:1], package=manifest)


def test_announced_rates_increase_with_the_renditions_average_rates():
    from abrkit.encode.package import _increasing

    class R:
        def __init__(self, kbps):
            self.measured_kbps = kbps

    # equal peaks in ladder order are raised by 1 bit/s; a larger one is left alone
    assert _increasing([500, 500, 500, 900], [R(1), R(2), R(3), R(4)]) == [500, 501, 502, 900]
    # the order is the renditions' average rates, not the order given
    assert _increasing([500, 500, 300], [R(3), R(2), R(1)]) == [501, 500, 300]
