"""Pensieve's pretrained agent without TensorFlow: the checkpoint reader, the network, the state,
the controller under every profile, the policy files, and parity with the original
(``../shared/data/reference/pensieve/rl_sample.csv`` and ``rl_greedy.csv``).
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abrkit import Video, load_traces, read_video, run_batch
from abrkit.cli import main as cli_main
from abrkit.controllers import Learned, Pensieve, get_controller
from abrkit.custom import BuiltinController
from abrkit.errors import ModelFormatError, ParameterError
from abrkit.learned import checkpoint as ck
from abrkit.learned.actor import ACTOR_TENSORS, forward_numpy, pack_network, read_actor, same_padding
from abrkit.learned.controllers import draw_stream
from abrkit.learned.policy import load_policy, pensieve_policy_path, save_policy
from abrkit._kernels import pensieve_net as N
from abrkit._kernels.pensieve_obs import S_INFO, S_LEN, pensieve_state_push

CKPT = "models/pensieve/pretrain_linear_reward.ckpt"
LADDER_KBPS = (300, 750, 1200, 1850, 2850, 4300)
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


# -- a minimal, independent writer of the checkpoint format (to make bad checkpoints) --------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _entry_proto(shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    dims = b"".join(_field(2, 2, _varint(len(d)) + d) for d in (_field(1, 0, _varint(n)) for n in shape))
    return (_field(1, 0, _varint(1)) + _field(2, 2, _varint(len(dims)) + dims) + _field(4, 0, _varint(offset))
            + _field(5, 0, _varint(size)) + _field(6, 5, struct.pack("<I", crc)))


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)  # no shared prefixes
    return body + struct.pack("<I", 0) + struct.pack("<I", 1)


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", ck.masked_crc32c(block + b"\x00"))


def write_checkpoint(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """A single-shard V2 checkpoint of float32 tensors, written from the format's description."""
    data = bytearray()
    entries = [(b"", _field(1, 0, _varint(1)))]  # header: num_shards = 1
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        entries.append((name.encode(), _entry_proto(tensors[name].shape, len(data), len(raw), ck.masked_crc32c(raw))))
        data += raw
    data_block = _with_trailer(_block(entries))
    index_block = _with_trailer(_block([(b"\xff", _varint(0) + _varint(len(data_block) - 5))]))
    meta_block = _with_trailer(_block([]))
    table = data_block + index_block + meta_block
    handles = (_varint(len(data_block) + len(index_block)) + _varint(len(meta_block) - 5)
               + _varint(len(data_block)) + _varint(len(index_block) - 5))
    footer = handles.ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    prefix.with_name(prefix.name + ".index").write_bytes(table + footer)
    prefix.with_name(prefix.name + ".data-00000-of-00001").write_bytes(bytes(data))


@pytest.fixture(scope="module")
def ckpt_prefix(shared_data: Path) -> Path:
    p = shared_data / CKPT
    if not p.with_name(p.name + ".index").is_file():
        pytest.skip(f"reference data not found: {p}")
    return p


@pytest.fixture(scope="module")
def actor(ckpt_prefix: Path) -> dict[str, np.ndarray]:
    return read_actor(ckpt_prefix)


