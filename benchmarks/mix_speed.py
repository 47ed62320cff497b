"""Benchmark: scalar-mix and cumulative probes against the linear probe, UPOS on UD EWT (not run by pytest).

MiniLM (all 7 layers), the first 4000 EWT training sentences, EWT dev for early stopping, EWT test
(vectors as in probe_upos.py, cached under $PROBES_BENCH_CACHE). In one process, with 2 threads:
the linear probe's fit (the time yardstick), the scalar mix and the 7 cumulative mixes with the
closed-form objective, and the same two fits with the previous objective (autograd through the
float32 einsum mix, kept below as ``AutogradMix``) as the reference for accuracy and weights.
Every probe uses its defaults (mix and cumulative on the raw layers, the linear probe
standardised per layer), so old and new see the same inputs.
Targets: mix fit <= 2x the linear fit, all 7 cumulative mixes <= 3x; test accuracy within 0.3
points of the reference at every layer and mix weights within 0.02.
``--repeats N`` times each new fit N times and quotes the median; ``--no-reference`` skips the slow
reference fits (then only the timings are checked).
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

from probe_upos import ewt_dir, ewt_upos_splits  # noqa: E402
from probes.probing import features  # noqa: E402
from probes.probing.linear import LinearProbe  # noqa: E402
from probes.probing.mix import ScalarMixProbe  # noqa: E402


class AutogradMix(ScalarMixProbe):
    """The previous implementation: autograd through a float32 einsum mix of every layer."""

    def _train_input(self, Xt):
        return {torch.float32: Xt.to(torch.float32)}

    def _objective(self, Xs, y):
        X = Xs[torch.float32]
        n = X.shape[1]
        wd = float(self.weight_decay)

        def fun(params, idx):
            p = params.detach().requires_grad_(True)
            total = torch.zeros(p.shape[0], device=p.device)
            for a in range(0, n, features.CHUNK_ROWS):
                z = self._ref_logits(p, X[:, a:a + features.CHUNK_ROWS], idx)
                logp = torch.log_softmax(z, -1)
                yc = y[a:a + features.CHUNK_ROWS].expand(logp.shape[0], -1)[..., None]
                part = -logp.gather(2, yc).squeeze(2).sum(1) / n
                part.sum().backward()
                total += part.detach()
            W = p[:, self.n_layers_in_ + 1:self.n_layers_in_ + 1 + self.n_features_in_ * len(self.classes_)]
            reg = 0.5 * wd * (W * W).sum(1)
            reg.sum().backward()
            return total + reg.detach(), p.grad

        return fun

    def _ref_logits(self, params, X, idx):
        a, gamma, W, b = self._unpack(params)
        mixed = torch.einsum("ml,lnd->mnd", self._weights(a, idx) * gamma[:, None], X)
        return torch.baddbmm(b[:, None, :], mixed, W)


def timed(make, Vtr, ytr, Vdv, ydv, repeats: int):
    """(median seconds, last fitted probe) over `repeats` fits."""
    times, est = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        est = make().fit(Vtr, ytr, Vdv, ydv)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), est, times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ud = ewt_dir()
    if ud is None:
        return 2
    (Vtr, _, ttr), (Vdv, _, tdv), (Vte, _, tte) = ewt_upos_splits(ud)
    ytr, ydv, yte = np.array(ttr), np.array(tdv), np.array(tte)
    L, n, d = Vtr.shape
    print(f"train {n} words, dev {Vdv.shape[1]}, test {Vte.shape[1]}; {L} layers x {d} dims", flush=True)

    results = {}
    for name, make in [("linear", lambda: LinearProbe(device="cpu")),
                       ("mix", lambda: ScalarMixProbe(device="cpu")),
                       ("cumulative", lambda: ScalarMixProbe(cumulative=True, device="cpu"))]:
        t, est, all_t = timed(make, Vtr, ytr, Vdv, ydv, args.repeats)
        results[name] = (t, est)
        print(f"{name:>10}: fit {t:6.1f} s (median of {', '.join(f'{x:.1f}' for x in all_t)}); "
              f"iterations {list(np.atleast_1d(est.n_iter_))}", flush=True)
    t_lin = results["linear"][0]
    ok = True
    for name, target in (("mix", 2.0), ("cumulative", 3.0)):
        ratio = results[name][0] / t_lin
        ok &= ratio <= target
        print(f"{name} / linear fit time: {ratio:.2f}x (target <= {target:.0f}x)")
    if args.no_reference:
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    for name, cum in (("mix", False), ("cumulative", True)):
        t0 = time.perf_counter()
        ref = AutogradMix(cumulative=cum, device="cpu").fit(Vtr, ytr, Vdv, ydv)
        t_ref = time.perf_counter() - t0
        new = results[name][1]
        acc_new, acc_ref = np.atleast_1d(new.score(Vte, yte)), np.atleast_1d(ref.score(Vte, yte))
        dacc = 100 * np.abs(acc_new - acc_ref).max()
        dw = np.abs(new.mix_weights_ - ref.mix_weights_).max()
        ok &= dacc <= 0.3 and dw <= 0.02
        print(f"{name}: reference (autograd) fit {t_ref:.1f} s, {t_ref / results[name][0]:.1f}x the new fit; "
              f"iterations {list(np.atleast_1d(ref.n_iter_))}")
        print(f"  test accuracy new {np.round(acc_new, 4).tolist()}\n  test accuracy ref {np.round(acc_ref, 4).tolist()}")
        print(f"  largest accuracy difference {dacc:.2f} points (target <= 0.3); "
              f"largest mix-weight difference {dw:.4f} (target <= 0.02)")
        print(f"  weights new {np.round(new.mix_weights_[-1], 3).tolist()}\n  weights ref {np.round(ref.mix_weights_[-1], 3).tolist()}",
              flush=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
