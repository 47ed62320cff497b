"""What `import probes` does to the process: it sets OpenMP's wait policy default, and only that."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOW = ("import sys; sys.path.insert(0, {root!r}); import probes, torch; "
        "print(__import__('os').environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)")


def _policy(env_value):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", SHOW.format(root=str(ROOT))], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_import_sets_a_passive_openmp_wait_before_torch_loads_and_keeps_a_users_choice():
    assert _policy(None) == ["PASSIVE", "True"]
    assert _policy("ACTIVE") == ["ACTIVE", "True"]


def test_import_probes_alone_does_not_load_torch():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); import probes; "
                          "print('torch' in sys.modules)"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # so the policy is in the environment before OpenMP starts
