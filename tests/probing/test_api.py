import numpy as np
import pytest

from probes.errors import ProbesError
from probes.extract.cache import cache_from_arrays
from probes.probing.api import (fit_probe, fit_structural, mdl_layers, predict_labels, probe_layers,
                               structural_layers, structural_predictions)
from probes.tasks.base import TaskData
from tests.probing.planted import planted_corpus
from tests.probing.test_structural import planted_trees


def write_cache(path, vectors, offsets):
    """A cache directory in the documented on-disk format (probes/extract/cache.py)."""
    return cache_from_arrays(path, vectors, offsets)


def control_of(task, seed=5):
    """A Hewitt & Liang style control: labels unrelated to the vectors (random per word here)."""
    rng = np.random.default_rng(seed)
    return TaskData(name=task.name + ":control", kind="token", metric="accuracy", classes=task.classes,
                    y=rng.integers(0, len(task.classes), len(task.y)), index=task.index,
                    sentence_offsets=task.sentence_offsets)


def test_probe_layers_rows_baselines_and_selectivity(tmp_path):
    V, task = planted_corpus(n_sentences=100, signal_layer=2)
    Vt, tt = planted_corpus(n_sentences=50, signal_layer=2, seed=1)
    train_cache = write_cache(tmp_path / "train", V, task.sentence_offsets)
    test_cache = write_cache(tmp_path / "test", Vt, tt.sentence_offsets)
    rng = np.random.default_rng(3)
    ri_train = rng.normal(size=V.shape).astype(np.float16)
    ri_test = rng.normal(size=Vt.shape).astype(np.float16)
    rows = probe_layers((train_cache, task), {"test": (test_cache, tt)}, seeds=(0, 1), model="toy", train_set="tr",
                        control={"train": control_of(task), "tests": {"test": control_of(tt, 6)}},
                        random_init={"train": ri_train, "tests": {"test": ri_test}}, n_boot=200, device="cpu")
    get = lambda **kw: [r for r in rows if all(getattr(r, k) == v for k, v in kw.items())]
    acc = {r.layer: r for r in get(model="toy", task="planted", probe="linear", metric="accuracy", seed=-1)}
    assert sorted(acc) == [0, 1, 2, 3]  # layer 0, the non-contextual baseline, is always there
    assert acc[2].value > 0.95 and acc[0].value < 0.5
    for r in acc.values():
        assert r.ci_low <= r.value <= r.ci_high
    maj = get(probe="majority", model="toy")
    assert len(maj) == 1 and maj[0].layer == -1 and 0.2 < maj[0].value < 0.5
    sel = {r.layer: r for r in get(model="toy", metric="selectivity", seed=0)}
    ctrl = {r.layer: r for r in get(model="toy", task="planted:control", metric="accuracy", seed=0)}
    own = {r.layer: r for r in get(model="toy", task="planted", probe="linear", metric="accuracy", seed=0)}
    assert sel[2].value == pytest.approx(own[2].value - ctrl[2].value)
    assert sel[2].value > 0.6 and sel[2].ci_low > 0.5
    ri = get(model="toy:random-init", task="planted", metric="accuracy", seed=-1)
    assert len(ri) == 4 and max(r.value for r in ri) < 0.5
    assert get(model="toy:random-init", metric="selectivity")


def test_mix_and_cumulative_rows():
    V, task = planted_corpus(n_sentences=100, signal_layer=2)
    Vt, tt = planted_corpus(n_sentences=40, signal_layer=2, seed=1)
    rows = probe_layers((V, task), {"test": (Vt, tt)}, probe="mix", majority=False, n_boot=100, device="cpu")
    w = {r.layer: r.value for r in rows if r.metric == "mix_weight"}
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-5)
    assert max(w, key=w.get) == 2 and w[2] > 0.8
    assert [r for r in rows if r.metric == "mix_gamma" and r.layer == -1]
    assert [r for r in rows if r.metric == "accuracy" and r.layer == -1][0].value > 0.95
    rows = probe_layers((V, task), {"test": (Vt, tt)}, probe="cumulative", majority=False, n_boot=100, device="cpu")
    acc = {r.layer: r.value for r in rows if r.metric == "accuracy"}
    assert acc[1] < 0.5 and acc[2] > 0.95 and acc[3] > 0.95  # the signal enters at layer 2
    w3 = {r.metric: r.value for r in rows if r.layer == 3 and r.metric.startswith("mix_weight")}
    assert sum(w3.values()) == pytest.approx(1.0, abs=1e-5)


def test_missing_layer0_is_an_error():
    V, task = planted_corpus(n_sentences=20)

    class NoLayer0:
        vectors, layers, sentence_offsets = V[1:], [1, 2, 3], task.sentence_offsets

    with pytest.raises(ProbesError, match="layer 0"):
        probe_layers((NoLayer0(), task), {}, device="cpu")


