"""The embedded sample corpus (data/sample/*.conllu) read with the suite's own CoNLL-U reader.

Checks what `probes demo` relies on: every language file is parallel to English (same sent_ids in
the same order), every sentence is one well-formed UD tree with UD tags and features, and the
surface tokens with their SpaceAfter flags reproduce the `# text` line exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from probes.readers.conllu import read_conllu

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
LANG_FILES = sorted(SAMPLE_DIR.glob("*.conllu"))
MIN_SENTENCES = 200

UPOS_TAGS = {
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
    "PUNCT", "SCONJ", "SYM", "VERB", "X",
}
# The 37 universal relations of UD v2; language-specific subtypes follow a colon (obl:tmod).
UNIVERSAL_DEPRELS = {
    "acl", "advcl", "advmod", "amod", "appos", "aux", "case", "cc", "ccomp", "clf", "compound",
    "conj", "cop", "csubj", "dep", "det", "discourse", "dislocated", "expl", "fixed", "flat",
    "goeswith", "iobj", "list", "mark", "nmod", "nsubj", "nummod", "obj", "obl", "orphan",
    "parataxis", "punct", "reparandum", "root", "vocative", "xcomp",
}
FEAT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*(\[[a-z0-9]+\])?$")
FEAT_VALUE = re.compile(r"^[A-Z0-9][A-Za-z0-9]*(,[A-Z0-9][A-Za-z0-9]*)*$")


def _lang(path: Path) -> str:
    return path.stem


@pytest.fixture(scope="module")
def corpora() -> dict[str, list]:
    """Every sample language file, read once with the suite's reader (errors are not skipped)."""
    return {_lang(p): read_conllu(p, skip_invalid=False) for p in LANG_FILES}


def test_english_and_german_are_present():
    names = {p.name for p in LANG_FILES}
    assert {"en.conllu", "de.conllu"} <= names


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_size_and_parallel_ids(path, corpora):
    sents = corpora[_lang(path)]
    assert len(sents) >= MIN_SENTENCES
    ids = [s.sent_id for s in sents]
    assert len(set(ids)) == len(ids), "duplicate sent_id"
    assert ids == [s.sent_id for s in corpora["en"]], "sent_ids differ from English (not parallel)"
    assert ids[0] == "sample-0001"


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_lang_comment_matches_file(path, corpora):
    for s in corpora[_lang(path)]:
        assert f"lang = {_lang(path)}" in s.comments, s.sent_id


def _depth_or_cycle(heads: list[int]) -> list[int]:
    """Depth of every word (root = 0); raises AssertionError on a cycle."""
    depths = []
    for i in range(len(heads)):
        seen, j, d = set(), i + 1, 0
        while heads[j - 1] != 0:
            assert j not in seen, f"cycle through word {j}"
            seen.add(j)
            j = heads[j - 1]
            d += 1
        depths.append(d)
    return depths


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_every_sentence_is_one_ud_tree(path, corpora):
    for s in corpora[_lang(path)]:
        n = len(s.words)
        assert s.heads is not None and s.deprels is not None, s.sent_id
        assert all(0 <= h <= n for h in s.heads), s.sent_id
        assert all(h != i + 1 for i, h in enumerate(s.heads)), f"{s.sent_id}: self-loop"
        roots = [i for i, h in enumerate(s.heads) if h == 0]
        assert len(roots) == 1, f"{s.sent_id}: {len(roots)} roots"
        for i, (h, rel) in enumerate(zip(s.heads, s.deprels)):
            assert (h == 0) == (rel == "root"), f"{s.sent_id} word {i + 1}: HEAD {h} with {rel}"
            assert rel.split(":")[0] in UNIVERSAL_DEPRELS, f"{s.sent_id}: deprel {rel}"
        _depth_or_cycle(s.heads)


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_tags_and_features(path, corpora):
    for s in corpora[_lang(path)]:
        assert s.upos is not None and s.lemmas is not None and s.feats is not None, s.sent_id
        for i, (u, rel) in enumerate(zip(s.upos, s.deprels)):
            assert u in UPOS_TAGS, f"{s.sent_id} word {i + 1}: UPOS {u}"
            assert (u == "PUNCT") == (rel == "punct"), f"{s.sent_id} word {i + 1}: {u} with {rel}"
        assert all(lemma not in ("", "_") for lemma in s.lemmas), s.sent_id
        for i, feats in enumerate(s.feats):
            for name, value in feats.items():
                assert FEAT_NAME.match(name), f"{s.sent_id} word {i + 1}: feature {name!r}"
                assert FEAT_VALUE.match(value), f"{s.sent_id} word {i + 1}: {name}={value!r}"


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_feats_column_is_sorted_and_unique(path):
    # The reader returns a dict, so order and duplicates are checked on the raw column.
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        cols = line.split("\t")
        if len(cols) < 10 or cols[5] == "_":
            continue
        names = [item.partition("=")[0] for item in cols[5].split("|")]
        assert names == sorted(names, key=str.lower), f"{path.name}:{lineno}: FEATS not sorted"
        assert len(set(names)) == len(names), f"{path.name}:{lineno}: repeated feature"


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_tokens_and_space_after_reproduce_text(path, corpora):
    for s in corpora[_lang(path)]:
        assert s.text, s.sent_id
        pieces = []
        for tok, space in zip(s.tokens, s.space_after):
            pieces.append(tok + (" " if space else ""))
        assert "".join(pieces).rstrip(" ") == s.text, s.sent_id
        # every word maps to a token, in order, and every token carries at least one word
        assert s.word_token == sorted(s.word_token), s.sent_id
        assert set(s.word_token) == set(range(len(s.tokens))), s.sent_id
        if _lang(path) != "zh":  # Chinese is written without spaces between words
            assert "".join(s.tokens) == s.text.replace(" ", ""), s.sent_id


