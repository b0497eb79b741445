"""Task instructions: every training sample and every inference prompt of the motion-language model.

The wording is data, in one file: ``src/motiongpt2/lm/prompts.yaml`` (packaged beside this module,
so an installed package can build inference prompts; a copy can be passed as ``path`` to try other
wording).  This module is the one piece of code that turns that wording and a motion into text:
:func:`build_sample` (training) calls :func:`build_prompt` (inference) to write its prompt, so the
two cannot drift apart.

Tasks (``TASKS``: stage 3, instruction tuning; ``ALIGNMENT_TASKS``: stage 2).  ``N`` is the number of
motion tokens, one token = ``seconds_per_token`` seconds (0.2 s: 4 frames at 20 fps).

===========  ==================================================  ===================================
task         conditions in the prompt                            answer
===========  ==================================================  ===================================
t2m          caption                                             the motion ``tokens[0:N]``
t2m-init     caption, init pose = ``tokens[0]``                  the whole motion
t2m-last     caption, last pose = ``tokens[N-1]``                the whole motion
t2m-key      caption, k key poses (1 ≤ k ≤ 3 random positions,   the whole motion
             each with its position in tokens and seconds)
m2t          the motion                                          the caption
predict      prefix ``tokens[:a]``, ``a`` = :func:`prediction_prefix`  the rest ``tokens[a:]``
inbetween    start ``tokens[:a]`` and end ``tokens[N-a:]``,      the middle ``tokens[a:N-a]``
             ``a`` = :func:`inbetween_margin`
wholebody    caption (vocabulary with body and hand streams)     body span + hand span (same length)
align-t2m    caption (short plain prompt)                        the motion
align-m2t    the motion (short plain prompt)                     the caption
text-only    nothing (instruction only)                          the caption
===========  ==================================================  ===================================

Length-conditioned variants (``LENGTH_TASKS``: the generation tasks) add one sentence to the input
stating the duration of the **whole** motion, ``N·seconds_per_token`` seconds and ``N`` tokens (for
``predict`` and ``inbetween`` the given tokens are part of that whole; for ``wholebody`` ``N`` is
per part).  The answer of ``predict`` / ``inbetween`` is only the missing tokens: the full motion
is prefix + answer, or start + answer + end.

Text layout (the paper's template, Alpaca style)::

    {system}

    ### Instruction:
    {instruction}

    ### Input:
    {input}

    ### Response:
    {answer}{eos}

:attr:`Sample.prompt` is everything up to and including ``"### Response:\\n"``; :func:`format_chat`
returns ``(prompt_text, answer_text)`` with ``prompt_text + answer_text`` the full training string
and ``answer_text = answer + eos``.  **The loss starts at the first character of** ``answer_text``:
tokenize the two parts separately (the prompt with the tokenizer's special tokens, e.g. BOS; the
answer without) and concatenate the ids, labels ``-100`` over the prompt ids.  (With
``chat_template=True`` the prompt text already holds the template's own BOS text: tokenize it with
``add_special_tokens=False``.)  At inference the model is given ``prompt_text`` and generates the
answer until ``eos``.

Every wrong argument (unknown task or version, a missing or unexpected condition, motion tokens of
the wrong shape) raises one :class:`ValueError` line; a malformed prompt file raises
:class:`PromptFileError` (a ``ValueError`` too) naming the file.
"""
from __future__ import annotations

import functools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from ..overrides import read_yaml
from .vocab import MotionVocab

__all__ = [
    "ALIGNMENT_TASKS", "DEFAULT_EOS", "DEFAULT_PROMPTS", "LENGTH_TASKS", "SECONDS_PER_TOKEN", "TASKS",
    "Prompt", "PromptFileError", "PromptSet", "Sample", "TaskPrompts",
    "alignment_samples", "build_prompt", "build_sample", "format_chat", "inbetween_margin", "load_prompts",
    "prediction_prefix", "text_only_sample",
]

#: The packaged prompt file (the single source of the wording).
DEFAULT_PROMPTS = Path(__file__).with_name("prompts.yaml")
#: Seconds of one motion token: 4 frames at 20 fps (HumanML3D).  Pass another value for other rates.
SECONDS_PER_TOKEN = 0.2
#: End marker appended to answers when neither ``eos`` nor a tokenizer is given to :func:`format_chat`.
DEFAULT_EOS = "</s>"

