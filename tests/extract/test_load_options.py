"""Loading in bfloat16 and over a device map (tiny Llama-style model, CPU), and the clear refusals."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch

from probes.errors import ProbesError
from probes.extract.extractor import extract
from probes.extract.load_options import check_device_map, parse_device_map
from probes.extract.loading import load_model
from probes.records import Sentence
from tests.extract.tiny_models import CORPUS

SENTENCES = [Sentence(words=line.split()) for line in CORPUS[:6]]
# Two layers: the embeddings and layer 0 on the CPU, layer 1 offloaded to disk. accelerate then
# dispatches the model with hooks (its offloaded weights are on the meta device: a .to() would fail).
SPLIT_MAP = {"embed_tokens": "cpu", "layers.0": "cpu", "layers.1": "disk", "norm": "cpu", "rotary_emb": "cpu"}


@pytest.fixture(scope="module")
def llama_float32(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("f32") / "cache"
    return extract(tiny("llama"), SENTENCES, out, progress=False, cache_dtype="float32")


@pytest.mark.parametrize("device_map", [{"": "cpu"}, "auto", SPLIT_MAP])
def test_bfloat16_with_device_map_matches_float32_within_bf16_rounding(tiny, tmp_path, llama_float32, device_map):
    pytest.importorskip("accelerate")
    cache = extract(tiny("llama"), SENTENCES, tmp_path / "c", progress=False, cache_dtype="float32",
                    dtype="bfloat16", device_map=device_map)
    assert cache.meta["load"]["dtype"] == "bfloat16"
    assert cache.meta["compute_dtype"] == "bfloat16"
    placed = cache.meta["load"]["device_map"]
    assert placed == (SPLIT_MAP if device_map == SPLIT_MAP else {"": "cpu"})
    assert cache.meta["key"] != llama_float32.meta["key"]  # dtype changes the vectors, so the key
    eps = 2.0 ** -8  # bfloat16's relative rounding step
    for i, layer in enumerate(cache.layers):
        ref = np.asarray(llama_float32.layer(layer), dtype=np.float64)
        got = np.asarray(cache.layer(layer), dtype=np.float64)
        err = np.abs(got - ref).max() / np.abs(ref).max()
        # Rounding grows by a step or two per layer: layer 0 is the rounded embedding itself.
        assert 0 < err <= eps * (1 + 2 * i), (layer, err)


def test_dispatched_model_is_not_moved(tiny):
    pytest.importorskip("accelerate")
    loaded = load_model(tiny("llama"), device=torch.device("cpu"), dtype=torch.bfloat16, device_map=SPLIT_MAP)
    assert loaded.device_map == SPLIT_MAP
    assert hasattr(loaded.model.layers[1], "_hf_hook")  # accelerate's hooks are still there
    assert loaded.model.layers[1].mlp.up_proj.weight.device.type == "meta"  # offloaded: never .to()'d
    assert loaded.blocks is not None and loaded.blocks.name == "layers"


def test_float32_load_keeps_existing_keys(tiny, tmp_path, llama_float32):
    again = extract(tiny("llama"), SENTENCES, tmp_path / "c", progress=False, cache_dtype="float32")
    assert "weights_dtype" not in again.meta["ingredients"] and "quantization" not in again.meta["ingredients"]
    assert again.meta["key"] == llama_float32.meta["key"]
    assert np.array_equal(np.asarray(again.vectors), np.asarray(llama_float32.vectors))


def test_quantization_needs_cuda(tiny, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this check is for machines without CUDA")
    with pytest.raises(ProbesError, match="CUDA GPUs only.*dtype bfloat16"):
        extract(tiny("llama"), SENTENCES, tmp_path / "c", progress=False, quantization="8bit")
    assert not (tmp_path / "c" / "vectors.npy").exists()


def test_device_map_without_accelerate_says_how_to_install(tiny, monkeypatch):
    real = builtins.__import__

    def no_accelerate(name, *args, **kwargs):
        if name == "accelerate" or name.startswith("accelerate."):
            raise ImportError("No module named 'accelerate'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_accelerate)
    with pytest.raises(ProbesError, match=r"needs the accelerate package.*probes\[big\]"):
        load_model(tiny("llama"), device=torch.device("cpu"), device_map="auto")


def test_random_init_quantized_is_refused(tiny):
    with pytest.raises(ProbesError, match="random-init baseline builds its weights in memory"):
        load_model(tiny("llama"), device=torch.device("cpu"), random_init=True, quantization="4bit")


def test_random_init_in_bfloat16(tiny):
    a = load_model(tiny("llama"), device=torch.device("cpu"), random_init=True, seed=3, dtype=torch.bfloat16)
    b = load_model(tiny("llama"), device=torch.device("cpu"), random_init=True, seed=3, dtype=torch.bfloat16)
    assert a.model.layers[0].mlp.up_proj.weight.dtype == torch.bfloat16
    assert torch.equal(a.model.layers[0].mlp.up_proj.weight, b.model.layers[0].mlp.up_proj.weight)


def test_device_map_values_are_checked():
    assert parse_device_map('{"": "cpu"}') == {"": "cpu"}
    assert parse_device_map("auto") == "auto"
    assert check_device_map({"layers.0": 0, "layers.1": "cuda:1"}) == {"layers.0": 0, "layers.1": "cuda:1"}
    with pytest.raises(ProbesError, match="unknown device map 'everywhere'"):
        check_device_map("everywhere")
    with pytest.raises(ProbesError, match="entry 'layers.1' = 'gpu'"):
        check_device_map({"layers.1": "gpu"})
    with pytest.raises(ProbesError, match="not a JSON object"):
        parse_device_map("{layers: 0")


def test_word_encoders_refuse_half_precision():
    from pathlib import Path

    elmo = Path(__file__).resolve().parents[1] / "fixtures" / "elmo_a"
    with pytest.raises(ProbesError, match="dtype bfloat16 applies to transformers models only"):
        load_model(f"elmo:{elmo}", device=torch.device("cpu"), dtype=torch.bfloat16)


def test_cli_takes_dtype_and_device_map(tiny, tmp_path, capsys):
    pytest.importorskip("accelerate")
    from probes import cli

    data = tmp_path / "s.txt"
    data.write_text("\n".join(CORPUS[:4]) + "\n", encoding="utf-8")
    out = tmp_path / "c"
    args = ["extract", "--model", tiny("llama"), "--data", str(data), "--out", str(out), "--quiet",
            "--dtype", "bfloat16", "--device-map", '{"": "cpu"}', "--layers", "1"]
    assert cli.main(args) == 0
    from probes.extract.cache import VectorCache

    meta = VectorCache.open(out).meta
    assert meta["load"]["dtype"] == "bfloat16" and meta["load"]["device_map"] == {"": "cpu"} and meta["layers"] == [1]
    with pytest.raises(SystemExit):
        cli.main(args + ["--device-map", "{oops"])
    assert "--device-map: not a JSON object" in capsys.readouterr().err


def test_random_init_twin_over_a_device_map_gives_the_same_vectors(tiny, tmp_path):
    pytest.importorskip("accelerate")
    opts = dict(random_init=True, seed=1, dtype="bfloat16", progress=False, cache_dtype="float32")
    plain = extract(tiny("llama"), SENTENCES, tmp_path / "plain", **opts)
    placed = extract(tiny("llama"), SENTENCES, tmp_path / "placed", device_map=SPLIT_MAP, **opts)
    assert placed.meta["load"]["device_map"] == SPLIT_MAP
    assert np.array_equal(np.asarray(placed.vectors), np.asarray(plain.vectors))