def _copy_ckpt(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / "model.ckpt"
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copyfile(src.with_name(src.name + suffix), dst.with_name(dst.name + suffix))
    return dst


# -- CRC-32C ---------------------------------------------------------------------------------------


def test_crc32c_known_values() -> None:
    # RFC 3720's check value and its all-zero vector
    assert ck.crc32c(b"123456789") == 0xE3069283
    assert ck.crc32c(bytes(32)) == 0x8A9136AA


# -- the checkpoint reader on the real file ----------------------------------------------------------


@pytest.mark.shared
def test_reads_the_real_checkpoint(ckpt_prefix: Path, actor: dict[str, np.ndarray]) -> None:
    c = ck.read_checkpoint(ckpt_prefix)
    assert len(c.entries) == 100  # actor, critic, RMSProp slots, Variables
    for name, shape in ACTOR_TENSORS.items():
        assert c.entries[name].shape == shape
        assert actor[name].dtype == np.float32 and actor[name].shape == shape
        assert np.all(np.isfinite(actor[name]))
    # every tensor's bytes pass their stored CRC, and the entries tile the data file
    ends = sorted((i.offset, i.offset + i.size) for i in c.entries.values())
    assert ends[-1][1] <= c.data_path.stat().st_size
    for name in c.entries:
        c.tensor(name)


@pytest.mark.shared
def test_shipped_weights_are_the_checkpoints(actor: dict[str, np.ndarray]) -> None:
    shipped = load_policy(pensieve_policy_path())
    assert shipped.architecture == "pensieve-a3c-actor" and shipped.n_rungs == 6 and shipped.chunks_cap == 48
    assert set(shipped.params) == set(ACTOR_TENSORS)
    for name, value in actor.items():
        np.testing.assert_array_equal(shipped.params[name], value, err_msg=name)


def test_shipped_licence_notice_is_next_to_the_weights() -> None:
    notice = pensieve_policy_path().with_name("PENSIEVE_LICENSE").read_text()
    assert "Copyright (c) 2017 Pensieve" in notice and "MIT License" in notice


def test_independent_writer_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors = {"a/W": rng.random((3, 4), dtype=np.float32), "a/b": rng.random(4, dtype=np.float32)}
    write_checkpoint(tmp_path / "t.ckpt", tensors)
    c = ck.read_checkpoint(tmp_path / "t.ckpt")
    assert set(c.entries) == set(tensors)
    for name, value in tensors.items():
        np.testing.assert_array_equal(c.tensor(name), value)


# -- bad checkpoints -------------------------------------------------------------------------------


@pytest.mark.shared
def test_truncated_index(ckpt_prefix: Path, tmp_path: Path) -> None:
    p = _copy_ckpt(ckpt_prefix, tmp_path)
    index = p.with_name(p.name + ".index")
    raw = index.read_bytes()
    index.write_bytes(raw[:-20])
    with pytest.raises(ModelFormatError, match=r"model\.ckpt\.index: bad magic number .*truncated"):
        ck.read_checkpoint(p)
    index.write_bytes(raw[:30])
    with pytest.raises(ModelFormatError, match=r"30 bytes is shorter than the 48-byte table footer"):
        ck.read_checkpoint(p)
    # the footer kept, a block cut out: its handle points past what is left
    index.write_bytes(raw[:100] + raw[-48:])
    with pytest.raises(ModelFormatError, match=r"model\.ckpt\.index: index block .* lies outside the file .*truncated"):
        ck.read_checkpoint(p)


@pytest.mark.shared
def test_corrupt_index_block(ckpt_prefix: Path, tmp_path: Path) -> None:
    p = _copy_ckpt(ckpt_prefix, tmp_path)
    index = p.with_name(p.name + ".index")
    raw = bytearray(index.read_bytes())
    raw[40] ^= 0x01  # inside the first data block
    index.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match=r"model\.ckpt\.index: data block at offset 0: checksum mismatch"):
        ck.read_checkpoint(p)


@pytest.mark.shared
def test_truncated_and_corrupt_data(ckpt_prefix: Path, tmp_path: Path) -> None:
    p = _copy_ckpt(ckpt_prefix, tmp_path)
    data = p.with_name(p.name + ".data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    info = ck.read_checkpoint(p).entries["actor/FullyConnected_3/W"]
    data.write_bytes(bytes(raw[: info.offset + 100]))
    with pytest.raises(ModelFormatError, match=r"data-00000-of-00001: tensor 'actor/FullyConnected_3/W' needs bytes .*truncated"):
        read_actor(p)
    raw[info.offset + 1000] ^= 0x40
    data.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match=r"tensor 'actor/FullyConnected_3/W': checksum mismatch"):
        read_actor(p)


