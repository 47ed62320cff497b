"""SentEval probing-task files (Conneau et al. 2018) -> sentences with a ``label``.

One example per line: ``tr|va|te <TAB> label <TAB> sentence`` (the sentence tokenised, tokens
separated by spaces), all three splits in one file (``sentence_length.txt``, ``past_present.txt``,
``odd_man_out.txt``...). ``split`` keeps one of them (``tr``/``va``/``te``, or train/dev/test). A line
with another shape, an unknown split, an empty label or an empty sentence is an error naming the
file and line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from probes.errors import InputError, ProbesError
from probes.readers.report import CorpusReport, LineError, SkippedSentence
from probes.records import Sentence

SPLITS = {"tr": "tr", "train": "tr", "va": "va", "dev": "va", "validation": "va", "te": "te", "test": "te"}
_LINE = re.compile(r"^(tr|va|te)\t([^\t]+)\t(.*\S.*)$")


def looks_like_senteval(path: str | Path) -> bool:
    """Whether the first non-empty line of a text file has the SentEval shape."""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for raw in fh:
            if raw.strip():
                return bool(_LINE.match(raw.rstrip("\r\n")))
    return False


def normalise_split(split: str) -> str:
    """'train' / 'dev' / 'test' (or tr / va / te) -> SentEval's tr / va / te."""
    if split not in SPLITS:
        raise ProbesError(f"unknown SentEval split {split!r}; use tr, va or te (or train, dev, test)")
    return SPLITS[split]


def read_senteval_report(path: str | Path, *, split: Optional[str] = None, skip_invalid: bool = False,
                         lang: Optional[str] = None) -> CorpusReport:
    """Read the examples of one split (all splits when ``split`` is None) of a SentEval file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", str(path))
    want = normalise_split(split) if split is not None else None
    report = CorpusReport(source=str(path))
    counts = {"tr": 0, "va": 0, "te": 0}
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            try:
                m = _LINE.match(line)
                if not m:
                    raise LineError("expected 'tr|va|te <TAB> label <TAB> sentence'", lineno)
            except LineError as bad:
                if not skip_invalid:
                    raise InputError(bad.message, str(path), bad.line, f"line {lineno}") from None
                report.skipped.append(SkippedSentence(str(path), bad.line, f"line {lineno}", bad.message))
                continue
            sp, label, text = m.groups()
            counts[sp] += 1
            if want is not None and sp != want:
                continue
            words = text.split()
            report.sentences.append(Sentence(words=words, sent_id=f"{sp}-{counts[sp]}", lang=lang, text=text.strip(),
                                             source=f"{path}:{lineno}", label=label.strip()))
    if not report.sentences:
        which = f" in split {want!r}" if want else ""
        raise InputError(f"no examples{which} (found tr {counts['tr']}, va {counts['va']}, te {counts['te']})",
                         str(path), 1)
    return report
