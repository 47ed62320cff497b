"""The extraction API: a model and sentences -> per-layer word vectors in an on-disk cache.

Sentences are tokenised in chunks, sorted by length within a chunk and batched, run through the
model once with every hidden state, pooled into word vectors on the whole batch at once, and
written into a preallocated memory-mapped cache as they go, so memory does not grow with the
corpus. A run that stops is resumed from ``done.npy`` by running it again with the same inputs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch

from probes.device import resolve_device, resolve_dtype
from probes.errors import ProbesError
from probes.extract.alignment import MULTIWORD_MODES, align_subwords, missing_tokens, sentence_text, word_units
from probes.extract.cache import FORMAT, CacheWriter, VectorCache, read_meta, refuse_foreign
from probes.extract.integrity import CacheDamaged
from probes.extract.layer_capture import run_layers
from probes.extract.loading import LoadedModel, load_model, model_identity
from probes.extract.pooling import DEFAULT_POOLING, check_pooling, pool_layer, select_pairs
from probes.extract.windows import owners, plan_windows
from probes.records import Sentence

EXTRACTOR_VERSION = "extract/1"  # bump when a code change alters the vectors, so old caches rebuild
CACHE_DTYPES = ("float16", "float32")
_FLUSH_SECONDS = 30.0
_FLUSH_BYTES = 16 << 20  # written vectors pushed to disk and dropped from this process's memory this often
_REPORT_MISSING = 20
# A batch holds at most batch_size rows and batch_size x TOKENS_PER_ROW padded subwords, so that its
# activations (and the process's peak memory) do not depend on how long the corpus's longest sentences are.
TOKENS_PER_ROW = 64


@dataclass
class ExtractSummary:
    """What one extraction did: counts, windowed sentences, words without subwords, time."""

    sentences: int
    words: int
    windowed: int
    missing_words: int
    missing_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "new"
    resumed_from: int = 0
    multiword_split: int = 0   # words of multiword tokens with vectors of their own characters
    multiword_shared: int = 0  # words of multiword tokens that share the token's vector

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        took = (f"found complete: nothing extracted now (the run that made it took {self.seconds:.1f} s)"
                if self.status == "complete" else f"{self.seconds:.1f} s")
        out = [f"{self.sentences} sentences, {self.words} words, {self.windowed} windowed "
               f"(longer than the model's maximum length), {self.missing_words} words with no subwords "
               f"(zero vectors, flagged in missing.npy), {took}"]
        if self.resumed_from and self.status != "complete":
            out.append(f"resumed: {self.resumed_from} sentences were already done")
        if self.multiword_split or self.multiword_shared:
            out.append(f"multiword tokens: {self.multiword_split} words located in their token's characters "
                       f"have vectors of their own; {self.multiword_shared} words share their token's vector "
                       "(their forms do not spell the token, e.g. del = de + el, or multiword = token)")
        if self.missing_examples:
            more = self.missing_words - len(self.missing_examples)
            out.append("words with no subwords: " + ", ".join(self.missing_examples) + (f" ... and {more} more" if more > 0 else ""))
        return out


@dataclass
class _Prepared:
    """One sentence, tokenised: its window rows and its (row, position) -> token pairs."""

    index: int
    rows: list[list[int]]
    row_types: list[list[int]]
    pair_row: np.ndarray
    pair_pos: np.ndarray
    pair_tok: np.ndarray
    n_tokens: int        # pooling units: surface tokens, or words inside a split multiword token
    missing: np.ndarray  # per unit
    word_unit: np.ndarray  # the unit of each word

    @property
    def length(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def _fingerprint_line(s: Sentence) -> bytes:
    return json.dumps([s.model_tokens(), s.space_after, s.token_of_word(), len(s.words)],
                      ensure_ascii=False).encode() + b"\n"


def data_fingerprint(sentences: Iterable[Sentence]) -> str:
    """sha256 over what the model reads and how words map onto it, sentence by sentence."""
    h = hashlib.sha256()
    for s in sentences:
        h.update(_fingerprint_line(s))
    return h.hexdigest()


def _check_sentence(i: int, s: Sentence) -> None:
    where = s.source or f"sentence {i + 1}" + (f" ({s.sent_id})" if s.sent_id else "")
    n_tok = len(s.model_tokens())
    wt = s.token_of_word()
    if s.tokens is None and s.word_token is not None:
        raise ProbesError(f"{where}: word_token is set but tokens is not")
    if len(wt) != len(s.words) or any(not 0 <= t < n_tok for t in wt):
        raise ProbesError(f"{where}: word_token does not map its {len(s.words)} words onto its {n_tok} tokens")
    if s.space_after is not None and len(s.space_after) != n_tok:
        raise ProbesError(f"{where}: space_after has {len(s.space_after)} entries for {n_tok} tokens")


@dataclass
class _Survey:
    """What one pass over the corpus tells before extraction: sizes, fingerprint, multiword counts."""

    offsets: np.ndarray
    fingerprint: str
    split: int
    shared: int


def _survey(sentences: Iterable[Sentence], multiword: str) -> _Survey:
    """One streaming pass: every sentence checked, words counted, fingerprinted; nothing kept but counts."""
    h = hashlib.sha256()
    lengths: list[int] = []
    split = shared = 0
    for i, s in enumerate(sentences):
        _check_sentence(i, s)
        h.update(_fingerprint_line(s))
        lengths.append(len(s.words))
        if s.word_token is not None:
            u = word_units(s, sentence_text(s), multiword)
            split, shared = split + u.split, shared + u.shared
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return _Survey(offsets, h.hexdigest(), split, shared)


def _chunks(sentences: Iterable[Sentence], size: int):
    """(first index, list of sentences) of consecutive chunks of `size` sentences."""
    chunk: list[Sentence] = []
    start = 0
    for s in sentences:
        chunk.append(s)
        if len(chunk) == size:
            yield start, chunk
            start, chunk = start + size, []
    if chunk:
        yield start, chunk


def _resolve_layers(layers: Optional[Iterable[int]], num_layers: int) -> list[int]:
    if layers is None:
        return list(range(num_layers))
    layers = list(layers)
    if not layers:
        raise ProbesError(f"no layers asked for: name some of 0..{num_layers - 1} (0 = embeddings), or all by default")
    out = []
    for layer in layers:
        lid = int(layer) + num_layers if int(layer) < 0 else int(layer)
        if not 0 <= lid < num_layers:
            raise ProbesError(f"layer {layer} does not exist: this model has layers 0..{num_layers - 1} (0 = embeddings)")
        out.append(lid)
    return sorted(set(out))


def cache_identity(loaded: LoadedModel, data_fingerprint: str, split_words: int, *,
                   layers: Optional[Iterable[int]] = None, pooling: str = DEFAULT_POOLING,
                   cache_dtype: str = "float16") -> tuple[str, dict]:
    """(key, meta) of the cache `loaded` makes of a corpus with this fingerprint, before any vector exists.

    `split_words`: words of the corpus's multiword tokens on their own characters (``_survey``'s
    count in split mode; ignored for word encoders, which always share the token's vector).
    ``meta["ingredients"]`` is what the key hashes, so that pieces of one corpus can be joined
    under the whole corpus's key (``probes.extract.shards``).
    """
    keep = _resolve_layers(layers, loaded.num_layers)
    ingredients = {
        "version": EXTRACTOR_VERSION, "format": FORMAT, "model": loaded.fingerprint,
        "tokenizer": loaded.tokenizer_fingerprint,
        "template": asdict(loaded.template) if loaded.template else None, "max_content": loaded.max_content,
        "data": data_fingerprint, "pooling": pooling if loaded.word_encoder is None else "none",
        "layers": keep, "dtype": str(loaded.dtype), "cache_dtype": cache_dtype,
    }
    if split_words and loaded.word_encoder is None:
        # Only words actually cut out of their token change the vectors (all other caches keep their key).
        ingredients["multiword"] = "split"
    # Keys of float32 caches are as they were before weights were loaded in their dtype; a half-precision
    # load now keeps the modules a model keeps in float32, which changes its vectors, hence its key.
    if loaded.dtype != torch.float32:
        ingredients["weights_dtype"] = "at load"
    if loaded.quantization:
        ingredients["quantization"] = loaded.quantization
    meta = {"model": loaded.name, "layers": keep, "num_model_layers": loaded.num_layers,
            "pooling": ingredients["pooling"], "model_fingerprint": loaded.fingerprint,
            "tokenizer_fingerprint": loaded.tokenizer_fingerprint, "data_fingerprint": ingredients["data"],
            "compute_dtype": str(loaded.dtype).replace("torch.", ""), "max_content_subwords": loaded.max_content,
            "ingredients": ingredients,
            "load": {"dtype": str(loaded.dtype).replace("torch.", ""), "quantization": loaded.quantization,
                     "device_map": loaded.device_map, "layers_read_from": loaded.hidden_states_from}}
    if loaded.identity is not None:
        meta["quick_key"] = quick_key(loaded.identity, data_fingerprint, split_words, keep, meta["pooling"],
                                      cache_dtype)
    return key_of(ingredients), meta


def quick_key(identity: dict, data_fingerprint: str, split_words: int, layers: list[int], pooling: str,
              cache_dtype: str) -> str:
    """A cache's key as known without loading its model: the model's files and load options
    (``loading.model_identity``) in place of what the loaded model tells."""
    return key_of({"version": EXTRACTOR_VERSION, "format": FORMAT, "model_files": identity, "data": data_fingerprint,
                   "multiword": bool(split_words), "layers": list(layers), "pooling": pooling,
                   "cache_dtype": cache_dtype})


def stamp_quick_key(path: Path, meta: dict, quick: str) -> dict:
    """Record a complete cache's quick key in its meta.json (its digest renewed); the caller holds its lock."""
    from probes.extract.cache import write_json_atomic
    from probes.extract.integrity import meta_digest

    new = dict(meta, quick_key=quick)
    new["meta_sha256"] = meta_digest(new)
    try:
        write_json_atomic(Path(path) / "meta.json", new)
    except OSError:
        return meta  # read-only: found by loading the model, as before
    return new


