"""Benchmark: the semantic tasks on GUM train (not run by pytest).

1. Task building (issue target: coreference pairs and constituent spans of GUM train under 10 s on
   2 cores): median of 5 builds of ``coref`` (default: Tenney et al.'s pairs, every mention pair of a sentence) and
   ``consts`` on the 10,322 sentences of ../shared/data/gum/en_gum-train.conllu (+ .ptb), the
   corpus read once beforehand (reading is timed separately, against a bare split of the lines).
2. A span task trains all layers in one batched computation: the edge probe (Tenney et al.'s span
   classifier, attention pooling) on ``entities`` of GUM train with all-MiniLM-L6-v2's 7 layers,
   fitted once over the stacked layers, against 7 fits of one layer each (same settings, same
   process); plus the linear probe over endpoint features, and the attention pooling done as
   pool-then-project against project-every-word-then-pool on the same batches.

Run: python3 benchmarks/semantic_tasks.py [--skip-probes]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes.readers import read_corpus  # noqa: E402
from probes.tasks import build_task  # noqa: E402

GUM = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "gum"
CACHE = Path(os.environ.get("PROBES_BENCH_CACHE", "/tmp/probes_bench_cache"))


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bare_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for raw in fh:
            n += len(raw.decode("utf-8").rstrip("\r\n").split("\t")) == 10
    return n


def building() -> list:
    conllu, ptb = GUM / "en_gum-train.conllu", GUM / "en_gum-train.ptb"
    t_bare, _ = timed(lambda: bare_lines(conllu), 3)
    t_read, report = timed(lambda: read_corpus(conllu, trees=ptb), 3)
    sents = report.sentences
    print(f"read GUM train + trees: {t_read:.2f} s (bare line split {t_bare:.2f} s, {t_read / t_bare:.1f}x); "
          f"{len(sents)} sentences")
    t_coref, coref = timed(lambda: build_task("coref", sents))
    t_consts, consts = timed(lambda: build_task("consts", sents))
    t_ent, ent = timed(lambda: build_task("entities", sents))
    print(f"coref pairs: {t_coref:.2f} s for {len(coref.y)} pairs ({int(coref.y.sum())} coreferent)")
    print(f"consts spans: {t_consts:.2f} s for {len(consts.y)} spans")
    print(f"entities spans: {t_ent:.2f} s for {len(ent.y)} mentions")
    total = t_coref + t_consts
    print(f"coref + consts: {total:.2f} s (target < 10 s): {'PASS' if total < 10 else 'FAIL'}")
    return sents


def probes(sents) -> None:
    from probes.experiment.demo import minilm_path
    from probes.extract.extractor import extract
    from probes.probing.api import task_inputs
    from probes.probing.edge import EdgeProbe
    from probes.probing.linear import LinearProbe

    cache = extract(str(minilm_path()), sents, CACHE / "minilm-gum-train", progress=False)
    task = build_task("entities", sents)
    inp = task_inputs(cache, task, probe="edge")
    (H, spans), y = inp.X, inp.y
    H = H.numpy()
    print(f"entities: {len(y)} mentions over {H.shape[1]} words, {H.shape[0]} layers, widths up to "
          f"{int((spans[:, 1] - spans[:, 0]).max())}")
    settings = dict(proj_dim=256, hidden_size=256, max_epochs=3, early_stopping=False, device="cpu")
    t0 = time.perf_counter()
    EdgeProbe(**settings).fit((H, spans), y)
    t_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    for layer in range(H.shape[0]):
        EdgeProbe(**settings).fit((H[layer], spans), y)
    t_each = time.perf_counter() - t0
    print(f"edge probe, 3 epochs: all {H.shape[0]} layers at once {t_all:.1f} s; one fit per layer {t_each:.1f} s "
          f"({t_each / t_all:.2f}x)")
    lin = task_inputs(cache, task)
    t0 = time.perf_counter()
    LinearProbe(device="cpu").fit(lin.X, lin.y, groups=lin.sent)
    print(f"linear probe on [h_start; h_end-1], all layers: {time.perf_counter() - t0:.1f} s")
    # attention pooling as implemented (segments, pool then project) against the padded version
    # that projects every word of every span, padded to the widest span of the batch
    probe = EdgeProbe(proj_dim=256, device="cpu")
    probe.n_spans_, probe.device_ = 1, torch.device("cpu")
    p = probe._init_params(H.shape[0], H.shape[2], 11, torch.Generator().manual_seed(0))
    Ht = torch.from_numpy(H)
    sp = torch.as_tensor(spans[np.random.default_rng(0).permutation(len(spans))[:256]])
    a, b = sp[:, 0], sp[:, 1]
    width = int((b - a).max())
    pos = torch.arange(width)[None]
    mask = pos < (b - a)[:, None]

    def padded():
        Hw = Ht[:, torch.where(mask, a[:, None] + pos, a[:, None])]
        proj = torch.einsum("lbwd,ldp->lbwp", Hw, p["proj0"]) + p["proj0_b"][:, None, None, :]
        s = torch.einsum("lbwp,lp->lbw", proj, p["att0"]).masked_fill(~mask[None], float("-inf"))
        return torch.einsum("lbw,lbwp->lbp", torch.softmax(s, -1), proj)

    with torch.no_grad():
        t_naive, x = timed(padded, 5)
        t_pool, z = timed(lambda: probe._pool(p, 0, Ht, a, b), 5)
    print(f"attention pooling of a 256-span batch (width <= {width}): padded project-then-pool "
          f"{t_naive * 1e3:.0f} ms, segment pool-then-project {t_pool * 1e3:.1f} ms ({t_naive / t_pool:.0f}x), "
          f"max |diff| {float((x - z).abs().max()):.1e}")


def main() -> int:
    if not (GUM / "en_gum-train.conllu").exists():
        print(f"{GUM} not present", file=sys.stderr)
        return 1
    torch.set_num_threads(2)
    sents = building()
    if "--skip-probes" not in sys.argv:
        probes(sents)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
