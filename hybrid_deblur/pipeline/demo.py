"""The demo: one image, mixed motion + defocus blur + noise, restored by every method we have.

Used by ``hybrid-deblur demo`` and ``make demo``. Everything is offline: the sharp
image ships with scikit-image.

Examples
--------
>>> from hybrid_deblur.pipeline.demo import run_demo
>>> summary = run_demo("demo_out", methods=["wiener"], size=128)   # doctest: +SKIP
>>> summary["results"]["wiener"]["psnr"] > summary["blurred"]["psnr"]  # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy


def _center_crop(x: np.ndarray, shape) -> np.ndarray:
    cur = x.shape[-2:]
    sl = tuple(slice((c - s) // 2, (c - s) // 2 + s) for c, s in zip(cur, shape))
    return x[(...,) + sl]


def demo_problem(image: str = "camera", *, size: int | None = 384, motion=(17.0, 30.0),
                 defocus: float = 3.0, sigma: float = 0.01, seed: int = 0):
    """Sharp image, PSF (linear motion ⊛ defocus disk) and its ``valid`` blurred, noisy observation."""
    from ..io import imread, sample_image
    from ..io.read import SAMPLE_IMAGES
    from ..physics import crop_valid, degrade
    from ..psf import combine, disk, linear_motion

    # --- issue 14: an image path or a sample name, checked before any work; grey, said ---
    p = Path(image)
    if p.is_file():
        x = imread(p)
    elif str(image) in SAMPLE_IMAGES:
        x = sample_image(str(image))
    else:
        raise ValueError(f"--image {image!r}: no such file, and not a sample image name "
                         f"(samples: {', '.join(sorted(SAMPLE_IMAGES))})")
    if x.ndim == 3:  # the demo runs on luminance; run_demo's summary and the CLI say so
        x = x.mean(axis=0)
    # --- end issue 14 ---
    if size is not None and min(x.shape) > size:
        x = _center_crop(x, (size, size))
    psf = combine(linear_motion(motion[0], motion[1]), disk(defocus))
    y, info = degrade(x, psf, boundary="valid", noise=sigma, seed=seed)
    return x, crop_valid(x, psf.shape), psf, y, info


def run_demo(out: str | Path = "demo_out", *, image: str = "camera", methods: Sequence[str] | None = None,
             blind: bool = True, size: int | None = 384, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Run every available method but ``registry.NOT_DEFAULT`` on the demo problem; write
    ``demo.png`` and ``metrics.json``.

    Every image (the blurred input included) is scored as it is shown and saved: clipped to
    [0, 1]. The solvers themselves never clip (their overshoots are information), but a PNG
    or a figure does, and the table should describe the picture the user looks at.

    Returns the summary dict that is written to ``metrics.json``.
    """
    from ..io import atomic_save_json
    from ..metrics import psnr as _psnr
    from ..metrics import ssim as _ssim
    from .deblurrer import Deblurrer

    def psnr(a, r):
        return _psnr(np.clip(a, 0, 1), r)

    def ssim(a, r):
        return _ssim(np.clip(a, 0, 1), r)
    from ..analysis.registry import NOT_DEFAULT
    from .methods import available_methods

    out = Path(out)
    _x, ref, psf, y, info = demo_problem(image, size=size, seed=seed)  # bad --image: nothing written
    out.mkdir(parents=True, exist_ok=True)
    default_set = methods is None  # the default set leaves out methods that ship no weights
    methods = list([m for m in available_methods() if m not in NOT_DEFAULT] if methods is None else methods)
    skipped: list[str] = []
    results: dict[str, dict] = {}
    images: dict[str, np.ndarray] = {}
    kernels: dict[str, np.ndarray] = {"PSF (motion + defocus)": np.asarray(psf)}
    try:
        from tqdm.auto import tqdm
        it = tqdm(methods, desc="demo", disable=not progress)
    except ImportError:  # pragma: no cover
        it = methods
    for name in it:
        t0 = time.perf_counter()
        try:
            xr = np.asarray(to_numpy(Deblurrer(name).restore(y, psf)))
        except Exception as exc:  # noqa: BLE001 - a broken method is reported, not fatal
            if default_set and _no_shipped_weights(exc):
                skipped.append(name)
                continue
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        xr = _center_crop(xr, ref.shape)
        results[name] = {"psnr": round(float(psnr(xr, ref)), 3), "ssim": round(float(ssim(xr, ref)), 4),
                         "seconds": round(time.perf_counter() - t0, 3)}
        images[name] = xr
    if blind:
        label = "blind (auto + hqs-tv)"
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                xr, rep = Deblurrer("hqs-tv", estimator="auto", progress=progress).restore(
                    y, return_report=True)
            xr = _center_crop(np.asarray(to_numpy(xr)), ref.shape)
            results[label] = {
                "psnr": round(float(psnr(xr, ref)), 3), "ssim": round(float(ssim(xr, ref)), 4),
                "seconds": round(rep["seconds"], 3), "seconds_estimate": round(rep["seconds_estimate"], 3),
                "decision": rep["decision"], "confidence": round(float(rep["confidence"]), 3)}
            images[label] = xr
            kernels[f"estimated PSF ({rep['decision']})"] = np.asarray(to_numpy(rep["psf"]))
        except Exception as exc:  # noqa: BLE001 - a broken blind path is reported, not fatal
            results[label] = {"error": f"{type(exc).__name__}: {exc}"}
    yb = _center_crop(y, ref.shape)
    summary = {
        "image": image, "degradation": info, "note": _colour_note(image),  # issue 14
        "blurred": {"psnr": round(float(psnr(yb, ref)), 3), "ssim": round(float(ssim(yb, ref)), 4)},
        "results": results,
        "skipped_no_weights": skipped,
    }
    _figure(out / "demo.png", ref, y, kernels, images, results, summary["blurred"])
    atomic_save_json(out / "metrics.json", summary)
    return summary


def _no_shipped_weights(exc: Exception) -> bool:
    """True for the learned methods' "has no shipped weights" error (not for corrupt weights)."""
    import sys

    w = sys.modules.get("hybrid_deblur.learned.weights")  # loaded by whoever raised it
    return w is not None and isinstance(exc, w.WeightsError) and "has no shipped weights" in str(exc)


def _colour_note(image: str) -> str | None:
    """Issue 14: say when a colour input was turned to grey (the demo runs on luminance)."""
    from ..io import imread, sample_image

    p = Path(image)
    x = imread(p) if p.is_file() else sample_image(str(image))
    if x.ndim == 3 and x.shape[0] > 1:
        return (f"colour image {image!r} converted to grey (channel mean): the demo runs on "
                "luminance; `hybrid-deblur deblur` keeps colour")
    return None


def _figure(path: Path, ref, y, kernels, images, results, blurred) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_write, linear_to_srgb

    panels = [("sharp", ref), (f"blurred {blurred['psnr']:.2f} dB", y)]
    panels += [(f"{n} {results[n]['psnr']:.2f} dB", im) for n, im in images.items()]
    n = len(panels) + len(kernels)
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.3 * rows))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, (title, im) in zip(axes, panels):
        ax.imshow(np.clip(linear_to_srgb(np.clip(im, 0, 1)), 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    for ax, (title, k) in zip(axes[len(panels):], kernels.items()):
        ax.imshow(k, cmap="inferno")
        ax.set_title(f"{title} {k.shape[0]}x{k.shape[1]}", fontsize=9)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
