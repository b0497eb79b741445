"""Adapting a pretrained language model to motion: new token rows and LoRA.

**Vocabulary** (:func:`extend_vocabulary`): the motion tokens of a :class:`~.vocab.MotionVocab` are
added to the Hugging Face tokenizer, the input (and output) embedding matrices grow to the new
tokenizer length (no padding to a multiple: padded rows would be tokens the decoder could sample),
and the new rows are drawn at random (as in the paper) from a normal distribution with the
per-dimension mean and std of the existing rows, so their scale matches.

**Only the new rows train** among the embedding parameters: the embedding matrices keep
``requires_grad=True`` but carry a gradient hook that zeroes the gradient of every other row
(:func:`train_only_rows`; tied input/output embeddings — SmolLM2, T5 — are one parameter with one
hook, untied ones get a hook each).  The trainable row ids are kept on the parameter
(:data:`ROWS_ATTR`).  With a zero gradient Adam/AdamW leave those rows bit-identical, **but weight
decay would still shrink them**: build the optimiser with :func:`param_groups`, which puts the
embedding matrices (and biases / norms) in a group with ``weight_decay=0``.  Adam keeps its moment
buffers for the whole matrices (``2 × vocab × dim`` floats), the price of not copying them.

**LoRA** (:func:`apply_lora`): ``peft`` adapters (paper: r=32, α=16, dropout 0.05) on the attention
projections, found by module name (LLaMA / Gemma / Qwen / SmolLM ``q_proj k_proj v_proj o_proj``;
T5 ``q k v o``).  peft's ``modules_to_save`` would copy whole embedding matrices, so it is not used:
after wrapping, the row-restricted embedding parameters are made trainable again.
``LoraSettings(full_finetune=True)`` trains every weight instead (the paper's T5-base comparison).

:func:`trainable_report` counts what trains (new rows as ``rows × dim``, not whole matrices).
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from ..errors import MotionGPT2Error
from .vocab import BoundVocab, MotionVocab

__all__ = ["ATTENTION_PROJECTIONS", "LoraSettings", "ROWS_ATTR", "apply_lora", "attention_targets",
           "embedding_matrices", "extend_vocabulary", "param_groups", "release_rows", "report_line",
           "train_only_rows", "trainable_report"]

#: Attribute of an embedding parameter: ``(n,)`` int64 ids of its trainable rows.
ROWS_ATTR = "motiongpt2_trainable_rows"
_HOOK_ATTR = "motiongpt2_row_hook"

#: Attention projection names per architecture family, tried in order.
ATTENTION_PROJECTIONS = (("q_proj", "k_proj", "v_proj", "o_proj"), ("q", "k", "v", "o"))


# ------------------------------------------------------------------------------ vocabulary
def extend_vocabulary(model: nn.Module, hf_tokenizer, vocab: MotionVocab, seed: int = 0) -> BoundVocab:
    """Add ``vocab``'s tokens to ``hf_tokenizer`` and ``model`` (module docstring).

    Args:
        model: a Hugging Face model (``get_input_embeddings`` / ``get_output_embeddings`` /
            ``resize_token_embeddings``); changed in place.
        hf_tokenizer: its tokenizer; the tokens are added in place.
        vocab: the motion vocabulary.
        seed: seed of the new rows' random values (a private generator; global RNGs untouched).

    Returns:
        The bound vocabulary (token ids).  Call once per model: a second call re-draws the rows.
    """
    n_known = len(hf_tokenizer)
    bound = vocab.bind(hf_tokenizer)
    new_ids = torch.from_numpy(bound.new_ids)
    n_rows = model.get_input_embeddings().weight.shape[0]
    if len(hf_tokenizer) > n_rows:
        model.resize_token_embeddings(len(hf_tokenizer), mean_resizing=False)
    known = torch.ones(min(n_known, n_rows), dtype=torch.bool)
    known[new_ids[new_ids < len(known)]] = False
    generator = torch.Generator().manual_seed(seed)
    for weight in embedding_matrices(model):
        _draw_rows(weight, new_ids, known, generator)
        train_only_rows(weight, new_ids)
    return bound


def embedding_matrices(model: nn.Module) -> list[nn.Parameter]:
    """The input embedding weight ``(V, D)`` and, when not tied to it, the output one ``(V, D)``."""
    weights = [model.get_input_embeddings().weight]
    out = model.get_output_embeddings()
    if out is not None and out.weight is not weights[0]:
        weights.append(out.weight)
    return weights


def _draw_rows(weight: nn.Parameter, rows: torch.Tensor, known: torch.Tensor, generator: torch.Generator) -> None:
    """Set ``weight[rows]`` to normal samples with the per-column mean / std of ``weight[known]``
    (``known``: ``(R,)`` bool over the first ``R`` rows)."""
    with torch.no_grad():
        ref = weight.detach()[: len(known)][known.to(weight.device)].float()
        mean, std = ref.mean(0).cpu(), ref.std(0).cpu()
        values = torch.randn(len(rows), weight.shape[1], generator=generator) * std + mean
        weight[rows.to(weight.device)] = values.to(weight.device, weight.dtype)


def train_only_rows(weight: nn.Parameter, rows: torch.Tensor) -> None:
    """Make only ``weight[rows]`` trainable: ``requires_grad=True`` plus a hook zeroing the gradient
    of every other row (replaces an earlier hook of this function)."""
    release_rows(weight)
    frozen = torch.ones(weight.shape[0], 1, dtype=torch.bool)
    frozen[rows] = False
    handle = weight.register_hook(lambda grad: grad.masked_fill(frozen.to(grad.device), 0))
    setattr(weight, ROWS_ATTR, rows.detach().cpu().clone())
    setattr(weight, _HOOK_ATTR, handle)
    weight.requires_grad_(True)


def release_rows(weight: nn.Parameter) -> None:
    """Undo :func:`train_only_rows` (every row trains again)."""
    handle = getattr(weight, _HOOK_ATTR, None)
    if handle is not None:
        handle.remove()
        delattr(weight, _HOOK_ATTR)
    if hasattr(weight, ROWS_ATTR):
        delattr(weight, ROWS_ATTR)


# ------------------------------------------------------------------------------ LoRA
@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters (defaults: the paper's).

    Attributes:
        r: adapter rank.
        alpha: scaling numerator (the update is ``alpha / r · B A``).
        dropout: dropout on the adapter input.
        target_modules: module names to adapt; ``None`` → the attention projections
            (:func:`attention_targets`).
        full_finetune: train every weight instead of adapters (the paper's T5-base comparison).
    """

    r: int = 32
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    full_finetune: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules) if self.target_modules is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LoraSettings":
        d = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        if d.get("target_modules") is not None:
            d["target_modules"] = tuple(d["target_modules"])
        return cls(**d)


