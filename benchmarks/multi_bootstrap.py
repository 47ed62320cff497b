"""Benchmark: the multi-bootstrap over seeds and test sentences (issue 14; not run by pytest).

Target: a study of 7 layers x 3 seeds x 2000 test sentences x 1000 resamples aggregates in under
2 s on 2 cores. Timed from per-sentence counts (correct items, items) to the seed -1 interval:
the shared sentence resamples, each seed's replicates, the joint resampling of seeds, and the
percentile interval. Baseline in the same process: the former aggregation (the same per-seed
replicates and intervals, then the normal approximation ``combine_seeds`` across seeds).

Run: python3 benchmarks/multi_bootstrap.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes.probing.bootstrap import (combine_seeds, multi_bootstrap, percentile_interval,  # noqa: E402
                                      ratio_replicates, resample_counts)

LAYERS, SEEDS, SENTENCES, RESAMPLES = 7, 3, 2000, 1000


def study(rng):
    items = rng.integers(5, 40, SENTENCES).astype(float)
    correct = [np.minimum(items[:, None], rng.binomial(items[:, None].astype(int), 0.6 + 0.04 * np.arange(LAYERS)))
               for _ in range(SEEDS)]
    return items, correct


def joint(items, correct):
    counts = resample_counts(SENTENCES, RESAMPLES, 0)
    per_seed = [ratio_replicates(c, items, counts) for c in correct]
    point, reps = multi_bootstrap(np.stack([p for p, _ in per_seed]), np.stack([r for _, r in per_seed]), 0)
    return point, percentile_interval(reps)


def former(items, correct):
    counts = resample_counts(SENTENCES, RESAMPLES, 0)
    per_seed = [ratio_replicates(c, items, counts) for c in correct]
    bounds = [percentile_interval(r) for _, r in per_seed]
    return [combine_seeds([p[m] for p, _ in per_seed], [lo[m] for lo, _ in bounds], [hi[m] for _, hi in bounds])
            for m in range(LAYERS)]


def median_time(fn, *args, runs=7):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    items, correct = study(np.random.default_rng(0))
    t_joint = median_time(joint, items, correct)
    t_former = median_time(former, items, correct)
    point, (lo, hi) = joint(items, correct)
    print(f"{LAYERS} layers x {SEEDS} seeds x {SENTENCES} sentences x {RESAMPLES} resamples")
    print(f"multi-bootstrap: {t_joint:.3f} s median of 7 (target < 2 s): {'PASS' if t_joint < 2 else 'FAIL'}")
    print(f"former (per-seed bootstrap + normal approximation): {t_former:.3f} s; ratio {t_joint / t_former:.2f}x")
    print("layer 3: %.4f [%.4f, %.4f]" % (point[3], lo[3], hi[3]))


if __name__ == "__main__":
    main()
