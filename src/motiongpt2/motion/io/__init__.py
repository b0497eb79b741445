"""Motion-capture import: BVH / ASF-AMC readers, archives, resampling, retargeting to HumanML3D.

Main entry points (see each module for details):

* :func:`~motiongpt2.motion.io.load.load_joints` — file → ``(T, 22|52, 3)`` metres, Y-up, 20 fps.
* :func:`~motiongpt2.motion.io.load.load_hand_joints` — ManipNet hand BVH → 15 MANO finger joints.
* :func:`~motiongpt2.motion.io.bvh.read_bvh`, :func:`~motiongpt2.motion.io.asf_amc.read_amc` → :class:`Mocap`.
* :func:`~motiongpt2.motion.io.archive.iter_members` — files from folders / tar / zip without extracting.
* :func:`~motiongpt2.motion.io.resample.resample` — stride or linear-interpolation frame-rate change.
* :mod:`~motiongpt2.motion.io.retarget` — joint-name maps (presets in ``maps/*.json``).
"""
from motiongpt2.motion.io.load import Joints, iter_joints, load_hand_joints, load_joints, load_mocap
from motiongpt2.motion.io.mocap import Mocap

__all__ = ["Joints", "Mocap", "iter_joints", "load_hand_joints", "load_joints", "load_mocap"]
