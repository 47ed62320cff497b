"""spaCy ``Doc`` / ``DocBin`` (``.spacy``) <-> ``Sentence``, so any spaCy-annotated corpus can be probed.

Mapping (spaCy -> Sentence): ``token.text`` -> word (spaCy tokens are both the words and the
surface tokens; spaCy has no multiword tokens), ``whitespace_`` -> ``space_after``, ``pos_`` ->
``upos``, ``tag_`` -> ``xpos``, ``morph`` -> ``feats``, ``lemma_`` -> ``lemmas``, ``head``/``dep_``
-> 1-based ``heads`` (0 = root) and ``deprels`` (spaCy's ``ROOT`` is written ``root`` as in UD),
``doc.ents`` -> ``entities`` (``Span`` over word indices). A layer the pipeline did not annotate
stays None. A Doc with sentence boundaries gives one Sentence per ``doc.sents``. Whitespace-only
tokens (spaCy's ``SPACE``) are not words: they are dropped and their text counts as the space after
the previous word; a word attached to one is re-attached to that token's own head.

Writing keeps what spaCy cannot hold (multiword tokens, ``sent_id``, comments, MISC) in
``doc.user_data`` so Sentences -> DocBin -> Sentences is lossless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from probes.errors import InputError
from probes.records import Sentence, Span

_USER_KEY = "probes"


def _spacy():
    import spacy  # imported lazily: spaCy is slow to import and only this reader needs it

    return spacy


def doc_to_sentences(doc, *, sent_id: str = "", source: str = "", lang: Optional[str] = None
                     ) -> list[Sentence]:
    """One spaCy Doc -> its sentences (one per ``doc.sents`` when boundaries are set, else one)."""
    has = {k: doc.has_annotation(k) for k in ("TAG", "POS", "MORPH", "LEMMA", "DEP", "ENT_IOB")}
    lang = lang or (doc.lang_ if doc.lang_ != "xx" else None)  # "xx" = spaCy's language-neutral vocab
    extra = doc.user_data.get(_USER_KEY) if doc.user_data else None
    if isinstance(extra, dict):  # written by sentence_to_doc: exactly one sentence
        s = _span_to_sentence(doc[:], has, sent_id, source, lang)
        return [_restore(s, extra)] if s is not None else []
    bounded = has["DEP"] or doc.has_annotation("SENT_START")
    spans = list(doc.sents) if bounded and len(doc) else [doc[:]]
    out: list[Sentence] = []
    for k, span in enumerate(spans):
        sid = sent_id or "doc"
        s = _span_to_sentence(span, has, f"{sid}-{k + 1}" if len(spans) > 1 else sid, source, lang)
        if s is not None:
            out.append(s)
    return out


def docs_to_sentences(docs: Iterable, *, lang: Optional[str] = None) -> list[Sentence]:
    """spaCy Docs (e.g. ``nlp.pipe(texts)``) -> Sentences; doc i's sentences are ``i``, ``i-1``, ``i-2``..."""
    out: list[Sentence] = []
    for i, doc in enumerate(docs):
        out.extend(doc_to_sentences(doc, sent_id=str(i + 1), source=f"doc {i + 1}", lang=lang))
    return out


def _span_to_sentence(span, has: dict, sent_id: str, source: str, lang: Optional[str]
                      ) -> Optional[Sentence]:
    keep = [t for t in span if not t.is_space]
    if not keep:
        return None
    pos_of = {t.i: j for j, t in enumerate(keep)}
    words = [t.text for t in keep]
    space_after = []
    for j, t in enumerate(keep):
        nxt = keep[j + 1].i if j + 1 < len(keep) else span.end
        space_after.append(bool(t.whitespace_) or nxt > t.i + 1)
    heads = deprels = None
    if has["DEP"]:
        heads, deprels = [], []
        for t in keep:
            h = t.head
            while h.i != t.i and h.i not in pos_of and h.head.i != h.i:
                h = h.head  # a dropped whitespace token: climb to its head
            root = h.i == t.i or h.i not in pos_of
            heads.append(0 if root else pos_of[h.i] + 1)
            deprels.append("root" if root and t.dep_ in ("ROOT", "root", "") else t.dep_)
    entities = None
    if has["ENT_IOB"]:
        entities = [Span(pos_of[e.start], pos_of[e.end - 1] + 1, e.label_)
                    for e in span.doc.ents if e.start >= span.start and e.end <= span.end
                    and e.start in pos_of and e.end - 1 in pos_of]
    return Sentence(
        words=words, tokens=list(words), word_token=list(range(len(words))),
        space_after=space_after, sent_id=sent_id, text=span.text.strip(), lang=lang, source=source,
        lemmas=[t.lemma_ for t in keep] if has["LEMMA"] else None,
        upos=[t.pos_ for t in keep] if has["POS"] else None,
        xpos=[t.tag_ for t in keep] if has["TAG"] else None,
        feats=[t.morph.to_dict() for t in keep] if has["MORPH"] else None,
        heads=heads, deprels=deprels, entities=entities,
    )


