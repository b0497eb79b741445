"""JSON bodies of the HTTP API (pydantic): every field is checked before any work starts.

Motions are never named by a path: a client names an earlier result (``{"result": ID}``), an upload
(``{"upload": ID}``, from ``POST /v1/uploads``) or one of the server's example clips
(``{"example": CLIP_ID}``); a pose may also be given inline as joints ``(J, 3)`` in metres or as one
feature row ``(D,)``.  Numbers must be finite (JSON ``NaN`` / ``Infinity`` are refused).
"""
from __future__ import annotations

import re
from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ID_PATTERN = r"^[0-9a-f]{16}$"
EXAMPLE_PATTERN = r"^[A-Za-z0-9_.\-]{1,128}$"
MAX_FRAMES = 100_000          # any length beyond the model's own maximum is refused by the model
MAX_SEED = 2**31 - 1

Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e4, le=1e4)]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MotionRef(_Body):
    """A motion known to the server: exactly one of ``result``, ``upload``, ``example``."""

    result: Optional[Annotated[str, Field(pattern=ID_PATTERN)]] = None
    upload: Optional[Annotated[str, Field(pattern=ID_PATTERN)]] = None
    example: Optional[Annotated[str, Field(pattern=EXAMPLE_PATTERN)]] = None

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("result", "upload", "example") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of result, upload, example")
        return self


class Pose(MotionRef):
    """A pose: frame ``frame`` of a known motion (negative counts from the end), or inline ``joints``
    ``(J, 3)`` metres / one ``features`` row ``(D,)``."""

    frame: Optional[Annotated[int, Field(ge=-MAX_FRAMES, le=MAX_FRAMES)]] = None
    joints: Optional[Annotated[list[Annotated[list[Finite], Field(min_length=3, max_length=3)]],
                               Field(min_length=1, max_length=200)]] = None
    features: Optional[Annotated[list[Finite], Field(min_length=1, max_length=2048)]] = None

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("result", "upload", "example", "joints", "features") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of result, upload, example, joints, features")
        if self.frame is not None and given[0] in ("joints", "features"):
            raise ValueError("frame applies to result / upload / example poses, not to inline joints or features")
        return self


class KeyPose(_Body):
    """Frame ``frame`` of the new motion takes ``pose``."""

    frame: Annotated[int, Field(ge=0, le=MAX_FRAMES)]
    pose: Pose


class Sampling(_Body):
    """How tokens are drawn (requests with equal sampling settings are batched together)."""

    greedy: bool = False
    temperature: Annotated[float, Field(gt=0.0, le=5.0, allow_inf_nan=False)] = 1.0
    top_k: Annotated[int, Field(ge=0, le=100_000)] = 0
    top_p: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 1.0

    def key(self) -> tuple:
        return (self.greedy, self.temperature, self.top_k, self.top_p)


def clean_text(value: str, max_chars: int) -> str:
    """One line of text: whitespace collapsed; refused when empty or over ``max_chars`` characters."""
    text = " ".join(str(value).split())
    if not text:
        raise ValueError("the text is empty: describe the motion, e.g. 'a person walks forward'")
    if len(text) > max_chars:
        raise ValueError(f"the text is {len(text)} characters long: at most {max_chars}")
    return text


class GenerateBody(_Body):
    """``POST /v1/generate``: text to motion, with at most one kind of pose control."""

    text: Text
    length: Optional[Annotated[int, Field(ge=1, le=MAX_FRAMES)]] = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    init_pose: Optional[Pose] = None
    last_pose: Optional[Pose] = None
    key_poses: Optional[Annotated[list[KeyPose], Field(min_length=1, max_length=64)]] = None
    sampling: Sampling = Field(default_factory=Sampling)

    @model_validator(mode="after")
    def _one_control(self):
        if sum(x is not None for x in (self.init_pose, self.last_pose, self.key_poses)) > 1:
            raise ValueError("give one kind of pose control: init_pose, last_pose or key_poses")
        return self


class CaptionBody(_Body):
    """``POST /v1/caption``: describe a known motion."""

    motion: MotionRef
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0


class CompleteBody(_Body):
    """``POST /v1/complete``: continue ``motion`` (no ``end``) or fill in between ``motion`` and ``end``;
    ``length`` frames in all."""

    motion: MotionRef
    end: Optional[MotionRef] = None
    length: Optional[Annotated[int, Field(ge=1, le=MAX_FRAMES)]] = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    sampling: Sampling = Field(default_factory=Sampling)


class ComposeBody(_Body):
    """``POST /v1/compose``: one continuous motion from several texts (one segment each)."""

    texts: Annotated[list[Text], Field(min_length=1, max_length=64)]
    lengths: Optional[Annotated[list[Annotated[int, Field(ge=1, le=MAX_FRAMES)]], Field(min_length=1,
                                                                                          max_length=64)]] = None
    blend_frames: Annotated[int, Field(ge=0, le=64)] = 8
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0

    @model_validator(mode="after")
    def _lengths_match(self):
        if self.lengths is not None and len(self.lengths) != len(self.texts):
            raise ValueError(f"{len(self.lengths)} lengths for {len(self.texts)} texts: give one per text or none")
        return self


class ResultInfo(BaseModel):
    """What a finished request returns (motions: the downloads; captions: ``caption``)."""

    id: Optional[str] = None
    task: str
    text: str = ""
    caption: Optional[str] = None
    frames: int = 0
    fps: float = 0.0
    seconds: float = 0.0
    seed: int = 0
    problems: list[str] = []
    files: dict[str, str] = {}
    batch_size: int = 1
    queue_ms: float = 0.0
    compute_ms: float = 0.0
    created: float = 0.0


_FIELD = re.compile(r"^body\.?")


def error_line(errors: list[dict]) -> str:
    """One line of pydantic validation errors: ``field.path: message; ...`` (at most three)."""
    parts = []
    if any(e.get("type") == "json_invalid" for e in errors):
        return 'body: not valid JSON — send a JSON object, e.g. {"text": "a person walks forward"}'
    for e in errors[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{_FIELD.sub('', where) or 'body'}: {msg}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more
