"""The on-disk vector cache: per-layer word vectors, memory-mapped, no pickle.

A cache is a directory::

    meta.json     what made the vectors (model, fingerprints, pooling, layers, key) and counts
    vectors.npy   (n_layers_kept, n_words, dim), float16 by default, words in corpus order
    offsets.npy   (n_sentences + 1,) int64 sentence boundaries into the word axis
    missing.npy   (n_words,) bool, words whose text gave no subwords (their vector is zero)
    done.npy      (n_sentences,) bool, which sentences are written (for resuming)
    .lock         held by the one process writing the cache (others wait, then reuse or rebuild)

``meta.json`` is written last and atomically; ``"complete": true`` marks a finished cache. (The
writer also puts a ``"complete": false`` meta.json, with the cache key, at the start, so that a run
that stops can be recognised and resumed; readers refuse such a cache.) ``meta["key"]`` hashes
everything that determines the vectors; ``meta["summary"]`` holds the extraction's counts;
``meta["integrity"]`` the checksums every reader checks (``probes.extract.integrity``). A cache
found damaged is marked so (``"damaged"``) and rebuilt by the next extraction, never used.
"""

from __future__ import annotations

import json
import mmap
import os
import sys
from pathlib import Path

import numpy as np

from probes.errors import ProbesError
from probes.extract.integrity import CacheDamaged, check_arrays, check_files, check_layers, restamp, seal

FORMAT = "probes-cache/2"  # 2: checksums in meta.json


class VectorCache:
    """Read access to a finished cache; arrays are memory-mapped, never loaded whole."""

    summary = None  # set by the extractor: the ExtractSummary of the run that produced or found it

    def __init__(self, path: Path, meta: dict):
        self.path = Path(path)
        self.meta = meta
        self.vectors = np.load(self.path / "vectors.npy", mmap_mode="r")
        self.sentence_offsets = np.load(self.path / "offsets.npy")
        self.missing = np.load(self.path / "missing.npy")
        self._verified = False

    @classmethod
    def open(cls, path: str | Path) -> "VectorCache":
        """Open a complete cache directory after the quick integrity check, or say clearly why it cannot be used.

        Raises CacheDamaged (a ProbesError) when its files no longer match their checksums; the
        cache is then marked damaged, so that the next extraction rebuilds it.
        """
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.exists():
            raise ProbesError(f"{path} is not a vector cache (no meta.json); run `probes extract` first")
        meta = read_meta(path)
        if meta is None:
            raise CacheDamaged(path, "meta.json is not readable JSON")
        if meta.get("format") != FORMAT:
            raise ProbesError(f"{path}: cache format {meta.get('format')!r} is not {FORMAT!r}; extract again")
        if meta.get("damaged"):
            raise CacheDamaged(path, meta["damaged"])
        if not meta.get("complete"):
            raise ProbesError(f"{path}: extraction did not finish; run the same `probes extract` again to resume")
        try:
            changed = check_files(path, meta)
            cache = cls(path, meta)
            check_arrays(path, meta, cache.vectors, cache.sentence_offsets)
            if changed:  # vectors.npy was touched since it was sealed: check every byte, then re-stamp
                cache.verify()
                cache._restamp()
        except CacheDamaged as exc:
            mark_damaged(path, meta, exc.reason)
            raise
        except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
            mark_damaged(path, meta, f"unreadable: {exc}")
            raise CacheDamaged(path, f"unreadable: {exc}") from None
        return cache

    def __reduce__(self):
        # Sent to another process (an executor's worker) as its path, reopened there, never as its arrays.
        return (_reopen, (str(self.path), self._verified))

    def verify(self) -> "VectorCache":
        """Check every layer against its checksum and for NaN/Inf (once per opened cache); raise CacheDamaged."""
        if not self._verified:
            try:
                check_layers(self.path, self.meta)
            except CacheDamaged as exc:
                mark_damaged(self.path, self.meta, exc.reason)
                raise
            self._verified = True
        return self

    def _restamp(self) -> None:
        """Record vectors.npy's current size and mtime after a full check passed (a copied cache, say)."""
        try:
            self.meta = restamp(self.path, self.meta)
            write_json_atomic(self.path / "meta.json", self.meta)
        except OSError:
            pass  # a read-only cache stays checked in full on every open; still correct

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


