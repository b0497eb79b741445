"""Run inside Blender: import a BVH with Blender's own importer and dump every bone's world head.

Usage: ``blender -b --factory-startup --python tests/blender_check.py -- in.bvh out.json``

Writes ``{"names": [...], "fps": scene fps, "frames": [[[x, y, z] × J] × T]}`` with positions in
Blender world coordinates (Z-up: the importer's default axis conversion maps BVH ``(x, y, z)`` to
``(x, -z, y)``). Debian's Blender 3.4 importer opens files with mode ``'rU'``, which Python 3.11
rejects, so ``builtins.open`` is wrapped to drop the ``'U'`` during the import.
"""
import builtins
import json
import sys

import bpy

argv = sys.argv[sys.argv.index("--") + 1:]
src, dst = argv[0], argv[1]

_open = builtins.open


def _open_no_u(file, mode="r", *args, **kwargs):
    if isinstance(mode, str) and "U" in mode:
        mode = mode.replace("U", "") or "r"
    return _open(file, mode, *args, **kwargs)


builtins.open = _open_no_u
try:
    bpy.ops.import_anim.bvh(filepath=src, global_scale=1.0, frame_start=1, use_fps_scale=False,
                            update_scene_fps=True, update_scene_duration=True, rotate_mode="NATIVE")
finally:
    builtins.open = _open

arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
scene = bpy.context.scene
names = [b.name for b in arm.pose.bones]
action = arm.animation_data.action
f0, f1 = (round(v) for v in action.frame_range)
frames = []
for f in range(f0, f1 + 1):
    scene.frame_set(f)
    mw = arm.matrix_world
    frames.append([list(mw @ arm.pose.bones[n].head) for n in names])
with _open(dst, "w") as fh:
    json.dump({"names": names, "fps": scene.render.fps / scene.render.fps_base, "frames": frames,
               "frame_range": [f0, f1]}, fh)
print("blender_check: wrote", len(frames), "frames of", len(names), "bones")