def test_missing_tensor_and_other_architecture(actor_like: dict[str, np.ndarray], tmp_path: Path) -> None:
    missing = dict(actor_like)
    del missing["actor/Conv1D_2/W"]
    write_checkpoint(tmp_path / "missing.ckpt", missing)
    with pytest.raises(ModelFormatError, match=r"missing\.ckpt\.index: missing tensor 'actor/Conv1D_2/W'"):
        read_actor(tmp_path / "missing.ckpt")
    other = dict(actor_like)
    other["actor/FullyConnected_3/W"] = np.zeros((768, 64), np.float32)
    write_checkpoint(tmp_path / "other.ckpt", other)
    with pytest.raises(ModelFormatError, match=r"'actor/FullyConnected_3/W' has shape \(768, 64\), expected \(768, 128\): another architecture"):
        read_actor(tmp_path / "other.ckpt")


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match=r"nothing\.ckpt\.index: cannot read the checkpoint index"):
        ck.read_checkpoint(tmp_path / "nothing.ckpt")


@pytest.fixture(scope="module")
def actor_like() -> dict[str, np.ndarray]:
    """Random weights of Pensieve's shapes (for tests that need no reference data)."""
    rng = np.random.default_rng(5)
    return {name: (rng.standard_normal(shape) * 0.1).astype(np.float32) for name, shape in ACTOR_TENSORS.items()}


# -- the network: NumPy reference against the compiled pass -------------------------------------------


def test_same_padding_puts_one_tap_on_a_length_one_input() -> None:
    before, after = same_padding(1, 4)
    assert (before, after) == (1, 2)
    assert N.CONV_TAP == before  # the output step sees taps 0..3 at input steps -1..2: tap 1 is step 0


