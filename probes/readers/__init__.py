"""Reading corpora (CoNLL-U, spaCy DocBin, raw text, ud:NAME) into lists of Sentence."""

from __future__ import annotations

from pathlib import Path

from probes.records import Sentence


def load_corpus(spec: str | Path, *, lang: str | None = None, sentencize: bool = False,
                spacy_model: str | None = None, skip_invalid: bool = False) -> list[Sentence]:
    """Read a corpus named by a path (.conllu, .spacy, .txt) or 'ud:NAME' into sentences."""
    # Interim: whitespace-tokenised text, one sentence per line (the data work replaces this).
    lines = Path(spec).read_text(encoding="utf-8").splitlines()
    return [Sentence(words=line.split(), sent_id=str(i + 1), source=f"{spec}:{i + 1}")
            for i, line in enumerate(lines) if line.strip()]
