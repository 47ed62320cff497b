"""Universal Dependencies treebanks by name: ``ud:en_ewt``, ``ud:de_gsd/dev`` -> a local CoNLL-U file.

Where the files come from: the treebank's GitHub repository (``UniversalDependencies/UD_<Name>``)
at the pinned release tag ``UD_RELEASE``, one raw ``.conllu`` per split. The tag pins the content.

Checksums, honestly: the UD project publishes no per-file checksums (a release is one archive on
LINDAT/CLARIAH-CZ), and nothing can be downloaded while this was written, so no sha256 ships with
the code. Instead the sha256 of each file is recorded in ``checksums.json`` next to it on first
download (trust on first use) and verified on every later use: a file that changed or was truncated
is an error, never silently read.

Cache: ``$PROBES_CACHE/ud`` when ``PROBES_CACHE`` is set, else ``~/.cache/probes/ud``; files live in
``<cache>/<release>/<code>-ud-<split>.conllu``. A file you put there yourself (e.g. on a machine
without internet) is used as is. Split: ``ud:NAME/train|dev|test``; without one, ``train`` when the
treebank has it, else ``test`` (the PUD treebanks only have a test split).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from probes.errors import ProbesError
from probes.fingerprint import sha256_file

UD_RELEASE = "r2.14"
SPLITS = ("train", "dev", "test")
_ALL, _TEST = SPLITS, ("test",)

# code -> (GitHub repository, splits). Treebanks whose train split is several files are left out.
TREEBANKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "en_ewt": ("UD_English-EWT", _ALL), "en_gum": ("UD_English-GUM", _ALL),
    "en_lines": ("UD_English-LinES", _ALL), "en_partut": ("UD_English-ParTUT", _ALL),
    "en_pud": ("UD_English-PUD", _TEST),
    "de_gsd": ("UD_German-GSD", _ALL), "de_pud": ("UD_German-PUD", _TEST),
    "es_ancora": ("UD_Spanish-AnCora", _ALL), "es_gsd": ("UD_Spanish-GSD", _ALL),
    "es_pud": ("UD_Spanish-PUD", _TEST),
    "fr_gsd": ("UD_French-GSD", _ALL), "fr_sequoia": ("UD_French-Sequoia", _ALL),
    "fr_pud": ("UD_French-PUD", _TEST),
    "zh_gsd": ("UD_Chinese-GSD", _ALL), "zh_gsdsimp": ("UD_Chinese-GSDSimp", _ALL),
    "zh_pud": ("UD_Chinese-PUD", _TEST),
    "ja_gsd": ("UD_Japanese-GSD", _ALL), "ja_pud": ("UD_Japanese-PUD", _TEST),
    "ko_gsd": ("UD_Korean-GSD", _ALL), "ko_kaist": ("UD_Korean-Kaist", _ALL),
    "it_isdt": ("UD_Italian-ISDT", _ALL), "it_pud": ("UD_Italian-PUD", _TEST),
    "pt_bosque": ("UD_Portuguese-Bosque", _ALL), "pt_gsd": ("UD_Portuguese-GSD", _ALL),
    "nl_alpino": ("UD_Dutch-Alpino", _ALL), "nl_lassysmall": ("UD_Dutch-LassySmall", _ALL),
    "ru_gsd": ("UD_Russian-GSD", _ALL), "ru_pud": ("UD_Russian-PUD", _TEST),
    "ar_padt": ("UD_Arabic-PADT", _ALL), "hi_hdtb": ("UD_Hindi-HDTB", _ALL),
    "fi_tdt": ("UD_Finnish-TDT", _ALL), "tr_imst": ("UD_Turkish-IMST", _ALL),
    "pl_pdb": ("UD_Polish-PDB", _ALL), "sv_talbanken": ("UD_Swedish-Talbanken", _ALL),
    "id_gsd": ("UD_Indonesian-GSD", _ALL), "he_htb": ("UD_Hebrew-HTB", _ALL),
    "eu_bdt": ("UD_Basque-BDT", _ALL), "ca_ancora": ("UD_Catalan-AnCora", _ALL),
}


def cache_dir() -> Path:
    """The UD cache directory (``$PROBES_CACHE/ud`` or ``~/.cache/probes/ud``)."""
    root = os.environ.get("PROBES_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "probes") / "ud"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``ud:en_ewt/dev`` -> ("en_ewt", "dev"); the split is None when not given."""
    body = spec[3:] if spec.startswith("ud:") else spec
    name, _, split = body.partition("/")
    name = name.strip().lower()
    if not name:
        raise ProbesError(f"{spec!r}: name a treebank, e.g. ud:en_ewt or ud:de_gsd/dev")
    if split and split not in SPLITS:
        raise ProbesError(f"{spec!r}: unknown split {split!r} (use one of {', '.join(SPLITS)})")
    return name, split or None


def file_name(name: str, split: str) -> str:
    """UD's file name of one split: ``en_ewt-ud-dev.conllu``."""
    return f"{name}-ud-{split}.conllu"


def url_of(name: str, split: str) -> str:
    """Raw GitHub URL of one split at the pinned release tag."""
    repo = TREEBANKS[name][0]
    return f"https://raw.githubusercontent.com/UniversalDependencies/{repo}/{UD_RELEASE}/{file_name(name, split)}"


def _verify(path: Path) -> None:
    """Check ``path`` against its recorded sha256, recording it when there is none yet."""
    book = path.parent / "checksums.json"
    sums = json.loads(book.read_text()) if book.is_file() else {}
    digest = sha256_file(path)
    known = sums.get(path.name)
    if known is None:
        sums[path.name] = digest
        book.write_text(json.dumps(sums, indent=1, sort_keys=True) + "\n")
    elif known != digest:
        raise ProbesError(f"{path}: sha256 {digest[:12]}... differs from the one recorded when it was first "
                          f"stored ({known[:12]}...); the file changed or is truncated. Delete it (and its "
                          f"line in {book}) to fetch it again")


def resolve(spec: str, *, download: bool = True, timeout: float = 60.0) -> Path:
    """The local CoNLL-U path of ``ud:NAME[/split]``, downloading it once into the cache."""
    name, split = parse_spec(spec)
    known = TREEBANKS.get(name)
    if split is None:
        split = "train" if known is None or "train" in known[1] else known[1][0]
    target = cache_dir() / UD_RELEASE / file_name(name, split)
    if target.is_file():
        _verify(target)
        return target
    if known is None:
        raise ProbesError(f"{spec!r}: treebank {name!r} is not in the catalogue (known: "
                          f"{', '.join(sorted(TREEBANKS))}); put its CoNLL-U file at {target} to use it")
    if split not in known[1]:
        raise ProbesError(f"{spec!r}: {known[0]} has no {split} split (it has: {', '.join(known[1])})")
    url = url_of(name, split)
    if not download:
        raise ProbesError(f"{spec!r} is not in the cache; download {url} and put it at {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(partial, "wb") as out:
            while block := resp.read(1 << 20):
                out.write(block)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise ProbesError(f"cannot download {spec} from {url} ({reason}); if this machine is offline, "
                          f"download that file elsewhere and put it at {target}") from None
    partial.replace(target)
    _verify(target)
    return target