def _random_states(rng: np.random.Generator, n: int) -> np.ndarray:
    scale = np.array([1.0, 3.0, 2.0, 0.5, 2.0, 1.0])[:, None]
    states = rng.random((n, S_INFO, S_LEN)) * scale
    states[: n // 4] = 0.0  # a fresh session's history
    return states


def test_compiled_forward_equals_numpy(actor_like: dict[str, np.ndarray]) -> None:
    net = pack_network(actor_like)
    rng = np.random.default_rng(0)
    probs = np.empty(N.N_ACTIONS, np.float32)
    scratch = np.empty(N.N_MERGE + N.HIDDEN + S_LEN, np.float32)
    for state in _random_states(rng, 200):
        expected = forward_numpy(actor_like, state)
        N.pensieve_forward(net, state, probs, scratch)
        assert probs.dtype == np.float32
        np.testing.assert_allclose(probs, expected, rtol=2e-5, atol=1e-7)
        assert abs(float(probs.sum()) - 1.0) < 1e-5


@pytest.mark.shared
def test_compiled_forward_equals_numpy_on_pensieve(actor: dict[str, np.ndarray]) -> None:
    net = pack_network(actor)
    rng = np.random.default_rng(3)
    probs = np.empty(N.N_ACTIONS, np.float32)
    scratch = np.empty(N.N_MERGE + N.HIDDEN + S_LEN, np.float32)
    for state in _random_states(rng, 200):
        expected = forward_numpy(actor, state)
        N.pensieve_forward(net, state, probs, scratch)
        np.testing.assert_allclose(probs, expected, rtol=2e-5, atol=1e-7)
        assert int(np.argmax(probs)) == int(np.argmax(expected))


def test_network_ignores_row_5_and_reads_row_4s_last_value(actor_like: dict[str, np.ndarray]) -> None:
    net = pack_network(actor_like)
    probs = np.empty(N.N_ACTIONS, np.float32)
    scratch = np.empty(N.N_MERGE + N.HIDDEN + S_LEN, np.float32)
    state = _random_states(np.random.default_rng(2), 8)[-1]
    N.pensieve_forward(net, state, probs, scratch)
    base = probs.copy()
    changed = state.copy()
    changed[5] += 0.5  # chunks left: the original's network never sees it
    N.pensieve_forward(net, changed, probs, scratch)
    np.testing.assert_array_equal(probs, base)
    changed = state.copy()
    changed[4, -1] += 0.5
    N.pensieve_forward(net, changed, probs, scratch)
    assert not np.array_equal(probs, base)


# -- the state -------------------------------------------------------------------------------------


def _reference_push(state, bitrate_kbps, top_kbps, buffer_s, size_bytes, delay_ms, next_sizes, remain):
    """rl_no_training.py's lines, in its units (delay in ms)."""
    state = np.roll(state, -1, axis=1)
    state[0, -1] = bitrate_kbps / float(top_kbps)
    state[1, -1] = buffer_s / 10.0
    state[2, -1] = float(size_bytes) / float(delay_ms) / 1000.0
    state[3, -1] = float(delay_ms) / 1000.0 / 10.0
    state[4, :6] = np.array(next_sizes) / 1000.0 / 1000.0
    state[5, -1] = np.minimum(remain, 48.0) / 48.0
    return state


def test_state_push_matches_rl_no_training() -> None:
    rng = np.random.default_rng(4)
    ours = np.zeros((S_INFO, S_LEN))
    ref = np.zeros((S_INFO, S_LEN))
    for k in range(30):  # long enough for the roll to wrap row 4's old values round
        rung = int(rng.integers(6))
        buffer_s = float(rng.random() * 60)
        size = int(rng.integers(100_000, 3_000_000))
        delay_s = float(rng.random() * 5 + 0.08)
        nxt = rng.integers(100_000, 3_000_000, size=6).astype(np.float64)
        remain = 60 - k
        ref = _reference_push(ref, LADDER_KBPS[rung], 4300, buffer_s, size, delay_s * 1000.0, nxt, remain)
        pensieve_state_push(ours, LADDER_KBPS[rung] * 1000.0 / 4.3e6, buffer_s, float(size), delay_s, nxt, remain, 48.0)
        np.testing.assert_array_equal(ours, ref)
    assert ours[4, 6] != 0.0 and ours[4, 7] != 0.0  # wrapped values, as in the original


# -- the draw stream -----------------------------------------------------------------------------------


def test_draw_stream_equals_repeated_single_calls() -> None:
    state = np.random.get_state()
    try:
        np.random.seed(42)
        single = np.array([np.random.randint(1, 1000) for _ in range(5000)])
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(draw_stream(42, 5000), single)
    # and a longer request starts with the same draws (a stream may be extended)
    np.testing.assert_array_equal(draw_stream(42, 9000)[:5000], single)


# -- policy files ------------------------------------------------------------------------------------


def test_policy_round_trip_and_learned_controller(actor_like: dict[str, np.ndarray], tmp_path: Path) -> None:
    path = save_policy(tmp_path / "p.npz", actor_like, source="test")
    pol = load_policy(path)
    assert pol.n_rungs == 6 and pol.observation == "pensieve-6x8" and pol.bitrates_kbps == LADDER_KBPS
    np.testing.assert_array_equal(pol.network(), pack_network(actor_like))
    c = get_controller(f"learned:path={path}")
    assert isinstance(c, Learned) and c.n_rungs == 6
    assert get_controller("pensieve").policy == "greedy"


def _rewrite(src: Path, dst: Path, **changes: object) -> Path:
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        key = k.replace("__", "/")
        if v is None:
            del arrays[key]
        else:
            arrays[key] = np.asarray(v)
    np.savez(dst, **arrays)
    return dst


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_rungs": 5}, r"n_rungs=5, but architecture 'pensieve-a3c-actor' chooses among 6 rungs"),
        ({"architecture": "fugu-transformer"}, r"architecture 'fugu-transformer' is not one abrkit runs"),
        ({"observation": "rich"}, r"observation 'rich' is not one abrkit builds"),
        ({"format_version": 99}, r"policy format version 99; this abrkit reads version 1"),
        ({"format": "something"}, r"not a policy file: format is 'something'"),
        ({"param__actor/FullyConnected_4/W": None}, r"missing tensor 'actor/FullyConnected_4/W'"),
        ({"param__actor/FullyConnected_4/W": np.zeros((128, 5), np.float32)},
         r"tensor 'actor/FullyConnected_4/W' has shape \(128, 5\), architecture 'pensieve-a3c-actor' needs \(128, 6\)"),
    ],
)
def test_bad_policy_files(actor_like, tmp_path: Path, changes, message) -> None:
    good = save_policy(tmp_path / "good.npz", actor_like)
    bad = _rewrite(good, tmp_path / "bad.npz", **changes)
    with pytest.raises(ModelFormatError, match=r"bad\.npz: " + message):
        load_policy(bad)
    with pytest.raises(ModelFormatError, match=r"bad\.npz"):
        get_controller(f"learned:path={bad}")


