"""A study's models: loaded in their dtype, one at a time and freed, and not loaded at all on a re-run."""

from __future__ import annotations

import gc
import json
import shutil
import weakref
from pathlib import Path

import pytest

import probes.extract.loading as loading
import probes.fingerprint as fp
from probes.experiment.config import load_config
from probes.experiment.runner import Experiment
from tests.extract.tiny_models import build

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    llama = Path(build("llama", root))
    other = root / "llama-b"
    shutil.copytree(llama, other)
    return llama, other


def study(tmp_path: Path, sources: list[Path], dtype: str = "bfloat16") -> Path:
    shutil.copy(SAMPLE / "en.conllu", tmp_path / "en.conllu")
    entries = "".join(f'''
[[models]]
name = "m{i}"
source = "{src}"
dtype = "{dtype}"
layers = [0, 2]
''' for i, src in enumerate(sources))
    (tmp_path / "study.toml").write_text(f'''
name = "big"
{entries}
[[tasks]]
name = "upos"
train = {{ path = "en.conllu", sentences = "1-30" }}
test = [{{ path = "en.conllu", sentences = "181-195", name = "en" }}]

[probe]
kinds = ["linear"]
control = false
random_init = false
bootstrap = 20
''', encoding="utf-8")
    return tmp_path / "study.toml"


def test_rerun_loads_no_model_and_reads_no_weights(models, tmp_path, monkeypatch):
    monkeypatch.setenv("PROBES_CACHE", str(tmp_path / "home-cache"))  # the fingerprint memo
    cfg = load_config(study(tmp_path, [models[0]]))
    first = Experiment(cfg, tmp_path / "out1", cache_dir=tmp_path / "cache", progress=False).run()
    manifest = json.loads((tmp_path / "out1" / "manifest.json").read_text())
    assert manifest["models"]["m0"]["load"]["dtype"] == "bfloat16"
    assert manifest["models"]["m0"]["load"]["layers_read_from"] == "block inputs (layers)"
    assert first.extracted == 2

    def no_loading(*_a, **_k):
        raise AssertionError("a model was loaded")

    reads: list[str] = []
    real = fp._update
    monkeypatch.setattr(fp, "_update", lambda h, p: (reads.append(Path(p).name), real(h, p))[1])
    monkeypatch.setattr(loading, "load_model", no_loading)
    again = Experiment(cfg, tmp_path / "out2", cache_dir=tmp_path / "cache", progress=False).run()
    assert again.extracted == 0 and again.probed == 0
    assert "model.safetensors" not in reads
    assert again.results["value"].tolist() == first.results["value"].tolist()


def test_one_model_at_a_time_and_freed(models, tmp_path, monkeypatch):
    monkeypatch.setenv("PROBES_CACHE", str(tmp_path / "home-cache"))
    alive: list[weakref.ref] = []
    live_at_load: list[int] = []
    real = loading.load_model

    def tracking(*args, **kwargs):
        gc.collect()
        live_at_load.append(sum(r() is not None for r in alive))
        loaded = real(*args, **kwargs)
        alive.append(weakref.ref(loaded.model))
        return loaded

    monkeypatch.setattr(loading, "load_model", tracking)
    cfg = load_config(study(tmp_path, list(models), dtype="float32"))
    exp = Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    exp.load_data()
    exp.extract_all()
    assert live_at_load == [0, 0]  # the first model was freed before the second loaded
    gc.collect()
    assert len(alive) == 2 and all(r() is None for r in alive)  # and none is kept once extraction is done
