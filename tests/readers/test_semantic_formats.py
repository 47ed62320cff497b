"""Readers of the semantic annotation formats, on hand-made files with known spans and labels:
CorefUD Entity= (nested, discontinuous, over multiword tokens, errors), Universal PropBank columns
(both layouts, three predicates), Penn Treebank trees (unary chains, escapes, mismatches), CoNLL-2012,
jiant edge-probing JSON and SentEval files."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.errors import InputError, ProbesError
from probes.readers import detect_format, load_corpus, read_corpus
from probes.readers.ptb import iter_trees

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "semantic"
T = "\t"


def conllu(tmp_path, rows: list[str], name="c.conllu") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    return p


def word(i, form, head, rel, misc="_", upos="NOUN"):
    return T.join([str(i), form, form.lower(), upos, "_", "_", str(head), rel, "_", misc])


# ----- CorefUD ----------------------------------------------------------------------------------
def test_corefud_nested_mentions_documents_and_fields():
    s1, s2, s3, s4 = load_corpus(FIX / "pipeline.conllu")
    assert [(m.start, m.end, m.entity, m.etype, m.infstat) for m in s2.mentions] == [
        (0, 3, "e4", "person", "new"), (0, 1, "e1", "person", "giv"), (4, 5, "e3", "object", "giv")]
    assert [s.doc_id for s in (s1, s2, s3, s4)] == ["d1", "d1", "d2", "d2"]
    # nested mention over the first word of the multiword token "Anna's"
    assert s2.tokens[0] == "Anna's" and s2.word_token[:2] == [0, 0]


def test_corefud_default_fields_head_and_discontinuous(tmp_path):
    rows = ["# sent_id = s1",
            word(1, "Put", 0, "root", "Entity=(e1[1/2]-object-1)", "VERB"),
            word(2, "it", 1, "obj", "Entity=(e2-object-1)"),
            word(3, "down", 1, "compound:prt", "Entity=(e1[2/2]-object-1)", "ADP")]
    (s,) = load_corpus(conllu(tmp_path, rows))
    disc = next(m for m in s.mentions if m.entity == "e1")
    assert disc.discontinuous and disc.parts == [(0, 1), (2, 3)] and (disc.start, disc.end) == (0, 3)
    assert disc.etype == "object" and disc.attrs == {"head": "1"}


@pytest.mark.parametrize("misc, message", [
    (["Entity=(e1-person", "_"], "not closed in its sentence"),
    (["_", "Entity=e1)"], "has no open mention"),
    (["Entity=(e1[1/2]-person)", "_"], "has 1 of its 2 pieces"),
    (["Entity=((e1", "_"], "empty mention bracket"),
])
def test_corefud_bad_brackets_name_the_line(tmp_path, misc, message):
    rows = ["# sent_id = bad", word(1, "Anna", 2, "nsubj", misc[0]), word(2, "sleeps", 0, "root", misc[1], "VERB")]
    with pytest.raises(InputError, match=message) as err:
        load_corpus(conllu(tmp_path, rows))
    assert "(sentence bad)" in str(err.value) and "c.conllu:" in str(err.value)


def test_corefud_entity_on_a_multiword_token_line_is_refused(tmp_path):
    rows = ["# sent_id = m", T.join(["1-2", "zum"] + ["_"] * 7 + ["Entity=(e1-place-1)"]),
            word(1, "zu", 2, "case", upos="ADP"), word(2, "dem", 0, "root", upos="DET")]
    with pytest.raises(InputError, match="multiword token line 1-2"):
        load_corpus(conllu(tmp_path, rows))


def test_mentions_none_without_annotation_and_empty_lists_with_it(tmp_path):
    plain = load_corpus(conllu(tmp_path, [word(1, "Hi", 0, "root")], "plain.conllu"))
    assert plain[0].mentions is None and plain[0].predicates is None
    rows = [word(1, "Anna", 0, "root", "Entity=(e1-person)"), "", word(1, "Hi", 0, "root")]
    a, b = load_corpus(conllu(tmp_path, rows, "some.conllu"))
    assert len(a.mentions) == 1 and b.mentions == []


# ----- Universal PropBank ------------------------------------------------------------------------
def test_propbank_up_layout_three_predicates():
    s4 = load_corpus(FIX / "pipeline.conllu")[3]  # He said that she came and left.
    assert [(p.start, p.sense, [(a.start, a.role) for a in p.arguments]) for p in s4.predicates] == [
        (1, "say.01", [(0, "ARG0"), (4, "ARG1")]), (4, "come.01", [(3, "ARG1")]), (6, "leave.01", [(3, "ARG0")])]
    assert all(p.heads for p in s4.predicates)


def test_propbank_conll09_layout_with_multiword_token():
    s1, s2, s3 = load_corpus(FIX / "up-de.conllu")
    assert s1.words == ["Anna", "ging", "zu", "dem", "Markt", "."] and s1.deprels[4] == "nmod"
    assert s1.misc[0] == {}  # the FILLPRED / sense columns are not read as DEPS / MISC
    assert [(p.sense, [(a.start, a.role) for a in p.arguments]) for p in s1.predicates] == [
        ("go.02", [(0, "A0"), (4, "AM-DIR")])]
    assert s2.predicates == []  # a sentence without predicates: 10 columns
    assert [p.sense for p in s3.predicates] == ["say.01", "come.01"]
    assert s1.sent_id == "#1"  # '# sent_id dev-s1/de' has no '=': kept as a comment


def test_propbank_argument_columns_must_match_predicates(tmp_path):
    rows = [T.join([word(1, "Anna", 2, "nsubj"), "_", "ARG0", "ARG1"]),
            T.join([word(2, "sleeps", 0, "root", upos="VERB"), "sleep.01", "V", "_"])]
    with pytest.raises(InputError, match=r"c.conllu:1 .*2 argument column\(s\) but the sentence has 1 predicate"):
        load_corpus(conllu(tmp_path, rows))
    rows = [T.join([word(1, "Anna", 2, "nsubj"), "_", "ARG0"]), T.join([word(2, "sleeps", 0, "root"), "sleepy", "V"])]
    with pytest.raises(InputError, match="not a predicate sense"):
        load_corpus(conllu(tmp_path, rows, "s.conllu"))


def test_propbank_layouts_cannot_mix(tmp_path):
    rows = [T.join([word(1, "Anna", 2, "nsubj"), "_", "ARG0"]), T.join([word(2, "sleeps", 0, "root"), "sleep.01", "V"]),
            "", T.join(["1", "Er", "er", "PRON", "_", "_", "2", "nsubj", "_", "_", "A0"]),
            T.join(["2", "kam", "kommen", "VERB", "_", "_", "0", "root", "Y", "come.01", "_"])]
    with pytest.raises(InputError, match="'conll09' PropBank layout but line 2 set 'up'"):
        load_corpus(conllu(tmp_path, rows))


# ----- Penn Treebank -----------------------------------------------------------------------------
def test_ptb_unary_chain_preorder_and_multiline_tree():
    trees = list(iter_trees(FIX / "pipeline.ptb"))
    assert len(trees) == 4 and trees[3].line == 4  # the fourth tree spans lines 4-8
    labels = [(c.start, c.end, c.label) for c in trees[2].constituents]
    assert labels == [(0, 5, "ROOT"), (0, 5, "S"), (0, 1, "NP-SBJ-1"), (1, 4, "VP"), (2, 4, "S"), (2, 4, "VP"),
                      (3, 4, "VP")]
    assert trees[2].tags == ["NNP", "VBZ", "TO", "VB", "."]


def test_ptb_on_its_own_escapes_and_empty_elements(tmp_path):
    p = tmp_path / "t.ptb"
    p.write_text("( (S (NP-SBJ (-NONE- *T*-1)) (NP (-LRB- -LRB-) (NN friend-LRB-s-RRB-) (-RRB- -RRB-)) "
                 "(VP (VBD left) (NP (CD 1\\/2)))))\n", encoding="utf-8")
    assert detect_format(p) == "ptb"
    (s,) = load_corpus(p)
    assert s.words == ["(", "friend(s)", ")", "left", "1/2"] and s.xpos[0] == "-LRB-"
    # the empty subject vanished with its NP; the root has an empty label
    assert [(c.start, c.end, c.label) for c in s.constituents] == [(0, 5, ""), (0, 5, "S"), (0, 3, "NP"),
                                                                  (3, 5, "VP"), (4, 5, "NP")]


def test_ptb_trees_that_do_not_match_name_the_sentence(tmp_path):
    bad = tmp_path / "bad.ptb"
    text = (FIX / "pipeline.ptb").read_text(encoding="utf-8").replace("(NN book)", "(NN books)")
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.ptb:1 \(sentence d1-1 .*leaf 6 is 'books' but word 6 is 'book'"):
        load_corpus(FIX / "pipeline.conllu", trees=bad)
    short = tmp_path / "short.ptb"
    short.write_text("\n".join(text.splitlines()[:3]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="3 trees but the corpus they go with has 4 sentences"):
        load_corpus(FIX / "pipeline.conllu", trees=short)
    broken = tmp_path / "broken.ptb"
    broken.write_text("(S (NP (DT a) (NN b))\n", encoding="utf-8")
    with pytest.raises(InputError, match="left open at the end of the file"):
        list(iter_trees(broken))


# ----- CoNLL-2012 ---------------------------------------------------------------------------------
def test_conll2012_all_layers():
    report = read_corpus(FIX / "sample.v4_gold_conll")
    s1, s2 = report.sentences
    assert s1.words == ["John", "Smith", "visited", "Paris", "yesterday", "."] and s1.xpos[2] == "VBD"
    assert s1.doc_id == s2.doc_id == "nw/test/00/t_0001/000" and s2.sent_id == "nw/test/00/t_0001/000/1"
    assert [(c.start, c.end, c.label) for c in s2.constituents] == [
        (0, 6, "TOP"), (0, 6, "S"), (0, 1, "NP"), (1, 5, "VP"), (1, 3, "VP"), (2, 3, "NP"), (4, 5, "VP")]
    assert [(e.start, e.end, e.label) for e in s1.entities] == [(0, 2, "PERSON"), (3, 4, "GPE"), (4, 5, "DATE")]
    (visit,) = s1.predicates
    assert (visit.start, visit.sense, visit.heads) == (2, "visit.01", False)
    assert [(a.start, a.end, a.role) for a in visit.arguments] == [(0, 2, "ARG0"), (3, 4, "ARG1"), (4, 5, "ARGM-TMP")]
    assert [p.sense for p in s2.predicates] == ["like.01", "stay.01"]
    assert [(m.start, m.end, m.entity) for m in s1.mentions + s2.mentions] == [(0, 2, "1"), (3, 4, "2"), (0, 1, "1"),
                                                                              (2, 3, "2")]


def test_conll2012_errors(tmp_path):
    text = (FIX / "sample.v4_gold_conll").read_text(encoding="utf-8")
    p = tmp_path / "x_gold_conll"
    p.write_text(text.replace("(ARG1*)     (2)", "(ARG1*      (2)"), encoding="utf-8")
    with pytest.raises(InputError, match=r"x_gold_conll:5 \(sentence nw/test/00/t_0001/000/0\): SRL \(column 12\) "
                                         r"bracket \(ARG1 opened here is not closed"):
        read_corpus(p)
    p.write_text(text.replace("#begin document (nw/test/00/t_0001); part 000\n", ""), encoding="utf-8")
    with pytest.raises(InputError, match="outside '#begin document'"):
        read_corpus(p)


# ----- jiant and SentEval ---------------------------------------------------------------------------
def test_jiant_two_span_multilabel_and_merged_records():
    spr = read_corpus(FIX / "spr1.train.json")
    assert detect_format(FIX / "spr1.train.json") == "jiant"
    s = spr.sentences[0]
    assert s.words == ["The", "cat", "chased", "a", "mouse", "."] and s.sent_id == "s1" and s.doc_id == "d1"
    assert [(t.span1, t.span2, t.label) for t in s.targets] == [((2, 3), (0, 2), ("awareness", "volition")),
                                                              ((2, 3), (3, 5), "changes_possession")]
    rel = read_corpus(FIX / "semeval.train.json")
    assert len(rel.sentences) == 2 and len(rel.sentences[0].targets) == 2  # the repeated record merged
    assert rel.notes == ["1 record(s) repeating the previous record's sentence merged into it"]


@pytest.mark.parametrize("record, message", [
    ('{"text": "a b", "targets": [{"span1": [1, 3], "label": "X"}]}', r"span1 \[1, 3\] is empty or outside"),
    ('{"text": "a b", "targets": [{"span1": [0, 1]}]}', "needs span1 and label"),
    ('{"text": "a b", "targets": [{"span1": [0, 1], "label": 3.5}]}', "label must be a string"),
    ('{"targets": []}', "object with a 'text' string"),
    ('{"text": "a b", ', "not valid JSON"),
])
def test_jiant_errors_name_the_line(tmp_path, record, message):
    p = tmp_path / "t.jsonl"
    p.write_text('{"text": "ok", "targets": []}\n' + record + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"t.jsonl:2 \(sentence record 2\): .*{message}"):
        read_corpus(p)


def test_jiant_one_and_two_span_targets_cannot_mix(tmp_path):
    p = tmp_path / "m.json"
    p.write_text('{"text": "a b", "targets": [{"span1": [0, 1], "label": "X"}]}\n'
                 '{"text": "c d", "targets": [{"span1": [0, 1], "span2": [1, 2], "label": "Y"}]}\n', encoding="utf-8")
    with pytest.raises(InputError, match="m.json:2.*two spans but line 1 has one"):
        read_corpus(p)


def test_senteval_splits():
    path = FIX / "past_present.txt"
    assert detect_format(path) == "senteval"
    train = load_corpus(path, split="tr")
    assert [(s.words, s.label) for s in train] == [(["She", "walks", "to", "school", "."], "PRES"),
                                                  (["She", "walked", "to", "school", "."], "PAST")]
    assert [s.sent_id for s in load_corpus(path, split="test")] == ["te-1", "te-2"]
    with pytest.raises(ProbesError, match="unknown SentEval split"):
        load_corpus(path, split="xx")
    with pytest.raises(ProbesError, match="applies to SentEval files only"):
        load_corpus(FIX / "pipeline.conllu", split="tr")


def test_senteval_bad_line(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("tr\tA\ta b\nxx\tB\tc d\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s.txt:2 \(sentence line 2\): expected 'tr\|va\|te"):
        load_corpus(p)
