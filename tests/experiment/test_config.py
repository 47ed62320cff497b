from pathlib import Path

import pytest

from probes.errors import ProbesError
from probes.experiment.config import ConfigError, load_config, parse_config

MINIMAL = '''
name = "minilm-upos"
seeds = [0, 1, 2]

[[models]]
name = "minilm"
source = "path/to/model-dir-or-hub-id"

[[tasks]]
name = "upos"
train = "data/en_ewt-ud-train.conllu"
dev = "data/en_ewt-ud-dev.conllu"
test = ["data/en_ewt-ud-test.conllu", "data/de_pud-ud-test.conllu"]
max_train_sentences = 4000

[probe]
kinds = ["linear"]      # also "mlp", "mix", "cumulative", "structural", "mdl"
control = true
'''


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "data").mkdir()
    for name in ("en_ewt-ud-train", "en_ewt-ud-dev", "en_ewt-ud-test", "de_pud-ud-test"):
        (tmp_path / "data" / f"{name}.conllu").write_text("", encoding="utf-8")
    (tmp_path / "study.toml").write_text(MINIMAL, encoding="utf-8")
    return tmp_path


def test_minimal_config_from_the_issue_parses(config_dir):
    cfg = load_config(config_dir / "study.toml")
    assert cfg.name == "minilm-upos" and cfg.seeds == [0, 1, 2]
    assert [m.name for m in cfg.models] == ["minilm"]
    assert cfg.models[0].source == "path/to/model-dir-or-hub-id"  # not a local dir: kept as a hub id
    task = cfg.tasks[0]
    assert task.name == "upos"
    assert task.train.max_sentences == 4000
    assert Path(task.train.source) == (config_dir / "data" / "en_ewt-ud-train.conllu").resolve()
    assert task.dev.name == "en_ewt-ud-dev"
    assert [t.name for t in task.test] == ["en_ewt-ud-test", "de_pud-ud-test"]
    assert cfg.probe.kinds == ["linear"] and cfg.probe.control is True
    assert (cfg.similarity.estimator, cfg.similarity.permutations) == ("debiased", 200)


def test_missing_file_is_named_before_any_work(config_dir):
    (config_dir / "data" / "de_pud-ud-test.conllu").unlink()
    with pytest.raises(ConfigError) as exc:
        load_config(config_dir / "study.toml")
    msg = str(exc.value)
    assert "tasks[0].test[1]" in msg and "de_pud-ud-test.conllu" in msg and "not found" in msg


@pytest.mark.parametrize("patch, key, expected", [
    ({"seeds": "0"}, "seeds", "list of distinct"),
    ({"probe": {"kinds": ["linear", "svm"]}}, "probe.kinds", "linear, mlp, mix"),
    ({"models": []}, "models", "at least one"),
    ({"colour": "red"}, "colour", "unknown key"),
    ({"probe": {"bootstrap": -1}}, "probe.bootstrap", "bootstrap resamples"),
    ({"similarity": {"estimator": "cosine"}}, "similarity.estimator", "debiased, biased"),
    ({"similarity": {"permutations": -5}}, "similarity.permutations", "shuffled pairings"),
    ({"similarity": {"nulls": 5}}, "similarity.nulls", "unknown key"),
    ({"probe": {"options": {"learning_rat": 0.1}}}, "probe.options.learning_rat", "no probe kind of this study"),
    ({"tasks": [{"name": "upos", "train": {"path": "a.conllu", "name": "../../../../tmp/x"}, "test": ["b.conllu"]}]},
     "tasks[0].train.name", "a path separator"),
    ({"tasks": [{"name": "upos", "train": "a.conllu", "test": [{"path": "b.conllu", "name": ".."}]}]},
     "tasks[0].test[0].name", "names a directory"),
])
def test_errors_name_the_key_and_what_is_expected(patch, key, expected):
    data = {"name": "x", "models": [{"name": "m", "source": "hub/id"}],
            "tasks": [{"name": "upos", "train": "a.conllu", "test": ["b.conllu"]}]}
    data.update(patch)
    with pytest.raises(ConfigError) as exc:
        parse_config(data, path="c.toml", check_files=False)
    assert f"c.toml: {key}" in str(exc.value) and expected in str(exc.value)


def test_sentence_ranges_and_names():
    data = {"name": "x", "models": [{"name": "m", "source": "hub/id"}],
            "tasks": [{"name": "upos", "train": {"path": "en.conllu", "sentences": "1-150"},
                       "test": [{"path": "de.conllu", "sentences": "171-", "name": "de"}]}]}
    cfg = parse_config(data, check_files=False)
    assert (cfg.tasks[0].train.first, cfg.tasks[0].train.last) == (1, 150)
    assert (cfg.tasks[0].test[0].first, cfg.tasks[0].test[0].last, cfg.tasks[0].test[0].name) == (171, None, "de")
    data["tasks"][0]["train"]["sentences"] = "9-3"
    with pytest.raises(ConfigError, match="tasks\\[0\\].train.sentences"):
        parse_config(data, check_files=False)


def test_not_toml_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ProbesError, match="bad.toml: not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize("name", ["demo", "tenney-layers", "control-tasks", "structural-probe", "cross-lingual"])
def test_shipped_examples_are_valid_configs(name):
    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "examples" / f"{name}.toml", check_files=(name == "demo"))
    assert cfg.models and cfg.tasks
    from probes.tasks.registry import get_spec
    for task in cfg.tasks:
        get_spec(task.name)  # every task is in the catalogue
