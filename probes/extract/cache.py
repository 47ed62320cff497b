"""The on-disk vector cache: per-layer word vectors, memory-mapped, no pickle.

A cache is a directory::

    meta.json     what made the vectors (model, fingerprints, pooling, layers, key) and counts
    vectors.npy   (n_layers_kept, n_words, dim), float16 by default, words in corpus order
    offsets.npy   (n_sentences + 1,) int64 sentence boundaries into the word axis
    missing.npy   (n_words,) bool, words whose text gave no subwords (their vector is zero)
    done.npy      (n_sentences,) bool, which sentences are written (for resuming)

``meta.json`` is written last and atomically; ``"complete": true`` marks a finished cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from probes.errors import ProbesError

FORMAT = "probes-cache/1"


class VectorCache:
    """Read access to a finished cache; arrays are memory-mapped, never loaded whole."""

    def __init__(self, path: Path, meta: dict):
        self.path = Path(path)
        self.meta = meta
        self.vectors = np.load(self.path / "vectors.npy", mmap_mode="r")
        self.sentence_offsets = np.load(self.path / "offsets.npy")
        missing = self.path / "missing.npy"
        self.missing = np.load(missing) if missing.exists() else np.zeros(self.n_words, dtype=bool)

    @classmethod
    def open(cls, path: str | Path) -> "VectorCache":
        """Open a complete cache directory, or say clearly why it cannot be used."""
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.exists():
            raise ProbesError(f"{path} is not a vector cache (no meta.json); run `probes extract` first")
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ProbesError(f"{path}: cache format {meta.get('format')!r} is not {FORMAT!r}; extract again")
        if not meta.get("complete"):
            raise ProbesError(f"{path}: extraction did not finish; run the same `probes extract` again to resume")
        return cls(path, meta)

    @property
    def layers(self) -> list[int]:
        """Layer ids held, in the order of the first axis of `vectors` (0 = embeddings)."""
        return list(self.meta["layers"])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[2])

    @property
    def n_words(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def n_sentences(self) -> int:
        return len(self.sentence_offsets) - 1

    def layer(self, layer_id: int) -> np.ndarray:
        """The (n_words, dim) memmap of one layer, by layer id."""
        try:
            return self.vectors[self.layers.index(layer_id)]
        except ValueError:
            raise ProbesError(f"{self.path}: layer {layer_id} was not extracted (have {self.layers})") from None

    def sentence(self, i: int) -> np.ndarray:
        """All kept layers of sentence i: (n_layers_kept, len_i, dim)."""
        a, b = self.sentence_offsets[i], self.sentence_offsets[i + 1]
        return self.vectors[:, a:b]
