"""abrkit.encode.ffmpeg and abrkit.encode.probe: finding ffmpeg, capabilities, running, escaping, probing."""

from __future__ import annotations

import json
import pickle
import stat
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _clips import CAMERA_CLIP, lavfi_clip
from abrkit.encode.ffmpeg import ENV_VAR, FFmpeg, escape_filter_value, file_url, find_ffmpeg, progress_fields, temp_run_dir
from abrkit.encode.probe import bit_depth_of, probe
from abrkit.errors import FFmpegError, ToolNotFoundError, VideoFormatError


@pytest.fixture(scope="module")
def ff() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def clips(ff: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A good clip and a collection of bad files made from it."""
    d = tmp_path_factory.mktemp("probe")
    good = lavfi_clip(ff, d / "good.mp4", fps=20, duration_s=2.0)
    out = {"good": good}
    (d / "notes.txt").write_text("this is not a video\n" * 20)
    out["text"] = d / "notes.txt"
    ff.run(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", "-y", file_url(d / "audio.m4a")])
    out["audio"] = d / "audio.m4a"
    data = good.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])  # moov is at the end: index lost
    out["truncated"] = d / "truncated.mp4"
    ff.run(["-i", file_url(good), "-c", "copy", "-y", file_url(d / "good.mkv")])
    mkv = (d / "good.mkv").read_bytes()
    (d / "truncated.mkv").write_bytes(mkv[: len(mkv) // 2])  # header fine, stream cut
    out["truncated_mkv"] = d / "truncated.mkv"
    (d / "empty.mp4").write_bytes(b"")
    out["empty"] = d / "empty.mp4"
    ff.run(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30000/1001:duration=1", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-y", file_url(d / "ntsc10.mkv")])
    out["ntsc10"] = d / "ntsc10.mkv"
    return out


def _script(path: Path, body: str, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(mode)
    return path


def _wrapper(ff: FFmpeg, path: Path) -> Path:
    """A script that runs the real ffmpeg: a second, distinct, working binary path."""
    return _script(path, f'exec "{ff.path}" "$@"')


# -- finding ffmpeg -----------------------------------------------------------------------------


def test_default_is_imageio_binary_and_cached(ff: FFmpeg, monkeypatch: pytest.MonkeyPatch) -> None:
    import imageio_ffmpeg

    monkeypatch.delenv(ENV_VAR, raising=False)
    found = find_ffmpeg()
    assert Path(found.path) == Path(imageio_ffmpeg.get_ffmpeg_exe()).resolve()
    assert found.version and found.version[0].isalnum()
    assert find_ffmpeg() is found  # cached per path


def test_explicit_path_beats_env_var(ff: FFmpeg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_bin = _wrapper(ff, tmp_path / "env-ffmpeg")
    arg_bin = _wrapper(ff, tmp_path / "arg-ffmpeg")
    monkeypatch.setenv(ENV_VAR, str(env_bin))
    assert find_ffmpeg().path == str(env_bin.resolve())
    assert find_ffmpeg(arg_bin).path == str(arg_bin.resolve())
    assert find_ffmpeg(str(arg_bin)).version == ff.version


def test_env_var_missing_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(ToolNotFoundError, match=rf"{ENV_VAR}.*does not exist.*pip install imageio-ffmpeg"):
        find_ffmpeg()


def test_explicit_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ToolNotFoundError, match="does not exist"):
        find_ffmpeg(tmp_path / "nothing" / "ffmpeg")
    with pytest.raises(ToolNotFoundError, match="not on PATH"):
        find_ffmpeg("abrkit-no-such-ffmpeg-command")


def test_nothing_found_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import imageio_ffmpeg

    def no_binary() -> str:
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolNotFoundError, match=r"ffmpeg not found.*pip install imageio-ffmpeg.*ABRKIT_FFMPEG"):
        find_ffmpeg()


def test_path_is_the_last_resort(ff: FFmpeg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import imageio_ffmpeg

    def no_binary() -> str:
        raise RuntimeError("No ffmpeg exe could be found")

    _wrapper(ff, tmp_path / "ffmpeg")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_ffmpeg().path == str((tmp_path / "ffmpeg").resolve())


@pytest.mark.parametrize(
    ("body", "mode", "message"),
    [
        ('exec "{real}" "$@"', 0o644, "not executable"),
        ("echo 'segmentation fault' >&2; exit 139", 0o755, "broken ffmpeg.*exited with code 139"),
        ("echo 'hello, I am not ffmpeg'", 0o755, "broken ffmpeg.*did not print an ffmpeg version"),
    ],
    ids=["not-executable", "crashes", "not-ffmpeg"],
)
def test_broken_binaries(ff: FFmpeg, tmp_path: Path, body: str, mode: int, message: str) -> None:
    fake = _script(tmp_path / "ffmpeg", body.format(real=ff.path), mode)
    with pytest.raises(ToolNotFoundError, match=message):
        find_ffmpeg(fake)


def test_garbage_binary_does_not_run(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_bytes(b"\x00\x01 not an executable format")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToolNotFoundError, match="broken ffmpeg.*does not run"):
        find_ffmpeg(fake)


def test_directory_is_not_ffmpeg(tmp_path: Path) -> None:
    with pytest.raises(ToolNotFoundError, match="is a directory"):
        find_ffmpeg(tmp_path)


# -- capabilities -------------------------------------------------------------------------------


def test_capabilities_of_the_bundled_build(ff: FFmpeg) -> None:
    for encoder in ("libx264", "libx265", "libsvtav1", "libvpx-vp9"):
        assert ff.has_encoder(encoder)
        ff.require_encoder(encoder)
    assert {"libvmaf", "scale", "showinfo"} <= ff.filters()
    ff.require_filter("libvmaf")
    assert isinstance(ff.libvmaf_version, str) and ff.libvmaf_version
    assert ff.has_loopback_decoder
    assert ff.encoders() is ff.encoders()  # cached


def test_ffmpeg_pickles_for_worker_processes(ff: FFmpeg) -> None:
    ff.encoders()  # fill the cache: it must not travel
    again = pickle.loads(pickle.dumps(ff))
    assert again == ff and again.path == ff.path and again.version == ff.version
    assert again.has_encoder("libx264")


def test_missing_encoder_and_filter_say_how_to_fix(ff: FFmpeg) -> None:
    assert not ff.has_encoder("libnope264")
    with pytest.raises(ToolNotFoundError, match=r"no encoder 'libnope264'.*pip install imageio-ffmpeg"):
        ff.require_encoder("libnope264")
    with pytest.raises(ToolNotFoundError, match=r"no 'nofilter' filter"):
        ff.require_filter("nofilter")


def test_ffmpeg_without_libvmaf(ff: FFmpeg, tmp_path: Path) -> None:
    # A wrapper whose filter list lacks libvmaf, as a distribution ffmpeg often does.
    listing = tmp_path / "filters.txt"
    listing.write_text("Filters:\n ------\n TS scale  V->V  Scale the input video.\n")
    fake = _script(tmp_path / "ffmpeg", f'if [ "$2" = "-filters" ]; then cat "{listing}"; exit 0; fi\nexec "{ff.path}" "$@"')
    limited = find_ffmpeg(fake)
    assert not limited.has_filter("libvmaf")
    assert limited.libvmaf_version is None
    with pytest.raises(ToolNotFoundError, match=r"no 'libvmaf' filter.*--enable-libvmaf"):
        limited.require_filter("libvmaf")


# -- running ------------------------------------------------------------------------------------


def test_failed_run_carries_command_and_stderr(ff: FFmpeg, tmp_path: Path) -> None:
    with pytest.raises(FFmpegError) as info:
        ff.run(["-i", file_url(tmp_path / "missing.mp4"), "-f", "null", "-"])
    err = info.value
    assert err.returncode != 0
    assert err.cmd[0] == ff.path and "-nostdin" in err.cmd and "-progress" in err.cmd
    assert "No such file or directory" in err.stderr
    assert "missing.mp4" in str(err) and "No such file" in str(err)


def test_progress_reports_fractions_up_to_one(ff: FFmpeg) -> None:
    seen: list[float] = []
    done = ff.run(["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=50:duration=2", "-f", "null", "-"],
                  progress=seen.append, total_s=2.0)
    assert seen and seen[-1] == 1.0
    assert all(0.0 <= a < b <= 1.0 for a, b in zip(seen, seen[1:]))
    fields = progress_fields(done.stdout)
    assert fields["progress"] == "end" and fields["frame"] == "100"


def test_progress_callback_can_stop_ffmpeg(ff: FFmpeg) -> None:
    class Stop(Exception):
        pass

    def stop(_fraction: float) -> None:
        raise Stop

    with pytest.raises(Stop):  # an hour of video would take minutes: it must be killed at once
        ff.run(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3600", "-f", "null", "-"],
               progress=stop, total_s=3600.0)


def test_timeout_kills_and_raises(ff: FFmpeg) -> None:
    with pytest.raises(FFmpegError, match="timeout_s=0.5"):
        ff.run(["-re", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=60", "-f", "null", "-"], timeout_s=0.5)


def test_temp_run_dir_is_fresh_and_removed() -> None:
    with temp_run_dir() as a, temp_run_dir() as b:
        assert a != b and a.is_dir() and not any(a.iterdir())
        (a / "x.log").write_text("x")
    assert not a.exists() and not b.exists()


def test_file_url_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert file_url("http:clip.mp4") == "file:" + str(tmp_path / "http:clip.mp4")


# -- escaping -----------------------------------------------------------------------------------


def _get_token(text: str, delimiters: str) -> tuple[str, str]:
    """The tokenizer ffmpeg uses at each level (av_get_token): returns (token, rest).

    Backslash takes the next character literally, '...' quotes literally, unescaped leading
    and trailing whitespace is dropped, and the token ends at an unescaped delimiter.
    """
    out: list[str] = []
    i = 0
    while i < len(text) and text[i] in " \n\t\r":
        i += 1
    keep = 0  # length of out that must be kept whatever trailing whitespace follows
    while i < len(text) and text[i] not in delimiters:
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            keep = len(out)
        elif c == "'":
            i += 1
            while i < len(text) and text[i] != "'":
                out.append(text[i])
                i += 1
            i += 1
            keep = len(out)
        else:
            out.append(c)
            i += 1
            if c not in " \n\t\r":
                keep = len(out)
    return "".join(out[:keep]), text[i:]


def _parse_as_ffmpeg(escaped: str) -> str:
    """What a filter option receives for ``opt=<escaped>`` followed by more graph text."""
    level2, rest = _get_token(escaped + ",null", "[],;")
    assert rest == ",null"
    level1, rest = _get_token(level2, ":")
    assert rest == ""
    return level1


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain.json", "plain.json"),
        ("a:b", r"a\\:b"),
        ("x[1]", r"x\[1\]"),
        ("a,b;c", r"a\,b\;c"),
        ("it's", r"it\\\'s"),
        ("back\\slash", r"back\\\\slash"),
        (" pad ", r"\\\ pad\\\ "),
        ("C:\\dir\\log.json", r"C\\:\\\\dir\\\\log.json"),
    ],
)
def test_escape_filter_value_table(raw: str, escaped: str) -> None:
    assert escape_filter_value(raw) == escaped
    assert _parse_as_ffmpeg(escaped) == raw


def test_escape_accepts_paths(tmp_path: Path) -> None:
    assert escape_filter_value(tmp_path / "a:b") == escape_filter_value(str(tmp_path / "a:b"))


@given(st.text(alphabet=st.sampled_from(list("ab:,;[]'\\= \t/.-xé")), max_size=30))
def test_escape_round_trips_through_both_levels(raw: str) -> None:
    assert _parse_as_ffmpeg(escape_filter_value(raw)) == raw


def test_escaping_in_a_real_filtergraph(ff: FFmpeg, tmp_path: Path) -> None:
    # A directory whose name holds every character special to filtergraphs, and files in it
    # used both as an input (movie=) and as libvmaf's log path.
    odd = tmp_path / "we:ird, it's [dir]; a\\b = c "
    odd.mkdir()
    movie = lavfi_clip(ff, odd / "in: 'x',[1];.mp4", size="64x64", fps=10, duration_s=0.5)
    log = odd / " log: 'v'.json "
    graph = (
        f"movie={escape_filter_value(movie)}[m];"
        f"[0:v][m]libvmaf=log_fmt=json:log_path={escape_filter_value(log)}"
    )
    ff.run(["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=0.5", "-filter_complex", graph, "-f", "null", "-"])
    data = json.loads(log.read_text())
    assert len(data["frames"]) == 5
    assert sorted(p.name for p in odd.iterdir()) == sorted([movie.name, log.name])


# -- probing ------------------------------------------------------------------------------------


def test_probe_good_clip(ff: FFmpeg, clips: dict[str, Path]) -> None:
    info = probe(clips["good"], ff)
    assert (info.width, info.height, info.n_frames) == (320, 180, 40)
    assert info.fps == Fraction(20) and info.duration_s == 2.0 and info.frame_s == 0.05
    assert (info.pix_fmt, info.bit_depth, info.codec) == ("yuv420p", 8, "h264")
    assert info.container_duration_s == pytest.approx(2.0)
    assert info.size_bytes == clips["good"].stat().st_size
    assert probe(str(clips["good"])) == info


def test_probe_exact_ntsc_rate_and_ten_bit(ff: FFmpeg, clips: dict[str, Path]) -> None:
    info = probe(clips["ntsc10"], ff)
    assert info.fps == Fraction(30000, 1001)
    assert info.n_frames == 30
    assert (info.pix_fmt, info.bit_depth) == ("yuv420p10le", 10)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text", "not a video"),
        ("audio", "has no video stream"),
        ("truncated", "moov atom.*truncated"),
        ("truncated_mkv", "corrupt or truncated video stream"),
        ("empty", "empty"),
    ],
)
def test_probe_bad_files(ff: FFmpeg, clips: dict[str, Path], name: str, message: str) -> None:
    with pytest.raises(VideoFormatError, match=message) as info:
        probe(clips[name], ff)
    assert info.value.path == str(clips[name])


def test_probe_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(VideoFormatError, match="missing.mp4: file not found"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(VideoFormatError, match="is a directory"):
        probe(tmp_path)


@pytest.mark.shared
def test_probe_camera_clip(ff: FFmpeg) -> None:
    if not CAMERA_CLIP.exists():
        pytest.skip(f"camera clip not found: {CAMERA_CLIP}")
    info = probe(CAMERA_CLIP, ff)
    assert (info.width, info.height, info.fps, info.n_frames) == (1280, 720, Fraction(20), 280)
    assert info.duration_s == 14.0


@pytest.mark.parametrize(
    ("pix_fmt", "depth"),
    [("yuv420p", 8), ("yuvj420p", 8), ("nv12", 8), ("yuv420p10le", 10), ("yuv444p12be", 12),
     ("p010le", 10), ("gray10le", 10), ("rgb48le", 16), ("gbrp10le", 10), ("rgb24", 8)],
)
def test_bit_depth_of(pix_fmt: str, depth: int) -> None:
    assert bit_depth_of(pix_fmt) == depth



# -- the package façade -------------------------------------------------------------------------


def test_package_exports_resolve() -> None:
    import importlib

    import abrkit.encode.probe  # the submodule shares its name with the function
    package = importlib.import_module("abrkit.encode")
    assert callable(package.probe) and package.probe is probe
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018
