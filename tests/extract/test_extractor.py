"""The extractor on a tiny BERT: missing words, multiword tokens, pooling, windows, cache behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probes.errors import ProbesError
from probes.extract.cache import VectorCache, read_meta
from probes.extract.extractor import extract
from probes.extract.loading import load_model
from probes.records import Sentence

from tests.extract.direct import direct_word_vectors, load_reference, spans_of

LONG = "Researchers ask where in the model the knowledge of syntax lives , unbelievably .".split()
CORPUS = [Sentence(words="The fox jumps .".split()), Sentence(words=LONG),
          Sentence(words="Tokenizers split rarely seen words".split()), Sentence(words="A dog .".split())]


@pytest.fixture(scope="module")
def bert(tiny):
    return tiny("bert")


@pytest.fixture(scope="module")
def reference(bert):
    return load_reference(bert)


def _direct(reference, words, space_after=None, pooling="mean"):
    text, spans = spans_of(words, space_after)
    return direct_word_vectors(*reference, text, spans, pooling=pooling)


def test_zero_width_word_is_flagged_not_shifted(bert, reference, tmp_path):
    words = ["The", "\u200b", "fox", "jumps"]
    cache = extract(bert, [Sentence(words=words)], tmp_path / "c", cache_dtype="float32", progress=False)
    assert cache.missing.tolist() == [False, True, False, False]
    assert cache.summary.missing_words == 1 and "'\\u200b'" in cache.summary.missing_examples[0]
    vec = cache.sentence(0)
    assert np.all(vec[:, 1] == 0)
    expected, positions = _direct(reference, words)
    assert positions[1] == []
    np.testing.assert_allclose(vec, expected, atol=2e-5)


def test_multiword_token_whose_words_do_not_spell_it_shares_the_surface_vector(bert, reference, tmp_path):
    s = Sentence(words=["de", "el", "fox"], tokens=["del", "fox"], word_token=[0, 0, 1])
    cache = extract(bert, [s], tmp_path / "c", cache_dtype="float32", progress=False)
    vec = cache.sentence(0)
    expected, _ = _direct(reference, ["del", "fox"])
    np.testing.assert_allclose(vec[:, 0], expected[:, 0], atol=2e-5)
    np.testing.assert_allclose(vec[:, 1], expected[:, 0], atol=2e-5)
    np.testing.assert_allclose(vec[:, 2], expected[:, 1], atol=2e-5)
    assert (cache.summary.multiword_split, cache.summary.multiword_shared) == (0, 2)
    assert any("2 words share their token's vector" in line for line in cache.summary.lines())
    # Nothing is cut out of "del": the vectors, and so the cache key, are those of multiword = "token".
    whole = extract(bert, [s], tmp_path / "t", cache_dtype="float32", progress=False, multiword="token")
    assert whole.meta["key"] == cache.meta["key"]


def test_each_word_of_dont_pools_the_subwords_over_its_own_characters(bert, reference, tmp_path):
    s = Sentence(words=["I", "do", "n't", "know"], tokens=["I", "don't", "know"], word_token=[0, 1, 1, 2])
    cache = extract(bert, [s], tmp_path / "c", cache_dtype="float32", progress=False)
    vec = cache.sentence(0)
    # The model's own subwords over "do" = chars 2-4 and "n't" = chars 4-7 of "I don't know".
    text = "I don't know"
    expected, positions = direct_word_vectors(*reference, text, [(0, 1), (2, 4), (4, 7), (8, 12)])
    assert positions[1] != positions[2]
    np.testing.assert_allclose(vec, expected, atol=2e-5)
    assert np.abs(vec[:, 1] - vec[:, 2]).max() > 1e-3  # two different vectors
    assert (cache.summary.multiword_split, cache.summary.multiword_shared) == (2, 0)
    # multiword = "token": the former behaviour, both words on the token's vector, in its own cache key.
    old = extract(bert, [s], tmp_path / "t", cache_dtype="float32", progress=False, multiword="token")
    whole, _ = direct_word_vectors(*reference, text, [(0, 1), (2, 7), (8, 12)])
    np.testing.assert_allclose(old.sentence(0)[:, 1], whole[:, 1], atol=2e-5)
    np.testing.assert_allclose(old.sentence(0)[:, 2], whole[:, 1], atol=2e-5)
    assert old.meta["key"] != cache.meta["key"]
    with pytest.raises(ProbesError, match="multiword 'words'"):
        extract(bert, [s], tmp_path / "x", progress=False, multiword="words")


@pytest.mark.parametrize("pooling", ["first", "last"])
def test_first_and_last_pooling(bert, reference, tmp_path, pooling):
    cache = extract(bert, CORPUS[2:3], tmp_path / "c", pooling=pooling, cache_dtype="float32", progress=False)
    expected, positions = _direct(reference, CORPUS[2].words, pooling=pooling)
    assert max(len(p) for p in positions) > 1
    np.testing.assert_allclose(cache.sentence(0), expected, atol=2e-5)
    assert cache.meta["pooling"] == pooling


def test_long_sentence_is_windowed_not_truncated(bert, reference, tmp_path):
    model, tokenizer = reference
    size = 14  # content subwords per window; max_length adds [CLS] and [SEP]
    cache = extract(bert, CORPUS, tmp_path / "c", max_length=size + 2, cache_dtype="float32", progress=False)
    assert cache.summary.windowed == 1
    text, spans = spans_of(LONG)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > size + 5
    vec = cache.sentence(1)
    assert not cache.missing.any() and np.all(np.abs(vec).sum(axis=2) > 0)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    first = [i for i, (a, b) in enumerate(enc["offset_mapping"]) if a < spans[0][1]]
    assert max(first) < size // 2  # the first word is read from the first window only
    for window, word in [(ids[:size], 0), (ids[-size:], len(LONG) - 1)]:
        inp = torch.tensor([[tokenizer.cls_token_id] + window + [tokenizer.sep_token_id]])
        with torch.no_grad():
            hs = torch.stack(model(input_ids=inp, output_hidden_states=True).hidden_states)[:, 0].numpy()
        if word == 0:
            expected = hs[:, 1:1 + len(first)].mean(axis=1)
        else:  # the final "." is one subword, the window's last content position
            expected = hs[:, size]
        np.testing.assert_allclose(vec[:, word], expected, atol=2e-5)
    # Sentences that fit are unchanged by the window size.
    full = extract(bert, CORPUS, tmp_path / "full", cache_dtype="float32", progress=False)
    assert full.summary.windowed == 0
    for i in (0, 2, 3):
        np.testing.assert_allclose(cache.sentence(i), full.sentence(i), atol=1e-6)


def test_cache_round_trip_reuse_and_invalidation(bert, tmp_path, capsys):
    out = tmp_path / "c"
    c16 = extract(bert, CORPUS, out, batch_size=3, progress=True)
    assert c16.vectors.dtype == np.float16 and c16.summary.status == "new"
    reopened = VectorCache.open(out)
    assert reopened.n_sentences == 4 and reopened.n_words == sum(len(s) for s in CORPUS)
    assert reopened.sentence_offsets.tolist() == [0, 4, 18, 23, 26]
    c32 = extract(bert, CORPUS, tmp_path / "c32", cache_dtype="float32", progress=False)
    np.testing.assert_allclose(np.asarray(reopened.vectors, dtype=np.float32), c32.vectors, atol=5e-3, rtol=5e-3)

    again = extract(bert, CORPUS, out, progress=True)
    assert "nothing to do" in capsys.readouterr().err
    assert again.meta["key"] == c16.meta["key"]

    changed = [CORPUS[0], Sentence(words=LONG[:-1] + ["!"]), *CORPUS[2:]]
    rebuilt = extract(bert, changed, out, progress=True)
    assert "extracting again" in capsys.readouterr().err
    assert rebuilt.summary.status == "rebuilt" and rebuilt.meta["key"] != c16.meta["key"]
    assert not np.allclose(rebuilt.sentence(1)[:, -1], c32.sentence(1)[:, -1], atol=1e-2)

    first = extract(bert, CORPUS, out, pooling="first", progress=False)
    assert first.summary.status == "rebuilt"


def test_resume_after_interruption(bert, tmp_path):
    loaded = load_model(bert, device=torch.device("cpu"))
    real_forward = loaded.model.forward
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real_forward(*args, **kwargs)

    loaded.model.forward = failing
    out = tmp_path / "c"
    with pytest.raises(RuntimeError, match="simulated crash"):
        extract(loaded, CORPUS, out, batch_size=1, cache_dtype="float32", progress=False)
    assert read_meta(out)["complete"] is False
    with pytest.raises(ProbesError, match="did not finish"):
        VectorCache.open(out)
    assert int(np.load(out / "done.npy").sum()) == 2

    calls.clear()
    loaded.model.forward = lambda *a, **k: (calls.append(1), real_forward(*a, **k))[1]
    resumed = extract(loaded, CORPUS, out, batch_size=1, cache_dtype="float32", progress=False)
    assert len(calls) == 2 and resumed.summary.status == "resumed" and resumed.summary.resumed_from == 2
    loaded.model.forward = real_forward
    fresh = extract(loaded, CORPUS, tmp_path / "fresh", batch_size=1, cache_dtype="float32", progress=False)
    np.testing.assert_array_equal(np.asarray(resumed.vectors), np.asarray(fresh.vectors))


def test_layer_choice(bert, tmp_path):
    cache = extract(bert, CORPUS[:1], tmp_path / "c", layers=[-1, 0], progress=False)
    assert cache.layers == [0, 2] and cache.vectors.shape[0] == 2 and cache.meta["num_model_layers"] == 3
    with pytest.raises(ProbesError, match="layers 0..2"):
        extract(bert, CORPUS[:1], tmp_path / "d", layers=[3], progress=False)


def test_random_init_twin(bert, tmp_path):
    trained = extract(bert, CORPUS[:1], tmp_path / "t", cache_dtype="float32", progress=False)
    r1 = extract(bert, CORPUS[:1], tmp_path / "r1", random_init=True, seed=1, cache_dtype="float32", progress=False)
    r1b = extract(bert, CORPUS[:1], tmp_path / "r1b", random_init=True, seed=1, cache_dtype="float32", progress=False)
    r2 = extract(bert, CORPUS[:1], tmp_path / "r2", random_init=True, seed=2, cache_dtype="float32", progress=False)
    assert r1.meta["model"].endswith(":random-init")
    assert r1.meta["key"] == r1b.meta["key"] and r1.meta["key"] not in (r2.meta["key"], trained.meta["key"])
    np.testing.assert_array_equal(np.asarray(r1.vectors), np.asarray(r1b.vectors))
    assert not np.allclose(r1.vectors, trained.vectors) and not np.allclose(r1.vectors, r2.vectors)


def test_bad_word_token_is_a_clear_error(bert, tmp_path):
    s = Sentence(words=["a", "b"], tokens=["ab"], word_token=[0, 1], source="x.conllu:7")
    with pytest.raises(ProbesError, match="x.conllu:7"):
        extract(bert, [s], tmp_path / "c", progress=False)


@pytest.mark.parametrize("family", ["t5", "llama"])
def test_random_init_of_encoder_and_decoder_families(tiny, tmp_path, family):
    cache = extract(tiny(family), CORPUS[:1], tmp_path / "c", random_init=True, seed=3, progress=False)
    assert cache.layers == [0, 1, 2] and cache.meta["model"].endswith(":random-init")
    assert np.all(np.isfinite(np.asarray(cache.vectors, dtype=np.float32)))


def test_causal_models_are_recognised(tiny):
    found = {f: load_model(tiny(f), device=torch.device("cpu")).causal for f in ("bert", "xlnet", "gpt2", "llama", "openai-gpt")}
    assert found == {"bert": False, "xlnet": False, "gpt2": True, "llama": True, "openai-gpt": True}
