"""CoNLL-U (any Universal Dependencies treebank) -> ``Sentence``, streamed line by line.

How UD's special lines are handled (https://universaldependencies.org/format.html):

* Multiword tokens (``1-2 del`` followed by ``1 de`` and ``2 el``): the *words* (integer ids) are
  what gets probed; the range line is the surface *token* the model reads. Both words map to the
  same token (``word_token``) and ``space_after`` comes from the range line's MISC.
* Empty nodes (``8.1``) belong to enhanced dependencies only: they are not words, they never shift
  word ids or heads; they are skipped and counted (``CorpusReport.empty_nodes``).
* Comments: ``# sent_id = ..`` and ``# text = ..`` fill ``sent_id``/``text``; every other comment
  line is kept (without its leading ``#``) in ``comments``.
* Trees: when HEAD is given it must be given for every word, lie in 0..n and form one tree.
  UD requires exactly one word with HEAD 0, so a sentence without a root and one with several
  roots are both errors. The DEPREL of that word is not checked (pre-UD CoNLL files say ``ROOT``).
  A sentence whose HEAD column is ``_`` throughout is read with ``heads=None`` (unparsed data).
* Named entities, when present, come from BIO/IOB tags (``B-PER``, ``I-PER``, ``O``) in a MISC key
  ``NE=`` or ``NER=``, or in an extra column of a CoNLL-U Plus file whose ``# global.columns``
  header names it ``NE``/``NER`` (or ``...:NE``; ``*`` and ``_`` read as O). Words without a tag
  are O. When any word of a file has such a tag, every sentence read by ``read_conllu`` gets
  ``entities`` (possibly empty); a file without any keeps ``entities=None`` (not annotated).
  CoNLL-U Plus files may also reorder or omit the standard columns (an omitted one reads as ``_``).
* Documents: ``# newdoc id = X`` (or a bare ``# newdoc``) starts a document; every sentence up to the
  next one gets ``doc_id = X``. A file without newdoc comments is one document (``doc_id`` '').
* Entity mentions and coreference in CorefUD's ``Entity=`` MISC notation (GUM, CorefUD 1.x) become
  ``mentions`` (see ``probes.readers.corefud``; ``# global.Entity`` names the fields). A file with no
  ``Entity=`` anywhere keeps ``mentions=None`` (not annotated); once one appears, every sentence
  read has a list (possibly empty).
* PropBank columns after the word columns (Universal PropBank, CoNLL-2009 layouts; see
  ``probes.readers.propbank``) become ``predicates``; in such a file every sentence has a list.
  Extra columns on multiword-token and empty-node lines are ignored (they carry no words).
* Windows line endings, a UTF-8 byte-order mark and a missing final blank line are accepted.

Every malformed input raises one ``InputError`` naming the file, the line and the sentence id (the
``# sent_id`` comment, or ``#N``, the sentence's ordinal in the file, when there is none). With
``skip_invalid=True`` the bad sentence is skipped instead and recorded in the ``CorpusReport``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from probes.errors import InputError
from probes.readers import corefud, propbank
from probes.readers.report import CorpusReport, LineError, SkippedSentence
from probes.records import Sentence, Span

N_COLUMNS = 10
ENTITY_KEYS = ("NE", "NER")
_LANG_FROM_NAME = re.compile(r"^([a-z]{2,3})(?:_[A-Za-z0-9]+-ud-.*|)$")


def infer_lang(path: str | Path) -> Optional[str]:
    """Language code from a UD file name (``en_ewt-ud-dev.conllu``) or a bare ``de.conllu``."""
    m = _LANG_FROM_NAME.match(Path(path).stem)
    return m.group(1) if m else None


STANDARD_COLUMNS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")


@dataclass(frozen=True)
class _Layout:
    """Column positions of a CoNLL-U Plus file (``# global.columns = ...``)."""

    n: int
    standard: tuple[Optional[int], ...]  # position of each STANDARD_COLUMNS entry, None = absent
    entity: Optional[int]  # position of a BIO named-entity column


def parse_global_columns(line: str, lineno: int) -> Optional[_Layout]:
    """``# global.columns = ID FORM ... NE`` -> _Layout; None for any other line."""
    key, eq, val = line.lstrip("#").partition("=")
    if not line.startswith("#") or not eq or key.strip() != "global.columns":
        return None
    names = val.split()
    upper = [n.upper() for n in names]
    if "ID" not in upper or "FORM" not in upper:
        raise _Bad(f"global.columns must name at least ID and FORM (got {val.strip()!r})", lineno)
    entity = next((k for k, n in enumerate(upper) if n in ENTITY_KEYS or n.endswith((":NE", ":NER"))), None)
    standard = tuple(upper.index(c) if c in upper else None for c in STANDARD_COLUMNS)
    return _Layout(len(names), standard, entity)


_Bad = LineError  # a problem inside one sentence: its message and the line it is on


@dataclass
class _FileState:
    """What carries over from sentence to sentence while reading one file."""

    doc_id: str = ""
    n_docs: int = 0
    entity_fields: tuple[str, ...] = corefud.DEFAULT_FIELDS
    has_entity: bool = False          # some word so far carried Entity=
    propbank: Optional[str] = None    # the PropBank layout, once a line has shown it
    propbank_line: int = 0            # the line that showed it
    has_propbank: bool = False        # some word line so far had PropBank columns
    # One FEATS dict per distinct FEATS string: a corpus repeats a few hundred of them over all its
    # words, and a dict per word was the largest part of a read corpus (52 of 168 MB on EWT train).
    # Shared, so readers of Sentence.feats must not mutate them (none does).
    feats_memo: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_feats(value: str, line: int = 0) -> dict[str, str]:
    """``Number=Sing|Person=3`` -> dict; ``_`` -> {}."""
    if value == "_" or value == "":
        return {}
    try:
        out = dict(item.split("=", 1) for item in value.split("|"))
    except ValueError:
        out = {"": ""}
    if "" in out or "" in out.values():
        raise _Bad(f"malformed FEATS {value!r} (expected Feature=Value|...)", line)
    return out


def parse_misc(value: str) -> dict[str, str]:
    """``SpaceAfter=No|NE=B-PER`` -> dict; items without ``=`` map to ''."""
    if value == "_" or value == "":
        return {}
    out: dict[str, str] = {}
    for item in value.split("|"):
        key, _, val = item.partition("=")
        out[key] = val
    return out


def _int(text: str, what: str, line: int) -> int:
    if not text.isdigit():
        raise _Bad(f"{what} {text!r} is not a non-negative integer", line)
    return int(text)


def _entities_from_bio(tags: list[str], line: int) -> list[Span]:
    """BIO (and lenient IOB1: ``I-X`` after another type starts a span) -> spans."""
    spans: list[Span] = []
    start, label = -1, ""
    for j, tag in enumerate(tags + ["O"]):
        if tag in ("O", "_", ""):
            prefix, kind = "O", ""
        else:
            prefix, sep, kind = tag.partition("-")
            if not sep or prefix not in ("B", "I", "E", "S") or not kind:
                raise _Bad(f"entity tag {tag!r} is not BIO (B-TYPE, I-TYPE or O)", line)
        continues = prefix in ("I", "E") and label == kind and start >= 0
        if start >= 0 and not continues:
            spans.append(Span(start, j, label))
            start, label = -1, ""
        if prefix in ("B", "S") or (prefix in ("I", "E") and not continues):
            start, label = j, kind
    return spans


def _check_tree(heads: list[int], lines: list[int]) -> None:
    n = len(heads)
    roots = [i for i, h in enumerate(heads) if h == 0]
    for i, h in enumerate(heads):
        if h > n:
            raise _Bad(f"HEAD {h} of word {i + 1} is out of range (sentence has {n} words)", lines[i])
    if not roots:
        raise _Bad("no root: no word has HEAD 0 (UD requires exactly one)", lines[0])
    if len(roots) > 1:
        ids = ", ".join(str(i + 1) for i in roots)
        raise _Bad(f"several roots: words {ids} have HEAD 0 (UD requires exactly one)", lines[roots[1]])
    state = [0] * n  # 0 unseen, 1 on the current path, 2 reaches the root
    for i in range(n):
        path = []
        j = i
        while j >= 0 and state[j] == 0:
            state[j] = 1
            path.append(j)
            j = heads[j] - 1
        if j >= 0 and state[j] == 1:
            cyc = path[path.index(j):]
            chain = " -> ".join(str(k + 1) for k in cyc + [j])
            raise _Bad(f"cycle in HEAD: words {chain} (not a tree)", lines[min(cyc)])
        for k in path:
            state[k] = 2


def _comment(body: str, lineno: int, state: _FileState) -> None:
    """File-level comments: documents and the CorefUD field names."""
    key, eq, val = body.partition("=")
    key = key.strip()
    if key == "newdoc" or (key == "newdoc id" and eq):
        state.n_docs += 1
        state.doc_id = val.strip() or f"doc{state.n_docs}"
    elif key == "global.Entity" and eq:
        state.entity_fields = corefud.parse_global_entity(val, lineno)


def _propbank_layout(rows: list[tuple[int, Optional[str]]], state: _FileState) -> None:
    """Fix the file's PropBank layout from this sentence's word lines, or check it against them."""
    for lineno, line in rows:
        if line is None or line.startswith("#") or line.count("\t") < N_COLUMNS:
            continue
        cols = line.split("\t")
        if not cols[0].isdigit():
            continue
        found = propbank.detect_layout(cols)
        if found is None:
            continue
        if state.propbank is None:
            state.propbank, state.propbank_line = found, lineno
        elif found != state.propbank:
            raise _Bad(f"this line is in the {found!r} PropBank layout but line {state.propbank_line} set "
                       f"{state.propbank!r} for the file (see probes.readers.propbank)", lineno)


def _propbank_split(cols: list[str], lineno: int, state: _FileState, word_line: bool):
    """For a line with more than 10 columns: (10 CoNLL-U columns, sense, argument columns)."""
    layout = state.propbank or "up"
    if not word_line:
        return cols[:10] if layout == "up" else cols[:8] + ["_", "_"], None, []
    base, sense, args = propbank.split_columns(cols, layout, lineno)
    if sense is not None:
        propbank.check_sense(sense, layout, lineno)
    return base, sense, args


def _parse_block(rows: list[tuple[int, Optional[str]]], path: str, ordinal: int, lang: Optional[str],
                 layout: Optional[_Layout] = None, state: Optional[_FileState] = None
                 ) -> tuple[Sentence, int, str]:
    """One sentence's lines -> (Sentence, empty node count, sent id); raises _Bad."""
    state = state if state is not None else _FileState()
    sent_id, text, comments = "", None, []
    word_cols: list[list[str]] = []
    misc: list[dict[str, str]] = []
    word_lines: list[int] = []
    tokens: list[str] = []
    space_after: list[bool] = []
    word_token: list[int] = []
    expected = 1  # id of the next word
    mwt_end, mwt_line = 0, 0  # last word id of the open multiword token
    last_empty = (0, 0)
    n_empty = 0
    n_columns = layout.n if layout else N_COLUMNS
    column_tags: list[str] = []
    maybe_entities = False
    mentions = corefud.MentionCollector(state.entity_fields)
    senses: list[Optional[str]] = []
    arg_cols: list[list[str]] = []
    if layout is None:
        _propbank_layout(rows, state)
    for lineno, line in rows:
        if line is None:
            raise _Bad("bytes that are not valid UTF-8", lineno)
        if line.startswith("#"):
            body = line[1:].strip()
            key, eq, val = body.partition("=")
            key = key.strip()
            if eq and key == "sent_id":
                sent_id = val.strip()
            elif eq and key == "text":
                text = val.strip()
            else:
                _comment(body, lineno, state)
                mentions.fields = state.entity_fields
                comments.append(body)
            continue
        # Interned: forms, lemmas and tags repeat across the corpus, and one string object per
        # distinct value instead of per word halves what a read corpus holds.
        cols = [sys.intern(c) for c in line.split("\t")]
        wid = cols[0]
        is_word = wid.isdigit()
        if layout is None and len(cols) > N_COLUMNS:
            cols, sense, extra = _propbank_split(cols, lineno, state, is_word)
            if is_word:
                senses.append(sense)
                arg_cols.append(extra)
                state.has_propbank = True
        elif len(cols) != n_columns:
            raise _Bad(f"wrong column count ({len(cols)}, expected {n_columns} tab-separated)", lineno)
        elif is_word and state.has_propbank:
            senses.append(None)  # checked against the sentence's predicates in propbank.frames
            arg_cols.append([])
        if layout is not None:
            raw = cols
            cols = [raw[k] if k is not None else "_" for k in layout.standard]
        if "-" in wid:
            a_txt, _, b_txt = wid.partition("-")
            a = _int(a_txt, "multiword range start", lineno)
            b = _int(b_txt, "multiword range end", lineno)
            if mwt_end >= expected:
                raise _Bad(f"multiword token {wid} overlaps the range ending at {mwt_end}", lineno)
            if a != expected or b <= a:
                raise _Bad(f"bad multiword token range {wid} (expected {expected}-M with M > {expected})",
                           lineno)
            mwt_end, mwt_line = b, lineno
            if "Entity=" in cols[9]:
                raise _Bad(f"Entity= on the multiword token line {wid}: CorefUD puts mention brackets on its "
                           "words, not on the token", lineno)
            tokens.append(cols[1])
            space_after.append(parse_misc(cols[9]).get("SpaceAfter") != "No")
            continue
        if "." in wid:
            i_txt, _, k_txt = wid.partition(".")
            i = _int(i_txt, "empty node id", lineno)
            k = _int(k_txt, "empty node id", lineno)
            want_k = last_empty[1] + 1 if last_empty[0] == i else 1
            if i != expected - 1 or k != want_k:
                raise _Bad(f"empty node {wid} out of order (expected {expected - 1}.{want_k})", lineno)
            last_empty = (i, k)
            n_empty += 1
            continue
        if not wid.isdigit():
            raise _Bad(f"ID {wid!r} is not an integer, a range a-b or an empty node i.k", lineno)
        if int(wid) != expected:
            raise _Bad(f"word id {wid} out of order (expected {expected})", lineno)
        for k in (3, 4, 5, 6, 7, 8):
            if " " in cols[k]:
                raise _Bad(f"{STANDARD_COLUMNS[k]} {cols[k]!r} contains a space (CoNLL-U allows spaces only in "
                           "FORM, LEMMA and MISC)", lineno)
        if cols[9] == "_":
            word_misc = {}
        else:
            word_misc = parse_misc(cols[9])
            maybe_entities = maybe_entities or "NE" in cols[9]
            if "Entity" in word_misc:
                state.has_entity = True
                mentions.word(expected - 1, word_misc["Entity"], lineno)
        if expected > mwt_end:
            tokens.append(cols[1])
            space_after.append(word_misc.get("SpaceAfter") != "No")
        word_token.append(len(tokens) - 1)
        word_cols.append(cols)
        misc.append(word_misc)
        word_lines.append(lineno)
        if layout is not None and layout.entity is not None:
            column_tags.append(raw[layout.entity])
        expected += 1
    first_line = rows[0][0]
    words = [c[1] for c in word_cols]
    if not words:
        raise _Bad("sentence has comment lines but no word lines", first_line)
    if mwt_end >= expected:
        raise _Bad(f"multiword token range ends at {mwt_end} but the sentence has only "
                   f"{expected - 1} words", mwt_line)
    memo = state.feats_memo
    feats = [memo.get(c[5]) or memo.setdefault(c[5], parse_feats(c[5], ln)) for c, ln in zip(word_cols, word_lines)]
    heads = [-1 if c[6] == "_" else _int(c[6], "HEAD", ln) for c, ln in zip(word_cols, word_lines)]
    lemmas, upos, xpos, deprels = ([c[k] for c in word_cols] for k in (2, 3, 4, 7))
    given = [h >= 0 for h in heads]
    if any(given) and not all(given):
        j = given.index(False)
        raise _Bad("HEAD is '_' for some words and given for others", word_lines[j])
    tree = all(given)
    if tree:
        _check_tree(heads, word_lines)
    entities = None
    if column_tags:
        entities = _entities_from_bio(["O" if t == "*" else t for t in column_tags], first_line)
    elif maybe_entities and any(k in m for m in misc if m for k in ENTITY_KEYS):
        tags = [next((m[k] for k in ENTITY_KEYS if k in m), "O") for m in misc]
        entities = _entities_from_bio(tags, first_line)
    predicates = propbank.frames(senses, arg_cols, word_lines) if state.has_propbank else None
    found = mentions.finish()
    all_blank = lambda col: all(v == "_" for v in col)  # noqa: E731 - unannotated column
    sent = Sentence(
        words=words, tokens=tokens, word_token=word_token, space_after=space_after,
        sent_id=sent_id or f"#{ordinal}", text=text, lang=lang, source=f"{path}:{first_line}",
        lemmas=None if all_blank(lemmas) else lemmas,
        upos=None if all_blank(upos) else upos,
        xpos=None if all_blank(xpos) else xpos,
        feats=feats,
        heads=heads if tree else None,
        deprels=None if all_blank(deprels) else deprels,
        misc=misc, entities=entities, comments=comments, doc_id=state.doc_id,
        mentions=found if state.has_entity else None, predicates=predicates,
    )
    return sent, n_empty, sent.sent_id


def _blocks(path: Path) -> Iterator[tuple[list[tuple[int, Optional[str]]], Optional[str]]]:
    """Yield each sentence's (line number, text or None for undecodable bytes) rows."""
    rows: list[tuple[int, Optional[str]]] = []
    pending_id: Optional[str] = None
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line: Optional[str] = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                line = None
            if line is not None and "\r" in line:
                # CR-only (classic Mac) line endings read as one endless line: say so, never quote it whole
                raise InputError("a carriage return inside a line: the file has CR-only line endings; convert them "
                                 "to LF (for example: tr '\\r' '\\n' < in.conllu > out.conllu)", str(path), lineno)
            if line is not None and not line.strip():
                if rows:
                    yield rows, pending_id
                rows, pending_id = [], None
                continue
            if line is not None and line.startswith("#"):
                key, eq, val = line[1:].partition("=")
                if eq and key.strip() == "sent_id":
                    pending_id = val.strip()
            rows.append((lineno, line))
    if rows:
        yield rows, pending_id


def iter_conllu(path: str | Path, report: CorpusReport, *, skip_invalid: bool = False,
                lang: Optional[str] = None) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-U file; skipped ones and empty nodes go to ``report``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", str(path))
    lang = lang or infer_lang(path)
    ordinal = 0
    layout: Optional[_Layout] = None
    state = _FileState()
    for block_no, (rows, pending_id) in enumerate(_blocks(path)):
        ordinal += 1
        try:
            if block_no == 0 and rows[0][1] is not None:
                layout = parse_global_columns(rows[0][1], rows[0][0])
                if layout is not None:
                    rows = rows[1:]  # the header belongs to the file, not to its first sentence
                    if not rows:
                        ordinal -= 1
                        continue
        except _Bad as bad:
            raise InputError(bad.message, str(path), bad.line) from None
        try:
            sent, n_empty, _ = _parse_block(rows, str(path), ordinal, lang, layout, state)
        except _Bad as bad:
            sid = pending_id or f"#{ordinal}"
            if not skip_invalid:
                raise InputError(bad.message, str(path), bad.line, sid) from None
            report.skipped.append(SkippedSentence(str(path), bad.line, sid, bad.message))
            continue
        report.empty_nodes += n_empty
        report.ordinals.append(ordinal)
        yield sent
    report.total = ordinal
    if ordinal == 0:
        raise InputError("empty file: no sentences found" if layout is None else
                         "no sentences after the global.columns header", str(path), 1)


def read_conllu_report(path: str | Path, *, skip_invalid: bool = False,
                       lang: Optional[str] = None) -> CorpusReport:
    """Read a whole CoNLL-U file into a ``CorpusReport`` (sentences plus skipped ones)."""
    report = CorpusReport(source=str(path))
    report.sentences = list(iter_conllu(path, report, skip_invalid=skip_invalid, lang=lang))
    if any(s.entities is not None for s in report.sentences):
        for s in report.sentences:  # files tag only the entity words: the rest are O
            if s.entities is None:
                s.entities = []
    # Once a file annotates mentions / predicates, a sentence without any has none (not "unannotated").
    for attr in ("mentions", "predicates"):
        if any(getattr(s, attr) is not None for s in report.sentences):
            for s in report.sentences:
                if getattr(s, attr) is None:
                    setattr(s, attr, [])
    if not report.sentences:
        raise no_sentences(path, report)
    return report


def no_sentences(path: str | Path, report: CorpusReport) -> InputError:
    """The error for a file that yielded no sentence: all skipped as invalid, or none at all."""
    if report.skipped:
        return InputError(f"no valid sentence ({len(report.skipped)} skipped as invalid; first: "
                          f"{report.skipped[0]})", str(path))
    return InputError("no sentences found", str(path), 1)


def read_conllu(path: str | Path, skip_invalid: bool = False, *, lang: Optional[str] = None
                ) -> list[Sentence]:
    """Read a CoNLL-U file; with ``skip_invalid`` bad sentences are skipped and printed to stderr."""
    report = read_conllu_report(path, skip_invalid=skip_invalid, lang=lang)
    report.print_skipped()
    return report.sentences


def format_conllu(sentences: list[Sentence]) -> str:
    """Sentences -> CoNLL-U text (multiword tokens rebuilt from ``word_token``)."""
    out: list[str] = []
    for s in sentences:
        if s.sent_id:
            out.append(f"# sent_id = {s.sent_id}")
        if s.text is not None:
            out.append(f"# text = {s.text}")
        out.extend(f"# {c}" for c in s.comments)
        toks = s.model_tokens()
        wt = s.token_of_word()
        n = len(s.words)
        for j in range(n):
            t = wt[j]
            first = j == 0 or wt[j - 1] != t
            last = j == n - 1 or wt[j + 1] != t
            no_space = s.space_after is not None and not s.space_after[t]
            if first and not last:
                end = j
                while end + 1 < n and wt[end + 1] == t:
                    end += 1
                out.append(f"{j + 1}-{end + 1}\t{toks[t]}\t_\t_\t_\t_\t_\t_\t_\t"
                           f"{'SpaceAfter=No' if no_space else '_'}")
            misc = dict(s.misc[j]) if s.misc else {}
            misc.pop("SpaceAfter", None)
            if first and last and no_space:
                misc["SpaceAfter"] = "No"
            col = lambda xs, d="_": xs[j] if xs is not None else d  # noqa: E731
            feats = s.feats[j] if s.feats else {}
            cols = [str(j + 1), s.words[j], col(s.lemmas), col(s.upos), col(s.xpos),
                    "|".join(f"{k}={v}" for k, v in sorted(feats.items(), key=lambda kv: kv[0].lower())) or "_",
                    str(s.heads[j]) if s.heads is not None else "_", col(s.deprels),
                    "_", "|".join(f"{k}={v}" if v else k for k, v in misc.items()) or "_"]
            out.append("\t".join(cols))
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def write_conllu(sentences: list[Sentence], path: str | Path) -> None:
    """Write sentences to a CoNLL-U file (UTF-8, LF line endings)."""
    Path(path).write_text(format_conllu(sentences), encoding="utf-8")
