"""motiongpt2: an open, tested, offline-first implementation of MotionGPT-2."""
__version__ = "0.1.0"
