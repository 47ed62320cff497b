"""OntoNotes 5.0 in the CoNLL-2012 ``*_conll`` format (the data of Tenney et al.) -> ``Sentence``.

One word per line, sentences separated by blank lines, documents between ``#begin document (ID);
part NNN`` and ``#end document``. Columns: document id, part, word number, word, POS, parse bit,
predicate lemma, predicate frameset id, word sense, speaker, named entities, one SRL column per
predicate, coreference (last). What becomes of them:

* words, ``xpos`` (column 5), ``doc_id`` (``ID/part``), ``sent_id`` (``ID/part/k``, k from 0);
* parse bits (``(TOP(S(NP*``, ``*)``): ``constituents`` (pre-order, the root included);
* named entities (``(PERSON*``, ``*``, ``*)``, ``(GPE)``): ``entities``;
* SRL (``(ARG0*``, ``(V*)``...): ``predicates`` with span arguments (``heads=False``); the k-th SRL
  column belongs to the predicate whose ``(V`` bracket it holds; its sense is
  ``lemma.frameset`` (columns 7 and 8) when the frameset is given;
* coreference (``(12``, ``12)``, ``(12)``, ``|``-separated): ``mentions`` of cluster ``12`` within
  the document (no entity type or information status in this format).

Brackets that do not balance within a sentence, a word line with another column count than the
rest of its sentence, or words outside a document are errors naming the file, line and sentence.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from probes.errors import InputError
from probes.readers.report import CorpusReport, LineError, SkippedSentence
from probes.records import Argument, Mention, Predicate, Sentence, Span

MIN_COLUMNS = 12  # ten fixed columns + named entities ... + coreference
_BEGIN = re.compile(r"^#begin document \((.*)\);\s*part\s+(\S+)")
_BRACKET = re.compile(r"\(([^()*]+)|\)")


def _bracket_spans(tags: list[str], lines: list[int], what: str) -> list[tuple[int, int, str]]:
    """``(LABEL*``, ``*``, ``*)``, ``(LABEL*)`` per word -> [(start, end, label)] (nesting allowed)."""
    out, stack = [], []
    for j, tag in enumerate(tags):
        if "*" not in tag and not re.fullmatch(r"(\([^()*]+\))+", tag):  # '(GPE)' is a one-word span
            raise LineError(f"{what} column {tag!r} is neither '*'-style brackets nor '(LABEL)'", lines[j])
        for m in _BRACKET.finditer(tag):
            if m.group(1) is not None:
                stack.append((m.group(1), j))
            else:
                if not stack:
                    raise LineError(f"{what} column {tag!r} closes a bracket that was never opened", lines[j])
                label, start = stack.pop()
                out.append((start, j + 1, label))
    if stack:
        label, start = stack[-1]
        raise LineError(f"{what} bracket ({label} opened here is not closed in its sentence", lines[start])
    return out


def _constituents(bits: list[str], lines: list[int]) -> list[Span]:
    spans, depth_of = [], []
    stack: list[tuple[str, int, int]] = []
    for j, bit in enumerate(bits):
        star = bit.find("*")
        if star < 0:
            raise LineError(f"parse bit {bit!r} has no '*'", lines[j])
        for label in re.findall(r"\(([^()*\s]*)", bit[:star]):
            stack.append((label, j, len(stack)))
        for _ in range(bit.count(")", star)):
            if not stack:
                raise LineError(f"parse bit {bit!r} closes a constituent that was never opened", lines[j])
            label, start, depth = stack.pop()
            spans.append(Span(start, j + 1, label))
            depth_of.append(depth)
    if stack:
        raise LineError(f"parse bits leave ({stack[-1][0]} open at the end of the sentence", lines[stack[-1][1]])
    order = sorted(range(len(spans)), key=lambda k: (spans[k].start, -spans[k].end, depth_of[k]))
    return [spans[k] for k in order]


def _coref(cells: list[str], lines: list[int]) -> list[Mention]:
    out, open_ = [], {}
    for j, cell in enumerate(cells):
        if cell in ("-", "_", ""):
            continue
        for part in cell.split("|"):
            m = re.fullmatch(r"(\()?(\d+)(\))?", part)
            if not m or not (m.group(1) or m.group(3)):
                raise LineError(f"coreference cell {cell!r} is not '(N', 'N)' or '(N)' joined by '|'", lines[j])
            cid = m.group(2)
            if m.group(1) and m.group(3):
                out.append(Mention(j, j + 1, cid))
            elif m.group(1):
                open_.setdefault(cid, []).append(j)
            else:
                if not open_.get(cid):
                    raise LineError(f"coreference {cid}) closes a mention that was never opened", lines[j])
                out.append(Mention(open_[cid].pop(), j + 1, cid))
    for cid, starts in open_.items():
        if starts:
            raise LineError(f"coreference mention ({cid} opened here is not closed in its sentence", lines[starts[0]])
    out.sort(key=lambda m: (m.start, -m.end))
    return out


def _sentence(rows: list[tuple[int, list[str]]], doc: str, k: int, path: str) -> Sentence:
    lines = [ln for ln, _ in rows]
    n_cols = len(rows[0][1])
    for ln, cols in rows:
        if len(cols) != n_cols:
            raise LineError(f"{len(cols)} columns but the sentence's first line has {n_cols}", ln)
        if len(cols) < MIN_COLUMNS:
            raise LineError(f"{len(cols)} columns; a CoNLL-2012 word line has at least {MIN_COLUMNS} "
                            "(document ... named entities, SRL columns, coreference)", ln)
    col = lambda c: [cols[c] for _, cols in rows]  # noqa: E731
    words = col(3)
    for j, w in enumerate(words):
        if not w:
            raise LineError("empty word", lines[j])
    entities = [Span(a, b, lab) for a, b, lab in _bracket_spans(col(10), lines, "named-entity")]
    predicates = []
    for c in range(11, n_cols - 1):
        spans = _bracket_spans(col(c), lines, f"SRL (column {c + 1})")
        verbs = [(a, b) for a, b, lab in spans if lab == "V"]
        if len(verbs) != 1:
            raise LineError(f"SRL column {c + 1} has {len(verbs)} (V*) brackets; each predicate column marks its "
                            "predicate once", lines[0])
        a, b = verbs[0]
        lemma, frame = rows[a][1][6], rows[a][1][7]
        sense = f"{lemma}.{frame}" if frame not in ("-", "_") and lemma not in ("-", "_") else "_"
        args = [Argument(s, e, lab) for s, e, lab in spans if lab != "V"]
        predicates.append(Predicate(a, b, sense, args, heads=False))
    return Sentence(words=words, sent_id=f"{doc}/{k}", source=f"{path}:{lines[0]}", xpos=col(4), doc_id=doc,
                    constituents=_constituents(col(5), lines), entities=entities, predicates=predicates,
                    mentions=_coref(col(n_cols - 1), lines))


def read_conll2012_report(path: str | Path, *, skip_invalid: bool = False, lang: Optional[str] = None) -> CorpusReport:
    """Read a CoNLL-2012 file (``*_gold_conll``) into a CorpusReport."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", str(path))
    report = CorpusReport(source=str(path))
    doc: Optional[str] = None
    rows: list[tuple[int, list[str]]] = []
    k = 0

    def flush():
        nonlocal rows, k
        if not rows:
            return
        sid = f"{doc}/{k}"
        try:
            s = _sentence(rows, doc, k, str(path))
            s.lang = lang
            report.sentences.append(s)
        except LineError as bad:
            if not skip_invalid:
                raise InputError(bad.message, str(path), bad.line, sid) from None
            report.skipped.append(SkippedSentence(str(path), bad.line, sid, bad.message))
        rows, k = [], k + 1

    with open(path, encoding="utf-8-sig") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith("#begin document"):
                m = _BEGIN.match(line)
                if not m:
                    raise InputError(f"cannot read the document header {line!r}", str(path), lineno)
                flush()
                doc, k = f"{m.group(1)}/{m.group(2)}", 0
                continue
            if line.startswith("#end document"):
                flush()
                doc = None
                continue
            if not line.strip():
                flush()
                continue
            if line.startswith("#"):
                continue
            if doc is None:
                raise InputError("word line outside '#begin document' ... '#end document'", str(path), lineno)
            rows.append((lineno, line.split()))
    flush()
    if not report.sentences:
        raise InputError("no sentences found" if not report.skipped else
                         f"no valid sentence ({len(report.skipped)} skipped as invalid)", str(path), 1)
    return report
