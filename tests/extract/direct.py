"""Reference vectors from a direct model call, aligned with the tokenizer's own token_to_chars."""

from __future__ import annotations

import inspect

import numpy as np
import torch
import transformers


def load_reference(path: str):
    """The model and tokenizer, loaded straight from transformers (not through probes)."""
    config = transformers.AutoConfig.from_pretrained(path)
    cls = transformers.T5EncoderModel if config.model_type == "t5" else transformers.AutoModel
    return cls.from_pretrained(path).eval(), transformers.AutoTokenizer.from_pretrained(path)


def direct_word_vectors(model, tokenizer, text: str, spans: list[tuple[int, int]], pooling: str = "mean"):
    """(layers, words, dim) vectors of one unpadded sentence, and each word's subword positions."""
    enc = tokenizer(text, return_tensors="pt")
    names = set(inspect.signature(model.forward).parameters)
    inputs = {k: v for k, v in enc.items() if k in names}
    with torch.no_grad():
        hidden = model(**inputs, output_hidden_states=True).hidden_states
    hs = torch.stack(hidden)[:, 0].numpy()
    out, positions = [], []
    # Each subword's own character span, straight from the tokenizer (None for special tokens).
    chars = [enc.token_to_chars(0, i) for i in range(enc["input_ids"].shape[1])]
    for a, b in spans:
        idx = [i for i, c in enumerate(chars) if c is not None and c.start < b and a < c.end]
        positions.append(idx)
        if not idx:
            out.append(np.zeros((hs.shape[0], hs.shape[2]), dtype=np.float32))
        elif pooling == "first":
            out.append(hs[:, idx[0]])
        elif pooling == "last":
            out.append(hs[:, idx[-1]])
        else:
            out.append(hs[:, idx].mean(axis=1))
    return np.stack(out, axis=1), positions


def spans_of(tokens: list[str], space_after: list[bool] | None = None) -> tuple[str, list[tuple[int, int]]]:
    """The sentence text and each token's span, written out by hand for the tests."""
    text, spans = "", []
    for i, t in enumerate(tokens):
        spans.append((len(text), len(text) + len(t)))
        text += t
        if i + 1 < len(tokens) and (space_after is None or space_after[i]):
            text += " "
    return text, spans
