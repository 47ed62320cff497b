"""Transformer-XL: parity with transformers 4.34.1, safe loading, vocabulary, memory and options."""

import json
import os
import pickle
import shutil

import numpy as np
import pytest
import torch

from probes.encoders import open_word_encoder
from probes.encoders.transfo_xl import TransfoXLEncoder, TransfoXLVocab
from probes.errors import ProbesError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def _fixture(name):
    d = os.path.join(FIXTURES, name)
    with open(os.path.join(d, "sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    return d, sentences, np.load(os.path.join(d, "expected.npz"))


@pytest.mark.parametrize("name", ["transfo_xl_a", "transfo_xl_b"])
def test_parity_with_transformers_434_every_layer(name):
    d, sentences, expected = _fixture(name)
    enc = open_word_encoder(d)
    assert isinstance(enc, TransfoXLEncoder)
    for k, words in enumerate(sentences):
        assert enc.vocab.ids(words)[0] == expected[f"ids_{k}"].tolist()
    for batch_size in (1, 4):  # alone, and right-padded together with the longest sentence
        enc.batch_size = batch_size
        for k, out in enumerate(enc.encode(sentences)):
            want = expected[f"per_sentence_{k}"]
            assert out.shape == want.shape == (enc.num_layers, len(sentences[k]), enc.dim)
            assert np.abs(out.numpy() - want).max() < 1e-5


@pytest.mark.parametrize("name", ["transfo_xl_a", "transfo_xl_b"])
def test_parity_with_memory_carried_across_segments(name):
    d, sentences, expected = _fixture(name)
    enc = open_word_encoder("transfo-xl:" + d, carry_memory=True)
    outs = enc.encode(sentences[:1]) + enc.encode(sentences[1:])  # memory survives between calls
    for k, out in enumerate(outs):
        assert np.abs(out.numpy() - expected[f"carry_{k}"]).max() < 1e-5
    enc.reset_memory()
    first = enc.encode(sentences[:1])[0]
    assert np.abs(first.numpy() - expected["per_sentence_0"]).max() < 1e-5
    # with memory the second sentence reads differently than alone
    assert not np.allclose(expected["carry_1"], expected["per_sentence_1"], atol=1e-3)


def test_vocabulary_pickle_is_read_without_running_its_code():
    d, _, _ = _fixture("transfo_xl_b")
    vocab = TransfoXLVocab.from_file(os.path.join(d, "vocab.pkl"))
    # saved by TransfoXLTokenizer(lower_case=True): sacremoses objects and regexes stay inert
    assert vocab.lower_case is True
    assert vocab.ids(["The", "CAT", "zebra"]) == ([vocab.sym2idx["the"], vocab.sym2idx["cat"], vocab.unk_idx], 1)
    assert vocab.unk_idx == vocab.sym2idx["<unk>"] == 0


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_vocabulary_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    d = tmp_path / "m"
    shutil.copytree(os.path.join(FIXTURES, "transfo_xl_a"), d)
    state = {"sym2idx": {"<unk>": 0, "the": 1}, "idx2sym": ["<unk>", "the"], "payload": _Evil(str(marker))}
    with open(d / "vocab.pkl", "wb") as f:
        pickle.dump(state, f)
    enc = open_word_encoder(str(d))
    assert not marker.exists()
    assert enc.vocab.sym2idx == {"<unk>": 0, "the": 1}


def test_weights_that_are_not_plain_tensors_are_refused(tmp_path):
    d = tmp_path / "m"
    shutil.copytree(os.path.join(FIXTURES, "transfo_xl_a"), d)
    torch.save({"word_emb.emb_layers.0.weight": _Evil(str(tmp_path / "x"))}, d / "pytorch_model.bin")
    with pytest.raises(ProbesError, match="weights_only"):
        open_word_encoder(str(d))
    assert not (tmp_path / "x").exists()


def test_causal_and_unknown_words():
    d, _, _ = _fixture("transfo_xl_a")
    enc = open_word_encoder(d)
    a, b = enc.encode([["the", "cat", "sat"], ["the", "cat", "ran", "away", "far"]])
    assert torch.allclose(a[:, :2], b[:, :2], atol=1e-5)  # a word never sees later words
    assert not torch.allclose(a[:, 2], b[:, 2], atol=1e-3)
    before = enc.unknown_words
    enc.encode([["qwertyuiop", "the"]])
    assert enc.unknown_words == before + 1


def test_mem_len_option():
    d, sentences, expected = _fixture("transfo_xl_a")
    default = open_word_encoder(d).encode(sentences[:1])[0]
    longer = open_word_encoder(d, mem_len=12).encode(sentences[:1])[0]
    no_mem = open_word_encoder(d, mem_len=0).encode(sentences[:1])[0]
    # layer 0 (embeddings) never depends on memory; later layers do (zero memory takes attention weight)
    assert torch.equal(default[0], longer[0]) and torch.equal(default[0], no_mem[0])
    assert not torch.allclose(default[1:], longer[1:], atol=1e-4)
    assert not torch.allclose(default[1:], no_mem[1:], atol=1e-4)
    with pytest.raises(ProbesError, match="mem_len"):
        open_word_encoder(d, mem_len=-1)


def test_random_init_keeps_architecture():
    d, sentences, _ = _fixture("transfo_xl_b")
    r1 = open_word_encoder(d, random_init=True, seed=3).encode(sentences[:2])
    r2 = open_word_encoder(d, random_init=True, seed=3).encode(sentences[:2])
    loaded = open_word_encoder(d).encode(sentences[:2])
    assert all(torch.equal(x, y) for x, y in zip(r1, r2))
    assert r1[0].shape == loaded[0].shape and not torch.allclose(r1[0], loaded[0])


def test_specs_routing_and_offline_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PROBES_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ProbesError, match="pytorch_model.bin, vocab.pkl from https://huggingface.co/transfo-xl"):
        open_word_encoder("transfo-xl/transfo-xl-wt103")
    with pytest.raises(ProbesError, match="elmo_2x4096_512_2048cnn_2xhighway_weights.hdf5"):
        open_word_encoder("elmo:original")
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert open_word_encoder(str(bert)) is None
    assert open_word_encoder("bert-base-cased") is None
    with pytest.raises(ProbesError, match="model_type is 'bert'"):
        open_word_encoder("transfo-xl:" + str(bert))
    with pytest.raises(ProbesError, match="carry"):
        open_word_encoder(os.path.join(FIXTURES, "elmo_a"), carry_memory=True)


@pytest.mark.parametrize("drop_input_names", [False, True])
def test_safetensors_checkpoint_gives_the_same_states(tmp_path, drop_input_names):
    from safetensors.torch import save_file

    src, sentences, expected = _fixture("transfo_xl_a")
    d = tmp_path / "m"
    shutil.copytree(src, d)
    state = torch.load(d / "pytorch_model.bin", weights_only=True)
    (d / "pytorch_model.bin").unlink()
    if drop_input_names:  # a deduplicating converter kept only the tied adaptive softmax's names
        tied = {f"transformer.word_emb.emb_layers.{i}.weight" for i in range(3)}
        tied |= {"transformer.word_emb.emb_projs.1", "transformer.word_emb.emb_projs.2"}  # tie_projs [F, T, T]
        state = {k: v for k, v in state.items() if k not in tied}
    save_file({k: v.clone().contiguous() for k, v in state.items()}, str(d / "model.safetensors"))
    out = open_word_encoder(str(d)).encode(sentences[:1])[0]
    assert np.abs(out.numpy() - expected["per_sentence_0"]).max() < 1e-5
