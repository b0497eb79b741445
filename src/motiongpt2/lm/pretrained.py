"""Saving and loading an adapted language model as one folder that is also a run step folder.

Layout written by :func:`save_pretrained` (a step folder of :mod:`motiongpt2.runs`, so
``runs.resolve_step``, ``runs.weights_hash``, ``runs.mark_best`` and ``runs.read_meta`` work on it)::

    folder/
      model.safetensors     the trained tensors only, float32:
                              adapter.<peft name>   LoRA weights (LoRA models)
                              rows.ids              (n,) int64 ids of the added tokens
                              rows.input            (n, D) their input-embedding rows
                              rows.output           (n, D) their output-embedding rows (untied models)
                              model.<name>          every weight, tied copies once (full fine-tune)
      config.yaml           format, backbone (name, source, kind, padding_side, init), lora (settings with
                            the resolved target modules), vocab (stream names, codebook sizes, the
                            added token strings in order and their ids), embeddings (tied, rows, dim),
                            extra (the caller's extra_config)
      meta.json             runs.checkpoint_meta(model="lm"): step, commit, metrics, backbone, kind,
                            trainable (trainable_report), depends_on.tokenizer {path, hash}
      hf_tokenizer/         the extended Hugging Face tokenizer (tokenizer.json, tokenizer_config.json ...)
      motion_tokenizer/     copy of the motion tokenizer step folder (model.safetensors, config.yaml,
                            meta.json; never trainer.pt)

Safetensors, YAML and JSON only: nothing is unpickled on load.  :func:`load_pretrained` rebuilds the
model from its backbone (:func:`~.backbone.load_backbone` by the recorded name), re-extends the
vocabulary, checks the token ids, loads rows and adapter, and refuses a motion tokenizer copy whose
weights hash differs from ``meta.json``.  A trainer keeping a run folder writes step folders of this
layout with ``runs.write_step_dir(root, step, lambda tmp: write_pretrained(tmp, ...))``.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from .. import runs
from ..errors import InputFileError
from ..runtime import resolve_device
from ..tokenizer.checkpoint import load_checkpoint, resolve_checkpoint
from .adapt import LoraSettings, apply_lora, embedding_matrices, extend_vocabulary, trainable_report
from .backbone import load_backbone
from ..atomic import atomic_folder
from .vocab import BoundVocab, MotionVocab

__all__ = ["LM_FORMAT", "HF_TOKENIZER_DIR", "MOTION_TOKENIZER_DIR", "LoadedLM", "check_tokenizer", "copy_pretrained",
           "load_pretrained", "save_pretrained", "trained_tensors", "write_pretrained"]

#: Version of ``config.yaml``'s layout.
LM_FORMAT = 1
HF_TOKENIZER_DIR, MOTION_TOKENIZER_DIR = "hf_tokenizer", "motion_tokenizer"
_ADAPTER, _FULL = "adapter.", "model."


@dataclass
class LoadedLM:
    """A language model read by :func:`load_pretrained`.

    Attributes:
        model: the peft-wrapped model (the plain model for a full fine-tune), eval mode.
        hf_tokenizer: the backbone's tokenizer with the motion tokens added.
        bound: the motion vocabulary bound to ``hf_tokenizer``'s ids.
        motion_tokenizer: the motion tokenizer (``nn.Module``, eval mode) from ``motion_tokenizer/``.
        config: the parsed ``config.yaml``.
        meta: the parsed ``meta.json``.
        path: the step folder that was read.
    """

    model: nn.Module
    hf_tokenizer: Any
    bound: BoundVocab
    motion_tokenizer: nn.Module
    config: dict[str, Any]
    meta: dict[str, Any]
    path: Path


# ------------------------------------------------------------------------------ saving
def save_pretrained(folder: str | Path, model: nn.Module, hf_tokenizer, bound: BoundVocab,
                    settings: LoraSettings, backbone_name: str, motion_tokenizer_dir: str | Path,
                    extra_config: Mapping[str, Any] | None = None, *, backbone_source: str | None = None,
                    step: int = 0, metrics: Mapping[str, float] | None = None) -> Path:
    """Write ``folder`` atomically (temporary folder, then rename) in the module's layout.

    Args:
        folder: the folder to create (replaced when it exists).
        model: the adapted model (:func:`~.adapt.apply_lora` output, or the plain model for a full
            fine-tune) after :func:`~.adapt.extend_vocabulary`.
        hf_tokenizer, bound: the extended tokenizer and the vocabulary bound to it.
        settings: the LoRA settings the model was adapted with.
        backbone_name: :attr:`~.backbone.Backbone.name` (how :func:`load_pretrained` loads it again).
        motion_tokenizer_dir: the motion tokenizer's step folder or run folder (its ``latest``).
        extra_config: the caller's settings (training config ...), stored under ``extra``.
        backbone_source: :attr:`~.backbone.Backbone.source`, recorded for provenance.
        step, metrics: recorded in ``meta.json``.

    Returns:
        ``folder``.
    """
    return atomic_folder(folder, lambda tmp: write_pretrained(
        tmp, model, hf_tokenizer, bound, settings, backbone_name, motion_tokenizer_dir, extra_config,
        backbone_source=backbone_source, step=step, metrics=metrics))


def write_pretrained(folder: str | Path, model: nn.Module, hf_tokenizer, bound: BoundVocab,
                     settings: LoraSettings, backbone_name: str, motion_tokenizer_dir: str | Path,
                     extra_config: Mapping[str, Any] | None = None, *, backbone_source: str | None = None,
                     step: int = 0, metrics: Mapping[str, float] | None = None,
                     trainer: Mapping[str, Any] | None = None, backbone_init: str = "pretrained") -> Path:
    """Write the files of :func:`save_pretrained` into an existing empty ``folder`` that the caller
    makes appear atomically (``runs.write_step_dir`` or :func:`~.folders.atomic_folder`); ``trainer``:
    optional ``trainer.pt`` contents (:func:`motiongpt2.runs.trainer_state`) for resuming; ``backbone_init``:
    how the backbone's weights were made (:func:`~.backbone.load_backbone` ``init``), recorded so a load
    rebuilds the same weights."""
    folder = Path(folder)
    tok_step = resolve_checkpoint(motion_tokenizer_dir)
    config = _lm_config(model, hf_tokenizer, bound, settings, backbone_name, backbone_source, extra_config,
                        backbone_init)
    meta = runs.checkpoint_meta(
        "lm", step, metrics=metrics, backbone=backbone_name, kind=config["backbone"]["kind"],
        trainable=trainable_report(model, bound),
        depends_on={"tokenizer": {"path": str(tok_step.resolve()), "hash": runs.weights_hash(tok_step)}})
    runs.write_checkpoint(folder, tensors=trained_tensors(model, bound, settings), meta=meta, trainer=trainer,
                          config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                          tensor_metadata={"format": "motiongpt2-lm",
                                           "contents": "full" if settings.full_finetune else "adapter+rows"})
    hf_tokenizer.save_pretrained(str(folder / HF_TOKENIZER_DIR))
    _copy_step(tok_step, folder / MOTION_TOKENIZER_DIR)
    return folder


def trained_tensors(model: nn.Module, bound: BoundVocab, settings: LoraSettings) -> dict[str, torch.Tensor]:
    """What training changed, as float32 CPU tensors (names in the module docstring): the LoRA
    weights and the added rows, or every weight of a full fine-tune."""
    if settings.full_finetune:
        tensors = {_FULL + k: v for k, v in _unique_state(model).items()}
    else:
        from peft import get_peft_model_state_dict

        # save_embedding_layers=False: "auto" would look the base model up online
        adapter = get_peft_model_state_dict(model, save_embedding_layers=False)
        tensors = {**{_ADAPTER + k: v for k, v in adapter.items()}, **_row_tensors(model, bound)}
    return {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
            for k, v in tensors.items()}


def _row_tensors(model: nn.Module, bound: BoundVocab) -> dict[str, torch.Tensor]:
    ids = torch.from_numpy(bound.new_ids)
    out = {"rows.ids": ids}
    for part, weight in zip(("input", "output"), embedding_matrices(model)):
        out[f"rows.{part}"] = weight.detach()[ids.to(weight.device)]
    return out


def _unique_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``state_dict`` without the second name of tied tensors (safetensors refuses shared memory)."""
    seen, out = set(), {}
    for k, v in model.state_dict().items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        if key not in seen:
            seen.add(key)
            out[k] = v
    return out


