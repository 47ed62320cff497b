"""Every sentence of UD English EWT reads, and the counts match the file (skipped when absent)."""

import re
from pathlib import Path

import pytest

from probes.readers.conllu import read_conllu_report

UD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ud"
WORD_LINE = re.compile(rb"^\d+\t")
EXPECTED = {"en_ewt-ud-dev.conllu": (2001, 25147), "en_ewt-ud-train.conllu": (12544, 204577)}


def count_lines(path: Path) -> tuple[int, int, int]:
    """(sentences, words, empty nodes) counted straight from the file's lines."""
    sents = words = empty = 0
    in_sentence = False
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                in_sentence = False
                continue
            if not in_sentence:
                sents += 1
                in_sentence = True
            if WORD_LINE.match(line):
                words += 1
            elif re.match(rb"^\d+\.\d+\t", line):
                empty += 1
    return sents, words, empty


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ewt_reads_completely(name):
    path = UD / name
    if not path.is_file():
        pytest.skip(f"{path} absent")
    rep = read_conllu_report(path)
    n_sents, n_words, n_empty = count_lines(path)
    assert (len(rep.sentences), rep.n_words) == EXPECTED[name] == (n_sents, n_words)
    assert rep.empty_nodes == n_empty and not rep.skipped
    assert all(s.heads is not None and s.heads.count(0) == 1 for s in rep.sentences)
    assert len({s.sent_id for s in rep.sentences}) == n_sents