#: Stage-3 (instruction tuning) tasks.
TASKS = ("t2m", "t2m-init", "t2m-last", "t2m-key", "m2t", "predict", "inbetween", "wholebody")
#: Stage-2 (motion-language alignment) tasks.
ALIGNMENT_TASKS = ("align-t2m", "align-m2t", "text-only")
#: Tasks that accept a length condition (the duration of the whole motion).
LENGTH_TASKS = ("t2m", "t2m-init", "t2m-last", "t2m-key", "predict", "inbetween", "wholebody")

# placeholders each task uses over instruction + input; also the build_prompt conditions it takes
_SLOTS: dict[str, frozenset[str]] = {
    "t2m": frozenset({"caption"}),
    "t2m-init": frozenset({"caption", "init"}),
    "t2m-last": frozenset({"caption", "last"}),
    "t2m-key": frozenset({"caption", "keys"}),
    "m2t": frozenset({"motion"}),
    "predict": frozenset({"prefix"}),
    "inbetween": frozenset({"start", "end"}),
    "wholebody": frozenset({"caption"}),
    "align-t2m": frozenset({"caption"}),
    "align-m2t": frozenset({"motion"}),
    "text-only": frozenset(),
}
# build_prompt keyword -> placeholder
_ARG_SLOT = {"caption": "caption", "tokens": "motion", "init": "init", "last": "last", "key": "keys",
             "prefix": "prefix", "start": "start", "end": "end"}
_SLOT_ARG = {v: k for k, v in _ARG_SLOT.items()}
_SLOT_WHAT = {"caption": "the caption text", "motion": "the motion tokens (N, S)",
              "init": "the initial pose token (1, S)", "last": "the last pose token (1, S)",
              "keys": "the key poses [(position, pose token), ...]", "prefix": "the first motion tokens (n, S)",
              "start": "the first motion tokens (a, S)", "end": "the last motion tokens (a, S)"}
_LAYOUT_SLOTS = {
    "with_input": {"system", "instruction", "input"},
    "without_input": {"system", "instruction"},
    "with_length": {"input", "length"},
    "chat_user": {"instruction", "input"},
    "chat_user_without_input": {"instruction"},
}
_KEY_POSE_SLOTS = {"pose", "index", "seconds"}
_LENGTH_SLOTS = {"seconds", "tokens"}
_MAX_KEYS = 3


class PromptFileError(InputFileError, ValueError):
    """A prompt file that cannot be used (missing task, wrong placeholders, ...)."""


# ---------------------------------------------------------------------------------------- the prompt set
@dataclass(frozen=True)
class TaskPrompts:
    """The wording of one task in one version.

    Attributes:
        task: the task name.
        instructions: the paraphrases of the task prompt (index 0: the paper's wording where it has one).
        input: the Input template (control conditions), ``None`` for an instruction without input.
        system: the system line.
        length: the length sentences (paraphrase ``i`` uses ``length[i % len(length)]``); empty for
            tasks without a length condition.
    """

    task: str
    instructions: tuple[str, ...]
    input: str | None
    system: str
    length: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptSet:
    """One version of the prompts (see :func:`load_prompts`; shared by the cache: do not modify)."""

    version: str
    path: str
    layout: Mapping[str, str]
    key_pose: str
    key_separator: str
    tasks: Mapping[str, TaskPrompts]
    versions: tuple[str, ...] = ()

    def task(self, name: str) -> TaskPrompts:
        if name not in self.tasks:
            raise ValueError(f"unknown task {name!r} (known: {', '.join(self.tasks)})")
        return self.tasks[name]

    def n_paraphrases(self, task: str) -> int:
        return len(self.task(task).instructions)


def _fields(template: Any, where: str, path: Path) -> set[str]:
    """Placeholder names of ``template`` (plain ``{name}`` only)."""
    if not isinstance(template, str) or not template.strip():
        raise PromptFileError(path, f"{where}: expected a non-empty string, got {template!r}")
    names: set[str] = set()
    try:
        for _, name, spec, conv in string.Formatter().parse(template):
            if name is None:
                continue
            if not name.isidentifier() or spec or conv:
                raise PromptFileError(path, f"{where}: placeholder {{{name}{'!' + conv if conv else ''}"
                                            f"{':' + spec if spec else ''}}} is not a plain {{name}}",
                                      "write {{ and }} for literal braces")
            names.add(name)
    except ValueError as err:
        if isinstance(err, PromptFileError):
            raise
        raise PromptFileError(path, f"{where}: {err} in {template!r}", "write {{ and }} for literal braces") from None
    return names