def test_known_english_tree(corpora):
    first = corpora["en"][0]
    assert first.text == "The cat sleeps on the sofa."
    assert first.words == ["The", "cat", "sleeps", "on", "the", "sofa", "."]
    assert first.upos == ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]
    assert first.heads == [2, 3, 0, 6, 6, 3, 3]
    assert first.deprels == ["det", "nsubj", "root", "case", "det", "obl", "punct"]
    assert first.feats[2] == {"Mood": "Ind", "Number": "Sing", "Person": "3", "Tense": "Pres",
                              "VerbForm": "Fin"}


def test_english_named_entities(corpora):
    by_id = {s.sent_id: s for s in corpora["en"]}
    anna = by_id["sample-0008"]  # Anna and Peter are going to the market.
    assert [(e.start, e.end, e.label) for e in anna.entities] == [(0, 1, "PER"), (2, 3, "PER")]
    un = by_id["sample-0038"]  # The United Nations was founded in 1945.
    assert [(e.start, e.end, e.label) for e in un.entities] == [(1, 3, "ORG")]
    # every person, place and organisation name is tagged (dates and languages are not)
    assert sum(len(s.entities) for s in corpora["en"]) == 38


def test_german_multiword_tokens(corpora):
    by_id = {s.sent_id: s for s in corpora["de"]}
    s = by_id["sample-0008"]  # Anna und Peter gehen zum Markt.
    assert s.words == ["Anna", "und", "Peter", "gehen", "zu", "dem", "Markt", "."]
    assert s.tokens == ["Anna", "und", "Peter", "gehen", "zum", "Markt", "."]
    assert s.word_token == [0, 1, 2, 3, 4, 4, 5, 6]
    assert s.heads == [4, 3, 1, 0, 7, 7, 4, 4]
    n_mwt = sum(len(x.words) - len(x.tokens) for x in corpora["de"])
    assert n_mwt >= 25


def test_sentence_lengths_vary(corpora):
    lengths = [len(s.words) for s in corpora["en"]]
    assert min(lengths) <= 5 and max(lengths) >= 20


GUM_TYPES = {"person", "place", "organization", "object", "event", "time", "substance", "animal", "plant",
             "abstract", "quantity"}


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_entity_mentions_follow_the_guidelines(path, corpora):
    sents = corpora[_lang(path)]
    assert sum(len(s.mentions) for s in sents) >= 500
    for s in sents:
        assert s.doc_id == s.sent_id  # each sentence its own document: coreference stays inside it
        for m in s.mentions:
            assert m.etype in GUM_TYPES, (s.sent_id, m)
            assert not m.discontinuous and 0 <= m.start < m.end <= len(s.words), (s.sent_id, m)
            assert s.upos[m.start] != "PUNCT" and s.upos[m.end - 1] != "PUNCT", (s.sent_id, m)
            assert 1 <= int(m.attrs["head"]) <= m.end - m.start, (s.sent_id, m)
        ids = [m.entity for m in s.mentions]
        for e in set(ids):  # one entity, one type
            assert len({m.etype for m in s.mentions if m.entity == e}) == 1, (s.sent_id, e)


@pytest.mark.parametrize("path", LANG_FILES, ids=_lang)
def test_semantic_roles_follow_the_guidelines(path, corpora):
    from probes.tasks.srl import normalise_role

    sents = corpora[_lang(path)]
    assert sum(len(s.predicates) for s in sents) >= 200
    for s in sents:
        for p in s.predicates:
            assert s.upos[p.start] == "VERB" or s.deprels[p.start] == "cop", (s.sent_id, p)
            assert p.sense.split(".")[-1].isdigit(), (s.sent_id, p.sense)
            heads = [a.start for a in p.arguments]
            assert len(heads) == len(set(heads)), (s.sent_id, p)
            for a in p.arguments:
                assert a.start != p.start and s.upos[a.start] != "PUNCT", (s.sent_id, p, a)
                role, known = normalise_role(a.role)
                assert known and role == a.role, (s.sent_id, a.role)  # already in the ARG0 / ARGM-TMP style


def test_known_english_roles_and_mentions(corpora):
    by_id = {s.sent_id: s for s in corpora["en"]}
    cat = by_id["sample-0001"]  # The cat sleeps on the sofa.
    assert [(m.start, m.end, m.etype) for m in cat.mentions] == [(0, 2, "animal"), (4, 6, "object")]
    (sleep,) = cat.predicates
    assert (sleep.start, sleep.sense, [(a.start, a.role) for a in sleep.arguments]) == (
        2, "sleep.01", [(1, "ARG0"), (5, "ARGM-LOC")])
    market = {s.sent_id: s for s in corpora["de"]}["sample-0008"]  # Anna und Peter gehen zum Markt.
    assert (5, 7, "place") in [(m.start, m.end, m.etype) for m in market.mentions]  # [dem Markt] inside "zum"