def find_extracted(model: str, sentences: Iterable[Sentence], out: str | Path, *,
                   layers: Optional[Iterable[int]] = None, pooling: str = DEFAULT_POOLING, dtype: str = "float32",
                   cache_dtype: str = "float16", random_init: bool = False, seed: int = 0,
                   trust_remote_code: bool = False, max_length: Optional[int] = None, multiword: str = "split",
                   quantization: Optional[str] = None, fingerprint_memo: Optional[Path] = None,
                   open_cache: bool = True, read_weights: bool = True, corpus: Optional[tuple[str, int]] = None):
    """The complete cache in `out` that extracting `sentences` with `model` and these options would
    make, found from the model's files alone (no model is loaded, no weight file read when its
    fingerprint is remembered); None when there is none, or when only loading the model could tell.

    With ``open_cache=False`` nothing is opened or written: True when found, else None; with
    ``read_weights=False`` no file is read whose fingerprint is not remembered (for plans).
    `corpus`: the sentences' (fingerprint, split words) when known (a shard's whole data set),
    instead of reading `sentences`.
    """
    meta = read_meta(Path(out))
    if meta is None or not meta.get("complete") or meta.get("damaged") or not meta.get("quick_key"):
        return None
    identity = model_identity(model, dtype=resolve_dtype(dtype), quantization=quantization, random_init=random_init,
                              seed=seed, trust_remote_code=trust_remote_code, max_length=max_length,
                              memo=fingerprint_memo, read=read_weights)
    if identity is None:
        return None
    try:
        keep = _resolve_layers(layers, int(meta.get("num_model_layers", 0)))
        if corpus is None:
            survey = _survey(sentences, multiword)
            corpus = (survey.fingerprint, survey.split)
    except ProbesError:
        return None  # a layer this model lacks, a malformed sentence: the ordinary path says so
    if quick_key(identity, *corpus, keep, pooling, cache_dtype) != meta["quick_key"]:
        return None
    if not open_cache:
        return True
    try:
        cache = VectorCache.open(out)
    except (CacheDamaged, ProbesError):
        return None  # marked damaged: the ordinary path rebuilds it
    return _found_complete(cache, cache.n_sentences)


