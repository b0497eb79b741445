"""Benchmark protocol runner: ``motiongpt2 evaluate --task ...``.

:func:`evaluate` runs one task on the test split of one or several prepared datasets with a frozen
evaluator and returns a result dict that :func:`format_markdown` prints in the paper's layout (a
``Real`` row first, then the baselines and the generator) and :func:`write_results` stores as Markdown
and JSON together with the dataset, split files, evaluator, seeds and git commit.

**Draws (as the official ``final_evaluations.py``).** Each of the ``replications`` (20) uses its own
:class:`numpy.random.Generator` (children of ``SeedSequence(seed)``, so replication ``i`` does not depend
on how many are run). In a replication every test pair gets one random caption and one official crop
(:func:`~.pairs.official_crop`): pass 1. The ``Real`` row ranks these real pairs; the generator gets
the pass-1 captions (and the crop lengths as a hint, or the conditions of the task); the FID of every
row is measured against the Gaussian of a *second* pass over the test set (new captions and crops), which
is how the official code obtains its non-zero Real FID. MultiModality (t2m tasks, generators only):
``mm_samples`` (100) pass-1 captions, ``mm_repeats`` (30) generations each.

**Tasks** (conditions given to ``Generator.generate(task, texts, conditions, rng)``, one dict per sample):

============  =====================================================================================
t2m           ``{"length"}`` (frames of the real crop; a hint that generators may ignore) → motions
t2m-init      ``{"length", "poses": crop[[0]], "frames": [0]}`` → motions; + Recon/Vel (joints, m) and
              Recon local (the same frames without the body's position and facing)
t2m-last      ``{"length", "poses": crop[[L-1]], "frames": [L-1]}``
t2m-key       ``{"length", "poses": crop[frames], "frames"}``: ``key_poses`` (3) random frames
m2t           ``{"motion": crop}`` (texts ``None``) → captions; R-Precision and MM-Dist of the captions,
              BLEU-1..4, ROUGE-L, CIDEr-D against all captions of the pair, BERTScore (replication 0)
predict       ``{"length", "prefix": crop[:n]}``, ``n = u·round(0.2·L/u)`` frames (``u`` = 4, at least
              one unit) → full motions of ``L`` frames (prefix included); FID, Diversity, ADE/FDE over
              the predicted frames (joints, m)
inbetween     ``{"length", "prefix": crop[:a], "suffix": crop[L-a:]}``, ``a = u·round(0.25·L/u)`` →
              full motions; ADE/FDE over the masked middle
tokenizer     ``{"motion": crop}`` → reconstructions; FID, Diversity, MPJPE (joints, mm)
============  =====================================================================================

Motions are raw ``(T, D)`` features in the dataset's feature space (not normalised); the protocol
normalises them with the *evaluator's own* statistics. Generated motions shorter than the evaluator's
unit length are an error.

**Hands.** On whole-body (623-d) features the t2m and tokenizer tasks add a *Hand FID* column (:mod:`.hands`: a
text-free Fréchet distance of finger-motion descriptors against the second pass), over all pairs only,
because captions say little about fingers and the evaluator's FID hardly sees them.

**Caption groups.** Besides the total, every row is reported over the pairs of each caption group
(``natural``: sentences written by people; ``label``: captions generated from labels, see
:mod:`motiongpt2.data.caption_groups`), computed from the same draws, generations and embeddings in each
replication; R@k, FID, Diversity and MultiModality are n/a for a group with fewer than ``pool_size`` (32)
pairs. :mod:`.groups` documents every choice; the results hold them under ``caption_groups`` and
:func:`format_markdown` prints them as a second table ("By caption group", rows ``Real — natural (n=…)``)
below the unchanged total table.

**Split honesty.** The split label comes from the split file actually read (after resolving symbolic
links): asking for ``test`` and reading ``val.txt`` is refused, and so is a test split that shares ids
with the val or train split. Evaluating ``split="val"`` works and is labelled *val* everywhere.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import DatasetError, MotionGPT2Error
from ..motion.features import feature_slices, n_joints_for_dim
from .caption_metrics import caption_metrics
from .completion import ade_fde, mpjpe, pose_control_errors
from .evaluator import Evaluator, load_evaluator
from .hands import hand_descriptors, hand_fid, has_hands
from .groups import GroupRep, format_group_markdown, group_indices, group_notes, group_sizes, summarize_groups
from .metrics import caption_retrieval_metrics, diversity, fid, multimodality, r_precision
from .pairs import PairSet, crop_window, load_pairs, resolve_split_file
from .replication import format_table, summarize, table_value

__all__ = ["COLUMNS", "TASKS", "columns_of", "EvalSettings", "Generator", "evaluate", "format_json", "format_markdown",
           "write_results"]

TASKS = ("t2m", "t2m-init", "t2m-last", "t2m-key", "m2t", "predict", "inbetween", "tokenizer")

_T2M_COLS = [("R@1", "R@1 ↑"), ("R@2", "R@2 ↑"), ("R@3", "R@3 ↑"), ("FID", "FID ↓"), ("MM-Dist", "MM-Dist ↓"),
             ("Diversity", "Diversity →"), ("MultiModality", "MModality ↑")]
_POSE_COLS = _T2M_COLS + [("Recon", "Recon ↓"), ("Vel", "Vel ↓"), ("Recon-local", "Recon local ↓")]
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "t2m": _T2M_COLS,
    "t2m-init": _POSE_COLS,
    "t2m-last": _POSE_COLS,
    "t2m-key": _POSE_COLS,
    "m2t": [("R@1", "R@1 ↑"), ("R@2", "R@2 ↑"), ("R@3", "R@3 ↑"), ("MM-Dist", "MM-Dist ↓"), ("BLEU-1", "Bleu@1 ↑"),
            ("BLEU-4", "Bleu@4 ↑"), ("ROUGE-L", "Rouge ↑"), ("CIDEr", "Cider ↑"), ("BERTScore", "BertScore ↑")],
    "predict": [("FID", "FID ↓"), ("Diversity", "Diversity →"), ("ADE", "ADE ↓"), ("FDE", "FDE ↓")],
    "inbetween": [("FID", "FID ↓"), ("Diversity", "Diversity →"), ("ADE", "ADE ↓"), ("FDE", "FDE ↓")],
    "tokenizer": [("FID", "FID ↓"), ("MPJPE", "MPJPE (mm, pelvis-aligned) ↓"), ("Diversity", "Diversity →")],
}


def columns_of(task: str, dim: int) -> list[tuple[str, str]]:
    """The table columns of ``task`` on ``dim``-wide features: :data:`COLUMNS`, plus Hand FID
    (:mod:`.hands`) for the t2m and tokenizer tasks on whole-body features."""
    hands = (task.startswith("t2m") or task == "tokenizer") and has_hands(dim)
    return COLUMNS[task] + ([("Hand-FID", "Hand FID ↓")] if hands else [])


def _hand_scorer(dim: int, reference: Sequence[np.ndarray]):
    """``motions -> Hand FID`` against the ``reference`` crops (the second pass), or ``None`` for features
    without hands."""
    if not has_hands(dim):
        return None
    ref = hand_descriptors(reference)
    return lambda motions: hand_fid(ref, hand_descriptors(motions))


@runtime_checkable
class Generator(Protocol):
    """What a model implements to be evaluated.

    ``generate(task, texts, conditions, rng)`` gets ``texts`` (a list of
    :class:`~motiongpt2.data.text.TextEntry`, or ``None`` for ``m2t``/``tokenizer``), ``conditions``
    (one dict per sample, see the module doc) and a :class:`numpy.random.Generator` to sample with;
    it returns one output per sample: a raw ``(T, D)`` feature array, or a caption string for ``m2t``.
    Optional attributes: ``name`` (row label) and ``deterministic`` (same input → same output).
    """

    def generate(self, task: str, texts: Sequence[Any] | None, conditions: Sequence[dict] | None,
                 rng: np.random.Generator) -> list: ...


@dataclass
class EvalSettings:
    """Protocol constants (official values by default)."""

    pool_size: int = 32
    diversity_times: int = 300
    mm_samples: int = 100
    mm_repeats: int = 30
    mm_times: int = 10
    key_poses: int = 3
    predict_ratio: float = 0.2
    inbetween_ratio: float = 0.25
    bertscore: bool = True
    batch_size: int = 256
    # t2m-init/-last/-key only: the generator gets the text alone (task "t2m", no poses) and Recon/Vel are
    # measured against the poses it was not given -- the "text only" rows of the paper's Table VII
    withhold_poses: bool = False


# --------------------------------------------------------------------------- embedding with caches
class _Embedder:
    """Evaluator embeddings with caches: motions by key (pair, start, length), texts by content."""

    def __init__(self, evaluator: Evaluator, batch_size: int = 256):
        self.E = evaluator
        self.batch_size = batch_size
        self._m: dict[Any, np.ndarray] = {}
        self._t: dict[Any, np.ndarray] = {}
        self.seconds = 0.0

    def motions(self, arrays: Sequence[np.ndarray], keys: Sequence[Any] | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        if keys is None:
            out = self.E.embed_motions(list(arrays), batch_size=self.batch_size)
        else:
            todo = [i for i, k in enumerate(keys) if k not in self._m]
            seen: dict[Any, int] = {}
            uniq = [i for i in todo if seen.setdefault(keys[i], i) == i]
            if uniq:
                emb = self.E.embed_motions([arrays[i] for i in uniq], batch_size=self.batch_size)
                for i, e in zip(uniq, emb):
                    self._m[keys[i]] = e
            out = np.stack([self._m[k] for k in keys]) if keys else np.zeros((0, self.E.cfg.dim_coemb_hidden))
        self.seconds += time.perf_counter() - t0
        return out

    def texts(self, texts: Sequence[Any]) -> np.ndarray:
        t0 = time.perf_counter()
        keys = [_text_key(t) for t in texts]
        todo, seen = [], set()
        for i, k in enumerate(keys):
            if k not in self._t and k not in seen:
                seen.add(k)
                todo.append(i)
        if todo:
            emb = self.E.embed_texts([texts[i] for i in todo])
            for i, e in zip(todo, emb):
                self._t[keys[i]] = e
        out = np.stack([self._t[k] for k in keys]) if keys else np.zeros((0, self.E.cfg.dim_coemb_hidden))
        self.seconds += time.perf_counter() - t0
        return out


def _text_key(t) -> Any:
    from motiongpt2.data.text import TextEntry

    if isinstance(t, TextEntry):
        return ("entry", t.caption, tuple(t.tokens))
    if isinstance(t, str):
        return ("str", t)
    return ("tokens", tuple(tuple(x) if not isinstance(x, str) else x for x in t))


# --------------------------------------------------------------------------- split checks
def _ids(path: str) -> set[str]:
    return {ln.strip().removesuffix(".npy") for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()}


def _check_split(roots: Sequence[Path], split: str, label: str, files: Sequence[str]) -> None:
    if split == "test" and label != "test":
        raise DatasetError(files[0], f"split 'test' resolves to a {label!r} file",
                           "refusing to report validation data as test results; fix the split files")
    if label != "test":
        return
    for root, f in zip(roots, files):
        test_ids = _ids(f)
        for other in ("val", "train"):
            try:
                of = resolve_split_file(root, other)
            except MotionGPT2Error:
                continue
            if str(of) == f:
                raise DatasetError(f, f"the test split file is the {other} split file", "fix the split files")
            shared = test_ids & _ids(str(of))
            if shared:
                raise DatasetError(f, f"test split shares {len(shared)} ids with {of.name} (e.g. {sorted(shared)[0]!r})",
                                   "test results would be contaminated; re-split the dataset")


# --------------------------------------------------------------------------- helpers
def _joints(features: np.ndarray) -> np.ndarray:
    from motiongpt2.motion.features import recover_from_ric

    return recover_from_ric(np.asarray(features, np.float64))


def _local_recon(generated: np.ndarray, target: np.ndarray, matched: np.ndarray, frames: Sequence[int],
                 mode: str, ric: slice) -> float:
    """Recon in the body's own frame: the distance between each given pose and its generated pose after
    removing where the body stands and which way it faces (the features' ``ric`` block, ``ric`` its slice:
    root-relative, facing-aligned joint positions, m; flattened pose norm like Recon).  Initial / last poses
    use the ``matched`` frames; a key pose takes its nearest generated pose in this space."""
    g = np.asarray(generated, np.float64)[:, ric]
    p = np.asarray(target, np.float64)[list(frames)][:, ric]
    if mode == "key":
        return float(np.linalg.norm(p[:, None, :] - g[None, :, :], axis=2).min(axis=1).mean())
    return float(np.linalg.norm(g[matched] - p, axis=1).mean())


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(x)
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.repeat(x[-1:], n - len(x), axis=0)])


def _unit_round(x: float, u: int, lo: int, hi: int) -> int:
    return int(min(max(u * round(x / u), lo), hi))


@dataclass
class _Draw:
    texts: list
    crops: list[np.ndarray]
    keys: list[tuple[int, int, int]]


def _draw(pairs: PairSet, rng: np.random.Generator, u: int) -> _Draw:
    texts, crops, keys = [], [], []
    for i, p in enumerate(pairs.pairs):
        texts.append(p.texts[int(rng.integers(len(p.texts)))])
        start, m = crop_window(len(p.features), rng, u)
        crops.append(p.features[start:start + m])
        keys.append((i, start, m))
    return _Draw(texts, crops, keys)


class _Timer:
    def __init__(self):
        self.seconds = 0.0

    def __call__(self, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0


def _gen(generator, timer: _Timer, task, texts, conds, rng):
    if hasattr(generator, "generate_keyed"):
        return timer(generator.generate_keyed, task, texts, conds, rng)
    return timer(generator.generate, task, texts, conds, rng), None


def _check_motions(out: Sequence, n: int, name: str, dim: int, u: int) -> list[np.ndarray]:
    if len(out) != n:
        raise MotionGPT2Error(f"generator {name!r} returned {len(out)} outputs for {n} inputs")
    res = []
    for i, m in enumerate(out):
        m = np.asarray(m, np.float32)
        if m.ndim != 2 or m.shape[1] != dim or len(m) < u or not np.isfinite(m).all():
            raise MotionGPT2Error(f"generator {name!r}: output #{i} has shape {m.shape} (need (T >= {u}, {dim}) "
                                  "finite raw features)")
        res.append(m)
    return res


# --------------------------------------------------------------------------- one replication per task
def _rep_t2m(task, pairs, E, emb, methods, rng, st: EvalSettings, timer, notes, G: GroupRep) -> dict[str, dict]:
    u = E.unit_length
    d1 = _draw(pairs, rng, u)
    d2 = _draw(pairs, rng, u)
    n = len(pairs)
    t_emb = emb.texts(d1.texts)
    real1 = emb.motions(d1.crops, d1.keys)
    real2 = emb.motions(d2.crops, d2.keys)
    G.set_reference(real2)
    hand_score = _hand_scorer(pairs.dim, d2.crops)
    div_times = min(st.diversity_times, n - 1)
    conds: list[dict] = []
    for c in d1.crops:
        L = len(c)
        cd: dict[str, Any] = {"length": L}
        if task == "t2m-init":
            fr = [0]
        elif task == "t2m-last":
            fr = [L - 1]
        elif task == "t2m-key":
            fr = sorted(rng.choice(L, size=min(st.key_poses, L), replace=False).tolist())
        else:
            fr = None
        if fr is not None:
            cd["frames"] = fr
            cd["poses"] = c[fr]
        conds.append(cd)
    mode = {"t2m-init": "initial", "t2m-last": "last", "t2m-key": "key"}.get(task)
    real_j = [_joints(c) for c in d1.crops] if mode else None
    ric = feature_slices(n_joints_for_dim(pairs.dim))["ric"]
    gen_task, gen_conds = task, conds
    if mode and st.withhold_poses:
        gen_task, gen_conds = "t2m", [{"length": cd["length"]} for cd in conds]

    def score(name, gen_emb, gen_motions=None, mm=None):
        out = r_precision(t_emb, gen_emb, rng, pool_size=st.pool_size)
        out["FID"] = fid(real2, gen_emb)
        out["Diversity"] = diversity(gen_emb, rng, div_times)
        if mm is not None:
            out["MultiModality"] = mm[0]
        if hand_score is not None:
            out["Hand-FID"] = hand_score(gen_motions)
        pose = None
        if mode is not None and gen_motions is not None:
            gen_j = real_j if gen_motions is d1.crops else [_joints(m) for m in gen_motions]
            errs = [pose_control_errors(g, t, cd["frames"], mode) for g, t, cd in zip(gen_j, real_j, conds)]
            for e, f, c, cd in zip(errs, gen_motions, d1.crops, conds):
                e["Recon-local"] = _local_recon(f, c, e["matched"], cd["frames"], mode, ric)
            pose = {k: np.array([e[k] for e in errs], np.float64) for k in ("Recon", "Vel", "Recon-local")}
            out.update({k: float(v.mean()) for k, v in pose.items()})  # Recon / Vel = pose_control_metrics
        for g in G.active():
            res = G.retrieval(g, t_emb, gen_emb)
            res["FID"] = G.fid(g, gen_emb)
            res["Diversity"] = G.diversity(g, gen_emb)
            if mm is not None:
                res["MultiModality"] = G.multimodality(g, mm[1], mm[2])
            if pose is not None:
                res.update({k: G.mean(g, v) for k, v in pose.items()})
            G.put(name, g, res)
        return out

    rows = {"Real": score("Real", real1, d1.crops)}
    for name, g in methods:
        outs, keys = _gen(g, timer, gen_task, d1.texts, gen_conds, rng)
        motions = _check_motions(outs, n, name, pairs.dim, u)
        g_emb = emb.motions(motions, keys)
        n_mm = min(st.mm_samples, n - 1)
        mm = None
        if n_mm >= 2 and st.mm_repeats > st.mm_times:
            idx = np.sort(rng.choice(n, n_mm, replace=False))
            mm_texts = [d1.texts[i] for i in idx]
            mm_conds = [gen_conds[i] for i in idx]
            if getattr(g, "deterministic", False):
                one = g_emb[idx]
                mm_emb = np.repeat(one[:, None, :], st.mm_repeats, axis=1)
            else:
                reps = []
                for _ in range(st.mm_repeats):
                    o, k = _gen(g, timer, gen_task, mm_texts, mm_conds, rng)
                    reps.append(emb.motions(_check_motions(o, n_mm, name, pairs.dim, u), k))
                mm_emb = np.stack(reps, axis=1)
            mm = (multimodality(mm_emb, rng, st.mm_times), mm_emb, idx)
            G.mm_counts.append({gr: int(np.isin(idx, gi).sum()) for gr, gi in G.index.items()})
        rows[name] = score(name, g_emb, motions, mm)
    return rows


def _rep_m2t(pairs, E, emb, methods, rng, st: EvalSettings, timer, notes, first: bool, bert_cache,
             G: GroupRep) -> dict[str, dict]:
    u = E.unit_length
    d1 = _draw(pairs, rng, u)
    m_emb = emb.motions(d1.crops, d1.keys)
    refs = [[e.caption for e in p.texts] for p in pairs.pairs]
    rows = {}
    r_emb = emb.texts(d1.texts)
    real = caption_retrieval_metrics(r_emb, m_emb, rng, pool_size=st.pool_size)
    rows["Real"] = {k: v for k, v in real.items()}
    for g in G.active():
        G.put("Real", g, G.retrieval(g, r_emb, m_emb))
    conds = [{"motion": c} for c in d1.crops]
    for name, gen in methods:
        caps, _ = _gen(gen, timer, "m2t", None, conds, rng)
        if len(caps) != len(pairs) or not all(isinstance(c, str) for c in caps):
            raise MotionGPT2Error(f"generator {name!r} must return {len(pairs)} caption strings for m2t")
        c_emb = emb.texts(list(caps))
        res = caption_retrieval_metrics(c_emb, m_emb, rng, pool_size=st.pool_size)
        res.update({k: v for k, v in caption_metrics(caps, refs).items() if isinstance(v, float)})
        if st.bertscore:
            if first:
                from .bertscore import bertscore

                bs = bertscore(list(caps), refs)
                bert_cache[name] = bs["F1"]
                bert_cache[(name, "per_caption")] = np.asarray(bs["per_caption_F1"], np.float64)
                bert_cache["encoder"] = bs["encoder"]
            if name in bert_cache:
                res["BERTScore"] = bert_cache[name]
        rows[name] = res
        for g in G.active():
            idx = G.index[g]
            gres = G.retrieval(g, c_emb, m_emb)
            gres.update({k: v for k, v in caption_metrics([caps[i] for i in idx], [refs[i] for i in idx]).items()
                         if isinstance(v, float)})
            if "BERTScore" in res:
                gres["BERTScore"] = G.mean(g, bert_cache[(name, "per_caption")]) if first else None
            G.put(name, g, gres)
    return rows


def _rep_completion(task, pairs, E, emb, methods, rng, st: EvalSettings, timer, notes, G: GroupRep) -> dict[str, dict]:
    u = E.unit_length
    d1 = _draw(pairs, rng, u)
    d2 = _draw(pairs, rng, u)
    n = len(pairs)
    real1 = emb.motions(d1.crops, d1.keys)
    real2 = emb.motions(d2.crops, d2.keys)
    G.set_reference(real2)
    div_times = min(st.diversity_times, n - 1)
    conds, spans = [], []
    for c in d1.crops:
        L = len(c)
        if task == "predict":
            a = _unit_round(st.predict_ratio * L, u, u, L - u)
            conds.append({"length": L, "prefix": c[:a]})
            spans.append((a, L))
        else:
            a = _unit_round(st.inbetween_ratio * L, u, u, max(u, (L - u) // 2))
            conds.append({"length": L, "prefix": c[:a], "suffix": c[L - a:]})
            spans.append((a, L - a))
    real_j = [_joints(c) for c in d1.crops]
    t_max = max(len(c) for c in d1.crops)
    jg = np.zeros((n, t_max) + real_j[0].shape[1:])
    for i, rj in enumerate(real_j):
        jg[i, :len(rj)] = rj
    lengths = np.array([len(r) for r in real_j])
    starts, ends = np.array([s[0] for s in spans]), np.array([s[1] for s in spans])

    def score(name, g_emb, motions):
        jp = np.zeros_like(jg)
        for i, (m, rj) in enumerate(zip(motions, real_j)):
            L = len(rj)
            jp[i, :L] = _joints(_fit(m, L))
        out = {"FID": fid(real2, g_emb), "Diversity": diversity(g_emb, rng, div_times),
               **ade_fde(jp, jg, lengths=lengths, start=starts, end=ends)}
        for g in G.active():
            idx = G.index[g]
            G.put(name, g, {"FID": G.fid(g, g_emb), "Diversity": G.diversity(g, g_emb),
                            **ade_fde(jp[idx], jg[idx], lengths=lengths[idx], start=starts[idx], end=ends[idx])})
        return out

    rows = {"Real": score("Real", real1, d1.crops)}
    for name, g in methods:
        outs, keys = _gen(g, timer, task, None, conds, rng)
        motions = _check_motions(outs, n, name, pairs.dim, u)
        g_emb = emb.motions(motions, keys)
        rows[name] = score(name, g_emb, motions)
    return rows


def _rep_tokenizer(pairs, E, emb, methods, rng, st: EvalSettings, timer, notes, G: GroupRep) -> dict[str, dict]:
    u = E.unit_length
    d1 = _draw(pairs, rng, u)
    d2 = _draw(pairs, rng, u)
    n = len(pairs)
    real1 = emb.motions(d1.crops, d1.keys)
    real2 = emb.motions(d2.crops, d2.keys)
    G.set_reference(real2)
    div_times = min(st.diversity_times, n - 1)
    hand_score = _hand_scorer(pairs.dim, d2.crops)

    def mpjpe_errs(motions):
        errs = []
        for m, c in zip(motions, d1.crops):
            L = min(len(m), len(c))
            errs.append(mpjpe(_joints(m[:L])[None], _joints(c[:L])[None], root_align=True))
        return errs

    def score(name, g_emb, errs, motions):
        out = {"FID": fid(real2, g_emb), "MPJPE": 1000.0 * float(np.mean(errs)) if errs is not None else 0.0,
               "Diversity": diversity(g_emb, rng, div_times)}
        if hand_score is not None:
            out["Hand-FID"] = hand_score(motions)
        for g in G.active():
            G.put(name, g, {"FID": G.fid(g, g_emb), "MPJPE": 1000.0 * G.mean(g, errs) if errs is not None else 0.0,
                            "Diversity": G.diversity(g, g_emb)})
        return out

    rows = {"Real": score("Real", real1, None, d1.crops)}
    conds = [{"motion": c} for c in d1.crops]
    for name, g in methods:
        outs, keys = _gen(g, timer, "tokenizer", None, conds, rng)
        motions = _check_motions(outs, n, name, pairs.dim, u)
        g_emb = emb.motions(motions, keys)
        rows[name] = score(name, g_emb, mpjpe_errs(motions), motions)
    return rows


# --------------------------------------------------------------------------- the runner
def _commit() -> tuple[str | None, bool | None]:
    try:
        from motiongpt2.runtime import git_commit

        return git_commit()
    except Exception:  # noqa: BLE001 - provenance only
        return None, None


def evaluate(task: str, data_root: str | Path | Sequence[str | Path], evaluator_ckpt: str | Path | Evaluator,
             generator: Any | None = None, split: str = "test", replications: int = 20, seed: int = 0,
             out_dir: str | Path | None = None, baselines: Sequence[str] = ("retrieval",),
             train_split: str = "train", settings: EvalSettings | None = None, generator_name: str | None = None,
             progress: bool = False, evaluator_kwargs: Mapping[str, Any] | None = None,
             num_threads: int | None = None) -> dict[str, Any]:
    """Run one benchmark task and return the results (see the module doc).

    Args:
        task: one of :data:`TASKS`.
        data_root: a prepared dataset root, or several (same feature kind; their splits are joined).
        evaluator_ckpt: an :class:`Evaluator`, a ``train-evaluator`` run/step folder, or an official
            ``finest.tar`` (pass ``evaluator_kwargs={"glove_dir": ..., "meta_dir": ...}``).
        generator: the model (:class:`Generator`); ``None`` evaluates the Real row and the baselines.
        split: ``"test"`` (default), another split name or a split file path.
        replications: 20 in the protocol.
        seed: base seed of all draws.
        out_dir: when given, ``<task>_<split>.md`` and ``.json`` are written there.
        baselines: ``("retrieval",)`` or ``()``.
        train_split: split the retrieval baseline draws from.
        settings: protocol constants.
        generator_name: row label (default ``generator.name`` or the class name).
        progress: print one line per replication.
        evaluator_kwargs: passed to :func:`~.evaluator.load_evaluator` (official checkpoint files).
        num_threads: torch CPU threads while evaluating (restored afterwards); ``None`` leaves the
            setting alone. One thread is often fastest on a shared machine.

    Returns:
        ``{"task", "split", "split_files", "datasets", "roots", "n_pairs", "evaluator", "seed",
        "replications", "commit", "columns", "rows": [{"method", "metrics": {k: [mean, ci95]}}],
        "caption_groups": {group: {"n_pairs", "n_clips", "rows": [same as rows; a metric is None where
        n/a], "not_available": [metric, ...]}}, "caption_group_notes": [...], ...}``.
    """
    import torch

    if num_threads is not None:
        before = torch.get_num_threads()
        torch.set_num_threads(int(num_threads))
        try:
            return evaluate(task, data_root, evaluator_ckpt, generator=generator, split=split,
                            replications=replications, seed=seed, out_dir=out_dir, baselines=baselines,
                            train_split=train_split, settings=settings, generator_name=generator_name,
                            progress=progress, evaluator_kwargs=evaluator_kwargs, num_threads=None)
        finally:
            torch.set_num_threads(before)
    from .baselines import RetrievalBaseline

    t_total = time.perf_counter()
    if task not in TASKS:
        raise MotionGPT2Error(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if replications < 1:
        raise MotionGPT2Error("replications must be >= 1")
    st = settings or EvalSettings()
    if st.withhold_poses and task not in ("t2m-init", "t2m-last", "t2m-key"):
        raise MotionGPT2Error(f"withholding poses (--text-only) applies to t2m-init, t2m-last and t2m-key, not {task!r}")
    roots = [Path(r).expanduser() for r in ([data_root] if isinstance(data_root, (str, Path)) else data_root)]
    E = evaluator_ckpt if isinstance(evaluator_ckpt, Evaluator) else load_evaluator(evaluator_ckpt,
                                                                                      **dict(evaluator_kwargs or {}))
    t_load = time.perf_counter()
    pairs = load_pairs(roots, split)
    _check_split(roots, str(split), pairs.split, pairs.split_files)
    if pairs.dim != E.cfg.dim_pose:
        raise DatasetError(roots[0], f"{pairs.dim}-d features but the evaluator expects {E.cfg.dim_pose}-d",
                           "use an evaluator trained on this kind of data")
    if len(pairs) < st.pool_size:
        raise DatasetError(pairs.split_files[0], f"only {len(pairs)} pairs; R-Precision needs {st.pool_size}",
                           "evaluate on a larger split")
    notes: list[str] = []
    if len(pairs) - 1 < st.diversity_times:
        notes.append(f"Diversity over {len(pairs) - 1} pairs (split smaller than {st.diversity_times})")
    g_index = group_indices(pairs)
    g_sizes = group_sizes(pairs, g_index)
    emb = _Embedder(E, st.batch_size)
    methods: list[tuple[str, Any]] = []
    if "retrieval" in baselines and task != "tokenizer":
        train = load_pairs(roots, train_split)
        methods.append((RetrievalBaseline.name, RetrievalBaseline(E, train, embed_motions=emb.motions,
                                                                   embed_texts=emb.texts)))
        if task == "m2t":
            notes.append("Retrieval: first caption of the training motion nearest in evaluator motion space")
        elif task.startswith("t2m"):
            notes.append("Retrieval: training motion whose caption is nearest in evaluator text space "
                         "(pose conditions ignored); it uses the evaluator itself, so its R-Precision is optimistic")
        else:
            notes.append("Retrieval: training motion nearest on the given frames (normalised root + joint "
                         "positions), its frames fill the rest")
    unknown = set(baselines) - {"retrieval"}
    if unknown:
        raise MotionGPT2Error(f"unknown baselines {sorted(unknown)}; available: retrieval")
    gen_label = None
    if generator is not None:
        if not hasattr(generator, "generate"):
            raise TypeError("generator must have a generate(task, texts, conditions, rng) method")
        gen_label = generator_name or getattr(generator, "name", None) or type(generator).__name__
        methods.append((str(gen_label), generator))
    load_s = time.perf_counter() - t_load
    timer = _Timer()
    bert_cache: dict[str, Any] = {}
    runs: list[dict[str, dict]] = []
    group_runs: list[dict[str, dict[str, dict]]] = []
    mm_counts: list[dict[str, int]] = []
    children = np.random.SeedSequence(seed).spawn(replications)
    for r, child in enumerate(children):
        rng = np.random.default_rng(child)
        # caption-group pools/pairs: a separate stream, so the totals do not depend on the groups
        G = GroupRep(g_index, len(pairs), np.random.default_rng(child.spawn(1)[0]), pool_size=st.pool_size,
                     diversity_times=st.diversity_times, mm_times=st.mm_times)
        t_rep = time.perf_counter()
        if task.startswith("t2m"):
            rows = _rep_t2m(task, pairs, E, emb, methods, rng, st, timer, notes, G)
        elif task == "m2t":
            rows = _rep_m2t(pairs, E, emb, methods, rng, st, timer, notes, r == 0, bert_cache, G)
        elif task in ("predict", "inbetween"):
            rows = _rep_completion(task, pairs, E, emb, methods, rng, st, timer, notes, G)
        else:
            rows = _rep_tokenizer(pairs, E, emb, methods, rng, st, timer, notes, G)
        runs.append(rows)
        group_runs.append(G.finish(rows))
        mm_counts += G.mm_counts
        if progress:
            real = rows["Real"]
            brief = ", ".join(f"{k} {v:.3f}" for k, v in real.items() if k in ("R@3", "FID", "MM-Dist"))
            print(f"[evaluate {task}] replication {r + 1}/{replications} ({time.perf_counter() - t_rep:.1f} s): Real {brief}",
                  flush=True)
    if task == "m2t" and bert_cache:
        notes.append(f"BERTScore: {bert_cache.get('encoder')}, computed on replication 1 only")
    out_rows = []
    for name in runs[0]:
        keys = list(runs[0][name])
        metrics = {}
        for k in keys:
            vals = [run[name][k] for run in runs if k in run[name]]
            if len(vals) == len(runs) and k != "BERTScore":
                m, ci = summarize(vals)
                metrics[k] = [m, ci]
            else:
                metrics[k] = [float(np.mean(vals)), None]
        out_rows.append({"method": name, "metrics": metrics})
    mm_mean = {g: float(np.mean([c[g] for c in mm_counts])) for g in g_index} if mm_counts else None
    if mm_mean is not None:
        mm_mean = {g: c for g, c in mm_mean.items() if 0 < g_sizes[g]["n_pairs"] < len(pairs)} or None
    caption_groups = summarize_groups(group_runs, g_sizes)
    caption_group_notes = group_notes(g_sizes, task, st.pool_size, st.diversity_times, E.cfg.dim_coemb_hidden,
                                      mm_mean)
    sha, dirty = _commit()
    total_s = time.perf_counter() - t_total
    results = {
        "task": task, "variant": "text-only" if st.withhold_poses else None, "split": pairs.split, "validation": pairs.split == "val", "is_test": pairs.split == "test",
        "split_files": pairs.split_files, "datasets": pairs.datasets, "roots": pairs.roots,
        "n_pairs": len(pairs), "n_clips": pairs.n_clips, "evaluator": E.describe(), "seed": seed,
        "replications": replications, "replication_seeds": f"numpy SeedSequence({seed}).spawn({replications})",
        "commit": sha, "dirty": dirty, "generator": gen_label, "columns": [list(c) for c in columns_of(task, pairs.dim)],
        "rows": out_rows, "settings": asdict(st), "notes": notes,
        "caption_groups": caption_groups, "caption_group_notes": caption_group_notes,
        "runtime_s": {"total": round(total_s, 2), "generation": round(timer.seconds, 2),
                      "excluding_generation": round(total_s - timer.seconds, 2),
                      "evaluator_embedding": round(emb.seconds, 2), "loading": round(load_s, 2)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if out_dir is not None:
        write_results(results, out_dir)
    return results


# --------------------------------------------------------------------------- output
def format_markdown(results: Mapping[str, Any], digits: int = 3) -> str:
    """The result table in the paper's layout (``Real`` first) with a provenance header."""
    split = results["split"]
    variant = " (text only: poses withheld, Recon/Vel against them)" if results.get("variant") == "text-only" else ""
    title = f"### {results['task']}{variant} on {' + '.join(results['datasets'])} — {split} split"
    if split == "val":
        title += " (VALIDATION, not test)"
    elif split != "test":
        title += " (not the test split)"
    ev = results["evaluator"]
    lines = [title, "",
             f"- split files: {', '.join(results['split_files'])} ({results['n_pairs']} pairs)",
             f"- evaluator: {ev.get('name')} ({ev.get('kind')}, "
             f"{ev.get('word_vectors') or 'sentence encoder ' + str(ev.get('sentence_encoder'))}"
             + (f", {ev['path']}" if ev.get("path") else "") + ")",
             f"- replications: {results['replications']} (seed {results['seed']}; mean ± 95% CI)"
             + _mm_note(results.get("settings") or {}),
             f"- commit: {results.get('commit') or 'unknown'}" + (" (dirty)" if results.get("dirty") else ""),
             f"- runtime: {results['runtime_s']['total']:.1f} s total, "
             f"{results['runtime_s']['excluding_generation']:.1f} s excluding generation"]
    for n in results.get("notes", []):
        lines.append(f"- note: {n}")
    rows = [(r["method"], {k: table_value(v) for k, v in r["metrics"].items()}) for r in results["rows"]]
    lines += ["", format_table(rows, [tuple(c) for c in results["columns"]], digits=digits)]
    groups = format_group_markdown(results, digits=digits)
    if groups:
        lines += ["", groups.rstrip("\n")]
    return "\n".join(lines) + "\n"


def _mm_note(settings: Mapping[str, Any]) -> str:
    """How MultiModality was sampled when it differs from the protocol (100 captions x 30 generations)."""
    n, reps = settings.get("mm_samples", 100), settings.get("mm_repeats", 30)
    if (n, reps) == (100, 30):
        return ""
    return "; MultiModality skipped" if n < 2 else f"; MultiModality from {n} captions x {reps} generations"


def format_json(results: Mapping[str, Any]) -> str:
    return json.dumps(results, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)) + "\n"


def write_results(results: Mapping[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<task>_<split>.md`` and ``.json`` into ``out_dir`` (``<task>-textonly_<split>`` for the
    text-only variant); returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    variant = "-textonly" if results.get("variant") == "text-only" else ""
    stem = f"{results['task']}{variant}_{results['split']}"
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    md.write_text(format_markdown(results))
    js.write_text(format_json(results))
    return md, js
