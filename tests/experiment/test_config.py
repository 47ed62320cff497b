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


def _parse(patch: dict, task: dict | None = None) -> str:
    """The message of the ConfigError that a patched minimal config raises."""
    data = {"name": "x", "models": [{"name": "m", "source": "hub/id"}],
            "tasks": [dict({"name": "upos", "train": "a.conllu", "test": ["b.conllu"]}, **(task or {}))]}
    data.update(patch)
    with pytest.raises(ConfigError) as exc:
        parse_config(data, path="study.toml", check_files=False)
    return str(exc.value)


@pytest.mark.parametrize("patch, task, expected", [
    ({"probe": {"kinds": ["mlpp"]}}, None,
     "study.toml: probe.kinds: unknown probe kind 'mlpp' (did you mean mlp?); "
     "expected a list drawn from linear, mlp, mix, cumulative, edge, structural, mdl"),
    ({"probe": {"kinds": "mlp"}}, None, 'study.toml: probe.kinds: got the string "mlp"; expected a list drawn from '
                                        'linear, mlp, mix, cumulative, edge, structural, mdl, neurons, conditional, e.g. kinds = ["mlp"]'),
    ({}, {"kinds": ["strucural"]}, "study.toml: tasks[0].kinds: unknown probe kind 'strucural' (did you mean structural?)"),
    ({}, {"name": "uppos"}, "study.toml: tasks[0].name: unknown task 'uppos' (did you mean upos?); known: upos, xpos"),
    ({}, {"name": "coref", "options": {"windw": 1}},
     "study.toml: tasks[0].options: task 'coref': unknown option 'windw' (did you mean window?); its options: window"),
    ({"probe": {"kindz": ["linear"]}}, None, "study.toml: probe.kindz: unknown key (did you mean kinds?); expected one of:"),
    ({}, {"tset": ["b.conllu"]}, "study.toml: tasks[0].tset: unknown key (did you mean test?)"),
    ({"models": [{"name": "m", "source": "hub/id", "pooling": "meen"}]}, None,
     "study.toml: models[0].pooling: unknown pooling 'meen' (did you mean mean?); expected one of mean, first, last"),
    ({"models": [{"name": "m", "source": "hub/id", "multiword": "tokens"}]}, None,
     "study.toml: models[0].multiword: unknown multiword mode 'tokens' (did you mean token?)"),
    ({}, {"train": {"path": "a.conllu", "format": "conlu"}},
     "study.toml: tasks[0].train.format: unknown format 'conlu' (did you mean conllu?); expected one of conllu, ptb"),
    ({"similarity": {"estimator": "debaised"}}, None,
     "study.toml: similarity.estimator: unknown estimator 'debaised' (did you mean debiased?)"),
    ({"device": "cdua"}, None, "study.toml: device: unknown device 'cdua' (did you mean cuda?); expected auto, cpu"),
    ({"probe": {"options": {"max_iters": 5}}}, None,
     "study.toml: probe.options.max_iters: no probe kind of this study (linear) takes it (did you mean max_iter?)"),
])
def test_a_misspelt_name_is_named_with_the_closest_valid_one(patch, task, expected):
    assert expected in _parse(patch, task)


def test_names_far_from_any_valid_one_get_no_guess():
    msg = _parse({"probe": {"kinds": ["svm"]}})
    assert "unknown probe kind 'svm'; expected a list drawn from linear" in msg and "did you mean" not in msg


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_devices_that_are_accepted(device):
    data = {"name": "x", "device": device, "models": [{"name": "m", "source": "hub/id"}],
            "tasks": [{"name": "upos", "train": "a.conllu", "test": ["b.conllu"]}]}
    assert parse_config(data, check_files=False).device == device


