"""Failure-atlas sweep specification: TOML -> validated :class:`AtlasSpec` -> cells.

A spec names the axes to sweep (blur, noise, light, saturation, non-uniformity),
the images and the methods; :meth:`AtlasSpec.cells` enumerates the cartesian
product (one cell = one image under one degradation) with a seed per cell that
depends only on the spec seed and the cell's key, so any execution order (serial,
Dask, resumed) synthesises the same observations. Bad specs raise ``ValueError``
with one line that names the offending key.

TOML layout (every table and key optional; see ``benchmarks/atlas_default.toml``)::

    [atlas]        name, seed, images ("builtin" or a folder), n_images, image_size,
                   sigma ("estimate" | "true"), blind_size ("max" | "true" | int),
                   indistinguishable (bool), fail_gap_db (float)
    [axes]         motion_length, motion_angle, defocus_radius, gaussian_sigma,
                   shake_size, noise_sigma, photons, saturation, nonuniformity:
                   a list of numbers or {start, stop, num}
    [methods]      nonblind = [registry names], blind = ["estimator>solver", ...]
    [report]       x, y, facet (axis names; default: the swept axes with most values)

Examples
--------
>>> from hybrid_deblur.analysis.atlas_spec import parse_spec
>>> spec = parse_spec({"atlas": {"n_images": 1, "image_size": 64},
...                    "axes": {"motion_length": [0, 9], "noise_sigma": [0.01]},
...                    "methods": {"nonblind": ["wiener"], "blind": []}})
>>> [c["values"]["motion_length"] for c in spec.cells()]
[0.0, 9.0]
>>> parse_spec({"axes": {"motion_lenght": [3]}})
Traceback (most recent call last):
...
ValueError: spec key 'axes.motion_lenght' is unknown; accepted axes: motion_length, motion_angle, defocus_radius, gaussian_sigma, shake_size, noise_sigma, photons, saturation, nonuniformity
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["AXES", "BUILTIN_IMAGES", "AtlasSpec", "build_psf", "default_spec_path", "load_spec",
           "parse_spec", "spec_from_dict"]

#: axis -> (value when not swept, unit, meaning)
AXES: dict[str, tuple[float, str, str]] = {
    "motion_length": (0.0, "px", "linear motion length"),
    "motion_angle": (30.0, "deg", "linear motion direction"),
    "defocus_radius": (0.0, "px", "defocus disk radius"),
    "gaussian_sigma": (0.0, "px", "Gaussian blur sigma"),
    "shake_size": (0.0, "px", "camera-shake trajectory kernel size (0: none)"),
    "noise_sigma": (0.01, "", "Gaussian read-noise sigma on the [0, 1] scale"),
    "photons": (0.0, "", "photons at peak (Poisson; 0: no photon noise)"),
    "saturation": (0.0, "", "share of clipped pixels in the observation"),
    "nonuniformity": (0.0, "", "spread of the blur over a 3x3 tile grid (0: uniform)"),
}
BLUR_AXES = ("motion_length", "motion_angle", "defocus_radius", "gaussian_sigma", "shake_size",
             "nonuniformity")
BUILTIN_IMAGES = ("camera", "astronaut", "coffee", "chelsea")
ATLAS_KEYS = ("name", "seed", "images", "n_images", "image_size", "sigma", "blind_size",
              "indistinguishable", "fail_gap_db")
SECTIONS = ("atlas", "axes", "methods", "report")


def _bad(key: str, msg: str) -> ValueError:
    return ValueError(f"spec key {key!r} {msg}")


def _axis_values(key: str, v: Any) -> tuple[float, ...]:
    if isinstance(v, dict):
        extra = set(v) - {"start", "stop", "num"}
        if extra or not {"start", "stop", "num"} <= set(v):
            raise _bad(key, f"must be a list of numbers or {{start, stop, num}}; got keys {sorted(v)}")
        num = v["num"]
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise _bad(key, f"has num={num!r}; accepted: an int >= 1")
        vals = np.linspace(float(v["start"]), float(v["stop"]), num).round(6).tolist()
    elif isinstance(v, (list, tuple)):
        vals = list(v)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        vals = [v]
    else:
        raise _bad(key, f"must be a list of numbers or {{start, stop, num}}; got {v!r}")
    if not vals:
        raise _bad(key, "is an empty range; give at least one value")
    out = []
    for x in vals:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise _bad(key, f"has the value {x!r}; accepted: finite numbers")
        out.append(float(x))
    if len(set(out)) != len(out):
        raise _bad(key, f"repeats a value: {out}")
    name = key.split(".", 1)[1]
    lo = min(out)
    if name != "motion_angle" and lo < 0:
        raise _bad(key, f"has the negative value {lo}; accepted: values >= 0")
    if name == "saturation" and max(out) >= 0.5:
        raise _bad(key, f"has {max(out)}; accepted: shares in [0, 0.5)")
    if name == "nonuniformity" and max(out) > 1:
        raise _bad(key, f"has {max(out)}; accepted: values in [0, 1]")
    if name == "shake_size" and any(0 < x < 3 or x != int(x) for x in out):
        raise _bad(key, f"has {out}; accepted: 0 (none) or integers >= 3")
    return tuple(out)


def _known_methods() -> dict[str, Any]:
    from . import registry

    return dict(registry.METHODS)


def _known_estimators() -> tuple[str, ...]:
    from .. import estimate

    return tuple(getattr(estimate, "METHODS", ("map", "parametric", "blind_rl")))


@dataclass(frozen=True)
class AtlasSpec:
    """A validated sweep. Build it with :func:`parse_spec` or :func:`load_spec`."""

    name: str = "atlas"
    seed: int = 0
    images: str = "builtin"
    n_images: int = 4
    image_size: int = 160
    sigma: str = "estimate"
    blind_size: Any = "max"
    indistinguishable: bool = True
    fail_gap_db: float = 1.0
    axes: dict = field(default_factory=dict)
    nonblind: tuple = ()
    blind: tuple = ()
    report: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ identity
    def as_dict(self) -> dict:
        """JSON-friendly dictionary that :func:`parse_spec` reads back."""
        d = asdict(self)
        d["axes"] = {k: list(v) for k, v in self.axes.items()}
        d["nonblind"], d["blind"] = list(self.nonblind), [f"{e}>{s}" for e, s in self.blind]
        return d

    def digest(self) -> str:
        """Hash of everything that changes results (not the report layout)."""
        d = self.as_dict()
        d.pop("report")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ layout
    @property
    def swept(self) -> list[str]:
        """Axes with more than one value, most values first (stable)."""
        names = [a for a in AXES if len(self.axes[a]) > 1]
        return sorted(names, key=lambda a: -len(self.axes[a]))

    def layout(self) -> tuple[str, str | None, str | None]:
        """Heatmap axes ``(x, y, facet)`` from ``[report]`` or the most-swept axes."""
        sw = self.swept or ["motion_length"]
        x = self.report.get("x", sw[0])
        rest = [a for a in sw if a != x]
        y = self.report.get("y", rest[0] if rest else None)
        rest = [a for a in rest if a != y]
        facet = self.report.get("facet", rest[0] if rest else None)
        return x, y, facet

    def methods(self) -> list[str]:
        """Row names of every method: non-blind names, then ``estimator>solver``."""
        return list(self.nonblind) + [f"{e}>{s}" for e, s in self.blind]

    def image_names(self) -> list[str]:
        if self.images == "builtin":
            return list(BUILTIN_IMAGES[: self.n_images])
        from .nonblind import IMAGE_SUFFIXES

        files = sorted(f for f in Path(self.images).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        return [str(f) for f in files[: self.n_images]]

    def cells(self) -> list[dict]:
        """Every (image, degradation) cell: ``{"key", "image", "values", "seed"}``."""
        out = []
        names = list(AXES)
        for img in self.image_names():
            for combo in itertools.product(*(self.axes[a] for a in names)):
                values = dict(zip(names, combo))
                key = f"{Path(img).name}|" + "|".join(f"{a}={values[a]:g}" for a in names)
                seed = int(np.random.SeedSequence([self.seed, zlib.crc32(key.encode())])
                           .generate_state(1)[0])
                out.append({"key": key, "image": img, "values": values, "seed": seed})
        return out

    def blind_kernel_size(self, true_size: int) -> int:
        """Kernel size given to the blind estimators for a cell whose true kernel has ``true_size``."""
        if self.blind_size == "true":
            n = true_size
        elif self.blind_size == "max":
            n = self.max_kernel_size()
        else:
            n = int(self.blind_size)
        n = max(n, 3)
        return n + 1 - n % 2

    @functools.cached_property
    def _kmax(self) -> int:
        best = 1
        for combo in itertools.product(*(self.axes[a] for a in BLUR_AXES)):
            v = dict(zip(BLUR_AXES, combo))
            best = max(best, max(max(k.shape) for k in build_psf(v, self.seed, tiles=True)))
        return best

    def max_kernel_size(self) -> int:
        """Largest kernel of the sweep (over every tile of non-uniform cells)."""
        return self._kmax


# ----------------------------------------------------------------------------- kernels
def build_psf(values: dict, seed: int, *, tiles: bool = False):
    """The cell's kernel (``tiles=False``) or its 3 x 3 tile kernels (``tiles=True``).

    Motion ⊛ defocus ⊛ Gaussian ⊛ camera shake. Non-uniform cells scale the motion
    length, defocus radius and Gaussian σ of tile ``(i, j)`` by
    ``1 + u (t_i + t_j) / 2`` and turn the motion by ``15 u t_j`` degrees
    (``t in {-1, 0, 1}``); the centre tile is the uniform kernel. The shake kernel is
    seeded by the spec seed and its size only, so every image shares it.

    Examples
    --------
    >>> from hybrid_deblur.analysis.atlas_spec import build_psf
    >>> build_psf({"motion_length": 9, "motion_angle": 0, "defocus_radius": 2}, 0).shape
    (15, 15)
    """
    from ..psf import combine, disk, gaussian, linear_motion, trajectory_motion

    def one(scale: float, turn: float):
        parts = []
        L = values.get("motion_length", 0.0) * scale
        r = values.get("defocus_radius", 0.0) * scale
        g = values.get("gaussian_sigma", 0.0) * scale
        s = int(values.get("shake_size", 0.0))
        if L > 0:
            parts.append(linear_motion(L, values.get("motion_angle", AXES["motion_angle"][0]) + turn))
        if r > 0:
            parts.append(disk(r))
        if g > 0:
            parts.append(gaussian(g))
        if s > 0:
            parts.append(trajectory_motion(size=s, seed=zlib.crc32(f"shake|{seed}|{s}".encode())))
        if not parts:
            return np.ones((1, 1))
        return np.asarray(combine(*parts), np.float64) if len(parts) > 1 else np.asarray(parts[0], np.float64)

    u = float(values.get("nonuniformity", 0.0))
    if not tiles:
        return one(1.0, 0.0)
    if u == 0:
        return [one(1.0, 0.0)] * 9
    t = (-1.0, 0.0, 1.0)
    return [one(1 + u * (ti + tj) / 2, 15.0 * u * tj) for ti in t for tj in t]


# ----------------------------------------------------------------------------- parsing
def _atlas_section(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        key = f"atlas.{k}"
        if k not in ATLAS_KEYS:
            raise _bad(key, f"is unknown; accepted: {', '.join(ATLAS_KEYS)}")
        if k in ("seed", "n_images", "image_size"):
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if k == "seed" else 1):
                raise _bad(key, f"has {v!r}; accepted: an int >= {0 if k == 'seed' else 1}")
        elif k == "sigma" and v not in ("estimate", "true"):
            raise _bad(key, f"has {v!r}; accepted: 'estimate' or 'true'")
        elif k == "blind_size" and v not in ("max", "true") and (
                isinstance(v, bool) or not isinstance(v, int) or v < 3):
            raise _bad(key, f"has {v!r}; accepted: 'max', 'true' or an int >= 3")
        elif k == "indistinguishable" and not isinstance(v, bool):
            raise _bad(key, f"has {v!r}; accepted: true or false")
        elif k == "fail_gap_db" and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise _bad(key, f"has {v!r}; accepted: a number >= 0")
        elif k in ("name", "images") and not isinstance(v, str):
            raise _bad(key, f"has {v!r}; accepted: a string")
        out[k] = v
    if "images" in out and out["images"] != "builtin":
        p = Path(os.path.expanduser(out["images"]))
        if not p.is_dir():
            raise _bad("atlas.images", f"is {out['images']!r}: not a folder; accepted: 'builtin' or a folder")
        out["images"] = str(p)
    return out


def _methods_section(d: dict) -> tuple[tuple, tuple]:
    for k in d:
        if k not in ("nonblind", "blind"):
            raise _bad(f"methods.{k}", "is unknown; accepted: nonblind, blind")
    known = _known_methods()
    nb = d.get("nonblind", ["wiener", "rl", "hqs-tv", "hqs-hl", "unrolled-hqs"])
    bl = d.get("blind", ["parametric>hqs-tv", "map>hqs-tv", "blind_rl>hqs-tv"])
    for key, lst in (("methods.nonblind", nb), ("methods.blind", bl)):
        if not isinstance(lst, list) or not all(isinstance(m, str) for m in lst):
            raise _bad(key, f"must be a list of strings; got {lst!r}")
        if len(set(lst)) != len(lst):
            raise _bad(key, f"repeats a method: {lst}")
    for m in nb:
        if m not in known:
            raise _bad("methods.nonblind", f"names the unknown method {m!r}; known: {', '.join(sorted(known))}")
    ests = _known_estimators()
    blind = []
    for m in bl:
        e, sep, s = m.partition(">")
        if not sep or e not in ests or s not in known:
            raise _bad("methods.blind", f"has {m!r}; accepted: 'estimator>solver' with estimator in "
                       f"{', '.join(ests)} and solver in {', '.join(sorted(known))}")
        blind.append((e, s))
    if not nb and not blind:
        raise _bad("methods", "lists no method; give at least one non-blind or blind method")
    return tuple(nb), tuple(blind)


def parse_spec(d: dict) -> AtlasSpec:
    """Validate a spec dictionary (parsed TOML) and return an :class:`AtlasSpec`.

    Raises
    ------
    ValueError
        One line naming the key: unknown section, key, axis or method; an empty
        range; a value out of range; a kernel that does not fit the image.
    """
    if not isinstance(d, dict):
        raise TypeError(f"spec must be a dict (parsed TOML), got {type(d).__name__}")
    for k in d:
        if k not in SECTIONS:
            raise _bad(k, f"is an unknown section; accepted: {', '.join(SECTIONS)}")
    kw = _atlas_section(d.get("atlas", {}))
    axes = {}
    given = d.get("axes", {})
    for k, v in given.items():
        if k not in AXES:
            raise _bad(f"axes.{k}", f"is unknown; accepted axes: {', '.join(AXES)}")
        axes[k] = _axis_values(f"axes.{k}", v)
    for k, (default, _, _) in AXES.items():
        axes.setdefault(k, (default,))
    nb, blind = _methods_section(d.get("methods", {}))
    report = dict(d.get("report", {}))
    for k, v in report.items():
        if k not in ("x", "y", "facet"):
            raise _bad(f"report.{k}", "is unknown; accepted: x, y, facet")
        if v not in AXES:
            raise _bad(f"report.{k}", f"has {v!r}; accepted axes: {', '.join(AXES)}")
    spec = AtlasSpec(axes={k: axes[k] for k in AXES}, nonblind=nb, blind=blind, report=report, **kw)
    if spec.images == "builtin" and spec.n_images > len(BUILTIN_IMAGES):
        raise _bad("atlas.n_images", f"is {spec.n_images}; the built-in set has {len(BUILTIN_IMAGES)} "
                   "images (give atlas.images = a folder for more)")
    if not spec.image_names():
        raise _bad("atlas.images", f"is {spec.images!r}: the folder holds no image")
    _check_sizes(spec)
    return spec


def _check_sizes(spec: AtlasSpec) -> None:
    kmax = spec.max_kernel_size()
    n = spec.image_size
    valid = n - kmax + 1
    blur_keys = [f"axes.{a}" for a in BLUR_AXES if len(spec.axes[a]) > 1 or spec.axes[a][0] != AXES[a][0]]
    who = ", ".join(blur_keys) or "axes"
    if valid < 16:
        raise _bad(who, f"give a kernel of {kmax} px that does not fit atlas.image_size={n} "
                   f"(the valid blur leaves {max(valid, 0)} px; need >= 16): enlarge the images "
                   "or shrink the blur")
    if spec.blind:
        kb = spec.blind_kernel_size(kmax)
        if 2 * kb > valid:
            raise _bad(who, f"give blind kernels of {kb} px; the estimators need at most half of the "
                       f"{valid} px valid image of atlas.image_size={n}: use images of at least "
                       f"{2 * kb + kmax - 1} px")


def default_spec_path() -> Path:
    """Path of the shipped default spec (``analysis/atlas_default.toml``)."""
    return Path(__file__).with_name("atlas_default.toml")


def load_spec(path: str | os.PathLike | None = None) -> AtlasSpec:
    """Read and validate a TOML spec (``None``: the shipped default spec)."""
    import tomllib

    p = default_spec_path() if path is None else Path(path)
    try:
        with open(p, "rb") as f:
            d = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"spec {str(p)!r} is not valid TOML: {exc}") from None
    return parse_spec(d)


def spec_from_dict(d: dict) -> AtlasSpec:
    """Rebuild an :class:`AtlasSpec` from :meth:`AtlasSpec.as_dict` (a stored table's spec)."""
    d = dict(d)
    d["axes"] = {k: tuple(float(x) for x in v) for k, v in d.get("axes", {}).items()}
    for k, (default, _, _) in AXES.items():
        d["axes"].setdefault(k, (default,))
    d["nonblind"] = tuple(d.get("nonblind", ()))
    d["blind"] = tuple(tuple(m.split(">", 1)) for m in d.get("blind", ()))
    return AtlasSpec(**d)
