"""Training end to end: the vector environment, PPO, the policy file, the compiled controller,
the CLI, and resuming after a kill."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gymnasium")

from abrkit import load_traces, simulate_many  # noqa: E402
from abrkit.cli import main as cli_main  # noqa: E402
from abrkit.errors import ParameterError  # noqa: E402
from abrkit.learned.actor import forward_numpy  # noqa: E402
from abrkit.learned.policy import load_policy  # noqa: E402
from abrkit.rl import PPOConfig, train_policy  # noqa: E402
from abrkit.rl.training import train_dir  # noqa: E402
from abrkit.video import Video  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LADDER = (300, 750, 1200, 1850, 2850, 4300)


@pytest.fixture(scope="module")
def traces():
    return load_traces(SAMPLES / "traces")


@pytest.fixture(scope="module")
def video():
    return Video.synthetic_vbr(LADDER, chunk_s=4.0, n_chunks=12, seed=3)


def _small(**kw):
    return PPOConfig(actor="pensieve", n_steps=12, minibatch=256, epochs=2, **kw)


def test_policy_file_runs_as_the_compiled_controller(traces, video, tmp_path):
    out = tmp_path / "policy.npz"
    res = train_policy(traces, video, out, steps=8 * 12 * 3, n_envs=8, seed=1, config=_small(), eval_traces=traces,
                       eval_every=2, progress=False)
    pol = load_policy(out)
    assert pol.architecture == "pensieve-a3c-actor" and pol.n_rungs == 6
    assert pol.bitrates_kbps == tuple(float(b) for b in LADDER)
    # the file holds the trained actor: its probabilities are the MLP's
    state = np.random.default_rng(0).uniform(0, 1, (6, 8))
    logits = res.actor(state.reshape(1, 48))[0].astype(np.float64)
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(forward_numpy(pol.params, state), p / p.sum(), rtol=1e-4, atol=1e-6)
    # the curve's last evaluation is what simulate reports for the file
    table = simulate_many(traces, video, f"learned:path={out}", profile="pensieve", progress=False)
    assert res.extra["final_eval"] == pytest.approx(float(table["qoe"].mean()), rel=1e-12)
    curve = pd.read_csv(train_dir(out) / "curve.csv")
    assert list(curve["iteration"]) == [1, 2, 3]
    assert curve["eval"].notna().sum() == 2  # iterations 2 and 3 (the last)


def test_killed_training_resumes_to_the_same_policy(traces, video, tmp_path):
    whole = tmp_path / "whole.npz"
    train_policy(traces, video, whole, steps=8 * 12 * 4, n_envs=8, seed=2, config=_small(), progress=False)
    calls = []

    def stop(actor):  # Ctrl-C during iteration 3: the checkpoint holds iterations 1-2
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return 0.0

    part = tmp_path / "part.npz"
    import abrkit.rl.training as T

    real = T.evaluate_policy
    T.evaluate_policy = lambda *a, **k: stop(None)
    try:
        with pytest.raises(KeyboardInterrupt):
            train_policy(traces, video, part, steps=8 * 12 * 4, n_envs=8, seed=2, config=_small(), eval_traces=traces,
                         eval_every=1, checkpoint_every_s=0, progress=False)
    finally:
        T.evaluate_policy = real
    assert not part.exists() and (train_dir(part) / "checkpoint.npz").exists()
    # evaluation does not change training, so the resumed run (without it) ends where the whole one did
    again = train_policy(traces, video, part, steps=8 * 12 * 4, n_envs=8, seed=2, config=_small(), progress=False)
    assert again.resumed_from > 0
    a, b = load_policy(whole), load_policy(part)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_train_policy_refuses_what_it_cannot_write(traces, video, tmp_path):
    with pytest.raises(ParameterError, match=r"\.npz"):
        train_policy(traces, video, tmp_path / "policy.bin", steps=10, progress=False)
    with pytest.raises(ParameterError, match="actor"):
        train_policy(traces, video, tmp_path / "p.npz", steps=10, config=PPOConfig(actor="mlp"), progress=False)
    eight = Video.synthetic_vbr((200, 400, 800, 1200, 2000, 3000, 4500, 6000), chunk_s=4.0, n_chunks=12, seed=3)
    with pytest.raises(ParameterError, match="6"):
        train_policy(traces, eight, tmp_path / "p.npz", steps=10, progress=False)


def test_cli_train_smoke(video, tmp_path, capsys):
    """The CI smoke run: a few thousand steps through the command line, then the policy simulated."""
    vpath = tmp_path / "video.json"
    video.to_json(vpath)
    out = tmp_path / "policy.npz"
    code = cli_main(["train", "--traces", str(SAMPLES / "traces"), "--video", str(vpath), "--steps", "3072",
                     "--envs", "16", "--out", str(out), "--eval-traces", str(SAMPLES / "traces"), "--no-progress"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["env_steps"] == 3072 and summary["iterations"] == 4 and summary["resumed_from_iteration"] == 0
    assert np.isfinite(summary["final_eval_mean_qoe"])
    assert (train_dir(out) / "curve.csv").exists() and (train_dir(out) / "curve.png").stat().st_size > 1000
    code = cli_main(["simulate", "--traces", str(SAMPLES / "traces"), "--video", str(vpath), "--profile", "pensieve",
                     "--controller", "bb", f"learned:path={out}", "--format", "json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["family"] for r in rows} == {"bb", "learned"} and len(rows) == 2 * len(load_traces(SAMPLES / "traces"))
