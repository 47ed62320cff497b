"""GUM (CorefUD entities, PTB trees) and Universal PropBank read whole, counts checked against a
plain count of the files' lines; the semantic tasks build on them (skipped when absent)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from probes.readers import read_corpus
from probes.tasks import build_task

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
GUM, UP = DATA / "gum", DATA / "up"
pytestmark = pytest.mark.integration
GUM_TYPES = {"person", "place", "organization", "object", "event", "time", "substance", "animal", "plant",
             "abstract", "quantity"}


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def gum_dev():
    return read_corpus(need(GUM / "en_gum-dev.conllu"), trees=need(GUM / "en_gum-dev.ptb")).sentences


def test_gum_mentions_and_trees_match_the_files(gum_dev):
    text = (GUM / "en_gum-dev.conllu").read_text(encoding="utf-8")
    openers = sum(v.count("(") for v in re.findall(r"Entity=([^|\t\n]*)", text))
    assert sum(len(s.mentions) for s in gum_dev) == openers
    trees = (GUM / "en_gum-dev.ptb").read_text(encoding="utf-8")
    preterminals = len(re.findall(r"\([^()\s]+ [^()\s]+\)", trees))
    assert sum(len(s.constituents) for s in gum_dev) == trees.count("(") - preterminals
    assert len({s.doc_id for s in gum_dev}) == text.count("# newdoc id")
    first = gum_dev[0]
    assert first.words == ["Introduction"] and [(m.etype, m.infstat) for m in first.mentions] == [("abstract", "new")]


def test_gum_tasks(gum_dev):
    ent = build_task("entities", gum_dev)
    assert set(ent.classes) <= GUM_TYPES and len(ent.y) == sum(len(s.mentions) for s in gum_dev)
    consts = build_task("consts", gum_dev)
    assert {"NP", "VP", "S", "PP"} <= set(consts.classes) and "ROOT" not in consts.classes
    coref = build_task("coref", gum_dev)  # every mention pair of a sentence
    pos = int((coref.y == coref.classes.index("1")).sum())
    assert 1000 < pos < int((coref.y == 0).sum())
    drawn = build_task("coref", gum_dev, options={"window": 2, "negatives": 1})
    assert int((drawn.y == 0).sum()) <= int((drawn.y == 1).sum())  # one negative drawn per positive at most
    info = build_task("infstat", gum_dev)
    assert {"new", "giv", "acc"} <= set(info.classes)


def up_counts(path: Path, layout: str) -> tuple[int, int]:
    """(predicates, arguments) counted from the raw columns of the word lines."""
    preds = args = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if not cols[0].isdigit() or len(cols) <= 10:
            continue
        if layout == "up":
            preds += cols[10] not in ("_", "")
            args += sum(c not in ("_", "", "V") for c in cols[11:])
        else:
            preds += cols[8] == "Y"
            args += sum(c not in ("_", "") for c in cols[10:])
    return preds, args


def test_universal_propbank_english_and_german():
    en = need(UP / "en_ewt-up-dev.conllu")
    sents = read_corpus(en).sentences
    preds, args = up_counts(en, "up")
    assert sum(len(s.predicates) for s in sents) == preds
    assert sum(len(p.arguments) for s in sents for p in s.predicates) == args + sum(
        1 for s in sents for p in s.predicates for a in p.arguments if a.role == "V")
    de = need(UP / "de-up-dev.conllu")
    report = read_corpus(de, skip_invalid=True)
    assert len(report.skipped) == 4 and all("malformed FEATS" in str(s) for s in report.skipped)
    train = build_task("srl", sents)
    german = build_task("srl", report.sentences, train=train)
    assert german.unseen / len(german.y) < 0.01  # A0 / AM-TMP fold into the English inventory
    assert {"ARG0", "ARG1", "ARGM-TMP"} <= {train.classes[c] for c in german.y if c >= 0}
