"""Edge-probing data in jiant's JSON-lines format (Tenney et al. 2019) -> ``Sentence.targets``.

One JSON object per line: ``{"text": "tokens separated by spaces", "targets": [{"span1": [s, e],
"span2": [s, e], "label": "..."}], "info": {...}}``. Token indices refer to ``text.split()``, ends
are exclusive (as jiant defines them); ``span2`` is present for two-span tasks (SRL, coreference,
relations, SPR) and absent for one-span tasks (constituents, entities); ``label`` is a string or a
list of strings (multi-label tasks such as SPR; a one-element list is a plain label).

jiant writes one record per predicate for SRL, repeating the sentence: consecutive records with the
same text and the same ``info`` document/sentence ids are merged into one sentence with all their
targets (counted in the report as ``merged_records``). A target whose spans leave the sentence,
an empty or reversed span, a missing or mistyped field, or a file that mixes one- and two-span
targets is an error naming the file, line and record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from probes.errors import InputError
from probes.readers.report import CorpusReport, LineError, SkippedSentence
from probes.records import Sentence, Target


def _span(value, n: int, what: str, line: int) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise LineError(f"{what} must be [start, end) token indices, got {value!r}", line)
    a, b = value
    if not 0 <= a < b <= n:
        raise LineError(f"{what} {value} is empty or outside the sentence's {n} tokens", line)
    return a, b


def _target(t, n: int, k: int, line: int) -> Target:
    if not isinstance(t, dict):
        raise LineError(f"target {k} is not an object", line)
    if "span1" not in t or "label" not in t:
        raise LineError(f"target {k} needs span1 and label", line)
    span1 = _span(t["span1"], n, f"target {k} span1", line)
    span2 = _span(t["span2"], n, f"target {k} span2", line) if t.get("span2") is not None else None
    label = t["label"]
    if isinstance(label, list):
        if not all(isinstance(x, str) and x for x in label):
            raise LineError(f"target {k} label list must hold non-empty strings, got {label!r}", line)
        label = label[0] if len(label) == 1 else tuple(label)
    elif isinstance(label, (int, bool)) and not isinstance(label, bool):
        label = str(label)
    elif not (isinstance(label, str) and label):
        raise LineError(f"target {k} label must be a string or a list of strings, got {label!r}", line)
    return Target(span1, span2, label)


def _ids(info) -> tuple[str, str]:
    if not isinstance(info, dict):
        return "", ""
    doc = info.get("document_id", info.get("doc_id", ""))
    sid = info.get("sentence_id", info.get("sent_id", info.get("id", "")))
    return str(doc) if doc is not None else "", str(sid) if sid is not None else ""


def read_jiant_report(path: str | Path, *, skip_invalid: bool = False, lang: Optional[str] = None) -> CorpusReport:
    """Read a jiant edge-probing JSON-lines file into a CorpusReport of sentences with ``targets``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", str(path))
    report = CorpusReport(source=str(path))
    two_spans: Optional[bool] = None
    first_kind_line = 0
    last_key = None
    merged = 0
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            rid = f"record {lineno}"
            try:
                try:
                    rec = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise LineError(f"not valid JSON ({exc.msg} at column {exc.colno})", lineno) from None
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                    raise LineError("a record must be an object with a 'text' string", lineno)
                words = rec["text"].split()
                if not words:
                    raise LineError("empty text", lineno)
                targets_raw = rec.get("targets", [])
                if not isinstance(targets_raw, list):
                    raise LineError("'targets' must be a list", lineno)
                targets = [_target(t, len(words), k, lineno) for k, t in enumerate(targets_raw)]
                for t in targets:
                    has2 = t.span2 is not None
                    if two_spans is None:
                        two_spans, first_kind_line = has2, lineno
                    elif has2 != two_spans:
                        raise LineError(f"this target has {'two spans' if has2 else 'one span'} but line "
                                        f"{first_kind_line} has {'two' if two_spans else 'one'}: a file holds one "
                                        "kind of target", lineno)
            except LineError as bad:
                if not skip_invalid:
                    raise InputError(bad.message, str(path), bad.line, rid) from None
                report.skipped.append(SkippedSentence(str(path), bad.line, rid, bad.message))
                continue
            doc, sid = _ids(rec.get("info"))
            key = (rec["text"], doc, sid)
            if key == last_key and report.sentences:
                report.sentences[-1].targets.extend(targets)
                merged += 1
                continue
            last_key = key
            report.sentences.append(Sentence(words=words, sent_id=sid or f"#{lineno}", doc_id=doc, lang=lang,
                                             source=f"{path}:{lineno}", targets=targets))
    if merged:
        report.notes.append(f"{merged} record(s) repeating the previous record's sentence merged into it")
    if not report.sentences:
        raise InputError("no records found" if not report.skipped else
                         f"no valid record ({len(report.skipped)} skipped as invalid)", str(path), 1)
    return report
