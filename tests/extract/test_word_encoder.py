"""A word-level encoder (the ELMo / Transformer-XL route) goes straight into the cache, no pooling."""

from __future__ import annotations

import numpy as np
import torch

from probes.extract import loading
from probes.extract.extractor import extract
from probes.records import Sentence


class CountingEncoder:
    """Layer l of word j of a sentence is (l, j, len(word)) repeated: easy to check by hand."""

    name, num_layers, dim, fingerprint = "fake-elmo", 3, 4, "sha256:fake"

    def encode(self, batch):
        return [torch.tensor([[[l, j, len(w), 0.5] for j, w in enumerate(words)] for l in range(3)], dtype=torch.float32)
                for words in batch]

    def to(self, device):
        return self


def test_word_encoder_rows(monkeypatch, tmp_path):
    monkeypatch.setattr(loading, "open_word_encoder", lambda spec, **kw: CountingEncoder() if spec.startswith("fake:") else None)
    sentences = [Sentence(words=["de", "el", "gatos"], tokens=["del", "gatos"], word_token=[0, 0, 1]),
                 Sentence(words=["a", "bb", "ccc", "dddd"])]
    cache = extract("fake:x", sentences, tmp_path / "c", layers=[0, 2], batch_size=1, progress=False)
    assert cache.meta["model"] == "fake-elmo" and cache.meta["pooling"] == "none" and cache.layers == [0, 2]
    np.testing.assert_array_equal(cache.sentence(0)[1], [[2, 0, 3, 0.5], [2, 0, 3, 0.5], [2, 1, 5, 0.5]])
    np.testing.assert_array_equal(cache.sentence(1)[0, :, 2], [1, 2, 3, 4])
