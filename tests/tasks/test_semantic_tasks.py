"""Semantic tasks on hand-made files with known items and labels: constituents, entity mentions,
information status, semantic roles (cross-lingual inventory), coreference pairs, jiant and SentEval
files, their control tasks and options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from probes.errors import ProbesError
from probes.readers import load_corpus
from probes.tasks import build_task, get_spec
from probes.tasks.baselines import majority_baseline
from probes.tasks.constituents import constituent_label
from probes.tasks.external import task_name_from_file
from probes.tasks.srl import normalise_role

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "semantic"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(FIX / "pipeline.conllu", trees=FIX / "pipeline.ptb")


def labelled(d, items="spans"):
    return [(tuple(r), d.classes[c]) for r, c in zip(getattr(d, items).tolist(), d.y)]


def test_consts_spans_labels_and_unary_chains(corpus):
    d = build_task("consts", corpus)
    # sentence 3 "Peter wants to sleep ." starts at row 14: S over VP on "to sleep" is one item
    third = [(a - 14, b - 14, lab) for (a, b), lab in labelled(d) if 14 <= a < 19]
    assert third == [(0, 5, "S"), (0, 1, "NP"), (1, 4, "VP"), (2, 4, "S"), (3, 4, "VP")]
    bottom = build_task("consts", corpus, options={"unary": "bottom"})
    assert ((16, 18), "VP") in labelled(bottom) and ((16, 18), "S") in labelled(d)
    assert any("unary chains" in n for n in d.notes) and any("root wrapper" in n for n in d.notes)
    assert constituent_label("NP-SBJ-1") == "NP" and constituent_label("PP-LOC=2") == "PP"
    assert constituent_label("-NONE-") == "-NONE-"
    with pytest.raises(ProbesError, match="option unary must be one of top, bottom"):
        build_task("consts", corpus, options={"unary": "middle"})


def test_entities_and_infstat(corpus):
    e = build_task("entities", corpus)
    assert labelled(e)[:5] == [((0, 1), "person"), ((2, 3), "person"), ((3, 6), "object"), ((7, 10), "person"),
                               ((7, 8), "person")]
    assert any("1 of 9 mentions begin or end inside a multiword token" in n for n in e.notes)
    i = build_task("infstat", corpus)
    assert [lab for _, lab in labelled(i)] == ["new", "new", "new", "new", "giv", "giv", "new", "giv", "new"]


def test_entities_need_mention_annotation():
    plain = load_corpus(Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "semantic" / "up-de.conllu")
    with pytest.raises(ProbesError, match="needs entity mentions"):
        build_task("entities", plain)


def test_srl_pairs_roles_and_core(corpus):
    d = build_task("srl", corpus)
    assert d.kind == "edge" and labelled(d, "pairs")[:3] == [((1, 0), "ARG0"), ((1, 2), "ARG2"), ((1, 5), "ARG1")]
    core = build_task("srl:core", corpus)
    assert "ARGM-TMP" not in core.classes and len(core.y) == len(d.y) - 1
    spans = build_task("srl-spans", corpus)
    assert spans.spans.shape == (13, 4) and spans.spans[0].tolist() == [1, 2, 0, 1]


def test_srl_one_inventory_across_languages(corpus):
    assert normalise_role("A0") == ("ARG0", True) and normalise_role("AM-TMP") == ("ARGM-TMP", True)
    assert normalise_role("R-A1") == ("R-ARG1", True) and normalise_role("c-am-loc") == ("C-ARGM-LOC", True)
    assert normalise_role("AA") == ("ARGA", True) and normalise_role("rel") == ("REL", False)
    train = build_task("srl", corpus)
    german = build_task("srl", load_corpus(FIX / "up-de.conllu"), train=train)
    # A0 -> ARG0 and A1 -> ARG1 are known classes; AM-DIR -> ARGM-DIR was never seen in English
    assert [train.classes[c] if c >= 0 else None for c in german.y] == ["ARG0", None, "ARG0", "ARG1", "ARG1"]
    assert german.unseen == 1 and "'ARGM-DIR' x1" in german.notes[-1]


def test_srl_on_span_based_srl_points_to_srl_spans():
    onto = load_corpus(FIX / "sample.v4_gold_conll")
    with pytest.raises(ProbesError, match="use srl-spans"):
        build_task("srl", onto)
    d = build_task("srl-spans", onto)
    assert labelled(d)[0] == ((2, 3, 0, 2), "ARG0") and len(d.y) == 6


def test_coref_pairs_known_counts_and_reproducible_draws(corpus):
    near = {"window": 2, "negatives": 1}
    everything = build_task("coref", corpus, options={"window": 2, "negatives": "all"})
    assert len(everything.y) == 18 and sum(everything.classes[c] == "1" for c in everything.y) == 3
    d = build_task("coref", corpus, options=near)
    assert d.metric == "positive_f1" and d.positive_label == "1" and d.spans.shape == (5, 4)
    positives = [tuple(r) for r, c in zip(d.spans.tolist(), d.y) if d.classes[c] == "1"]
    assert positives == [(0, 1, 7, 8), (3, 6, 11, 12), (14, 15, 19, 20)]  # Anna~Anna, book~it, Peter~He
    assert np.array_equal(build_task("coref", corpus, options=near).spans, d.spans)  # same data and seed
    other = [tuple(r) for r in build_task("coref", corpus, seed=5, options=near).spans.tolist()]
    assert set(positives) <= set(other)
    assert len(build_task("coref", corpus, options={"window": 1, "negatives": "all"}).y) == 18  # all <= 1 apart
    assert majority_baseline(d, d) == pytest.approx(0.75)  # 3 of 5 are '1': F1 = 2*3 / (2*3 + 2)
    assert majority_baseline(everything, everything) == 0.0  # majority '0': positive F1 is 0
    with pytest.raises(ProbesError, match="no mention pair within 0 sentence"):
        build_task("coref", corpus, options={"negatives": 1})
    with pytest.raises(ProbesError, match="all non-coreferent"):
        build_task("coref", corpus)  # the default, pairs within a sentence: none corefers in this file
    with pytest.raises(ProbesError, match="unknown option 'windows'"):
        build_task("coref", corpus, options={"windows": 1})


def test_control_tasks_keep_items_and_draw_by_words(corpus):
    for name in ("consts", "entities", "srl", "coref"):
        opts = {"window": 2} if name == "coref" else None
        base, ctrl = build_task(name, corpus, options=opts), build_task(f"{name}:control", corpus, options=opts)
        items = "pairs" if base.kind == "edge" else "spans"
        assert np.array_equal(getattr(base, items), getattr(ctrl, items)) and ctrl.classes == base.classes
    # the two mentions "Anna" get one control label: it is a function of the words
    ctrl = build_task("entities:control", corpus)
    assert ctrl.y[0] == ctrl.y[4]
    assert not np.array_equal(build_task("consts:control", corpus, seed=1).y, build_task("consts:control", corpus).y)


def test_edges_from_jiant_files_single_and_multi_label():
    rel = load_corpus(FIX / "semeval.train.json")
    d = build_task("edges:semeval", rel)
    assert d.kind == "span" and d.spans.shape == (3, 4) and d.classes == [
        "Entity-Origin(e1,e2)", "Other", "Product-Producer(e2,e1)"]
    spr = build_task("edges:spr1", load_corpus(FIX / "spr1.train.json"))
    assert spr.y is None and spr.metric == "micro_f1"
    assert spr.classes == ["awareness", "changes_possession", "existed_after", "volition"]
    assert spr.Y.tolist() == [[1, 0, 0, 1], [0, 1, 0, 0], [1, 0, 1, 1]]
    ctrl = build_task("edges:spr1:control", load_corpus(FIX / "spr1.train.json"))
    assert ctrl.Y.shape == spr.Y.shape and ctrl.classes == spr.classes
    # per label: predict it when most training items carry it (awareness, volition) -> micro-F1 6/9... by hand:
    # predicted {aw, vol} x 3 items: TP 4, FP 2, FN 2 -> F1 = 8 / 12
    assert majority_baseline(spr, spr) == pytest.approx(8 / 12)


def test_senteval_task_and_names_from_files():
    d = build_task("senteval:past_present", load_corpus(FIX / "past_present.txt", split="tr"))
    assert d.kind == "sentence" and [d.classes[c] for c in d.y] == ["PRES", "PAST"]
    assert task_name_from_file("senteval", "/x/past_present.txt") == "senteval:past_present"
    assert task_name_from_file("edges", "/x/spr1/train.json") == "edges:spr1"
    assert task_name_from_file("edges", "/x/spr1.train.json") == "edges:spr1"
    assert task_name_from_file("edges", "/x/semeval/train.0.85.json") == "edges:semeval"
    assert get_spec("edges:spr1:control").kind == "span"


def test_unknown_task_suggests_a_name():
    with pytest.raises(ProbesError, match="did you mean coref"):
        get_spec("corref")