def _found_complete(cache: VectorCache, n_sentences: int) -> VectorCache:
    made = cache.meta.get("summary")  # the run that made it, reported as found complete now
    cache.summary = replace(ExtractSummary(**made), status="complete", resumed_from=n_sentences) if made else None
    return cache


def key_of(ingredients: dict) -> str:
    """The cache key: sha256 of its ingredients."""
    return hashlib.sha256(json.dumps(ingredients, sort_keys=True).encode()).hexdigest()


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr)


def extract(model: str | LoadedModel, sentences: Iterable[Sentence], out: str | Path, *,
            layers: Optional[Iterable[int]] = None, pooling: str = DEFAULT_POOLING, batch_size: int = 32,
            device: str = "auto", dtype: str = "float32", cache_dtype: str = "float16",
            random_init: bool = False, seed: int = 0, trust_remote_code: bool = False,
            max_length: Optional[int] = None, progress: bool = True, chunk_size: int = 1024,
            multiword: str = "split", device_map=None, quantization: Optional[str] = None,
            fingerprint_memo: Optional[Path] = None) -> VectorCache:
    """Extract per-layer word vectors of `sentences` with `model` into the cache directory `out`.

    `model` is a hub id, a local directory, a word-encoder spec, or an already loaded model.
    `sentences` is a list, or any re-iterable corpus (``probes.readers.stream_corpus``), which is
    read twice: once to check, count and fingerprint it, once chunk by chunk to extract it, so that
    memory holds one chunk, not the corpus. Sentences are tokenised `chunk_size` at a time and
    sorted by length within a chunk; chunks are fixed ranges of the corpus. `multiword`: ``split`` gives each word of a multiword token
    the subwords over its own characters where its form is found there, ``token`` the token's
    vector (see ``probes.extract.alignment``). `dtype`, `device_map` and `quantization` say how
    the weights load (``probes.extract.load_options``). A cache made from the same files and
    options is found without loading the model (``find_extracted``). Returns the finished cache;
    its ``summary`` attribute is an ExtractSummary.
    """
    t0 = time.perf_counter()
    pooling = check_pooling(pooling)
    if cache_dtype not in CACHE_DTYPES:
        raise ProbesError(f"cache dtype {cache_dtype!r}: choose one of {', '.join(CACHE_DTYPES)}")
    if batch_size < 1:
        raise ProbesError(f"batch size must be at least 1, got {batch_size}")
    if multiword not in MULTIWORD_MODES:
        raise ProbesError(f"multiword {multiword!r}: choose one of {', '.join(MULTIWORD_MODES)}")
    if iter(sentences) is sentences:
        raise ProbesError("extract reads the sentences twice: pass a list or a re-iterable corpus, not an iterator")
    refuse_foreign(Path(out))  # before the model loads: a wrong --out should cost nothing
    if isinstance(model, LoadedModel):
        loaded = model
    else:
        found = find_extracted(str(model), sentences, out, layers=layers, pooling=pooling, dtype=dtype,
                               cache_dtype=cache_dtype, random_init=random_init, seed=seed,
                               trust_remote_code=trust_remote_code, max_length=max_length, multiword=multiword,
                               quantization=quantization, fingerprint_memo=fingerprint_memo)
        if found is not None:
            _say(progress, f"{out}: already extracted with these inputs; nothing to do (the model was not loaded)")
            return found
        loaded = load_model(str(model), device=resolve_device(device), dtype=resolve_dtype(dtype),
                            random_init=random_init, seed=seed, trust_remote_code=trust_remote_code,
                            max_length=max_length, device_map=device_map, quantization=quantization,
                            fingerprint_memo=fingerprint_memo)
    if getattr(loaded.word_encoder, "carry_memory", False):
        raise ProbesError(f"{loaded.name}: memory carried across sentences needs corpus order, but extraction "
                          "batches sentences by length; extract with carry_memory off (the default)")
    keep = _resolve_layers(layers, loaded.num_layers)  # a wrong layer is refused before the corpus is read
    # Word encoders read whole surface tokens: their multiword words always share the token's vector.
    multiword = multiword if loaded.word_encoder is None else "token"
    survey = _survey(sentences, multiword)
    offsets, split, shared = survey.offsets, survey.split, survey.shared
    n_sentences = len(offsets) - 1
    if n_sentences == 0:
        raise ProbesError("no sentences to extract")
    key, meta = cache_identity(loaded, survey.fingerprint, split, layers=keep, pooling=pooling,
                               cache_dtype=cache_dtype)
    writer = CacheWriter(out, key, meta, n_layers=len(keep), dim=loaded.dim, sentence_offsets=offsets,
                         dtype=cache_dtype)
    try:
        if writer.status == "complete":
            _say(progress, f"{out}: already extracted with these inputs; nothing to do")
            cache = writer.found
            if meta.get("quick_key") and cache.meta.get("quick_key") != meta["quick_key"]:
                # e.g. made before quick keys, or by another spelling of the model: found without loading next time
                cache.meta = stamp_quick_key(Path(out), cache.meta, meta["quick_key"])
            return _found_complete(cache, n_sentences)
        if writer.status == "rebuilt":
            # Said even when quiet: a rebuild costs a full extraction, and a damaged cache is news.
            _say(True, f"{out}: {writer.reason}; extracting again")
        resumed_from = int(np.count_nonzero(writer.done))
        if writer.status == "resumed":
            _say(progress, f"{out}: resuming an unfinished extraction ({resumed_from} of {n_sentences} sentences done)")

        run = _Run(loaded, keep, pooling, writer, offsets, batch_size, multiword)
        bar = None
        if progress:
            from probes.progress import counter

            bar = counter(n_sentences, initial=resumed_from, unit="sentences", desc="extract")
        examples: list[str] = []
        again = hashlib.sha256()  # the second pass must read the corpus the first one fingerprinted
        try:
            # Chunks are fixed ranges of the corpus and batches are formed over a whole chunk, done or
            # not, so a resumed run computes every batch exactly as an uninterrupted one would.
            changed = ProbesError(f"{out}: the corpus changed while it was being extracted (its two readings "
                                  "differ); run again on a file that is not being written")
            for a, chunk in _chunks(sentences, chunk_size):
                lengths = np.diff(offsets[a:a + len(chunk) + 1])
                if len(lengths) != len(chunk) or any(len(s.words) != n for s, n in zip(chunk, lengths)):
                    raise changed
                for s in chunk:
                    again.update(_fingerprint_line(s))
                if not np.all(writer.done[a:a + len(chunk)]):
                    run.chunk(a, chunk, bar)
                if len(examples) < _REPORT_MISSING:
                    examples += _missing_examples(chunk, a, offsets, writer.missing)[:_REPORT_MISSING - len(examples)]
        finally:
            writer.flush()
            if bar is not None:
                bar.close()
        if again.hexdigest() != survey.fingerprint:
            raise changed
        missing_total = int(np.count_nonzero(writer.missing))
        summary = ExtractSummary(sentences=n_sentences, words=int(offsets[-1]), windowed=run.windowed,
                                 missing_words=missing_total, missing_examples=examples,
                                 seconds=round(time.perf_counter() - t0, 3), status=writer.status,
                                 resumed_from=resumed_from, multiword_split=split, multiword_shared=shared)
        cache = writer.finish({"summary": asdict(summary)})
    finally:
        writer.close()
    cache.summary = summary
    return cache


