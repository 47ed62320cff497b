"""Extraction streams its corpus: two passes over a re-iterable, one chunk in memory, same cache as a list."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from probes.cli import main
from probes.errors import ProbesError
from probes.extract.extractor import extract
from probes.extract.loading import load_model
from probes.readers import load_corpus, stream_corpus

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "en.conllu"


@pytest.fixture(scope="module")
def loaded(tiny):
    return load_model(tiny("bert"), device=torch.device("cpu"))


class OnlyIterable:
    """A corpus with nothing but __iter__ (no len, no indexing), counting its passes."""

    def __init__(self, sentences, second=None):
        self.sentences, self.second, self.passes = sentences, second, 0

    def __iter__(self):
        self.passes += 1
        yield from (self.second if self.passes > 1 and self.second is not None else self.sentences)


def test_a_streamed_corpus_gives_the_same_cache_as_a_list(loaded, tmp_path):
    listed = extract(loaded, load_corpus(SAMPLE), tmp_path / "list", chunk_size=64, progress=False)
    streamed = extract(loaded, stream_corpus(SAMPLE), tmp_path / "stream", chunk_size=64, progress=False)
    assert streamed.meta["key"] == listed.meta["key"]
    assert (tmp_path / "stream" / "vectors.npy").read_bytes() == (tmp_path / "list" / "vectors.npy").read_bytes()
    assert streamed.summary.sentences == len(load_corpus(SAMPLE))


def test_extraction_reads_twice_and_needs_neither_len_nor_indexing(loaded, tmp_path):
    corpus = OnlyIterable(load_corpus(SAMPLE)[:30])
    cache = extract(loaded, corpus, tmp_path / "c", chunk_size=8, progress=False)
    assert corpus.passes == 2 and cache.n_sentences == 30


def test_a_one_shot_iterator_is_refused(loaded, tmp_path):
    with pytest.raises(ProbesError, match="not an iterator"):
        extract(loaded, iter(load_corpus(SAMPLE)[:5]), tmp_path / "c", progress=False)


def test_a_corpus_that_changes_between_its_two_readings_is_an_error(loaded, tmp_path):
    first = load_corpus(SAMPLE)[:10]
    second = first[:9] + [load_corpus(SAMPLE)[20]]
    with pytest.raises(ProbesError, match="corpus changed while it was being extracted"):
        extract(loaded, OnlyIterable(first, second), tmp_path / "c", chunk_size=4, progress=False)


def test_cli_extract_streams_and_reports_skipped_sentences_once(tiny, tmp_path, capsys):
    text = SAMPLE.read_text(encoding="utf-8")
    first = text.index("\n\n") + 2
    bad = text[:first] + "# sent_id = broken\n1\tA\ta\tDET\t_\t_\t9\tdet\t_\t_\n\n" + text[first:]
    (tmp_path / "in.conllu").write_text(bad, encoding="utf-8")
    assert main(["extract", "--model", tiny("bert"), "--data", str(tmp_path / "in.conllu"), "--out",
                 str(tmp_path / "c"), "--skip-invalid", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("skipped: ") == 1 and "broken" in err and "skipped 1 invalid sentence(s)" in err
    assert f"kept {len(load_corpus(SAMPLE))}" in err
