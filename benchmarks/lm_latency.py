"""Benchmark: language-model generation latency, memory-bandwidth floor and training throughput.

Generation: wall time to generate one 196-frame motion (49 motion tokens, the count forced; ``<motion>``,
``</motion>`` and EOS around them, which the grammar forces: 1 prompt pass + 48 cached steps) from a text prompt, at batch 1 and batch 16 (16 different prompts),
median of ``--repeats`` runs after one warm-up, on these paths:

* ``transformers generate``: the PEFT model as trained, ``model.generate`` with our grammar constraint
  as a logits processor (what a user of plain transformers would run);
* ``ours, fp32 adapter``: our KV-cache loop (:func:`motiongpt2.lm.decoding.decode`) on the PEFT model,
  full output head;
* ``ours, fp32 merged``: LoRA merged into the weights and the restricted output head (only the allowed
  vocabulary rows are computed inside a motion span): ``MotionGPT2.from_pretrained(run)``, the default;
* ``ours, int8``: as above with int8 dynamic quantization of the decoder's linear layers
  (``quantize="int8"``).

Next to each: the memory-bandwidth floor measured in the same run = weight bytes read per decoding
step x steps / measured read bandwidth (``torch.sum`` over a 1 GiB float32 tensor, best of 5).

The quality of the int8 path (FID, R-Precision with and without it, same crops and seeds) is measured
by ``benchmarks/lm_tables.py --int8``.

Training (``--train-steps N``): a short stage-3 run of the same recipe in a subprocess: tokens/s,
trainable share and peak resident memory.

Writes BENCHMARKS.md's "Language model" section.
Usage: python benchmarks/lm_latency.py --model runs/lm_smollm2_instruct [--threads 2] [--repeats 7]
       [--train-steps 12]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section

from motiongpt2.lm.decoding import MotionConstraint, decode, left_pad
from motiongpt2.lm.model import GenerateRequest, MotionGPT2

TOKENS = 49  # 196 frames at 4 frames per token
PROMPTS = ["a person walks forward and waves with the right hand", "someone jumps twice in place",
           "a man runs in a circle", "a person sits down on a chair", "the person kicks with the left leg",
           "a woman dances happily", "a person throws a ball overhand", "someone crawls on the floor",
           "a person walks backwards slowly", "a man bows politely", "the person turns around to the left",
           "a person picks something up from the ground", "someone stretches both arms up",
           "a person stumbles and regains balance", "a man punches forward twice", "a person climbs stairs"]


def read_bandwidth(threads: int) -> float:
    """Bytes per second ``torch.sum`` reads from a 1 GiB float32 tensor (best of 5)."""
    x = torch.ones(2 ** 28)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        float(x.sum())
        best = min(best, time.perf_counter() - t0)
    return x.numel() * 4 / best


def step_bytes(model: nn.Module, head_rows: int | None) -> int:
    """Weight bytes one decoding step reads: every decoder weight once (int8 packed weights at 1 byte),
    one embedding row, and ``head_rows`` rows of the output head (``None``: all of them)."""
    head = model.get_output_embeddings()
    emb = model.get_input_embeddings()
    skip = {id(emb.weight), id(head.weight)}
    total = 0
    for p in model.parameters():
        if id(p) not in skip:
            total += p.numel() * p.element_size()
    for m in model.modules():   # dynamically quantized linears keep their weights outside parameters()
        if "quantized" in type(m).__module__ and hasattr(m, "weight") and callable(m.weight):
            w = m.weight()
            total += w.numel() * w.element_size() + (0 if m.bias() is None else m.bias().numel() * 4)
    rows = head.weight.shape[0] if head_rows is None else head_rows
    return total + (rows + 1) * head.weight.shape[1] * head.weight.element_size()


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def prompts_of(mg: MotionGPT2, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ``(B, L)`` prompt ids and mask of the first ``batch`` texts, as the model builds them."""
    return left_pad([mg.prompt_ids(GenerateRequest(t, length=TOKENS * mg.unit)) for t in PROMPTS[:batch]],
                    mg.pad_id)


def our_decode(mg: MotionGPT2, x, mask, head_share: float):
    res = decode(mg.model, x, mask, mg.bound, mode="motion", max_new_tokens=TOKENS + 2, eos_token_id=mg.eos_id,
                 greedy=False, seeds=list(range(len(x))), target_tokens=TOKENS, max_tokens=TOKENS,
                 pad_token_id=mg.pad_id, head_share=head_share)
    assert all(len(t) == TOKENS for t in res.motion_tokens), [len(t) for t in res.motion_tokens]
    return res


def hf_generate(mg: MotionGPT2, x, mask):
    constraint = MotionConstraint(mg.bound, mode="motion", eos_token_id=mg.eos_id, target_tokens=TOKENS,
                                  max_tokens=TOKENS)
    with torch.no_grad():
        out = mg.model.generate(input_ids=x, attention_mask=mask, logits_processor=[constraint], do_sample=True,
                                max_new_tokens=TOKENS + 2, min_new_tokens=TOKENS + 2, pad_token_id=mg.pad_id,
                                eos_token_id=None)
    assert out.shape[1] - x.shape[1] == TOKENS + 2
    return out


