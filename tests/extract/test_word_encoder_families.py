"""ELMo and Transformer-XL end to end through the extractor: the cache holds the reference outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from probes.extract.cache import VectorCache
from probes.extract.extractor import extract
from probes.records import Sentence

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("fixture, spec, key", [
    ("elmo_a", "elmo:{}", "layers_{}"),
    ("transfo_xl_a", "transfo-xl:{}", "per_sentence_{}"),
])
def test_extract_stores_every_layer_of_the_reference_model(tmp_path, fixture, spec, key):
    d = FIXTURES / fixture
    words = json.loads((d / "sentences.json").read_text(encoding="utf-8"))
    expected = np.load(d / "expected.npz")
    sentences = [Sentence(words=w, sent_id=str(i)) for i, w in enumerate(words)]
    cache = extract(spec.format(d), sentences, tmp_path / "cache", cache_dtype="float32", batch_size=2,
                    progress=False)
    reopened = VectorCache.open(tmp_path / "cache")
    assert reopened.n_sentences == len(words) and reopened.n_words == sum(map(len, words))
    assert reopened.layers == list(range(cache.vectors.shape[0]))
    for i in range(len(words)):
        want = expected[key.format(i)]                     # (num_layers, n_words, dim) from the reference library
        got = reopened.sentence(i)
        assert got.shape == want.shape
        assert np.abs(got - want).max() < 1e-5
    assert not reopened.missing.any()