def _check_set(got: set[str], want: frozenset[str], where: str, path: Path) -> None:
    if got != set(want):
        missing, extra = sorted(set(want) - got), sorted(got - set(want))
        detail = "; ".join(p for p in (f"missing {missing}" if missing else "",
                                       f"unknown {extra}" if extra else "") if p)
        raise PromptFileError(path, f"{where}: placeholders {sorted(got)} do not match {sorted(want)} ({detail})")


def _check(template: Any, want: set[str] | frozenset[str], where: str, path: Path) -> str:
    _check_set(_fields(template, where, path), want, where, path)
    return template


def _str_list(value: Any, where: str, path: Path) -> list:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise PromptFileError(path, f"{where}: expected a non-empty list of strings")
    return value


def _task_prompts(task: str, raw: Any, *, input_default: str | None, system: str | None,
                  system_no_input: str | None, length_default: Any, where: str, path: Path) -> TaskPrompts:
    if not isinstance(raw, Mapping):
        raise PromptFileError(path, f"{where}: expected a mapping with 'instructions'")
    unknown = set(raw) - {"instructions", "input", "system", "length"}
    if unknown:
        raise PromptFileError(path, f"{where}: unknown keys {sorted(unknown)}")
    inp = raw.get("input", input_default)
    inp_fields = set() if inp is None else _fields(inp, f"{where}.input", path)
    slots = _SLOTS[task]
    instructions = []
    for i, text in enumerate(_str_list(raw.get("instructions"), f"{where}.instructions", path)):
        got = _fields(text, f"{where}.instructions[{i}]", path) | inp_fields
        _check_set(got, slots, f"{where}.instructions[{i}] + input", path)
        instructions.append(text)
    sys_line = raw.get("system", system if inp is not None else system_no_input)
    if not isinstance(sys_line, str) or not sys_line.strip():
        raise PromptFileError(path, f"{where}: no system line (set 'system' in the task, version or defaults)")
    _check(sys_line, set(), f"{where}.system", path)
    lengths: tuple[str, ...] = ()
    if task in LENGTH_TASKS:
        lengths = tuple(_check(t, _LENGTH_SLOTS, f"{where}.length[{i}]", path)
                        for i, t in enumerate(_str_list(raw.get("length", length_default), f"{where}.length", path)))
    elif "length" in raw:
        raise PromptFileError(path, f"{where}: task {task} takes no length")
    return TaskPrompts(task, tuple(instructions), inp, sys_line, lengths)


def load_prompts(path: str | Path | None = None, version: str = "V0") -> PromptSet:
    """The prompts of ``version`` (``"V0"``: the paper's; ``"V1"``, ``"V2"``: its ablation, Table IX).

    Args:
        path: a prompt file; default :data:`DEFAULT_PROMPTS` (the packaged ``lm/prompts.yaml``).
        version: a key of the file's ``versions``.

    Every task of :data:`TASKS` and :data:`ALIGNMENT_TASKS` is checked: each paraphrase must use
    exactly the task's placeholders.  Results are cached per (file, version, file modification time).
    """
    p = (Path(path) if path is not None else DEFAULT_PROMPTS).resolve()
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        stamp = None  # read_yaml reports the missing file
    return _load(str(p), str(version), stamp)


