"""Rendering of joint-position motions (stick figures) to mp4 / gif / png."""
from .stick import (
    BACKGROUND,
    LEFT_COLORS,
    RIGHT_COLORS,
    SPINE_COLOR,
    chain_styles,
    render_frame,
    render_motion,
    render_strip,
)

__all__ = [
    "render_motion",
    "render_frame",
    "render_strip",
    "chain_styles",
    "LEFT_COLORS",
    "RIGHT_COLORS",
    "SPINE_COLOR",
    "BACKGROUND",
]
