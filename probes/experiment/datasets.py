"""Loading a config's data sets: read, select the sentence range, fingerprint what was used."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from probes.errors import ProbesError
from probes.experiment.config import DataSpec
from probes.readers import load_corpus
from probes.records import Sentence


@dataclass
class Dataset:
    """The sentences of one data set and a fingerprint of exactly those sentences."""

    spec: DataSpec
    sentences: list[Sentence]
    fingerprint: str
    total_in_file: int


def sentences_fingerprint(sentences: list[Sentence]) -> str:
    """sha256 over what the vectors and labels depend on: ids, tokens, words and annotations."""
    h = hashlib.sha256()
    for s in sentences:
        record = [s.sent_id, s.model_tokens(), s.words, s.token_of_word(), s.space_after, s.upos, s.xpos,
                  s.feats, s.heads, s.deprels, s.lang]
        h.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def load_dataset(spec: DataSpec, **reader_options) -> Dataset:
    """Read a data set and keep sentences first..last, then at most max_sentences of them."""
    sentences = load_corpus(spec.source, lang=spec.lang, **reader_options)
    total = len(sentences)
    first = (spec.first or 1) - 1
    last = spec.last if spec.last is not None else total
    if first >= total:
        raise ProbesError(f"{spec.source}: the range starts at sentence {first + 1} but the file has {total}")
    chosen = sentences[first:last]
    if spec.max_sentences:
        chosen = chosen[: spec.max_sentences]
    if spec.lang:
        for s in chosen:
            s.lang = s.lang or spec.lang
    return Dataset(spec, chosen, sentences_fingerprint(chosen), total)
