"""Every Hugging Face family: layer count, size, and word vectors equal to a direct model call."""

from __future__ import annotations

import numpy as np
import pytest

from probes.extract.extractor import extract
from probes.records import Sentence

from tests.extract.tiny_models import FAMILIES
from tests.extract.direct import direct_word_vectors, load_reference, spans_of

SENTENCES = [
    Sentence(words="Tokenizers split rarely seen words".split()),
    Sentence(words="The fox jumps .".split()),
    Sentence(words=["我们", "喜欢", "学习", "。"], space_after=[False, False, False, False]),
    Sentence(words="Researchers ask where in the model the knowledge of syntax lives , unbelievably .".split()),
]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_matches_direct_model_call(family, tiny, tmp_path):
    path = tiny(family)
    # batch_size 2: sentences of different lengths share a batch, so padding is exercised.
    cache = extract(path, SENTENCES, tmp_path / "c", batch_size=2, cache_dtype="float32", progress=False)
    model, tokenizer = load_reference(path)
    assert cache.layers == [0, 1, 2]  # embeddings + 2 layers
    assert cache.dim == 32
    assert cache.n_words == sum(len(s) for s in SENTENCES)
    assert not cache.missing.any()
    sizes = set()
    for i, s in enumerate(SENTENCES):
        text, spans = spans_of(s.words, s.space_after)
        expected, positions = direct_word_vectors(model, tokenizer, text, spans)
        sizes.update(len(p) for p in positions)
        np.testing.assert_allclose(cache.sentence(i), expected, atol=2e-5, rtol=1e-4)
    # The corpus must hold both one-subword and several-subword words for the check to mean much.
    assert 1 in sizes and max(sizes) > 1


def test_ernie_chinese_word_pools_its_characters(tiny, tmp_path):
    path = tiny("ernie")
    s = Sentence(words=["我们", "喜欢", "学习"], space_after=[False, False, False])
    cache = extract(path, [s], tmp_path / "c", cache_dtype="float32", progress=False)
    model, tokenizer = load_reference(path)
    enc = tokenizer("我们喜欢学习", return_tensors="pt")
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"][0]) == ["[CLS]", "我", "们", "喜", "欢", "学", "习", "[SEP]"]
    import torch
    with torch.no_grad():
        hs = torch.stack(model(**enc, output_hidden_states=True).hidden_states)[:, 0].numpy()
    np.testing.assert_allclose(cache.sentence(0)[:, 0], hs[:, 1:3].mean(axis=1), atol=2e-5)
    np.testing.assert_allclose(cache.sentence(0)[:, 2], hs[:, 5:7].mean(axis=1), atol=2e-5)


def test_gpt2_leading_space_offsets_do_not_shift_words(tiny, tmp_path):
    path = tiny("gpt2")
    _, tokenizer = load_reference(path)
    enc = tokenizer("fox jumps", return_offsets_mapping=True)
    # Byte-level BPE without offset trimming: the second word's first subword starts at the space.
    assert any(a == 3 for a, _ in enc["offset_mapping"])
    s = Sentence(words=["fox", "jumps"])
    cache = extract(path, [s], tmp_path / "c", cache_dtype="float32", progress=False)
    model, _ = load_reference(path)
    expected, positions = direct_word_vectors(model, tokenizer, "fox jumps", [(0, 3), (4, 9)])
    assert positions[0] and positions[1] and not set(positions[0]) & set(positions[1])
    np.testing.assert_allclose(cache.sentence(0), expected, atol=2e-5)