def test_unreadable_policy_files(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFormatError, match=r"junk\.npz: not a readable \.npz policy file"):
        load_policy(tmp_path / "junk.npz")
    with pytest.raises(ModelFormatError, match=r"absent\.npz: no such policy file"):
        get_controller(f"learned:path={tmp_path / 'absent.npz'}")
    assert Learned().load().path == str(pensieve_policy_path())  # no path: the shipped agent
    with pytest.raises(ParameterError, match=r"policy='best' is invalid: must be one of greedy, sample"):
        Pensieve(policy="best")


def test_another_ladder_size_is_an_error() -> None:
    traces = load_traces(SAMPLES / "traces")[:1]
    video = read_video(SAMPLES / "videos" / "synthetic_vbr.json")
    assert video.n_rungs != 6
    with pytest.raises(ParameterError, match=r"has 8 rungs; controller 'pensieve' .* chooses among exactly 6"):
        run_batch(traces, video, "pensieve", "default", progress=False)
    with pytest.raises(ParameterError, match=r"has 8 rungs"):
        run_batch(traces, video, "pensieve", "sabre", progress=False)


# -- the controller under every profile ------------------------------------------------------------------


@pytest.fixture(scope="module")
def six_rung_video() -> Video:
    full = read_video(SAMPLES / "videos" / "synthetic_vbr.json")
    keep = [0, 1, 2, 4, 5, 7]
    return Video(bitrates_bps=full.bitrates_bps[keep], chunk_s=full.chunk_s, sizes_bytes=full.sizes_bytes[:, keep], name="six")


@pytest.mark.parametrize("profile", ["default", "pensieve", "sabre", "event"])
@pytest.mark.parametrize("policy", ["greedy", "sample"])
def test_runs_under_every_profile(profile: str, policy: str, six_rung_video: Video) -> None:
    traces = load_traces(SAMPLES / "traces")
    spec = f"pensieve:policy={policy},seed=7"
    batch = run_batch(traces, six_rung_video, spec, profile, progress=False)
    sessions = batch.sessions()
    assert len(sessions) == len(traces)
    rungs = batch.chunks()["rung"].to_numpy()
    assert rungs.min() >= 0 and rungs.max() <= 5
    assert len(np.unique(rungs)) > 1  # it adapts
    again = run_batch(traces, six_rung_video, spec, profile, progress=False)
    pd.testing.assert_frame_equal(again.chunks(), batch.chunks())


@pytest.mark.parametrize("profile", ["default", "pensieve", "sabre"])
@pytest.mark.parametrize("policy", ["greedy", "sample"])
def test_python_twin_agrees(profile: str, policy: str, six_rung_video: Video) -> None:
    """The compiled loop and the Python loop give the same decisions, the sample stream running
    on across sessions in both."""
    traces = load_traces(SAMPLES / "traces")
    spec = f"pensieve:policy={policy},seed=3"
    compiled = run_batch(traces, six_rung_video, spec, profile, progress=False).chunks()
    twin = run_batch(traces, six_rung_video, BuiltinController(spec), profile, progress=False).chunks()
    np.testing.assert_array_equal(twin["rung"].to_numpy(), compiled["rung"].to_numpy())


def test_sample_stream_runs_on_across_sessions(six_rung_video: Video) -> None:
    traces = load_traces(SAMPLES / "traces")[:2]
    both = run_batch(traces, six_rung_video, "pensieve:policy=sample,seed=1", "pensieve", progress=False)
    alone = run_batch(traces[1:], six_rung_video, "pensieve:policy=sample,seed=1", "pensieve", progress=False)
    # the second session of the batch continues the stream the first one left
    assert not np.array_equal(both.session_frame(1)["rung"].to_numpy(), alone.session_frame(0)["rung"].to_numpy())


