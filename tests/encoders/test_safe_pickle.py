"""The restricted unpickler: plain containers come back, every other global stays inert."""

import collections
import pickle
import re

import pytest

from probes.encoders.safe_pickle import Opaque, safe_load_file, safe_loads
from probes.errors import ProbesError


class _Boom:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


def test_plain_containers_round_trip():
    data = {"a": [1, 2.5, "x", None, True], "b": (1, 2), "c": collections.OrderedDict(x=1),
            "d": collections.Counter("aab"), "e": {1, 2}, "f": b"bytes"}
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        assert safe_loads(pickle.dumps(data, protocol=protocol)) == data


def test_other_globals_become_inert_records():
    out = safe_loads(pickle.dumps({"call": _Boom(), "regex": re.compile("a+", re.I)}))
    assert isinstance(out["call"], Opaque) and out["call"].qualname == "eval"
    assert out["call"].args == ("__import__('os').getpid()",)  # recorded, never evaluated
    assert isinstance(out["regex"], Opaque)


class _Table(dict):
    pass


class _Slots:
    __slots__ = ("a",)

    def __init__(self):
        self.a = 1


def test_refused_classes_built_without_init_keep_their_data():
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        table = _Table(x=1)
        table.note = "n"
        out = safe_loads(pickle.dumps({"t": table, "s": _Slots()}, protocol=protocol))
        assert isinstance(out["t"], Opaque) and out["t"].items == [("x", 1)] and out["t"].state == {"note": "n"}
        assert out["s"].state == (None, {"a": 1})


def test_garbage_is_a_clear_error(tmp_path):
    path = tmp_path / "vocab.pkl"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(ProbesError, match="vocab.pkl: cannot read this pickle safely"):
        safe_load_file(str(path))


def test_torch_saved_vocabulary(tmp_path):
    import torch

    path = tmp_path / "vocab.bin"
    torch.save({"sym2idx": collections.OrderedDict(a=0), "idx2sym": ["a"]}, path)
    assert safe_load_file(str(path))["idx2sym"] == ["a"]
    torch.save({"idx2sym": ["b"]}, path, _use_new_zipfile_serialization=False)
    assert safe_load_file(str(path)) == {"idx2sym": ["b"]}
