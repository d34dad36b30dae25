"""Compare abrkit's throughput predictors on real traces and write Markdown tables.

Every predictor (``abrkit.predictors.PREDICTORS``, plus a few variants) watches the same chunk
downloads: Pensieve's ladder (300-4300 kbps) in 4 s CBR chunks, 150 chunks per session, chosen
by the rate rule with MPC's harmonic mean, under the ``default`` profile
(``abrkit.evaluate.DEFAULT_EVAL_VIDEO``). Before each download each predictor estimates its
throughput; ``evaluate_predictors`` scores the estimates. Data sets:

* Norway HSDPA: the 142 traces of ``traces/norway-hsdpa-test``;
* FCC: the 59 ``trace_*`` files of ``traces/pensieve-train`` (its other 68 files are Norway
  HSDPA too).

A third table lets each predictor drive the rate rule itself (safety 1.0, so that the
predictor's own margin is what shows) and reports what the viewer gets.

``--tune-kalman`` also searches KalmanLog's parameters on all of ``pensieve-train`` and reports
the chosen ones on ``norway-hsdpa-test``, which the search never sees.

    python examples/predictor_table.py [--data ../shared/data] [--out FILE] [--tune-kalman]

Needs the shared reference data (``../shared/data`` next to the repository, or ``--data``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from abrkit import RateBased, load_traces, run_batch
from abrkit.evaluate import DEFAULT_EVAL_VIDEO, evaluate_predictors
from abrkit.predictors import PREDICTORS, KalmanLog, get_predictor

HERE = Path(__file__).resolve().parent

#: KalmanLog's first, untuned parameters; its defaults are what ``--tune-kalman`` found on
#: pensieve-train (see docs/predictors.md), and the tables compare the two.
FIRST_GUESS = dict(process_var_per_s=0.01, measurement_var=0.1, initial_var=1.0)

#: Every registered predictor, then the variants the tables discuss.
PREDICTOR_SPECS = [get_predictor(name) for name in PREDICTORS] + [
    KalmanLog(quantile=0.1),
    KalmanLog(**FIRST_GUESS),
    KalmanLog(quantile=0.1, **FIRST_GUESS),
]
LABELS = {
    KalmanLog(**FIRST_GUESS).name: "kalman, first guess",
    KalmanLog(quantile=0.1, **FIRST_GUESS).name: "kalman, first guess, quantile 0.1",
}

#: Predictors that drive the rate rule in the session table.
SESSION_SPECS = ["harmonic", "last", "dashjs", "robust", "exoplayer", "kalman", "kalman(quantile=0.1)",
                 KalmanLog(**FIRST_GUESS), KalmanLog(quantile=0.1, **FIRST_GUESS), "oracle"]


def load_sets(data: Path) -> dict[str, list]:
    traces = data / "traces"
    if not (traces / "norway-hsdpa-test").is_dir():
        sys.exit(f"shared data not found under {data} (pass --data DIR)")
    train = load_traces(traces / "pensieve-train")
    return {
        "Norway HSDPA (142 test traces)": load_traces(traces / "norway-hsdpa-test"),
        "FCC (59 traces of pensieve-train)": [t for t in train if t.name.startswith("trace_")],
    }


def label(name: str) -> str:
    return LABELS.get(name, name)


def markdown(frame: pd.DataFrame) -> str:
    """A DataFrame of strings as a GitHub Markdown table (first column left, the rest right)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join([":---"] + ["---:"] * (len(cols) - 1)) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def error_table(scores: pd.DataFrame) -> str:
    out = pd.DataFrame({
        "predictor": [f"`{label(n)}`" for n in scores["predictor"]],
        "MAPE": scores["mape"].map(pct),
        "median APE": scores["median_ape"].map(pct),
        "over: share": scores["over_rate"].map(pct),
        "over: mean": scores["mean_over"].map(pct),
        "under: share": scores["under_rate"].map(pct),
        "under: mean": scores["mean_under"].map(pct),
        "error p5": scores["p5"].map(pct),
        "error p50": scores["p50"].map(pct),
        "error p95": scores["p95"].map(pct),
        "RMS log error": scores["rmse_log"].map(lambda x: f"{x:.3f}"),
        "no estimate": scores["missing"].map(str),
    })
    return markdown(out)


