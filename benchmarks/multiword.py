"""Benchmark: words inside multiword tokens (issue 14; not run by pytest).

MiniLM on UD EWT: a linear UPOS probe trained on the first 2000 training sentences, scored on the
test set, with the vectors extracted twice: ``multiword = "split"`` (each syntactic word pools the
subwords over its own characters where its form spells its part of the token: do + n't) and
``multiword = "token"`` (every word of a multiword token takes the token's vector). Prints, per
layer, accuracy on the test words inside multiword tokens and on all test words, for both.

Run: python3 benchmarks/multiword.py   (PROBES_UD = the folder with en_ewt-ud-*.conllu)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes.experiment.demo import minilm_path  # noqa: E402
from probes.extract.extractor import extract  # noqa: E402
from probes.probing.linear import LinearProbe  # noqa: E402
from probes.readers import load_corpus  # noqa: E402
from probes.tasks.registry import build_task  # noqa: E402

CACHE = Path(os.environ.get("PROBES_BENCH_CACHE", "/tmp/probes_bench_cache"))


def split(name, sentences, mode):
    task = build_task("upos", sentences)
    cache = extract(str(minilm_path()), sentences, CACHE / f"minilm-mwt-{mode}-{name}", progress=False,
                    multiword=mode)
    rows = np.asarray(task.index)
    return np.asarray(cache.vectors[:, rows], dtype=np.float32), np.array([task.classes[i] for i in task.y]), cache


def in_multiword(sentences) -> np.ndarray:
    flags = []
    for s in sentences:
        wt = s.token_of_word()
        counts = np.bincount(wt, minlength=len(s.model_tokens()))
        flags.extend(counts[wt] > 1)
    return np.array(flags)


def main() -> int:
    ud = Path(os.environ.get("PROBES_UD", Path(__file__).resolve().parents[2] / "shared" / "data" / "ud"))
    if not (ud / "en_ewt-ud-train.conllu").exists():
        print(f"UD EWT not found under {ud}; set PROBES_UD", file=sys.stderr)
        return 2
    train = load_corpus(ud / "en_ewt-ud-train.conllu")[:2000]
    dev = load_corpus(ud / "en_ewt-ud-dev.conllu")[:500]
    test = load_corpus(ud / "en_ewt-ud-test.conllu")
    mwt = in_multiword(test)
    task = build_task("upos", test)
    mwt = mwt[np.asarray(task.index)]
    print(f"EWT test: {len(mwt)} labelled words, {int(mwt.sum())} inside multiword tokens")
    for mode in ("token", "split"):
        Vtr, ytr, _ = split("train2000", train, mode)
        Vdv, ydv, _ = split("dev500", dev, mode)
        Vte, yte, cache = split("test", test, mode)
        if cache.summary is not None:
            print(f"[{mode}] " + " | ".join(cache.summary.lines()[1:]))
        probe = LinearProbe(device="cpu").fit(Vtr, ytr, Vdv, ydv)
        pred = probe.predict(Vte)
        correct = pred == yte[None]
        for layer in range(correct.shape[0]):
            print(f"[{mode}] layer {layer}: multiword words {correct[layer, mwt].mean():.3f}, "
                  f"all words {correct[layer].mean():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
