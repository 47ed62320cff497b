from scipy.stats import spearmanr
import numpy as np
import pytest

from probes.errors import ProbesError
from probes.tasks import build_task, get_spec
from probes.probing.metrics import point_score
from probes.tasks.baselines import linear_nspr, linear_uuas, majority_baseline
from probes.tasks.sentence import length_bin
from probes.tasks.trees import tree_depths, tree_distances

from .conftest import make


def test_tree_depths_and_distances_by_hand(dog):
    assert tree_depths(dog.heads).tolist() == [2, 2, 1, 0, 1, 1]
    expected = np.array([
        # The old dog barked loudly .
        [0, 2, 1, 2, 3, 3],
        [2, 0, 1, 2, 3, 3],
        [1, 1, 0, 1, 2, 2],
        [2, 2, 1, 0, 1, 1],
        [3, 3, 2, 1, 0, 2],
        [3, 3, 2, 1, 2, 0],
    ])
    assert (tree_distances(dog.heads) == expected).all()


def test_structural_tasks_mark_punctuation(dog, cats):
    d = build_task("distance", [dog, cats])
    assert d.kind == "distance" and d.metric == "uuas"
    assert d.matrices[1].tolist() == [[0, 2, 1, 2], [2, 0, 1, 2], [1, 1, 0, 1], [2, 2, 1, 0]]
    assert d.punct.tolist() == [False] * 5 + [True] + [False] * 4
    assert d.sentence_offsets.tolist() == [0, 6, 10]
    dep = build_task("depth", [dog, cats])
    assert [x.tolist() for x in dep.depths] == [[2, 2, 1, 0, 1, 1], [1, 1, 0, 1]]
    unparsed = make(["a"], ["X"], [0], ["root"])
    unparsed.heads = None
    with pytest.raises(ProbesError, match="needs a dependency tree for every sentence"):
        build_task("depth", [dog, unparsed])


def test_token_tasks_global_rows_and_classes(dog, cats):
    t = build_task("upos", [dog, cats])
    assert t.classes == ["ADJ", "ADV", "AUX", "DET", "NOUN", "PUNCT", "VERB"]
    assert t.index.tolist() == list(range(10))
    assert [t.classes[c] for c in t.y] == dog.upos + cats.upos
    n = build_task("feats:Number", [dog, cats])
    assert n.classes == ["Plur", "Sing", "none"]
    assert [n.classes[c] for c in n.y] == ["none", "none", "Sing", "none", "none", "none", "Plur", "none", "none", "Plur"]
    r = build_task("deprel", [cats])
    assert [r.classes[c] for c in r.y] == ["nsubj", "aux", "root", "obj"]
    with pytest.raises(ProbesError, match="does not occur"):
        build_task("feats:Gender", [dog])
    with pytest.raises(ProbesError) as exc:
        build_task("feats:Numbr", [dog, cats])
    assert str(exc.value) == ("task 'feats:Numbr': feature 'Numbr' does not occur in this corpus (did you mean "
                              "feats:Number?); its features: Definite, Degree, Number, Tense, VerbForm")


def test_unseen_labels_are_minus_one_and_counted(dog, cats):
    train = build_task("upos", [dog])
    ev = build_task("upos", [cats], train=train)
    assert ev.classes == train.classes
    assert ev.y.tolist() == [train.classes.index("NOUN"), -1, train.classes.index("VERB"), train.classes.index("NOUN")]
    assert ev.unseen == 1 and "'AUX' x1" in ev.notes[0]
    # every train class occurs once: the tie goes to the lowest id, ADJ, absent from cats
    assert majority_baseline(train, ev) == 0.0


def test_dep_arc_pairs(dog, cats):
    t = build_task("dep-arc", [dog, cats])
    assert t.kind == "edge"
    pairs = [tuple(p) for p in t.pairs.tolist()]
    assert pairs == [(2, 0), (2, 1), (3, 2), (3, 4), (3, 5), (8, 6), (8, 7), (8, 9)]
    assert [t.classes[c] for c in t.y] == ["det", "amod", "nsubj", "advmod", "punct", "nsubj", "aux", "obj"]


def test_ner_spans(dog, cats):
    t = build_task("ner", [dog, cats])
    assert t.spans.tolist() == [[9, 10]] and t.classes == ["FOOD"]
    assert "1 sentence(s) without entity annotation" in t.notes[0]
    with pytest.raises(ProbesError, match="needs named-entity annotation"):
        build_task("ner", [dog])


