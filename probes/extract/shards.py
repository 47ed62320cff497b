"""Sentence shards of a long corpus: each extracted into a cache piece of its own, then joined.

A corpus of more than ``shard_size`` sentences is cut into consecutive ranges of ``shard_size``
sentences. Each range is extracted, by whichever worker gets it, into its own piece: an ordinary
cache directory (own lock, own key over its own sentences, own resume from ``done.npy``) under
``<cache>.pieces/``, so no two workers ever write the same file. When every piece is finished, one
process copies them in order into the whole cache, seals it and deletes the pieces.

The whole cache is the one a single process writes: shard boundaries fall on the extractor's
chunk boundaries (``shard_size`` is a multiple of ``chunk_size``), so every batch of every shard
is the batch the single-process run forms, the arrays are equal byte for byte and so are their
checksums; its key is the single-process key, so either kind of run finds the other's cache
complete. A shard that was interrupted resumes alone; finished shards are found complete.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from probes.errors import ProbesError
from probes.extract.cache import LOCK_FILE, CacheWriter, VectorCache, read_meta
from probes.extract.integrity import CacheDamaged
from probes.records import Sentence

PIECES_SUFFIX = ".pieces"
CHUNK = 1024           # the extractor's default chunk of sentences (tokenised and batched together)
DEFAULT_SHARD = 8192   # sentences per shard where extraction jobs run side by side and no size is given
_COPY_BYTES = 64 << 20  # the join copies this much of a layer at a time


def plan_shards(n_sentences: int, shard_size: int, chunk_size: int) -> list[tuple[int, int]]:
    """The [start, stop) sentence ranges of the shards; one range (the whole corpus) when it is not longer
    than `shard_size`, or `shard_size` is 0."""
    if shard_size < 0:
        raise ProbesError(f"shard size must be 0 (no shards) or a number of sentences, got {shard_size}")
    if shard_size == 0 or n_sentences <= shard_size:
        return [(0, n_sentences)]
    if shard_size % chunk_size:
        raise ProbesError(f"shard size {shard_size} is not a multiple of the extraction chunk ({chunk_size} "
                          "sentences): shards must start on chunk boundaries to give the single-process vectors")
    return [(a, min(a + shard_size, n_sentences)) for a in range(0, n_sentences, shard_size)]


def chunk_for(shard_size: int) -> int:
    """The extraction chunk for a shard size: the default chunk, or the shard itself when it is smaller."""
    return min(CHUNK, shard_size) if shard_size > 0 else CHUNK


def check_shard_size(shard_size: int) -> Optional[str]:
    """Why a shard size cannot be used (shards start on chunk boundaries), or None."""
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 0:
        return "expected 0 (no shards) or a positive number of sentences"
    if shard_size > CHUNK and shard_size % CHUNK:
        up = -(-shard_size // CHUNK) * CHUNK
        return (f"{shard_size} is above {CHUNK} and not a multiple of it (shards start on the extractor's "
                f"chunks of {CHUNK} sentences, so that their vectors are the unsharded ones byte for byte); "
                f"use {up - CHUNK} or {up}, or a number up to {CHUNK}")
    return None


def corpus_identity(sentences: Sequence[Sentence], multiword: str = "split") -> tuple[str, int]:
    """(fingerprint, words split out of multiword tokens) of a whole corpus: what its cache key needs
    besides the model, for shard workers that see only their own sentences."""
    from probes.extract.extractor import _survey

    survey = _survey(sentences, multiword)
    return survey.fingerprint, survey.split


def found_whole(out: str | Path) -> VectorCache:
    """The finished whole cache in `out`, opened, its summary saying it was found complete."""
    from probes.extract.extractor import ExtractSummary

    cache = VectorCache.open(out)
    made = cache.meta.get("summary")
    cache.summary = replace(ExtractSummary(**made), status="complete") if made else None
    return cache


def pieces_dir(out: str | Path) -> Path:
    """Where the pieces of the cache `out` are written while it is extracted in shards."""
    out = Path(out)
    return out.with_name(out.name + PIECES_SUFFIX)


def piece_path(out: str | Path, start: int, stop: int) -> Path:
    """The piece holding sentences start..stop-1 (0-based) of the cache `out`."""
    return pieces_dir(out) / f"sentences-{start + 1:09d}-{stop:09d}"


def finished_cache(out: str | Path, key: str) -> Optional[VectorCache]:
    """The complete cache in `out` when it was made with `key` (its quick check passed), else None."""
    meta = read_meta(Path(out))
    if meta is None or meta.get("key") != key or not meta.get("complete") or meta.get("damaged"):
        return None
    try:
        return VectorCache.open(out)
    except (CacheDamaged, ProbesError):
        return None  # marked damaged by open(): the shards are extracted again and the join rebuilds it


def join_pieces(out: str | Path, pieces: Sequence[VectorCache], sentences: Sequence[Sentence]) -> VectorCache:
    """Copy finished pieces, in sentence order, into the whole cache `out`; seal it; delete the pieces.

    `sentences` are the whole corpus's (for its fingerprint, and to name words without subwords as
    the single-process run does). Each piece is checked in full before it is copied. Returns the
    whole cache with a ``summary`` adding up the pieces' (``seconds``: their extraction times).
    """
    from probes.extract.extractor import _REPORT_MISSING, ExtractSummary, _missing_examples, _survey, key_of

    out = Path(out)
    if not pieces:
        raise ProbesError(f"{out}: no pieces to join")
    first = pieces[0].meta
    ingredients = dict(first["ingredients"])
    survey = _survey(sentences, "split")
    offsets = [np.zeros(1, dtype=np.int64)]
    for p in pieces:
        other = dict(p.meta["ingredients"], data=ingredients["data"])
        other.pop("multiword", None)
        if other != {k: v for k, v in ingredients.items() if k != "multiword"}:
            raise ProbesError(f"{p.path}: this piece was made with other inputs than {pieces[0].path} "
                              "(model, tokenizer, pooling, layers or dtype); extract the shards again")
        offsets.append(p.sentence_offsets[1:] + offsets[-1][-1])
    offsets = np.concatenate(offsets)
    if not np.array_equal(offsets, survey.offsets):
        raise ProbesError(f"{out}: the pieces hold {len(offsets) - 1} sentences and {offsets[-1]} words, the corpus "
                          f"{len(survey.offsets) - 1} and {survey.offsets[-1]} (or other sentence lengths); "
                          "extract the shards again")
    ingredients["data"] = survey.fingerprint
    ingredients.pop("multiword", None)
    summaries = [p.summary or ExtractSummary(**p.meta["summary"]) for p in pieces]
    if any(s.multiword_split for s in summaries):
        ingredients["multiword"] = "split"  # as the single-process key: some word of the corpus was split
    meta = {k: v for k, v in first.items() if k not in ("summary", "integrity", "meta_sha256", "damaged")}
    meta.update(data_fingerprint=survey.fingerprint, ingredients=ingredients)
    t0 = time.perf_counter()
    writer = CacheWriter(out, key_of(ingredients), meta, n_layers=pieces[0].vectors.shape[0], dim=pieces[0].dim,
                         sentence_offsets=offsets, dtype=first["dtype"])
    try:
        if writer.status == "complete":
            cache = writer.found
        else:
            sent = 0
            for p in pieces:
                p.verify()  # a damaged piece must not be sealed into the whole
                _copy_rows(writer, p, int(offsets[sent]))
                writer.done[sent:sent + p.n_sentences] = True
                sent += p.n_sentences
            made = [s for s in summaries if s.status != "complete"]  # pieces extracted by this run
            summary = ExtractSummary(
                sentences=len(offsets) - 1, words=int(offsets[-1]), windowed=sum(s.windowed for s in summaries),
                missing_words=int(np.count_nonzero(writer.missing)),
                missing_examples=_missing_examples(list(sentences), 0, offsets, writer.missing)[:_REPORT_MISSING],
                seconds=round(sum(s.seconds for s in summaries) + time.perf_counter() - t0, 3),
                status="resumed" if len(made) < len(summaries) or any(s.resumed_from for s in made) else "new",
                resumed_from=sum(s.sentences if s.status == "complete" else s.resumed_from for s in summaries),
                multiword_split=sum(s.multiword_split for s in summaries),
                multiword_shared=sum(s.multiword_shared for s in summaries))
            cache = writer.finish({"summary": asdict(summary)})
            cache.summary = summary
    finally:
        writer.close()
    if cache.summary is None and cache.meta.get("summary"):
        cache.summary = replace(ExtractSummary(**cache.meta["summary"]), status="complete")
    remove_pieces(out, [p.path for p in pieces])
    return cache


def _copy_rows(writer: CacheWriter, piece: VectorCache, row0: int) -> None:
    """Copy a piece's vectors and missing flags to word rows row0.. of the whole, a block at a time."""
    n = piece.n_words
    rows = max(1, _COPY_BYTES // max(1, piece.dim * piece.vectors.dtype.itemsize))
    for layer in range(piece.vectors.shape[0]):
        for a in range(0, n, rows):
            b = min(n, a + rows)
            writer.vectors[layer, row0 + a:row0 + b] = piece.vectors[layer, a:b]
        writer.release()  # written pages leave this process's memory (see CacheWriter.release)
    writer.missing[row0:row0 + n] = piece.missing


def remove_pieces(out: str | Path, pieces: Sequence[Path]) -> None:
    """Delete joined pieces (each only while no other process holds its lock), then the pieces folder if empty."""
    from filelock import FileLock, Timeout

    for path in pieces:
        lock = FileLock(str(Path(path) / LOCK_FILE))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # another study is writing this piece: it is left to that study
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            lock.release()
    try:
        pieces_dir(out).rmdir()
    except OSError:
        pass  # not empty (a piece left to another study) or already gone


def extract_sharded(model, sentences: Sequence[Sentence], out: str | Path, *, shard_size: int,
                    chunk_size: int = CHUNK, **options) -> VectorCache:
    """`probes.extract.extractor.extract` of a list of sentences in shards of `shard_size`, one after another.

    The reference for what parallel workers do: each shard into its piece, then the join. A corpus
    no longer than one shard is extracted directly. `options` are `extract`'s; the returned cache
    has ``shard_statuses``: each piece's status in this call (new, resumed, rebuilt or complete).
    """
    from probes.device import resolve_device, resolve_dtype
    from probes.extract.extractor import cache_identity, extract
    from probes.extract.loading import LoadedModel, load_model

    if not isinstance(sentences, (list, tuple)):
        raise ProbesError("sharded extraction cuts the corpus into sentence ranges: pass a list of sentences")
    shards = plan_shards(len(sentences), shard_size, chunk_size)
    if len(shards) == 1:
        return extract(model, sentences, out, chunk_size=chunk_size, **options)
    loaded = model
    if not isinstance(model, LoadedModel):
        load = {k: options.pop(k) for k in ("random_init", "seed", "trust_remote_code", "max_length") if k in options}
        loaded = load_model(str(model), device=resolve_device(options.get("device", "auto")),
                            dtype=resolve_dtype(options.pop("dtype", "float32")), **load)
    fingerprint, split = corpus_identity(sentences, options.get("multiword", "split"))
    key, _ = cache_identity(loaded, fingerprint, split, layers=options.get("layers"),
                            pooling=options.get("pooling", "mean"), cache_dtype=options.get("cache_dtype", "float16"))
    if finished_cache(out, key) is not None:
        found = found_whole(out)
        found.shard_statuses = ["complete (whole cache)"] * len(shards)
        return found
    pieces = [extract(loaded, list(sentences[a:b]), piece_path(out, a, b), chunk_size=chunk_size, **options)
              for a, b in shards]
    whole = join_pieces(out, pieces, sentences)
    whole.shard_statuses = [p.summary.status for p in pieces]
    return whole