def latency_rows(run: Path, repeats: int, batches: list[int], bandwidth: float, skip_hf: bool) -> list[dict]:
    rows = []
    paths = [("transformers generate (PEFT model, fp32)", dict(optimize=False), "hf", None),
             ("ours: PEFT model, full head, fp32", dict(optimize=False), "ours", 0.0),
             ("ours: merged, lean pass, restricted head, fp32 (default)", dict(), "ours", 0.5),
             ("ours: merged, lean pass, restricted head, int8", dict(quantize="int8"), "ours", 0.5)]
    for label, kwargs, kind, share in paths:
        if kind == "hf" and skip_hf:
            continue
        mg = MotionGPT2.from_pretrained(run, **kwargs)
        head_rows = None if (kind == "hf" or not share) else len(mg.bound.code_ids["motion"]) + 1
        passes = TOKENS + 2 if kind == "hf" else TOKENS    # ours: forced tokens cost no forward pass
        floor = step_bytes(mg.model, head_rows) * passes / bandwidth
        for b in batches:
            x, mask = prompts_of(mg, b)
            fn = (lambda: hf_generate(mg, x, mask)) if kind == "hf" else (lambda: our_decode(mg, x, mask, share))
            times = timed(fn, repeats)
            rows.append({"path": label, "batch": b, "median_s": statistics.median(times), "min_s": min(times),
                         "floor_s": floor, "step_mb": step_bytes(mg.model, head_rows) / 1e6})
            print(f"{label:58s} batch {b:2d}: median {rows[-1]['median_s']:.3f} s  (floor {floor:.3f} s)", flush=True)
        del mg
    return rows


def train_figures(run: Path, data: Path, steps: int, threads: int) -> dict:
    """A short stage-3 run (same config as ``run``) in a subprocess: tokens/s, trainable share, peak RSS."""
    cfg = run / "config.yaml" if (run / "config.yaml").exists() else None
    with tempfile.TemporaryDirectory(prefix="mg2-lm-train-bench-") as tmp:
        cmd = [sys.executable, "-m", "motiongpt2.cli", "train-lm", "--stage", "instruct", "-c",
               "configs/lm/smollm2_instruct_cpu.yaml", "-d", str(data), "-o", f"{tmp}/run", "--threads", str(threads),
               "--override", f"train.max_steps={steps}", "--override", "train.eval_every=100000",
               "--override", "train.save_every=100000", "--override", "train.log_every=1",
               "--override", "data.val_samples=8"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parents[1], capture_output=True)
        wall = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        recs = [json.loads(line) for line in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()]
    start = next(r for r in recs if r.get("event") == "start")
    train = [r for r in recs if r.get("type") == "train"][2:]   # the first steps warm up
    tok_s = sum(r["tokens"] for r in train) / sum(r["tokens"] / r["tokens_per_s"] for r in train)
    return {"steps": steps, "tokens_per_s": tok_s, "trainable": start["trainable"], "peak_rss_gb": peak_kb / 2 ** 20,
            "wall_s": wall, "batch": start["micro_batch"], "config": str(cfg) if cfg else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("runs/lm_smollm2_instruct"), help="train-lm run or step folder")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--skip-hf", action="store_true", help="leave out the transformers generate row")
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache/motiongpt2/datasets/real-body")
    ap.add_argument("--train-steps", type=int, default=0, help="steps of the training-throughput run (0: off)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    bandwidth = read_bandwidth(args.threads)
    print(f"read bandwidth {bandwidth / 1e9:.1f} GB/s", flush=True)
    rows = latency_rows(args.model, args.repeats, args.batches, bandwidth, args.skip_hf)
    train = train_figures(args.model, args.data, args.train_steps, args.threads) if args.train_steps else None

    lines = [f"Generation of one 196-frame motion (49 motion tokens forced) with SmolLM2-135M + LoRA r=32 from "
             f"`{args.model}` (latency does not depend on the trained weights), {args.threads} threads, median of "
             f"{args.repeats} runs after a warm-up (batch 16: 16 different prompts). Floor: weight bytes read per "
             f"forward pass x passes (transformers: 51; ours: 49, the grammar-forced `<motion>`, `</motion>` and "
             f"EOS need none) / measured read bandwidth {bandwidth / 1e9:.1f} GB/s.", "",
             "| path | batch | median (s) | min (s) | bytes/step (MB) | bandwidth floor (s) | x floor |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['path']} | {r['batch']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['step_mb']:.0f} | "
                     f"{r['floor_s']:.3f} | {r['median_s'] / r['floor_s']:.1f} |")
    for path in dict.fromkeys(r["path"] for r in rows):
        by = {r["batch"]: r["median_s"] for r in rows if r["path"] == path}
        if 1 in by and 16 in by:
            lines.append(f"\n- {path}: batch 16 takes {by[16] / by[1]:.2f}x batch 1 "
                         f"({16 * by[1] / by[16]:.1f}x the motions per second)")
    if train:
        t = train["trainable"]
        lines += ["", f"Training (stage 3, batch {train['batch']}, {train['steps']} steps, {args.threads} threads): "
                  f"{train['tokens_per_s']:.0f} tokens/s (steps 3 on), trainable {t['trainable']:,} of "
                  f"{t['total']:,} parameters ({t['trainable_percent']:.2f}%: LoRA {t['lora']:,}, new embedding rows "
                  f"{t['new_rows']:,}), peak resident memory {train['peak_rss_gb']:.2f} GiB."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        cmd = "python benchmarks/lm_latency.py " + " ".join(sys.argv[1:])
        write_section("Language model (`benchmarks/lm_latency.py`)", cmd, body)


if __name__ == "__main__":
    main()
