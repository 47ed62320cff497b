"""Raw text (``.txt``) -> ``Sentence``: spaCy's rule-based tokenizer, optional silver labels.

* Default: one sentence per non-empty line, tokenized by ``spacy.blank(lang)`` (``lang=None``
  uses spaCy's language-neutral ``xx`` tokenizer).
* ``sentencize=True``: the text is read as paragraphs (separated by blank lines; line breaks inside
  a paragraph are spaces) and split into sentences by the pipeline's parser/senter when it has one,
  else by spaCy's rule-based ``sentencizer``.
* ``spacy_model``: an installed spaCy pipeline (package name or directory) whose predictions become
  silver labels (UPOS, tags, morphology, lemmas, dependencies, entities). In one-sentence-per-line
  mode each line is kept as one sentence: the line is pre-marked as a single sentence before the
  pipeline runs; if the parser still splits it, the pieces are reported on stderr and kept as
  separate sentences (``<line>-1``, ``<line>-2``) rather than silently merged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from probes.errors import InputError, ProbesError
from probes.readers.spacy_io import doc_to_sentences
from probes.records import Sentence


def load_pipeline(spacy_model: Optional[str], lang: Optional[str], sentencize: bool):
    """The spaCy pipeline to run: a named installed one, or ``spacy.blank(lang)``."""
    import spacy

    if spacy_model:
        try:
            nlp = spacy.load(spacy_model)
        except OSError as exc:
            raise ProbesError(
                f"spaCy pipeline {spacy_model!r} is not installed ({str(exc).splitlines()[0][:160]}); "
                f"install it with `python -m spacy download {spacy_model}` (or pass the path of a "
                f"pipeline directory)") from None
        if lang and nlp.lang != lang:
            raise ProbesError(f"spaCy pipeline {spacy_model!r} is for language {nlp.lang!r}, "
                              f"but lang={lang!r} was asked for")
    else:
        try:
            nlp = spacy.blank(lang or "xx")
        except Exception as exc:  # spaCy raises ImportError/ValueError for an unknown code
            raise ProbesError(f"spaCy has no tokenizer for language {lang!r} ({exc})") from None
    if sentencize and not (nlp.has_pipe("parser") or nlp.has_pipe("senter") or nlp.has_pipe("sentencizer")):
        nlp.add_pipe("sentencizer")
    return nlp


def _paragraphs(lines: list[str]) -> list[tuple[int, str]]:
    paras, buf, start = [], [], 0
    for i, line in enumerate(lines + [""], start=1):
        if line.strip():
            if not buf:
                start = i
            buf.append(line.strip())
        elif buf:
            paras.append((start, " ".join(buf)))
            buf = []
    return paras


def read_text(path: str | Path, *, lang: Optional[str] = None, sentencize: bool = False,
              spacy_model: Optional[str] = None) -> list[Sentence]:
    """Read a raw text file into tokenized Sentences (silver labels when ``spacy_model`` is given)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", str(path))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError("bytes that are not valid UTF-8", str(path), line) from None
    lines = text.splitlines()
    nlp = load_pipeline(spacy_model, lang, sentencize)
    units = _paragraphs(lines) if sentencize else [(i, ln.strip()) for i, ln in enumerate(lines, 1) if ln.strip()]
    if not units:
        raise InputError("empty file: no text found", str(path), 1)
    out: list[Sentence] = []
    for lineno, chunk in units:
        doc = nlp.make_doc(chunk)
        if not sentencize:
            for k, tok in enumerate(doc):
                tok.is_sent_start = k == 0  # one line = one sentence; the parser keeps preset bounds
        for _, proc in nlp.pipeline:
            doc = proc(doc)
        sents = doc_to_sentences(doc, sent_id=str(lineno), source=f"{path}:{lineno}",
                                 lang=lang or (nlp.lang if spacy_model else None))
        if not sentencize and len(sents) > 1:
            print(f"{path}:{lineno}: the spaCy pipeline split this line into {len(sents)} sentences; "
                  f"kept as {sents[0].sent_id}..{sents[-1].sent_id}", file=sys.stderr)
        out.extend(sents)
    return out
