"""Test-only helpers: look up a system tool; tests never install anything.

``make system-deps`` (run by ``make test``) installs the Debian packages the tests use; a test whose
tool is still missing is skipped with a reason that says so.
"""
from __future__ import annotations

import shutil

import pytest


def require_tool(cmd: str, package: str | None = None) -> str:
    """Path of the command ``cmd``; skips the calling test (or fixture) when it is not on ``PATH``."""
    found = shutil.which(cmd)
    if not found:
        pytest.skip(f"{cmd} not found on PATH: run `make system-deps` as root (apt-get install {package or cmd})")
    return found