def _missing_examples(chunk: list[Sentence], start: int, offsets: np.ndarray, missing: np.ndarray) -> list[str]:
    """'sent_id:word form' of the flagged words in one chunk (first few)."""
    a, b = int(offsets[start]), int(offsets[start + len(chunk)])
    out = []
    for row in (np.flatnonzero(missing[a:b])[:_REPORT_MISSING] + a):
        i = int(np.searchsorted(offsets, row, side="right") - 1)
        s, j = chunk[i - start], int(row - offsets[i])
        out.append(f"{s.sent_id or i + 1}:{j + 1} {s.words[j]!r}")
    return out


@functools.cache
def _malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: nothing to trim


def _trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc only).

    Batches of many shapes leave glibc's heap fragmented: without this, resident memory grew with
    the number of batches, i.e. with the corpus (benchmarks/extract_memory.py), though nothing was
    kept. Called after every batch: 0.012 ms median, 0.4 ms worst in 200 calls after freeing 160 MB of
    arrays (2-core machine), against forward passes of tens of milliseconds.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextmanager
def _single_thread(device: torch.device):
    """Run small CPU tensor ops on the calling thread only.

    Pooling a batch is a few small gathers and sums; spread over the intra-op thread pool right after
    a forward pass, on a busy machine, they wait for descheduled workers and took longer than the
    forward pass itself (measured with benchmarks/extract.py). On one thread they take milliseconds.
    """
    if device.type != "cpu":
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class _ChunkView:
    """Sentences of one chunk, indexed by their position in the corpus."""

    def __init__(self, start: int, sentences: list[Sentence]):
        self.start, self.items = start, sentences

    def __getitem__(self, i: int) -> Sentence:
        return self.items[int(i) - self.start]