# -- parity with the original --------------------------------------------------------------------------


def _run_cli(shared: Path, out: Path, spec: str) -> pd.DataFrame:
    code = cli_main([
        "simulate", "--profile", "pensieve", "--traces", str(shared / "traces" / "norway-hsdpa-test"),
        "--video", str(shared / "videos" / "envivio"), "--bitrates-kbps", "300,750,1200,1850,2850,4300",
        "--controller", spec, "--log", str(out),
    ])
    assert code in (0, None)
    return pd.read_csv(out)


@pytest.mark.shared
@pytest.mark.parametrize(
    ("spec", "reference", "mean_qoe"),
    [("pensieve:policy=sample,seed=42", "rl_sample.csv", 43.473), ("pensieve:policy=greedy", "rl_greedy.csv", 44.344)],
)
def test_parity_with_rl_no_training(shared_data: Path, tmp_path: Path, spec: str, reference: str, mean_qoe: float) -> None:
    ref = pd.read_csv(shared_data / "reference" / "pensieve" / reference)
    sim = _run_cli(shared_data, tmp_path / "rl.csv", spec)
    assert ref["trace"].nunique() == 65 and len(ref) == 65 * 48
    merged = ref.merge(sim, on=["trace", "chunk"], how="left", suffixes=("_ref", ""), validate="one_to_one")
    assert not merged["rung"].isna().any()
    wrong = merged[merged["bitrate_kbps_ref"] != merged["bitrate_kbps"]]
    assert wrong.empty, f"{len(wrong)} decisions differ; first:\n{wrong.head()}"
    for ours, theirs, scale in (("delay_s", "delay_ms", 1000.0), ("buffer_s", "buffer_s_ref", 1.0),
                                ("rebuffer_s", "rebuffer_s_ref", 1.0), ("reward", "reward_ref", 1.0)):
        np.testing.assert_allclose(merged[ours].to_numpy(float) * scale, merged[theirs].to_numpy(float), rtol=1e-6,
                                   atol=1e-9, err_msg=ours)
    # whole set (all 142 traces): Pensieve's totals sum the rewards of chunks 1..47
    per_trace = sim[sim["chunk"] >= 1].groupby("trace")["reward"].sum()
    assert len(per_trace) == 142
    assert round(float(per_trace.mean()), 3) == mean_qoe


@pytest.mark.shared
@pytest.mark.parametrize("tap", [0, 2, 3])
def test_parity_singles_out_conv_tap_1(actor: dict[str, np.ndarray], shared_data: Path, tmp_path: Path, tap: int,
                                       norway_traces, envivio) -> None:
    """The proof that tap 1 is the one: moving another tap's weights into its place breaks parity."""
    moved = dict(actor)
    for name in ("actor/Conv1D/W", "actor/Conv1D_1/W", "actor/Conv1D_2/W"):
        w = actor[name].copy()
        w[[1, tap]] = w[[tap, 1]]
        moved[name] = w
    path = save_policy(tmp_path / f"tap{tap}.npz", moved)
    batch = run_batch(norway_traces, envivio, f"learned:path={path}", "pensieve", progress=False)
    ref = pd.read_csv(shared_data / "reference" / "pensieve" / "rl_greedy.csv")
    merged = ref.merge(batch.chunks(), on=["trace", "chunk"], suffixes=("_ref", ""))
    assert (merged["bitrate_kbps_ref"] != merged["bitrate_kbps"]).sum() > 1000  # measured: 1320 to 1411 of 3120


def test_cli_reports_a_bad_policy_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "policy.npz"
    np.savez(bad, format=np.array("abrkit-policy"), format_version=np.array(1), architecture=np.array("pensieve-a3c-actor"),
             observation=np.array("pensieve-6x8"), n_rungs=np.array(8))
    code = cli_main([
        "simulate", "--traces", str(SAMPLES / "traces"), "--video", str(SAMPLES / "videos" / "synthetic_vbr.json"),
        "--controller", f"learned:path={bad}",
    ])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "n_rungs=8" in err[0], err
