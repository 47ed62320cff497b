"""The restricted unpickler: plain containers come back, every other global stays inert."""

import collections
import pickle
import re

from probes.encoders.safe_pickle import Opaque, safe_load_file, safe_loads


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


def test_torch_saved_vocabulary(tmp_path):
    import torch

    path = tmp_path / "vocab.bin"
    torch.save({"sym2idx": collections.OrderedDict(a=0), "idx2sym": ["a"]}, path)
    assert safe_load_file(str(path))["idx2sym"] == ["a"]
    torch.save({"idx2sym": ["b"]}, path, _use_new_zipfile_serialization=False)
    assert safe_load_file(str(path)) == {"idx2sym": ["b"]}
