"""Where the ELMo and Transformer-XL files come from: a local directory, or a download into a cache.

Offline (or when a download fails) the error names the files to fetch and where to put them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request

from probes.errors import ProbesError

# AllenNLP's released ELMo biLMs (options + weights); the files are published without checksums.
_ELMO_BASE = "https://allennlp.s3.amazonaws.com/models/elmo"
ELMO_RELEASES = {
    "original": "2x4096_512_2048cnn_2xhighway",
    "original-5.5b": "2x4096_512_2048cnn_2xhighway_5.5B",
    "medium": "2x2048_256_2048cnn_1xhighway",
    "small": "2x1024_128_2048cnn_1xhighway",
}

TRANSFO_XL_HUB_IDS = {"transfo-xl/transfo-xl-wt103": "transfo-xl/transfo-xl-wt103",
                      "transfo-xl-wt103": "transfo-xl/transfo-xl-wt103"}
TRANSFO_XL_FILES = ["config.json", "pytorch_model.bin", "vocab.pkl"]


def cache_root() -> str:
    """Where downloaded models go: $PROBES_CACHE or ~/.cache/probes (the suite's one cache root)."""
    return os.environ.get("PROBES_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "probes")


def offline() -> bool:
    """True when HF_HUB_OFFLINE or PROBES_OFFLINE is set: use local files only, never the network."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "PROBES_OFFLINE"))


def elmo_urls(release: str) -> tuple[str, str]:
    """The options.json and weights.hdf5 URLs of a released ELMo."""
    stem = ELMO_RELEASES[release]
    return (f"{_ELMO_BASE}/{stem}/elmo_{stem}_options.json", f"{_ELMO_BASE}/{stem}/elmo_{stem}_weights.hdf5")


def _fetch(url: str, dest: str, timeout: float = 30.0) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out, length=1 << 20)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def resolve_elmo(spec: str) -> str:
    """A directory holding an ELMo's options.json + weights.hdf5 for `spec` (a directory or a release name)."""
    if os.path.isdir(spec):
        return spec
    if spec not in ELMO_RELEASES:
        raise ProbesError(f"elmo:{spec}: no such directory, and not a released ELMo "
                          f"({', '.join(sorted(ELMO_RELEASES))}); give a directory with options.json and weights.hdf5")
    target = os.path.join(cache_root(), "elmo", spec)
    files = [os.path.join(target, "options.json"), os.path.join(target, "weights.hdf5")]
    if all(os.path.isfile(f) for f in files):
        return target
    urls = elmo_urls(spec)
    fetch_them = (f"fetch {urls[0]} and {urls[1]}, save them as options.json and weights.hdf5 in a directory DIR, "
                  "and use --model elmo:DIR")
    if offline():
        raise ProbesError(f"elmo:{spec}: not downloaded yet and the network is off (offline mode); {fetch_them}")
    try:
        os.makedirs(target, exist_ok=True)
        for url, dest in zip(urls, files):
            if not os.path.isfile(dest):
                _fetch(url, dest)
    except OSError as exc:
        if os.path.isdir(target) and not os.listdir(target):
            os.rmdir(target)
        raise ProbesError(f"elmo:{spec}: cannot download the released ELMo ({exc}). Offline, {fetch_them}") from exc
    return target


def is_transfo_xl_hub_id(spec: str) -> bool:
    """True for the hub ids of the published Transformer-XL checkpoint."""
    return spec in TRANSFO_XL_HUB_IDS


def resolve_transfo_xl(spec: str) -> str:
    """A directory holding a Transformer-XL checkpoint for `spec` (a directory or the hub id)."""
    if os.path.isdir(spec):
        return spec
    repo = TRANSFO_XL_HUB_IDS.get(spec)
    if repo is None:
        raise ProbesError(f"transfo-xl:{spec}: no such directory; give a directory with config.json, "
                          "pytorch_model.bin (or model.safetensors) and vocab.pkl")
    how = (f"download {', '.join(TRANSFO_XL_FILES)} from https://huggingface.co/{repo} into a directory DIR "
           "and use --model DIR (transformers no longer ships Transformer-XL; the suite runs it itself)")
    try:
        from huggingface_hub import snapshot_download

        patterns = TRANSFO_XL_FILES + ["model.safetensors", "vocab.bin"]
        try:
            return snapshot_download(repo, allow_patterns=patterns, local_files_only=True)
        except Exception:  # not in the local cache: try the network
            if offline():
                raise
            return snapshot_download(repo, allow_patterns=TRANSFO_XL_FILES, etag_timeout=15)
    except Exception as exc:  # huggingface_hub raises many types offline; all mean "not available"
        raise ProbesError(f"{spec}: cannot download the Transformer-XL checkpoint ({type(exc).__name__}). "
                          f"Offline, {how}") from exc
