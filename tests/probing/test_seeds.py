"""Seeds that mean something: each seed redraws what is random in a study, a deterministic probe
runs once and says so, and every interval states what it covers (issue 14)."""

import numpy as np
import pytest

from probes.probing.api import probe_layers
from tests.probing.planted import planted_corpus
from tests.probing.test_api import control_of


def _data(n_train=60):
    V, task = planted_corpus(n_sentences=n_train, signal_layer=2)
    Vd, td = planted_corpus(n_sentences=20, signal_layer=2, seed=2)
    Vt, tt = planted_corpus(n_sentences=30, signal_layer=2, seed=1)
    return (V, task), (Vd, td), (Vt, tt)


def _get(rows, **kw):
    return [r for r in rows if all(getattr(r, k) == v for k, v in kw.items())]


def test_a_deterministic_probe_with_a_dev_set_runs_once_and_says_its_interval_covers_test_sentences_only():
    train, dev, (Vt, tt) = _data()
    rows = probe_layers(train, {"test": (Vt, tt)}, dev, probe="linear", seeds=(0, 1, 2), n_boot=100, device="cpu")
    scores = _get(rows, task="planted", probe="linear", metric="accuracy")
    assert {r.seed for r in scores} == {0}  # not three copies of one computation
    assert {r.covers for r in scores} == {"test sentences"}


def test_control_labels_are_redrawn_per_seed_and_the_aggregate_covers_them():
    train, dev, (Vt, tt) = _data()
    control = {s: {"train": control_of(train[1], 10 + s), "dev": control_of(dev[1], 20 + s),
                   "tests": {"test": control_of(tt, 30 + s)}} for s in (0, 1, 2)}
    rows = probe_layers(train, {"test": (Vt, tt)}, dev, probe="linear", seeds=(0, 1, 2), control=control,
                        n_boot=100, device="cpu")
    ctl = _get(rows, task="planted:control", metric="accuracy", layer=2)
    per_seed = {r.seed: r.value for r in ctl if r.seed >= 0}
    assert sorted(per_seed) == [0, 1, 2] and len(set(per_seed.values())) == 3
    agg = [r for r in ctl if r.seed == -1]
    assert len(agg) == 1 and agg[0].covers == "test sentences + 3 seeds (control labels)"
    assert agg[0].value == pytest.approx(np.mean(list(per_seed.values())))
    sel = _get(rows, task="planted", metric="selectivity", layer=2)
    task_score = _get(rows, task="planted", probe="linear", metric="accuracy", layer=2)[0].value
    for r in sel:
        if r.seed >= 0:  # the one task run paired with each control draw
            assert r.value == pytest.approx(task_score - per_seed[r.seed])
    assert [r.covers for r in sel if r.seed == -1] == ["test sentences + 3 seeds (control labels)"]


def test_mlp_seeds_change_the_result_and_the_interval_says_so():
    train, dev, (Vt, tt) = _data()
    rows = probe_layers(train, {"test": (Vt, tt)}, dev, probe="mlp", seeds=(0, 1), n_boot=100, device="cpu",
                        max_epochs=3)
    by_seed = {r.seed: r.value for r in _get(rows, task="planted", metric="accuracy", layer=1)}
    assert by_seed[0] != by_seed[1]
    agg = _get(rows, task="planted", metric="accuracy", layer=1, seed=-1)[0]
    assert agg.covers == "test sentences + 2 seeds (initialisation, batch order)"
    assert agg.ci_low <= agg.value <= agg.ci_high


def test_without_a_dev_set_the_held_out_split_is_a_seed_source():
    train, _, (Vt, tt) = _data()
    rows = probe_layers(train, {"test": (Vt, tt)}, None, probe="linear", seeds=(0, 1), n_boot=50, device="cpu")
    agg = _get(rows, task="planted", metric="accuracy", layer=2, seed=-1)
    assert agg and agg[0].covers == "test sentences + 2 seeds (held-out split)"


