"""Reading corpora (CoNLL-U, spaCy DocBin, raw text, ud:NAME) into lists of Sentence.

``load_corpus`` is the one entry point the other stages use; ``read_corpus`` does the same and
also returns the sentences skipped as invalid (``CorpusReport``).
"""

from __future__ import annotations

from pathlib import Path

from probes.errors import ProbesError
from probes.readers.report import CorpusReport, SkippedSentence
from probes.records import Sentence

__all__ = ["load_corpus", "read_corpus", "CorpusReport", "SkippedSentence", "SUFFIXES"]

SUFFIXES = {".conllu": "CoNLL-U", ".conll": "CoNLL-U", ".spacy": "spaCy DocBin", ".txt": "raw text"}


def read_corpus(spec: str | Path, *, lang: str | None = None, sentencize: bool = False,
                spacy_model: str | None = None, skip_invalid: bool = False) -> CorpusReport:
    """Read a corpus (.conllu, .spacy, .txt path or 'ud:NAME[/split]') into a CorpusReport."""
    text = str(spec)
    if text.startswith("ud:"):
        from probes.readers.ud_hub import resolve

        path = resolve(text)
    else:
        path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".conllu", ".conll"):
        from probes.readers.conllu import read_conllu_report

        return read_conllu_report(path, skip_invalid=skip_invalid, lang=lang)
    if suffix == ".spacy":
        from probes.readers.spacy_io import read_docbin

        return CorpusReport(source=str(path), sentences=read_docbin(path, lang=lang))
    if suffix == ".txt":
        from probes.readers.text import read_text

        return CorpusReport(source=str(path), sentences=read_text(
            path, lang=lang, sentencize=sentencize, spacy_model=spacy_model))
    kinds = ", ".join(f"{k} ({v})" for k, v in SUFFIXES.items())
    raise ProbesError(f"{spec}: unknown corpus format {suffix or '(no suffix)'!r}; use one of {kinds} "
                      f"or ud:NAME (e.g. ud:en_ewt/dev)")


def load_corpus(spec: str | Path, *, lang: str | None = None, sentencize: bool = False,
                spacy_model: str | None = None, skip_invalid: bool = False) -> list[Sentence]:
    """Read a corpus named by a path (.conllu, .spacy, .txt) or 'ud:NAME' into sentences."""
    report = read_corpus(spec, lang=lang, sentencize=sentencize, spacy_model=spacy_model,
                         skip_invalid=skip_invalid)
    report.print_skipped()
    return report.sentences
