"""Reading corpora into lists of Sentence: CoNLL-U (with CorefUD entities and PropBank columns),
Penn Treebank trees, OntoNotes CoNLL-2012, jiant edge-probing JSON, SentEval probing files, spaCy
DocBin, raw text and ``ud:NAME``.

``load_corpus`` is the one entry point the other stages use; ``read_corpus`` does the same and
also returns what the reader skipped as invalid (``CorpusReport``). The format comes from the file
name (``FORMATS``), or ``format=`` names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from probes.errors import ProbesError
from probes.readers.report import CorpusReport, SkippedSentence
from probes.records import Sentence

__all__ = ["load_corpus", "read_corpus", "stream_corpus", "CorpusStream", "detect_format", "CorpusReport", "SkippedSentence", "FORMATS", "SUFFIXES"]

FORMATS = {
    "conllu": "CoNLL-U (.conllu, .conll): UD, CorefUD Entity=, Universal PropBank columns",
    "ptb": "Penn Treebank bracketed trees (.ptb, .mrg, .tree)",
    "conll2012": "OntoNotes CoNLL-2012 (*_conll, or a .conll file starting with '#begin document')",
    "jiant": "jiant edge-probing JSON lines (.json, .jsonl)",
    "senteval": "SentEval probing file (.txt whose lines are 'tr|va|te<TAB>label<TAB>sentence')",
    "spacy": "spaCy DocBin (.spacy)",
    "text": "raw text (.txt)",
}
SUFFIXES = {".conllu": "CoNLL-U", ".conll": "CoNLL-U", ".spacy": "spaCy DocBin", ".txt": "raw text",
            ".ptb": "Penn Treebank trees", ".mrg": "Penn Treebank trees", ".json": "jiant JSON lines",
            ".jsonl": "jiant JSON lines"}


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            for raw in fh:
                if raw.strip():
                    return raw.strip()
    except OSError:
        pass
    return ""


def detect_format(path: str | Path) -> str:
    """The format of a corpus file from its name (and, for .conll and .txt, its first line)."""
    path = Path(path)
    name, suffix = path.name.lower(), path.suffix.lower()
    if name.endswith("_conll"):
        return "conll2012"
    if suffix == ".conll":
        return "conll2012" if _first_line(path).startswith("#begin document") else "conllu"
    if suffix == ".conllu":
        return "conllu"
    if suffix in (".ptb", ".mrg", ".tree", ".trees"):
        return "ptb"
    if suffix in (".json", ".jsonl"):
        return "jiant"
    if suffix == ".spacy":
        return "spacy"
    if suffix == ".txt":
        from probes.readers.senteval import looks_like_senteval

        return "senteval" if path.is_file() and looks_like_senteval(path) else "text"
    kinds = "; ".join(FORMATS.values())
    raise ProbesError(f"{path}: unknown corpus format {suffix or '(no suffix)'!r}; use one of: {kinds}; "
                      "or ud:NAME (e.g. ud:en_ewt/dev), or name the format")


def _corpus_path(spec: str | Path) -> Path:
    """The file a corpus spec names: a path, or 'ud:NAME[/split]' resolved to its local file."""
    if str(spec).startswith("ud:"):
        from probes.readers.ud_hub import resolve

        return resolve(str(spec))
    return Path(spec)


def read_corpus(spec: str | Path, *, lang: str | None = None, sentencize: bool = False,
                spacy_model: str | None = None, skip_invalid: bool = False, format: Optional[str] = None,
                split: Optional[str] = None, trees: str | Path | None = None) -> CorpusReport:
    """Read a corpus (a path or 'ud:NAME[/split]') into a CorpusReport.

    ``format`` overrides the detection (a key of FORMATS); ``split`` picks tr/va/te of a SentEval
    file; ``trees`` names a Penn Treebank file with one constituent tree per sentence of the corpus.
    """
    path = _corpus_path(spec)
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise ProbesError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if split is not None and fmt != "senteval":
        raise ProbesError(f"{path}: a split ({split!r}) applies to SentEval files only; this is {FORMATS[fmt]}")
    if fmt == "conllu":
        from probes.readers.conllu import read_conllu_report

        report = read_conllu_report(path, skip_invalid=skip_invalid, lang=lang)
    elif fmt == "conll2012":
        from probes.readers.conll2012 import read_conll2012_report

        report = read_conll2012_report(path, skip_invalid=skip_invalid, lang=lang)
    elif fmt == "jiant":
        from probes.readers.jiant import read_jiant_report

        report = read_jiant_report(path, skip_invalid=skip_invalid, lang=lang)
    elif fmt == "senteval":
        from probes.readers.senteval import read_senteval_report

        report = read_senteval_report(path, split=split, skip_invalid=skip_invalid, lang=lang)
    elif fmt == "ptb":
        from probes.readers.ptb import read_ptb

        report = CorpusReport(source=str(path), sentences=read_ptb(path, lang=lang))
    elif fmt == "spacy":
        from probes.readers.spacy_io import read_docbin

        report = CorpusReport(source=str(path), sentences=read_docbin(path, lang=lang))
    else:
        from probes.readers.text import read_text

        report = CorpusReport(source=str(path), sentences=read_text(
            path, lang=lang, sentencize=sentencize, spacy_model=spacy_model))
    if trees is not None:
        from probes.readers.ptb import attach_trees

        ordinals = report.ordinals if report.skipped and report.ordinals else None
        attach_trees(report.sentences, trees, ordinals, report.total if ordinals else None)
    return report


def load_corpus(spec: str | Path, *, lang: str | None = None, sentencize: bool = False,
                spacy_model: str | None = None, skip_invalid: bool = False, format: Optional[str] = None,
                split: Optional[str] = None, trees: str | Path | None = None) -> list[Sentence]:
    """Read a corpus named by a path or 'ud:NAME' into sentences (see ``read_corpus``)."""
    report = read_corpus(spec, lang=lang, sentencize=sentencize, spacy_model=spacy_model,
                         skip_invalid=skip_invalid, format=format, split=split, trees=trees)
    report.print_skipped()
    return report.sentences


class CorpusStream:
    """A corpus read sentence by sentence, as often as iterated, never held whole (CoNLL-U files).

    For extraction (``probes.extract.extractor.extract`` reads it twice). Other formats, and
    ``trees``/``sentencize``, are read whole once and iterated from memory. Skipped sentences
    (``skip_invalid``) are printed after the first pass. Streamed sentences carry everything the
    file says about them; the whole-file normalisation of ``load_corpus`` (a sentence without
    entities in a file that has some gets an empty list) is not applied.
    """

    def __init__(self, spec: str | Path, *, lang: str | None = None, skip_invalid: bool = False, **options):
        path = _corpus_path(spec)
        fmt = options.get("format") or detect_format(path)
        streamable = fmt == "conllu" and not any(options.get(k) for k in ("trees", "sentencize", "split"))
        self.path, self.lang, self.skip_invalid = path, lang, skip_invalid
        self._held = None if streamable else load_corpus(spec, lang=lang, skip_invalid=skip_invalid, **options)
        self._passes = 0

    def __iter__(self):
        if self._held is not None:
            yield from self._held
            return
        from probes.readers.conllu import iter_conllu

        report = CorpusReport(source=str(self.path))
        n = 0
        for s in iter_conllu(self.path, report, skip_invalid=self.skip_invalid, lang=self.lang):
            n += 1
            yield s
        if n == 0:
            from probes.readers.conllu import no_sentences

            raise no_sentences(self.path, report)
        self._passes += 1
        if self._passes == 1:
            report.sentences = [None] * n  # counts only, for the printed total
            report.print_skipped()


def stream_corpus(spec: str | Path, **options) -> CorpusStream:
    """A re-iterable corpus that reads its file on each pass (see CorpusStream)."""
    return CorpusStream(spec, **options)
