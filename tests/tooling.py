"""Test-only helpers: find a system tool, installing its Debian package when allowed."""
from __future__ import annotations

import os
import shutil
import subprocess

_APT_TRIED: dict[str, str] = {}


def ensure_tool(cmd: str, package: str, timeout: float = 900.0) -> tuple[str | None, str]:
    """``(path, "")`` of ``cmd``, installing Debian ``package`` when possible; else ``(None, reason)``."""
    found = shutil.which(cmd)
    if found:
        return found, ""
    if package in _APT_TRIED:
        return None, _APT_TRIED[package]
    if os.environ.get("MOTIONGPT2_NO_APT"):
        reason = f"{cmd} not installed and MOTIONGPT2_NO_APT is set (apt-get install {package})"
    elif not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        reason = f"{cmd} not installed and cannot install it here (needs root and apt-get: apt-get install {package})"
    else:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update"], env=env, check=False, capture_output=True, timeout=300)
            res = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", package], env=env, check=False,
                                 capture_output=True, text=True, timeout=timeout)
            reason = "" if res.returncode == 0 else \
                f"apt-get install {package} failed: {res.stderr.strip().splitlines()[-1:] or res.returncode}"
        except subprocess.TimeoutExpired:
            reason = f"apt-get install {package} took longer than {timeout:.0f} s"
        found = shutil.which(cmd)
        if found:
            return found, ""
        reason = reason or f"{cmd} still missing after apt-get install {package}"
    _APT_TRIED[package] = reason
    return None, reason
