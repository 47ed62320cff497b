"""Checksums of a finished vector cache, and the checks that a cache is still what was written.

A finished cache's meta.json records, under ``"integrity"``: the size of every array file, a
CRC-32 of each small file (offsets, missing, done), a CRC-32 of every layer's bytes in
vectors.npy, the size and modification time of vectors.npy when it was sealed, and a SHA-256 of
meta.json itself (so an edited ``layers`` or count is caught). CRC-32 detects accidental damage
(flipped bytes, truncation, a half-copied file); it is not a defence against someone who rewrites
the checksums too.

Two levels of checking:

``quick``  (every open): meta's own hash, file sizes, array headers against meta, the small files'
           checksums and offsets' consistency. Milliseconds; when vectors.npy's size or mtime
           differ from the sealed stamp the full check runs.
``full``   (before probing reads a cache, ``probes info --verify``): every layer's checksum and no
           NaN or Inf anywhere. About one pass over the file at several GB/s.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from probes.errors import ProbesError

ALGORITHM = "crc32"
_CHUNK_BYTES = 8 << 20  # small: the buffer and its NaN-test temporaries are a transient peak of memory
SMALL_FILES = ("offsets.npy", "missing.npy", "done.npy")


class CacheDamaged(ProbesError):
    """A cache whose files no longer match what was written: never used, rebuilt by the next extraction."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: the vector cache is damaged ({reason}); it is not used. Run the same "
                         "extraction (or study) again to rebuild it")
        self.path, self.reason = Path(path), reason


def meta_digest(meta: dict) -> str:
    """SHA-256 of meta.json's content without its own digest."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def file_crc(path: Path) -> int:
    """CRC-32 of a whole file, read in chunks."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(_CHUNK_BYTES):
            crc = zlib.crc32(block, crc)
    return crc


def _nonfinite_mask_bits(dtype: np.dtype) -> tuple[np.dtype, int]:
    """(unsigned view dtype, exponent mask): a float is NaN or Inf exactly when its exponent bits are all set."""
    if dtype == np.float16:
        return np.dtype(np.uint16), 0x7C00
    if dtype == np.float32:
        return np.dtype(np.uint32), 0x7F800000
    raise ProbesError(f"cache dtype {dtype} has no integrity check")