def _lm_config(model: nn.Module, hf_tokenizer, bound: BoundVocab, settings: LoraSettings, backbone_name: str,
               backbone_source: str | None, extra_config: Mapping[str, Any] | None,
               backbone_init: str = "pretrained") -> dict[str, Any]:
    vocab = bound.vocab
    tokens = vocab.tokens()
    weights = embedding_matrices(model)
    return {
        "format": LM_FORMAT,
        "backbone": {"name": backbone_name, "source": backbone_source or backbone_name,
                     "kind": "seq2seq" if getattr(model.config, "is_encoder_decoder", False) else "causal",
                     "padding_side": hf_tokenizer.padding_side, "init": backbone_init},
        "lora": _resolved_settings(model, settings).to_dict(),
        "vocab": {"stream_names": list(vocab.stream_names), "codebook_sizes": list(vocab.codebook_sizes),
                  "tokens": tokens, "ids": [int(i) for i in hf_tokenizer.convert_tokens_to_ids(tokens)]},
        "embeddings": {"tied": len(weights) == 1, "rows": int(weights[0].shape[0]), "dim": int(weights[0].shape[1])},
        "extra": dict(extra_config or {}),
    }


def _resolved_settings(model: nn.Module, settings: LoraSettings) -> LoraSettings:
    """``settings`` with the target modules peft actually adapted (sorted), so a reload matches."""
    if settings.full_finetune or settings.target_modules is not None:
        return settings
    return replace(settings, target_modules=tuple(sorted(model.peft_config["default"].target_modules)))


