"""Peak memory of `probes extract` against corpus size (issue 17). Not run by pytest.

MiniLM (all layers, float16 cache) on UD EWT dev, then on a corpus of ``--scale`` copies of EWT
train (default 10: ~2M words, a ~11 GB cache). Each extraction runs in its own child process;
its peak RSS (ru_maxrss) is read by a wrapper process that runs nothing else. Target: the large
corpus within 1.2x of EWT dev. ``--layers 0,6`` shrinks the cache (and the run time) for a
quicker look; the ratio is what is compared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.probe_upos import ewt_dir  # noqa: E402
from probes.experiment.demo import minilm_path  # noqa: E402

WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")


def peak_rss_mb(data: Path, out: Path, layers: str | None) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one `probes extract` run in a fresh process."""
    cmd = [sys.executable, "-m", "probes.cli", "extract", "--model", str(minilm_path()), "--data", str(data),
           "--out", str(out), "--quiet"] + (["--layers", layers] if layers else [])
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    last = res.stdout.strip().splitlines()[-1].split()
    if res.returncode != 0 or last[1] != "0":
        raise SystemExit(f"extraction failed:\n{res.stderr[-3000:]}")
    return int(last[0]) / 1024, seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=10, help="copies of EWT train in the large corpus")
    ap.add_argument("--layers", default=None, help="layers to keep (default: all)")
    args = ap.parse_args()
    ud = ewt_dir()
    if ud is None:
        return 2
    work = Path(tempfile.mkdtemp(prefix="probes-memory-"))
    big = work / f"ewt-train-x{args.scale}.conllu"
    train = (ud / "en_ewt-ud-train.conllu").read_text(encoding="utf-8").rstrip("\n") + "\n\n"
    with open(big, "w", encoding="utf-8") as f:
        for _ in range(args.scale):
            f.write(train)
    n_sent = train.count("\n\n") * args.scale
    dev_mb, dev_s = peak_rss_mb(ud / "en_ewt-ud-dev.conllu", work / "dev", args.layers)
    print(f"EWT dev:               peak RSS {dev_mb:7.0f} MB  ({dev_s:.0f} s)")
    big_mb, big_s = peak_rss_mb(big, work / "big", args.layers)
    size = sum(f.stat().st_size for f in (work / "big").iterdir()) / 1e9
    print(f"{args.scale}x EWT train ({n_sent} sentences, cache {size:.1f} GB): peak RSS {big_mb:7.0f} MB  ({big_s:.0f} s)")
    ratio = big_mb / dev_mb
    print(f"ratio {ratio:.2f} -> target at most 1.2: {'PASS' if ratio <= 1.2 else 'FAIL'}")
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
