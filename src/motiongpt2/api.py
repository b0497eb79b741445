"""The Python API behind the command line (and, later, the HTTP server).

Each function does one user-level job and raises :class:`motiongpt2.errors.MotionGPT2Error` with one
clear line for user mistakes.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from motiongpt2.errors import InputFileError, MotionGPT2Error

RECIPES = ("cmu-humanml3d", "bandai-namco", "real-body", "wholebody-composite", "custom")


def default_shared() -> Path:
    """The real-data folder: ``$MOTIONGPT2_SHARED`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("MOTIONGPT2_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def default_cache() -> Path:
    """Where prepared datasets go by default: ``$MOTIONGPT2_CACHE`` or ``~/.cache/motiongpt2``."""
    return Path(os.environ.get("MOTIONGPT2_CACHE", Path.home() / ".cache" / "motiongpt2"))


def check_map_file(map_file: Path | str | None) -> None:
    """Refuse (one :class:`SkeletonMapError` line) a ``--map`` file that is not a valid joint map, before
    any work starts."""
    if map_file is not None:
        from motiongpt2.motion.io.retarget import load_map

        load_map(map_file)


def make_plan(recipe: str, shared: Path | None = None, source: Path | None = None, captions: Path | None = None,
              preset: str = "auto", map_file: Path | None = None, limit: int | None = None):
    """Plan a ``prepare`` run (see :mod:`motiongpt2.data.recipes`)."""
    from motiongpt2.data.recipes import bandai_namco, cmu_humanml3d, custom, wholebody_composite

    if recipe in ("cmu-humanml3d", "bandai-namco", "real-body", "wholebody-composite"):
        shared = shared or default_shared()
        if not (shared / "mocap").is_dir():
            raise InputFileError(shared, "no mocap/ folder here", "pass --shared pointing at the shared data folder")
        if recipe == "cmu-humanml3d":
            plan = cmu_humanml3d.plan(shared)
        elif recipe == "bandai-namco":
            plan = bandai_namco.plan(shared)
        elif recipe == "real-body":
            from motiongpt2.data.recipes.base import merge_plans

            plan = merge_plans("real-body", [cmu_humanml3d.plan(shared), bandai_namco.plan(shared)],
                               {"recipe": "real-body", "description": "all real body mocap: CMU (HumanML3D/KIT-ML "
                                "captions) + Bandai-Namco (label captions), 263-dim"})
        else:
            plan = wholebody_composite.plan(shared)
    elif recipe == "custom":
        if source is None or captions is None:
            raise MotionGPT2Error("recipe 'custom' needs --source (folder or archive of motion files) and --captions "
                                  "(CSV or JSON)")
        check_map_file(map_file)
        plan = custom.plan(source, captions, preset=preset, map_file=map_file)
    else:
        raise MotionGPT2Error(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    if limit is not None:
        plan.jobs = plan.jobs[:limit]
        kept = {str(j.path) for j in plan.jobs}
        plan.skipped = [line for line in plan.skipped if line.split(":", 1)[0] in kept]
        plan.meta["limited_to_sources"] = limit
    return plan


def prepare(recipe: str, out: Path, shared: Path | None = None, source: Path | None = None,
            captions: Path | None = None, preset: str = "auto", map_file: Path | None = None,
            workers: int | None = None, limit: int | None = None, mirror: bool = True, progress: bool = True,
            command: str | None = None, heading: str = "official"):
    """Build a HumanML3D-layout dataset at ``out``; returns a :class:`~motiongpt2.data.prepare.PrepareReport`.

    ``heading`` is the IK heading convention of the features: ``"official"`` (interchangeable with
    official HumanML3D data, its Mean/Std and evaluator) or ``"consistent"`` (corrected; see
    :mod:`motiongpt2.motion.uniform`).
    """
    from motiongpt2.data.prepare import PrepareConfig, run_plan
    from motiongpt2.motion.uniform import check_heading

    try:
        check_heading(heading)
    except ValueError as err:
        raise MotionGPT2Error(f"--heading: {err}") from None
    plan = make_plan(recipe, shared, source, captions, preset, map_file, limit)
    cfg = PrepareConfig(out=Path(out), mirror=mirror, heading=heading)
    if recipe == "wholebody-composite":
        from motiongpt2.data.recipes.wholebody_composite import hands_archive
        from motiongpt2.motion.hands import load_hand_bank

        cfg.skeleton = "wholebody"
        cfg.hands = load_hand_bank(hands_archive(shared or default_shared()), fps=cfg.fps)
        plan.meta["hand_clips"] = cfg.hands.sources
    if workers:
        cfg.workers = workers
    return run_plan(plan, cfg, command=command, progress=progress)


def convert(input: Path, out: Path, preset: str = "auto", map_file: Path | None = None,
            heading: str = "official") -> dict:
    """Convert a BVH/AMC take into HumanML3D joints ``(T, 22, 3)`` and 263-dim features at 20 fps.

    Writes ``OUT.joints.npy`` and ``OUT.features.npy`` (each atomically, and only when every value is
    finite); returns their paths, shapes and duration (s). Every unusable input raises one
    :class:`MotionGPT2Error` line.
    """
    from motiongpt2.atomic import atomic_save_npy
    from motiongpt2.motion.io.load import load_joints
    from motiongpt2.motion.skeleton import HUMANML3D
    from motiongpt2.motion.uniform import check_heading

    try:
        check_heading(heading)
    except ValueError as err:
        raise MotionGPT2Error(f"--heading: {err}") from None
    check_map_file(map_file)
    j = load_joints(Path(input), preset=preset, map_file=map_file)
    feats, joints = features_of(j.positions, HUMANML3D, input, heading=heading)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    paths = {"joints": Path(f"{out}.joints.npy"), "features": Path(f"{out}.features.npy")}
    atomic_save_npy(paths["joints"], joints)
    atomic_save_npy(paths["features"], feats)
    return {**paths, "joints_shape": joints.shape, "features_shape": feats.shape, "seconds": len(feats) / 20.0}


def features_of(positions: np.ndarray, skel, name: str | Path, heading: str = "official") -> tuple[np.ndarray, np.ndarray]:
    """:func:`~motiongpt2.motion.features.extract_features` of ``(T, J, 3)`` positions from file ``name``;
    any failure, or a non-finite result, is one :class:`InputFileError` line naming the file."""
    from motiongpt2.motion.features import extract_features
    from motiongpt2.errors import one_line

    try:
        feats, joints = extract_features(positions, skel, heading=heading)
    except (ValueError, FloatingPointError, OverflowError) as err:
        raise InputFileError(name, f"cannot compute features ({one_line(err)})",
                             "check the motion: at least 2 frames at 20 fps, a real body, finite values") from None
    if not (np.isfinite(feats).all() and np.isfinite(joints).all()):  # extract_features refuses these already
        raise InputFileError(name, "features are not finite", "check the motion's values")
    return feats, joints


_NPY_MOTION_HINT = "pass a (T,J,3) joints or (T,263|251|623) features .npy"


def _read_motion_npy(path: Path, fps: float) -> tuple[np.ndarray, float]:
    """Joints ``(T, J, 3)`` float32 and their fps from a joints or features ``.npy``, checked from its header
    (numeric dtype, known shape, size) before the data is read, then for finite values within ±1e6 m."""
    from motiongpt2.motion.io.validate import MAX_ABS_COORD, MAX_JOINTS
    from motiongpt2.npy import check_finite, npy_header, read_npy_data

    hdr = npy_header(path)
    shape = hdr.shape
    if len(shape) == 2:
        from motiongpt2.motion.features import recover_from_ric
        from motiongpt2.motion.skeleton import skeleton_for_dim

        try:
            skel = skeleton_for_dim(shape[1])
        except ValueError as err:
            raise InputFileError(path, str(err), "pass HumanML3D/KIT/whole-body features or joints") from None
        _check_frames(shape[0], path)
        arr = read_npy_data(path, hdr)
        check_finite(arr, path, what="features")
        with np.errstate(all="ignore"):
            joints = recover_from_ric(arr.astype(np.float64)).astype(np.float32)
        check_finite(joints, path, what="joints decoded from the features", limit=MAX_ABS_COORD)
        return joints, skel.fps
    if len(shape) == 3 and shape[2] == 3 and 1 <= shape[1] <= MAX_JOINTS:
        _check_frames(shape[0], path)
        arr = read_npy_data(path, hdr)
        check_finite(arr, path, what="joint positions", limit=MAX_ABS_COORD)
        return arr.astype(np.float32), fps
    raise InputFileError(path, f"array of shape {shape} is neither (T,J,3) joints nor (T,D) features", _NPY_MOTION_HINT)


def _check_frames(n: int, path: Path) -> None:
    if n < 1:
        raise InputFileError(path, "the motion has no frames", _NPY_MOTION_HINT)


def load_any_joints(path: Path, preset: str = "auto", map_file: Path | None = None, fps: float = 20.0):
    """Joints ``(T, J, 3)`` float32 (finite, ``T >= 1``) and their fps from a BVH/AMC file, a joints ``.npy``
    ``(T, J, 3)`` or a feature ``.npy`` ``(T, 263|251|623)`` (decoded with ``recover_from_ric``).

    ``.npy`` files are checked from their header before anything is allocated
    (:mod:`motiongpt2.npy`); every problem is one :class:`InputFileError` line."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found", "check the path")
    if path.suffix == ".npy":
        return _read_motion_npy(path, fps)
    from motiongpt2.motion.io.load import load_joints

    j = load_joints(path, preset=preset, map_file=map_file, fps=fps, min_frames=1)
    return j.positions, j.fps


def check_drawable(joints: np.ndarray, path: str | Path) -> None:
    """Refuse (one line) joints that cannot be drawn or exported: not ``(T, J, 3)`` with ``T >= 1``, ``J`` not
    the joint count of a known skeleton (:data:`~motiongpt2.motion.skeleton.SKELETONS`), or values that
    are not finite (:func:`~motiongpt2.motion.io.validate.check_joints_array`)."""
    from motiongpt2.motion.io.validate import check_joints_array
    from motiongpt2.motion.skeleton import SKELETONS

    if joints.ndim != 3 or joints.shape[2] != 3 or joints.shape[0] < 1:
        raise InputFileError(path, f"motion of shape {joints.shape} is not (T>=1, J, 3) joints", _NPY_MOTION_HINT)
    counts = {s.n_joints: s.name for s in SKELETONS.values()}
    if joints.shape[1] not in counts:
        known = ", ".join(f"{j} ({n})" for j, n in counts.items())
        raise InputFileError(path, f"{joints.shape[1]} joints match no known skeleton (joints: {known})",
                             "convert the motion first (motiongpt2 convert) or pass features")
    check_joints_array(joints, str(path))


def _checked_fps(fps, name: str | Path) -> float:
    from motiongpt2.motion.io.validate import check_fps

    return check_fps(fps, str(name), "--fps")


def render(inputs: list[Path], out: Path, fps: float | None = None, captions: list[str] | None = None,
           preset: str = "auto", title: str | None = None) -> Path:
    """Render one or several motions side by side to ``out`` (.mp4 / .gif / .png strip / .html viewer).

    Inputs are checked first (finite, at least one frame, a known joint count); every problem is one
    :class:`MotionGPT2Error` line."""
    from motiongpt2.errors import one_line
    from motiongpt2.render import render_motion, render_strip

    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".html", ".png", ".mp4", ".gif"):
        raise MotionGPT2Error(f"{out}: unsupported output type — use .mp4, .gif, .png or .html")
    if not inputs:
        raise MotionGPT2Error("no motion to render — pass at least one motion file")
    if captions and len(captions) != len(inputs):
        raise MotionGPT2Error(f"{len(captions)} captions for {len(inputs)} motions — give one --caption per motion or none")
    motions, rates = [], []
    for p in inputs:
        joints, native = load_any_joints(p, preset=preset)
        check_drawable(joints, p)
        motions.append(joints)
        rates.append(native)
    rate = _checked_fps(fps if fps is not None else rates[0], inputs[0] if fps is None else "--fps")
    out.parent.mkdir(parents=True, exist_ok=True)
    arg = motions[0] if len(motions) == 1 else motions
    try:
        if kind == ".html":
            from motiongpt2.render.html import write_html_viewer

            write_html_viewer(motions, out, fps=rate, captions=captions, title=title)
        elif kind == ".png":
            render_strip(arg, out)
        else:
            render_motion(arg, out, fps=rate, title=title, captions=captions)
    except (ValueError, OverflowError, FloatingPointError) as err:
        raise MotionGPT2Error(f"{out}: cannot render ({one_line(err)})") from None
    return out


def export(input: Path, out: Path, preset: str = "auto", fps: float | None = None, **options) -> dict:
    """Export a motion (BVH/AMC, joints or features .npy) to BVH, SMPL-style .npz, joints .npy or JSON.

    Returns the exporter's summary (path, format, frames, fps, and for BVH the max re-import error in m).
    """
    from motiongpt2.errors import one_line
    from motiongpt2.render.export import EXPORT_FORMATS, export_motion

    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise MotionGPT2Error(f"{out}: unsupported export type — use one of .{', .'.join(EXPORT_FORMATS)}")
    joints, native = load_any_joints(Path(input), preset=preset)
    check_drawable(joints, input)
    rate = _checked_fps(fps if fps is not None else native, input if fps is None else "--fps")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        return export_motion(joints, out, fps=rate, **options)
    except (ValueError, OverflowError, FloatingPointError) as err:
        raise MotionGPT2Error(f"{input}: cannot export ({one_line(err)})") from None


def validate(root: Path, kind: str = "auto"):
    """Check a dataset folder; returns a report with ``n_ok`` and ``problems`` (one line each)."""
    from motiongpt2.data.readers import validate_dataset

    return validate_dataset(root, kind=kind)


def train_tokenizer(config: Path, data: Path, out: Path, max_steps: int | None = None, resume: bool = True,
                    device: str = "auto", threads: int | None = None, overrides: dict | None = None,
                    progress: bool = True) -> dict:
    """Train (or resume) a motion tokenizer; returns the summary of
    :func:`motiongpt2.tokenizer.train.train_tokenizer`."""
    from motiongpt2.tokenizer.train import train_tokenizer as run

    return run(config, data, out, max_steps=max_steps, resume=resume, device=device, overrides=overrides,
               threads=threads, progress=progress)


def eval_tokenizer(checkpoints: list[Path], data: Path, split: str = "test", which: str = "best",
                   device: str = "auto", progress: bool = True) -> list[dict]:
    """Reconstruction metrics of each tokenizer run or step folder on ``split`` of ``data``."""
    from motiongpt2.tokenizer.evaluate import evaluate_tokenizer

    return [evaluate_tokenizer(c, data, split=split, which=which, device=device, progress=progress)
            for c in checkpoints]


def tokenizer_table(results: list[dict]) -> str:
    """The Markdown reconstruction table of :func:`eval_tokenizer` results."""
    from motiongpt2.tokenizer.evaluate import format_reconstruction_table

    return format_reconstruction_table(results)


def train_baseline(config: Path, data: Path, tokenizer: Path, out: Path, max_steps: int | None = None,
                   resume: bool = True, threads: int | None = None, device: str = "auto",
                   overrides: dict | None = None, progress: bool = True) -> dict:
    """Train (or resume) the T2M-GPT baseline over a trained tokenizer's codes; returns the summary of
    :func:`motiongpt2.t2mgpt.train_t2mgpt`."""
    from motiongpt2.t2mgpt import train_t2mgpt

    return train_t2mgpt(config, data, tokenizer, out, max_steps=max_steps, resume=resume, threads=threads,
                        device=device, overrides=overrides, progress=progress)


def train_lm(config: Path, data: list[Path], out: Path, stage: str, init: Path | None = None,
             max_steps: int | None = None, resume: bool = True, device: str = "auto", threads: int | None = None,
             overrides: dict | None = None, shared: Path | None = None, progress: bool = True) -> dict:
    """Train (or resume) stage ``align`` (2) or ``instruct`` (3) of the motion-language model; returns the
    summary of :func:`motiongpt2.lm.train.train_lm`."""
    from motiongpt2.lm.train import train_lm as run

    return run(config, data, out, stage, init=init, max_steps=max_steps, resume=resume, device=device,
               threads=threads, overrides=overrides, shared=shared, progress=progress)


def train_evaluator(data: list[Path], out: Path, config: Path | None = None, max_steps: int | None = None,
                    resume: bool = True, overrides: dict | None = None, progress: bool = True) -> dict:
    """Train (or resume) a text-to-motion evaluator; returns the summary of
    :func:`motiongpt2.eval.train_evaluator.train_evaluator`."""
    from motiongpt2.eval.train_evaluator import train_evaluator as run

    return run(data, out, config_path=config, max_steps=max_steps, resume=resume, overrides=overrides,
               progress=progress)


def evaluate(task: str, data: list[Path], evaluator: Path | None = None, generator: str | None = None, split: str = "test",
             replications: int = 20, seed: int = 0, out: Path | None = None, retrieval: bool = True,
             glove_dir: Path | None = None, meta_dir: Path | None = None, progress: bool = True,
             generator_options: dict | None = None, mm_samples: int = 100, text_only: bool = False) -> dict:
    """Run one table of the protocol (:func:`motiongpt2.eval.protocol.evaluate`).

    ``evaluator``: a ``train-evaluator`` run or step folder or an official ``finest.tar`` (``None``: the bundled
    reference evaluator). ``generator`` is a ``KIND:RUN`` spec of :mod:`motiongpt2.eval.generators` (``None``: the Real row
    and the baselines only), ``generator_options`` its loader's keyword options; ``glove_dir`` /
    ``meta_dir`` are the official evaluator's files; ``mm_samples`` captions for MultiModality (the
    protocol's 100; 0 skips it: a slow generator then makes ~800 motions per replication, not ~3,800).
    ``text_only`` (t2m-init / -last / -key): the generator gets the text alone and Recon / Vel are measured
    against the withheld poses (the paper's "text only" rows of Table VII).
    """
    from motiongpt2.eval.generators import load_generator
    from motiongpt2.eval.protocol import EvalSettings
    from motiongpt2.eval.protocol import evaluate as run

    if int(mm_samples) < 0:
        raise MotionGPT2Error(f"--mm-samples must be >= 0 (0 skips MultiModality), got {mm_samples}")

    if evaluator is None:
        from motiongpt2.eval.evaluator import default_evaluator

        evaluator = default_evaluator()
        if evaluator is None:
            raise MotionGPT2Error("no evaluator given and none bundled with this installation — pass --evaluator "
                                  "(a train-evaluator run folder or an official finest.tar)")
    gen = load_generator(generator, options=generator_options) if generator else None
    kwargs = {k: v for k, v in (("glove_dir", glove_dir), ("meta_dir", meta_dir)) if v is not None}
    roots = [str(d) for d in data] if len(data) > 1 else data[0]
    return run(task, roots, evaluator, generator=gen, split=split, replications=replications, seed=seed,
               out_dir=out, baselines=("retrieval",) if retrieval else (), evaluator_kwargs=kwargs or None,
               num_threads=1, progress=progress,
               settings=EvalSettings(mm_samples=int(mm_samples), withhold_poses=bool(text_only)))


def evaluation_table(results: dict) -> str:
    """The Markdown table of :func:`evaluate` results."""
    from motiongpt2.eval.protocol import format_markdown

    return format_markdown(results)


def demo(shared: Path | None = None, out: Path = Path("demo_out"), trials: int = 6, on_prepared=None) -> dict:
    """Prepare a small real CMU sample dataset under ``out/sample-cmu`` and render one clip.

    ``on_prepared(report)`` is called once the dataset is written.  Returns ``{"report", "clip",
    "caption", "video"}``.
    """
    report = prepare("cmu-humanml3d", Path(out) / "sample-cmu", shared=shared, limit=trials,
                     command=f"motiongpt2 demo --trials {trials}")
    if on_prepared is not None:
        on_prepared(report)
    ids = sorted((Path(out) / "sample-cmu" / "new_joints").glob("*.npy"))
    if not ids:
        raise MotionGPT2Error(f"{out}: the sample dataset has no clip — see the skipped inputs above")
    clip = next((p for p in ids if not p.stem.startswith("M")), ids[0])
    text = (Path(out) / "sample-cmu" / "texts" / f"{clip.stem}.txt").read_text().splitlines()
    caption = text[0].split("#")[0] if text else None
    video = render([clip], Path(out) / f"{clip.stem}.mp4", captions=[caption] if caption else None, title=clip.stem)
    return {"report": report, "clip": clip, "caption": caption, "video": video}


# ------------------------------------------------------------------ the motion-language model
def load_lm(model: Path | str | None, device: str = "cpu", dtype: str = "float32", quantize: str | None = None):
    """The :class:`~motiongpt2.lm.model.MotionGPT2` of ``-m MODEL_DIR`` (a ``train-lm`` run folder, its
    best step, else latest; or a step / ``save_pretrained`` folder); ``quantize="int8"``: int8 layers
    (CPU, :mod:`motiongpt2.lm.inference`)."""
    from motiongpt2.lm.model import MotionGPT2

    return MotionGPT2.from_pretrained(model_folder(model), device=device, dtype=dtype, quantize=quantize)


def model_folder(model: Path | str | None) -> Path:
    """The folder of ``-m MODEL_DIR`` (``None``: the bundled default, :mod:`motiongpt2.lm.bundle`); one-line
    error when it does not exist."""
    if model is None:
        from motiongpt2.lm.bundle import default_model

        found = default_model()
        if found is None:
            raise MotionGPT2Error("no language model given and this installation has no bundled default: pass "
                                  "-m MODEL_DIR (a train-lm run folder or one of its step folders)")
        return found
    if not Path(model).is_dir():
        raise MotionGPT2Error(f"--model {model}: no such folder — pass a train-lm run folder or one of its step "
                              "folders")
    return Path(model)


def write_motion(motion, stem: Path | str, video: bool = True, html: bool = True, bvh: bool = True) -> dict[str, Path]:
    """Write a generated motion: ``STEM.features.npy``, ``STEM.joints.npy`` and, when asked, ``STEM.bvh``
    (joint rotations, :mod:`motiongpt2.render.export_bvh`), a rendered ``STEM.mp4`` and an interactive
    ``STEM.html`` viewer; their paths."""
    paths = motion.save(stem)
    captions = [motion.text] if motion.text else None
    if bvh and len(motion.joints):
        from motiongpt2.render.export import export_motion

        paths["bvh"] = Path(export_motion(motion.joints, Path(f"{stem}.bvh"), fps=motion.fps)["path"])
    if video:
        paths["video"] = render([paths["joints"]], Path(f"{stem}.mp4"), fps=motion.fps, captions=captions)
    if html:
        paths["html"] = render([paths["joints"]], Path(f"{stem}.html"), fps=motion.fps, captions=captions)
    return paths


def parse_key_pose(spec: str) -> tuple[int, str]:
    """``"FRAME=FILE[@FRAME]"`` (``--key``) → ``(frame, "FILE[@FRAME]")``."""
    frame, sep, source = str(spec).partition("=")
    try:
        value = int(frame)
    except ValueError:
        value = -1
    if not sep or not source or value < 0:
        raise MotionGPT2Error(f"--key {spec!r}: write FRAME=FILE[@FRAME], e.g. 40=walk.bvh@12 (frame 40 of the new "
                              "motion takes the pose of frame 12 of walk.bvh)")
    return value, source


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "motion"


def generate_motion(text: str, model: Path | str | None, length: int | None = None, seed: int = 0,
                    init: str | None = None, last: str | None = None, keys: list[str] | None = None,
                    out: Path | str | None = None, device: str = "cpu", video: bool = True, greedy: bool = False,
                    temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, quantize: str | None = None) -> dict:
    """Text (+ optional pose controls ``FILE[@FRAME]`` / ``FRAME=FILE[@FRAME]``) to motion, written under
    ``out`` (:func:`write_motion`; default stem: the text).  Returns ``{"motion", "paths"}``."""
    lm = load_lm(model, device, quantize=quantize)
    key_poses = [parse_key_pose(k) for k in keys] if keys else None
    motion = lm.generate(text, init_pose=init, last_pose=last, key_poses=key_poses, length=length, seed=seed,
                         greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p)
    stem = Path(out) if out is not None else Path(_slug(text))
    return {"motion": motion, "paths": write_motion(motion, stem, video=video)}


def caption_motion(motion: str | Path, model: Path | str | None, seed: int = 0, device: str = "cpu",
                   quantize: str | None = None):
    """The caption (:class:`~motiongpt2.lm.model.Caption`) of a motion file or ``DATASET_ROOT:CLIP_ID``."""
    return load_lm(model, device, quantize=quantize).caption(str(motion), seed=seed)


def complete_motion(motion: str | Path, model: Path | str | None, end: str | Path | None = None,
                    length: int | None = None, seed: int = 0, out: Path | str | None = None, device: str = "cpu",
                    video: bool = True, quantize: str | None = None) -> dict:
    """Continue ``motion`` (``end=None``: prediction) or fill in between ``motion`` and ``end``; ``length``
    frames in all.  Returns ``{"motion", "paths"}``."""
    lm = load_lm(model, device, quantize=quantize)
    if end is None:
        result = lm.predict(str(motion), length=length, seed=seed)
    else:
        result = lm.inbetween(str(motion), str(end), length=length, seed=seed)
    name = Path(str(motion).rsplit(":", 1)[-1]).name.split(".")[0] or "motion"
    stem = Path(out) if out is not None else Path(f"{name}_{'predict' if end is None else 'inbetween'}")
    return {"motion": result, "paths": write_motion(result, stem, video=video)}


def compose_motion(texts: list[str], model: Path | str | None, lengths: list[int] | None = None, seed: int = 0,
                   blend_frames: int = 8, out: Path | str | None = None, device: str = "cpu",
                   video: bool = True, quantize: str | None = None) -> dict:
    """One continuous motion from several texts (:meth:`~motiongpt2.lm.model.MotionGPT2.compose`).
    Returns ``{"motion", "paths"}``."""
    if lengths and len(lengths) != len(texts):
        raise MotionGPT2Error(f"--length given {len(lengths)} times for {len(texts)} texts: give one per text or none")
    lm = load_lm(model, device, quantize=quantize)
    motion = lm.compose(texts, lengths=lengths or None, seed=seed, blend_frames=blend_frames)
    stem = Path(out) if out is not None else Path("composed")
    return {"motion": motion, "paths": write_motion(motion, stem, video=video)}
