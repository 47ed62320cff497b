"""Word-level encoders over real UD sentences (any script, long words, long sentences)."""

import os

import pytest
import torch

from probes.encoders import open_word_encoder

UD = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "ud")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def _read_words(path, limit):
    sentences, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if words:
                    sentences.append(words)
                    words = []
                    if len(sentences) == limit:
                        break
            elif not line.startswith("#"):
                cols = line.split("\t")
                if cols[0].isdigit():
                    words.append(cols[1])
    return sentences


@pytest.mark.integration
@pytest.mark.parametrize("treebank", ["en_pud-ud-test.conllu", "zh_pud-ud-test.conllu"])
@pytest.mark.parametrize("spec", ["elmo_b", "transfo_xl_b"])
def test_ud_sentences_encode_word_by_word(treebank, spec):
    path = os.path.join(UD, treebank)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present")
    sentences = _read_words(path, 24)
    enc = open_word_encoder(os.path.join(FIXTURES, spec), batch_size=8)
    out = enc.encode(sentences)
    assert [o.shape[1] for o in out] == [len(s) for s in sentences]
    assert all(o.shape == (enc.num_layers, len(s), enc.dim) and bool(o.isfinite().all()) for o, s in zip(out, sentences))
    # batching changes nothing: the longest sentence alone gives the same vectors
    longest = max(range(len(sentences)), key=lambda i: len(sentences[i]))
    assert torch.allclose(enc.encode([sentences[longest]])[0], out[longest], atol=1e-5)