def test_a_bad_task_is_refused_by_the_cli_before_any_model_loads(config_dir, capsys):
    from probes import cli

    study = config_dir / "study.toml"
    study.write_text(MINIMAL.replace('name = "upos"', 'name = "uppos"'), encoding="utf-8")
    assert cli.main(["run", str(study), "--out", str(config_dir / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"probes run: error: {study}: tasks[0].name: unknown task 'uppos' (did you mean upos?)")
    assert err.count("\n") == 1 and not (config_dir / "out").exists()


def test_a_model_folder_without_config_json_is_refused_with_the_config(config_dir):
    (config_dir / "models" / "minilm" / "snapshot").mkdir(parents=True)
    (config_dir / "models" / "minilm" / "snapshot" / "config.json").write_text("{}", encoding="utf-8")
    (config_dir / "models" / "minilm" / "snapshot" / "tokenizer.json").write_text("{}", encoding="utf-8")
    study = config_dir / "study.toml"
    study.write_text(MINIMAL.replace("path/to/model-dir-or-hub-id", "models"), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_config(study)
    snapshot = (config_dir / "models" / "minilm" / "snapshot").resolve()
    assert str(exc.value) == (
        f"{study}: models[0].source: model folder {(config_dir / 'models').resolve()} has no config.json: a Hugging "
        "Face model folder needs config.json, plus its weights (model.safetensors or pytorch_model.bin) and its "
        f"tokenizer files (tokenizer.json, or the vocabulary files); did you mean {snapshot}?")
    study.write_text(MINIMAL.replace("path/to/model-dir-or-hub-id", "models/minilm/snapshot"), encoding="utf-8")
    assert load_config(study).models[0].source == str(snapshot)


def _with_amnesic(tasks_extra: str, amnesic: str) -> dict:
    import tomllib

    text = MINIMAL.replace("[probe]", tasks_extra + "\n[probe]") + "\n[amnesic]\n" + amnesic
    return tomllib.loads(text)


DISTANCE = '[[tasks]]\nname = "distance"\ntrain = "t.conllu"\ntest = ["t.conllu"]\n'
XPOS = '[[tasks]]\nname = "xpos"\ntrain = "t.conllu"\ntest = ["t.conllu"]\n'


def test_amnesic_other_tasks_are_checked():
    ok = parse_config(_with_amnesic(XPOS, 'task = "upos"\nlayers = [2]\nother_tasks = ["xpos"]\n'), check_files=False)
    assert ok.amnesic.other_tasks == ["xpos"]
    off = parse_config(_with_amnesic(XPOS, 'task = "upos"\nlayers = [2]\nother_tasks = false\n'), check_files=False)
    assert off.amnesic.other_tasks is False
    assert parse_config(_with_amnesic("", 'task = "upos"\nlayers = [2]\n'), check_files=False).amnesic.other_tasks is True
    with pytest.raises(ConfigError, match=r"amnesic.other_tasks: .*'xpoz' \(did you mean xpos\?\)"):
        parse_config(_with_amnesic(XPOS, 'task = "upos"\nlayers = [2]\nother_tasks = ["xpoz"]\n'), check_files=False)
    with pytest.raises(ConfigError, match=r"amnesic.other_tasks: distance is a distance task"):
        parse_config(_with_amnesic(DISTANCE, 'task = "upos"\nlayers = [2]\nother_tasks = ["distance"]\n'),
                     check_files=False)
    with pytest.raises(ConfigError, match=r"amnesic.other_tasks: expected true"):
        parse_config(_with_amnesic("", 'task = "upos"\nlayers = [2]\nother_tasks = "xpos"\n'), check_files=False)


def test_conditional_on_is_a_named_option_of_the_conditional_kind():
    import tomllib

    def cfg(kinds, value):
        return tomllib.loads(MINIMAL.replace('kinds = ["linear"]', f"kinds = {kinds}\noptions = {{ conditional_on = {value} }}"))

    assert parse_config(cfg('["conditional"]', '"previous"'), check_files=False).probe.options["conditional_on"] == "previous"
    with pytest.raises(ConfigError, match=r"probe.options.conditional_on: unknown baseline 'prev' \(did you mean previous\?\)"):
        parse_config(cfg('["conditional"]', '"prev"'), check_files=False)
    with pytest.raises(ConfigError, match=r"probe.options.conditional_on: no probe kind of this study"):
        parse_config(cfg('["linear"]', '"previous"'), check_files=False)
