"""Benchmark: the probe stage of `probes demo`, fits one by one against shared fits (not run by pytest).

Every probe job of the demo study (MiniLM when installed, its vector caches under $PROBES_CACHE or
~/.cache/probes, extracted first if absent) is run in this process twice per repeat: with
``probes.probing.api.SHARE_FITS = False`` (the default, the code before: the task's fit and each
control draw's fit trained one after the other) and with ``True`` (the fits that read the same
vectors, the task and its control draws, trained as one stacked L-BFGS run, likewise for the
random-init twin). Per job and
per probe kind: the median over ``--repeats`` (default 3) of each mode's seconds and their ratio.
Then the result differences between the two modes over every row (scores, intervals, selectivity,
mix weights...): the largest absolute difference per metric and how many rows differ by more than
1e-6. ``--against-cache`` also compares the one-by-one rows with the demo's cached job results (as
written by the code that made them), where the cache holds them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.experiment.demo import demo_config  # noqa: E402
from probes.experiment.runner import Experiment, default_cache_dir, run_probe  # noqa: E402
from probes.probing import api, features  # noqa: E402
from probes.records import RESULT_COLUMNS  # noqa: E402

KEY = ["model", "task", "probe", "layer", "train_set", "eval_set", "seed", "metric"]


def demo_jobs(ex: Experiment, kinds, tasks) -> list[tuple]:
    """(name, kind, run_probe arguments) of every probe job of the demo, in the order the study runs them."""
    out = []
    for model, task, kind in ex.probe_jobs():
        if (kinds and kind not in kinds) or (tasks and task.name not in tasks):
            continue
        work = ex._probe_work(model, task, kind, ex.probe_path(model, task, kind))
        train, dev, tests, control = ex._task_data(task)
        args = dict(train=(work.train, train), tests={n: (c, tests[n]) for n, c in work.tests.items()},
                    dev=(work.dev, dev) if work.dev is not None else None, control=control,
                    random_init=work.random_init, majority=work.majority, rank=work.rank, options=work.options,
                    **work.common)
        out.append((f"{task.name} {kind}", kind, args, work.path))
    return out


FAST_LOG_SOFTMAX = features.log_softmax


TORCH_LOG_SOFTMAX = torch.log_softmax


def run_job(kind: str, args: dict, share: bool, fast_log_softmax: bool = False) -> tuple[float, pd.DataFrame]:
    """One job with shared fits or one by one; ``fast_log_softmax``: the one-by-one fits with the
    log-softmax's formula in place of torch's kernel (an ulp-level change: the noise floor)."""
    api.SHARE_FITS = share
    if fast_log_softmax:
        torch.log_softmax = lambda z, dim: FAST_LOG_SOFTMAX(z)
    try:
        t0 = time.perf_counter()
        rows = run_probe(kind, **args)
        return time.perf_counter() - t0, pd.DataFrame([r.as_dict() for r in rows], columns=RESULT_COLUMNS)
    finally:
        torch.log_softmax = TORCH_LOG_SOFTMAX


def differences(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per metric family: rows, the largest and 95th-percentile |difference| of value / interval ends,
    rows off by more than 1e-6 (or NaN on one side only)."""
    m = a.merge(b, on=KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    missing = int((m["_merge"] != "both").sum())
    m = m[m["_merge"] == "both"]
    out = []
    family = m["metric"].str.split(":").str[0]
    for fam, g in m.groupby(family):
        # The largest |difference| of a row's value and interval ends (NaN where both are NaN).
        diffs = np.abs(np.stack([g[f"{c}_a"].to_numpy(float) - g[f"{c}_b"].to_numpy(float)
                                 for c in ("value", "ci_low", "ci_high")]))
        d = np.nan_to_num(diffs, nan=0.0).max(axis=0)
        both_nan = g["value_a"].isna() == g["value_b"].isna()
        out.append(dict(metric=fam, rows=len(g), max_abs_diff=float(d.max(initial=0.0)),
                        p95_abs_diff=float(np.percentile(d, 95)) if len(d) else 0.0,
                        rows_over_1e6=int((d > 1e-6).sum() + (~both_nan).sum())))
    df = pd.DataFrame(out)
    df.attrs["unmatched_rows"] = missing
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kinds", nargs="*", help="probe kinds to run (default: all of the demo's)")
    ap.add_argument("--tasks", nargs="*", help="tasks to run (default: all of the demo's)")
    ap.add_argument("--noise-floor", action="store_true",
                    help="also run the code before with only the log-softmax's float rounding changed, and "
                         "give its differences: what rounding alone moves in these results")
    ap.add_argument("--against-cache", action="store_true",
                    help="compare the one-by-one rows with the demo's cached job results too")
    a = ap.parse_args()
    cfg = demo_config(default_cache_dir())
    ex = Experiment(cfg, Path(tempfile.mkdtemp()), progress=False)
    ex.load_data()
    ex.extract_all()
    jobs = demo_jobs(ex, a.kinds, a.tasks)
    times = defaultdict(lambda: {False: [], True: []})
    results = {}
    for rep in range(a.repeats):
        for name, kind, args, _ in jobs:
            # Alternate the order so that neither mode always runs on a warmer (or busier) machine.
            for share in ((False, True) if rep % 2 == 0 else (True, False)):
                dt, df = run_job(kind, args, share)
                times[name][share].append(dt)
                results[(name, share)] = df
            print(f"repeat {rep + 1}: {name}: one by one {times[name][False][-1]:.1f} s, "
                  f"shared {times[name][True][-1]:.1f} s", flush=True)
    print(f"\nmedian of {a.repeats} (seconds)\n")
    print(f"{'job':28s} {'one by one':>10s} {'shared':>8s} {'ratio':>6s}")
    per_kind = defaultdict(lambda: [0.0, 0.0])
    for name, kind, _, _ in jobs:
        old, new = np.median(times[name][False]), np.median(times[name][True])
        per_kind[kind][0] += old
        per_kind[kind][1] += new
        print(f"{name:28s} {old:10.1f} {new:8.1f} {old / new:6.2f}")
    print()
    for kind, (old, new) in per_kind.items():
        print(f"{'all ' + kind:28s} {old:10.1f} {new:8.1f} {old / new:6.2f}")
    total_old, total_new = sum(v[0] for v in per_kind.values()), sum(v[1] for v in per_kind.values())
    print(f"{'probe stage':28s} {total_old:10.1f} {total_new:8.1f} {total_old / total_new:6.2f}")
    old = pd.concat([results[(n, False)] for n, *_ in jobs], ignore_index=True)
    new = pd.concat([results[(n, True)] for n, *_ in jobs], ignore_index=True)
    diff = differences(old, new)
    print(f"\nresult differences, shared vs one by one ({len(old)} rows, "
          f"{diff.attrs['unmatched_rows']} without a partner):\n{diff.to_string(index=False)}")
    if a.noise_floor:
        # What float rounding alone moves: the code before, only the log-softmax's rounding changed
        # (an ulp-level change); early stopping on a small dev set amplifies it the same way.
        floor = pd.concat([run_job(kind, args, False, fast_log_softmax=True)[1] for _, kind, args, _ in jobs],
                          ignore_index=True)
        d = differences(old, floor)
        print(f"\nnoise floor, one by one with only the log-softmax's rounding changed:\n{d.to_string(index=False)}")
    if a.against_cache:
        cached = [(n, pd.read_csv(p)) for n, _, _, p in jobs if Path(p).exists()]
        if cached:
            ref = pd.concat([df for _, df in cached], ignore_index=True)
            mine = pd.concat([results[(n, False)] for n, _ in cached], ignore_index=True)
            d = differences(ref[RESULT_COLUMNS], mine)
            print(f"\none by one vs the cached job results ({len(cached)} jobs, "
                  f"{d.attrs['unmatched_rows']} rows without a partner):\n{d.to_string(index=False)}")
        else:
            print("\nno cached job results of the demo to compare with")


if __name__ == "__main__":
    main()