def attention_targets(model: nn.Module) -> tuple[str, ...]:
    """Names of the attention projections of ``model`` (first full set of :data:`ATTENTION_PROJECTIONS`
    found among its linear layers)."""
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    for projections in ATTENTION_PROJECTIONS:
        if set(projections) <= names:
            return projections
    kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
    raise MotionGPT2Error(f"cannot tell the attention projections of a {kind} model — pass "
                          "LoraSettings(target_modules=(...)) naming its query/key/value/output layers")


def apply_lora(model: nn.Module, settings: LoraSettings = LoraSettings()) -> nn.Module:
    """Wrap ``model`` with peft LoRA adapters (or, for ``full_finetune``, make every weight trainable).

    The embedding matrices restricted by :func:`extend_vocabulary` stay trainable (their new rows
    only).  Returns the peft model (``PeftModelForCausalLM`` / ``PeftModelForSeq2SeqLM``) or, for
    a full fine-tune, ``model`` itself.
    """
    if settings.full_finetune:
        for weight in embedding_matrices(model):
            release_rows(weight)
        model.requires_grad_(True)
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=list(settings.target_modules or attention_targets(model)), bias="none",
                        task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM)
    with warnings.catch_warnings():  # peft reads a property transformers 5 deprecated; not ours to fix
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        wrapped = get_peft_model(model, config)
    for weight in embedding_matrices(wrapped):
        if hasattr(weight, ROWS_ATTR):
            weight.requires_grad_(True)
    return wrapped


# ------------------------------------------------------------------------------ optimiser, report
def param_groups(model: nn.Module, lr: float, weight_decay: float, rows_lr: float | None = None) -> list[dict[str, Any]]:
    """Optimiser parameter groups of the trainable weights: matrices with ``weight_decay``; biases and
    norm weights with ``weight_decay=0``; embedding matrices restricted to their new rows with
    ``weight_decay=0`` (decay would move the frozen rows) and learning rate ``rows_lr`` (``None``:
    ``lr``).  Empty groups are left out."""
    decay, no_decay, rows = [], [], []
    for p in model.parameters():
        if p.requires_grad:
            (rows if hasattr(p, ROWS_ATTR) else no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "lr": lr, "weight_decay": weight_decay},
              {"params": no_decay, "lr": lr, "weight_decay": 0.0},
              {"params": rows, "lr": lr if rows_lr is None else rows_lr, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def trainable_report(model: nn.Module, bound: BoundVocab) -> dict[str, float]:
    """Parameter counts: ``total`` (every parameter once, adapters included), ``lora``, ``new_rows``
    (trainable embedding rows × dim, per matrix), ``other`` (any further trainable weight, e.g. a full
    fine-tune), ``trainable`` (their sum), ``trainable_percent`` and ``new_tokens``."""
    counts = {"total": 0, "lora": 0, "new_rows": 0, "other": 0}
    for name, p in model.named_parameters():
        counts["total"] += p.numel()
        if not p.requires_grad:
            continue
        rows = getattr(p, ROWS_ATTR, None)
        if "lora_" in name:
            counts["lora"] += p.numel()
        elif rows is not None:
            counts["new_rows"] += len(rows) * p.shape[1]
        else:
            counts["other"] += p.numel()
    trainable = counts["lora"] + counts["new_rows"] + counts["other"]
    return {**counts, "trainable": trainable, "trainable_percent": 100.0 * trainable / max(counts["total"], 1),
            "new_tokens": len(bound.new_ids)}


def report_line(report: dict[str, float]) -> str:
    """One printable line of :func:`trainable_report`."""
    c = _count
    return (f"trainable {c(report['trainable'])} of {c(report['total'])} parameters "
            f"({report['trainable_percent']:.2f}%): LoRA {c(report['lora'])}, new embedding rows "
            f"{c(report['new_rows'])} ({report['new_tokens']} tokens), other {c(report['other'])}")


def _count(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}K"
