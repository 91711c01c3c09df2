"""Named kernel banks (generated, seeded, shipped as data) and user kernel folders.

A bank is a reproducible set of blur kernels for benchmarks and training. The
named banks live in the top-level ``kernels/`` folder of the repository (shipped
inside the wheel as ``hybrid_deblur/kernel_banks``): ``<name>.npz`` plus an entry
in ``kernels/manifest.json`` recording the generator, every kernel's parameters
and seed, the sizes and the sha256 of the ``.npz``.

=================  ====================================================================
``camera_shake``   48 random camera-shake trajectories (Boracchi & Foi), sizes 9-41 px
``defocus``        23 defocus disks, radii 1-12 px in steps of 0.5
``mixed``          32 camera-shake trajectories (lengths 5-25 px) convolved with disks
                   (radii 0.5-4 px)
=================  ====================================================================

Kernels of different sizes are stored zero-padded (centred) to one common odd
size together with a ``sizes`` array; :func:`load` returns them cropped back to
their own sizes, as a :class:`KernelBank`: a ``list`` of 2-D arrays with
``name``, ``sizes``, ``meta``; :meth:`KernelBank.padded` (and
``numpy.asarray(bank)``) gives the ``(n, K, K)`` stack, every kernel zero-padded
and centred at ``K // 2``.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf import bank
>>> "defocus" in bank.available()
True
>>> ks = bank.load("defocus")
>>> len(ks), ks[0].shape, ks.padded().shape
(23, (3, 3), (23, 25, 25))
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..io import atomic_save_json, atomic_write
from .fileio import PSF_SUFFIXES, load_psf
from .ops import pad_psf
from .shapes import combine, disk
from .trajectory import trajectory_motion

__all__ = ["KernelBank", "available", "bank_dir", "build", "generate", "load"]

_FORMAT = 1


class KernelBank(list):
    """A list of 2-D kernels (each its own size) with the bank's metadata.

    Attributes
    ----------
    name : str
        Bank name or the folder/file it was read from.
    sizes : list of tuple
        Shape of every kernel.
    meta : dict
        Generator and per-kernel parameters (empty for user folders).
    files : list of str
        Source file of every kernel (user folders only).

    Examples
    --------
    >>> from hybrid_deblur.psf import bank
    >>> ks = bank.load("defocus")
    >>> ks.sizes[:2], ks.padded().shape, ks.meta["params"][0]
    ([(3, 3), (3, 3)], (23, 25, 25), {'radius': 1.0})
    """

    def __init__(self, kernels, *, name: str = "", meta: dict | None = None,
                 files: list[str] | None = None):
        super().__init__(kernels)
        self.name = name
        self.meta = dict(meta or {})
        self.files = list(files or [])

    @property
    def sizes(self) -> list[tuple[int, ...]]:
        return [tuple(k.shape) for k in self]

    def __array__(self, dtype=None, copy=None):
        """``numpy.asarray(bank)`` is the padded stack (n, K, K) (see :meth:`padded`)."""
        a = self.padded()
        return a if dtype is None else a.astype(dtype)

    def padded(self, size: int | None = None) -> np.ndarray:
        """All kernels zero-padded (centred) to a common odd ``size``: array (n, K, K)."""
        if not len(self):
            raise ValueError(f"kernel bank {self.name!r} is empty")
        big = max(max(k.shape) for k in self)
        K = big + 1 - big % 2 if size is None else int(size)
        return np.stack([pad_psf(k, K) for k in self])


# ----------------------------------------------------------------------------- generators
def _gen_camera_shake() -> tuple[list[np.ndarray], list[dict]]:
    ks, params = [], []
    for i in range(48):
        size = 9 + 2 * round(i * 16 / 47)
        length = round((0.8 + 0.4 * ((i * 7) % 10) / 9) * (size - 1), 3)
        anxiety = (0.003, 0.005, 0.008)[i % 3]
        seed = 1000 + i
        p = {"size": size, "length": length, "anxiety": anxiety, "exposure": 1.0, "n_samples": 2000,
                 "seed": seed}
        ks.append(trajectory_motion(**p))
        params.append(p)
    return ks, params


def _gen_defocus() -> tuple[list[np.ndarray], list[dict]]:
    ks, params = [], []
    for i in range(23):
        r = 1.0 + 0.5 * i
        ks.append(disk(r))
        params.append({"radius": r})
    return ks, params


def _gen_mixed() -> tuple[list[np.ndarray], list[dict]]:
    ks, params = [], []
    for i in range(32):
        length = round(5.0 + 20.0 * (i % 8) / 7, 3)
        radius = (0.5, 1.5, 2.5, 4.0)[i // 8]
        size = 2 * math.ceil(0.5 * length) + 3
        anxiety = (0.003, 0.005, 0.008)[i % 3]
        seed = 2000 + i
        tp = {"size": size, "length": length, "anxiety": anxiety, "exposure": 1.0, "n_samples": 2000,
                  "seed": seed}
        ks.append(combine(trajectory_motion(**tp), disk(radius)))
        params.append({"trajectory": tp, "radius": radius})
    return ks, params


_GENERATORS: dict[str, tuple[Callable, str, str]] = {
    "camera_shake": (_gen_camera_shake, "hybrid_deblur.psf.trajectory_motion",
                     "48 camera-shake trajectories (Boracchi & Foi model), sizes 9-41 px"),
    "defocus": (_gen_defocus, "hybrid_deblur.psf.disk",
                "23 defocus disks, radii 1-12 px in steps of 0.5"),
    "mixed": (_gen_mixed, "hybrid_deblur.psf.combine(trajectory_motion, disk)",
              ("32 camera-shake trajectories (lengths 5-25 px) convolved with defocus "
              "disks (radii 0.5-4 px)")),
}


def generate(name: str) -> tuple[KernelBank, dict]:
    """Regenerate the named bank from its recorded parameters and seeds.

    Returns
    -------
    kernels : KernelBank
        The kernels, each at its own size.
    meta : dict
        ``generator``, ``description``, per-kernel ``params`` and ``sizes``.

    Examples
    --------
    >>> from hybrid_deblur.psf import bank
    >>> ks, meta = bank.generate("defocus")
    >>> meta["params"][0]
    {'radius': 1.0}
    """
    if name not in _GENERATORS:
        raise ValueError(f"unknown kernel bank {name!r}; known banks: {sorted(_GENERATORS)}")
    fn, gen, desc = _GENERATORS[name]
    ks, params = fn()
    meta = {"generator": gen, "description": desc, "n": len(ks), "params": params,
                "sizes": [list(k.shape) for k in ks]}
    return KernelBank(ks, name=name, meta=meta), meta


# ----------------------------------------------------------------------------- storage
def bank_dir() -> Path:
    """Folder holding the named banks (package data in a wheel, ``kernels/`` in a checkout).

    Examples
    --------
    >>> from hybrid_deblur.psf import bank
    >>> (bank.bank_dir() / "manifest.json").is_file()
    True
    """
    here = Path(__file__).resolve()
    candidates = [here.parents[1] / "kernel_banks", here.parents[2] / "kernels"]
    try:  # installed wheel or editable finder
        from importlib.resources import files

        candidates.insert(0, Path(str(files("hybrid_deblur.kernel_banks"))))
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    for c in candidates:
        if (c / "manifest.json").is_file():
            return c
    raise FileNotFoundError("kernel banks not found (looked in "
                            f"{', '.join(str(c) for c in candidates)})")


def _manifest(folder: Path) -> dict:
    with open(folder / "manifest.json", encoding="utf-8") as fh:
        return json.load(fh)


def available() -> list[str]:
    """Names of the shipped banks (from ``kernels/manifest.json``).

    Examples
    --------
    >>> from hybrid_deblur.psf import bank
    >>> bank.available()
    ['camera_shake', 'defocus', 'mixed']
    """
    try:
        return sorted(_manifest(bank_dir()).get("banks", {}))
    except FileNotFoundError:
        return []


def _npz_bytes(kernels: list[np.ndarray]) -> bytes:
    n = len(kernels)
    big = max(max(k.shape) for k in kernels)
    K = big + 1 - big % 2
    stack = np.stack([pad_psf(k, K) for k in kernels]) if n else np.zeros((0, 1, 1))
    sizes = np.array([list(k.shape) for k in kernels], dtype=np.int64).reshape(n, 2)
    buf = io.BytesIO()
    np.savez_compressed(buf, kernels=stack, sizes=sizes)
    return buf.getvalue()


def build(names: list[str] | None = None, folder: str | os.PathLike | None = None) -> dict:
    """Generate banks and write ``<name>.npz`` + ``manifest.json`` (atomically) into ``folder``.

    Used to (re)create the shipped banks::

        python -c "from hybrid_deblur.psf import bank; bank.build()"

    Examples
    --------
    >>> import os, tempfile
    >>> from hybrid_deblur.psf import bank
    >>> d = tempfile.mkdtemp()
    >>> man = bank.build(["defocus"], d)
    >>> sorted(os.listdir(d)), man["banks"]["defocus"]["n"]
    (['defocus.npz', 'manifest.json'], 23)
    """
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parents[2] / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(_GENERATORS) if names is None else list(names)
    man_path = folder / "manifest.json"
    manifest = _manifest(folder) if man_path.is_file() else {}
    manifest.setdefault("format", _FORMAT)
    manifest.setdefault(
        "about", "Generated blur-kernel banks (data only). Each .npz holds 'kernels' "
        "(n, K, K) zero-padded and centred at K//2, and 'sizes' (n, 2); kernels are in "
        "convolution orientation and sum to 1. Regenerate with "
        "`python -c 'from hybrid_deblur.psf import bank; bank.build()'`.")
    banks = manifest.setdefault("banks", {})
    for name in names:
        ks, meta = generate(name)
        data = _npz_bytes(list(ks))
        with atomic_write(folder / f"{name}.npz", "wb") as fh:
            fh.write(data)
        banks[name] = dict(file=f"{name}.npz", sha256=hashlib.sha256(data).hexdigest(),
                           numpy=np.__version__, **meta)
    manifest["banks"] = {k: banks[k] for k in sorted(banks)}
    atomic_save_json(man_path, manifest, indent=1)
    return manifest


def _read_npz(path: Path, name: str, meta: dict | None = None) -> KernelBank:
    with np.load(path, allow_pickle=False) as z:
        if "kernels" not in z or "sizes" not in z:
            raise ValueError(f"{str(path)!r} is not a kernel bank (needs arrays 'kernels' and "
                             f"'sizes', has {list(z.keys())})")
        stack, sizes = z["kernels"], z["sizes"]
    ks = []
    K = stack.shape[-1]
    for k, (h, w) in zip(stack, sizes):
        r0, c0 = stack.shape[-2] // 2 - int(h) // 2, K // 2 - int(w) // 2
        ks.append(np.ascontiguousarray(k[r0:r0 + int(h), c0:c0 + int(w)]))
    return KernelBank(ks, name=name, meta=meta)


def load(name_or_path: str | os.PathLike, *, verify: bool = True,
         mat_orientation: str = "matlab") -> KernelBank:
    """Load a named bank, a bank ``.npz`` file, or a folder of kernel files.

    Parameters
    ----------
    name_or_path : str or path-like
        A name from :func:`available`, a ``.npz`` written by :func:`build`, or a
        folder of ``.npy``/``.png``/``.tif``/``.mat`` kernels (read in sorted
        name order; each normalised to sum 1).
    verify : bool
        Check the sha256 of a named bank against the manifest.
    mat_orientation : {"matlab", "conv"}
        Orientation of ``.mat`` files in a folder. Default ``"matlab"``: Levin-style
        files whose ``f`` field is in correlation orientation (rotated 180° on
        load). Other formats are read in convolution orientation.

    Returns
    -------
    KernelBank
        A list of 2-D float64 kernels, each cropped to its own size; use
        ``.padded()`` for an ``(n, K, K)`` array.

    Examples
    --------
    >>> from hybrid_deblur.psf import bank
    >>> ks = bank.load("camera_shake")
    >>> len(ks), min(ks.sizes)[0], max(ks.sizes)[0]
    (48, 9, 41)
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a bank name ({', '.join(available()) or 'none built'})"
                        f" or a path (str or path-like), got {name_or_path!r} "
                        f"({type(name_or_path).__name__})")
    if isinstance(name_or_path, str) and name_or_path in _GENERATORS | dict.fromkeys(available()):
        folder = bank_dir()
        entry = _manifest(folder).get("banks", {}).get(name_or_path)
        if entry is None:
            raise ValueError(f"kernel bank {name_or_path!r} is not built in {str(folder)!r}; "
                             "run bank.build()")
        path = folder / entry["file"]
        if verify:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != entry["sha256"]:
                raise ValueError(f"kernel bank file {str(path)!r} does not match its sha256 in "
                                 "manifest.json (modified or corrupt); rebuild it")
        meta = {k: v for k, v in entry.items() if k not in ("file",)}
        return _read_npz(path, name_or_path, meta)
    p = Path(name_or_path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in PSF_SUFFIXES)
        if not files:
            raise ValueError(f"folder {str(p)!r} holds no kernel files ({', '.join(PSF_SUFFIXES)})")
        ks = [load_psf(f, orientation=mat_orientation if f.suffix.lower() == ".mat" else "conv")
              for f in files]
        return KernelBank(ks, name=str(p), files=[str(f) for f in files])
    if p.is_file() and p.suffix.lower() == ".npz":
        return _read_npz(p, str(p))
    if p.exists():
        raise ValueError(f"{str(p)!r} is neither a folder of kernels nor a bank .npz")
    raise ValueError(f"unknown kernel bank {str(name_or_path)!r}: not a bank name "
                     f"({', '.join(available()) or 'none built'}) and no such file or folder")
