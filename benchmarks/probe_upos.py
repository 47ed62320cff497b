"""Benchmark: UPOS on UD EWT with all-MiniLM-L6-v2, all 7 layers (not run by pytest).

Train on the first 4000 EWT training sentences, early-stop on EWT dev, test on EWT test.
Baseline, fitted in the same run: scikit-learn ``LogisticRegression`` (lbfgs, multinomial,
C=1.0, max_iter=2000, default tol) once per layer on the same vectors, standardised with the
training set's per-layer mean and std (as the probe does internally). The probe uses the same
regularisation strength: weight_decay = 1 / (C * n_train).
Targets: accuracy at every layer >= sklearn's - 0.5 points; the all-layer probe fit >= 20x faster
than the 7 sklearn fits together. Both run with 2 threads.

Vectors: the project's own reader, task builder and extractor (mean pooling, float16 cache under
$PROBES_BENCH_CACHE or /tmp/probes_bench_cache, reused by later runs).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.experiment.demo import minilm_path  # noqa: E402
from probes.extract.extractor import extract  # noqa: E402
from probes.probing.linear import LinearProbe  # noqa: E402
from probes.readers import load_corpus  # noqa: E402
from probes.tasks.registry import build_task  # noqa: E402

CACHE = Path(os.environ.get("PROBES_BENCH_CACHE", "/tmp/probes_bench_cache"))


def ewt_dir() -> Path | None:
    """The UD folder holding EWT ($PROBES_UD or ../shared/data/ud), or None after saying it is missing."""
    ud = Path(os.environ.get("PROBES_UD", Path(__file__).resolve().parents[2] / "shared" / "data" / "ud"))
    if not (ud / "en_ewt-ud-train.conllu").exists():
        print(f"UD EWT not found under {ud}; set PROBES_UD", file=sys.stderr)
        return None
    return ud


def load_split(name: str, path: Path, limit: int | None = None):
    """(vectors (L, n_words, dim) of the UPOS-labelled words, gold tags) of one EWT split."""
    sentences = load_corpus(path)[:limit]
    task = build_task("upos", sentences)
    cache = extract(str(minilm_path()), sentences, CACHE / f"minilm-{name}", progress=False)
    rows = np.asarray(task.index)
    tags = [task.classes[i] for i in task.y]
    return np.asarray(cache.vectors[:, rows]), rows, tags


def ewt_upos_splits(ud: Path):
    """load_split of the benchmark's three EWT splits: the first 4000 training sentences, dev, test."""
    return (load_split("train4000", ud / "en_ewt-ud-train.conllu", 4000), load_split("dev", ud / "en_ewt-ud-dev.conllu"),
            load_split("test", ud / "en_ewt-ud-test.conllu"))


def main() -> int:
    torch.set_num_threads(2)
    ud = ewt_dir()
    if ud is None:
        return 2
    (Vtr, _, ttr), (Vdv, _, tdv), (Vte, _, tte) = ewt_upos_splits(ud)
    classes = np.array(sorted(set(ttr)))
    enc = lambda tags: np.searchsorted(classes, np.array(tags))
    ytr, ydv, yte = enc(ttr), np.array(tdv), np.array(tte)
    L, n, d = Vtr.shape
    C = 1.0
    print(f"train {n} words, dev {Vdv.shape[1]}, test {Vte.shape[1]}; {L} layers x {d} dims; {len(classes)} tags")

    # Probe: every layer in one batched L-BFGS run (includes float16 -> float32, scaling, dev checks).
    t0 = time.perf_counter()
    probe = LinearProbe(weight_decay=1.0 / (C * n), device="cpu").fit(Vtr, classes[ytr], Vdv, ydv)
    t_probe = time.perf_counter() - t0
    acc_probe = probe.score(Vte, yte)

    # Baseline: scikit-learn, one LogisticRegression per layer on the same standardised vectors.
    from sklearn.linear_model import LogisticRegression
    acc_sk, t_sk, iters = [], 0.0, []
    for l in range(L):
        Xtr = np.asarray(Vtr[l], dtype=np.float64)
        mu, sd = Xtr.mean(0), Xtr.std(0)
        sd[sd < 1e-8] = 1.0
        Ztr, Zte = (Xtr - mu) / sd, (np.asarray(Vte[l], dtype=np.float64) - mu) / sd
        t0 = time.perf_counter()
        sk = LogisticRegression(C=C, max_iter=2000).fit(Ztr, ytr)
        t_sk += time.perf_counter() - t0
        iters.append(int(sk.n_iter_[0]))
        acc_sk.append(float((classes[sk.predict(Zte)] == yte).mean()))

    print(f"{'layer':>5} {'sklearn':>8} {'probe':>8} {'diff(pt)':>9} {'sk iters':>8} {'probe iters':>11}")
    for l in range(L):
        print(f"{l:>5} {acc_sk[l]:8.4f} {acc_probe[l]:8.4f} {100 * (acc_probe[l] - acc_sk[l]):9.2f} "
              f"{iters[l]:8d} {int(probe.n_iter_[l]):11d}")
    worst = min(100 * (acc_probe[l] - acc_sk[l]) for l in range(L))
    speed = t_sk / t_probe
    print(f"sklearn 7 fits: {t_sk:.1f} s; probe all layers: {t_probe:.1f} s; speed-up {speed:.1f}x (target >= 20x)")
    print(f"worst accuracy difference {worst:+.2f} points (target >= -0.5)")
    ok = worst >= -0.5 and speed >= 20
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
