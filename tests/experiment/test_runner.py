"""`probes run` end to end on a tiny random model and a slice of the sample corpus."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probes.cli import main
from probes.extract.cache import VectorCache
from probes.experiment.config import load_config
from probes.experiment.runner import Experiment
from probes.experiment.tiny_model import build_tiny_bert
from probes.readers import load_corpus

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    texts = [" ".join(s.words) for lang in ("en", "de") for s in load_corpus(SAMPLE / f"{lang}.conllu")[:60]]
    return build_tiny_bert(texts, tmp_path_factory.mktemp("model"), hidden=32, layers=2, vocab_size=600)


def write_study(tmp_path: Path, model: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for lang in ("en", "de"):
        shutil.copy(SAMPLE / f"{lang}.conllu", data / f"{lang}.conllu")
    (tmp_path / "study.toml").write_text(f'''
name = "tiny"
seeds = [0, 1]

[[models]]
name = "tiny"
source = "{model}"

[[tasks]]
name = "upos"
train = {{ path = "data/en.conllu", sentences = "1-40" }}
test = [{{ path = "data/en.conllu", sentences = "181-200", name = "en" }},
        {{ path = "data/de.conllu", sentences = "181-200", name = "de" }}]

[[tasks]]
name = "distance"
train = {{ path = "data/en.conllu", sentences = "1-40" }}
test = [{{ path = "data/en.conllu", sentences = "181-200", name = "en" }}]

[probe]
kinds = ["linear", "cumulative"]
bootstrap = 50
rank = 8
''', encoding="utf-8")
    return tmp_path / "study.toml"


def write_upos_linear_study(tmp_path: Path, model: Path) -> Path:
    """The tiny study with the upos task and the linear probe only, no baselines (the quickest)."""
    config = write_study(tmp_path, model)
    text = config.read_text(encoding="utf-8").replace('kinds = ["linear", "cumulative"]',
                                                      'kinds = ["linear"]\nrandom_init = false\ncontrol = false')
    config.write_text(text.replace('[[tasks]]\nname = "distance"', '[[skip]]\nname = "distance"').split("[[skip]]")[0]
                      + text[text.index("[probe]"):], encoding="utf-8")
    return config


def test_full_run_resume_and_invalidation(tmp_path, tiny_model, capsys):
    config = write_study(tmp_path, tiny_model)
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(["run", str(config), "--out", str(out), "--cache-dir", str(cache), "--no-progress"]) == 0

    # Everything a study produces, consistent with each other.
    for name in ("results.csv", "summary.csv", "report.html", "manifest.json"):
        assert (out / name).is_file(), name
    assert any((out / "figures").glob("*.png"))
    results = pd.read_csv(out / "results.csv")
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(results["eval_set"]) >= {"en", "de"}           # eval_set = the test set's name
    assert set(results["train_set"]) == {"en"}                 # the train file's name without extension
    linear = results[(results.probe == "linear") & (results.task == "upos") & (results.metric == "accuracy")
                     & (results.model == "tiny") & (results.seed == -1)]
    assert sorted(linear.layer.unique()) == [0, 1, 2]         # embeddings + 2 layers, every layer scored
    assert ((linear.ci_low <= linear.value) & (linear.value <= linear.ci_high)).all()
    assert {"upos:control"} <= set(results.task) and "selectivity" in set(results.metric)
    assert "tiny:random-init" in set(results.model) and "majority" in set(results.probe)
    assert {"uuas", "dspr"} <= set(results.metric)
    assert manifest["seeds"] == [0, 1] and manifest["versions"]["torch"]
    sizes = sorted((d["name"], d["sentences"]) for d in manifest["data"])
    assert sizes == [("de", 20), ("en", 20), ("en", 40)]
    assert all(len(d["file_sha256"]) == 64 and len(d["sentences_fingerprint"]) == 64 for d in manifest["data"])
    assert manifest["recomputed"]["caches"] == 2 * 3           # (train, en, de) x (model, random-init twin)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in html and "upos" in html

    # A second run of the same config recomputes nothing: no extraction, no probe fit at all.
    import probes.probing.api as api

    def no_fitting(*args, **kwargs):
        raise AssertionError("a resumed run fitted a probe")

    cfg = load_config(config)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("probe_layers", "structural_layers", "fit_structural", "mdl_layers"):
            mp.setattr(api, name, no_fitting)
        again = Experiment(cfg, tmp_path / "out2", cache_dir=cache, progress=False).run()
    extras = json.loads((tmp_path / "out2" / "extras.json").read_text())
    assert extras["structural"][0]["task"] == "distance"  # the tree example comes from the cache too
    assert (again.extracted, again.probed) == (0, 0) and again.reused == 3
    pd.testing.assert_frame_equal(again.results.reset_index(drop=True),
                                  results.reset_index(drop=True), check_dtype=False)

    # Editing a sentence outside the selected ranges changes nothing that was used: all reused.
    de = tmp_path / "data" / "de.conllu"
    text = de.read_text(encoding="utf-8")
    de.write_text(text.replace("4\tHause\tHaus\t", "4\tHäuschen\tHäuschen\t", 1), encoding="utf-8")
    same = Experiment(load_config(config), tmp_path / "out3", cache_dir=cache, progress=False).run()
    assert (same.extracted, same.probed, same.reused) == (0, 0, 3)

    # Editing a word of a selected German sentence invalidates exactly what depends on it:
    # de's vectors (model and random-init twin) and the upos job that tests on de.
    text = de.read_text(encoding="utf-8")
    assert "2\tSchüler\tSchüler\t" in text
    de.write_text(text.replace("2\tSchüler\tSchüler\t", "2\tKinder\tKind\t", 1), encoding="utf-8")
    changed = Experiment(load_config(config), tmp_path / "out4", cache_dir=cache, progress=False).run()
    assert (changed.extracted, changed.probed, changed.reused) == (2, 2, 1)
    capsys.readouterr()


def test_missing_data_file_fails_before_any_work(tmp_path, tiny_model, capsys):
    config = write_study(tmp_path, tiny_model)
    (tmp_path / "data" / "de.conllu").unlink()
    assert main(["run", str(config), "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "tasks[0].test[1]" in err and "de.conllu" in err and "not found" in err
    assert not (tmp_path / "c").exists()


def test_random_init_seeds_draw_one_random_model_per_seed(tmp_path, tiny_model):
    config = write_study(tmp_path, tiny_model)
    text = config.read_text(encoding="utf-8").replace('kinds = ["linear", "cumulative"]',
                                                      'kinds = ["linear"]\nrandom_init_seeds = true\ncontrol = false')
    config.write_text(text.replace('[[tasks]]\nname = "distance"', '[[skip]]\nname = "distance"').split("[[skip]]")[0]
                      + text[text.index("[probe]"):], encoding="utf-8")
    outcome = Experiment(load_config(config), out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run()
    df = outcome.results
    ri = df[(df.model == "tiny:random-init") & (df.task == "upos") & (df.metric == "accuracy") & (df.layer == 1)
            & (df.eval_set == "en")]
    assert sorted(ri.seed) == [-1, 0, 1]
    assert ri[ri.seed == -1].covers.iloc[0].endswith("(held-out split, random-init weights)")
    caches = sorted(p for p in (tmp_path / "cache" / "vectors").iterdir() if "random-init" in p.name)
    assert len(caches) == 2 * 3  # two draws x three data sets (train, en, de)
    # Each seed reads its own draw: the two caches of one data set hold different vectors.  (Accuracies
    # of two random models on 75 words can coincide, so the vectors are what is compared.)
    by_set: dict[str, list] = {}
    for path in caches:
        cache = VectorCache.open(path)
        by_set.setdefault(cache.meta["data_fingerprint"], []).append(cache)
    for draws in by_set.values():
        assert len(draws) == 2 and not np.allclose(draws[0].layer(1), draws[1].layer(1))


def test_bootstrap_zero_with_control_runs_and_states_no_interval(tmp_path, tiny_model):
    config = write_study(tmp_path, tiny_model)
    text = config.read_text(encoding="utf-8").replace("bootstrap = 50", "bootstrap = 0\nrandom_init = false")
    config.write_text(text.replace('kinds = ["linear", "cumulative"]', 'kinds = ["linear", "mix", "cumulative"]'),
                      encoding="utf-8")
    outcome = Experiment(load_config(config), out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run()
    df = outcome.results
    sel = df[(df.metric == "selectivity") & (df.seed == 0)]
    acc = df[(df.metric == "accuracy") & (df.seed == 0) & (df.probe == "linear")]
    ctl = acc[acc.task == "upos:control"].set_index(["eval_set", "layer"]).value
    task = acc[acc.task == "upos"].set_index(["eval_set", "layer"]).value
    lin = sel[sel.probe == "linear"].set_index(["eval_set", "layer"]).value
    assert len(lin) == 6 and (lin - (task - ctl)).abs().max() < 1e-12   # selectivity = task - control, exactly
    per_seed = df[(df.seed >= 0) & (df.metric.isin(["accuracy", "selectivity", "uuas"]))]
    assert per_seed.ci_low.isna().all() and per_seed.ci_high.isna().all()  # no resamples: no interval claimed
    assert (tmp_path / "out" / "report.html").is_file()


def test_damaged_vectors_are_rebuilt_by_the_study_never_probed(tmp_path, tiny_model, capsys):
    import os

    import numpy as np

    config = write_upos_linear_study(tmp_path, tiny_model)
    cache = tmp_path / "cache"
    first = Experiment(load_config(config), out=tmp_path / "out", cache_dir=cache, progress=False).run()
    train = next(d for d in (cache / "vectors").iterdir() if "-en-" in d.name and np.load(d / "offsets.npy").size == 41)
    # NaNs in one layer, the file's mtime put back: only the full check before probing can see it
    vec = train / "vectors.npy"
    st = vec.stat()
    v = np.load(vec, mmap_mode="r+")
    v[1, :50] = np.nan
    v.flush()
    del v
    os.utime(vec, ns=(st.st_atime_ns, st.st_mtime_ns))
    shutil.rmtree(cache / "results")  # the probes must read the vectors again
    capsys.readouterr()
    again = Experiment(load_config(config), out=tmp_path / "out2", cache_dir=cache, progress=False).run()
    assert "damaged (layer 1 has NaN or Inf in 50 words); extracting it again" in capsys.readouterr().err
    pd.testing.assert_frame_equal(again.results.reset_index(drop=True), first.results.reset_index(drop=True))


def test_a_study_waits_for_another_computing_the_same_job_then_reuses_it(tmp_path, tiny_model, capsys):
    import threading
    import time

    from filelock import FileLock

    config = write_upos_linear_study(tmp_path, tiny_model)
    cache = tmp_path / "cache"
    Experiment(load_config(config), out=tmp_path / "out", cache_dir=cache, progress=False).run()
    (csv,) = (cache / "results").glob("*.csv")
    rows = csv.read_bytes()
    csv.unlink()
    lock = FileLock(str(csv.with_suffix(".lock")))
    lock.acquire()  # "another study" is computing this job
    box = {}
    second = threading.Thread(target=lambda: box.update(out=Experiment(
        load_config(config), out=tmp_path / "out2", cache_dir=cache, progress=False).run()))
    second.start()
    said = ""
    for _ in range(600):
        said += capsys.readouterr().err
        if "another study is computing this job; waiting" in said:
            break
        time.sleep(0.1)
    assert "another study is computing this job; waiting" in said
    time.sleep(0.5)
    assert second.is_alive()  # still waiting: it did not compute the job itself
    csv.write_bytes(rows)  # ... and finishes
    lock.release()
    second.join(120)
    assert (box["out"].probed, box["out"].reused) == (0, 1)


def test_neurons_and_conditional_kinds_write_their_rows_and_skip_what_they_do_not_apply_to(tmp_path, tiny_model):
    config = write_study(tmp_path, tiny_model)
    text = config.read_text(encoding="utf-8").replace('kinds = ["linear", "cumulative"]',
                                                      'kinds = ["linear", "neurons", "conditional"]\n'
                                                      'control = false\nrandom_init = false')
    config.write_text(text, encoding="utf-8")
    exp = Experiment(load_config(config), out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    df = exp.run().results
    neu = df[df.probe == "neurons-lca"]
    assert {"neuron_min_k95", "neuron_acc_top:1", "neuron_acc_random:1"} <= set(neu.metric)
    assert set(neu.eval_set) == {"en", "de"} and neu.task.eq("upos").all()
    cond = df[(df.probe == "conditional") & (df.metric == "cond_vinfo_bits")]
    assert sorted(cond[cond.eval_set == "en"].layer) == [0, 1, 2]
    assert cond.covers.str.endswith("(given layer 0)").all()
    assert ((cond.ci_low <= cond.value) & (cond.value <= cond.ci_high)).all()
    # The distance task is structural: neither kind applies, and the probe stage says so.
    assert not df[(df.task == "distance") & df.probe.isin(["neurons-lca", "conditional"])].size
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '<section id="neurons">' in page and '<section id="conditional">' in page
    assert 'id="amnesic"' not in page  # not asked for: no section, nothing said missing
    # The neurons job kept its ranking's profile; the report drew the best layer's top neurons from it.
    extras = json.loads((tmp_path / "out" / "extras.json").read_text(encoding="utf-8"))
    (prof,) = extras["neuron_profiles"]
    assert prof["task"] == "upos" and prof["layers"] == [0, 1, 2] and len(prof["neurons"][0]) == 12
    full = neu[(neu.eval_set == "en") & (neu.metric == "neuron_acc_top:32") & (neu.seed == 0)]
    best = int(full.loc[full.value.idxmax(), "layer"])
    assert (tmp_path / "out" / "figures" / f"tiny-upos-neurons-lca-label-activations-{best}.png").is_file()
    assert (tmp_path / "out" / "figures" / "tiny-conditional.png").is_file()


def test_conditional_on_the_previous_layer(tmp_path, tiny_model):
    from probes.experiment.config import ConfigError

    config = write_upos_linear_study(tmp_path, tiny_model)
    text = config.read_text(encoding="utf-8").replace('kinds = ["linear"]', 'kinds = ["conditional"]')
    config.write_text(text.replace("[probe]\n", '[probe]\noptions = { conditional_on = "previous" }\n'), encoding="utf-8")
    df = Experiment(load_config(config), out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False).run().results
    cond = df[(df.metric == "cond_vinfo_bits") & (df.eval_set == "en")].set_index("layer")
    assert cond.covers.str.endswith("(given the previous layer)").all()
    assert cond.loc[0, "value"] == 0.0  # layer 0 has no layer below it: conditioned on itself
    config.write_text(text.replace("[probe]\n", '[probe]\noptions = { conditional_on = "layer1" }\n'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"probe.options.conditional_on: unknown baseline 'layer1'.*layer0, previous"):
        load_config(config)


def test_conditional_on_another_model_of_the_study(tmp_path, tiny_model):
    from probes.experiment.config import ConfigError
    from probes.probing.conditional import Baseline, conditional_rows
    from probes.tasks.registry import build_task

    texts = [" ".join(s.words) for lang in ("en", "de") for s in load_corpus(SAMPLE / f"{lang}.conllu")[:60]]
    other = build_tiny_bert(texts, tmp_path / "other", hidden=24, layers=1, vocab_size=600, seed=5)
    config = write_upos_linear_study(tmp_path, tiny_model)
    text = config.read_text(encoding="utf-8").replace('kinds = ["linear"]', 'kinds = ["conditional"]')
    text = text.replace("[[tasks]]", f'[[models]]\nname = "small"\nsource = "{other}"\n\n[[tasks]]', 1)
    config.write_text(text.replace("[probe]\n", '[probe]\noptions = { conditional_on = "model:small:1" }\n'),
                      encoding="utf-8")
    exp = Experiment(load_config(config), out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    df = exp.run().results
    cond = df[(df.metric == "cond_vinfo_bits") & (df.eval_set == "en") & (df.model == "tiny")].set_index("layer")
    assert sorted(cond.index) == [0, 1, 2] and cond.covers.str.endswith("(given small layer 1)").all()
    small = df[(df.metric == "cond_vinfo_bits") & (df.eval_set == "en") & (df.model == "small")].set_index("layer")
    assert small.covers.str.endswith("(given small layer 1)").all() and sorted(small.index) == [0, 1]
    # the study's rows are the API's on the same caches
    cfg, task = exp.cfg, exp.cfg.tasks[0]
    tiny_spec, small_spec = cfg.models
    data = exp._task_data(task)
    by_api = conditional_rows(
        (exp.cache_of(tiny_spec, task.train), data[0]), {"en": (exp.cache_of(tiny_spec, task.test[0]), data[2]["en"])},
        baseline=Baseline("small", exp.cache_of(small_spec, task.train), {"en": exp.cache_of(small_spec, task.test[0])},
                          layer=1), model="tiny", task="upos", train_set="en", n_boot=cfg.probe.bootstrap)
    api = {(r.layer, r.metric): r.value for r in by_api}
    assert all(cond.loc[layer, "value"] == pytest.approx(api[(layer, "cond_vinfo_bits")], abs=1e-9) for layer in (0, 1, 2))
    # another baseline model: its caches are extracted, and both conditional jobs computed again
    other2 = build_tiny_bert(texts, tmp_path / "other2", hidden=24, layers=1, vocab_size=600, seed=6)
    config.write_text(config.read_text(encoding="utf-8").replace(str(other), str(other2)), encoding="utf-8")
    again = Experiment(load_config(config), out=tmp_path / "out2", cache_dir=tmp_path / "cache", progress=False).run()
    assert (again.extracted, again.probed, again.reused) == (3, 2, 0)  # train, en, de of the new model
    # the named model's own job at its layer 0 is conditioned on layer 0, as "layer0" is (0 there by definition)
    config.write_text(config.read_text(encoding="utf-8").replace('"model:small:1"', '"model:small"'), encoding="utf-8")
    own = Experiment(load_config(config), out=tmp_path / "out3", cache_dir=tmp_path / "cache", progress=False).run().results
    own = own[(own.metric == "cond_vinfo_bits") & (own.eval_set == "en")]
    small = own[own.model == "small"].set_index("layer")
    assert small.covers.str.endswith("(given layer 0)").all() and small.loc[0, "value"] == 0.0
    assert own[own.model == "tiny"].covers.str.endswith("(given small layer 0)").all()
    # names and layers are checked with the config
    for bad, why in (("model:smal", r"names no model of the study \(did you mean small\?\)"),
                     ("model:small:x", "must be a number"), ("model:tiny:first", "must be a number")):
        config.write_text(text.replace("[probe]\n", f'[probe]\noptions = {{ conditional_on = "{bad}" }}\n'),
                          encoding="utf-8")
        with pytest.raises(ConfigError, match=why):
            load_config(config)


def test_amnesic_section_erases_the_task_and_says_why_no_lm_loss_was_measured(tmp_path, tiny_model, capsys):
    config = write_study(tmp_path, tiny_model)
    text = config.read_text(encoding="utf-8").replace('kinds = ["linear", "cumulative"]',
                                                      'kinds = ["linear"]\ncontrol = false\nrandom_init = false')
    xpos = ('[[tasks]]\nname = "xpos"\ntrain = { path = "data/en.conllu", sentences = "1-40" }\n'
            'test = [{ path = "data/en.conllu", sentences = "181-200", name = "en" }]\n\n[[tasks]]\nname = "distance"')
    text = text.replace('[[tasks]]\nname = "distance"', xpos)
    config.write_text(text + '\n[amnesic]\ntask = "upos"\nlayers = [1, 2]\n', encoding="utf-8")
    exp = Experiment(load_config(config), out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    df = exp.run().results
    am = df[(df.probe == "amnesic") & (df.task == "upos")]
    assert sorted(set(am.layer)) == [1, 2] and set(am.eval_set) == {"en", "de"}
    at = am[(am.eval_set == "en") & (am.layer == 2)].set_index("metric")
    got = at.value
    # LEACE's guarantee is on the fitting data; on 75 held-out words the erased probe's accuracy sits at
    # the majority baseline up to sampling noise, which its own 95% interval measures.
    noise = at.ci_high["accuracy_erased"] - at.ci_low["accuracy_erased"]
    assert got["accuracy_erased"] <= got["majority"] + noise
    assert got["accuracy_erased"] + noise < got["accuracy_clean"]
    # The tiny BERT was saved without its masked-LM head: no LM-loss rows, and the run says why.
    assert not am.metric.str.startswith("lm_loss").any()
    assert any("amnesic LM loss not measured" in s and "language-modelling head" in s for s in exp.skipped_jobs)
    # (c) xpos at the layers after the erased one, re-extracted through the erased model: after layer 1,
    # layer 2; after layer 2 (the last) nothing, and the run says so.
    other = df[(df.probe == "amnesic") & (df.task == "xpos")].set_index("metric")
    assert set(other.layer) == {2} and set(other.eval_set) == {"en"}
    assert set(other.index) == {f"other_accuracy_{v}:1" for v in ("clean", "erased", "erased_random", "delta_vs_random")}
    # the clean variant is the xpos linear probe of seed 0 at layer 2 (same vectors, data and settings)
    lin = df[(df.task == "xpos") & (df.probe == "linear") & (df.layer == 2) & (df.eval_set == "en")
             & (df.seed == 0) & (df.metric == "accuracy")]
    assert other.loc["other_accuracy_clean:1", "value"] == pytest.approx(lin.value.iloc[0], abs=1e-9)
    d = other.loc["other_accuracy_delta_vs_random:1"]
    assert d.value == pytest.approx(other.loc["other_accuracy_erased:1", "value"]
                                    - other.loc["other_accuracy_erased_random:1", "value"])
    assert d.ci_low <= d.value <= d.ci_high and "upos erased at layer 1" in d.covers
    assert any("amnesic other tasks not probed after layer 2" in s for s in exp.skipped_jobs)
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '<section id="amnesic">' in page and "No LM-loss change is reported: amnesic LM loss not measured" in page
    assert (tmp_path / "out" / "figures" / "tiny-amnesic-other-tasks.png").is_file()
    # Taken from the cache, the job says again what it could not measure (the report too).
    again = Experiment(load_config(config), out=tmp_path / "out2", cache_dir=tmp_path / "cache", progress=False)
    out = again.run()
    assert out.probed == 0 and any("amnesic LM loss not measured" in s for s in again.skipped_jobs)
    assert "No LM-loss change is reported" in (tmp_path / "out2" / "report.html").read_text(encoding="utf-8")


def test_amnesic_section_is_checked_with_the_config(tmp_path, tiny_model):
    from probes.experiment.config import ConfigError

    config = write_study(tmp_path, tiny_model)
    config.write_text(config.read_text(encoding="utf-8") + '\n[amnesic]\ntask = "uppos"\nlayers = [1]\n',
                      encoding="utf-8")
    with pytest.raises(ConfigError, match=r"amnesic.task: .*'uppos' \(did you mean upos\?\)"):
        load_config(config)