class _Run:
    """The batching, forward passes, pooling and writing of one extraction."""

    def __init__(self, loaded: LoadedModel, keep: list[int], pooling: str, writer: CacheWriter,
                 offsets: np.ndarray, batch_size: int, multiword: str = "split"):
        self.m, self.keep, self.pooling, self.writer = loaded, keep, pooling, writer
        self.multiword = multiword
        self.sentences: _ChunkView = _ChunkView(0, [])  # corpus-indexed access to the current chunk
        self.offsets, self.batch_size = offsets, batch_size
        self.windowed = 0
        self.last_flush = time.monotonic()
        self.unflushed = 0
        self.out_dtype = torch.float16 if writer.vectors.dtype == np.float16 else torch.float32

    def chunk(self, start: int, sentences: list[Sentence], bar) -> None:
        """Tokenise, batch and extract one chunk (corpus sentences start.. on), skipping batches already done."""
        self.sentences = _ChunkView(start, sentences)
        indices = np.arange(start, start + len(sentences))
        done = self.writer.done
        if self.m.word_encoder is not None:
            order = sorted(indices.tolist(), key=lambda i: len(self.sentences[i].model_tokens()))
            for a in range(0, len(order), self.batch_size):
                part = order[a:a + self.batch_size]
                if not np.all(done[part]):
                    self._word_encoder_batch(part)
                    self._done(part, bar)
                    _trim_heap()
            return
        prepared = self._prepare(indices)
        prepared.sort(key=lambda p: p.length)  # stable: ties keep corpus order, the same on every run
        batches: list[list[_Prepared]] = [[]]
        n_rows = 0
        for p in prepared:
            # Rows are sorted by length, so p.length is the batch's padded width once p joins it.
            if batches[-1] and (n_rows + len(p.rows) > self.batch_size
                                or (n_rows + len(p.rows)) * p.length > self.batch_size * TOKENS_PER_ROW):
                batches.append([])
                n_rows = 0
            batches[-1].append(p)
            n_rows += len(p.rows)
        for batch in batches:
            ids = [q.index for q in batch]
            if batch and not np.all(done[ids]):
                self._batch(batch)
                self._done(ids, bar)
                _trim_heap()

    def _prepare(self, indices: np.ndarray) -> list[_Prepared]:
        texts = [sentence_text(self.sentences[i]) for i in indices]
        enc = self.m.tokenizer([t.text for t in texts], add_special_tokens=False, return_offsets_mapping=True,
                               return_attention_mask=False, return_token_type_ids=False)
        tpl = self.m.template
        size = self.m.max_content
        prepared = []
        for k, i in enumerate(indices):
            ids = enc["input_ids"][k]
            n = len(ids)
            units = word_units(self.sentences[i], texts[k], self.multiword)
            sub, tok = align_subwords(np.asarray(enc["offset_mapping"][k], dtype=np.int64), units.starts, units.ends)
            n_tok = len(units.starts)
            miss = missing_tokens(tok, n_tok)
            sel = select_pairs(tok, self.pooling)
            sub, tok = sub[sel], tok[sel]
            windows = plan_windows(n, size) if (size is not None and n > 0) else [(0, n)]
            if len(windows) > 1:
                self.windowed += 1
            rows, types = [], []
            if n > 0:
                for a, b in windows:
                    rows.append(tpl.prefix + list(ids[a:b]) + tpl.suffix)
                    types.append(tpl.prefix_types + [tpl.content_type] * (b - a) + tpl.suffix_types)
            win, pos = owners(n, windows, causal=self.m.causal)
            prepared.append(_Prepared(int(i), rows, types, win[sub], pos[sub] + len(tpl.prefix), tok, n_tok, miss,
                                      units.word_unit))
        return prepared

    def _batch(self, batch: list[_Prepared]) -> None:
        m = self.m
        rows = [r for p in batch for r in p.rows]
        tok_base = np.cumsum([0] + [p.n_tokens for p in batch])
        n_tok = int(tok_base[-1])
        if rows:
            width = max(len(r) for r in rows)
            ids = np.full((len(rows), width), m.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            shift = np.zeros(len(rows), dtype=np.int64)
            row_types = [t for p in batch for t in p.row_types]
            for r, (row, rt) in enumerate(zip(rows, row_types)):
                a = width - len(row) if m.pad_left else 0
                ids[r, a:a + len(row)] = row
                mask[r, a:a + len(row)] = 1
                types[r, a:a + len(row)] = rt
                shift[r] = a
            row_base = np.cumsum([0] + [len(p.rows) for p in batch])[:-1]
            pair_row = np.concatenate([p.pair_row + row_base[k] for k, p in enumerate(batch)])
            pair_pos = np.concatenate([p.pair_pos for p in batch])
            flat = pair_row * width + shift[pair_row] + pair_pos
            tok = np.concatenate([p.pair_tok + tok_base[k] for k, p in enumerate(batch)])
            pooled = self._pooled(ids, mask, types, flat, tok, n_tok)
        word_tok = np.concatenate([p.word_unit + tok_base[k] for k, p in enumerate(batch)])
        if not rows:
            vectors = np.zeros((len(self.keep), len(word_tok), m.dim), dtype=self.writer.vectors.dtype)
        else:
            with _single_thread(m.device):
                if len(word_tok) != n_tok or np.any(word_tok != np.arange(n_tok)):  # multiword tokens present
                    pooled = pooled.index_select(1, torch.from_numpy(word_tok).to(m.device))
                vectors = pooled.to(self.out_dtype).cpu().numpy()
        missing = np.concatenate([p.missing for p in batch])[word_tok]
        self._write([p.index for p in batch], vectors, missing)

    def _pooled(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray, flat: np.ndarray, tok: np.ndarray,
                n_tok: int) -> torch.Tensor:
        """The kept layers of one batch pooled into tokens, (K, n_tok, D) float32 on the input device.

        Each layer is pooled on the device it was computed on (a device-mapped model's layers live
        on several) as soon as it exists; only its (n_tok, D) pooled rows are kept, then moved.
        """
        m = self.m
        index: dict = {}  # device -> the pairs' indices there
        pooled: dict[int, torch.Tensor] = {}

        def take(layer: int, h: torch.Tensor) -> None:
            if h.device not in index:
                index[h.device] = (torch.from_numpy(flat).to(h.device), torch.from_numpy(tok).to(h.device))
            with _single_thread(h.device):
                pooled[layer] = pool_layer(h.reshape(-1, h.shape[-1]), *index[h.device], n_tok, self.pooling).to(m.device)

        inputs = self._inputs(ids, mask, types)
        if m.blocks is not None:  # only the kept layers are read, and the pass stops after the highest
            run_layers(m.model, inputs, m.blocks, self.keep, take)
        else:
            hidden = self._forward(inputs)
            for layer in self.keep:
                take(layer, hidden[layer])
        return torch.stack([pooled[layer] for layer in self.keep])

    def _inputs(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> dict:
        m = self.m
        inputs = {"input_ids": torch.from_numpy(ids).to(m.device),
                  "attention_mask": torch.from_numpy(mask).to(m.device)}
        if m.use_token_types:
            inputs["token_type_ids"] = torch.from_numpy(types).to(m.device)
        if m.pad_left and m.use_position_ids:
            # Left padding must not shift absolute positions: count positions over real tokens only.
            inputs["position_ids"] = (inputs["attention_mask"].cumsum(-1) - 1).clamp_(min=0)
        return dict(inputs, **m.forward_options)

    def _forward(self, inputs: dict):
        m = self.m
        with torch.inference_mode():
            out = m.model(**inputs, output_hidden_states=True, return_dict=True)
        hidden = out.hidden_states
        if hidden is None or len(hidden) != m.num_layers:
            raise ProbesError(f"{m.name}: the model returned {0 if hidden is None else len(hidden)} hidden states, "
                              f"expected {m.num_layers}")
        return hidden

    def _word_encoder_batch(self, order: list[int]) -> None:
        enc = self.m.word_encoder
        outs = enc.encode([list(self.sentences[i].model_tokens()) for i in order])
        parts = []
        for i, t in zip(order, outs):
            if t.shape[0] != self.m.num_layers or t.shape[1] != len(self.sentences[i].model_tokens()):
                raise ProbesError(f"{self.m.name}: encoder returned shape {tuple(t.shape)} for sentence {i + 1}")
            idx = torch.as_tensor(self.sentences[i].token_of_word(), dtype=torch.long, device=t.device)
            parts.append(t[self.keep].index_select(1, idx))
        vectors = torch.cat(parts, dim=1).to(self.out_dtype).cpu().numpy()
        self._write(order, vectors, np.zeros(vectors.shape[1], dtype=bool))

    def _write(self, indices: list[int], vectors: np.ndarray, missing: np.ndarray) -> None:
        w = self.writer
        # The batch's word rows in the column order of `vectors`: one scattered write, not one per sentence.
        rows = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in indices])
        finite = np.isfinite(vectors).all(axis=(0, 2))
        if not finite.all():
            # A NaN or Inf (a float16 overflow, say) must not enter a cache: the checksums would seal it.
            word = int(np.flatnonzero(~finite)[0])
            sent = int(np.searchsorted(self.offsets, rows[word], side="right") - 1)
            s = self.sentences[sent]
            raise ProbesError(f"{self.m.name}: NaN or Inf vectors for {int(np.count_nonzero(~finite))} words, first "
                              f"in sentence {s.sent_id or sent + 1} word {rows[word] - self.offsets[sent] + 1} "
                              f"({s.words[rows[word] - self.offsets[sent]]!r}); extract with dtype float32, or "
                              "cache_dtype float32 if the values exceed float16's range")
        w.vectors[:, rows] = vectors
        w.missing[rows] = missing
        self.unflushed += vectors.nbytes
        if self.unflushed > _FLUSH_BYTES or time.monotonic() - self.last_flush > _FLUSH_SECONDS:
            w.release()
            self.last_flush, self.unflushed = time.monotonic(), 0

    def _done(self, indices: list[int], bar) -> None:
        new = int(np.count_nonzero(~self.writer.done[indices]))
        self.writer.done[indices] = True
        if bar is not None:
            bar.update(new)
