"""Write one benchmark's section into BENCHMARKS.md (replacing the previous run of that benchmark)."""
from __future__ import annotations

import json
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from motiongpt2.bundle import assets_dir

ROOT = Path(__file__).resolve().parents[1]
ASSETS = assets_dir()
BUNDLED_TOKENIZER = ASSETS / "default_lm" / "motion_tokenizer"
BUNDLED_EVALUATOR = ASSETS / "evaluator_guo_glove50"  # what `evaluate` uses without -e, and every table here
CLI = str(Path(sys.executable).with_name("motiongpt2"))
CACHE_TABLES = Path.home() / ".cache" / "motiongpt2" / "eval_results" / "tables"  # where evaluate tables are made


def shown_command(cmd: list[str], split: str = "test", tables: Path | None = None) -> str:
    """An ``evaluate`` command as it made the table it writes: ``motiongpt2`` for the virtual environment's path,
    the stored table's replications (``--out``/``<task>_<split>.json``, when it exists), and :data:`CACHE_TABLES`
    in place of ``tables`` (a folder of copies such as ``docs/results/tables``)."""
    args = list(cmd)
    if "--out" in args and "--task" in args and "--replications" in args:
        stem = args[args.index("--task") + 1] + ("-textonly" if "--text-only" in args else "")
        table = Path(args[args.index("--out") + 1]) / f"{stem}_{split}.json"
        if table.exists():
            args[args.index("--replications") + 1] = str(json.loads(table.read_text())["replications"])
    text = " ".join(shlex.quote(a) for a in args).replace(CLI, "motiongpt2")
    return text.replace(str(tables), str(CACHE_TABLES)) if tables is not None else text


def reference_tokenizer(runs: Path | None = None) -> Path:
    """The motion tokenizer the reference tables use: a local ``runs/vq_cpu_small`` run when there is one (its
    best step), else the bundled default model's tokenizer (a copy of that run's step 10,000), so the T2M-GPT
    baseline, the tokenizer table and ``scripts/ablations.sh`` share one codebook on any machine."""
    run = (runs or ROOT / "runs") / "vq_cpu_small"
    return run / "best" if (run / "best").exists() else BUNDLED_TOKENIZER


def bundle_source(meta: dict) -> str | None:
    """The step folder a bundle was made from, from its ``meta.json`` (``None`` for a run's own step)."""
    return (meta.get("bundle") or {}).get("source") or meta.get("copied_from")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def dirty_files(report: str | tuple[str, ...] = "BENCHMARKS.md") -> list[str]:
    """Tracked files with uncommitted changes (the report being written, ``report``: a file or a folder
    prefix, excluded)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                             capture_output=True, text=True).stdout
    except OSError:
        return []
    reports = (report,) if isinstance(report, str) else tuple(report)
    return [line[3:] for line in out.splitlines()
            if not any(line[3:].strip() == r or line[3:].startswith(r.rstrip("/") + "/") for r in reports)]


def worktrees() -> list[Path]:
    """Every checkout of this repository (``git worktree``: a long job may run in a second checkout)."""
    try:
        out = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=ROOT, capture_output=True,
                             text=True).stdout
    except OSError:
        return [ROOT]
    return [Path(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("worktree ")] or [ROOT]


def portable(text: str) -> str:
    """Replace machine-specific paths: a checkout by ``.``, the home folder by ``~``, shared data by ``$SHARED``."""
    shared = (ROOT.parent / "shared" / "data").resolve()
    checkouts = sorted(set(worktrees()) | {ROOT}, key=lambda p: -len(str(p)))
    for path, short in ((shared, "$SHARED"), *((c, ".") for c in checkouts), (Path.home(), "~")):
        text = text.replace(str(path) + "/", short + "/").replace(str(path), short)
    return text


def write_section(name: str, command: str, body: str, path: Path | None = None,
                  report: str | tuple[str, ...] = "BENCHMARKS.md") -> None:
    """Replace (or append) the section ``## <name>`` of BENCHMARKS.md (or of ``path``; ``report``: the
    files and folders this report writes, which may be uncommitted).

    Numbers must come from a clean commit: with uncommitted changes to tracked files the section is not
    written (set ``MOTIONGPT2_BENCH_DIRTY=1`` to write it anyway, marked as from a dirty tree). Paths
    are made portable (``.``, ``~``, ``$SHARED``).
    """
    import os

    path = path or ROOT / "BENCHMARKS.md"
    dirty = dirty_files(report)
    if dirty and not os.environ.get("MOTIONGPT2_BENCH_DIRTY"):
        raise SystemExit(f"{path.name}: not written — uncommitted changes in {', '.join(dirty[:5])}; commit first "
                         "(or set MOTIONGPT2_BENCH_DIRTY=1 for a marked trial run)")
    command, body = portable(command), portable(body)
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEach section is written by its script in `benchmarks/`.\n"
    section = (f"## {name}\n\n- command: `{command}`\n- machine: {machine()}\n"
               f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}, commit {commit()}{' (DIRTY TREE)' if dirty else ''}\n\n"
               f"{body.strip()}\n\n")
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    path.write_text(text)
