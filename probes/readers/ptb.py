"""Constituent trees in Penn Treebank brackets -> ``Sentence.constituents`` (and tags, words).

``(ROOT (S (NP (DT The) (NN cat)) (VP (VBZ sleeps)) (. .)))``: a tree per sentence, one per line or
spread over several lines (trees are read by bracket balance), the root label possibly empty
(``( (S ...))``). Pre-terminals ``(TAG word)`` give the words and their tags; every node above them
is a constituent, stored as ``Span(start, end, label)`` over word indices in pre-order (a parent
before its children), the root included. Empty elements (``-NONE-`` pre-terminals, traces) are
removed with the constituents that cover nothing else. Labels are kept as written (function tags
such as ``NP-SBJ-1`` included); ``probes.tasks.constituents`` normalises them.

``attach_trees`` puts the trees of a ``.ptb`` file beside a CoNLL-U corpus of the same sentences:
tree k belongs to sentence k of the file, and every leaf must be that sentence's word (PTB escapes
such as ``-LRB-`` for ``(`` and ``\\/`` for ``/`` count as equal); a different count or a leaf that
does not match is an error naming the tree's line and the sentence. ``read_ptb`` reads a tree file
as a corpus on its own (words = leaves, XPOS = tags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

from probes.errors import InputError
from probes.records import Sentence, Span

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LCB-": "{", "-RCB-": "}", "-LSB-": "[", "-RSB-": "]"}
QUOTES = {"``": ("\"", "“", "``", "‘"), "''": ("\"", "”", "''", "’")}
EMPTY_TAG = "-NONE-"


@dataclass
class Tree:
    """A parsed tree: its words, their tags, and the constituents (pre-order spans)."""

    line: int
    words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    constituents: list[Span] = field(default_factory=list)


def _tokens(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            for m in _TOKEN.finditer(line):
                yield lineno, m.group(0)


def iter_trees(path: str | Path) -> Iterator[Tree]:
    """Yield the trees of a bracketed file in order; malformed brackets raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a file", str(path))
    stack: list[list] = []  # open nodes: [label, start word, children seen, line]
    tree: Optional[Tree] = None
    expect_label = False
    pending_leaf: Optional[tuple[int, str]] = None
    depths: list[int] = []  # nesting depth of each constituent of the tree being read
    ordinal = 0
    try:
        for lineno, tok in _tokens(path):
            if tok == "(":
                if tree is None:
                    ordinal += 1
                    tree = Tree(lineno)
                if pending_leaf is not None:
                    raise InputError(f"word {pending_leaf[1]!r} beside a bracket: a leaf must be the only child "
                                     "of its pre-terminal", str(path), lineno, f"tree {ordinal}")
                stack.append(["", len(tree.words), 0, lineno])
                expect_label = True
                continue
            if tok == ")":
                if not stack:
                    raise InputError("')' without an open bracket", str(path), lineno, f"tree {ordinal + 1}")
                label, start, n_children, line = stack.pop()
                if pending_leaf is not None:  # (TAG word): a pre-terminal
                    if label != EMPTY_TAG:
                        tree.words.append(pending_leaf[1])
                        tree.tags.append(label)
                    pending_leaf = None
                elif n_children == 0:
                    raise InputError(f"empty constituent ({label})", str(path), line, f"tree {ordinal}")
                else:
                    end = len(tree.words)
                    if end > start:  # constituents holding only empty elements vanish with them
                        depths.append(len(stack))
                        tree.constituents.append(Span(start, end, label))
                if stack:
                    stack[-1][2] += 1
                else:
                    # nodes close after their children: restore pre-order (parents first, also in unary chains)
                    order = sorted(range(len(depths)), key=lambda k: (tree.constituents[k].start,
                                                                       -tree.constituents[k].end, depths[k]))
                    tree.constituents = [tree.constituents[k] for k in order]
                    depths = []
                    if not tree.words:
                        raise InputError("tree without words", str(path), tree.line, f"tree {ordinal}")
                    yield tree
                    tree = None
                expect_label = False
                continue
            if tree is None:
                raise InputError(f"text {tok!r} outside a bracketed tree", str(path), lineno, f"tree {ordinal + 1}")
            if expect_label:
                stack[-1][0] = tok
                expect_label = False
            elif pending_leaf is None and stack[-1][2] == 0:
                pending_leaf = (lineno, tok)
            else:
                raise InputError(f"word {tok!r} beside other children: a leaf must be the only child of its "
                                 "pre-terminal", str(path), lineno, f"tree {ordinal}")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", str(path)) from None
    if stack:
        raise InputError(f"{len(stack)} bracket(s) left open at the end of the file", str(path), stack[0][3],
                         f"tree {ordinal}")


_ESCAPED = re.compile("|".join(map(re.escape, ESCAPES)))


def _unescape(leaf: str) -> str:
    if "-" in leaf:
        leaf = _ESCAPED.sub(lambda m: ESCAPES[m.group(0)], leaf)
    return leaf.replace("\\/", "/").replace("\\*", "*") if "\\" in leaf else leaf


def leaf_matches(leaf: str, word: str) -> bool:
    """Whether a tree leaf is this word (allowing PTB escapes)."""
    return leaf == word or _unescape(leaf) == word or word in QUOTES.get(leaf, ())


def _mismatch(tree: Tree, s: Sentence) -> Optional[str]:
    if len(tree.words) != len(s.words):
        return f"the tree has {len(tree.words)} leaves but the sentence has {len(s.words)} words"
    for j, (leaf, word) in enumerate(zip(tree.words, s.words)):
        if not leaf_matches(leaf, word):
            return f"leaf {j + 1} is {leaf!r} but word {j + 1} is {word!r}"
    return None


def attach_trees(sentences: Sequence[Sentence], path: str | Path, ordinals: Optional[Sequence[int]] = None,
                 total: Optional[int] = None) -> None:
    """Set ``constituents`` of each sentence from the trees of ``path`` (same sentences, same order).

    When the reader skipped invalid sentences, ``ordinals`` (1-based positions of the kept sentences
    in their file) and ``total`` (sentences in the file) pair the trees with the kept sentences.
    """
    trees = list(iter_trees(path))
    ordinals = list(ordinals) if ordinals is not None else list(range(1, len(sentences) + 1))
    total = len(sentences) if total is None else total
    if len(ordinals) != len(sentences):
        raise InputError(f"{len(ordinals)} positions given for {len(sentences)} sentences", str(path))
    if len(trees) != total:
        raise InputError(f"{len(trees)} trees but the corpus they go with has {total} sentences "
                         "(one tree per sentence, in the same order)", str(path))
    for s, k in zip(sentences, ordinals):
        tree = trees[k - 1]
        problem = _mismatch(tree, s)
        if problem:
            raise InputError(f"{problem}: the tree does not belong to this sentence", str(path), tree.line,
                             f"{s.sent_id} ({s.source})" if s.source else s.sent_id)
        s.constituents = list(tree.constituents)


def read_ptb(path: str | Path, *, lang: Optional[str] = None) -> list[Sentence]:
    """A tree file as a corpus: words = unescaped leaves, XPOS = pre-terminal tags, constituents."""
    out = []
    for k, tree in enumerate(iter_trees(path), start=1):
        words = [_unescape(w) for w in tree.words]
        out.append(Sentence(words=words, sent_id=f"#{k}", lang=lang, source=f"{path}:{tree.line}",
                            xpos=list(tree.tags), constituents=list(tree.constituents)))
    if not out:
        raise InputError("no trees found", str(path), 1)
    return out
