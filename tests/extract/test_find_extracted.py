"""A re-extraction of unchanged inputs is found without loading the model or reading its weights."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import probes.extract.extractor as extractor
import probes.fingerprint as fp
from probes.extract.cache import read_meta, write_json_atomic
from probes.extract.integrity import meta_digest
from probes.records import Sentence
from tests.extract.tiny_models import CORPUS

SENTENCES = [Sentence(words=line.split()) for line in CORPUS[:6]]


@pytest.fixture
def model_dir(tiny, tmp_path):
    path = tmp_path / "llama"
    shutil.copytree(tiny("llama"), path)
    return path


def _no_loading(*_args, **_kwargs):
    raise AssertionError("the model was loaded")


def test_second_extraction_loads_and_reads_nothing(model_dir, tmp_path, monkeypatch):
    memo = tmp_path / "memo.json"
    first = extractor.extract(str(model_dir), SENTENCES, tmp_path / "c", layers=[1], progress=False,
                              fingerprint_memo=memo)
    assert first.meta["quick_key"]
    read: list[str] = []
    real = fp._update
    monkeypatch.setattr(fp, "_update", lambda h, p: (read.append(os.path.basename(str(p))), real(h, p))[1])
    monkeypatch.setattr(extractor, "load_model", _no_loading)
    again = extractor.extract(str(model_dir), SENTENCES, tmp_path / "c", layers=[1], progress=False,
                              fingerprint_memo=memo)
    assert read == []
    assert again.summary.status == "complete" and again.meta["key"] == first.meta["key"]
    assert np.array_equal(np.asarray(again.vectors), np.asarray(first.vectors))


@pytest.mark.parametrize("change", ["weights", "tokenizer", "dtype", "layers", "data"])
def test_any_change_is_not_taken_for_the_cache(model_dir, tmp_path, change):
    memo = tmp_path / "memo.json"
    opts = dict(layers=[1], pooling="mean", dtype="float32", cache_dtype="float16", fingerprint_memo=memo)
    extractor.extract(str(model_dir), SENTENCES, tmp_path / "c", progress=False, **opts)
    sentences = SENTENCES
    if change == "weights":
        weights = model_dir / "model.safetensors"
        data = bytearray(weights.read_bytes())
        data[-1] ^= 1
        weights.write_bytes(bytes(data))
    elif change == "tokenizer":
        cfg = model_dir / "tokenizer_config.json"
        cfg.write_text(cfg.read_text().replace("{", '{"model_max_length": 20, ', 1))
    elif change == "dtype":
        opts["dtype"] = "bfloat16"
    elif change == "layers":
        opts["layers"] = [0, 1]
    else:
        sentences = SENTENCES[:-1] + [Sentence(words=["another", "sentence"])]
    assert extractor.find_extracted(str(model_dir), sentences, tmp_path / "c", **opts) is None


def test_layer_spellings_and_old_caches_are_found(model_dir, tmp_path, monkeypatch):
    memo = tmp_path / "memo.json"
    extractor.extract(str(model_dir), SENTENCES, tmp_path / "c", layers=[2], progress=False, fingerprint_memo=memo)
    # -1 is layer 2 of this model: the same cache, found without loading
    assert extractor.find_extracted(str(model_dir), SENTENCES, tmp_path / "c", layers=[-1], fingerprint_memo=memo)
    # A cache made before quick keys is found by loading the model once, then stamped
    meta = read_meta(tmp_path / "c")
    del meta["quick_key"]
    meta["meta_sha256"] = meta_digest(meta)
    write_json_atomic(tmp_path / "c" / "meta.json", meta)
    assert extractor.find_extracted(str(model_dir), SENTENCES, tmp_path / "c", layers=[2], fingerprint_memo=memo) is None
    again = extractor.extract(str(model_dir), SENTENCES, tmp_path / "c", layers=[2], progress=False,
                              fingerprint_memo=memo)
    assert again.summary.status == "complete"
    monkeypatch.setattr(extractor, "load_model", _no_loading)
    assert extractor.extract(str(model_dir), SENTENCES, tmp_path / "c", layers=[2], progress=False,
                             fingerprint_memo=memo).summary.status == "complete"
