"""Header-first ``.npy`` reading for any numeric array (features ``(T, D)``, joints ``(T, J, 3)``, ``(D,)``
statistics): nothing is allocated before the header has been checked.

:func:`npy_header` reads magic, version and header (never the data) and refuses, with one
:class:`~motiongpt2.errors.InputFileError` line (or the subclass given as ``error``): a missing file or a
folder, an empty file, a ``.npz`` archive, a corrupt or unsupported header, a non-numeric dtype (strings,
objects/pickles, structured, complex), negative dimensions, more than :data:`MAX_ELEMENTS` values, and a
file shorter than its header announces (truncated). :func:`read_npy_data` then reads exactly that many
bytes into a new, writable array, and :func:`check_finite` refuses NaN/inf (and values beyond a bound),
naming the first bad index. :func:`read_npy` does all three.

:func:`stream_header` does the header checks on an open binary stream (the motion readers'
``read_npy_joints`` use it on plain, compressed or in-memory files).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiongpt2.errors import InputFileError, one_line

__all__ = ["MAX_ELEMENTS", "NpyHeader", "stream_header", "check_not_truncated", "npy_header", "read_npy_data", "check_finite", "read_npy"]

#: Most values one array may hold (2^26 = 67M: 256 MiB as float32, 512 MiB as float64); a HumanML3D clip
#: holds ~50k, a whole-body hour at 20 fps ~45M.
MAX_ELEMENTS = 2**26

_HINT = "re-save the array with numpy.save (a plain numeric array), or re-export the file"


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header announces: ``shape``, ``dtype``, ``fortran`` order, where the data starts
    (``offset``, bytes) and the file's size (bytes)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int
    size: int

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.n_elements * self.dtype.itemsize


def _open(path: Path, error: type[InputFileError]):
    if not path.exists():
        raise error(path, "file not found", "check the path")
    if path.is_dir():
        raise error(path, "is a folder, not a .npy file", "pass the .npy file itself")
    try:
        return open(path, "rb")
    except OSError as err:
        raise error(path, f"cannot open ({one_line(err)})", "check the file's permissions") from None


def stream_header(fh, size: int, name: str | Path, error: type[InputFileError] = InputFileError,
                  kinds: str = "fiu", max_elements: int = MAX_ELEMENTS, check_size: bool = True) -> NpyHeader:
    """The checked header of a ``.npy`` held by the binary stream ``fh`` (at its start; ``size`` bytes in
    all); the stream is left where the data starts.  ``name`` names it in errors.

    ``kinds``: accepted dtype kinds (``"f"`` float, ``"i"``/``"u"`` integers, ``"b"`` bool).
    ``check_size=False`` skips the element limit and the truncation check (to learn a shape only).
    Raises ``error`` (one line) for every problem listed in the module docstring.
    """
    head = fh.read(6)
    fh.seek(0)
    if not head:
        raise error(name, "empty .npy file", _HINT)
    if head.startswith(b"PK"):
        raise error(name, "this is a zip/.npz archive, not a .npy array", "save one array with numpy.save")
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, MemoryError) as err:
        raise error(name, f"not a readable .npy file ({one_line(err)})", _HINT) from None
    offset = fh.tell()
    dtype = np.dtype(dtype)
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise error(name, f"array has dtype {dtype}, not a plain number type", _HINT)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise error(name, f"array header has a negative dimension {shape}", _HINT)
    hdr = NpyHeader(shape, dtype, bool(fortran), offset, int(size))
    if not check_size:
        return hdr
    if hdr.n_elements > max_elements:
        raise error(name, f"array of shape {shape} holds {hdr.n_elements:,} values, over the limit of "
                    f"{max_elements:,}", "split it into smaller files (or re-save it: its header may be corrupt)")
    check_not_truncated(hdr, name, error)
    return hdr


def check_not_truncated(hdr: NpyHeader, name: str | Path, error: type[InputFileError] = InputFileError) -> None:
    """Refuse a file shorter than the data its header announces."""
    if hdr.nbytes > hdr.size - hdr.offset:
        raise error(name, f"truncated: the header announces {hdr.nbytes:,} bytes of data, the file has "
                    f"{max(0, hdr.size - hdr.offset):,}", "re-save or re-download the file")


def npy_header(path: str | Path, error: type[InputFileError] = InputFileError, kinds: str = "fiu",
               max_elements: int = MAX_ELEMENTS, check_size: bool = True) -> NpyHeader:
    """The checked header of the ``.npy`` file at ``path`` (no data read): :func:`stream_header`."""
    path = Path(path)
    with _open(path, error) as fh:
        return stream_header(fh, path.stat().st_size, path, error, kinds, max_elements, check_size)


def read_npy_data(path: str | Path, hdr: NpyHeader, error: type[InputFileError] = InputFileError) -> np.ndarray:
    """The array the checked header ``hdr`` describes, read into a new writable array (native layout)."""
    path = Path(path)
    flat = np.empty(hdr.n_elements, dtype=hdr.dtype)
    with _open(path, error) as fh:
        fh.seek(hdr.offset)
        got = fh.readinto(flat.view(np.uint8)) if hdr.nbytes else 0
    if got != hdr.nbytes:
        raise error(path, f"truncated: read {got:,} of {hdr.nbytes:,} bytes", "re-save or re-download the file")
    return flat.reshape(hdr.shape, order="F" if hdr.fortran else "C")


def check_finite(arr: np.ndarray, path: str | Path, error: type[InputFileError] = InputFileError,
                 what: str = "array", limit: float = np.inf) -> None:
    """Refuse NaN/inf, or ``|x| > limit``, anywhere in ``arr`` (vectorised); names the first bad index."""
    if arr.dtype.kind not in "fc" and not np.isfinite(limit):
        return
    ok = np.abs(arr) <= limit  # NaN compares False
    if ok.all():
        return
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmin(ok.ravel(order="C"))), arr.shape))
    bound = "" if not np.isfinite(limit) else f" or beyond ±{limit:g}"
    raise error(path, f"{what} holds {arr[idx]!r} at index {idx} (not finite{bound})",
                "fix or re-export the file")


def read_npy(path: str | Path, error: type[InputFileError] = InputFileError, *, ndim: tuple[int, ...] | None = None,
             kinds: str = "fiu", finite: bool = True, what: str = "array",
             max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """Header check, ``ndim`` check (before any data is read), data, then (``finite``) the NaN/inf check."""
    hdr = npy_header(path, error, kinds, max_elements)
    if ndim is not None and len(hdr.shape) not in ndim:
        raise error(path, f"{what} has shape {hdr.shape}, expected {' or '.join(f'{n}-D' for n in ndim)}", _HINT)
    arr = read_npy_data(path, hdr, error)
    if finite:
        check_finite(arr, path, error, what)
    return arr
