"""``MotionGPT2``: the one Python API of the motion-language model (CLI, evaluation, HTTP server).

Typical use::

    from motiongpt2.lm.model import MotionGPT2

    mg = MotionGPT2.from_pretrained("runs/lm_instruct")          # a train-lm run or step folder
    m = mg.generate("a person walks forward", length=120, seed=1)  # Motion: 120 frames
    m.save("walk")                                                 # walk.features.npy, walk.joints.npy
    mg.generate("a person jumps", init_pose="walk.joints.npy@-1")  # start from the walk's last pose
    mg.caption(m)                                                  # a Caption (a str)
    mg.predict("walk.features.npy", length=160)                    # continue a motion
    mg.inbetween(start, end, length=120)                           # fill in the middle
    mg.compose(["a person walks", "then sits down"], lengths=[120, 100])  # one long motion

**Prompts** are always written by :func:`~.instructions.build_prompt` with the run's own prompt file
and version (``config.extra.config.data``), wrapped by :func:`~.instructions.format_chat` (the run's
``chat_template`` setting) and tokenized exactly as in training (special tokens added unless a chat
template holds them).  Batches are left-padded and decoded by :func:`~.decoding.decode` under the
motion grammar (mode ``"motion"`` for motion answers, ``"text"`` for captions), one seed per request.

**Speed**: the loaded model is prepared for decoding (:mod:`.inference`): LoRA merged, the lean
Llama pass of :mod:`.fast_llama` where the architecture allows (checked against transformers), and
with ``quantize="int8"`` int8 projections on the CPU.  ``optimize=False`` keeps the PEFT model.

**Lengths** are in frames.  A length ``L`` asks for exactly ``L // unit`` tokens (``unit`` = 4
frames), so the motion has ``(L // unit) · unit`` frames; it must fit the model's maximum of
``max_tokens`` tokens (49 = 196 frames by default, the longest training motions; ``extra.max_tokens``
of the saved config or the ``max_tokens`` argument change it) — longer requests are refused with one
line (use :meth:`MotionGPT2.compose` for longer motions).  ``length=None`` lets the model decide,
capped at ``max_tokens``.  The length is also stated in the prompt (the length-conditioned variant
the model was trained on), unless the run was trained without length sentences
(``data.length_hint_prob: 0``).

**Pose controls** (``init_pose``, ``last_pose``, key poses, see :func:`resolve_pose`) may be

* ``"FILE[@FRAME]"`` or ``Path``: BVH / AMC (resampled to 20 fps, as :func:`motiongpt2.api.load_any_joints`),
  a joints ``.npy`` ``(T, J, 3)`` or a features ``.npy`` ``(T, D)``;
* ``"DATASET_ROOT:CLIP_ID[@FRAME]"``: a clip of a prepared dataset (``new_joint_vecs/CLIP_ID.npy``);
* ``(source, frame)`` or :class:`PoseRef` with ``source`` any of the above, a joints array
  ``(T, J, 3)``, a features array ``(T, D)`` or a :class:`Motion`;
* a single pose: joints ``(J, 3)`` or one features row ``(D,)`` (encoded as a still window);
* a pose token: an ``int`` code (one stream) or an int array ``(S,)`` / ``(1, S)``.

``FRAME`` counts frames at 20 fps from 0; negative frames count from the end (``-1``: the last).
Without a frame the init and key poses use frame 0, the last pose the last frame.  The pose token
is **the token covering that frame**: the motion's features (joints go through
:func:`~motiongpt2.motion.features.extract_features`) around the frame — up to ``context`` tokens on
each side, aligned to the token grid — are encoded and the token at the frame's position is taken,
so a pose gets the same token it has inside the motion (every form of the same motion gives the
same token).  Key poses are ``[(frame, pose), ...]`` (or ``{frame: pose}``); frame ``f`` of the
generated motion is token ``f // unit``.

**Malformed model output never raises.**  Decoding is constrained by the motion grammar, so a motion
answer is well formed unless decoding ran out of steps; when a request still yields no motion
token (or an empty caption) it is retried **once** with another seed (sampling, even for a greedy
request).  If the retry fails too the result is a best effort: the condition tokens of the request
(prefix, start + end, pose tokens in order) or, with none, a still motion made of the tokenizer's
mean feature row (``length`` frames, else 10 tokens' worth); :attr:`Motion.problems` (or
:attr:`Caption.problems`) says what went wrong.  A clean result has empty ``problems``.

**Long motions** (:meth:`MotionGPT2.compose`): segment ``k`` is generated with ``t2m-init`` from the
last token of segment ``k-1`` (so it starts in the pose where the previous one ended); the segments
are joined in *feature* space — the features hold root-relative velocities, so concatenated rows
continue the root path when the joints are re-integrated by ``recover_from_ric`` — and every seam
is a linear cross-fade of the last ``blend_frames`` rows of one segment with the first rows of the
next (:func:`blend_segments`).  The total length is not limited.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from .. import runs
from ..errors import InputFileError, MotionGPT2Error
from ..tokenizer.data import mix_seed
from ..tokenizer.tokens import decode_tokens, encode_features
from .decoding import decode, left_pad
from .instructions import SECONDS_PER_TOKEN, build_prompt, format_chat, load_prompts
from .inference import prepare_for_inference
from .pretrained import MOTION_TOKENIZER_DIR, LoadedLM, copy_pretrained, load_pretrained, save_pretrained

__all__ = ["DEFAULT_MAX_TOKENS", "Caption", "CaptionRequest", "GenerateRequest", "InbetweenRequest", "Motion",
           "MotionGPT2", "PoseRef", "PredictRequest", "blend_segments", "parse_source"]

#: Longest motion in tokens by default (49 tokens = 196 frames: the longest HumanML3D training clips).
DEFAULT_MAX_TOKENS = 49
#: Tokens of the still fallback motion when a request states no length.
_FALLBACK_TOKENS = 10
_MOTION_TEXT = re.compile(r"</?[a-z]+(?:_id_\d+)?>")
_FRAME = re.compile(r"^(.*)@(-?\d+)$")


# ------------------------------------------------------------------------------ results
@dataclass
class Motion:
    """A generated (or loaded) motion.

    Attributes:
        features: ``(T, D)`` float32, de-normalised: the dataset's feature space (263 HumanML3D).
        joints: ``(T, J, 3)`` float32 joint positions in metres (``recover_from_ric`` of ``features``).
        tokens: ``(N, S)`` int64 motion tokens (``T = N · unit`` for a plain generation; for
            :meth:`MotionGPT2.compose` the segments' tokens one after the other).
        fps: frames per second (20 for HumanML3D).
        text: the text it was generated from ("" when none).
        problems: what was malformed in the model output (empty when clean).
        meta: extra facts (``task``, ``seed``, compose ``segments`` as frame ranges ...).
    """

    features: np.ndarray
    joints: np.ndarray
    tokens: np.ndarray
    fps: float = 20.0
    text: str = ""
    problems: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return int(len(self.features))

    @property
    def seconds(self) -> float:
        return self.frames / float(self.fps)

    def save(self, stem: str | Path) -> dict[str, Path]:
        """Write ``STEM.features.npy`` ``(T, D)`` and ``STEM.joints.npy`` ``(T, J, 3)``; their paths."""
        from ..atomic import atomic_save_npy

        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        paths = {"features": Path(f"{stem}.features.npy"), "joints": Path(f"{stem}.joints.npy")}
        atomic_save_npy(paths["features"], np.asarray(self.features, np.float32))
        atomic_save_npy(paths["joints"], np.asarray(self.joints, np.float32))
        return paths


class Caption(str):
    """A caption (a plain ``str``) that also carries ``problems`` (empty when the output was clean)."""

    problems: tuple[str, ...]

    def __new__(cls, text: str, problems: Sequence[str] = ()):
        obj = super().__new__(cls, text)
        obj.problems = tuple(problems)
        return obj

    def __reduce__(self):
        return Caption, (str(self), self.problems)


@dataclass(frozen=True)
class PoseRef:
    """A pose: frame ``frame`` of ``source`` (a path, a clip id, an array or a :class:`Motion`);
    ``frame=None`` uses the role's default (0, or the last frame for a last pose)."""

    source: Any
    frame: int | None = None


# ------------------------------------------------------------------------------ requests
@dataclass
class GenerateRequest:
    """Text to motion, with optional pose controls (see the module docstring for the pose forms)."""

    text: str
    init_pose: Any = None
    last_pose: Any = None
    key_poses: Any = None
    length: int | None = None
    seed: int = 0


@dataclass
class CaptionRequest:
    """Motion to text: ``motion`` is a file, a clip id, a features / joints array or a :class:`Motion`."""

    motion: Any
    seed: int = 0


@dataclass
class PredictRequest:
    """Continue ``prefix`` (any motion form) to ``length`` frames in all (``None``: the model decides)."""

    prefix: Any
    length: int | None = None
    seed: int = 0


@dataclass
class InbetweenRequest:
    """Fill in the frames between ``start`` and ``end`` (motion forms) to ``length`` frames in all."""

    start: Any
    end: Any
    length: int | None = None
    seed: int = 0


Request = Union[GenerateRequest, CaptionRequest, PredictRequest, InbetweenRequest]


@dataclass
class _Job:
    """One decoding: a prompt and how to turn its answer into a result."""

    task: str
    cond: dict
    mode: str                      # "motion" | "text"
    seed: int
    target: int | None = None      # answer tokens per stream (None: free)
    cap: int | None = None         # most answer tokens per stream
    length: int | None = None      # whole-motion tokens stated in the prompt
    before: np.ndarray | None = None
    after: np.ndarray | None = None
    fallback: np.ndarray | None = None
    text: str = ""
    prompt_ids: list = field(default_factory=list)


# ------------------------------------------------------------------------------ helpers
def parse_source(spec: str) -> tuple[str, int | None]:
    """``"X@FRAME"`` → ``("X", FRAME)``; ``"X"`` → ``("X", None)``."""
    m = _FRAME.match(str(spec))
    return (m.group(1), int(m.group(2))) if m else (str(spec), None)


def blend_segments(segments: Sequence[np.ndarray], blend_frames: int = 8) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Join ``(T_k, D)`` feature segments into one ``(T, D)`` motion.

    Each seam cross-fades the last ``b`` rows of the running motion with the first ``b`` rows of the
    next segment (``b = min(blend_frames, T_prev - 1, T_next - 1)``; weights ``(i+1)/(b+1)`` for
    the new segment), so the joined motion is ``Σ T_k − Σ b`` frames long.  Features hold root
    velocities, so the root path continues across the seams once re-integrated.

    Returns:
        ``(features, spans)``: spans are the ``[start, end)`` frames of each segment in the result
        (consecutive spans overlap by the blended rows).
    """
    if not segments:
        raise ValueError("nothing to join")
    out = np.asarray(segments[0], np.float32).copy()
    spans = [(0, len(out))]
    for seg in segments[1:]:
        seg = np.asarray(seg, np.float32)
        b = max(0, min(int(blend_frames), len(out) - 1, len(seg) - 1))
        start = len(out) - b
        if b:
            w = (np.arange(1, b + 1, dtype=np.float32) / (b + 1))[:, None]
            out[start:] = (1.0 - w) * out[start:] + w * seg[:b]
        out = np.concatenate([out, seg[b:]], axis=0)
        spans.append((start, len(out)))
    return out, spans


def _as_array(x) -> np.ndarray | None:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    return None


def _frames_arg(length, name: str = "length") -> int | None:
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise MotionGPT2Error(f"{name} must be a number of frames, got {length!r}")
    return int(length)


# ------------------------------------------------------------------------------ the model
class MotionGPT2:
    """A trained motion-language model with its motion tokenizer (module docstring).

    Args:
        loaded: a :func:`~.pretrained.load_pretrained` result.
        max_tokens: longest motion in tokens (default: ``extra.max_tokens`` of the saved config, else 49).
        max_caption_tokens: most LLM tokens of a caption.
        batch_size: requests decoded together by :meth:`generate_batch`.
        context: tokens of context on each side when a pose is encoded.
        optimize: merge the LoRA adapters into the weights for decoding (:mod:`.inference`; exact up
            to float rounding, faster); ``False`` keeps the PEFT model as loaded.
        quantize: ``"int8"``: int8 dynamic quantization of the decoder's linear layers (CPU; implies
            ``optimize``); ``None`` / ``"none"``: float weights.
    """

    def __init__(self, loaded: LoadedLM, *, max_tokens: int | None = None, max_caption_tokens: int = 64,
                 batch_size: int = 16, context: int = 4, optimize: bool = True, quantize: str | None = None):
        self.loaded = loaded
        self.quantize = None if quantize in (None, "none") else str(quantize)
        self.optimized = bool(optimize or self.quantize)
        self.model = prepare_for_inference(loaded.model, self.quantize) if self.optimized else loaded.model
        self.tok = loaded.hf_tokenizer
        self.bound = loaded.bound
        self.vocab = loaded.bound.vocab
        self.motion = loaded.motion_tokenizer.eval()
        self.config = loaded.config
        self.path = Path(loaded.path)
        extra = dict(self.config.get("extra") or {})
        data = dict((extra.get("config") or {}).get("data") or {})
        self.chat_template = bool(data.get("chat_template", False))
        # a run trained without length sentences is not shown one (the count is still forced)
        self.state_length = float(data.get("length_hint_prob", 0.5)) > 0
        self.prompts = self._prompt_set(data.get("prompts"), data.get("prompt_version") or "V0")
        mt = max_tokens if max_tokens is not None else extra.get("max_tokens", DEFAULT_MAX_TOKENS)
        if int(mt) < 1:
            raise MotionGPT2Error(f"max_tokens must be at least 1, got {mt}")
        self.max_tokens = int(mt)
        self.max_caption_tokens = int(max_caption_tokens)
        self.batch_size = max(1, int(batch_size))
        self.context = max(0, int(context))
        self.unit = int(self.motion.unit)
        self.dim = int(self.motion.input_dim)
        from ..motion.skeleton import skeleton_for_dim

        try:
            self.skeleton = skeleton_for_dim(self.dim)
            self.fps = float(self.skeleton.fps)
        except ValueError:
            self.skeleton, self.fps = None, self.unit / SECONDS_PER_TOKEN
        # the prompts' duration of a token: what training wrote (instructions.SECONDS_PER_TOKEN)
        self.seconds_per_token = float(extra.get("seconds_per_token", SECONDS_PER_TOKEN))
        self.n_streams = self.vocab.n_streams
        self.device = next(self.motion.parameters()).device
        self.eos_id = self.tok.eos_token_id
        if self.eos_id is None:
            raise MotionGPT2Error(f"{self.path}: the tokenizer has no EOS token")
        pad = self.tok.pad_token_id
        self.pad_id = int(self.eos_id if pad is None else pad)

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu", dtype: str = "float32", *,
                        which: str = "best", backbone: str | None = None, **kwargs) -> "MotionGPT2":
        """Load a folder written by ``save_pretrained`` or a ``train-lm`` run folder (its ``which``
        step: ``best``, falling back to ``latest``) or step folder.  ``kwargs`` go to the constructor."""
        folder = Path(folder)
        if not folder.exists():
            raise InputFileError(folder, "not found", "pass a train-lm run folder or one of its step folders")
        step = runs.resolve_step(folder, which, best_falls_back=True, what="language model")
        return cls(load_pretrained(step, device=device, dtype=dtype, backbone=backbone), **kwargs)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the model to ``folder`` in the :func:`~.pretrained.save_pretrained` layout (loadable
        with :meth:`from_pretrained`)."""
        from .adapt import LoraSettings

        folder = Path(folder)
        if folder.resolve() == self.path.resolve():
            raise MotionGPT2Error(f"{folder}: is the folder this model was loaded from; save to another folder")
        if self.optimized:  # merged / quantized weights: the loaded files are the trained state
            return copy_pretrained(self.path, folder)
        cfg, meta = self.config, self.loaded.meta
        return save_pretrained(folder, self.model, self.tok, self.bound, LoraSettings.from_dict(cfg["lora"]),
                               cfg["backbone"]["name"], self.path / MOTION_TOKENIZER_DIR, cfg.get("extra") or {},
                               backbone_source=cfg["backbone"].get("source"), step=int(meta.get("step", 0) or 0),
                               metrics=meta.get("metrics") or None)

    @staticmethod
    def _prompt_set(path, version: str):
        if path is not None and not Path(path).exists():
            import warnings

            warnings.warn(f"prompt file {path} of the training run is missing; using the packaged prompts",
                          RuntimeWarning, stacklevel=3)
            path = None
        return load_prompts(path, version)

    # ------------------------------------------------------------------ public API
    def generate(self, text: str, init_pose: Any = None, last_pose: Any = None, key_poses: Any = None,
                 length: int | None = None, seed: int = 0, greedy: bool = False, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0) -> Motion:
        """A motion for ``text``; ``length`` in frames (``None``: the model decides); at most one of
        ``init_pose`` / ``last_pose`` / ``key_poses`` (the trained tasks take one kind of pose control)."""
        return self.generate_batch([GenerateRequest(text, init_pose, last_pose, key_poses, length, seed)],
                                   greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p)[0]

    def caption(self, motion: Any, seed: int = 0, greedy: bool = True, temperature: float = 1.0,
                top_k: int = 0, top_p: float = 1.0) -> Caption:
        """A caption of ``motion`` (a file, a clip id, features / joints, or a :class:`Motion`);
        greedy by default."""
        return self.generate_batch([CaptionRequest(motion, seed)], greedy=greedy, temperature=temperature,
                                   top_k=top_k, top_p=top_p)[0]

    def predict(self, prefix: Any, length: int | None = None, seed: int = 0, greedy: bool = False,
                temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> Motion:
        """Continue ``prefix`` (its tokens, then the generated ones, decoded together): ``length`` is the
        whole motion in frames, prefix included."""
        return self.generate_batch([PredictRequest(prefix, length, seed)], greedy=greedy,
                                   temperature=temperature, top_k=top_k, top_p=top_p)[0]

    def inbetween(self, start: Any, end: Any, length: int | None, seed: int = 0, greedy: bool = False,
                  temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> Motion:
        """The motion from ``start`` to ``end``: ``length`` frames in all, start and end included."""
        return self.generate_batch([InbetweenRequest(start, end, length, seed)], greedy=greedy,
                                   temperature=temperature, top_k=top_k, top_p=top_p)[0]

    def generate_whole_body(self, text: str, length: int | None = None, seed: int = 0, greedy: bool = False,
                            temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> Motion:
        """A whole-body (body + hands) motion; needs a two-stream (Part-Aware) motion tokenizer."""
        if self.n_streams < 2:
            raise MotionGPT2Error(f"{self.path}: this model's motion tokenizer has one token stream; whole-body "
                                  "generation needs a model trained with a Part-Aware (body + hand) tokenizer")
        n = self._target(length)
        job = _Job("wholebody", {"caption": self._text(text)}, "motion", int(seed), target=n, cap=self.max_tokens,
                   length=n, text=text)
        return self._run([job], greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p)[0]

    def compose(self, texts: Sequence[str], lengths: Sequence[int | None] | None = None, seed: int = 0,
                blend_frames: int = 8, greedy: bool = False, temperature: float = 1.0, top_k: int = 0,
                top_p: float = 1.0) -> Motion:
        """One continuous motion from several texts in order (module docstring: segment ``k`` starts
        from the last token of segment ``k-1``; seams cross-faded over ``blend_frames`` rows).
        ``lengths`` in frames per text (``None`` entries: the model decides)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise MotionGPT2Error("compose needs at least one text")
        lengths = [None] * len(texts) if lengths is None else list(lengths)
        if len(lengths) != len(texts):
            raise MotionGPT2Error(f"compose got {len(texts)} texts but {len(lengths)} lengths")
        if int(blend_frames) < 0:
            raise MotionGPT2Error(f"blend_frames must be >= 0, got {blend_frames}")
        segs: list[Motion] = []
        for k, (text, length) in enumerate(zip(texts, lengths)):
            init = None if not segs or not len(segs[-1].tokens) else segs[-1].tokens[-1:]
            segs.append(self.generate(text, init_pose=init, length=length, seed=mix_seed(seed, 23, k),
                                      greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p))
        feats, spans = blend_segments([s.features for s in segs if s.frames], blend_frames)
        problems = tuple(f"segment {k}: {p}" for k, s in enumerate(segs) for p in s.problems)
        return Motion(feats, self._joints(feats), np.concatenate([s.tokens for s in segs], 0), self.fps,
                      " / ".join(texts), problems,
                      {"task": "compose", "seed": seed, "segments": spans, "blend_frames": int(blend_frames),
                       "segment_texts": list(texts)})

    def generate_batch(self, requests: Sequence[Request | Mapping], greedy: bool = False, temperature: float = 1.0,
                       top_k: int = 0, top_p: float = 1.0, errors: str = "raise") -> list:
        """Results of many requests (:class:`GenerateRequest` or a dict of its fields,
        :class:`CaptionRequest`, :class:`PredictRequest`, :class:`InbetweenRequest`), decoded in batches
        of ``batch_size``; one :class:`Motion` (or :class:`Caption`) per request, in order.  A request's
        result does not depend on the other requests (its own seed; up to float rounding).

        ``errors="raise"``: a request that cannot be run (bad pose, length ...) raises its
        :class:`MotionGPT2Error`; ``"return"``: that error takes the request's place in the list and the
        other requests still run (a server batching strangers' requests)."""
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
        out: list[Any] = [None] * len(requests)
        jobs: list[tuple[int, _Job]] = []
        for i, r in enumerate(requests):
            try:
                jobs.append((i, self._job(r)))
            except MotionGPT2Error as err:
                if errors == "raise":
                    raise
                out[i] = err
        if jobs:
            results = self._run([j for _, j in jobs], greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p)
            for (i, _), res in zip(jobs, results):
                out[i] = res
        return out

    # ------------------------------------------------------------------ motion <-> tokens
    @torch.no_grad()
    def encode(self, features: np.ndarray) -> np.ndarray:
        """``(T, D)`` raw features → ``(T // unit, S)`` tokens."""
        x = np.asarray(features, np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise MotionGPT2Error(f"features of shape {tuple(x.shape)} do not fit the motion tokenizer "
                                  f"((T, {self.dim}) expected)")
        if len(x) < self.unit:
            raise MotionGPT2Error(f"a motion of {len(x)} frames is shorter than one token ({self.unit} frames)")
        return encode_features(self.motion, [x], device=self.device)[0]

    def decode_tokens(self, tokens_list: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Token arrays ``(N, S)`` → raw ``(N · unit, D)`` float32 features (one batch)."""
        return decode_tokens(self.motion, tokens_list, batch_size=self.batch_size, device=self.device)

    def _joints(self, features: np.ndarray) -> np.ndarray:
        from ..motion.features import recover_from_ric

        f = np.asarray(features, np.float32)
        if not len(f):
            j = self.skeleton.n_joints if self.skeleton is not None else 0
            return np.zeros((0, j, 3), np.float32)
        return np.asarray(recover_from_ric(f), np.float32)

    def motion_from_tokens(self, tokens: np.ndarray, text: str = "", problems: Sequence[str] = ()) -> Motion:
        """A :class:`Motion` of ``(N, S)`` tokens."""
        feats = self.decode_tokens([np.asarray(tokens, np.int64)])[0]
        return Motion(feats, self._joints(feats), np.asarray(tokens, np.int64).reshape(-1, self.n_streams),
                      self.fps, text, tuple(problems))

    # ------------------------------------------------------------------ inputs
    def load_features(self, source: Any) -> np.ndarray:
        """Raw ``(T, D)`` features of a motion source: a features / joints ``.npy``, a BVH / AMC file,
        ``"ROOT:CLIP_ID"``, a :class:`Motion`, a features array ``(T, D)`` or a joints array ``(T, J, 3)``."""
        if isinstance(source, Motion):
            return np.asarray(source.features, np.float32)
        arr = _as_array(source)
        if arr is None:
            if not isinstance(source, (str, Path)):
                raise MotionGPT2Error(f"cannot read a motion from a {type(source).__name__}; pass a file, "
                                      "DATASET_ROOT:CLIP_ID, a features or joints array")
            arr = self._read_source(source)
        arr = np.asarray(arr, np.float32)
        if arr.ndim == 2 and arr.shape[1] == self.dim:
            return arr
        if arr.ndim == 3 and arr.shape[2] == 3:
            return self._features_of_joints(arr)
        raise MotionGPT2Error(f"a motion of shape {arr.shape} is neither features (T, {self.dim}) nor joints (T, J, 3)")

    def _read_source(self, source: str | Path) -> np.ndarray:
        path = Path(source)
        if path.exists():
            if path.suffix == ".npy":
                from ..npy import read_npy

                return read_npy(path, ndim=(2, 3), what="motion")       # header-first, finite
            from ..api import load_any_joints

            joints, _ = load_any_joints(path)
            return joints
        text = str(source)
        if ":" in text:
            root, clip = text.rsplit(":", 1)
            if root and clip and Path(root).is_dir():
                from ..data.layout import FEATURES_DIR

                from ..data.readers import id_problem
                from ..npy import read_npy

                f = Path(root) / FEATURES_DIR / f"{clip}.npy"
                if id_problem(clip) is not None or not f.exists():
                    raise InputFileError(f, f"no clip {clip!r} in dataset {root}", "check the clip id")
                return read_npy(f, ndim=(2,), what="features")
        raise InputFileError(path, "file not found", "pass a motion file (BVH/AMC/.npy) or DATASET_ROOT:CLIP_ID")

    def _features_of_joints(self, joints: np.ndarray) -> np.ndarray:
        from ..motion.features import extract_features
        from ..motion.skeleton import SKELETONS

        skel = next((s for s in SKELETONS.values() if s.n_joints == joints.shape[1] and s.feature_dim == self.dim), None)
        if skel is None:
            raise MotionGPT2Error(f"joints with {joints.shape[1]} joints do not fit this model's {self.dim}-d features")
        if len(joints) < 2:
            raise MotionGPT2Error("a joints motion needs at least 2 frames to compute features")
        try:
            feats, _ = extract_features(np.asarray(joints, np.float64), skel)
        except ValueError as err:
            raise MotionGPT2Error(f"cannot compute features of the joints ({err})") from None
        return feats

    def motion_tokens(self, source: Any) -> np.ndarray:
        """``(N, S)`` tokens of a whole motion (any form of :meth:`load_features`; a :class:`Motion`
        with tokens matching its frames gives its own tokens)."""
        if isinstance(source, Motion) and len(source.tokens) and len(source.tokens) * self.unit == source.frames:
            return np.asarray(source.tokens, np.int64).reshape(-1, self.n_streams)
        return self.encode(self.load_features(source))

    def pose_token(self, spec: Any, default_frame: int = 0) -> np.ndarray:
        """``(1, S)`` token of a pose given in any form of the module docstring."""
        if isinstance(spec, PoseRef):
            source, frame = spec.source, spec.frame
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], (int, np.integer)) \
                and not isinstance(spec[1], bool) and not isinstance(spec[0], (int, np.integer)):
            source, frame = spec
        elif isinstance(spec, (str, Path)):
            source, frame = parse_source(str(spec)) if isinstance(spec, str) else (spec, None)
            if isinstance(spec, str) and frame is not None and Path(spec).exists():
                source, frame = spec, None   # a file whose name ends in @N
        else:
            source, frame = spec, None
        # pose tokens given directly
        if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
            return self._check_token(np.array([[int(source)]]))
        arr = _as_array(source)
        if arr is not None and np.issubdtype(arr.dtype, np.integer) and arr.size == self.n_streams:
            return self._check_token(arr.reshape(1, self.n_streams))
        if isinstance(source, Motion) and len(source.tokens) and len(source.tokens) * self.unit == source.frames:
            i = self._frame_index(frame, default_frame, source.frames)
            return np.asarray(source.tokens, np.int64).reshape(-1, self.n_streams)[i // self.unit][None]
        if arr is not None and arr.ndim == 1 and arr.shape[0] == self.dim:       # one features row
            return self.still_tokens(arr[None])
        if arr is not None and arr.ndim == 2 and arr.shape[1] == 3 and arr.shape[1] != self.dim:  # one pose (J, 3)
            return self.encode(self._features_of_joints(np.repeat(arr[None], self.unit + 1, 0)))[:1]
        feats = self.load_features(source)
        return self._token_at(feats, self._frame_index(frame, default_frame, len(feats)))

    def _check_token(self, tok: np.ndarray) -> np.ndarray:
        tok = np.asarray(tok, np.int64).reshape(1, self.n_streams)
        if ((tok < 0) | (tok >= np.asarray(self.vocab.codebook_sizes))).any():
            raise MotionGPT2Error(f"pose token {tok.tolist()} is out of range for codebooks {self.vocab.codebook_sizes}")
        return tok

    @staticmethod
    def _frame_index(frame: int | None, default: int, n: int) -> int:
        f = default if frame is None else int(frame)
        if f < 0:
            f += n
        if not 0 <= f < n:
            raise MotionGPT2Error(f"frame {frame} is outside the motion's {n} frames")
        return f

    def _token_at(self, feats: np.ndarray, frame: int) -> np.ndarray:
        """Token covering ``frame``: encode a token-aligned window of ``context`` tokens around it."""
        u, T = self.unit, len(feats)
        if T < u:
            raise MotionGPT2Error(f"a motion of {T} frames is shorter than one token ({u} frames)")
        frame = min(frame, T - 1)
        b = min(frame - frame % u, T - u)
        before = min(self.context, b // u)
        after = min(self.context, (T - b - u) // u)
        start = b - before * u
        window = feats[start:b + u + after * u]
        return self.encode(window)[before][None]

    @torch.no_grad()
    def still_tokens(self, rows: np.ndarray) -> np.ndarray:
        """``(k, S)`` tokens of ``(k, D)`` single feature rows, each encoded as a still window of
        ``unit`` identical frames (poses given without their neighbouring frames)."""
        rows = np.asarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise MotionGPT2Error(f"pose rows of shape {rows.shape} do not fit ({self.dim}-d features)")
        x = torch.as_tensor(np.repeat(rows[:, None], self.unit, 1), device=self.device)
        streams, _ = self.motion.encode(self.motion.normalize(x), torch.full((len(rows),), self.unit, device=self.device))
        return torch.stack([s[:, 0] for s in streams], -1).cpu().numpy().astype(np.int64)

    # ------------------------------------------------------------------ jobs
    @staticmethod
    def _text(text) -> str:
        if not isinstance(text, str) or not text.strip():
            raise MotionGPT2Error(f"the text must be a non-empty string, got {text!r}")
        return " ".join(text.split())

    def _target(self, length, given: int = 0) -> int | None:
        """Whole-motion tokens for ``length`` frames (``None`` stays ``None``)."""
        length = _frames_arg(length)
        if length is None:
            return None
        n = length // self.unit
        if n < 1:
            raise MotionGPT2Error(f"length {length} is shorter than one token ({self.unit} frames)")
        if n > self.max_tokens:
            raise MotionGPT2Error(f"length {length} frames is more than this model's maximum of {self.max_tokens} "
                                  f"tokens ({self.max_tokens * self.unit} frames); use compose for longer motions")
        if n <= given:
            raise MotionGPT2Error(f"length {length} frames ({n} tokens) leaves nothing to generate after the "
                                  f"{given} given tokens ({given * self.unit} frames)")
        return n

    def _job(self, r: Request | Mapping) -> _Job:
        if isinstance(r, Mapping):
            r = GenerateRequest(**r)
        seed = int(r.seed)
        if isinstance(r, GenerateRequest):
            return self._t2m_job(r)
        if isinstance(r, CaptionRequest):
            return _Job("m2t", {"tokens": self.motion_tokens(r.motion)}, "text", seed)
        if isinstance(r, PredictRequest):
            pre = self.motion_tokens(r.prefix)
            if len(pre) >= self.max_tokens:
                raise MotionGPT2Error(f"the prefix is {len(pre)} tokens ({len(pre) * self.unit} frames); at most "
                                      f"{self.max_tokens - 1} tokens fit before the continuation: cut it")
            n = self._target(r.length, len(pre))
            return _Job("predict", {"prefix": pre}, "motion", seed, target=None if n is None else n - len(pre),
                        cap=self.max_tokens - len(pre), length=n, before=pre, fallback=pre)
        if isinstance(r, InbetweenRequest):
            st, en = self.motion_tokens(r.start), self.motion_tokens(r.end)
            given = len(st) + len(en)
            if given >= self.max_tokens:
                raise MotionGPT2Error(f"start and end are {given} tokens together; at most {self.max_tokens - 1} fit")
            n = self._target(r.length, given)
            return _Job("inbetween", {"start": st, "end": en}, "motion", seed,
                        target=None if n is None else n - given, cap=self.max_tokens - given, length=n,
                        before=st, after=en, fallback=np.concatenate([st, en]))
        raise MotionGPT2Error(f"unknown request type {type(r).__name__}")

    def _t2m_job(self, r: GenerateRequest) -> _Job:
        text = self._text(r.text)
        n = self._target(r.length)
        given = [x is not None for x in (r.init_pose, r.last_pose, r.key_poses)]
        if sum(given) > 1:
            raise MotionGPT2Error("give one kind of pose control: an init pose, a last pose or key poses "
                                  "(the model was trained on one at a time)")
        cond: dict[str, Any] = {"caption": text}
        task, fallback = "t2m", None
        if r.init_pose is not None:
            task, cond["init"] = "t2m-init", self.pose_token(r.init_pose, 0)
            fallback = cond["init"]
        elif r.last_pose is not None:
            task, cond["last"] = "t2m-last", self.pose_token(r.last_pose, -1)
            fallback = cond["last"]
        elif r.key_poses is not None:
            task = "t2m-key"
            cond["key"] = self._keys(r.key_poses, n)
            fallback = np.concatenate([p for _, p in cond["key"]])
        return _Job(task, cond, "motion", int(r.seed), target=n, cap=self.max_tokens, length=n, text=text,
                    fallback=fallback)

    def _keys(self, key_poses, n: int | None) -> list[tuple[int, np.ndarray]]:
        items = list(key_poses.items()) if isinstance(key_poses, Mapping) else list(key_poses)
        if not items:
            raise MotionGPT2Error("key_poses is empty: give [(frame, pose), ...]")
        out: dict[int, np.ndarray] = {}
        frames: dict[int, int] = {}
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise MotionGPT2Error(f"key poses are (frame, pose) pairs, got {item!r}")
            frame, pose = item
            if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0:
                raise MotionGPT2Error(f"a key pose frame must be a frame number >= 0, got {frame!r}")
            pos = int(frame) // self.unit
            if n is not None:
                if int(frame) >= n * self.unit + (self.unit - 1):
                    raise MotionGPT2Error(f"key pose at frame {frame} lies beyond the motion's {n * self.unit} frames")
                pos = min(pos, n - 1)
            elif pos >= self.max_tokens:
                raise MotionGPT2Error(f"key pose at frame {frame} lies beyond the longest motion "
                                      f"({self.max_tokens * self.unit} frames)")
            if pos in out:
                raise MotionGPT2Error(f"key poses at frames {frames[pos]} and {frame} fall in the same token "
                                      f"({self.unit} frames); keep one")
            out[pos], frames[pos] = self.pose_token(pose, 0), int(frame)
        return sorted(out.items())

    # ------------------------------------------------------------------ decoding
    def prompt_ids(self, request: Request | Mapping) -> list[int]:
        """The LLM token ids of the prompt that ``request`` is decoded from (what training showed)."""
        return self._prompt_ids(self._job(request))

    def _prompt_ids(self, job: _Job) -> list[int]:
        try:
            length = job.length if self.state_length else None
            prompt = build_prompt(job.task, self.vocab, **job.cond, length=length, prompts=self.prompts,
                                  seconds_per_token=self.seconds_per_token)
        except ValueError as err:
            raise MotionGPT2Error(f"{job.task}: {err}") from None
        text, _ = format_chat(prompt, self.tok, chat_template=self.chat_template)
        return list(self.tok(text, add_special_tokens=not self.chat_template)["input_ids"])

    def _max_new(self, job: _Job) -> int:
        if job.mode == "text":
            return self.max_caption_tokens + 1
        cap = job.target if job.target is not None else job.cap
        S = self.n_streams
        return (cap + 3) if S == 1 else (S * (cap + 2) + 3)

    def _decode(self, jobs: list[_Job], seeds: list[int], greedy: bool, temperature: float, top_k: int,
                top_p: float):
        """Decode ``jobs`` (same ``cap``) in one batch; the :class:`~.decoding.DecodeResult`."""
        ids, mask = left_pad([j.prompt_ids for j in jobs], self.pad_id)
        dev = self.model.device if hasattr(self.model, "device") else self.device
        cap = jobs[0].cap if jobs[0].mode == "motion" else None
        return decode(self.model, ids.to(dev), mask.to(dev), self.bound, mode=[j.mode for j in jobs],
                      max_new_tokens=max(self._max_new(j) for j in jobs), eos_token_id=self.eos_id,
                      greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, seeds=seeds,
                      target_tokens=[j.target if j.mode == "motion" else None for j in jobs], max_tokens=cap,
                      pad_token_id=self.pad_id)

    def _answer(self, job: _Job, res, i: int):
        """``(value, problems, usable)`` of sequence ``i`` of a decode result: tokens or caption text."""
        if job.mode == "text":
            raw = self.tok.decode(res.ids[i], skip_special_tokens=True)
            problems = []
            clean = _MOTION_TEXT.sub("", raw)
            if clean != raw:
                problems.append("motion tokens written as text in the caption (removed)")
            lines = [ln.strip() for ln in clean.strip().splitlines() if ln.strip()]
            text = " ".join(lines[0].split()) if lines else ""
            if len(lines) > 1:
                problems.append("caption ran on past its first line (cut)")
            if not res.finished[i]:
                problems.append(f"caption not finished within {self.max_caption_tokens} tokens")
            if not text:
                problems.append("empty caption")
            return text, problems, bool(text)
        tokens = res.motion_tokens[i]
        problems = list(res.problems[i])
        if job.target is not None and len(tokens) and len(tokens) != job.target:
            problems.append(f"{len(tokens)} motion tokens instead of {job.target}")
        return tokens, problems, len(tokens) > 0

    def _run(self, jobs: list[_Job], *, greedy: bool, temperature: float, top_k: int, top_p: float) -> list:
        for j in jobs:
            j.prompt_ids = self._prompt_ids(j)
        answers: list[Any] = [None] * len(jobs)
        problems: list[list[str]] = [[] for _ in jobs]
        usable = [False] * len(jobs)

        def run(indices: list[int], seeds: dict[int, int], greedy_: bool, first: bool) -> None:
            # batches of one cap (the grammar's max) and similar prompt lengths
            order = sorted(indices, key=lambda i: (jobs[i].mode, jobs[i].cap or 0, len(jobs[i].prompt_ids)))
            groups: list[list[int]] = []
            for i in order:
                if groups and len(groups[-1]) < self.batch_size and \
                        (jobs[groups[-1][0]].mode, jobs[groups[-1][0]].cap) == (jobs[i].mode, jobs[i].cap):
                    groups[-1].append(i)
                else:
                    groups.append([i])
            for g in groups:
                res = self._decode([jobs[i] for i in g], [seeds[i] for i in g], greedy_, temperature, top_k, top_p)
                for b, i in enumerate(g):
                    value, probs, ok = self._answer(jobs[i], res, b)
                    if first or ok or answers[i] is None:
                        answers[i], usable[i] = value, ok
                    tag = "" if first else "retry: "
                    problems[i] += [tag + p for p in probs]

        run(list(range(len(jobs))), {i: j.seed for i, j in enumerate(jobs)}, greedy, True)
        failed = [i for i in range(len(jobs)) if not usable[i]]
        if failed:
            for i in failed:
                problems[i].append(f"no {'caption' if jobs[i].mode == 'text' else 'motion token'}; "
                                   "retried once with another seed")
            run(failed, {i: mix_seed(jobs[i].seed, 29, 1) for i in failed}, False, False)
        return self._results(jobs, answers, problems, usable)

    def _results(self, jobs: list[_Job], answers: list, problems: list[list[str]], usable: list[bool]) -> list:
        out: list[Any] = [None] * len(jobs)
        motion_idx, token_lists, still = [], [], {}
        for i, j in enumerate(jobs):
            if j.mode == "text":
                out[i] = Caption(answers[i] or "", problems[i] if problems[i] else ())
                continue
            tokens = np.asarray(answers[i], np.int64).reshape(-1, self.n_streams)
            if not usable[i]:
                if j.fallback is not None and len(j.fallback):
                    problems[i].append("fallback: the condition tokens of the request")
                    tokens = np.asarray(j.fallback, np.int64).reshape(-1, self.n_streams)
                    j.before = j.after = None
                else:
                    n = j.length or _FALLBACK_TOKENS
                    problems[i].append(f"fallback: a still motion of the mean pose ({n * self.unit} frames)")
                    still[i] = n
                    tokens = np.zeros((0, self.n_streams), np.int64)
            parts = [p for p in (j.before, tokens, j.after) if p is not None]
            motion_idx.append(i)
            token_lists.append(np.concatenate(parts, 0) if parts else tokens)
        feats = self.decode_tokens(token_lists) if token_lists else []
        for i, tokens, f in zip(motion_idx, token_lists, feats):
            if i in still:
                mean = self.motion.mean.detach().float().cpu().numpy()
                f = np.repeat(mean[None], still[i] * self.unit, 0).astype(np.float32)
                f[:, 0:3] = 0.0    # no root rotation / translation
            j = jobs[i]
            out[i] = Motion(f, self._joints(f), tokens, self.fps, j.text, tuple(problems[i]),
                            {"task": j.task, "seed": j.seed})
        return out
