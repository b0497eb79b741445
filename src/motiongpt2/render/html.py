"""Interactive viewer: one self-contained HTML file per result (three.js inlined, no network).

:func:`write_html_viewer` writes a page that shows one or several motions side by side as 3-D stick
figures (bones as flat-coloured tubes in the colours of the stick video: left chains blue, right
chains red, spine grey, fingers lighter and thinner), on a ground grid with each root trajectory,
with play/pause (button or space bar), a time slider, a speed selector, an orbit camera (drag to
rotate, wheel to zoom, right-drag to pan) and captions (a legend plus a label above each figure).

three.js r160 (``build/three.min.js``) and its OrbitControls come from the npm package and are
inlined from :mod:`motiongpt2.render.vendor`; motion data are float32 arrays inlined as base64.
The page works offline from ``file://``.

URL parameters (fragment or query, e.g. ``viewer.html#t=1.5``): ``t=<seconds>`` shows that time
and pauses (used by the tests for reproducible screenshots), ``speed=<factor>``, ``play=0|1``.
Without WebGL the page says so in place of the figure.
"""
from __future__ import annotations

import base64
import html as _html
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..motion.skeleton import Skeleton
from .export_bvh import joints_from_input
from .stick import BACKGROUND, GRID_COLOR, TRAJ_COLOR, chain_styles

__all__ = ["html_viewer", "viewer_payload", "write_html_viewer"]

THREE_VERSION = "0.160.0"


@cache
def _vendor(name: str) -> str:
    return resources.files("motiongpt2.render").joinpath("vendor", name).read_text(encoding="utf-8")


def _script_safe(code: str) -> str:
    """Make text safe inside ``<script>``: no ``</script`` or ``<!--`` can close/alter the element."""
    return code.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def viewer_payload(motions: Sequence[np.ndarray], fps: float, captions=None, skeleton=None,
                   title: str | None = None) -> dict:
    """The JSON document the page reads: motions (base64 float32), bones with colours, captions."""
    if isinstance(motions, np.ndarray) and motions.ndim in (2, 3):
        motions = [motions]
    if not len(motions):
        raise ValueError("no motion to show")
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if captions is not None:
        captions = [captions] if isinstance(captions, str) else list(captions)
        if len(captions) != len(motions):
            raise ValueError(f"{len(captions)} captions for {len(motions)} motions")
    skels = list(skeleton) if isinstance(skeleton, (list, tuple)) else [skeleton] * len(motions)
    items = []
    for i, m in enumerate(motions):
        pos, skel, _ = joints_from_input(m, skels[i])
        scale = 1e-3 if skel.unit == "mm" else 1.0                     # viewer works in metres
        pos = (pos * scale).astype("<f4")
        bones = []
        for st in chain_styles(skel):
            for a, b in zip(st.joints[:-1], st.joints[1:]):
                bones.append([int(a), int(b), st.color, float(st.width)])
        items.append({
            "name": skel.name, "frames": int(pos.shape[0]), "joints": int(pos.shape[1]),
            "caption": (captions[i] if captions else None) or "",
            "bones": bones, "data": base64.b64encode(pos.tobytes()).decode("ascii"),
        })
    return {"fps": float(fps), "title": title or "", "motions": items,
            "style": {"background": BACKGROUND, "grid": GRID_COLOR, "trajectory": TRAJ_COLOR}}


_CSS = """
html,body{margin:0;height:100%;overflow:hidden;background:__BG__;font:14px/1.35 system-ui,sans-serif;color:#222}
#view{position:absolute;left:0;top:0;right:0;bottom:52px}
#view canvas{display:block}
#bar{position:absolute;left:0;right:0;bottom:0;height:52px;display:flex;align-items:center;gap:10px;
 padding:0 12px;background:#f4f4f4;border-top:1px solid #ddd;box-sizing:border-box}
#bar button{width:64px;height:32px;font-size:14px}
#time{flex:1;min-width:80px}
#clock{font-variant-numeric:tabular-nums;min-width:110px;text-align:right}
#legend{position:absolute;left:10px;top:8px;max-width:60%;pointer-events:none}
#legend h1{font-size:16px;margin:0 0 4px}
#legend div{margin:2px 0}
#legend b{display:inline-block;min-width:1.6em}
.label{position:absolute;transform:translate(-50%,-100%);background:rgba(255,255,255,.85);
 border:1px solid #ccc;border-radius:4px;padding:1px 6px;font-size:12px;white-space:nowrap;
 max-width:260px;overflow:hidden;text-overflow:ellipsis;pointer-events:none}
#nogl{position:absolute;left:0;right:0;top:40%;text-align:center;color:#a00;display:none}
"""

