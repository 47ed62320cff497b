"""Only the asked-for layers are read during the forward pass, and their vectors are the full extraction's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probes.extract.extractor import extract
from probes.extract.layer_capture import run_layers
from probes.extract.loading import load_model
from probes.records import Sentence
from tests.extract.tiny_models import CORPUS, FAMILIES

SENTENCES = [Sentence(words=line.split()) for line in CORPUS[:8]]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_read_from_its_blocks(tiny, family):
    loaded = load_model(tiny(family), device=torch.device("cpu"))
    assert loaded.blocks is not None, family
    assert loaded.blocks.n_states == loaded.num_layers == 3
    assert loaded.blocks.seq_first == (family == "xlnet")  # XLNet's blocks read (length, batch, dim)


@pytest.mark.parametrize("family", ["llama", "bert", "xlnet", "albert", "t5", "gpt2"])
def test_layer_subsets_equal_the_full_extraction(tiny, tmp_path, family):
    loaded = load_model(tiny(family), device=torch.device("cpu"))
    full = extract(loaded, SENTENCES, tmp_path / "all", progress=False, cache_dtype="float32")
    for layers in ([0], [1], [0, 2], [2]):
        part = extract(loaded, SENTENCES, tmp_path / f"l{'-'.join(map(str, layers))}", layers=layers,
                       progress=False, cache_dtype="float32")
        assert part.layers == layers
        for layer in layers:  # bit for bit: the same states, pooled the same way
            assert np.array_equal(np.asarray(part.layer(layer)), np.asarray(full.layer(layer))), (family, layer)


def test_unverified_models_keep_all_hidden_states_with_the_same_vectors(tiny, tmp_path):
    loaded = load_model(tiny("llama"), device=torch.device("cpu"))
    hooked = extract(loaded, SENTENCES, tmp_path / "hooked", layers=[1], progress=False, cache_dtype="float32")
    loaded.blocks = None  # as for an architecture whose block inputs are not its hidden states
    plain = extract(loaded, SENTENCES, tmp_path / "plain", layers=[1], progress=False, cache_dtype="float32")
    assert plain.meta["load"]["layers_read_from"] == "output_hidden_states"
    assert hooked.meta["load"]["layers_read_from"] == "block inputs (layers)"
    assert np.array_equal(np.asarray(plain.vectors), np.asarray(hooked.vectors))


def test_the_pass_keeps_only_the_asked_layers_and_stops_after_the_highest(tiny):
    loaded = load_model(tiny("llama"), device=torch.device("cpu"))
    ids = torch.tensor([loaded.template.prefix + [5, 6, 7, 8]] * 2)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), **loaded.forward_options}
    ran = []
    handles = [block.register_forward_hook(lambda m, a, o, i=i: ran.append(i))
               for i, block in enumerate(loaded.model.layers)]
    norm_ran = []
    handles.append(loaded.model.norm.register_forward_hook(lambda m, a, o: norm_ran.append(1)))
    try:
        got = []
        run_layers(loaded.model, inputs, loaded.blocks, [1], lambda layer, h: got.append((layer, tuple(h.shape))))
        assert got == [(1, (2, ids.shape[1], loaded.dim))]  # layer 1 only, as (batch, length, dim)
        assert ran == [0] and not norm_ran  # block 1 and the final norm never ran: layer 1 is block 1's input
        got.clear()
        ran.clear()
        run_layers(loaded.model, inputs, loaded.blocks, [0, 2], lambda layer, h: got.append(layer))
        assert got == [0, 2] and ran == [0, 1] and norm_ran  # the top layer is the model's output
    finally:
        for h in handles:
            h.remove()
    with torch.inference_mode():
        want = loaded.model(**inputs, output_hidden_states=True).hidden_states
    seen = {}
    run_layers(loaded.model, inputs, loaded.blocks, [0, 1, 2], lambda layer, h: seen.__setitem__(layer, h.clone()))
    assert all(torch.equal(seen[i], want[i]) for i in range(3))
