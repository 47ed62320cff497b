"""Loading a config's data sets: read, select the sentence range, fingerprint what was used."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from probes.errors import ProbesError
from probes.experiment.config import DataSpec
from probes.readers import read_corpus
from probes.records import Sentence


@dataclass
class Dataset:
    """The sentences of one data set and a fingerprint of exactly those sentences."""

    spec: DataSpec
    sentences: list[Sentence]
    fingerprint: str
    total_in_file: int
    skipped: list[str] = field(default_factory=list)  # invalid sentences left out (skip_invalid), one line each
    notes: list[str] = field(default_factory=list)    # what the reader did that a user should know


def _plain(x):
    """Records as JSON-able values (dataclasses -> dicts), for fingerprints."""
    if dataclasses.is_dataclass(x):
        return {f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    return x


def sentences_fingerprint(sentences: list[Sentence]) -> str:
    """sha256 over what the vectors and labels depend on: ids, tokens, words and every annotation."""
    h = hashlib.sha256()
    for s in sentences:
        record = [s.sent_id, s.model_tokens(), s.words, s.token_of_word(), s.space_after, s.upos, s.xpos,
                  s.feats, s.heads, s.deprels, s.lang, s.doc_id, _plain(s.entities), _plain(s.mentions),
                  _plain(s.predicates), _plain(s.constituents), _plain(s.targets), s.label]
        h.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def load_dataset(spec: DataSpec, **reader_options) -> Dataset:
    """Read a data set and keep sentences first..last, then at most max_sentences of them."""
    report = read_corpus(spec.source, lang=spec.lang, format=spec.format, split=spec.split, trees=spec.trees,
                         skip_invalid=spec.skip_invalid, **reader_options)
    report.print_skipped()
    sentences = report.sentences
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
    return Dataset(spec, chosen, sentences_fingerprint(chosen), total, [str(s) for s in report.skipped],
                   list(report.notes))
