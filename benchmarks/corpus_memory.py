"""Memory a read corpus holds as Python objects (issue 17, item 8). Not run by pytest.

Reads UD EWT train with the CoNLL-U reader under tracemalloc and prints the bytes held by the
sentences once read (and the reader's peak), per word. A study (`probes run`) keeps its data sets'
sentences for task building, CKA and the structural example, so this is what its memory grows by
per word of corpus. Measured with this script: before FEATS dicts were shared and column strings
interned, 167.6 MB held (819 B a word); after, 67.7 MB (331 B a word).
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.probe_upos import ewt_dir  # noqa: E402
from probes.readers import read_corpus  # noqa: E402


def main() -> None:
    """Print what EWT train holds once read."""
    ud = ewt_dir()
    if ud is None:
        sys.exit(2)
    path = ud / "en_ewt-ud-train.conllu"
    tracemalloc.start()
    t0 = time.perf_counter()
    sentences = read_corpus(path).sentences
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    n = sum(len(s) for s in sentences)
    print(f"{path.name}: {len(sentences)} sentences, {n} words read in {time.perf_counter() - t0:.1f} s "
          f"(under tracemalloc); held {held / 1e6:.1f} MB ({held / n:.0f} B a word), peak {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
