"""The interface of word-level encoders (ELMo, Transformer-XL) that the extractor drives directly."""

from __future__ import annotations

from typing import Protocol

import torch


class WordEncoder(Protocol):
    """A model that reads whole words (no subwords) and returns every layer for every word.

    The extractor treats it like any other model: same cache, layers, probes and figures, but no
    subword pooling. Layer 0 is the non-contextual representation.
    """

    name: str          # shown in `probes info` as the model
    num_layers: int    # layers returned, including layer 0
    dim: int           # vector size of every layer
    fingerprint: str   # identity of the weights (e.g. sha256 of the weight files), for the cache key

    def encode(self, batch: list[list[str]]) -> list[torch.Tensor]:
        """Encode sentences of words; one float32 tensor (num_layers, n_words, dim) per sentence."""
        ...

    def to(self, device: torch.device) -> "WordEncoder":
        """Move the encoder to a device."""
        ...
