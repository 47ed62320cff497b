import pytest

from probes.errors import InputError
from probes.readers.conllu import format_conllu, read_conllu, read_conllu_report

ES = """# sent_id = es-1
# text = Vengo del mercado.
# newdoc id = d1
1	Vengo	venir	VERB	_	Mood=Ind|Number=Sing|Person=1|Tense=Pres	0	root	_	_
2-3	del	_	_	_	_	_	_	_	_
2	de	de	ADP	_	_	4	case	_	_
3	el	el	DET	_	Definite=Def|Gender=Masc	4	det	_	_
4	mercado	mercado	NOUN	_	Gender=Masc|Number=Sing	1	obl	_	SpaceAfter=No
5	.	.	PUNCT	_	_	1	punct	_	_

"""

EMPTY_NODE = """# sent_id = e-1
1	Sue	Sue	PROPN	_	_	2	nsubj	_	_
2	likes	like	VERB	_	_	0	root	_	_
3	coffee	coffee	NOUN	_	_	2	obj	_	_
3.1	likes	like	VERB	_	_	_	_	2:conj	_
4	and	and	CCONJ	_	_	5	cc	_	_
5	Bill	Bill	PROPN	_	_	2	conj	_	_
6	tea	tea	NOUN	_	_	5	orphan	_	_
"""


def write(tmp_path, text, name="x.conllu", newline="\n"):
    p = tmp_path / name
    p.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return p


def test_multiword_token_words_share_surface_token(tmp_path):
    (s,) = read_conllu(write(tmp_path, ES))
    assert s.words == ["Vengo", "de", "el", "mercado", "."]
    assert s.tokens == ["Vengo", "del", "mercado", "."]
    assert s.word_token == [0, 1, 1, 2, 3]
    assert s.space_after == [True, True, False, True]
    assert s.sent_id == "es-1" and s.text == "Vengo del mercado."
    assert s.comments == ["newdoc id = d1"]
    assert s.heads == [0, 4, 4, 1, 1]
    assert s.deprels == ["root", "case", "det", "obl", "punct"]
    assert s.feats[0] == {"Mood": "Ind", "Number": "Sing", "Person": "1", "Tense": "Pres"}
    assert s.feats[1] == {}
    assert s.feats[2]["Definite"] == "Def"
    assert s.upos[4] == "PUNCT"


def test_empty_nodes_are_not_words_and_keep_ids(tmp_path):
    rep = read_conllu_report(write(tmp_path, EMPTY_NODE))
    (s,) = rep.sentences
    assert s.words == ["Sue", "likes", "coffee", "and", "Bill", "tea"]
    assert s.heads == [2, 0, 2, 5, 2, 5]
    assert rep.empty_nodes == 1


def test_crlf_and_missing_final_blank_line(tmp_path):
    text = ES + EMPTY_NODE.rstrip("\n")
    sents = read_conllu(write(tmp_path, text, newline="\r\n"))
    assert [s.sent_id for s in sents] == ["es-1", "e-1"]
    assert sents[1].words[-1] == "tea"  # no stray \r
    assert sents[0].text == "Vengo del mercado."


def test_cr_only_line_endings_are_named_not_quoted(tmp_path):
    p = tmp_path / "mac.conllu"
    p.write_bytes(("# sent_id = a\n" + GOOD.replace("\n", "\r") * 50).encode())
    with pytest.raises(InputError) as exc:
        read_conllu(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}:2: ") and "CR-only line endings" in msg and len(msg) < 300


def test_spaces_in_form_and_lemma_are_allowed(tmp_path):
    p = write(tmp_path, "1\tNew York\tNew York\tPROPN\t_\t_\t0\troot\t_\t_\n")
    assert read_conllu(p)[0].words == ["New York"]


def test_lang_from_file_name(tmp_path):
    (s,) = read_conllu(write(tmp_path, ES, name="es_gsd-ud-dev.conllu"))
    assert s.lang == "es"


GOOD = "1\tA\ta\tDET\t_\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n"


