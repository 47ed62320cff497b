"""What cache verification costs (issue 17). Not run by pytest.

A. A large cache (the shape MiniLM gives EWT train: 7 layers x 204,585 words x 384 dims, float16,
   ~1.1 GB; ``--scale`` multiplies the words), written through CacheWriter with random vectors:
   seconds to seal it (checksums at finish), to open it (quick check), to verify it fully, against
   one plain read of every layer as float32 (what any probe on it does at least once).
B. A cached study (every cache and probe result reused): MiniLM, EWT train (first 1500 sentences)
   and test, UPOS, linear probe, control task, random-init twin. Median of several reruns with the
   checks against the same reruns with the quick check (check_files, check_arrays) switched off, alternating, in one process.
   Target: verification adds at most 5% to the cached study's run time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.probe_upos import ewt_dir  # noqa: E402
from probes.extract import cache as cache_mod  # noqa: E402
from probes.extract.cache import CacheWriter, VectorCache  # noqa: E402


def large_cache(work: Path, scale: float) -> None:
    n_layers, n_words, dim = 7, int(204_585 * scale), 384
    lengths = np.full(n_words // 17, 17)
    lengths[-1] += n_words - lengths.sum()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    path = work / "large"
    w = CacheWriter(path, "bench", {"layers": list(range(n_layers))}, n_layers=n_layers, dim=dim,
                    sentence_offsets=offsets)
    rng = np.random.default_rng(0)
    step = 16384
    for a in range(0, n_words, step):
        w.vectors[:, a:a + step] = rng.standard_normal((n_layers, min(step, n_words - a), dim), dtype=np.float32)
    w.done[:] = True
    w.flush()
    t0 = time.perf_counter()
    w.finish({})
    seal = time.perf_counter() - t0
    gb = (path / "vectors.npy").stat().st_size / 1e9
    opens, fulls, reads = [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        c = VectorCache.open(path)
        opens.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        c.verify()
        fulls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(n_layers):
            for a in range(0, n_words, step):
                np.asarray(c.vectors[i, a:a + step], dtype=np.float32)
        reads.append(time.perf_counter() - t0)
    med = statistics.median
    print(f"A. large cache {n_layers} x {n_words} x {dim} float16 = {gb:.2f} GB")
    print(f"   seal at finish   {seal:6.2f} s")
    print(f"   open (quick)     {med(opens) * 1000:6.1f} ms  (median of 3)")
    print(f"   verify (full)    {med(fulls):6.2f} s   ({gb / med(fulls):.1f} GB/s)")
    print(f"   one float32 read {med(reads):6.2f} s   -> full verify = {med(fulls) / med(reads):.2f}x one read")


def cached_study(work: Path, ud: Path, runs: int) -> float:
    from probes.experiment.config import load_config
    from probes.experiment.demo import minilm_path
    from probes.experiment.runner import Experiment

    cfg_path = work / "study.toml"
    cfg_path.write_text(f"""name = "cached"
seeds = [0]

[[models]]
name = "minilm"
source = "{minilm_path()}"

[[tasks]]
name = "upos"
train = {{ path = "{ud / 'en_ewt-ud-train.conllu'}", max_sentences = 1500, name = "ewt-train" }}
test = [{{ path = "{ud / 'en_ewt-ud-test.conllu'}", name = "ewt-test" }}]

[probe]
kinds = ["linear"]
control = true
random_init = true
""")
    cfg = load_config(cfg_path)
    t0 = time.perf_counter()
    Experiment(cfg, work / "out0", cache_dir=work / "cache", progress=False).run()
    print(f"B. first run (extraction and probes): {time.perf_counter() - t0:.1f} s")
    real = cache_mod.check_files, cache_mod.check_arrays
    on, off = [], []
    for r in range(runs):
        for checks, into in ((True, on), (False, off)) if r % 2 == 0 else ((False, off), (True, on)):
            cache_mod.check_files, cache_mod.check_arrays = real if checks else (lambda *a: False, lambda *a: None)
            t0 = time.perf_counter()
            out = Experiment(cfg, work / f"out-{r}-{checks}", cache_dir=work / "cache", progress=False).run()
            into.append(time.perf_counter() - t0)
            assert out.extracted == 0 and out.probed == 0, "the rerun was not fully cached"
    cache_mod.check_files, cache_mod.check_arrays = real
    m_on, m_off = statistics.median(on), statistics.median(off)
    ratio = m_on / m_off
    print(f"   cached rerun with checks    {m_on:6.2f} s  (median of {runs}: {', '.join(f'{x:.2f}' for x in on)})")
    print(f"   cached rerun without checks {m_off:6.2f} s  (median of {runs}: {', '.join(f'{x:.2f}' for x in off)})")
    print(f"   verification adds {100 * (ratio - 1):+.1f}% -> target at most +5%: {'PASS' if ratio <= 1.05 else 'FAIL'}")
    return ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="words of the large cache, times EWT train's")
    ap.add_argument("--runs", type=int, default=5, help="cached reruns of each kind")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="probes-integrity-"))
    large_cache(work, args.scale)
    ud = ewt_dir()
    if ud is None:
        return 2
    return 0 if cached_study(work, ud, args.runs) <= 1.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
