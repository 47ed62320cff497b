"""A study with the semantic tasks end to end on a tiny random model: trees beside CoNLL-U, task
options, the edge probe, controls, cross-lingual SRL, Figure 1 rows in the paper's order, and task
errors reported before any model loads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from probes.errors import ProbesError
from probes.experiment.config import load_config
from probes.experiment.runner import Experiment
from probes.experiment.tiny_model import build_tiny_bert
from probes.readers import load_corpus

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
FIX = ROOT / "tests" / "fixtures" / "semantic"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    texts = [" ".join(s.words) for lang in ("en", "de") for s in load_corpus(SAMPLE / f"{lang}.conllu")[:80]]
    return build_tiny_bert(texts, tmp_path_factory.mktemp("model"), hidden=32, layers=2, vocab_size=600)


def study(tmp_path: Path, model: Path, extra: str = "") -> Path:
    en, de = SAMPLE / "en.conllu", SAMPLE / "de.conllu"
    text = f'''
name = "semantic"
[[models]]
name = "tiny"
source = "{model}"

[[tasks]]
name = "srl"
train = {{ path = "{en}", sentences = "1-60", name = "en-train" }}
test = [{{ path = "{en}", sentences = "181-200", name = "en" }}, {{ path = "{de}", sentences = "181-200", name = "de" }}]

[[tasks]]
name = "entities"
train = {{ path = "{en}", sentences = "1-60", name = "en-train" }}
test = [{{ path = "{en}", sentences = "181-200", name = "en" }}]

[[tasks]]
name = "consts"
kinds = ["linear", "edge"]
train = {{ path = "{FIX / 'pipeline.conllu'}", trees = "{FIX / 'pipeline.ptb'}", name = "fx" }}
test = [{{ path = "{FIX / 'pipeline.conllu'}", trees = "{FIX / 'pipeline.ptb'}", name = "fx-test" }}]

[[tasks]]
name = "coref"
options = {{ window = 0, negatives = "all" }}
train = {{ path = "{en}", sentences = "1-120", name = "en-train120" }}
test = [{{ path = "{en}", sentences = "181-", name = "en" }}]
{extra}
[probe]
kinds = ["linear", "cumulative", "edge"]
bootstrap = 30
options = {{ max_epochs = 3 }}
'''
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_semantic_study_end_to_end(tmp_path, tiny_model):
    cfg = load_config(study(tmp_path, tiny_model))
    outcome = Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run()
    df = outcome.results
    assert not len(df[(df["task"] == "consts") & (df["probe"] == "cumulative")])  # its own kinds
    for task in ("srl", "entities", "consts", "coref"):
        for probe in ("linear", "edge") if task == "consts" else ("linear", "cumulative", "edge"):
            rows = df[(df["task"] == task) & (df["probe"] == probe) & (df["model"] == "tiny")]
            assert len(rows), (task, probe)
        assert len(df[df["task"] == f"{task}:control"]), task
        assert len(df[(df["task"] == task) & (df["metric"] == "selectivity")]), task
    coref = df[(df["task"] == "coref") & (df["probe"] == "linear")]
    assert set(coref["metric"]) <= {"positive_f1", "accuracy", "selectivity", "best_minus_top:positive_f1",
                                    "best_minus_top_p:positive_f1", "gain_over_random_init:positive_f1",
                                    "gain_over_random_init_p:positive_f1"}
    assert {"positive_f1", "accuracy", "selectivity", "gain_over_random_init:positive_f1"} <= set(coref["metric"])
    # cross-lingual SRL: the German test set is scored with the English role inventory
    assert set(df[(df["task"] == "srl") & (df["probe"] == "linear")]["eval_set"]) == {"en", "de"}
    exp = pd.read_csv(tmp_path / "out" / "expected_layers.csv")
    assert list(exp["task"]) == ["entities", "srl", "coref"]  # the paper's order (consts has no mix here)
    e_rows = df[(df["metric"] == "expected_layer") & (df["model"] == "tiny")]
    assert {"srl", "entities", "coref"} <= set(e_rows["task"])
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Where each task is resolved" in html and "95% interval over resampled" in html
    import json

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    consts = next(t for t in manifest["tasks"] if t["name"] == "consts")
    assert any("unary chains" in n for n in consts["notes"])
    assert next(d for d in manifest["data"] if d["name"] == "fx")["trees_sha256"]


def test_task_errors_come_before_any_model_loads(tmp_path):
    en = SAMPLE / "en.conllu"
    path = tmp_path / "bad.toml"
    path.write_text(f'''
name = "bad"
[[models]]
name = "m"
source = "{tmp_path / 'no-such-model'}"
[[tasks]]
name = "consts"
kinds = ["linear", "edge"]
train = "{en}"
test = ["{en}"]
''', encoding="utf-8")
    cfg = load_config(path)
    with pytest.raises(ProbesError, match="needs constituents annotations.*data set en"):
        Experiment(cfg, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run()


def test_a_misspelt_feature_is_named_with_the_corpus_features_before_any_model_loads(tmp_path):
    en = SAMPLE / "en.conllu"
    path = tmp_path / "bad.toml"
    model = tmp_path / "no-such-model"
    path.write_text(f'name = "bad"\n[[models]]\nname = "m"\nsource = "{model}"\n'
                    f'[[tasks]]\nname = "feats:Numbr"\ntrain = "{en}"\ntest = ["{en}"]\n', encoding="utf-8")
    with pytest.raises(ProbesError, match=r"feature 'Numbr' does not occur .*\(did you mean feats:Number\?\); its "
                                          r"features: Case, Definite, .*Number"):
        Experiment(load_config(path), tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("meta.json"))


def test_config_validates_task_names_and_options(tmp_path):
    en = SAMPLE / "en.conllu"
    path = tmp_path / "c.toml"
    base = f'[[models]]\nname = "m"\nsource = "x"\n[[tasks]]\ntrain = "{en}"\ntest = ["{en}"]\n'
    path.write_text('name = "c"\n' + base + 'name = "corref"\n', encoding="utf-8")
    with pytest.raises(ProbesError, match=r"tasks\[0\]\.name: unknown task 'corref' \(did you mean coref\?\)"):
        load_config(path)
    path.write_text('name = "c"\n' + base + 'name = "coref"\noptions = { windw = 1 }\n', encoding="utf-8")
    with pytest.raises(ProbesError, match=r"tasks\[0\]\.options: .*unknown option 'windw'"):
        load_config(path)
    path.write_text('name = "c"\n' + base + 'name = "upos"\n[probe]\nkinds = ["edgy"]\n', encoding="utf-8")
    with pytest.raises(ProbesError, match=r"unknown probe kind 'edgy' \(did you mean edge\?\)"):
        load_config(path)


def test_senteval_and_jiant_tasks_take_their_names_from_files(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'''name = "s"
[[models]]
name = "m"
source = "x"
[[tasks]]
name = "senteval"
train = "{FIX / 'past_present.txt'}"
test = ["{FIX / 'past_present.txt'}"]
[[tasks]]
name = "edges"
train = "{FIX / 'spr1.train.json'}"
test = ["{FIX / 'spr1.train.json'}"]
''', encoding="utf-8")
    cfg = load_config(path)
    assert [t.name for t in cfg.tasks] == ["senteval:past_present", "edges:spr1"]
    assert (cfg.tasks[0].train.split, cfg.tasks[0].test[0].split) == ("tr", "te")
