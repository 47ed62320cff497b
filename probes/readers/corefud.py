"""CorefUD entity mentions: the ``Entity=`` bracket notation of CoNLL-U MISC -> ``Mention``.

The notation (https://ufal.mff.cuni.cz/corefud, used by GUM and every CorefUD 1.x treebank):

* ``(e5-person-new-1`` on a word opens a mention of entity ``e5`` there; ``e5)`` on a later word
  closes it (the most recently opened mention of ``e5`` still open); ``(e5-person-new-1)`` is a
  one-word mention. Several brackets concatenate on one word: ``(e7-...(e3-...)`` or ``7)6)5)``.
* The fields after the entity id are named by the file's ``# global.Entity = eid-etype-...``
  comment (CorefUD's default ``eid-etype-head-other`` when the file has none); ``etype`` and
  ``infstat`` fill ``Mention.etype`` / ``Mention.infstat``, the others go to ``Mention.attrs``. A
  value may itself contain ``-`` only in the last field (the split stops there).
* Discontinuous mentions mark each piece ``e5[1/2]`` ... ``e5[2/2]``: the pieces become one
  ``Mention`` with ``parts``.
* Mentions live inside one sentence: an opening bracket left unclosed at the end of its sentence,
  a closing bracket with no open mention, a missing piece of a discontinuous mention, or
  ``Entity=`` on a multiword-token line (brackets belong on its words) is an error that names
  the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from probes.readers.report import LineError
from probes.records import Mention

DEFAULT_FIELDS = ("eid", "etype", "head", "other")
_PART = re.compile(r"^(.+)\[(\d+)/(\d+)\]$")


def parse_global_entity(value: str, line: int) -> tuple[str, ...]:
    """``eid-etype-head-other`` -> the field names. The first field is the entity id whatever its
    name (CorefUD says ``eid``, GUM ``GRP``)."""
    names = tuple(n.strip() for n in value.strip().split("-"))
    if len(names) < 1 or any(not n for n in names):
        raise LineError(f"global.Entity must list '-'-separated field names, the entity id first; got "
                        f"{value.strip()!r}", line)
    return names


def _split_eid(eid: str) -> tuple[str, Optional[tuple[int, int]]]:
    m = _PART.match(eid)
    if not m:
        return eid, None
    k, n = int(m.group(2)), int(m.group(3))
    return m.group(1), (k, n)


@dataclass
class _Open:
    eid: str
    part: Optional[tuple[int, int]]
    start: int
    line: int
    attrs: dict[str, str]


@dataclass
class MentionCollector:
    """Collects one sentence's mentions from the ``Entity=`` value of each word, in word order."""

    fields: tuple[str, ...] = DEFAULT_FIELDS
    open: list[_Open] = field(default_factory=list)
    pieces: list[tuple[_Open, int]] = field(default_factory=list)  # closed (opening, end) in closing order

    def word(self, j: int, value: str, line: int) -> None:
        """Read the brackets on word ``j`` (0-based)."""
        i, n = 0, len(value)
        while i < n:
            if value[i] == "(":
                k = i + 1
                while k < n and value[k] not in "()":
                    k += 1
                body = value[i + 1:k]
                if not body:
                    raise LineError(f"empty mention bracket in Entity={value!r}", line)
                opening = self._opening(body, j, line)
                if k < n and value[k] == ")":
                    self.pieces.append((opening, j + 1))
                    i = k + 1
                else:
                    self.open.append(opening)
                    i = k
            else:
                k = value.find(")", i)
                if k < 0 or "(" in value[i:k]:
                    raise LineError(f"cannot read Entity={value!r}: expected '(eid-...' or 'eid)' at "
                                    f"{value[i:]!r}", line)
                self._close(value[i:k], j, line)
                i = k + 1

    def _opening(self, body: str, j: int, line: int) -> _Open:
        parts = body.split("-", len(self.fields) - 1)
        eid, part = _split_eid(parts[0])
        if not eid:
            raise LineError(f"mention bracket ({body} has no entity id", line)
        attrs = {name: val for name, val in zip(self.fields[1:], parts[1:])}
        return _Open(eid, part, j, line, attrs)

    def _close(self, closer: str, j: int, line: int) -> None:
        eid, part = _split_eid(closer)
        for k in range(len(self.open) - 1, -1, -1):
            o = self.open[k]
            if o.eid == eid and o.part == part:
                del self.open[k]
                self.pieces.append((o, j + 1))
                return
        raise LineError(f"closing bracket {closer}) has no open mention of {closer} in this sentence", line)

    def finish(self) -> list[Mention]:
        """The sentence's mentions, ordered by (start, -end); raises LineError on what stays open."""
        if self.open:
            o = self.open[0]
            raise LineError(f"mention ({o.eid}{_part_text(o.part)} opened here is not closed in its sentence "
                            "(CorefUD mentions do not cross sentences)", o.line)
        mentions: list[Mention] = []
        groups: list[tuple[_Open, list[tuple[int, int]]]] = []  # discontinuous mentions being assembled
        for o, end in sorted(self.pieces, key=lambda p: (p[0].start, p[0].line)):
            if o.part is None:
                mentions.append(_mention(o, o.start, end, None))
                continue
            k, total = o.part
            group = next((g for g in groups if g[0].eid == o.eid and g[0].part[1] == total and len(g[1]) == k - 1),
                         None)
            if k == 1:
                groups.append((o, [(o.start, end)]))
            elif group is None:
                raise LineError(f"piece {k}/{total} of discontinuous mention {o.eid} comes without piece {k - 1}", o.line)
            else:
                group[1].append((o.start, end))
        for first, parts in groups:
            if len(parts) != first.part[1]:
                raise LineError(f"discontinuous mention {first.eid} has {len(parts)} of its {first.part[1]} pieces in "
                                "this sentence", first.line)
            mentions.append(_mention(first, parts[0][0], parts[-1][1], parts))
        mentions.sort(key=lambda m: (m.start, -m.end))
        return mentions


def _part_text(part: Optional[tuple[int, int]]) -> str:
    return "" if part is None else f"[{part[0]}/{part[1]}]"


def _mention(o: _Open, start: int, end: int, parts: Optional[list[tuple[int, int]]]) -> Mention:
    attrs = dict(o.attrs)
    etype = attrs.pop("etype", "")
    infstat = attrs.pop("infstat", "")
    return Mention(start, end, o.eid, etype, infstat, parts, attrs)