def test_sentence_tasks(dog, cats):
    assert [length_bin(n) for n in (3, 5, 8, 9, 25, 26, 28, 29)] == ["1-4", "5-8", "5-8", "9-12", "21-25",
                                                                      "26-28", "26-28", "29+"]
    lab = lambda name, sents: [(int(i), build_task(name, sents).classes[c])  # noqa: E731
                               for i, c in zip(build_task(name, sents).index, build_task(name, sents).y)]
    assert lab("sentlen", [dog, cats]) == [(0, "5-8"), (1, "1-4")]
    assert lab("treedepth", [dog, cats]) == [(0, "2"), (1, "1")]
    assert lab("tense", [dog, cats]) == [(0, "Past"), (1, "Pres")]  # finite aux "have" wins over "eaten"
    assert lab("subjnum", [dog, cats]) == [(0, "Sing"), (1, "Plur")]
    objnum = build_task("objnum", [dog, cats])
    assert objnum.index.tolist() == [1] and objnum.classes == ["Plur"]
    assert "1 of 2 sentence(s)" in objnum.notes[0]


def test_every_spec_declares_metric_and_baseline():
    for name in ["upos", "feats:Case", "feats:Case:control", "dep-arc", "ner", "distance", "depth",
                 "tense", "bshift", "upos:control", "dep-arc:control", "ner:control"]:
        spec = get_spec(name)
        assert spec.metric in ("accuracy", "macro_f1", "uuas", "nspr") and callable(spec.baseline)
        assert spec.unseen and spec.description
    with pytest.raises(ProbesError, match="unknown task"):
        get_spec("pos")


def test_baselines_by_hand(dog, cats):
    dist = build_task("distance", [dog])
    # non-punct words The old dog barked loudly: chain edges The-old, old-dog, dog-barked, barked-loudly;
    # gold edges among them: The-dog, old-dog, dog-barked, barked-loudly -> 3 of 4
    assert linear_uuas(dist) == pytest.approx(0.75)
    gold, pred = np.array([0, 0, 1, 2, -1]), np.array([0, 0, 0, 0, 0])
    # class 0: tp 2, fp 3 -> F1 4/7; classes 1, 2 and the unseen gold label: 0 -> macro 4/28
    assert point_score("macro_f1", pred, gold, 3) == pytest.approx(4 / 28)
    # depth = position on "The old dog barked loudly ." (depths 2 2 1 0 1 1): one sentence of 6 words
    depth = build_task("depth", [dog])
    assert linear_nspr(depth) == pytest.approx(spearmanr(np.arange(6), [2, 2, 1, 0, 1, 1]).statistic)
    train = build_task("feats:Number", [dog, cats])
    ev = build_task("feats:Number", [cats], train=train)
    assert majority_baseline(train, ev) == pytest.approx(0.5)  # 'none' on Cats have eaten fish: 2 of 4


def test_udeprel_drops_language_specific_subtypes_so_languages_share_classes():
    en = make(["Tom", "runs", "every", "morning"], ["PROPN", "VERB", "DET", "NOUN"], [2, 0, 4, 2],
              ["nsubj", "root", "det", "obl:unmarked"], sid="en")
    de = make(["Tom", "läuft", "jeden", "Morgen"], ["PROPN", "VERB", "DET", "NOUN"], [2, 0, 4, 2],
              ["nsubj", "root", "det", "obl:tmod"], sid="de")
    train = build_task("udeprel", [en])
    assert train.classes == ["det", "nsubj", "obl", "root"]
    evaluation = build_task("udeprel", [de], train=train)
    assert evaluation.unseen == 0
    assert [train.classes[i] for i in evaluation.y] == ["nsubj", "root", "det", "obl"]
    # deprel keeps the subtypes, so the German label is unseen there
    assert build_task("deprel", [de], train=build_task("deprel", [en])).unseen == 1


def test_every_catalogued_task_builds_with_the_kind_and_metric_its_spec_declares():
    from pathlib import Path

    from probes.readers import load_corpus
    from probes.tasks.registry import SPECS
    from probes.tasks.sentence import make_bigram_shift

    root = Path(__file__).resolve().parents[2]
    sents = load_corpus(root / "data" / "sample" / "en.conllu")[:60]
    fixture = root / "tests" / "fixtures" / "semantic"
    with_trees = load_corpus(fixture / "pipeline.conllu", trees=fixture / "pipeline.ptb")
    shifted, _ = make_bigram_shift(sents, seed=0)
    names = list(SPECS) + ["feats:Number"]
    names += [f"{n}:control" for n in names if get_spec(n).kind in ("token", "edge", "span")]
    for name in names:
        spec = get_spec(name)
        corpus = shifted if name == "bshift" else with_trees if name.startswith(("consts", "infstat")) else sents
        train = build_task(name, corpus)
        assert (train.kind, train.metric) == (spec.kind, spec.metric), name
        assert train.sentence_offsets[-1] == sum(len(s) for s in corpus), name
        if name.endswith(":control"):  # same items as the task, labels from its class list
            base = build_task(name[: -len(":control")], corpus)
            items = {"token": "index", "edge": "pairs", "span": "spans"}[spec.kind]
            assert np.array_equal(getattr(train, items), getattr(base, items)) or name == "dep-arc:control", name
            assert train.classes == base.classes, name