@functools.lru_cache(maxsize=32)
def _load(path_s: str, version: str, _stamp: int | None) -> PromptSet:
    path = Path(path_s)
    raw = read_yaml(path, "prompt file")
    if not isinstance(raw, Mapping):
        raise PromptFileError(path, "expected a mapping with 'layout', 'versions' and 'alignment'")
    if raw.get("format") != 1:
        raise PromptFileError(path, f"unsupported format {raw.get('format')!r}", "expected 'format: 1'")
    for key in ("layout", "versions", "alignment"):
        if not isinstance(raw.get(key), Mapping):
            raise PromptFileError(path, f"'{key}' must be a mapping")
    versions = raw["versions"]
    if version not in versions:
        raise ValueError(f"unknown prompt version {version!r} in {path} (known: {', '.join(map(str, versions))})")
    layout = {k: _check(raw["layout"].get(k), s, f"layout.{k}", path) for k, s in _LAYOUT_SLOTS.items()}
    defaults = raw.get("defaults") or {}
    inputs = raw.get("inputs") or {}
    lengths = raw.get("lengths") or {}
    if not all(isinstance(m, Mapping) for m in (defaults, inputs, lengths)):
        raise PromptFileError(path, "'defaults', 'inputs' and 'lengths' must be mappings")
    if set(inputs) - set(TASKS):
        raise PromptFileError(path, f"inputs: unknown tasks {sorted(set(inputs) - set(TASKS))}")
    if set(lengths) - set(LENGTH_TASKS) - {"default"}:
        raise PromptFileError(path, f"lengths: unknown tasks {sorted(set(lengths) - set(LENGTH_TASKS) - {'default'})}",
                              f"length-conditioned tasks: {', '.join(LENGTH_TASKS)}")
    v = versions[version]
    if not isinstance(v, Mapping) or not isinstance(v.get("tasks"), Mapping):
        raise PromptFileError(path, f"versions.{version}: expected a mapping with 'tasks'")

    def pick(key):
        return v.get(key, defaults.get(key))

    key_pose = _check(pick("key_pose"), _KEY_POSE_SLOTS, f"versions.{version}.key_pose", path)
    key_sep = pick("key_separator")
    if not isinstance(key_sep, str):
        raise PromptFileError(path, f"versions.{version}: key_separator must be a string")
    vt = v["tasks"]
    unknown = sorted(set(vt) - set(TASKS) - set(ALIGNMENT_TASKS))
    if unknown:
        raise PromptFileError(path, f"versions.{version}.tasks: unknown tasks {unknown}",
                              f"known: {', '.join(TASKS + ALIGNMENT_TASKS)}")
    missing = [t for t in TASKS if t not in vt]
    if missing:
        raise PromptFileError(path, f"versions.{version}.tasks: missing tasks {missing}")
    tasks: dict[str, TaskPrompts] = {}
    for t in TASKS:
        tasks[t] = _task_prompts(t, vt[t], input_default=inputs.get(t), system=pick("system"),
                                 system_no_input=pick("system_no_input"),
                                 length_default=lengths.get(t, lengths.get("default")),
                                 where=f"versions.{version}.tasks.{t}", path=path)
    al = raw["alignment"]
    at = al.get("tasks") or {}
    if set(at) - set(ALIGNMENT_TASKS):
        raise PromptFileError(path, f"alignment.tasks: unknown tasks {sorted(set(at) - set(ALIGNMENT_TASKS))}")
    for t in ALIGNMENT_TASKS:
        where = f"versions.{version}.tasks.{t}" if t in vt else f"alignment.tasks.{t}"
        if t not in vt and t not in at:
            raise PromptFileError(path, f"alignment.tasks: missing task {t}")
        tasks[t] = _task_prompts(t, vt.get(t, at.get(t)), input_default=None,
                                 system=al.get("system", defaults.get("system")),
                                 system_no_input=al.get("system_no_input", defaults.get("system_no_input")),
                                 length_default=None, where=where, path=path)
    return PromptSet(version, str(path), dict(layout), key_pose, key_sep, tasks, tuple(map(str, versions)))


def _prompt_set(prompts: PromptSet | None) -> PromptSet:
    if prompts is None:
        return load_prompts()
    if not isinstance(prompts, PromptSet):
        raise ValueError(f"prompts must be a PromptSet from load_prompts(), got {type(prompts).__name__}")
    return prompts


# ---------------------------------------------------------------------------------------- text pieces
class Prompt(str):
    """The full prompt text (a plain ``str`` for every purpose) that also keeps its parts, so
    :func:`format_chat` can re-wrap it with an LLM's chat template.

    Attributes:
        system, instruction: the system line and the task instruction.
        input: the Input part (conditions), ``None`` for an instruction without input.
        user: the user turn for a chat template (instruction and input per the file's layout).
    """

    system: str
    instruction: str
    input: str | None
    user: str

    def __new__(cls, text: str, *, system: str, instruction: str, input: str | None, user: str):
        obj = super().__new__(cls, text)
        obj.system, obj.instruction, obj.input, obj.user = system, instruction, input, user
        return obj

    def __reduce__(self):  # pickling (e.g. to DataLoader workers) keeps the parts
        return _prompt_from, (str(self), self.system, self.instruction, self.input, self.user)


def _prompt_from(text: str, system: str, instruction: str, input: str | None, user: str) -> Prompt:
    return Prompt(text, system=system, instruction=instruction, input=input, user=user)