def session_table(sets: dict[str, list]) -> str:
    rows = []
    controllers = [RateBased(predictor=p, safety=1.0) for p in SESSION_SPECS]
    per_set = {}
    for set_name, traces in sets.items():
        summary = run_batch(traces, DEFAULT_EVAL_VIDEO, controllers, "default", progress=False).summary().set_index("controller")
        per_set[set_name] = summary
    for ctrl in controllers:
        row = {"predictor (rate rule, safety 1.0)": f"`{label(ctrl.predictor.name)}`"}
        for set_name, summary in per_set.items():
            short = set_name.split(" (")[0]
            s = summary.loc[ctrl.name]
            row[f"{short}: kbps"] = f"{s['mean_bitrate_kbps']:.0f}"
            row[f"{short}: rebuffering"] = pct(s["rebuffer_ratio"])
            row[f"{short}: QoE per session"] = f"{s['mean_qoe']:.1f}"
        rows.append(row)
    return markdown(pd.DataFrame(rows))


# -- KalmanLog tuning -----------------------------------------------------------------------------


def tune_kalman(train: list, test: list) -> str:
    """Two steps, on ``train`` only. The median estimate depends on the variances only through
    their ratios (scaling all three by c leaves every gain unchanged), so (1) pick the ratios
    q/R and P0/R that minimise the RMS log error of the median; (2) scale all three together so
    that the 10 % and 90 % quantiles are calibrated (over-estimates at quantile 0.1, under-
    estimates at 0.9, closest to 10 % on average). Then report on ``test``."""
    r = 0.02
    ratios = [(a, b) for a in (0.1, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0) for b in (0.1, 0.3, 1.0, 3.0, 10.0, 50.0)]
    specs = [KalmanLog(0.5, a * r, r, b * r) for a, b in ratios]
    step1 = evaluate_predictors(train, specs)
    best = int(np.argmin(step1["rmse_log"].to_numpy()))
    a, b = ratios[best]
    scales = (0.003, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1)
    specs = [KalmanLog(q, a * c, c, b * c) for c in scales for q in (0.1, 0.9)]
    step2 = evaluate_predictors(train, specs)
    miss = [
        abs(step2["over_rate"].iloc[2 * i] - 0.1) + abs(step2["under_rate"].iloc[2 * i + 1] - 0.1) for i in range(len(scales))
    ]
    c = scales[int(np.argmin(miss))]
    chosen = dict(process_var_per_s=round(a * c, 6), measurement_var=c, initial_var=round(b * c, 6))
    lines = [
        f"Step 1 (pensieve-train, {len(train)} traces): best ratios q/R = {a:g} per second, P0/R = {b:g}; "
        f"RMS log error {step1['rmse_log'].iloc[best]:.4f} (first guess: see below).",
        f"Step 2: scale R = {c:g}: over-estimates at quantile 0.1 and under-estimates at 0.9 closest to 10 %.",
        f"Chosen: `KalmanLog({', '.join(f'{k}={v:g}' for k, v in chosen.items())})`.",
        "",
    ]
    default = [KalmanLog(q, **FIRST_GUESS) for q in (0.5, 0.1, 0.9)]
    tuned = [KalmanLog(q, **chosen) for q in (0.5, 0.1, 0.9)]
    for set_name, traces in (("pensieve-train (tuning set)", train), ("norway-hsdpa-test (held out)", test)):
        scores = evaluate_predictors(traces, default + tuned)
        rows = []
        for (_, s), which, q in zip(scores.iterrows(), ["first guess"] * 3 + ["tuned (the defaults)"] * 3, [0.5, 0.1, 0.9] * 2):
            rows.append({
                "KalmanLog": which, "quantile": q, "MAPE": pct(s["mape"]), "RMS log error": f"{s['rmse_log']:.4f}",
                "over: share": pct(s["over_rate"]), "under: share": pct(s["under_rate"]),
            })
        lines += [f"**{set_name}**", "", markdown(pd.DataFrame(rows)), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown here (default: stdout)")
    parser.add_argument("--tune-kalman", action="store_true", help="also search KalmanLog's parameters on pensieve-train")
    args = parser.parse_args()

    sets = load_sets(args.data)
    parts = []
    for set_name, traces in sets.items():
        scores = evaluate_predictors(traces, PREDICTOR_SPECS)
        parts += [f"#### {set_name}", "", error_table(scores), ""]
    parts += ["#### The rate rule driven by each predictor", "", session_table(sets), ""]
    if args.tune_kalman:
        train = load_traces(args.data / "traces" / "pensieve-train")
        parts += ["#### Tuning KalmanLog", "", tune_kalman(train, load_traces(args.data / "traces" / "norway-hsdpa-test"))]
    text = "\n".join(parts)
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