def _reopen(path: str, verified: bool) -> VectorCache:
    """A cache opened again in another process (the quick check runs again; a full one already done holds)."""
    cache = VectorCache.open(path)
    cache._verified = verified
    return cache


CACHE_FILES = ("meta.json", "vectors.npy", "offsets.npy", "missing.npy", "done.npy")
LOCK_FILE = ".lock"


def mark_damaged(path: Path, meta: dict, reason: str) -> None:
    """Record in meta.json that the cache is damaged, so that no reader uses it and the next writer rebuilds it."""
    try:
        write_json_atomic(Path(path) / "meta.json", dict(meta, complete=False, damaged=reason))
    except OSError:
        pass  # read-only: every reader finds the damage again by itself



def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temporary file beside `path`, then rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)


def read_meta(path: Path) -> dict | None:
    """The meta.json of a cache directory, or None when there is none (or it is unreadable)."""
    try:
        meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


class CacheWriter:
    """Writes a cache as extraction goes: preallocated memory-mapped arrays, resumable via done.npy.

    ``status`` says what was found: ``"new"``, ``"rebuilt"`` (a cache made from other inputs, or a
    damaged one, was replaced; ``reason`` says which), ``"resumed"`` (same key, unfinished) or
    ``"complete"`` (same key, intact, nothing to do). The writer holds the cache's lock from the
    moment it looks at the directory until ``finish`` or ``close``: a second writer waits, then
    finds the first one's result (and reuses it when its key is the same).
    """

    def __init__(self, path: str | Path, key: str, meta: dict, *, n_layers: int, dim: int,
                 sentence_offsets: np.ndarray, dtype: str = "float16"):
        from filelock import FileLock, Timeout

        self.path = Path(path)
        refuse_foreign(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path / LOCK_FILE))
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            print(f"{self.path}: another process is writing this cache; waiting for it to finish", file=sys.stderr)
            self._lock.acquire()
        try:
            self._open(key, meta, n_layers, dim, np.asarray(sentence_offsets, dtype=np.int64), dtype)
        except BaseException:
            self.close()
            raise

    def _open(self, key: str, meta: dict, n_layers: int, dim: int, offsets: np.ndarray, dtype: str) -> None:
        n_words, n_sent = int(offsets[-1]), len(offsets) - 1
        shape = (n_layers, n_words, dim)
        old = read_meta(self.path)
        self.status, self.reason = "new", ""
        if old is not None and old.get("key") == key and old.get("format") == FORMAT:
            if old.get("damaged"):
                self.reason = f"was damaged ({old['damaged']})"
            elif old.get("complete"):
                try:
                    self.found = VectorCache.open(self.path)
                    self.status, self.meta = "complete", self.found.meta
                    return
                except CacheDamaged as exc:
                    self.reason = f"was damaged ({exc.reason})"
            else:
                why = self._resumable(shape, offsets)
                if why is None:
                    self.status = "resumed"
                else:
                    self.reason = f"held an unfinished extraction that cannot be resumed ({why})"
        elif old is not None:
            self.reason = "held vectors made from other inputs (model, tokenizer, data, pooling, layers or dtype changed)"
        elif (self.path / "meta.json").exists():
            self.reason = "had an unreadable meta.json"
        if self.status == "new":
            if old is not None or any((self.path / f).exists() for f in CACHE_FILES):
                self.status = "rebuilt"
                self.reason = self.reason or "held cache files without a meta.json"
            for name in CACHE_FILES:
                (self.path / name).unlink(missing_ok=True)
        self.meta = dict(meta, format=FORMAT, key=key, complete=False,
                         n_sentences=n_sent, n_words=n_words, dim=dim, dtype=dtype)
        mode = "r+" if self.status == "resumed" else "w+"
        if mode == "w+":
            np.save(self.path / "offsets.npy", offsets, allow_pickle=False)
            write_json_atomic(self.path / "meta.json", self.meta)  # complete: false until finish()
        self.vectors = np.lib.format.open_memmap(self.path / "vectors.npy", mode=mode, dtype=np.dtype(dtype), shape=shape)
        self.missing = np.lib.format.open_memmap(self.path / "missing.npy", mode=mode, dtype=bool, shape=(n_words,))
        self.done = np.lib.format.open_memmap(self.path / "done.npy", mode=mode, dtype=bool, shape=(n_sent,))

    def _resumable(self, shape: tuple, offsets: np.ndarray) -> str | None:
        """Why the unfinished cache here cannot be resumed (a file missing, truncated or of another shape), or None."""
        want = {"vectors.npy": shape, "missing.npy": (shape[1],), "done.npy": (len(offsets) - 1,)}
        try:
            for name, shp in want.items():
                arr = np.load(self.path / name, mmap_mode="r")
                if tuple(arr.shape) != shp:
                    return f"{name} holds {tuple(arr.shape)}, not {shp}"
            if not np.array_equal(np.load(self.path / "offsets.npy"), offsets):
                return "offsets.npy does not match the sentences"
        except (OSError, ValueError, EOFError) as exc:
            return f"{exc}"
        return None

    def flush(self) -> None:
        """Push written vectors to disk before the sentences are marked done."""
        self.vectors.flush()
        self.missing.flush()
        self.done.flush()

    def release(self) -> None:
        """Flush, then drop the written pages of vectors.npy from this process's resident memory.

        Pages of a file mapping count towards the writer's RSS until the kernel evicts them; without
        this, RSS grew with the cache (the corpus) though nothing was held. They stay in the page cache.
        """
        self.vectors.flush()
        mm = getattr(self.vectors, "_mmap", None)
        if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED)

    def finish(self, extra: dict) -> "VectorCache":
        """Flush everything, seal the checksums, write meta.json with complete: true (atomically, last)."""
        try:
            self.flush()
            meta = dict(self.meta, complete=True, **extra)
            self.meta = seal(self.path, meta)
            write_json_atomic(self.path / "meta.json", self.meta)
            return VectorCache.open(self.path)
        finally:
            self.close()

    def close(self) -> None:
        """Release the cache's lock (idempotent)."""
        if self._lock.is_locked:
            self._lock.release()