@dataclass(frozen=True)
class Sample:
    """One training sample.

    Attributes:
        task: the task name.
        prompt: the full text the LM sees before its answer (system line, instruction, input with
            motion spans written by :meth:`MotionVocab.render`, up to ``"### Response:\\n"``); a
            :class:`Prompt`.
        answer: the target text: a motion span, or a caption (no end marker; :func:`format_chat` adds it).
        meta: how it was built: ``version``, ``paraphrase``, ``n_tokens`` (``N`` of the source motion),
            ``answer_span`` (token range of the motion that the answer holds, motion answers only),
            ``length`` (tokens stated in the prompt, or ``None``), ``seconds_per_token``, and per task
            ``pose_positions`` (init / last / key poses, in tokens), ``key_seconds``,
            ``given_spans`` (token ranges given in the prompt: predict, inbetween).
    """

    task: str
    prompt: str
    answer: str
    meta: dict = field(default_factory=dict)


def prediction_prefix(n_tokens: int) -> int:
    """Tokens given for prediction: 20% of ``n_tokens``, rounded, at least 1 and at most ``N-1``
    (the rule of :mod:`motiongpt2.eval.protocol`, in tokens).  Needs ``N ≥ 2``."""
    n = int(n_tokens)
    if n < 2:
        raise ValueError(f"predict needs a motion of at least 2 tokens, got {n}")
    return int(min(max(round(0.2 * n), 1), n - 1))


