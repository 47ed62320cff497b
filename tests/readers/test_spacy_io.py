import pytest

from probes.errors import InputError
from probes.readers.conllu import read_conllu
from probes.readers.spacy_io import doc_to_sentences, docs_to_sentences, read_docbin, write_docbin
from probes.records import Sentence, Span

spacy = pytest.importorskip("spacy")

CONLLU = """# sent_id = es-1
# text = Vengo del mercado.
1	Vengo	venir	VERB	_	Mood=Ind|Number=Sing	0	root	_	_
2-3	del	_	_	_	_	_	_	_	_
2	de	de	ADP	_	_	4	case	_	_
3	el	el	DET	_	Definite=Def	4	det	_	_
4	mercado	mercado	NOUN	_	Number=Sing	1	obl	_	SpaceAfter=No
5	.	.	PUNCT	_	_	1	punct	_	_

"""

FIELDS = ("words", "tokens", "word_token", "space_after", "sent_id", "text", "lang", "lemmas", "upos",
          "xpos", "feats", "heads", "deprels", "entities", "comments", "misc")


def test_docbin_round_trip(tmp_path):
    p = tmp_path / "es.conllu"
    p.write_text(CONLLU, encoding="utf-8")
    sents = read_conllu(p)
    plain = Sentence(words=["Ada", "met", "Bob", "."], sent_id="t2", upos=["PROPN", "VERB", "PROPN", "PUNCT"],
                     entities=[Span(0, 1, "PER"), Span(2, 3, "PER")])
    out = tmp_path / "c.spacy"
    write_docbin(sents + [plain], out)
    back = read_docbin(out)
    assert len(back) == 2
    for a, b in zip(sents + [plain], back):
        for f in FIELDS:
            assert getattr(a, f) == getattr(b, f), f


def test_parsed_doc_maps_fields_and_splits_sentences():
    from spacy.tokens import Doc

    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["Ada", "sings", ".", "Bob", "runs", "\n"], spaces=[True, False, True, True, False, False],
              pos=["PROPN", "VERB", "PUNCT", "PROPN", "VERB", "SPACE"], tags=["NNP", "VBZ", ".", "NNP", "VBZ", "_SP"],
              morphs=["Number=Sing", "Tense=Pres", "", "Number=Sing", "Tense=Pres", ""],
              heads=[1, 1, 1, 4, 4, 4], deps=["nsubj", "ROOT", "punct", "nsubj", "ROOT", "dep"],
              ents=["B-PERSON", "O", "O", "B-PERSON", "O", "O"])
    s1, s2 = doc_to_sentences(doc, sent_id="d")
    assert s1.words == ["Ada", "sings", "."] and s1.heads == [2, 0, 2]
    assert s1.deprels == ["nsubj", "root", "punct"]
    assert s1.upos == ["PROPN", "VERB", "PUNCT"] and s1.xpos[0] == "NNP"
    assert s1.feats[1] == {"Tense": "Pres"}
    assert s1.entities == [Span(0, 1, "PERSON")]
    assert s2.words == ["Bob", "runs"] and s2.heads == [2, 0]  # the newline token is not a word
    assert s2.entities == [Span(0, 1, "PERSON")]
    assert (s1.sent_id, s2.sent_id) == ("d-1", "d-2")


def test_unannotated_doc_has_no_labels():
    nlp = spacy.blank("en")
    (s,) = doc_to_sentences(nlp("Hello, world!"))
    assert s.lang == "en"
    nlp.add_pipe("sentencizer")
    a, b, c = docs_to_sentences(nlp.pipe(["One.", "Two. Three."]))
    assert (a.sent_id, b.sent_id, c.sent_id) == ("1", "2-1", "2-2")
    assert (a.words, c.words) == (["One", "."], ["Three", "."])
    assert s.words == ["Hello", ",", "world", "!"]
    assert s.space_after == [False, True, False, False]
    assert s.upos is None and s.heads is None and s.entities is None


def test_bad_docbin(tmp_path):
    p = tmp_path / "x.spacy"
    p.write_bytes(b"not a docbin")
    with pytest.raises(InputError, match="x.spacy: not a readable spaCy DocBin"):
        read_docbin(p)
