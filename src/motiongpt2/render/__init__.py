"""Rendering of joint-position motions (stick figures) to mp4 / gif / png."""
from . import stick
from .stick import *  # noqa: F401,F403 (the public names are stick.__all__)

__all__ = list(stick.__all__)
