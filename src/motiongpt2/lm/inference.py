"""Make a loaded language model fast to decode: LoRA merged into the weights, and optionally int8.

On a CPU one decoding step of a small LLM reads every weight once, so its time is set by the bytes
read (memory bandwidth) plus Python overhead per module:

* :func:`merge_lora` folds the adapters into the base weights (``W + B·A·α/r``, exact up to float
  rounding) and drops the PEFT wrappers: the same function, fewer modules and matmuls per token.
* :func:`quantize_int8` swaps every ``nn.Linear`` of the decoder (attention and MLP projections, not
  the output head) for PyTorch's dynamically quantized int8 linear layer: a quarter of the bytes per
  token.  CPU only.  Outputs change slightly; ``benchmarks/lm_latency.py`` measures whether FID and
  R-Precision move.  The output head stays in float: :func:`~.decoding.decode` computes only the
  allowed rows of it inside a motion span.

:func:`prepare_for_inference` applies both and, for Llama-architecture models, returns the lean
decoding pass of :mod:`.fast_llama` (fused projections, in-place KV cache; checked against the
transformers forward when built).  The model is for decoding only afterwards (no adapter to train or
save: :meth:`~.model.MotionGPT2.save_pretrained` then copies the folder it was loaded from).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ..errors import MotionGPT2Error

__all__ = ["QUANTIZE_CHOICES", "merge_lora", "prepare_for_inference", "quantize_int8"]

QUANTIZE_CHOICES = ("none", "int8")


def merge_lora(model: nn.Module) -> nn.Module:
    """The plain model with its LoRA adapters merged (a PEFT model), else ``model`` itself."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def quantize_int8(model: nn.Module, skip: nn.Module | None = None) -> nn.Module:
    """Dynamic int8 quantization (per-tensor weights, activations quantized per call) of every
    ``nn.Linear`` of ``model`` except ``skip`` (default: the output head), in place; returns ``model``.
    CPU tensors only."""
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise MotionGPT2Error("int8 dynamic quantization runs on the CPU only — load the model on the CPU, "
                              "or on a GPU use dtype bfloat16")
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    if skip is None and hasattr(model, "get_output_embeddings"):
        skip = model.get_output_embeddings()
    spec = {name: default_dynamic_qconfig for name, m in model.named_modules() if type(m) is nn.Linear and m is not skip}
    if not spec:
        raise MotionGPT2Error("int8 quantization found no linear layer to quantize in this model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice (torchao is its successor)
        return quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)


def prepare_for_inference(model: nn.Module, quantize: str | None = None, lean: bool = True) -> nn.Module:
    """The module :func:`~.decoding.decode` should run: ``model`` in eval mode with LoRA merged and,
    for ``quantize="int8"``, int8 linear layers; with ``lean`` its :class:`~.fast_llama.FastLlama`
    pass when the architecture is supported (same outputs up to float rounding, less overhead)."""
    q = "none" if quantize is None else str(quantize).lower()
    if q not in QUANTIZE_CHOICES:
        raise MotionGPT2Error(f"quantize must be one of {', '.join(QUANTIZE_CHOICES)}, not {quantize!r}")
    model = merge_lora(model).eval()
    if lean:
        from .fast_llama import FastLlama

        fast = FastLlama.build(model, quantize=q if q != "none" else None)
        if fast is not None:
            return fast
    if q == "int8":
        model = quantize_int8(model)
    return model
