"""What a reader hands back besides the sentences: the sentences it skipped and why."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from probes.errors import InputError
from probes.records import Sentence


class LineError(Exception):
    """A problem inside one sentence while reading it: the message and the file line it is on.

    Readers raise it from their per-sentence parsers and turn it into an ``InputError`` (file,
    line, sentence id) or, with ``skip_invalid``, a ``SkippedSentence``.
    """

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message, self.line = message, line


@dataclass
class SkippedSentence:
    """One sentence left out by ``skip_invalid=True``: where it was and what was wrong."""

    path: str
    line: int
    sent_id: str
    reason: str

    def __str__(self) -> str:
        return str(InputError(self.reason, self.path, self.line, self.sent_id))


@dataclass
class CorpusReport:
    """Sentences read from one corpus plus every sentence skipped (never dropped silently)."""

    source: str
    sentences: list[Sentence] = field(default_factory=list)
    skipped: list[SkippedSentence] = field(default_factory=list)
    empty_nodes: int = 0  # UD empty nodes (enhanced graphs) seen and left out of the words
    ordinals: list[int] = field(default_factory=list)  # 1-based position in the file of each kept sentence
    total: int = 0  # sentences in the file, kept and skipped
    notes: list[str] = field(default_factory=list)  # what the reader did that a user should know

    @property
    def n_words(self) -> int:
        """Number of syntactic words over all sentences read."""
        return sum(len(s.words) for s in self.sentences)

    def print_skipped(self, stream: TextIO | None = None) -> None:
        """Print one line per skipped sentence, and a total, to stderr (or ``stream``)."""
        if not self.skipped:
            return
        out = stream if stream is not None else sys.stderr
        for item in self.skipped:
            print(f"skipped: {item}", file=out)
        print(f"{self.source}: skipped {len(self.skipped)} invalid sentence(s), "
              f"kept {len(self.sentences)}", file=out)