def inbetween_margin(n_tokens: int) -> int:
    """Tokens given at each end for in-betweening: 25% of ``n_tokens``, rounded, at least 1, and
    leaving a middle of at least 1 token (the rule of :mod:`motiongpt2.eval.protocol`).  Needs ``N ≥ 3``."""
    n = int(n_tokens)
    if n < 3:
        raise ValueError(f"inbetween needs a motion of at least 3 tokens, got {n}")
    return int(min(max(round(0.25 * n), 1), max(1, (n - 1) // 2)))


def _seconds(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _check_task(task: str) -> None:
    if task not in _SLOTS:
        raise ValueError(f"unknown task {task!r} (known: {', '.join(TASKS + ALIGNMENT_TASKS)})")


def _check_vocab(task: str, vocab: Any) -> MotionVocab | None:
    if task == "text-only":
        return vocab
    if not isinstance(vocab, MotionVocab):
        raise ValueError(f"{task} needs a MotionVocab, got {type(vocab).__name__}")
    if task == "wholebody" and vocab.n_streams < 2:
        raise ValueError(f"wholebody needs a body+hand vocabulary (2 streams), got streams {vocab.stream_names}")
    return vocab


def _motion(value: Any, vocab: MotionVocab, name: str, min_len: int = 1) -> np.ndarray:
    """``(n, S)`` int64 motion tokens (a ``(n,)`` array is accepted for one stream)."""
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged input and the like
        raise ValueError(f"{name}: expected motion tokens (N, {vocab.n_streams}), got {type(value).__name__}") from None
    if arr.ndim == 1 and vocab.n_streams == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != vocab.n_streams:
        raise ValueError(f"{name}: expected motion tokens of shape (N, {vocab.n_streams}), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: expected integer motion tokens, got dtype {arr.dtype}")
    if len(arr) < min_len:
        raise ValueError(f"{name}: expected at least {min_len} motion token(s), got {len(arr)}")
    limit = np.asarray(vocab.codebook_sizes)
    if ((arr < 0) | (arr >= limit)).any():
        raise ValueError(f"{name}: motion token out of range for codebooks {vocab.codebook_sizes}")
    return arr.astype(np.int64)


def _pose(value: Any, vocab: MotionVocab, name: str) -> np.ndarray:
    """One pose token as ``(1, S)``; accepts ``(S,)`` or ``(1, S)`` (or a scalar for one stream)."""
    arr = np.asarray(value)
    if arr.ndim == 0 and vocab.n_streams == 1:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1 and arr.shape[0] == vocab.n_streams:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape != (1, vocab.n_streams):
        raise ValueError(f"{name}: expected one pose token of shape (1, {vocab.n_streams}) or "
                         f"({vocab.n_streams},), got shape {arr.shape}")
    return _motion(arr, vocab, name)


def _keys(value: Any, vocab: MotionVocab) -> list[tuple[int, np.ndarray]]:
    items = list(value.items()) if isinstance(value, Mapping) else value
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise ValueError("key: expected a non-empty list of (position, pose token) pairs")
    out: dict[int, np.ndarray] = {}
    for item in items:
        if not isinstance(item, Sequence) or len(item) != 2:
            raise ValueError(f"key: expected (position, pose token) pairs, got a {type(item).__name__}")
        pos, pose = item
        if isinstance(pos, bool) or not isinstance(pos, (int, np.integer)) or pos < 0:
            raise ValueError(f"key: positions must be token indices ≥ 0, got {pos!r}")
        if int(pos) in out:
            raise ValueError(f"key: position {int(pos)} given twice")
        out[int(pos)] = _pose(pose, vocab, f"key pose at {int(pos)}")
    return sorted(out.items())


def _caption(value: Any, name: str = "caption") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: expected a non-empty string, got {value!r}")
    return " ".join(value.split())


# ---------------------------------------------------------------------------------------- inference
def build_prompt(task: str, vocab: MotionVocab | None = None, *, caption: str | None = None,
                 tokens: Any = None, init: Any = None, last: Any = None, key: Any = None, prefix: Any = None,
                 start: Any = None, end: Any = None, length: int | None = None, paraphrase: int = 0,
                 prompts: PromptSet | None = None, seconds_per_token: float = SECONDS_PER_TOKEN) -> Prompt:
    """The prompt of ``task`` for the given conditions (the text the LM continues with its answer).

    Args:
        task: one of :data:`TASKS` or :data:`ALIGNMENT_TASKS`.
        vocab: the motion vocabulary (not needed for ``text-only``).
        caption: the text (t2m tasks, wholebody, align-t2m).
        tokens: the motion ``(N, S)`` to describe (m2t, align-m2t).
        init, last: one pose token, ``(S,)`` or ``(1, S)`` (t2m-init, t2m-last).
        key: key poses, ``[(position, pose token), ...]`` or ``{position: pose token}``; positions
            are token indices in the motion to generate (t2m-key).
        prefix: the first tokens ``(a, S)`` (predict).
        start, end: the first and the last tokens (inbetween).
        length: the number of tokens of the whole motion, stated with its duration in seconds
            (:data:`LENGTH_TASKS` only); ``None`` states no length.
        paraphrase: which paraphrase of the task prompt (0: the paper's wording where it has one).
        prompts: a :func:`load_prompts` result; default the packaged V0.
        seconds_per_token: duration of one token (0.2 s = 4 frames at 20 fps).

    Only the conditions of ``task`` may be given, and all of them must be (``ValueError`` otherwise).
    """
    _check_task(task)
    P = _prompt_set(prompts)
    tp = P.task(task)
    vocab = _check_vocab(task, vocab)
    given = {a: v for a, v in dict(caption=caption, tokens=tokens, init=init, last=last, key=key, prefix=prefix,
                                  start=start, end=end).items() if v is not None}
    slots = _SLOTS[task]
    unexpected = [a for a in given if _ARG_SLOT[a] not in slots]
    if unexpected:
        takes = ", ".join(_SLOT_ARG[s] for s in sorted(slots)) or "no condition"
        raise ValueError(f"{task} does not take {', '.join(unexpected)} (it takes: {takes})")
    missing = [s for s in sorted(slots) if _SLOT_ARG[s] not in given]
    if missing:
        raise ValueError(f"{task} needs " + ", ".join(f"{_SLOT_ARG[s]} ({_SLOT_WHAT[s]})" for s in missing))
    if isinstance(paraphrase, bool) or not isinstance(paraphrase, (int, np.integer)) \
            or not 0 <= paraphrase < len(tp.instructions):
        raise ValueError(f"paraphrase must be an int in [0, {len(tp.instructions)}) for {task} in {P.version}, "
                         f"got {paraphrase!r}")
    if not seconds_per_token > 0:
        raise ValueError(f"seconds_per_token must be > 0, got {seconds_per_token!r}")
    paraphrase = int(paraphrase)

    values: dict[str, str] = {}
    n_given = 0           # tokens of the whole motion that the prompt already holds (for the length check)
    last_key = -1
    if "caption" in slots:
        values["caption"] = _caption(caption)
    if "motion" in slots:
        values["motion"] = vocab.render(_motion(tokens, vocab, "tokens"))
    for name in ("init", "last"):
        if name in slots:
            values[name] = vocab.render(_pose(given[name], vocab, name))
            n_given = 1
    if "keys" in slots:
        ks = _keys(key, vocab)
        last_key = ks[-1][0]
        values["keys"] = P.key_separator.join(
            P.key_pose.format(pose=vocab.render(p), index=i, seconds=_seconds(i * seconds_per_token)) for i, p in ks)
    if "prefix" in slots:
        pre = _motion(prefix, vocab, "prefix")
        values["prefix"] = vocab.render(pre)
        n_given = len(pre)
    if "start" in slots:
        st, en = _motion(start, vocab, "start"), _motion(end, vocab, "end")
        values["start"], values["end"] = vocab.render(st), vocab.render(en)
        n_given = len(st) + len(en)

    inp = None if tp.input is None else tp.input.format(**values)
    if length is not None:
        if task not in LENGTH_TASKS:
            raise ValueError(f"{task} takes no length (length-conditioned tasks: {', '.join(LENGTH_TASKS)})")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"length must be a number of tokens ≥ 1, got {length!r}")
        length = int(length)
        if task in ("predict", "inbetween") and length <= n_given:
            raise ValueError(f"length {length} leaves nothing to generate after the {n_given} given tokens")
        if last_key >= length:
            raise ValueError(f"key pose at token {last_key} lies beyond length {length}")
        sentence = tp.length[paraphrase % len(tp.length)].format(
            seconds=_seconds(length * seconds_per_token), tokens=length)
        inp = P.layout["with_length"].format(input=inp, length=sentence)
    instruction = tp.instructions[paraphrase].format(**values)
    if inp is None:
        text = P.layout["without_input"].format(system=tp.system, instruction=instruction)
        user = P.layout["chat_user_without_input"].format(instruction=instruction)
    else:
        text = P.layout["with_input"].format(system=tp.system, instruction=instruction, input=inp)
        user = P.layout["chat_user"].format(instruction=instruction, input=inp)
    return Prompt(text, system=tp.system, instruction=instruction, input=inp, user=user)


# ---------------------------------------------------------------------------------------- training
def build_sample(task: str, vocab: MotionVocab | None, *, caption: str | None = None, tokens: Any = None,
                 rng: np.random.Generator, prompts: PromptSet | None = None, length_hint: bool = False,
                 seconds_per_token: float = SECONDS_PER_TOKEN, max_keys: int = _MAX_KEYS) -> Sample:
    """One training sample of ``task`` from a caption and/or a motion.

    The paraphrase (and for ``t2m-key`` the number ``1 ≤ k ≤ max_keys`` and the positions of the key
    poses) are drawn from ``rng``; the conditions are derived from ``tokens`` (see the module table)
    and the prompt is written by :func:`build_prompt`, exactly as at inference.  Inputs a task does not
    use are ignored (``caption`` for predict, ``tokens`` for text-only, ...).

    Args:
        task: one of :data:`TASKS` or :data:`ALIGNMENT_TASKS`.
        vocab: the motion vocabulary (``None`` is fine for ``text-only``).
        caption: the motion's text (needed by every task but predict and inbetween).
        tokens: the motion ``(N, S)`` (needed by every task but text-only).
        rng: a ``numpy.random.Generator``.
        prompts: a :func:`load_prompts` result; default the packaged V0.
        length_hint: state the motion's duration (``N`` tokens) in the prompt (:data:`LENGTH_TASKS`).
        seconds_per_token: duration of one token.
        max_keys: the most key poses of ``t2m-key``.
    """
    _check_task(task)
    P = _prompt_set(prompts)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if length_hint and task not in LENGTH_TASKS:
        raise ValueError(f"{task} takes no length (length-conditioned tasks: {', '.join(LENGTH_TASKS)})")
    vocab = _check_vocab(task, vocab)
    paraphrase = int(rng.integers(P.n_paraphrases(task)))
    meta: dict[str, Any] = {"version": P.version, "paraphrase": paraphrase, "seconds_per_token": seconds_per_token}
    slots = _SLOTS[task]
    cond: dict[str, Any] = {}
    if "caption" in slots or task in ("m2t", "align-m2t", "text-only"):
        caption = _caption(caption)
    if "caption" in slots:
        cond["caption"] = caption
    if task == "text-only":
        meta["length"] = None
        return Sample(task, build_prompt(task, vocab, paraphrase=paraphrase, prompts=P), caption, meta)

    min_len = {"predict": 2, "inbetween": 3}.get(task, 1)
    arr = _motion(tokens, vocab, "tokens", min_len)
    n = len(arr)
    meta["n_tokens"] = n
    span = (0, n)
    if task in ("m2t", "align-m2t"):
        cond["tokens"] = arr
    elif task == "t2m-init":
        cond["init"] = arr[0]
        meta["pose_positions"] = [0]
    elif task == "t2m-last":
        cond["last"] = arr[n - 1]
        meta["pose_positions"] = [n - 1]
    elif task == "t2m-key":
        if int(max_keys) < 1:
            raise ValueError(f"max_keys must be ≥ 1, got {max_keys!r}")
        k = int(rng.integers(1, min(int(max_keys), n) + 1))
        pos = sorted(int(i) for i in rng.choice(n, size=k, replace=False))
        cond["key"] = [(i, arr[i]) for i in pos]
        meta["pose_positions"] = pos
        meta["key_seconds"] = [float(_seconds(i * seconds_per_token)) for i in pos]
    elif task == "predict":
        a = prediction_prefix(n)
        cond["prefix"] = arr[:a]
        span = (a, n)
        meta["given_spans"] = [(0, a)]
    elif task == "inbetween":
        a = inbetween_margin(n)
        cond["start"], cond["end"] = arr[:a], arr[n - a:]
        span = (a, n - a)
        meta["given_spans"] = [(0, a), (n - a, n)]
    length = n if length_hint else None
    meta["length"] = length
    prompt = build_prompt(task, vocab, **cond, length=length, paraphrase=paraphrase, prompts=P,
                          seconds_per_token=seconds_per_token)
    if task in ("m2t", "align-m2t"):
        return Sample(task, prompt, caption, meta)
    meta["answer_span"] = span
    return Sample(task, prompt, vocab.render(arr[span[0]:span[1]]), meta)


def text_only_sample(caption: str, rng: np.random.Generator, prompts: PromptSet | None = None) -> Sample:
    """Stage 2: a caption as the answer to a plain "describe a human motion" prompt (keeps in-domain
    language; no motion tokens)."""
    return build_sample("text-only", None, caption=caption, rng=rng, prompts=prompts)


def alignment_samples(caption: str, tokens: Any, vocab: MotionVocab, rng: np.random.Generator,
                      prompts: PromptSet | None = None, *,
                      seconds_per_token: float = SECONDS_PER_TOKEN) -> list[Sample]:
    """Stage 2: one text-motion pair in both directions, ``[align-t2m, align-m2t]``."""
    return [build_sample(t, vocab, caption=caption, tokens=tokens, rng=rng, prompts=prompts,
                         seconds_per_token=seconds_per_token) for t in ("align-t2m", "align-m2t")]


# ---------------------------------------------------------------------------------------- LLM text
def format_chat(sample_or_prompt: Sample | str, hf_tokenizer: Any = None, *, chat_template: bool = False,
                eos: str | None = None) -> tuple[str, str]:
    """``(prompt_text, answer_text)`` for the LLM; ``prompt_text + answer_text`` is the training string.

    Args:
        sample_or_prompt: a :class:`Sample` (training) or a prompt from :func:`build_prompt`
            (inference: ``answer_text`` is ``""``).
        hf_tokenizer: the LLM's Hugging Face tokenizer (its ``eos_token`` ends the answer; its chat
            template is used with ``chat_template=True``).
        chat_template: wrap system line, instruction and input with the tokenizer's chat template
            (system turn + user turn + generation prompt) instead of the paper's Alpaca layout.  A
            template that refuses a system turn gets the system line at the top of the user turn.
        eos: the end marker; default ``hf_tokenizer.eos_token``, else :data:`DEFAULT_EOS`.

    The loss mask starts at ``len(prompt_text)``, the first character of the answer (see the module
    docstring for how to tokenize the two parts).
    """
    if isinstance(sample_or_prompt, Sample):
        prompt, answer = sample_or_prompt.prompt, sample_or_prompt.answer
    elif isinstance(sample_or_prompt, str):
        prompt, answer = sample_or_prompt, None
    else:
        raise ValueError(f"expected a Sample or a prompt string, got {type(sample_or_prompt).__name__}")
    if eos is None:
        eos = getattr(hf_tokenizer, "eos_token", None) or DEFAULT_EOS
    if chat_template:
        if hf_tokenizer is None or not getattr(hf_tokenizer, "chat_template", None):
            raise ValueError("chat_template=True needs a tokenizer with a chat template")
        if not isinstance(prompt, Prompt):
            raise ValueError("chat_template=True needs the Prompt returned by build_prompt/build_sample, "
                             "not a plain string")
        messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        try:
            text = hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - templates without a system role raise their own errors
            merged = [{"role": "user", "content": f"{prompt.system}\n\n{prompt.user}"}]
            text = hf_tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
        prompt_text = str(text)
    else:
        prompt_text = str(prompt)
    return prompt_text, ("" if answer is None else answer + eos)