def test_structural_layers_rows_and_predictions():
    X, dists, _, offs = planted_trees(n_sent=60)
    Xt, dt, _, ot = planted_trees(n_sent=30, seed=1)
    mk = lambda D, o: TaskData(name="dist", kind="distance", metric="uuas", matrices=D, sentence_offsets=o,
                               punct=np.zeros(o[-1], bool))
    rows = structural_layers((X, mk(dists, offs)), {"test": (Xt, mk(dt, ot))}, rank=16, lr=1e-2, max_epochs=15,
                             n_boot=200, device="cpu")
    uuas = {r.layer: r for r in rows if r.metric == "uuas"}
    assert uuas[1].value > 0.95 and uuas[0].value < 0.6
    assert uuas[1].ci_low <= uuas[1].value <= uuas[1].ci_high
    assert {r.metric.split(":")[0] for r in rows} <= {"uuas", "dspr", "best_minus_top", "best_minus_top_p"}
    assert {"uuas", "dspr"} <= {r.metric for r in rows} and all(r.probe == "structural-distance" for r in rows)
    est = fit_structural((X, mk(dists, offs)), rank=16, lr=1e-2, max_epochs=15, device="cpu")
    pred = structural_predictions(est, Xt, mk(dt, ot), 0)
    assert pred["pred"].shape == (3, ot[1], ot[1])
    gold_tree = {(i, j) for i in range(ot[1]) for j in range(i + 1, ot[1]) if dt[0][i, j] == 1}
    assert pred["gold_edges"] == gold_tree
    assert len(pred["pred_edges"][1] & gold_tree) >= len(gold_tree) - 1


def test_mdl_rows():
    V, task = planted_corpus(n_sentences=40, n_layers=2, signal_layer=1, n_classes=2)
    rows = mdl_layers((V, task), seeds=(0, 1), device="cpu", fractions=(0.05, 0.1, 0.25, 0.5, 1.0))
    comp = {(r.layer, r.seed): r for r in rows if r.metric == "compression"}
    assert comp[(1, -1)].value > 2 and comp[(0, -1)].value < 1.2
    bits = [r for r in rows if r.metric == "codelength_bits" and r.seed == 0]
    assert all(r.value > 0 for r in bits)


def test_mdl_study_draws_control_and_random_init_per_seed():
    from probes.probing.api import mdl_study

    V, task = planted_corpus(n_sentences=40, n_layers=2, signal_layer=1, n_classes=2)
    rng = np.random.default_rng(4)
    control = {s: {"train": control_of(task, 10 + s)} for s in (0, 1)}
    random_init = {s: {"train": rng.normal(size=V.shape).astype(np.float32)} for s in (0, 1)}
    rows = mdl_study((V, task), seeds=(0, 1), device="cpu", control=control, random_init=random_init,
                     fractions=(0.05, 0.1, 0.25, 0.5, 1.0))
    get = lambda **kw: [r for r in rows if all(getattr(r, k) == v for k, v in kw.items())]  # noqa: E731
    ctl = {r.seed: r.value for r in get(task="planted:control", metric="codelength_bits", layer=1)}
    assert sorted(ctl) == [-1, 0, 1] and ctl[0] != ctl[1]
    assert get(task="planted:control", metric="codelength_bits", layer=1, seed=-1)[0].covers.startswith(
        "2 seeds (control labels")
    ri = get(model="model:random-init", metric="compression", layer=1, seed=-1)
    assert len(ri) == 1 and "random-init weights" in ri[0].covers and ri[0].value < 1.2
    # One control task for every seed: the same mapping form as probe_layers accepts.
    one = mdl_study((V, task), seeds=(0,), device="cpu", control={"train": control_of(task)},
                    fractions=(0.05, 0.1, 0.25, 0.5, 1.0))
    assert {r.task for r in one} == {"planted", "planted:control"}


def test_edge_probe_through_the_api():
    from tests.probing.test_edge import edge_data
    V, spans, y = edge_data(300, 600, 0)
    Vt, st, yt = edge_data(200, 300, 1)
    mk = lambda sp, lab, n: TaskData(name="rel", kind="edge", metric="accuracy", y=lab, pairs=sp[:, [0, 2]],
                                     sentence_offsets=np.arange(0, n + 1, 10))
    rows = probe_layers((V, mk(spans, y, 300)), {"test": (Vt, mk(st, yt, 200))}, probe="edge", pooling="endpoint",
                        proj_dim=8, hidden_size=8, dropout=0.0, lr=2e-2, batch_size=100, max_epochs=8,
                        n_boot=100, device="cpu")
    acc = {r.layer: r.value for r in rows if r.probe == "edge" and r.metric == "accuracy"}
    assert acc[1] > 0.85 and acc[0] < 0.62


def test_predict_labels_and_unseen_test_labels():
    V, task = planted_corpus(n_sentences=60, signal_layer=2)
    Vt, tt = planted_corpus(n_sentences=20, signal_layer=2, seed=1)
    tt.y = tt.y.copy()
    tt.y[:5] = 7  # a label never seen in training: kept as -1 and always wrong
    est = fit_probe((V, task), device="cpu")
    out = predict_labels(est, Vt, tt)
    assert out["pred"].shape == (4, len(tt.y)) and np.all(out["gold"][:5] == -1)
    rows = probe_layers((V, task), {"test": (Vt, tt)}, majority=False, n_boot=50, device="cpu")
    acc2 = [r.value for r in rows if r.layer == 2 and r.metric == "accuracy"][0]
    assert acc2 == pytest.approx(np.mean(out["pred"][2] == out["gold"]))
    assert acc2 <= 1 - 5 / len(tt.y)
