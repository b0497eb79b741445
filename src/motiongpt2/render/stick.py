"""Stick-figure renderer: joint positions -> mp4 / gif / png.

The figure is drawn with matplotlib's 3-D axes on the headless ``Agg`` canvas. One figure is built
per call; per frame only the data of the existing artists is replaced (``Line3D.set_data_3d`` and
``Line3DCollection.set_segments``) and the canvas is redrawn into a numpy buffer.

Coordinates (HumanML3D convention): Y is up, the person faces +Z, their left is +X. Matplotlib's
3-D axes are Z-up, so a world point ``(X, Y, Z)`` is drawn at ``(X, -Z, Y)`` — a proper rotation,
so the picture is not mirrored: seen from the front, the person's left side is on the viewer's
right.

By default the view *follows* the person: every frame is drawn relative to the root's current
horizontal position, so the skeleton stays in the middle while the floor grid and the drawn root
trajectory scroll underneath it. The axis limits are computed once from all frames, so the picture
never jumps. ``follow=False`` draws world coordinates instead (limits cover the whole clip).

Colours: left-side chains in blues, right-side chains in reds, the spine in grey, finger chains
thinner (side colour, lighter).
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..motion.skeleton import HUMANML3D, KIT, WHOLEBODY, Skeleton

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

# --------------------------------------------------------------------------- style
BACKGROUND = "#ffffff"
#: Left-side chain colours, darkest first (legs, arms, further chains).
LEFT_COLORS = ("#1f4fa3", "#2f80ed", "#5aa0f5")
#: Right-side chain colours, darkest first (legs, arms, further chains).
RIGHT_COLORS = ("#b3141f", "#e8413a", "#f06a62")
LEFT_FINGER_COLOR = "#6aa9ff"
RIGHT_FINGER_COLOR = "#ff7b73"
SPINE_COLOR = "#555555"
GRID_COLOR = "#b9b9b9"
FLOOR_COLOR = "#f1f1f1"
TRAJ_COLOR = "#e08a00"

_FINGER_WORDS = ("index", "middle", "pinky", "ring", "thumb", "finger")
_SKELETONS_BY_J = {s.n_joints: s for s in (HUMANML3D, KIT, WHOLEBODY)}


@dataclass(frozen=True)
class ChainStyle:
    """How one kinematic chain is drawn."""

    joints: tuple[int, ...]
    color: str
    width: float  # line width in points at a 480-px panel (scaled with the panel size)
    side: int  # +1 left, -1 right, 0 mid-line
    finger: bool


def _joint_sides(skel: Skeleton) -> np.ndarray:
    """``(J,)`` side of each joint: +1 left, -1 right, 0 mid-line (from names and the mirror table)."""
    sides = np.zeros(skel.n_joints, dtype=np.int64)
    for j, name in enumerate(skel.joint_names):
        if skel.mirror and skel.mirror[j] == j:
            continue
        low = name.lower()
        if low.startswith(("l_", "left_", "left")) or (len(name) > 1 and name[0] == "L" and name[1].isupper()):
            sides[j] = 1
        elif low.startswith(("r_", "right_", "right")) or (len(name) > 1 and name[0] == "R" and name[1].isupper()):
            sides[j] = -1
    return sides


def _rest_positions(skel: Skeleton) -> np.ndarray:
    offs = skel.offsets()
    pos = np.zeros_like(offs)
    for j, p in enumerate(skel.parents):
        if p >= 0:
            pos[j] = pos[p] + offs[j]
    return pos


def chain_styles(skel: Skeleton) -> list[ChainStyle]:
    """Colour and width of every chain of ``skel`` (mid-line chains first, fingers last)."""
    sides = _joint_sides(skel)
    rest_y = _rest_positions(skel)[:, 1]
    lengths = np.asarray(skel.bone_lengths, dtype=np.float64)
    body_len = max(float(lengths[list(c[1:])].sum()) for c in skel.chains) or 1.0
    info = []
    for chain in skel.chains:
        tail = list(chain[1:]) or list(chain)
        s = int(np.sign(sides[tail].sum()))
        names = [skel.joint_names[j].lower() for j in tail]
        finger = all(any(w in n for w in _FINGER_WORDS) for n in names) or \
            float(lengths[tail].sum()) < 0.25 * body_len
        info.append((tuple(chain), s, finger, float(rest_y[tail].mean())))
    styles: list[ChainStyle] = []
    for side, palette, fcol in ((0, None, None), (1, LEFT_COLORS, LEFT_FINGER_COLOR),
                                (-1, RIGHT_COLORS, RIGHT_FINGER_COLOR)):
        body = sorted([c for c in info if c[1] == side and not c[2]], key=lambda c: c[3])
        for k, (chain, _, _, _) in enumerate(body):
            color = SPINE_COLOR if palette is None else palette[min(k, len(palette) - 1)]
            styles.append(ChainStyle(chain, color, 3.2 if side == 0 else 3.0, side, False))
    for chain, side, finger, _ in info:
        if finger:
            color = SPINE_COLOR if side == 0 else (LEFT_FINGER_COLOR if side > 0 else RIGHT_FINGER_COLOR)
            styles.append(ChainStyle(chain, color, 1.1, side, True))
    return styles


# --------------------------------------------------------------------------- inputs
def _infer_skeleton(n_joints: int) -> Skeleton:
    try:
        return _SKELETONS_BY_J[n_joints]
    except KeyError:
        raise ValueError(f"cannot infer the skeleton from J={n_joints} joints; pass skeleton= "
                         f"(known: HumanML3D 22, KIT 21, whole-body 52)") from None


def _as_motions(joints) -> list[np.ndarray]:
    """One ``(T, J, 3)`` array, or a list/tuple of them, -> list of float arrays."""
    if isinstance(joints, np.ndarray) and joints.ndim == 3:
        motions = [joints]
    elif isinstance(joints, (list, tuple)) and len(joints) and all(
            np.asarray(m).ndim == 3 for m in joints):
        motions = list(joints)
    else:
        arr = np.asarray(joints)
        if arr.ndim == 3:
            motions = [arr]
        else:
            raise ValueError(f"joints must be (T, J, 3) or a list of such arrays, got shape {arr.shape}")
    out = []
    for m in motions:
        a = np.asarray(m, dtype=np.float64)
        if a.ndim != 3 or a.shape[-1] != 3 or a.shape[0] < 1:
            raise ValueError(f"each motion must be (T, J, 3) with T >= 1, got {a.shape}")
        out.append(a)
    return out


def _skeletons_for(motions: list[np.ndarray], skeleton) -> list[Skeleton]:
    if skeleton is None:
        return [_infer_skeleton(m.shape[1]) for m in motions]
    skels = list(skeleton) if isinstance(skeleton, (list, tuple)) else [skeleton] * len(motions)
    if len(skels) != len(motions):
        raise ValueError(f"{len(skels)} skeletons for {len(motions)} motions")
    for m, s in zip(motions, skels):
        if m.shape[1] != s.n_joints:
            raise ValueError(f"motion has {m.shape[1]} joints but skeleton {s.name!r} has {s.n_joints}")
    return skels


def _nice_step(span: float, target: int = 8) -> float:
    raw = max(span, 1e-6) / target
    mag = 10.0 ** math.floor(math.log10(raw))
    for f in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= f * mag:
            return f * mag
    return 10.0 * mag


def _facing_azim(m: np.ndarray, skel: Skeleton) -> float:
    """Matplotlib azimuth (deg) of a camera in front of the person at frame 0."""
    r_hip, l_hip, r_sh, l_sh = skel.face_joints
    f0 = m[0]
    across = (f0[r_hip] - f0[l_hip]) + (f0[r_sh] - f0[l_sh])
    fwd = np.cross([0.0, 1.0, 0.0], across)
    fx, fz = float(fwd[0]), float(fwd[2])
    if not np.isfinite([fx, fz]).all() or math.hypot(fx, fz) < 1e-8:
        fx, fz = 0.0, 1.0
    # world direction (fx, fz) is drawn at matplotlib (x, y) = (fx, -fz)
    return math.degrees(math.atan2(-fz, fx))


class _Panel:
    """Geometry of one motion: display coordinates, limits, grid and trajectory per frame."""

    def __init__(self, m: np.ndarray, skel: Skeleton, follow: bool, margin: float = 1.12):
        scale = 1e-3 if skel.unit == "mm" else 1.0
        m = m * scale
        self.skel = skel
        self.T = m.shape[0]
        finite = np.isfinite(m)
        if not finite.any():
            raise ValueError("motion has no finite joint positions")
        self.floor = float(np.nanmin(m[..., 1]))
        root = m[:, 0, [0, 2]].copy()  # (T, 2) world XZ
        root = np.where(np.isfinite(root), root, np.nan)
        self.root = root
        self.offset = np.nan_to_num(root) if follow else np.zeros_like(root)
        disp = m.copy()
        disp[..., 0] -= self.offset[:, None, 0]
        disp[..., 2] -= self.offset[:, None, 1]
        self.disp = disp  # (T, J, 3) world axes, root-relative in XZ when following
        lo = np.nanmin(disp.reshape(-1, 3), axis=0)
        hi = np.nanmax(disp.reshape(-1, 3), axis=0)
        if not follow:  # keep the whole trajectory in view
            lo[[0, 2]] = np.minimum(lo[[0, 2]], np.nanmin(root, axis=0))
            hi[[0, 2]] = np.maximum(hi[[0, 2]], np.nanmax(root, axis=0))
        height = max(hi[1] - self.floor, 0.5)
        min_half = max(0.35 * height, 0.4)
        self.hx = max(0.5 * (hi[0] - lo[0]) * margin, min_half)
        self.hz = max(0.5 * (hi[2] - lo[2]) * margin, min_half)
        self.cx, self.cz = 0.5 * (lo[0] + hi[0]), 0.5 * (lo[2] + hi[2])
        self.ylo = self.floor - 0.02 * height
        self.yhi = self.floor + height * margin
        self.step = _nice_step(2 * max(self.hx, self.hz))
        self.azim = _facing_azim(m, skel)

    # matplotlib coordinates: (x, y, z) = (X, -Z, Y)
    def xlim(self):
        return (self.cx - self.hx, self.cx + self.hx)

    def ylim(self):
        return (-(self.cz + self.hz), -(self.cz - self.hz))

    def zlim(self):
        return (self.ylo, self.yhi)

    def box_aspect(self):
        return (2 * self.hx, 2 * self.hz, self.yhi - self.ylo)

    def fit_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points (matplotlib coords) that must be visible: the floor square and sampled poses."""
        x0, x1 = self.xlim()
        y0, y1 = self.ylim()
        f = self.floor
        fx = np.array([x0, x1, x1, x0])
        fy = np.array([y0, y0, y1, y1])
        step = max(1, self.T // 64)
        p = self.disp[::step].reshape(-1, 3)
        p = p[np.isfinite(p).all(1)]
        return (np.concatenate([fx, p[:, 0]]), np.concatenate([fy, -p[:, 2]]),
                np.concatenate([np.full(4, f), p[:, 1]]))

    def grid_segments(self, t: int) -> np.ndarray:
        """``(K, 2, 3)`` floor grid lines (matplotlib coords) at frame ``t``, world-fixed positions."""
        ox, oz = self.offset[min(t, self.T - 1)]
        x0, x1 = self.cx - self.hx, self.cx + self.hx
        z0, z1 = self.cz - self.hz, self.cz + self.hz
        s = self.step
        xs = np.arange(math.ceil((x0 + ox) / s), math.floor((x1 + ox) / s) + 1) * s - ox
        zs = np.arange(math.ceil((z0 + oz) / s), math.floor((z1 + oz) / s) + 1) * s - oz
        y = self.floor
        seg_x = np.stack([np.stack([xs, np.full_like(xs, -z0), np.full_like(xs, y)], -1),
                          np.stack([xs, np.full_like(xs, -z1), np.full_like(xs, y)], -1)], 1)
        seg_z = np.stack([np.stack([np.full_like(zs, x0), -zs, np.full_like(zs, y)], -1),
                          np.stack([np.full_like(zs, x1), -zs, np.full_like(zs, y)], -1)], 1)
        return np.concatenate([seg_x, seg_z], 0)

    def trajectory(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Root XZ path up to frame ``t`` on the floor, clipped to the box (matplotlib coords)."""
        t = min(t, self.T - 1)
        p = self.root[: t + 1] - self.offset[t]
        outside = (np.abs(p[:, 0] - self.cx) > self.hx) | (np.abs(p[:, 1] - self.cz) > self.hz)
        p = np.where(outside[:, None], np.nan, p)
        return p[:, 0], -p[:, 1], np.full(len(p), self.floor)


# --------------------------------------------------------------------------- scene
class _Scene:
    """A figure with one 3-D panel per motion whose artists are updated in place per frame."""

    def __init__(self, motions, skeletons, *, size=(480, 480), title=None, captions=None,
                 follow=True, elev=20.0, azim=None, dpi=100, show_trajectory=True, show_floor=True,
                 zoom=None):
        # Figure + FigureCanvasAgg directly: headless, no pyplot state, independent of the backend.
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection

        self.panels = [_Panel(m, s, follow) for m, s in zip(motions, skeletons)]
        self.T = max(p.T for p in self.panels)
        n = len(self.panels)
        pw, ph = int(size[0]), int(size[1])
        scale = min(pw, ph) / 480.0
        fontsize = max(7.0, 11.0 * scale)
        line_px = fontsize * 1.45 * dpi / 72.0

        if captions is None:
            captions = [None] * n
        elif isinstance(captions, str):
            captions = [captions] + [None] * (n - 1)
        captions = list(captions)
        if len(captions) != n:
            raise ValueError(f"{len(captions)} captions for {n} motions")
        chars = max(12, int(pw / (fontsize * 0.62 * dpi / 72.0)))
        cap_lines = [textwrap.wrap(c, chars) if c else [] for c in captions]
        title_lines = textwrap.wrap(title, max(12, int(n * pw / (fontsize * 1.1 * 0.62 * dpi / 72.0)))) \
            if title else []
        n_cap = max((len(c) for c in cap_lines), default=0)
        head_px = int(math.ceil((len(title_lines) * 1.1 + n_cap) * line_px + (8 if (title_lines or n_cap) else 0)))
        W = n * pw
        H = ph + head_px
        W += W % 2
        H += H % 2
        self.size = (W, H)

        fig = Figure(figsize=(W / dpi, H / dpi), dpi=dpi, facecolor=BACKGROUND)
        FigureCanvasAgg(fig)
        self.fig = fig
        if title_lines:
            fig.text(0.5, 1.0 - 4.0 / H, "\n".join(title_lines), ha="center", va="top",
                     fontsize=fontsize * 1.1, fontweight="bold", color="#222222")
        self.lines: list[list] = []
        self.axes, self.rects, self.zoom = [], [], {}
        self.grids = []
        self.trajs = []
        for i, panel in enumerate(self.panels):
            rect = (i * pw / W, 0.0, pw / W, ph / H)
            ax = fig.add_axes(rect, projection="3d", computed_zorder=False)
            ax.set_facecolor(BACKGROUND)
            ax.set_axis_off()
            ax.set_xlim(*panel.xlim())
            ax.set_ylim(*panel.ylim())
            ax.set_zlim(*panel.zlim())
            ax.patch.set_alpha(0.0)
            ax.set_box_aspect(panel.box_aspect(), zoom=1.0 if zoom is None else zoom)
            self.zoom[id(ax)] = 1.0 if zoom is None else zoom
            self.axes.append(ax)
            self.rects.append(rect)
            ax.view_init(elev=elev, azim=panel.azim if azim is None else azim)
            x0, x1 = panel.xlim()
            y0, y1 = panel.ylim()
            f = panel.floor
            if show_floor:
                floor = Poly3DCollection([[(x0, y0, f), (x1, y0, f), (x1, y1, f), (x0, y1, f)]],
                                         facecolors=FLOOR_COLOR, edgecolors="none", zorder=0)
                ax.add_collection3d(floor)
            grid = Line3DCollection(panel.grid_segments(0), colors=GRID_COLOR, linewidths=0.8 * scale,
                                    zorder=1)
            ax.add_collection3d(grid)
            self.grids.append(grid)
            if show_trajectory:
                (traj,) = ax.plot(*panel.trajectory(0), color=TRAJ_COLOR, lw=1.8 * scale, zorder=2,
                                  solid_capstyle="round")
            else:
                traj = None
            self.trajs.append(traj)
            arts = []
            for k, st in enumerate(chain_styles(panel.skel)):
                (ln,) = ax.plot([], [], [], color=st.color, lw=st.width * scale, zorder=3 + k,
                                solid_capstyle="round", solid_joinstyle="round")
                arts.append((ln, np.asarray(st.joints)))
            self.lines.append(arts)
            if cap_lines[i]:
                fig.text((i + 0.5) * pw / W, 1.0 - (4.0 + len(title_lines) * 1.1 * line_px) / H,
                         "\n".join(cap_lines[i]), ha="center", va="top", fontsize=fontsize,
                         color="#333333")
        if zoom is None:
            self._fit()

    def _fit(self, fill: float = 0.9, iters: int = 2) -> None:
        """Zoom and shift every 3-D axes so its content (floor + all poses) fills its panel.

        Matplotlib fits the whole limits box into the axes, which leaves a lot of empty space
        (and puts the figure off-centre); here the projected content is measured after a draw and
        the axes is zoomed about its centre and moved so the content is centred in its panel.
        """
        from mpl_toolkits.mplot3d import proj3d

        W, H = self.size
        for _ in range(iters):
            self.fig.canvas.draw()
            for ax, panel, rect in zip(self.axes, self.panels, self.rects):
                x, y, z = panel.fit_points()
                px, py, _ = proj3d.proj_transform(x, y, z, ax.M)
                uv = ax.transData.transform(np.column_stack([px, py]))
                uv = uv[np.isfinite(uv).all(1)]
                if not len(uv):
                    continue
                (u0, v0), (u1, v1) = uv.min(0), uv.max(0)
                pos = ax.get_position()
                ax_cx, ax_cy = (pos.x0 + 0.5 * pos.width) * W, (pos.y0 + 0.5 * pos.height) * H
                rx, ry, rw, rh = rect[0] * W, rect[1] * H, rect[2] * W, rect[3] * H
                s = fill * min(rw / max(u1 - u0, 1e-6), rh / max(v1 - v0, 1e-6))
                s = float(np.clip(s, 0.2, 5.0))
                new_cx = ax_cx + s * (0.5 * (u0 + u1) - ax_cx)
                new_cy = ax_cy + s * (0.5 * (v0 + v1) - ax_cy)
                dx, dy = rx + 0.5 * rw - new_cx, ry + 0.5 * rh - new_cy
                ax.set_box_aspect(panel.box_aspect(), zoom=self.zoom[id(ax)] * s)
                self.zoom[id(ax)] *= s
                ax.set_position((pos.x0 + dx / W, pos.y0 + dy / H, pos.width, pos.height))

    def update(self, t: int) -> None:
        for panel, arts, grid, traj in zip(self.panels, self.lines, self.grids, self.trajs):
            tt = min(t, panel.T - 1)
            pose = panel.disp[tt]
            for ln, idx in arts:
                p = pose[idx]
                ln.set_data_3d(p[:, 0], -p[:, 2], p[:, 1])
            grid.set_segments(panel.grid_segments(tt))
            if traj is not None:
                traj.set_data_3d(*panel.trajectory(tt))

    def frame(self, t: int) -> np.ndarray:
        """Draw frame ``t`` and return it as ``(H, W, 3)`` uint8 (even width and height)."""
        self.update(t)
        self.fig.canvas.draw()
        buf = np.asarray(self.fig.canvas.buffer_rgba())
        W, H = self.size
        img = buf[:H, :W, :3]
        if img.shape[0] != H or img.shape[1] != W:  # rounding of the figure size in inches
            pad = np.full((H, W, 3), 255, np.uint8)
            pad[: img.shape[0], : img.shape[1]] = img
            img = pad
        return np.ascontiguousarray(img)

    def close(self) -> None:
        self.fig.clear()
        self.fig = None


def _scene(joints, skeleton, **kw) -> _Scene:
    motions = _as_motions(joints)
    return _Scene(motions, _skeletons_for(motions, skeleton), **kw)


def _size(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    w, h = size
    return int(w), int(h)


# --------------------------------------------------------------------------- public API
def render_frame(joints, t: int = 0, skeleton=None, *, size=(480, 480), title=None, captions=None,
                 follow: bool = True, elev: float = 20.0, azim: float | None = None,
                 show_trajectory: bool = True) -> np.ndarray:
    """Render frame ``t`` of one motion (or of several side by side) as an ``(H, W, 3)`` uint8 image.

    Args:
        joints: ``(T, J, 3)`` joint positions (metres, Y-up; millimetres when ``skeleton.unit`` is
            ``"mm"``), or a list of such arrays drawn side by side.
        t: frame index (motions shorter than ``t`` show their last frame).
        skeleton: a :class:`~motiongpt2.motion.skeleton.Skeleton` (or one per motion); inferred
            from ``J`` (22 HumanML3D, 21 KIT, 52 whole-body) when ``None``.
        size: ``(width, height)`` in pixels of one panel (an int means square).
        title / captions: figure title and one caption per motion (text above the panels).
        follow: keep the person centred and scroll the floor (``False``: world coordinates).
        elev / azim: camera elevation and matplotlib azimuth in degrees; ``azim=None`` looks at
            the person's front at frame 0.
    """
    sc = _scene(joints, skeleton, size=_size(size), title=title, captions=captions, follow=follow,
                elev=elev, azim=azim, show_trajectory=show_trajectory)
    try:
        if not -sc.T <= t < sc.T:
            raise IndexError(f"frame {t} out of range for {sc.T} frames")
        return sc.frame(t % sc.T)
    finally:
        sc.close()


def _write_mp4(path: Path, frames, size, fps: float, quality: float) -> None:
    import imageio_ffmpeg

    w = imageio_ffmpeg.write_frames(str(path), size, fps=float(fps), codec="libx264",
                                    pix_fmt_in="rgb24", pix_fmt_out="yuv420p", quality=quality,
                                    macro_block_size=1, ffmpeg_log_level="error",
                                    output_params=["-preset", "veryfast", "-movflags", "+faststart"])
    w.send(None)
    try:
        for fr in frames:
            w.send(fr)
    finally:
        w.close()


def _write_gif(path: Path, frames, size, fps: float) -> None:
    """GIF through ffmpeg with a per-clip palette; one GIF frame per input frame (duplicates kept).

    GIF delays are whole centiseconds, so the rate is exact when ``100 / fps`` is an integer
    (20 fps -> 5 cs, 12.5 fps -> 8 cs); other rates are approximated by ffmpeg.
    """
    import imageio_ffmpeg

    w = imageio_ffmpeg.write_frames(
        str(path), size, fps=float(fps), codec="gif", pix_fmt_in="rgb24", pix_fmt_out="pal8",
        quality=None, macro_block_size=1, ffmpeg_log_level="error",
        output_params=["-vf", "split[a][b];[a]palettegen=stats_mode=full:reserve_transparent=0[p];"
                              "[b][p]paletteuse=dither=none:diff_mode=rectangle",
                       "-loop", "0"])
    w.send(None)
    try:
        for fr in frames:
            w.send(fr)
    finally:
        w.close()


def render_motion(joints, out_path, skeleton=None, fps: float | None = None, title: str | None = None,
                  captions=None, *, size=(480, 480), follow: bool = True, elev: float = 20.0,
                  azim: float | None = None, show_trajectory: bool = True, quality: float = 7.0,
                  progress: bool | None = None) -> Path:
    """Render one motion (or several side by side) to ``out_path`` (``.mp4`` H.264 or ``.gif``).

    Args:
        joints: ``(T, J, 3)`` positions (metres, Y-up; millimetres when ``skeleton.unit == "mm"``)
            or a list of such arrays, one panel each (shorter motions hold their last frame).
        out_path: ``.mp4`` (H.264, yuv420p) or ``.gif``.
        skeleton: skeleton (or one per motion); inferred from ``J`` when ``None``.
        fps: frame rate of the motion; ``None`` uses the (first) skeleton's native rate
            (20 for HumanML3D / whole-body, 12.5 for KIT). The file plays at exactly this rate
            with one video frame per motion frame.
        title: text above all panels; captions: one text per motion above its panel.
        size: ``(width, height)`` of one panel in pixels (the frame adds the text rows).
        progress: show a tqdm bar (default: when there are more than 100 frames).

    Returns:
        The written path.
    """
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"unsupported output {out_path.name!r}: use .mp4 or .gif")
    motions = _as_motions(joints)
    skels = _skeletons_for(motions, skeleton)
    fps = float(skels[0].fps if fps is None else fps)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    sc = _Scene(motions, skels, size=_size(size), title=title, captions=captions, follow=follow,
                elev=elev, azim=azim, show_trajectory=show_trajectory)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        T = sc.T
        show = (T > 100) if progress is None else progress
        from tqdm.auto import tqdm

        frames = (sc.frame(t) for t in tqdm(range(T), desc=f"render {out_path.name}", unit="frame",
                                            disable=not show, leave=False))
        if suffix == ".mp4":
            _write_mp4(out_path, frames, sc.size, fps, quality)
        else:
            _write_gif(out_path, frames, sc.size, fps)
    finally:
        sc.close()
    return out_path


def render_strip(joints, out_png, n: int = 8, skeleton=None, *, size=(240, 300), title=None,
                 captions=None, follow: bool = False, elev: float = 20.0, azim: float | None = None,
                 show_trajectory: bool = True) -> Path:
    """Save ``n`` evenly spaced key frames (first and last included) as one PNG row.

    Several motions give one row each (stacked vertically). ``follow=False`` by default so the
    strip shows the person travelling across the fixed floor.
    """
    import imageio.v3 as iio

    motions = _as_motions(joints)
    skels = _skeletons_for(motions, skeleton)
    if captions is None:
        captions = [None] * len(motions)
    elif isinstance(captions, str):
        captions = [captions] + [None] * (len(motions) - 1)
    rows = []
    for i, (m, s) in enumerate(zip(motions, skels)):
        T = m.shape[0]
        idx = np.unique(np.linspace(0, T - 1, max(1, int(n))).round().astype(int))
        sc = _Scene([m], [s], size=_size(size), follow=follow, elev=elev, azim=azim,
                    show_trajectory=show_trajectory)
        try:
            row = np.concatenate([sc.frame(int(t)) for t in idx], axis=1)
        finally:
            sc.close()
        label = captions[i] if i < len(captions) else None
        if label or (title and i == 0):
            row = np.concatenate([_text_band(row.shape[1], title if i == 0 else None, label), row], 0)
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out_png, np.concatenate(rows, axis=0))
    return out_png


def _text_band(width: int, title: str | None, caption: str | None, dpi: int = 100) -> np.ndarray:
    """A white band with a bold title line and/or a caption line, ``width`` pixels wide."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    lines = [(title, True)] if title else []
    if caption:
        lines += [(ln, False) for ln in textwrap.wrap(caption, max(20, width // 7))]
    h = 8 + 20 * len(lines)
    h += h % 2
    fig = Figure(figsize=(width / dpi, h / dpi), dpi=dpi, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    for k, (txt, bold) in enumerate(lines):
        fig.text(0.5, 1.0 - (4 + 20 * k) / h, txt, ha="center", va="top", fontsize=11,
                 fontweight="bold" if bold else "normal", color="#222222")
    fig.canvas.draw()
    buf = np.asarray(fig.canvas.buffer_rgba())[:, :, :3]
    out = np.full((h, width, 3), 255, np.uint8)
    out[: min(h, buf.shape[0]), : min(width, buf.shape[1])] = buf[:h, :width]
    return out
