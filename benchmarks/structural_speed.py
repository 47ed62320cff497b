"""Benchmark: distance and depth probes (Hewitt & Manning 2019) on UD EWT with MiniLM (not run by pytest).

The first 4000 EWT training sentences, EWT dev for early stopping and the learning-rate schedule,
EWT test for UUAS / DSpr (distance) and root accuracy / NSpr (depth); rank 64, all 7 layers, the
default regimen (Hewitt & Manning's), 2 threads. Each probe is fitted with the current code and,
unless ``--no-reference``, with the previous formulation (``Explicit*`` below: squared distances
through the explicit (width x width x rank) tensor of differences) in the same process.
Targets: each fit under 60 s; UUAS / DSpr (root accuracy / NSpr) within 0.5 points of the reference
at every layer. Vectors: cached as in probe_upos.py ($PROBES_BENCH_CACHE).
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_upos import CACHE, ewt_dir  # noqa: E402
from probes.experiment.demo import minilm_path  # noqa: E402
from probes.extract.extractor import extract  # noqa: E402
from probes.probing import api  # noqa: E402
from probes.probing.bootstrap import grouped_mean_replicates, ratio_replicates, resample_counts  # noqa: E402
from probes.probing.structural import DepthProbe, DistanceProbe  # noqa: E402
from probes.readers import load_corpus  # noqa: E402
from probes.tasks.registry import build_task  # noqa: E402


class _Autograd:
    """The previous training step: autograd through the padded batch's prediction (``_pred``)."""

    def _batch_grad(self, B, H, targets, offsets, sents):
        Bg = B.detach().clone().requires_grad_(True)
        loss = self._batch_loss(Bg, H, targets, offsets, sents)
        loss.sum().backward()
        return loss.detach(), Bg.grad


class ExplicitDistance(_Autograd, DistanceProbe):
    """The previous distance probe: autograd through the explicit tensor of pairwise differences."""

    def _pred(self, B, H):
        T = torch.einsum("lswd,ldk->lswk", H, B)
        diff = T[:, :, :, None, :] - T[:, :, None, :, :]
        return (diff * diff).sum(-1)


class AutogradDistance(_Autograd, DistanceProbe):
    """The previous release's distance probe: Gram-matrix distances, autograd training step."""


class ExplicitDepth(_Autograd, DepthProbe):
    """The previous depth probe (autograd through the squared norms)."""

    def _pred(self, B, H):
        T = torch.einsum("lswd,ldk->lswk", H, B)
        return (T * T).sum(-1)


def split(kind: str, name: str, path: Path, limit: int | None = None):
    sentences = load_corpus(path)[:limit]
    return extract(str(minilm_path()), sentences, CACHE / f"minilm-{name}", progress=False), build_task(kind, sentences)


def scores(est, test) -> dict[str, np.ndarray]:
    """Point values per layer of the two metrics on the test split."""
    stats = api.structural_scores(est, *test)
    counts = resample_counts(len(next(iter(stats.values()))[1]), 1, 0)
    out = {}
    for metric, (a, b) in stats.items():
        fn = ratio_replicates if metric in ("uuas", "root_acc") else grouped_mean_replicates
        out[metric] = np.asarray(fn(a, b, counts)[0])
    return out


def fit(cls, train, dev, rank: int):
    (V, _, off), (Vd, _, offd) = api.cache_arrays(train[0]), api.cache_arrays(dev[0])
    est = cls(rank=rank, device="cpu")
    t0 = time.perf_counter()
    est.fit(V, api._structural_targets(train[1]), api._offsets(train[1], off, V.shape[1]), X_dev=Vd,
            targets_dev=api._structural_targets(dev[1]), offsets_dev=api._offsets(dev[1], offd, Vd.shape[1]))
    est.layer_ids_ = list(range(V.shape[0]))
    return time.perf_counter() - t0, est


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rank", type=int, default=64)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--kinds", default="distance,depth")
    ap.add_argument("--reference", choices=("explicit", "autograd"), default="explicit",
                    help="explicit: the original (width x width x rank differences, slow); autograd: the "
                         "previous release (Gram distances, autograd step; equal to explicit, see the notes)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ud = ewt_dir()
    if ud is None:
        return 2
    ok = True
    for kind in args.kinds.split(","):
        ref_distance = ExplicitDistance if args.reference == "explicit" else AutogradDistance
        new_cls, ref_cls = (DistanceProbe, ref_distance) if kind == "distance" else (DepthProbe, ExplicitDepth)
        train = split(kind, "train4000", ud / "en_ewt-ud-train.conllu", 4000)
        dev = split(kind, "dev", ud / "en_ewt-ud-dev.conllu")
        test = split(kind, "test", ud / "en_ewt-ud-test.conllu")
        t_new, est = fit(new_cls, train, dev, args.rank)
        t0 = time.perf_counter()
        s_new = scores(est, test)
        t_score = time.perf_counter() - t0
        ok &= t_new < 60
        print(f"{kind}: fit {t_new:.1f} s (target < 60 s), epochs {est.n_iter_.tolist()}; scoring the test set {t_score:.1f} s",
              flush=True)
        for metric, v in s_new.items():
            print(f"  {metric:>8} new {np.round(100 * v, 2).tolist()}")
        if args.no_reference:
            continue
        t_ref, ref = fit(ref_cls, train, dev, args.rank)
        s_ref = scores(ref, test)
        print(f"  reference fit {t_ref:.1f} s ({t_ref / t_new:.1f}x), epochs {ref.n_iter_.tolist()}")
        for metric, v in s_ref.items():
            diff = 100 * np.abs(s_new[metric] - v).max()
            ok &= diff <= 0.5
            print(f"  {metric:>8} ref {np.round(100 * v, 2).tolist()}; largest difference {diff:.2f} points (target <= 0.5)",
                  flush=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
