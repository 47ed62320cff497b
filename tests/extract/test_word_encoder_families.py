"""ELMo and Transformer-XL end to end through the extractor: the cache holds the reference outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from probes.extract.cache import VectorCache
from probes.extract.extractor import extract
from probes.records import Sentence

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("fixture, spec, key", [
    ("elmo_a", "elmo:{}", "layers_{}"),
    ("transfo_xl_a", "transfo-xl:{}", "per_sentence_{}"),
])
def test_extract_stores_every_layer_of_the_reference_model(tmp_path, fixture, spec, key):
    d = FIXTURES / fixture
    words = json.loads((d / "sentences.json").read_text(encoding="utf-8"))
    expected = np.load(d / "expected.npz")
    sentences = [Sentence(words=w, sent_id=str(i)) for i, w in enumerate(words)]
    cache = extract(spec.format(d), sentences, tmp_path / "cache", cache_dtype="float32", batch_size=2,
                    progress=False)
    reopened = VectorCache.open(tmp_path / "cache")
    assert reopened.n_sentences == len(words) and reopened.n_words == sum(map(len, words))
    assert reopened.layers == list(range(cache.vectors.shape[0]))
    for i in range(len(words)):
        want = expected[key.format(i)]                     # (num_layers, n_words, dim) from the reference library
        got = reopened.sentence(i)
        assert got.shape == want.shape
        assert np.abs(got - want).max() < 1e-5
    assert not reopened.missing.any()


def test_carried_memory_is_refused_because_extraction_reorders_sentences(tmp_path):
    from probes.encoders import open_word_encoder
    from probes.errors import ProbesError
    from probes.extract.loading import LoadedModel
    import torch

    enc = open_word_encoder(f"transfo-xl:{FIXTURES / 'transfo_xl_a'}", carry_memory=True)
    loaded = LoadedModel(name=enc.name, fingerprint=enc.fingerprint, num_layers=enc.num_layers, dim=enc.dim,
                         word_encoder=enc, device=torch.device("cpu"), dtype=torch.float32)
    with pytest.raises(ProbesError, match="corpus order"):
        extract(loaded, [Sentence(words=["a", "b"])], tmp_path / "c", progress=False)


def test_fingerprint_reads_only_the_weights_transformers_loads(tmp_path):
    from probes.extract.loading import _loaded_weight_files

    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in _loaded_weight_files(tmp_path)] == ["model.safetensors"]
    (tmp_path / "model.safetensors").unlink()
    assert [p.name for p in _loaded_weight_files(tmp_path)] == ["pytorch_model.bin"]


def test_random_init_twin_does_not_depend_on_the_weight_file(tmp_path):
    import shutil

    from probes.encoders import open_word_encoder

    d = tmp_path / "elmo"
    shutil.copytree(FIXTURES / "elmo_a", d)
    before = open_word_encoder(f"elmo:{d}", random_init=True).fingerprint
    trained = open_word_encoder(f"elmo:{d}").fingerprint
    with open(d / "weights.hdf5", "ab") as fh:
        fh.write(b"\0")
    assert open_word_encoder(f"elmo:{d}", random_init=True).fingerprint == before
    assert open_word_encoder(f"elmo:{d}").fingerprint != trained