def copy_pretrained(step_dir: str | Path, folder: str | Path) -> Path:
    """Write ``folder`` atomically as a copy of the saved step folder ``step_dir`` (without its
    ``trainer.pt``): how a model whose weights were merged / quantized for inference is saved."""
    return atomic_folder(folder, lambda tmp: _copy_step(Path(step_dir), tmp))


def _copy_step(src: Path, dst: Path) -> None:
    """Copy a step folder without ``trainer.pt`` into ``dst`` (its meta notes where it came from)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(runs.TRAINER_FILE, ".*"), dirs_exist_ok=True)
    meta = {**runs.read_meta(src), "has_trainer_state": False, "copied_from": str(src.resolve())}
    (dst / runs.META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")


# ------------------------------------------------------------------------------ loading
def load_pretrained(folder: str | Path, device: str | torch.device = "cpu", dtype: str = "float32", *,
                    which: str = "latest", backbone: str | None = None,
                    cache_dir: str | Path | None = None) -> LoadedLM:
    """Load a folder written by :func:`save_pretrained` (or a run folder of such step folders).

    Args:
        folder: the saved folder, or a run folder (its ``which`` pointer is followed).
        device, dtype: where and in which dtype (``"float32"``, ``"bfloat16"``, ``"float16"``).
        backbone: load this backbone instead of the recorded name (a moved local folder).
        cache_dir: the packaged-backbone cache (:func:`~.backbone.load_backbone`).

    Raises:
        MotionGPT2Error: one line when the backbone is missing, the token ids or weights do not match,
            or the motion tokenizer copy is not the one the model was trained with.
    """
    device = resolve_device(device)
    step_dir = runs.resolve_step(folder, which, what="language model")
    config = yaml.safe_load((step_dir / runs.CONFIG_FILE).read_text())
    meta = runs.read_meta(step_dir)
    motion = _load_motion_tokenizer(step_dir, meta, config, device)
    bb = load_backbone(backbone or config["backbone"]["name"], dtype=dtype, device=device, cache_dir=cache_dir,
                       init=config["backbone"].get("init", "pretrained"))
    if bb.kind != config["backbone"]["kind"]:
        raise InputFileError(step_dir / runs.CONFIG_FILE, f"was saved from a {config['backbone']['kind']} model, "
                             f"but backbone {bb.name} is {bb.kind}", "load it with the backbone it was trained on")
    vocab = _saved_vocab(config)
    bound = extend_vocabulary(bb.model, bb.tokenizer, vocab)
    _check_token_ids(step_dir, config, bb.tokenizer)
    settings = LoraSettings.from_dict(config["lora"])
    model = apply_lora(bb.model, settings)
    _load_trained(model, bound, settings, runs.load_tensors(step_dir), step_dir)
    return LoadedLM(model=model.eval(), hf_tokenizer=bb.tokenizer, bound=bound, motion_tokenizer=motion,
                    config=config, meta=meta, path=step_dir)


def check_tokenizer(folder: str | Path, tokenizer_dir: str | Path, which: str = "latest") -> Path:
    """The step folder of ``tokenizer_dir`` when it is the motion tokenizer the language model in
    ``folder`` was trained with (same weights hash); one-line error otherwise."""
    step_dir = runs.resolve_step(folder, which, what="language model")
    tok_step = resolve_checkpoint(tokenizer_dir)
    _require_hash(tok_step, runs.read_meta(step_dir), f"use {step_dir / MOTION_TOKENIZER_DIR} (the copy saved "
                  "with the language model) or retrain the language model on this tokenizer")
    return tok_step


def _require_hash(tok_step: Path, meta: Mapping[str, Any], hint: str) -> None:
    expected = runs.dependency(meta, "tokenizer").get("hash")
    actual = runs.weights_hash(tok_step)
    if actual != expected:
        raise InputFileError(tok_step, f"motion tokenizer weights hash {actual} differs from {expected}, the "
                             "tokenizer the language model was trained with", hint)


def _load_motion_tokenizer(step_dir: Path, meta: Mapping[str, Any], config: Mapping[str, Any],
                           device: str | torch.device) -> nn.Module:
    copy = step_dir / MOTION_TOKENIZER_DIR
    if not (copy / runs.MODEL_FILE).exists():
        raise InputFileError(copy, f"missing (no {runs.MODEL_FILE})", "the folder is incomplete; save it again")
    _require_hash(copy, meta, "the copy was changed; restore the motion tokenizer saved with this model")
    motion = load_checkpoint(copy, map_location=device, load_trainer_state=False).model
    if MotionVocab.for_tokenizer(motion) != _saved_vocab(config):
        raise InputFileError(copy, "its streams / codebook sizes differ from the vocabulary in config.yaml",
                             "restore the motion tokenizer saved with this model")
    return motion


def _saved_vocab(config: Mapping[str, Any]) -> MotionVocab:
    v = config["vocab"]
    return MotionVocab(tuple(v["stream_names"]), tuple(v["codebook_sizes"]))


def _check_token_ids(step_dir: Path, config: Mapping[str, Any], hf_tokenizer) -> None:
    v = config["vocab"]
    ids = [int(i) for i in hf_tokenizer.convert_tokens_to_ids(v["tokens"])]
    if _saved_vocab(config).tokens() != v["tokens"] or ids != v["ids"]:
        raise InputFileError(step_dir / runs.CONFIG_FILE, "the motion tokens get other ids from this backbone's "
                             "tokenizer than when saved", "load it with the backbone (and tokenizer) it was trained on")


def _load_trained(model: nn.Module, bound: BoundVocab, settings: LoraSettings,
                  tensors: Mapping[str, torch.Tensor], step_dir: Path) -> None:
    """Put the saved tensors into ``model`` (full weights, or adapter + rows); one-line error when
    they do not fit."""
    where = step_dir / runs.MODEL_FILE
    if settings.full_finetune:
        state = {k[len(_FULL):]: v for k, v in tensors.items() if k.startswith(_FULL)}
        if set(state) != set(_unique_state(model)):
            raise _mismatch(where, "its weights do not match the backbone's")
        model.load_state_dict(state, strict=False)
        return
    from peft import set_peft_model_state_dict

    adapter = {k[len(_ADAPTER):]: v for k, v in tensors.items() if k.startswith(_ADAPTER)}
    result = set_peft_model_state_dict(model, adapter)
    if result.unexpected_keys or any("lora_" in k for k in result.missing_keys):
        raise _mismatch(where, "its LoRA weights do not match the adapted backbone")
    if not np.array_equal(tensors["rows.ids"].numpy(), bound.new_ids):
        raise _mismatch(where, "its embedding rows belong to other token ids")
    weights = embedding_matrices(model)
    parts = [p for p in ("input", "output") if f"rows.{p}" in tensors]
    if len(parts) != len(weights):
        raise _mismatch(where, f"it holds {len(parts)} embedding row set(s), the backbone has {len(weights)} "
                        "embedding matrices (tied vs untied)")
    ids = torch.from_numpy(bound.new_ids)
    with torch.no_grad():
        for part, weight in zip(parts, weights):
            weight[ids.to(weight.device)] = tensors[f"rows.{part}"].to(weight.device, weight.dtype)


def _mismatch(where: Path, problem: str) -> InputFileError:
    return InputFileError(where, problem, "was it saved from another backbone or LoRA setting?")
