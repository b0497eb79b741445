"""Motion tokenizers: EMA quantizer, T2M-GPT VQ-VAE and the Part-Aware (body/hand) VQ-VAE.

**One interface for every tokenizer**, so callers never branch on the class:

* ``codebook_sizes`` — a tuple, one codebook size per token stream: ``(512,)`` for
  :class:`MotionVQVAE`, ``(body, hand)`` for :class:`PartAwareVQVAE`; ``stream_names`` names the
  streams (``("motion",)``, ``("body", "hand")``).
* ``encode(x, lengths) -> (streams, token_lengths)`` — ``x`` ``(B, T, D)`` normalised features,
  ``lengths`` ``(B,)`` frames; ``streams`` a tuple with one ``(B, T // unit)`` long tensor per stream
  (``-1`` after each sequence's tokens); ``token_lengths`` ``(B,)`` ``= lengths // unit``.
* ``decode(streams, token_lengths) -> (B, N·unit, D)`` normalised features.
* ``forward(x, mask) -> (recon, streams, commit_loss, stats)`` for training.
* ``unit`` (frames per token), ``input_dim``, ``normalize`` / ``denormalize`` (the dataset mean/std
  stored with the weights).

Typical use::

    from motiongpt2.tokenizer import load_checkpoint
    tok = load_checkpoint("runs/vq_hml", which="best").model
    streams, n_tok = tok.encode(tok.normalize(features), lengths)   # ((B, T//4) long, ...), (B,)
    feats = tok.denormalize(tok.decode(streams, n_tok))               # (B, T//4*4, D)

:mod:`.tokens` caches the tokens of a whole dataset split for the models trained on them.
"""
from .checkpoint import (Checkpoint, build_tokenizer, load_checkpoint, mark_best,
                         restore_training_state, save_checkpoint)
from .config import (PartAwareConfig, TokenizerConfig, TrainConfig, VQVAEConfig, config_from_dict,
                     load_config)
from .losses import masked_smooth_l1, reconstruction_loss, velocity_loss
from .part_aware import PartAwareVQVAE, merge_parts, part_indices, split_parts
from .quantizer import EMAQuantizer
from .vqvae import MotionVQVAE

__all__ = [
    "EMAQuantizer", "MotionVQVAE", "PartAwareVQVAE", "VQVAEConfig", "PartAwareConfig", "TrainConfig",
    "TokenizerConfig", "load_config", "config_from_dict", "build_tokenizer", "save_checkpoint",
    "load_checkpoint", "restore_training_state", "mark_best", "Checkpoint", "reconstruction_loss",
    "masked_smooth_l1", "velocity_loss", "part_indices", "split_parts", "merge_parts",
]
