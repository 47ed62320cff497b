"""Word-level encoders over real UD sentences (any script, long words, long sentences)."""

import os

import pytest
import torch

from probes.encoders import open_word_encoder
from probes.readers import load_corpus

UD = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "ud")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


@pytest.mark.integration
@pytest.mark.parametrize("treebank", ["en_pud-ud-test.conllu", "zh_pud-ud-test.conllu"])
@pytest.mark.parametrize("spec", ["elmo_b", "transfo_xl_b"])
def test_ud_sentences_encode_word_by_word(treebank, spec):
    path = os.path.join(UD, treebank)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present")
    sentences = [s.words for s in load_corpus(path)[:24]]
    enc = open_word_encoder(os.path.join(FIXTURES, spec), batch_size=8)
    out = enc.encode(sentences)
    assert [o.shape[1] for o in out] == [len(s) for s in sentences]
    assert all(o.shape == (enc.num_layers, len(s), enc.dim) and bool(o.isfinite().all()) for o, s in zip(out, sentences))
    # batching changes nothing: the longest sentence alone gives the same vectors
    longest = max(range(len(sentences)), key=lambda i: len(sentences[i]))
    assert torch.allclose(enc.encode([sentences[longest]])[0], out[longest], atol=1e-5)
