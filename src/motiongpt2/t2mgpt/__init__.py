"""T2M-GPT baseline: a from-scratch text-conditioned GPT over the same motion tokens.

Typical use::

    from motiongpt2.t2mgpt import train_t2mgpt, load_generator
    train_t2mgpt("configs/baselines/t2mgpt_cpu_small.yaml", data_root, "runs/vq263_small", "runs/t2mgpt")
    gen = load_generator("runs/t2mgpt")              # protocol Generator (t2m tasks)
    motions = gen.generate_t2m(["a person walks forward"], None, seed=0)   # raw (T, D) features
"""
from .checkpoint import GPTCheckpoint, load_t2mgpt, save_t2mgpt
from .config import GPTConfig, GPTTrainConfig, T2MGPTConfig, load_t2mgpt_config
from .data import make_batch
from .generate import T2MGPTGenerator, load_generator, sample_tokens
from .model import T2MGPT, masked_token_loss, token_accuracy
from .train import load_tokenizer, train_t2mgpt

__all__ = [
           "T2MGPT",
           "GPTCheckpoint",
           "GPTConfig",
           "GPTTrainConfig",
           "T2MGPTConfig",
           "T2MGPTGenerator",
           "load_generator",
           "load_t2mgpt",
           "load_t2mgpt_config",
           "load_tokenizer",
           "make_batch",
           "masked_token_loss",
           "sample_tokens",
           "save_t2mgpt",
           "token_accuracy",
           "train_t2mgpt",
]
