"""T2M-GPT baseline (entry points re-exported from :mod:`motiongpt2.eval.t2mgpt`)."""
from .t2mgpt import T2MGPTGenerator, load_generator, train_t2mgpt

__all__ = ["T2MGPTGenerator", "load_generator", "train_t2mgpt"]
