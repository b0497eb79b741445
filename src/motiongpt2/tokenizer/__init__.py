"""Motion tokenizers: EMA quantizer, T2M-GPT VQ-VAE and the Part-Aware (body/hand) VQ-VAE.

Typical use::

    from motiongpt2.tokenizer import load_checkpoint
    tok = load_checkpoint("runs/vq_hml", which="best").model
    ids, n_tok = tok.encode(tok.normalize(features), lengths)     # (B, T//4) long, (B,)
    feats = tok.denormalize(tok.decode(ids, n_tok))               # (B, T//4*4, D)

The Part-Aware model returns ``(body_ids, hand_ids, token_lengths)`` from ``encode`` and takes
``decode(body_ids, hand_ids, token_lengths)``.
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