def _as_lists(x):
    """msgpack hands lists back as tuples; Sentence fields are lists."""
    if isinstance(x, (list, tuple)):
        return [_as_lists(v) for v in x]
    if isinstance(x, dict):
        return {k: _as_lists(v) for k, v in x.items()}
    return x


def _restore(s: Sentence, extra: dict) -> Sentence:
    """Put back what ``sentence_to_doc`` kept in ``user_data`` (tokens, ids, comments, MISC)."""
    extra = _as_lists(extra)
    s.tokens, s.word_token = extra.get("tokens"), extra.get("word_token")
    s.space_after = extra.get("space_after")
    s.sent_id = extra.get("sent_id", s.sent_id)
    s.text = extra.get("text", s.text)
    s.lang = extra.get("lang", s.lang)
    s.comments = list(extra.get("comments", []))
    s.misc = extra.get("misc")
    s.source = s.source or extra.get("source", "")
    for name in extra.get("absent", []):
        setattr(s, name, None)
    if s.heads is not None and s.deprels is not None and "root_deprel" in extra:
        s.deprels[s.heads.index(0)] = extra["root_deprel"]
    if extra.get("no_entities"):
        s.entities = None
    return s


def sentence_to_doc(sentence: Sentence, vocab):
    """A Sentence -> a spaCy Doc over its words, annotations set where present."""
    from spacy.tokens import Doc

    n = len(sentence.words)
    wt = sentence.token_of_word()
    spaces = []
    for j in range(n):
        last_of_token = j == n - 1 or wt[j + 1] != wt[j]
        spaces.append(bool(last_of_token and (sentence.space_after is None or sentence.space_after[wt[j]])))
    heads = None
    deps = sentence.deprels
    if sentence.heads is not None:
        heads = [h - 1 if h > 0 else j for j, h in enumerate(sentence.heads)]
        deps = [("ROOT" if sentence.heads[j] == 0 else d) for j, d in enumerate(sentence.deprels or ["dep"] * n)]
    feats = None
    if sentence.feats is not None:
        feats = ["|".join(f"{k}={v}" for k, v in sorted(f.items())) or "" for f in sentence.feats]
    ents = None
    if sentence.entities is not None:
        ents = ["O"] * n
        for e in sentence.entities:
            ents[e.start] = f"B-{e.label}"
            for j in range(e.start + 1, e.end):
                ents[j] = f"I-{e.label}"
    try:
        doc = Doc(vocab, words=list(sentence.words), spaces=spaces, tags=sentence.xpos, pos=sentence.upos,
                  morphs=feats, lemmas=sentence.lemmas, heads=heads, deps=deps, ents=ents,
                  sent_starts=[True] + [False] * (n - 1) if heads is None and n else None)
    except (ValueError, KeyError) as exc:
        raise InputError(f"cannot convert to a spaCy Doc: {exc}", sentence.source, 0, sentence.sent_id) from None
    absent = [name for name in ("upos", "xpos", "lemmas", "feats", "heads", "deprels")
              if getattr(sentence, name) is None]
    extra = {
        "tokens": sentence.tokens, "word_token": sentence.word_token,
        "space_after": list(sentence.space_after) if sentence.space_after is not None else None,
        "sent_id": sentence.sent_id, "text": sentence.text, "lang": sentence.lang,
        "comments": list(sentence.comments), "misc": sentence.misc, "source": sentence.source,
        "absent": absent, "no_entities": sentence.entities is None,
    }
    if sentence.heads is not None and sentence.deprels is not None:
        extra["root_deprel"] = sentence.deprels[sentence.heads.index(0)] if 0 in sentence.heads else "root"
    doc.user_data[_USER_KEY] = extra
    return doc


def write_docbin(sentences: Iterable[Sentence], path: str | Path, *, lang: str = "xx") -> None:
    """Write Sentences to a ``.spacy`` DocBin (one Doc per sentence, user data kept)."""
    from spacy.tokens import DocBin

    vocab = _spacy().blank(lang).vocab
    db = DocBin(store_user_data=True)
    for s in sentences:
        db.add(sentence_to_doc(s, vocab))
    db.to_disk(path)


def read_docbin(path: str | Path, *, lang: Optional[str] = None) -> list[Sentence]:
    """Read a ``.spacy`` DocBin into Sentences (Docs with sentence boundaries are split)."""
    from spacy.tokens import DocBin

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", str(path))
    spacy = _spacy()
    try:
        db = DocBin(store_user_data=True).from_disk(path)
        docs = list(db.get_docs(spacy.blank(lang or "xx").vocab))
    except Exception as exc:  # spaCy raises assorted msgpack/zlib/value errors on a bad file
        raise InputError(f"not a readable spaCy DocBin ({type(exc).__name__}: {exc})", str(path)) from None
    out: list[Sentence] = []
    for i, doc in enumerate(docs):
        out.extend(doc_to_sentences(doc, sent_id=str(i + 1), source=f"{path}#doc{i + 1}", lang=lang))
    if not out:
        raise InputError("empty DocBin: no sentences found", str(path))
    return out