def refuse_foreign(path: str | Path) -> None:
    """Refuse to write a cache into a directory that holds anything else: a rebuild deletes cache files there.

    Fine: no directory yet, an empty one, or one holding a probes cache (its meta.json names the
    cache format and key; other files beside a real cache are left alone). Called before a model
    loads, so a wrong --out costs nothing, and again by the writer.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ProbesError(f"{path} is a file, not a cache directory")
    if not path.is_dir():
        return
    own = set(CACHE_FILES) | {LOCK_FILE}
    other = sorted(p.name for p in path.iterdir() if p.name not in own and not p.name.endswith(".tmp"))
    if not other:
        return
    meta = read_meta(path)
    if meta is not None and "format" in meta and "key" in meta:  # someone else's meta.json does not count
        return
    raise ProbesError(f"{path} is not empty and is not a vector cache (it holds {', '.join(other[:3])}"
                      f"{' ...' if len(other) > 3 else ''}); give an empty or new directory")


def cache_from_arrays(path: str | Path, vectors: np.ndarray, sentence_offsets, *, layers=None,
                      missing=None, meta: dict | None = None) -> VectorCache:
    """A finished, sealed cache in `path` holding given vectors (n_layers, n_words, dim): for vectors made elsewhere."""
    vectors = np.asarray(vectors)
    dtype = "float16" if vectors.dtype == np.float16 else "float32"  # never narrowed silently
    layers = list(range(vectors.shape[0])) if layers is None else [int(x) for x in layers]
    w = CacheWriter(path, "arrays", dict(meta or {}, layers=layers), n_layers=vectors.shape[0], dim=vectors.shape[2],
                    sentence_offsets=sentence_offsets, dtype=dtype)
    if w.status == "complete":
        w.close()
        raise ProbesError(f"{path} already holds a cache")
    w.vectors[:] = vectors
    w.missing[:] = False if missing is None else np.asarray(missing, dtype=bool)
    w.done[:] = True
    return w.finish({})