_APP = r"""
(function () {
'use strict';
var D = JSON.parse(document.getElementById('mg2-data').textContent);
var view = document.getElementById('view');
var fps = D.fps, motions = [], duration = 0, i, j;
for (i = 0; i < D.motions.length; i++) {
  var m = D.motions[i], bin = atob(m.data), buf = new Uint8Array(bin.length);
  for (j = 0; j < bin.length; j++) buf[j] = bin.charCodeAt(j);
  m.pos = new Float32Array(buf.buffer);
  duration = Math.max(duration, (m.frames - 1) / fps);
  motions.push(m);
}
var params = new URLSearchParams((location.hash || '').replace(/^#/, '') + '&' + (location.search || '').replace(/^\?/, ''));
var state = {t: 0, playing: true, speed: 1, ready: false};
if (params.has('speed')) state.speed = parseFloat(params.get('speed')) || 1;
if (params.get('play') === '0') state.playing = false;
if (params.has('t')) { state.t = Math.max(0, Math.min(duration, parseFloat(params.get('t')) || 0)); state.playing = false; }
window.mg2 = state;

// ---- layout: motions side by side along X, each centred on its own trajectory
var floorY = Infinity, spacing = 0, info = [];
for (i = 0; i < motions.length; i++) {
  var p = motions[i].pos, J = motions[i].joints, n = p.length / 3;
  var mnx = Infinity, mxx = -Infinity, mnz = Infinity, mxz = -Infinity, mxy = -Infinity;
  for (j = 0; j < n; j++) {
    var x = p[3 * j], y = p[3 * j + 1], z = p[3 * j + 2];
    if (x < mnx) mnx = x; if (x > mxx) mxx = x; if (z < mnz) mnz = z; if (z > mxz) mxz = z;
    if (y < floorY) floorY = y; if (y > mxy) mxy = y;
  }
  info.push({cx: (mnx + mxx) / 2, cz: (mnz + mxz) / 2, w: mxx - mnx, d: mxz - mnz, top: mxy});
  spacing = Math.max(spacing, mxx - mnx);
}
spacing += 0.8;
var offsets = info.map(function (b, k) { return [(k - (motions.length - 1) / 2) * spacing - b.cx, -b.cz]; });
var sceneW = spacing * motions.length, sceneD = Math.max.apply(null, info.map(function (b) { return b.d; })) + 1.0;
var top = Math.max.apply(null, info.map(function (b) { return b.top; }));

// ---- three.js scene
var renderer;
try {
  renderer = new THREE.WebGLRenderer({antialias: true, preserveDrawingBuffer: true});
} catch (e) {
  document.getElementById('nogl').style.display = 'block';
  document.getElementById('nogl').textContent = 'This viewer needs WebGL, which is not available here (' + e.message + ').';
  return;
}
renderer.setPixelRatio(window.devicePixelRatio || 1);
view.appendChild(renderer.domElement);
var scene = new THREE.Scene();
scene.background = new THREE.Color(D.style.background);
var camera = new THREE.PerspectiveCamera(40, 1, 0.01, 500);
var size = Math.max(sceneW, sceneD, top - floorY, 1.5);
var target = new THREE.Vector3(0, floorY + 0.5 * (top - floorY), 0);
camera.position.set(0.35 * size, target.y + 0.45 * size, 1.6 * size + 1.0);
var controls = new THREE.OrbitControls(camera, renderer.domElement);
controls.target.copy(target);
controls.update();
controls.addEventListener('change', function () { if (!state.playing) draw(); });

var gsize = Math.ceil(Math.max(sceneW, sceneD) + 2);
if (gsize % 2) gsize += 1;
var grid = new THREE.GridHelper(gsize, gsize * 2, D.style.grid, D.style.grid);
grid.position.y = floorY;
scene.add(grid);

var up = new THREE.Vector3(0, 1, 0), tmpA = new THREE.Vector3(), tmpB = new THREE.Vector3(), dir = new THREE.Vector3();
var cyl = new THREE.CylinderGeometry(1, 1, 1, 10, 1), sph = new THREE.SphereGeometry(1, 12, 8);
var figures = [];
motions.forEach(function (m, k) {
  var g = new THREE.Group(), bones = [], joints = [], jcol = {};
  g.position.set(offsets[k][0], 0, offsets[k][1]);
  m.bones.forEach(function (b) {
    var r = 0.0055 * b[3];
    var mesh = new THREE.Mesh(cyl, new THREE.MeshBasicMaterial({color: b[2]}));
    mesh.userData = {a: b[0], b: b[1], r: r};
    g.add(mesh); bones.push(mesh);
    if (!(b[1] in jcol)) jcol[b[1]] = [b[2], r];
    if (!(b[0] in jcol)) jcol[b[0]] = [b[2], r];
  });
  Object.keys(jcol).forEach(function (key) {
    var s = new THREE.Mesh(sph, new THREE.MeshBasicMaterial({color: jcol[key][0]}));
    s.scale.setScalar(jcol[key][1] * 1.35);
    s.userData = {j: parseInt(key, 10)};
    g.add(s); joints.push(s);
  });
  // root trajectory on the floor
  var pts = [], n = m.frames, J = m.joints;
  for (var t = 0; t < n; t++) pts.push(new THREE.Vector3(m.pos[t * J * 3], floorY + 0.002, m.pos[t * J * 3 + 2]));
  var traj = new THREE.Line(new THREE.BufferGeometry().setFromPoints(pts), new THREE.LineBasicMaterial({color: D.style.trajectory}));
  g.add(traj);
  scene.add(g);
  var label = null;
  if (m.caption || motions.length > 1) {
    label = document.createElement('div');
    label.className = 'label';
    label.textContent = (motions.length > 1 ? (k + 1) + ': ' : '') + (m.caption || m.name);
    label.title = m.caption;
    view.appendChild(label);
  }
  figures.push({m: m, g: g, bones: bones, joints: joints, label: label, cur: new Float32Array(J * 3)});
});

function pose(f, t) {
  var m = f.m, J = m.joints, x = Math.max(0, Math.min(m.frames - 1, t * fps));
  var a = Math.floor(x), b = Math.min(a + 1, m.frames - 1), w = x - a, p = m.pos, c = f.cur;
  for (var q = 0; q < J * 3; q++) c[q] = (1 - w) * p[a * J * 3 + q] + w * p[b * J * 3 + q];
  return c;
}

function resize() {
  var w = view.clientWidth || window.innerWidth, h = view.clientHeight || (window.innerHeight - 52);
  renderer.setSize(w, h);
  camera.aspect = w / Math.max(h, 1);
  camera.updateProjectionMatrix();
}

function draw() {
  var w = view.clientWidth, h = view.clientHeight;
  figures.forEach(function (f) {
    var c = pose(f, state.t), headY = -Infinity, hx = 0, hz = 0;
    f.bones.forEach(function (mesh) {
      var a = mesh.userData.a, b = mesh.userData.b;
      tmpA.set(c[3 * a], c[3 * a + 1], c[3 * a + 2]);
      tmpB.set(c[3 * b], c[3 * b + 1], c[3 * b + 2]);
      dir.subVectors(tmpB, tmpA);
      var len = dir.length();
      mesh.position.addVectors(tmpA, tmpB).multiplyScalar(0.5);
      if (len > 1e-9) mesh.quaternion.setFromUnitVectors(up, dir.multiplyScalar(1 / len));
      mesh.scale.set(mesh.userData.r, Math.max(len, 1e-6), mesh.userData.r);
    });
    f.joints.forEach(function (s) {
      var j = s.userData.j;
      s.position.set(c[3 * j], c[3 * j + 1], c[3 * j + 2]);
    });
    for (var j = 0; j < f.m.joints; j++) if (c[3 * j + 1] > headY) { headY = c[3 * j + 1]; hx = c[3 * j]; hz = c[3 * j + 2]; }
    if (f.label) {
      tmpA.set(hx + f.g.position.x, headY + 0.25, hz + f.g.position.z).project(camera);
      f.label.style.left = ((tmpA.x + 1) / 2 * w) + 'px';
      f.label.style.top = ((1 - tmpA.y) / 2 * h) + 'px';
      f.label.style.display = tmpA.z < 1 ? 'block' : 'none';
    }
  });
  renderer.render(scene, camera);
  slider.value = state.t;
  clock.textContent = state.t.toFixed(2) + ' / ' + duration.toFixed(2) + ' s';
  playBtn.textContent = state.playing ? 'Pause' : 'Play';
}

// ---- controls
var slider = document.getElementById('time'), clock = document.getElementById('clock');
var playBtn = document.getElementById('play'), speedSel = document.getElementById('speed');
slider.max = duration; slider.step = 1 / fps / 4;
speedSel.value = String(state.speed);
if (speedSel.value !== String(state.speed)) {
  var o = document.createElement('option'); o.value = String(state.speed); o.textContent = state.speed + '\u00d7';
  speedSel.appendChild(o); speedSel.value = String(state.speed);
}
function toggle() { state.playing = !state.playing; if (state.playing && state.t >= duration) state.t = 0; last = null; draw(); }
playBtn.addEventListener('click', toggle);
window.addEventListener('keydown', function (e) { if (e.code === 'Space' && e.target.tagName !== 'SELECT') { e.preventDefault(); toggle(); } });
slider.addEventListener('input', function () { state.t = parseFloat(slider.value); draw(); });
speedSel.addEventListener('change', function () { state.speed = parseFloat(speedSel.value); });
window.addEventListener('resize', function () { resize(); draw(); });

var last = null;
function tick(now) {
  if (state.playing) {
    if (last !== null) {
      state.t += (now - last) / 1000 * state.speed;
      if (state.t > duration) state.t = duration > 0 ? state.t % duration : 0;
    }
    last = now;
    draw();
  } else {
    last = null;
  }
  requestAnimationFrame(tick);
}
resize();
draw();
state.ready = true;
document.body.setAttribute('data-ready', '1');
requestAnimationFrame(tick);
})();
"""


