"""``motiongpt2`` command-line tool (typer). Every command calls :mod:`motiongpt2.api`.

User mistakes print one line (``error: <file>:<line>: <problem> — <what to do>``) and exit with code 2;
no traceback. A bug prints ``error: internal error (<Type>: <msg>) — the full traceback is in <file>`` and
exits with code 1; Ctrl-C exits with 130 (see :func:`user_errors`).
"""
from __future__ import annotations

import functools
import os
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import List, Optional

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from motiongpt2 import api
from motiongpt2.errors import MotionGPT2Error

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="MotionGPT-2: motion-language model — data preparation, tokenizers, training, evaluation, rendering.")
console = Console(stderr=True)


def _say_error(message: str) -> None:
    """Print ``error: <message>`` as one red-prefixed line (the message is plain text: no rich markup)."""
    console.print(Text.assemble(("error:", "bold red"), " ", " ".join(message.split())), highlight=False,
                  soft_wrap=True)


def crash_log_dir() -> Path:
    """Where tracebacks of internal errors go: ``$MOTIONGPT2_CACHE/logs`` (``~/.cache/motiongpt2/logs``)."""
    return api.default_cache() / "logs"


def write_crash_log(err: BaseException) -> Path | None:
    """Write ``err``'s full traceback (and the command line) to a timestamped file; its path, or ``None`` when
    no folder is writable (``crash_log_dir()``, then the system's temporary folder)."""
    text = (f"motiongpt2 {' '.join(shlex.quote(a) for a in sys.argv[1:])}\n"
            f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n\n" + "".join(traceback.format_exception(err)))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (crash_log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def user_errors(fn):
    """Turn every failure into one line: :class:`MotionGPT2Error` (a user mistake) → red line, exit 2;
    Ctrl-C → ``interrupted``, exit 130; any other exception (a bug) → ``internal error (<Type>: <msg>)`` and
    the path of a file holding the full traceback, exit 1. typer/click's own exits and usage errors pass."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except MotionGPT2Error as err:
            _say_error(str(err))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _say_error("interrupted (Ctrl-C)")
            raise typer.Exit(130) from None
        except Exception as err:  # a bug: short line for the user, the traceback in a file
            path = write_crash_log(err)
            where = f"the full traceback is in {path}" if path else "no folder was writable for the traceback"
            _say_error(f"internal error ({type(err).__name__}: {' '.join(str(err).split())[:200]}) — {where}")
            raise typer.Exit(1) from None

    return wrapper


def _print_report(report) -> None:
    c = report.clips
    console.print(f"[bold green]wrote[/] {escape(str(report.out))}: {c['total']} clips "
                  f"(train {c.get('train', 0)}, val {c.get('val', 0)}, test {c.get('test', 0)}), "
                  f"{report.frames} frames = {report.seconds / 60:.1f} min of motion from {report.sources} source files "
                  f"in {report.elapsed_s:.1f} s", highlight=False)
    problems = report.skipped + report.failures
    if problems:
        console.print(f"[yellow]{len(problems)} inputs skipped or failed (all listed in dataset.json):[/]")
        for line in problems[:20]:
            console.print(f"  - {line}", highlight=False, soft_wrap=True, markup=False)
        if len(problems) > 20:
            console.print(f"  ... and {len(problems) - 20} more")


@app.command()
@user_errors
def prepare(
    recipe: str = typer.Argument(..., help="cmu-humanml3d | bandai-namco | real-body (both) | wholebody-composite | custom"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output dataset folder [default: ~/.cache/motiongpt2/datasets/RECIPE]"),
    shared: Optional[Path] = typer.Option(None, help="Shared data folder (holds mocap/ and annotations/) [default: ../shared/data]"),
    source: Optional[Path] = typer.Option(None, help="custom: folder, .zip or .tar.* of BVH / ASF+AMC / joints .npy files"),
    captions: Optional[Path] = typer.Option(None, help="custom: CSV (file,caption[,start,end][,split]) or JSON captions"),
    preset: str = typer.Option("auto", help="custom: skeleton preset (auto, cmu-cgspeed-31, cmu-daz, bandai-namco, ...)"),
    map_file: Optional[Path] = typer.Option(None, "--map", help="custom: JSON joint-name map for an unknown skeleton"),
    workers: int = typer.Option(2, help="Parallel worker processes"),
    limit: Optional[int] = typer.Option(None, help="Use only the first N source files (quick trials)"),
    mirror: bool = typer.Option(True, help="Also write mirrored copies (ids prefixed M), as HumanML3D does"),
    heading: str = typer.Option("official", help="IK heading of the features: official (HumanML3D-exact, default) | "
                                "consistent (corrected, not interchangeable with official data)"),
):
    """Build a dataset in the HumanML3D layout (new_joint_vecs/, new_joints/, texts/, splits, Mean/Std, dataset.json).

    Example: [bold]motiongpt2 prepare cmu-humanml3d --out data/cmu[/]
    """
    out = out or api.default_cache() / "datasets" / recipe
    report = api.prepare(recipe, out, shared=shared, source=source, captions=captions, preset=preset,
                         map_file=map_file, workers=workers, limit=limit, mirror=mirror, heading=heading,
                         command="motiongpt2 " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    _print_report(report)


@app.command()
@user_errors
def render(
    inputs: List[Path] = typer.Argument(..., help="Motions: BVH/AMC files, joints .npy (T,J,3) or features .npy (T,263|251|623)"),
    out: Path = typer.Option(..., "--out", "-o", help="Output .mp4, .gif, .png (a strip of key frames) or .html (interactive 3D viewer)"),
    fps: Optional[float] = typer.Option(None, help="Frames per second of the video [default: the motion's]"),
    caption: Optional[List[str]] = typer.Option(None, help="Caption per motion (repeat the option)"),
    preset: str = typer.Option("auto", help="Skeleton preset for BVH/AMC inputs"),
    title: Optional[str] = typer.Option(None, help="Title above the figure"),
    html: bool = typer.Option(False, "--html", help="Also write an interactive viewer next to the video (same stem, .html)"),
):
    """Draw motions as stick figures (several side by side) with the floor and root trajectory.

    Example: [bold]motiongpt2 render data/cmu/new_joints/004041.npy --out 004041.mp4[/]
    (use [bold]--out clip.html[/] for a self-contained interactive viewer, [bold]--html[/] to write both)
    """
    path = api.render(list(inputs), out, fps=fps, captions=caption, preset=preset, title=title)
    console.print(f"[bold green]wrote[/] {escape(str(path))}")
    if html and path.suffix != ".html":
        page = api.render(list(inputs), path.with_suffix(".html"), fps=fps, captions=caption, preset=preset, title=title)
        console.print(f"[bold green]wrote[/] {escape(str(page))}")


@app.command()
@user_errors
def export(
    input: Path = typer.Argument(..., help="Motion: BVH/AMC, joints .npy (T,J,3) or features .npy (T,263|623|251)"),
    out: Path = typer.Option(..., "--out", "-o", help="Output .bvh, .npz (SMPL-style axis-angle + trans), .npy or .json"),
    preset: str = typer.Option("auto", help="Skeleton preset for BVH/AMC inputs"),
    fps: Optional[float] = typer.Option(None, help="Frame rate written [default: the motion's]"),
):
    """Export motion for Blender, Unity and your own body models (BVH with joint rotations, SMPL-style .npz).

    Example: [bold]motiongpt2 export data/cmu/new_joint_vecs/004041.npy --out 004041.bvh[/]
    """
    info = api.export(input, out, preset=preset, fps=fps)
    extra = f", max re-import error {info['max_error'] * 1000:.3f} mm" if info.get("max_error") is not None else ""
    console.print(f"[bold green]wrote[/] {escape(str(info['path']))} ({info['frames']} frames at {info['fps']:g} fps{extra})",
                  highlight=False)


@app.command("convert")
@user_errors
def convert(
    input: Path = typer.Argument(..., help="BVH / AMC (.xz ok) motion file"),
    out: Path = typer.Option(..., "--out", "-o", help="Output stem: writes STEM.joints.npy and STEM.features.npy"),
    preset: str = typer.Option("auto", help="Skeleton preset or 'auto'"),
    map_file: Optional[Path] = typer.Option(None, "--map", help="JSON joint-name map for an unknown skeleton"),
    heading: str = typer.Option("official", help="IK heading: official (HumanML3D-exact) | consistent (corrected)"),
):
    """Convert your own mocap into HumanML3D joints (T,22,3) and 263-dim features at 20 fps.

    Example: [bold]motiongpt2 convert my_take.bvh --out my_take[/]
    """
    info = api.convert(input, out, preset=preset, map_file=map_file, heading=heading)
    console.print(f"[bold green]wrote[/] {escape(str(info['joints']))} {info['joints_shape']} and {escape(str(info['features']))} "
                  f"{info['features_shape']} ({info['seconds']:.1f} s at 20 fps)", highlight=False)


@app.command()
@user_errors
def validate(
    root: Path = typer.Argument(..., help="Dataset folder (HumanML3D, KIT-ML or Motion-X layout)"),
    kind: str = typer.Option("auto", help="auto | humanml3d | kit | motionx"),
):
    """Check a dataset folder and list every problem (file, line, what to do).

    Example: [bold]motiongpt2 validate ~/data/HumanML3D[/]
    """
    report = api.validate(root, kind=kind)
    problems = list(report.problems)
    console.print(f"{root}: {report.n_ok} samples ok, {len(problems)} problems", highlight=False, markup=False)
    for line in problems:
        console.print(f"  - {line}", highlight=False, soft_wrap=True, markup=False)
    if problems:
        raise typer.Exit(1)


@app.command("train-tokenizer")
@user_errors
def train_tokenizer(
    config: Path = typer.Option(..., "--config", "-c", help="Tokenizer YAML (configs/tokenizer/*.yaml)"),
    data: Path = typer.Option(..., "--data", "-d", help="Prepared dataset folder (HumanML3D layout)"),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints, metrics.jsonl, config copy"),
    max_steps: Optional[int] = typer.Option(None, help="Stop at this global step (the LR schedule still follows the config)"),
    resume: bool = typer.Option(True, help="Continue from the run folder's latest checkpoint"),
    device: str = typer.Option("auto", help="auto | cpu | cuda (bf16 autocast on CUDA)"),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch (1 is fastest on a busy 2-core machine)"),
    override: Optional[List[str]] = typer.Option(None, help="Config override KEY=VALUE, e.g. train.max_iters=500"),
):
    """Train a VQ-VAE or Part-Aware VQ-VAE motion tokenizer; resumes after interruption.

    Example: [bold]motiongpt2 train-tokenizer -c configs/tokenizer/vqvae_cpu_small.yaml -d ~/.cache/motiongpt2/datasets/real-body -o runs/vq[/]
    """
    summary = api.train_tokenizer(config, data, out, max_steps=max_steps, resume=resume, device=device,
                                  overrides=_parse_overrides(override) or None, threads=threads)
    best = summary.get("best_mpjpe_mm")
    console.print(f"[bold green]done[/] step {summary['final_step']} on {summary['device']}; best val MPJPE "
                  f"{best:.1f} mm at step {summary['best_step']}; checkpoints in {summary['out_dir']}"
                  if best is not None else f"[bold green]done[/] step {summary['final_step']}", highlight=False)
    if summary.get("interrupted"):
        raise typer.Exit(130)


@app.command("eval-tokenizer")
@user_errors
def eval_tokenizer(
    checkpoint: List[Path] = typer.Argument(..., help="Run folder(s) or checkpoint folder(s)"),
    data: Path = typer.Option(..., "--data", "-d", help="Prepared dataset folder"),
    split: str = typer.Option("test", help="Split to evaluate (test by default)"),
    which: str = typer.Option("best", help="best | latest checkpoint of a run folder"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON"),
):
    """Print the reconstruction table (MPJPE mm, feature L1, codebook usage, perplexity) of tokenizers.

    Example: [bold]motiongpt2 eval-tokenizer runs/vq -d ~/.cache/motiongpt2/datasets/real-body[/]
    """
    import json

    results = api.eval_tokenizer(list(checkpoint), data, split=split, which=which, device=device)
    print(api.tokenizer_table(results))
    if json_out:
        json_out.write_text(json.dumps(results, indent=1, default=str))


def _parse_overrides(items: Optional[List[str]], flag: str = "--override") -> dict:
    import yaml

    overrides = {}
    for item in items or []:
        if "=" not in item:
            raise MotionGPT2Error(f"{flag} {item!r}: write KEY=VALUE, e.g. "
                                  + ("train.max_iters=500" if flag == "--override" else "quantize=int8"))
        key, value = item.split("=", 1)
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        overrides[key] = parsed
    return overrides


@app.command("train-baseline")
@user_errors
def train_baseline(
    config: Path = typer.Option(Path("configs/baselines/t2mgpt_cpu_small.yaml"), "--config", "-c", help="Baseline YAML"),
    data: Path = typer.Option(..., "--data", "-d", help="Prepared dataset folder"),
    tokenizer: Path = typer.Option(..., "--tokenizer", "-t", help="Trained tokenizer run or step folder (pin a step folder)"),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder"),
    max_steps: Optional[int] = typer.Option(None, help="Stop at this global step"),
    resume: bool = typer.Option(True, help="Continue from the run folder's latest checkpoint"),
    threads: Optional[int] = typer.Option(None, help="CPU threads (default 1)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    override: Optional[List[str]] = typer.Option(None, help="Config override KEY=VALUE"),
):
    """Train the T2M-GPT baseline: a text-conditioned GPT over the same motion tokens (MiniLM text encoder).

    Example: [bold]motiongpt2 train-baseline -d ~/.cache/motiongpt2/datasets/real-body -t runs/vq/step-00012000 -o runs/t2mgpt[/]
    """
    summary = api.train_baseline(config, data, tokenizer, out, max_steps=max_steps, resume=resume, threads=threads,
                                 device=device, overrides=_parse_overrides(override) or None)
    console.print(f"[bold green]done[/] step {summary['final_step']}; best val loss {summary.get('best_val_loss')} "
                  f"at step {summary.get('best_step')}; checkpoints in {out}", highlight=False)


@app.command("train-lm")
@user_errors
def train_lm(
    stage: str = typer.Option(..., "--stage", help="align (stage 2: text<->motion pairs + text-only captions) | instruct (stage 3: all tasks)"),
    config: Path = typer.Option(..., "--config", "-c", help="Language-model YAML (configs/lm/*.yaml)"),
    data: List[Path] = typer.Option(..., "--data", "-d", help="Prepared dataset folder(s); their splits are joined"),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints (each loadable with load_pretrained), metrics.jsonl"),
    init: Optional[Path] = typer.Option(None, help="Start from this language-model run (its best, else latest step), e.g. the stage-align run"),
    shared: Optional[Path] = typer.Option(None, help="Shared data folder with annotations/ (stage-2 text-only captions) [default: ../shared/data]"),
    max_steps: Optional[int] = typer.Option(None, help="Stop at this global step (the LR schedule still follows the config)"),
    resume: bool = typer.Option(True, help="Continue from the run folder's latest checkpoint"),
    device: str = typer.Option("auto", help="auto | cpu | cuda (bf16 autocast on CUDA; use `accelerate launch` for several GPUs)"),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch"),
    override: Optional[List[str]] = typer.Option(None, help="Config override KEY=VALUE, e.g. train.max_steps=50"),
):
    """Fine-tune the language model with LoRA on motion tokens: stage align, then stage instruct.

    Example: [bold]motiongpt2 train-lm --stage align -c configs/lm/smollm2_align_cpu.yaml -d ~/.cache/motiongpt2/datasets/real-body -o runs/lm_align[/]
    then [bold]motiongpt2 train-lm --stage instruct -c configs/lm/smollm2_instruct_cpu.yaml -d ~/.cache/motiongpt2/datasets/real-body -o runs/lm_instruct --init runs/lm_align[/]
    """
    summary = api.train_lm(config, list(data), out, stage, init=init, max_steps=max_steps, resume=resume,
                           device=device, threads=threads, overrides=_parse_overrides(override) or None, shared=shared)
    best = summary.get("best_val_loss")
    console.print(f"[bold green]done[/] stage {summary['stage']} step {summary['final_step']} on {summary['device']}"
                  + (f"; best val loss {best:.4f} at step {summary['best_step']}" if best is not None else "")
                  + f"; checkpoints in {summary['out_dir']}", highlight=False)
    if summary.get("interrupted"):
        raise typer.Exit(130)


@app.command("train-evaluator")
@user_errors
def train_evaluator(
    data: List[Path] = typer.Option(..., "--data", "-d", help="Prepared dataset folder(s); their train splits are joined"),
    out: Path = typer.Option(..., "--out", "-o", help="Evaluator run folder"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="configs/eval/*.yaml [default: Guo et al. with GloVe 50d]"),
    max_steps: Optional[int] = typer.Option(None, help="Stop at this step"),
    resume: bool = typer.Option(True, help="Continue from the run folder's latest checkpoint"),
    override: Optional[List[str]] = typer.Option(None, help="Config override KEY=VALUE"),
):
    """Train a text-to-motion evaluator (Guo et al. architecture, or the contrastive MiniLM variant).

    Example: [bold]motiongpt2 train-evaluator -d ~/.cache/motiongpt2/datasets/cmu-humanml3d -o runs/evaluator[/]
    """
    summary = api.train_evaluator(list(data), out, config=config, max_steps=max_steps, resume=resume,
                                  overrides=_parse_overrides(override) or None)
    console.print(f"[bold green]done[/] {summary}", highlight=False)


@app.command()
@user_errors
def evaluate(
    task: str = typer.Option("t2m", help="t2m | t2m-init | t2m-last | t2m-key | m2t | predict | inbetween | tokenizer"),
    data: List[Path] = typer.Option(..., "--data", "-d", help="Prepared dataset folder(s)"),
    evaluator: Optional[Path] = typer.Option(None, "--evaluator", "-e", help="train-evaluator run folder, or an official finest.tar [default: the bundled reference evaluator, trained on real-body]"),
    generator: Optional[str] = typer.Option(None, help="Model to evaluate: KIND:RUN, e.g. tokenizer:RUN, t2mgpt:RUN or lm:RUN (a train-lm run) [default: Real + baselines only]"),
    split: str = typer.Option("test", help="Split (a validation split is always labelled VALIDATION)"),
    replications: int = typer.Option(20, help="Replications (the protocol uses 20; mean ± 1.96·σ/√n)"),
    seed: int = typer.Option(0, help="Base seed of every random draw"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write <task>_<split>.md and .json here"),
    retrieval: bool = typer.Option(True, help="Include the retrieval baseline row"),
    glove_dir: Optional[Path] = typer.Option(None, help="Official evaluator: folder with our_vab_data.npy / words / idx"),
    meta_dir: Optional[Path] = typer.Option(None, help="Official evaluator: folder with its mean.npy / std.npy"),
    generator_option: Optional[List[str]] = typer.Option(None, help="Generator loader option KEY=VALUE, e.g. quantize=int8 or batch_size=32 (lm)"),
    mm_samples: int = typer.Option(100, help="Captions sampled for MultiModality (protocol: 100, 30 generations each); 0 skips it"),
    text_only: bool = typer.Option(False, "--text-only", help="t2m-init/-last/-key: give the model the text alone and score Recon/Vel against the withheld poses (paper Table VII's text-only rows); writes <task>-textonly_<split>"),
):
    """Run one table of the paper's protocol and print it (Real row first), with seeds, split and commit.

    Example: [bold]motiongpt2 evaluate --task t2m -d ~/.cache/motiongpt2/datasets/real-body --generator lm:runs/lm_instruct[/] (the bundled reference evaluator unless -e names one)
    """
    results = api.evaluate(task, list(data), evaluator, generator=generator, split=split, replications=replications,
                           seed=seed, out=out, retrieval=retrieval, glove_dir=glove_dir, meta_dir=meta_dir,
                           generator_options=_parse_overrides(generator_option, "--generator-option") or None,
                           mm_samples=mm_samples, text_only=text_only)
    print(api.evaluation_table(results))


@app.command()
@user_errors
def demo(
    shared: Optional[Path] = typer.Option(None, help="Shared data folder [default: ../shared/data]"),
    out: Path = typer.Option(Path("demo_out"), help="Output folder"),
    trials: int = typer.Option(6, help="How many CMU trials the sample dataset uses"),
):
    """The data path in one command: prepare a small real sample dataset from ../shared and render one clip
    (`make demo` generates from text with the bundled model instead).

    Example: [bold]motiongpt2 demo --out demo_out[/]
    """
    res = api.demo(shared=shared, out=out, trials=trials, on_prepared=_print_report)
    console.print(f"[bold green]rendered[/] {res['video']} — {res['caption']!r}")



_MODEL_HELP = "Language model: a train-lm run folder (its best step, else latest) or a step folder \\[default: the bundled model]"
_QUANTIZE_HELP = "none | int8 (int8 linear layers on the CPU: ~1.7x faster decoding, measurably lower quality; see BENCHMARKS.md)"


def _print_written(motion, paths: dict) -> None:
    for p in paths.values():
        print(p)
    console.print(f"[bold green]wrote[/] {motion.frames} frames ({motion.seconds:.1f} s at {motion.fps:g} fps)",
                  highlight=False)
    for line in motion.problems:
        console.print(f"[yellow]model output problem:[/] {line}", highlight=False, soft_wrap=True)


@app.command()
@user_errors
def generate(
    text: str = typer.Argument(..., help="What the person does, e.g. \"a person walks forward and waves\""),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    length: Optional[int] = typer.Option(None, help="Frames at 20 fps (rounded down to 4; at most 196) \\[default: the model decides]"),
    seed: int = typer.Option(0, help="Sampling seed (same seed, same motion)"),
    init: Optional[str] = typer.Option(None, help="Initial pose: FILE\\[@FRAME] (BVH/AMC/.npy) or DATASET_ROOT:CLIP_ID\\[@FRAME]"),
    last: Optional[str] = typer.Option(None, help="Last pose: FILE\\[@FRAME] or DATASET_ROOT:CLIP_ID\\[@FRAME] \\[frame default: the last]"),
    key: Optional[List[str]] = typer.Option(None, help="Key pose FRAME=FILE\\[@FRAME] (repeat the option)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output stem: STEM.features.npy, STEM.joints.npy, STEM.bvh, STEM.mp4, STEM.html \\[default: from the text]"),
    video: bool = typer.Option(True, help="Render STEM.mp4 (the .html viewer is always written)"),
    greedy: bool = typer.Option(False, help="Greedy decoding instead of sampling"),
    temperature: float = typer.Option(1.0, help="Sampling temperature"),
    top_k: int = typer.Option(0, help="Sample among the k most likely tokens (0: off)"),
    top_p: float = typer.Option(1.0, help="Nucleus sampling mass (1: off)"),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    quantize: str = typer.Option("none", help=_QUANTIZE_HELP),
):
    """Generate a motion from text, optionally from a given initial / last pose or through key poses.

    Example: [bold]motiongpt2 generate "a person walks forward and waves" --length 120 --out walk[/] (the bundled
    model; [bold]-m runs/lm_instruct[/] for your own)
    (add [bold]--init walk.bvh@0[/], [bold]--last data/cmu:004041@-1[/] or [bold]--key 40=take.bvh@12[/] for pose control)
    """
    res = api.generate_motion(text, model, length=length, seed=seed, init=init, last=last, keys=key, out=out,
                              device=device, video=video, greedy=greedy, temperature=temperature, top_k=top_k,
                              top_p=top_p, quantize=quantize)
    _print_written(res["motion"], res["paths"])


@app.command()
@user_errors
def caption(
    motion: str = typer.Argument(..., help="Motion: BVH/AMC, joints .npy, features .npy, or DATASET_ROOT:CLIP_ID"),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    seed: int = typer.Option(0, help="Seed (used only when the greedy caption fails and is retried)"),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    quantize: str = typer.Option("none", help=_QUANTIZE_HELP),
):
    """Describe a motion in words (printed on stdout).

    Example: [bold]motiongpt2 caption walk.bvh -m runs/lm_instruct[/]
    """
    text = api.caption_motion(motion, model, seed=seed, device=device, quantize=quantize)
    print(text)
    for line in text.problems:
        console.print(f"[yellow]model output problem:[/] {line}", highlight=False, soft_wrap=True)


@app.command()
@user_errors
def complete(
    motion: str = typer.Argument(..., help="The given motion (the beginning): BVH/AMC, .npy or DATASET_ROOT:CLIP_ID"),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    predict: bool = typer.Option(False, "--predict", help="Continue the motion"),
    inbetween: Optional[str] = typer.Option(None, "--inbetween", help="END_FILE: fill in the motion between MOTION and this end"),
    length: Optional[int] = typer.Option(None, help="Frames of the whole result, given parts included \\[default: the model decides]"),
    seed: int = typer.Option(0, help="Sampling seed"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output stem (.features.npy, .joints.npy, .mp4, .html)"),
    video: bool = typer.Option(True, help="Render STEM.mp4"),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    quantize: str = typer.Option("none", help=_QUANTIZE_HELP),
):
    """Complete a motion: predict how it goes on, or fill in the frames between a start and an end.

    Example: [bold]motiongpt2 complete start.bvh -m runs/lm_instruct --predict --length 160 --out cont[/]
    or [bold]motiongpt2 complete start.bvh -m runs/lm_instruct --inbetween end.bvh --length 120 --out mid[/]
    """
    if predict == (inbetween is not None):
        raise MotionGPT2Error("choose one of --predict and --inbetween END_FILE")
    res = api.complete_motion(motion, model, end=inbetween, length=length, seed=seed, out=out, device=device,
                              video=video, quantize=quantize)
    _print_written(res["motion"], res["paths"])


@app.command()
@user_errors
def compose(
    texts: List[str] = typer.Argument(..., help="The texts, in order: one segment each"),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    length: Optional[List[int]] = typer.Option(None, help="Frames of each segment (repeat once per text) \\[default: the model decides]"),
    blend: int = typer.Option(8, help="Frames cross-faded at each seam"),
    seed: int = typer.Option(0, help="Sampling seed"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output stem \\[default: composed]"),
    video: bool = typer.Option(True, help="Render STEM.mp4"),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    quantize: str = typer.Option("none", help=_QUANTIZE_HELP),
):
    """Compose one long motion from several texts: each segment starts where the previous one ended.

    Example: [bold]motiongpt2 compose "a person walks forward" "the person sits down" -m runs/lm_instruct --out story[/]
    """
    res = api.compose_motion(list(texts), model, lengths=list(length) if length else None, seed=seed,
                             blend_frames=blend, out=out, device=device, video=video, quantize=quantize)
    _print_written(res["motion"], res["paths"])

@app.command()
@user_errors
def serve(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)"),
    port: int = typer.Option(8000, help="Port"),
    out: Path = typer.Option(Path("serve_out"), "--out", "-o", help="The only folder the server writes (results, uploads)"),
    examples: Optional[Path] = typer.Option(None, help="Prepared dataset folder whose test clips the page offers as poses"),
    max_batch: int = typer.Option(8, help="Most generate requests decoded together (1: no batching)"),
    max_wait_ms: float = typer.Option(50.0, help="How long a request waits for others to join its batch"),
    queue_size: int = typer.Option(64, help="Waiting requests beyond which new ones get 429"),
    max_concurrency: int = typer.Option(128, help="Open connections beyond which new ones get 503"),
    timeout: float = typer.Option(120.0, help="Seconds before a request gets 504"),
    max_age: float = typer.Option(24.0, help="Hours results and uploads are kept"),
    max_mb: float = typer.Option(2048.0, help="Most megabytes kept in --out (oldest deleted first)"),
    api_key: Optional[str] = typer.Option(None, help="Require this key on /v1 calls \\[default: $MOTIONGPT2_API_KEY, none]"),
    threads: int = typer.Option(0, help="Torch threads (0: torch's default)"),
    device: str = typer.Option("cpu", help="cpu | cuda | auto"),
    quantize: str = typer.Option("none", help=_QUANTIZE_HELP),
):
    """Serve the model over HTTP: JSON API, request batching, and a web page to type, watch and download.

    Example: [bold]motiongpt2 serve -m runs/lm_instruct --examples ~/.cache/motiongpt2/datasets/real-body[/]
    then open http://127.0.0.1:8000 (the API spec is at /openapi.json)
    """
    from motiongpt2.serve import ServeSettings, run_server

    settings = ServeSettings(model=model, host=host, port=port, out_dir=out, examples=examples, max_batch=max_batch,
                             max_wait_ms=max_wait_ms, queue_size=queue_size, max_concurrency=max_concurrency,
                             timeout_s=timeout, max_age_s=max_age * 3600.0, max_bytes=int(max_mb * 2**20),
                             threads=threads, device=device, quantize=quantize)
    if api_key is not None:
        settings.api_key = api_key
    settings.check()
    api.model_folder(model)                      # no model / no such folder: one line now, not after start-up
    console.print(f"[bold green]serving[/] http://{host}:{port} (page /, API /v1, spec /openapi.json); "
                  f"results in {out}", highlight=False)
    run_server(settings)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
