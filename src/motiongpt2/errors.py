"""User-facing errors: one clear line naming the file (and line) and what to do.

The CLI catches :class:`MotionGPT2Error` and prints ``str(err)`` without a traceback.
"""
from __future__ import annotations

from pathlib import Path


class MotionGPT2Error(Exception):
    """Base class for errors caused by user input (files, arguments), not by bugs."""


class InputFileError(MotionGPT2Error):
    """A file that cannot be used as given.

    ``str(err)`` reads ``"<path>:<line>: <problem> — <what to do>"`` (line omitted when unknown).
    """

    def __init__(self, path: str | Path, problem: str, hint: str = "", line: int | None = None):
        self.path = str(path)
        self.problem = problem
        self.hint = hint
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        msg = f"{where}: {problem}"
        if hint:
            msg += f" — {hint}"
        super().__init__(msg)


class MotionFormatError(InputFileError):
    """A motion file (BVH, ASF/AMC, .npy) that is malformed or inconsistent."""


class DatasetError(InputFileError):
    """A dataset directory or one of its files that does not follow the expected layout."""


class SkeletonMapError(InputFileError):
    """A source skeleton that cannot be mapped onto a target skeleton."""


class FeatureError(MotionGPT2Error, ValueError):
    """Motion features cannot be computed from the given joints (too few frames, NaN/inf or absurd values, a
    degenerate skeleton), or would not be finite.  Also a ``ValueError``, as the extractor raised before."""


def one_line(err: BaseException | str, limit: int = 160) -> str:
    """An exception's text on one line (whitespace runs → one space), at most ``limit`` characters."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