def html_viewer(motions: Sequence[np.ndarray], fps: float = 20.0, captions=None,
                skeleton: Skeleton | str | None = None, title: str | None = None) -> str:
    """The viewer page as a string (see :func:`write_html_viewer`)."""
    payload = viewer_payload(motions, fps, captions, skeleton, title)
    page_title = title or (payload["motions"][0]["caption"] if len(payload["motions"]) == 1 else "") or "motiongpt2 motion"
    legend = []
    if title:
        legend.append(f"<h1>{_html.escape(title)}</h1>")
    for k, m in enumerate(payload["motions"]):
        if m["caption"] or len(payload["motions"]) > 1:
            legend.append(f"<div><b>{k + 1}</b>{_html.escape(m['caption'] or m['name'])}</div>")
    speeds = "".join(f'<option value="{s:g}">{s:g}×</option>' for s in (0.1, 0.25, 0.5, 1, 1.5, 2, 4))
    data = _script_safe(json.dumps(payload, separators=(",", ":")))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
        f"<meta name=\"generator\" content=\"motiongpt2 (three.js {THREE_VERSION})\">\n"
        f"<title>{_html.escape(page_title)}</title>\n"
        f"<style>{_CSS.replace('__BG__', BACKGROUND)}</style>\n</head><body>\n"
        "<div id=\"view\"></div>\n"
        f"<div id=\"legend\">{''.join(legend)}</div>\n"
        "<div id=\"nogl\"></div>\n"
        "<div id=\"bar\"><button id=\"play\" type=\"button\">Pause</button>"
        "<input id=\"time\" type=\"range\" min=\"0\" max=\"1\" step=\"0.01\" value=\"0\" aria-label=\"time\">"
        "<span id=\"clock\"></span>"
        f"<label>speed <select id=\"speed\">{speeds}</select></label></div>\n"
        f"<script id=\"mg2-data\" type=\"application/json\">{data}</script>\n"
        f"<script>{_script_safe(_vendor('three.min.js'))}</script>\n"
        f"<script>{_script_safe(_vendor('OrbitControls.js'))}</script>\n"
        f"<script>{_APP}</script>\n"
        "</body></html>\n"
    )


def write_html_viewer(motions: Sequence[np.ndarray], out_html: str | Path, fps: float = 20.0,
                      captions: Sequence[str] | str | None = None,
                      skeleton: Skeleton | str | Sequence | None = None,
                      title: str | None = None) -> Path:
    """Write one self-contained interactive viewer page.

    Args:
        motions: a list of ``(T, J, 3)`` joint arrays (metres, Y-up; J = 22 / 52 / 21 in mm) or
            ``(T, D)`` features, shown side by side (one array is accepted too).
        out_html: the ``.html`` file to write (parent folders are created).
        fps: frame rate of the motions.
        captions: one caption per motion (legend and a label above each figure).
        skeleton: a skeleton (or name, or one per motion); inferred from ``J`` when ``None``.
        title: page heading and ``<title>``.

    Returns:
        The path written. The page needs no network; ``#t=<seconds>`` opens it paused at that time.
    """
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_viewer(motions, fps, captions, skeleton, title), encoding="utf-8")
    return out
