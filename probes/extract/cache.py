"""The on-disk vector cache: per-layer word vectors, memory-mapped, no pickle.

A cache is a directory::

    meta.json     what made the vectors (model, fingerprints, pooling, layers, key) and counts
    vectors.npy   (n_layers_kept, n_words, dim), float16 by default, words in corpus order
    offsets.npy   (n_sentences + 1,) int64 sentence boundaries into the word axis
    missing.npy   (n_words,) bool, words whose text gave no subwords (their vector is zero)
    done.npy      (n_sentences,) bool, which sentences are written (for resuming)

``meta.json`` is written last and atomically; ``"complete": true`` marks a finished cache. (The
writer also puts a ``"complete": false`` meta.json, with the cache key, at the start, so that a run
that stops can be recognised and resumed; readers refuse such a cache.) ``meta["key"]`` hashes
everything that determines the vectors; ``meta["summary"]`` holds the extraction's counts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from probes.errors import ProbesError

FORMAT = "probes-cache/1"


class VectorCache:
    """Read access to a finished cache; arrays are memory-mapped, never loaded whole."""

    summary = None  # set by the extractor: the ExtractSummary of the run that produced or found it

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


CACHE_FILES = ("meta.json", "vectors.npy", "offsets.npy", "missing.npy", "done.npy")


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temporary file beside `path`, then rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)


def read_meta(path: Path) -> dict | None:
    """The meta.json of a cache directory, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class CacheWriter:
    """Writes a cache as extraction goes: preallocated memory-mapped arrays, resumable via done.npy.

    ``status`` says what was found: ``"new"``, ``"rebuilt"`` (a cache made from other inputs was
    replaced), ``"resumed"`` (same key, unfinished) or ``"complete"`` (same key, nothing to do).
    """

    def __init__(self, path: str | Path, key: str, meta: dict, *, n_layers: int, dim: int,
                 sentence_offsets: np.ndarray, dtype: str = "float16"):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        offsets = np.asarray(sentence_offsets, dtype=np.int64)
        n_words, n_sent = int(offsets[-1]), len(offsets) - 1
        shape = (n_layers, n_words, dim)
        old = read_meta(self.path)
        self.status = "new"
        if old is not None and old.get("key") == key and old.get("format") == FORMAT and self._shapes_ok(shape, n_sent):
            self.status = "complete" if old.get("complete") else "resumed"
        elif old is not None or any((self.path / f).exists() for f in CACHE_FILES):
            self.status = "rebuilt" if old is not None else "new"
            for name in CACHE_FILES:
                (self.path / name).unlink(missing_ok=True)
        self.meta = dict(meta, format=FORMAT, key=key, complete=self.status == "complete",
                         n_sentences=n_sent, n_words=n_words, dim=dim, dtype=dtype)
        if self.status == "complete":
            self.meta = old
            return
        mode = "r+" if self.status == "resumed" else "w+"
        if mode == "w+":
            np.save(self.path / "offsets.npy", offsets, allow_pickle=False)
            write_json_atomic(self.path / "meta.json", self.meta)  # complete: false until finish()
        self.vectors = np.lib.format.open_memmap(self.path / "vectors.npy", mode=mode, dtype=np.dtype(dtype), shape=shape)
        self.missing = np.lib.format.open_memmap(self.path / "missing.npy", mode=mode, dtype=bool, shape=(n_words,))
        self.done = np.lib.format.open_memmap(self.path / "done.npy", mode=mode, dtype=bool, shape=(n_sent,))

    def _shapes_ok(self, shape: tuple, n_sent: int) -> bool:
        try:
            vec = np.load(self.path / "vectors.npy", mmap_mode="r")
            done = np.load(self.path / "done.npy", mmap_mode="r")
        except (OSError, ValueError):
            return False
        return tuple(vec.shape) == shape and done.shape == (n_sent,)

    def flush(self) -> None:
        """Push written vectors to disk before the sentences are marked done."""
        self.vectors.flush()
        self.missing.flush()
        self.done.flush()

    def finish(self, extra: dict) -> "VectorCache":
        """Flush everything, then write meta.json with complete: true (atomically, last)."""
        self.flush()
        self.meta = dict(self.meta, complete=True, **extra)
        write_json_atomic(self.path / "meta.json", self.meta)
        return VectorCache.open(self.path)