def test_one_random_init_model_per_seed_is_a_seed_source():
    train, dev, (Vt, tt) = _data()
    rng = np.random.default_rng(7)
    draw = lambda V: rng.normal(size=V.shape).astype(np.float32)  # noqa: E731
    random_init = {s: {"train": draw(train[0]), "dev": draw(dev[0]), "tests": {"test": draw(Vt)}} for s in (0, 1)}
    rows = probe_layers(train, {"test": (Vt, tt)}, dev, probe="linear", seeds=(0, 1), n_boot=50, device="cpu",
                        random_init=random_init)
    ri = _get(rows, model="model:random-init", task="planted", metric="accuracy", layer=1)
    by_seed = {r.seed: r for r in ri}
    assert sorted(by_seed) == [-1, 0, 1] and by_seed[0].value != by_seed[1].value
    assert by_seed[-1].covers == "test sentences + 2 seeds (random-init weights)"
    # The trained model's linear probe with a dev set is deterministic: one run, test sentences only.
    assert {r.seed for r in _get(rows, model="model", task="planted", probe="linear", metric="accuracy")} == {0}


def test_layer_and_model_differences_come_from_the_same_resamples():
    train, dev, (Vt, tt) = _data()
    rng = np.random.default_rng(8)
    draw = lambda V: rng.normal(size=V.shape).astype(np.float32)  # noqa: E731
    random_init = {"train": draw(train[0]), "dev": draw(dev[0]), "tests": {"test": draw(Vt)}}
    rows = probe_layers(train, {"test": (Vt, tt)}, dev, probe="linear", seeds=(0,), n_boot=200, device="cpu",
                        random_init=random_init)
    acc = {r.layer: r.value for r in _get(rows, model="model", task="planted", probe="linear", metric="accuracy")}
    best = max(acc, key=acc.get)
    assert best == 2  # the planted layer; the top layer (3) is at chance
    drop = _get(rows, model="model", metric="best_minus_top:accuracy")
    assert len(drop) == 1 and drop[0].layer == 2
    assert drop[0].value == pytest.approx(acc[2] - acc[3]) and drop[0].ci_low > 0
    assert _get(rows, model="model", metric="best_minus_top_p:accuracy")[0].value < 0.01
    ri = {r.layer: r.value for r in _get(rows, model="model:random-init", probe="linear", metric="accuracy")}
    gain = {r.layer: r for r in _get(rows, model="model", metric="gain_over_random_init:accuracy")}
    assert gain[2].value == pytest.approx(acc[2] - ri[2]) and gain[2].ci_low > 0
    assert sorted(gain) == [0, 1, 2, 3]


def test_difference_rows_skip_undefined_scores_and_p_is_never_zero():
    from probes.probing.api import _best_vs_top_rows
    from probes.probing.bootstrap import ReplicateBook

    book = ReplicateBook()
    key = ("m", "t", "linear", "tr", "te", "micro_f1")
    book.add(key, 0, [0, 1, 2], [np.nan] * 3, np.full((20, 3), np.nan))  # no positives anywhere: F1 undefined
    assert _best_vs_top_rows(book, {}, "linear", "micro_f1", 0) == []
    book = ReplicateBook()
    book.add(key, 0, [0, 1, 2], [0.5, 0.9, 0.6], np.tile([0.5, 0.9, 0.6], (20, 1)))
    rows = _best_vs_top_rows(book, {}, "linear", "micro_f1", 0)
    p = [r for r in rows if r.metric == "best_minus_top_p:micro_f1"][0].value
    assert p == pytest.approx(2 / 21)  # every replicate favours the best layer: (0 + 1) / (20 + 1), two-sided


def test_structural_probes_get_the_best_versus_top_test_too():
    from probes.probing.api import structural_layers
    from probes.tasks.base import TaskData
    from tests.probing.test_structural import planted_trees

    X, dists, _, offs = planted_trees(n_sent=40, n_layers=3, signal=1)
    task = TaskData(name="distance", kind="distance", metric="uuas", matrices=dists, sentence_offsets=offs)
    rows = structural_layers((X, task), {"te": (X, task)}, None, seeds=(0,), n_boot=50, device="cpu",
                             rank=8, max_epochs=5, lr=1e-2)
    drop = [r for r in rows if r.metric == "best_minus_top:uuas"]
    assert len(drop) == 1 and drop[0].layer == 1 and drop[0].value > 0
