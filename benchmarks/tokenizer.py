"""Benchmark: tokenizer reconstruction on the test split, training speed and encode+decode speed.

For each trained run: test-split MPJPE (mm), feature L1, codebook usage and perplexity (via
`motiongpt2 eval-tokenizer`'s code), training steps/s (from the run's metrics.jsonl), and
encode+decode frames per second on CPU at batch 1 and batch 64 (64-frame windows, 1 thread).
Writes the "Motion tokenizers" section of BENCHMARKS.md.

Usage: python benchmarks/tokenizer.py RUN:DATASET [RUN:DATASET ...]
  e.g. python benchmarks/tokenizer.py runs/vq263_small:~/.cache/motiongpt2/datasets/real-body
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section  # noqa: E402

from motiongpt2.tokenizer.checkpoint import load_checkpoint  # noqa: E402
from motiongpt2.tokenizer.evaluate import evaluate_tokenizer, format_reconstruction_table  # noqa: E402


def train_speed(run: Path) -> float | None:
    """Training steps/s of the run's last session: logged by the trainer, else wall clock from its
    start/stop records (then validation time is included)."""
    from datetime import datetime

    path = run / "metrics.jsonl"
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    info = [r for r in rows if r.get("type") == "info"]
    stop = next((r for r in reversed(info) if r.get("event") in ("stop", "interrupted")), None)
    if stop is None:
        return None
    if stop.get("steps_per_s"):
        return stop["steps_per_s"]
    start = next((r for r in reversed(info) if r.get("event") in ("start", "resume") and r["step"] < stop["step"]), None)
    if start is None or "time" not in start:
        return None
    secs = (datetime.fromisoformat(stop["time"]) - datetime.fromisoformat(start["time"])).total_seconds()
    return (stop["step"] - start["step"]) / secs if secs > 0 else None


def codec_speed(model, batch: int, frames: int = 64, repeats: int = 5) -> float:
    """Frames per second of encode + decode on CPU for ``batch`` windows of ``frames`` frames."""
    x = torch.randn(batch, frames, model.input_dim)
    lengths = torch.full((batch,), frames)
    with torch.no_grad():
        model.encode(x, lengths)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            streams, n_tok = model.encode(x, lengths)
            model.decode(streams, n_tok)
            best = min(best, time.perf_counter() - t0)
    return batch * frames / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="RUN_DIR:DATASET_DIR pairs")
    ap.add_argument("--split", default="test")
    ap.add_argument("--note", default="", help="Text appended to the section (e.g. the training commands)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    results, speed_rows, seen = [], [], set()
    for pair in args.runs:
        run, data = (Path(p).expanduser() for p in pair.split(":", 1))
        res = evaluate_tokenizer(run, data, split=args.split, device="cpu")
        res["checkpoint"] = f"{run.name}/{Path(res['checkpoint']).name} on {data.name}"
        results.append(res)
        if run.name in seen:
            continue
        seen.add(run.name)
        model = load_checkpoint(run, which="best", map_location="cpu", load_trainer_state=False).model.eval()
        n_params = sum(p.numel() for p in model.parameters())
        sps = train_speed(run)
        speed_rows.append(f"| {run.name} | {n_params / 1e6:.2f}M | {sps:.2f} | " if sps else f"| {run.name} | {n_params / 1e6:.2f}M | – | ")
        speed_rows[-1] += f"{codec_speed(model, 1):,.0f} | {codec_speed(model, 64):,.0f} | {data.name} |"
    body = (format_reconstruction_table(results) + "\n\n| run | parameters | training steps/s | encode+decode frames/s, batch 1 | "
            "batch 64 | dataset |\n|---|---|---|---|---|---|\n" + "\n".join(speed_rows) +
            "\n\nSpeeds on CPU with 1 thread; training steps/s is the run's last session "
            "(shared machine, other jobs running).") + (f"\n\n{args.note}" if args.note else "")
    print(body)
    write_section("Motion tokenizers", "python benchmarks/tokenizer.py " + " ".join(args.runs), body)


if __name__ == "__main__":
    main()
