"""Reading the pickled vocabularies of old checkpoints without executing any code they name.

A pickle can name any importable callable (``os.system``, ``builtins.eval``...) and `pickle.load`
calls it. `safe_load` admits only plain containers, strings, bytes and numbers, plus
``collections.Counter`` / ``OrderedDict`` (the containers a Transformer-XL vocabulary uses). Every
other global a pickle names (compiled regexes, sacremoses tokenizer objects, tokenizers'
AddedToken...) is replaced by an inert `Opaque` record that keeps the name and arguments it was
given and runs nothing, so the vocabulary can be read while the rest stays inert data.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from typing import Any, BinaryIO

from probes.errors import ProbesError

def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    # Protocols 0-2 pickle bytes as _codecs.encode(text, 'latin1'); nothing else is admitted.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


_ADMITTED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
}

# torch.save's legacy (pre-zip) format starts with this magic number pickle.
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class Opaque:
    """Stand-in for an object of a class the safe unpickler refused; holds only what was pickled."""

    module: str = ""
    qualname: str = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> "Opaque":
        # NEWOBJ creates instances without calling __init__; set every field here.
        obj = super().__new__(cls)
        obj.args, obj.kwargs, obj.state, obj.items = args, kwargs, None, []
        return obj

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items.append((key, value))

    def append(self, value: Any) -> None:
        self.items.append(value)

    def extend(self, values: Any) -> None:
        self.items.extend(values)

    def __repr__(self) -> str:
        return f"<refused {self.module}.{self.qualname}>"


def _opaque_class(module: str, name: str) -> type:
    return type(f"Opaque_{name}", (Opaque,), {"module": module, "qualname": name})


class SafeUnpickler(pickle.Unpickler):
    """An unpickler whose find_class never returns a callable from the pickle's world."""

    def find_class(self, module: str, name: str) -> Any:
        admitted = _ADMITTED.get((module, name))
        return admitted if admitted is not None else _opaque_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        # Tensor storages of a torch file: not needed for a vocabulary, never materialized.
        return Opaque(pid)


def safe_loads(data: bytes) -> Any:
    """Unpickle bytes with `SafeUnpickler` (no code from the pickle runs)."""
    return SafeUnpickler(io.BytesIO(data)).load()


def _load_stream(f: BinaryIO) -> Any:
    first = SafeUnpickler(f).load()
    if isinstance(first, int) and first == _TORCH_LEGACY_MAGIC:
        SafeUnpickler(f).load()  # protocol version
        SafeUnpickler(f).load()  # sys info
        return SafeUnpickler(f).load()
    return first


def safe_load_file(path: str) -> Any:
    """Read a pickle, or a vocabulary written by torch.save (zip or legacy), without running its code."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith("data.pkl")]
                if not names:
                    raise ProbesError(f"{path}: a zip file without data.pkl is not a torch-saved vocabulary")
                return safe_loads(zf.read(names[0]))
        with open(path, "rb") as f:
            return _load_stream(f)
    except ProbesError:
        raise
    except Exception as exc:  # any malformed pickle: one clear message naming the file
        raise ProbesError(f"{path}: cannot read this pickle safely ({type(exc).__name__}: {exc})") from exc
