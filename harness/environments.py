"""Which interpreter runs an implementation's worker.

Most implementations share the project's .venv (the interpreter running dlbench);
one whose manifest names an environment runs in `.venv-<name>` at the repository
root, created by `make env-<name>` (MXNet needs NumPy < 1.24, for example).
DLBENCH_ENVS names another folder to look in (the Makefile takes the same variable).
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env_dir(name, envs_dir=None):
    """envs_dir: a comparison side's own folder of environments (harness.side_build)."""
    return os.path.join(envs_dir or os.environ.get("DLBENCH_ENVS") or REPO_ROOT, f".venv-{name}")


def interpreter(manifest, envs_dir=None):
    """(python path, None) or (None, reason with the command that fixes it)."""
    name = manifest.environment
    if not name:
        return sys.executable, None
    python = os.path.join(env_dir(name, envs_dir), "bin", "python")
    if os.access(python, os.X_OK):
        return python, None
    return None, f"environment {env_dir(name, envs_dir)} is not set up; fix: {manifest.install_hint}"
