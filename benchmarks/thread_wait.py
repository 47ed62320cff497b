"""How torch's OpenMP wait policy changes probe fits on a shared machine. Not run by pytest.

Each measurement runs in a fresh process (OpenMP reads OMP_WAIT_POLICY when torch loads), with
ACTIVE (spin, OpenMP's default) and PASSIVE (sleep, what `import probes` sets unless the user set
it), alternating, ``--repeats`` times each. ``--load N`` starts N busy processes beside it, as other
users of a shared 2-core machine would; ``--load 0`` measures a quiet machine. The workload is the
demo's size (1,213 training words, 7 layers of 384, 17 classes: one linear fit over the 7 layers
and one scalar mix), and ``--words`` makes it larger. Prints the median seconds of each policy and
their ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
import probes  # sets the default policy only where the environment has none
from probes.probing.linear import LinearProbe
from probes.probing.mix import ScalarMixProbe
rng = np.random.default_rng(0)
n, L, d, C = {words}, 7, 384, 17
W = rng.normal(size=(d, C))
X = rng.normal(size=(L, n, d)).astype(np.float32)
y = (X[3] @ W + rng.normal(scale=4.0, size=(n, C))).argmax(1)
Xd = rng.normal(size=(L, n // 8, d)).astype(np.float32)
yd = (Xd[3] @ W).argmax(1)
t = time.perf_counter()
LinearProbe(random_state=0).fit(X, y, Xd, yd)
ScalarMixProbe(random_state=0).fit(X, y, Xd, yd)
print(time.perf_counter() - t)
"""


def _busy(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def one(policy: str, words: int) -> float:
    """Seconds of the workload in a fresh process under ``policy``."""
    env = dict(os.environ, OMP_WAIT_POLICY=policy)
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), words=words)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure both policies, alternating, and print medians and their ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=int, default=2, help="busy processes beside the fits (0: a quiet machine)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--words", type=int, default=1213)
    args = ap.parse_args()
    stop = mp.Event()
    busy = [mp.Process(target=_busy, args=(stop,), daemon=True) for _ in range(args.load)]
    for p in busy:
        p.start()
    times: dict[str, list[float]] = {"ACTIVE": [], "PASSIVE": []}
    try:
        for _ in range(args.repeats):
            for policy in times:
                times[policy].append(one(policy, args.words))
    finally:
        stop.set()
        for p in busy:
            p.join()
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:8s} median {med[k]:7.2f} s  runs {', '.join(f'{t:.2f}' for t in v)}")
    print(f"ACTIVE / PASSIVE = {med['ACTIVE'] / med['PASSIVE']:.2f}  ({args.words} words, {args.load} busy processes, "
          f"{os.cpu_count()} cores; load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
