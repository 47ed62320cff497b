"""Reading and task-building speed on UD English EWT train, as ratios against a bare line split.

Baseline (same process): read the file's bytes, decode and split every line into its columns,
which is the least any CoNLL-U reader must do. Run: python3 benchmarks/bench_readers.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes.readers.conllu import read_conllu_report  # noqa: E402
from probes.tasks import build_task  # noqa: E402

UD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ud"


def bare_split(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for raw in fh:
            cols = raw.decode("utf-8").rstrip("\r\n").split("\t")
            n += len(cols) == 10
    return n


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    path = UD / "en_ewt-ud-train.conllu"
    if not path.is_file():
        print(f"{path} absent; nothing to measure")
        return 0
    base = best_of(lambda: bare_split(path))
    read = best_of(lambda: read_conllu_report(path))
    rep = read_conllu_report(path)
    print(f"EWT train: {len(rep.sentences)} sentences, {rep.n_words} words")
    print(f"bare line split     {base:6.2f} s")
    print(f"read_conllu         {read:6.2f} s  ({read / base:.1f}x the bare split)")
    for name in ("upos", "feats:Number", "dep-arc", "distance", "depth", "tense", "upos:control",
                 "dep-arc:control"):
        t = best_of(lambda: build_task(name, rep.sentences), repeat=1)
        print(f"build {name:<14}{t:6.2f} s  ({t / base:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