def layer_digests(path: Path, positions: Optional[list[int]] = None):
    """Yield (position, CRC-32 of the layer's bytes, words with a NaN or Inf) for layers of vectors.npy.

    Read with plain file reads into one reused buffer, not through a memory map: the pages then stay
    out of this process's resident memory, however large the cache.
    """
    with open(Path(path) / "vectors.npy", "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read_header:
            raise ProbesError(f"{path}: vectors.npy has .npy version {version}, not 1.0 or 2.0")
        shape, fortran, dtype = read_header[version](f)
        if fortran or len(shape) != 3:
            raise ProbesError(f"{path}: vectors.npy is not a C-ordered (layers, words, dim) array")
        start = f.tell()
        utype, mask = _nonfinite_mask_bits(dtype)
        row_bytes = shape[2] * dtype.itemsize
        rows = max(1, _CHUNK_BYTES // max(1, row_bytes))
        buf = np.empty((rows, shape[2]), dtype=dtype)
        for i in range(shape[0]) if positions is None else positions:
            crc, bad = 0, 0
            f.seek(start + i * shape[1] * row_bytes)
            for a in range(0, shape[1], rows):
                n = min(rows, shape[1] - a)
                view = memoryview(buf[:n]).cast("B")
                if f.readinto(view) != n * row_bytes:
                    raise ProbesError(f"{path}: vectors.npy ends early, in layer position {i}")
                crc = zlib.crc32(view, crc)
                bits = buf[:n].view(utype)
                bad += int(np.count_nonzero(((bits & utype.type(mask)) == utype.type(mask)).any(axis=1)))
            yield i, crc, bad


def file_stamp(path: Path) -> dict:
    """Size and modification time of a file."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def seal(path: Path, meta: dict) -> dict:
    """meta with the checksums of the cache in `path` and its own digest."""
    path = Path(path)
    layers = []
    for i, crc, bad in layer_digests(path):
        if bad:
            raise ProbesError(f"{path}: layer {meta['layers'][i]} has NaN or Inf in {bad} "
                              f"word{'s' if bad != 1 else ''} after extraction")
        layers.append(crc)
    files = {name: {"size": (path / name).stat().st_size, "crc32": file_crc(path / name)} for name in SMALL_FILES}
    files["vectors.npy"] = file_stamp(path / "vectors.npy")
    out = dict(meta, integrity={"algorithm": ALGORITHM, "files": files, "layers_crc32": layers})
    out["meta_sha256"] = meta_digest(out)
    return out


def restamp(path: Path, meta: dict) -> dict:
    """meta with vectors.npy's current size and mtime as its sealed stamp, after a full check passed."""
    files = dict(meta["integrity"]["files"], **{"vectors.npy": file_stamp(Path(path) / "vectors.npy")})
    out = dict(meta, integrity=dict(meta["integrity"], files=files))
    out["meta_sha256"] = meta_digest(out)
    return out


def check_files(path: Path, meta: dict) -> bool:
    """Raise CacheDamaged unless meta.json, the file sizes and the small files' checksums are as
    sealed; True when vectors.npy needs the full check (its size or mtime is not the sealed one)."""
    path = Path(path)
    integ = meta.get("integrity")
    if not isinstance(integ, dict) or integ.get("algorithm") != ALGORITHM or "meta_sha256" not in meta:
        raise CacheDamaged(path, "meta.json has no checksums")
    if meta_digest(meta) != meta["meta_sha256"]:
        raise CacheDamaged(path, "meta.json was edited after the cache was written")
    files = integ.get("files", {})
    for name in (*SMALL_FILES, "vectors.npy"):
        f = path / name
        if not f.is_file():
            raise CacheDamaged(path, f"{name} is missing")
        size = f.stat().st_size
        if size != files.get(name, {}).get("size"):
            raise CacheDamaged(path, f"{name} has {size} bytes, {files.get(name, {}).get('size')} were written")
    for name in SMALL_FILES:
        if file_crc(path / name) != files[name]["crc32"]:
            raise CacheDamaged(path, f"{name} does not match its checksum")
    if len(integ.get("layers_crc32", [])) != len(meta["layers"]):
        raise CacheDamaged(path, "the layer checksums do not match the layers")
    return file_stamp(path / "vectors.npy") != files["vectors.npy"]


def check_arrays(path: Path, meta: dict, vec: np.ndarray, offsets: np.ndarray) -> None:
    """Raise CacheDamaged unless the loaded arrays' shapes, dtype and offsets agree with meta.json."""
    n_layers, n_words, n_sent = len(meta["layers"]), int(meta["n_words"]), int(meta["n_sentences"])
    if vec.shape != (n_layers, n_words, int(meta["dim"])) or str(vec.dtype) != meta["dtype"]:
        raise CacheDamaged(path, f"vectors.npy holds {vec.shape} {vec.dtype}, meta.json says "
                                 f"({n_layers}, {n_words}, {meta['dim']}) {meta['dtype']}")
    if offsets.shape != (n_sent + 1,) or offsets[0] != 0 or offsets[-1] != n_words or np.any(np.diff(offsets) < 0):
        raise CacheDamaged(path, "offsets.npy does not describe the sentences in meta.json")


def check_layers(path: Path, meta: dict, positions: Optional[list[int]] = None) -> None:
    """Raise CacheDamaged unless every layer (at `positions` on the first axis) matches its checksum
    and holds no NaN or Inf."""
    want = meta["integrity"]["layers_crc32"]
    try:
        digests = list(layer_digests(path, positions))
    except (OSError, ValueError, ProbesError) as exc:
        raise CacheDamaged(path, f"vectors.npy cannot be read: {exc}") from None
    for i, crc, bad in digests:
        if bad:
            raise CacheDamaged(path, f"layer {meta['layers'][i]} has NaN or Inf in {bad} word{'s' if bad != 1 else ''}")
        if crc != want[i]:
            raise CacheDamaged(path, f"layer {meta['layers'][i]} does not match its checksum")