@pytest.mark.parametrize("body, line, reason", [
    ("1\tA\ta\tDET\t_\t_\t2\tdet\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "column count"),
    ("x\tA\ta\tDET\t_\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "not an integer"),
    ("1\tA\ta\tDET\t_\t_\t2\tdet\t_\t_\n3\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 4, "out of order"),
    ("1\tA\ta\tDET\t_\t_\t7\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "out of range"),
    ("1\tA\ta\tDET\t_\t_\tx\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "HEAD 'x'"),
    ("1\tA\ta\tDET\t_\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t1\tnsubj\t_\t_\n", 3, "no root"),
    ("1\tA\ta\tDET\t_\t_\t1\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "cycle"),
    ("1\tA\ta\tDET\t_\t_\t0\troot\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 4, "several roots"),
    ("1-3\tAdog\t_\t_\t_\t_\t_\t_\t_\t_\n" + GOOD, 3, "ends at 3"),
    ("1-1\tA\t_\t_\t_\t_\t_\t_\t_\t_\n" + GOOD, 3, "bad multiword"),
    ("2-3\tA\t_\t_\t_\t_\t_\t_\t_\t_\n" + GOOD, 3, "bad multiword"),
    ("1-x\tA\t_\t_\t_\t_\t_\t_\t_\t_\n" + GOOD, 3, "multiword range end"),
    ("1\tA\ta\tDET\t_\t_\t2\tdet\t_\t_\n1.2\tA\ta\tDET\t_\t_\t_\t_\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n",
     4, "empty node 1.2"),
    ("1\tA\ta\tDET\t_\tNumber\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "FEATS"),
    ("1\tA\ta\tDET\t_\t_\t_\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "HEAD is '_'"),
    ("1\tA\ta\tDET\t_\t_\t2\tdet x\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3,
     "DEPREL 'det x' contains a space"),
    ("1\tA\ta\tDE T\t_\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n", 3, "UPOS 'DE T'"),
])
def test_malformed_sentence_names_file_line_and_sentence(tmp_path, body, line, reason):
    # the bad sentence starts on line 5 (comment), its first word is line 6
    text = "# sent_id = ok-1\n" + GOOD + "\n# sent_id = bad-2\n" + body + "\n# sent_id = ok-3\n" + GOOD
    p = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        read_conllu(p)
    err = exc.value
    assert err.line == line + 3, str(err)
    assert err.sent_id == "bad-2"
    assert reason in str(err)
    assert str(err).startswith(f"{p}:{line + 3} (sentence bad-2): ")

    rep = read_conllu_report(p, skip_invalid=True)
    assert [s.sent_id for s in rep.sentences] == ["ok-1", "ok-3"]
    assert len(rep.skipped) == 1
    assert rep.skipped[0].line == line + 3 and rep.skipped[0].sent_id == "bad-2"


def test_no_root(tmp_path):
    p = write(tmp_path, "# sent_id = n\n1\tA\ta\tDET\t_\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\t_\t_\t1\tx\t_\t_\n")
    with pytest.raises(InputError, match=r"x.conllu:2 \(sentence n\): (no root|cycle)"):
        read_conllu(p)


def test_root_only_cycle_elsewhere(tmp_path):
    body = ("1\tA\ta\tX\t_\t_\t0\troot\t_\t_\n2\tB\tb\tX\t_\t_\t3\tdep\t_\t_\n"
            "3\tC\tc\tX\t_\t_\t2\tdep\t_\t_\n")
    with pytest.raises(InputError, match=r":2 \(sentence #1\): cycle in HEAD: words 2 -> 3 -> 2"):
        read_conllu(write(tmp_path, body))


def test_not_utf8_reports_line(tmp_path):
    p = tmp_path / "bad.conllu"
    p.write_bytes(("# sent_id = u1\n" + GOOD).encode() + b"\n# sent_id = u2\n1\tcaf\xe9\tx\tX\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(InputError) as exc:
        read_conllu(p)
    assert exc.value.line == 6 and exc.value.sent_id == "u2" and "UTF-8" in str(exc.value)


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty.conllu:1: empty file"):
        read_conllu(write(tmp_path, "\n\n", name="empty.conllu"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_conllu(tmp_path / "nope.conllu")


def test_skip_invalid_prints_each_skipped(tmp_path, capsys):
    bad = "# sent_id = b\n1\tA\ta\tX\t_\t_\t5\tdep\t_\t_\n"
    p = write(tmp_path, "# sent_id = g\n" + GOOD + "\n" + bad + "\n" + bad.replace("= b", "= c"))
    sents = read_conllu(p, skip_invalid=True)
    assert [s.sent_id for s in sents] == ["g"]
    err = capsys.readouterr().err
    assert "sentence b" in err and "sentence c" in err and "skipped 2 invalid" in err


def test_all_invalid_is_an_error(tmp_path):
    p = write(tmp_path, "1\tA\ta\tX\t_\t_\t5\tdep\t_\t_\n")
    with pytest.raises(InputError, match="no valid sentence"):
        read_conllu(p, skip_invalid=True)


def test_unparsed_file_has_no_heads(tmp_path):
    p = write(tmp_path, "1\tA\t_\t_\t_\t_\t_\t_\t_\t_\n2\tdog\t_\t_\t_\t_\t_\t_\t_\t_\n")
    (s,) = read_conllu(p)
    assert s.heads is None and s.upos is None and s.words == ["A", "dog"]


def test_bio_entities_in_misc(tmp_path):
    body = ("1\tJohn\t_\tPROPN\t_\t_\t3\tnsubj\t_\tNE=B-PER\n2\tSmith\t_\tPROPN\t_\t_\t1\tflat\t_\tNE=I-PER\n"
            "3\tvisited\t_\tVERB\t_\t_\t0\troot\t_\tNE=O\n4\tParis\t_\tPROPN\t_\t_\t3\tobj\t_\tNE=B-LOC\n")
    (s,) = read_conllu(write(tmp_path, body))
    assert [(e.start, e.end, e.label) for e in s.entities] == [(0, 2, "PER"), (3, 4, "LOC")]
    (s2,) = read_conllu(write(tmp_path, GOOD, name="y.conllu"))
    assert s2.entities is None
    # a file that tags only its entity words: sentences without a tag have no entity, not no annotation
    s3, s4 = read_conllu(write(tmp_path, body + "\n" + GOOD, name="z.conllu"))
    assert len(s3.entities) == 2 and s4.entities == []


def test_format_round_trip(tmp_path):
    sents = read_conllu(write(tmp_path, ES + EMPTY_NODE))
    p2 = write(tmp_path, format_conllu(sents), name="out.conllu")
    again = read_conllu(p2)
    for a, b in zip(sents, again):
        assert (a.words, a.tokens, a.word_token, a.space_after, a.heads, a.feats, a.sent_id, a.text) == \
               (b.words, b.tokens, b.word_token, b.space_after, b.heads, b.feats, b.sent_id, b.text)


def test_conllu_plus_bio_column(tmp_path):
    text = ("# global.columns = ID FORM UPOS HEAD DEPREL NE\n# sent_id = p1\n"
            "1\tAda\tPROPN\t2\tnsubj\tB-PER\n2\tvisited\tVERB\t0\troot\tO\n3\tNew\tPROPN\t4\tcompound\tB-LOC\n"
            "4\tYork\tPROPN\t2\tobj\tI-LOC\n\n# sent_id = p2\n1\tHi\tINTJ\t0\troot\t*\n")
    p = write(tmp_path, text, name="plus.conllup.conllu")
    s1, s2 = read_conllu(p)
    assert s1.sent_id == "p1" and s1.upos == ["PROPN", "VERB", "PROPN", "PROPN"] and s1.lemmas is None
    assert s1.heads == [2, 0, 4, 2]
    assert [(e.start, e.end, e.label) for e in s1.entities] == [(0, 1, "PER"), (2, 4, "LOC")]
    assert s2.entities == [] and s1.comments == []
    bad = text.replace("1\tHi\tINTJ\t0\troot\t*", "1\tHi\tINTJ\t0\troot")
    with pytest.raises(InputError, match=r":9 \(sentence p2\): wrong column count \(5, expected 6"):
        read_conllu(write(tmp_path, bad, name="bad.conllu"))


def test_header_only_file(tmp_path):
    with pytest.raises(InputError, match="h.conllu:1: no sentences after the global.columns header"):
        read_conllu(write(tmp_path, "# global.columns = ID FORM\n\n", name="h.conllu"))
    (s,) = read_conllu(write(tmp_path, "# global.columns = ID FORM\n\n1\tHi\n", name="h2.conllu"))
    assert s.sent_id == "#1" and s.heads is None
