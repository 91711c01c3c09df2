"""Generate ``02_known_optics.ipynb`` (run: ``python notebooks/_build_02_known_optics.py``).

The notebook is written without outputs; ``tests/test_notebooks.py`` executes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _nbtools import Cells, build

CELLS = Cells()
md, code = CELLS.md, CELLS.code


md(r"""
# Known optics: from a lens specification to a PSF, and back to a sharp image

Scientists and engineers usually *know* their optics: the wavelength, the f-number (or the
numerical aperture of a microscope objective), the pixel pitch, where the lens is focused and how
long the exposure is. This notebook turns such a specification into a point spread function with
Fourier optics, checks it against closed forms, and uses it to restore an image. It runs on a
laptop CPU in well under a minute.

1. a diffraction-limited lens: the Airy pattern, sampling, the MTF and its cutoff $1/(\lambda N)$;
2. aberrations as Zernike polynomials;
3. defocus: wave optics versus the geometric circle of confusion;
4. colour and camera motion;
5. lens spec → PSF → blurred photo → Wiener / Richardson–Lucy restoration;
6. a measured bead PSF and 3-D stacks.

**Units.** Plain numbers are metres; strings carry their unit: `"550nm"`, `"4.5um"`, `"50mm"`.
""")

code(r"""
%matplotlib inline
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")
import warnings
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt
from IPython.display import display

from hybrid_deblur import io, metrics
from hybrid_deblur.analysis import plots
from hybrid_deblur.physics import Blur, crop_valid, degrade
from hybrid_deblur.psf import measured, optics
from hybrid_deblur.solvers import richardson_lucy, wiener

plt.rcParams["figure.dpi"] = 72
""")

md(r"""
## 1. A perfect lens: the Airy pattern

A lens with a circular aperture and no aberrations images a point into the **Airy pattern**
$I(r) = \left[2 J_1(v)/v\right]^2$, $v = \pi r / (\lambda N)$. Its first dark ring is at
$r = 1.22\,\lambda N$ and holds 83.8 % of the light. `optics.pupil_psf` computes the PSF from the
pupil function (the Fourier transform of the aperture) and integrates it over each sensor pixel;
`optics.airy` is the closed form. Here a machine-vision lens at f/8, green light, 3.45 µm pixels:
""")

code(r"""
lens = dict(f_number=8, pixel_pitch="3.45um")
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    k, info = optics.pupil_psf("550nm", **lens, return_info=True)
print([str(x.message)[:90] + "..." for x in w])   # the sensor undersamples the optics
a = optics.airy("550nm", 8, "3.45um", size=k.shape[0])
print(f"PSF {k.shape}, sum {k.sum():.6f}; Nyquist pitch lambda*N/2 = {info['nyquist_pitch']*1e6:.2f} um, "
      f"undersampling x{info['undersampling']:.2f}; relative L2 to Airy: "
      f"{np.linalg.norm(k - a) / np.linalg.norm(a):.2%}")
display(plots.plot_psf(k, pixel_pitch="3.45um", title="f/8, 550 nm, 3.45 um pixels"))
""")

md(r"""
The **MTF** (modulation transfer function, $|{\rm OTF}|$) says how much contrast survives at each
spatial frequency. Diffraction cuts it off at $f_c = 1/(\lambda N)$ (227 cycles/mm at f/8); the pixel
aperture multiplies it by $|\mathrm{sinc}(f p)|$; the sensor Nyquist frequency $1/(2p)$ is where
aliasing starts. Above $f_c$ nothing can be recovered by *any* deconvolution.
""")

code(r"""
k_fine = optics.pupil_psf("550nm", f_number=8, pixel_pitch="0.5um", size=129)  # finer sensor
display(plots.plot_mtf([k_fine], labels=["f/8 at 0.5 um pixels"], pixel_pitch="0.5um",
                       wavelength="550nm", f_number=8))
f, m = measured.radial_mtf(k_fine, pixel_pitch="0.5um")
print(f"MTF falls below 1e-3 at {measured.mtf_cutoff(f, m) * 1e-3:.0f} cycles/mm; "
      f"theory 1/(lambda N) = {optics.diffraction_cutoff('550nm', f_number=8) * 1e-3:.0f} cycles/mm")
""")

md(r"""
## 2. Aberrations: Zernike polynomials

Real lenses deviate from a perfect spherical wave by a wavefront error $W(\rho, \theta)$, written as
a sum of **Zernike polynomials** $Z_j$ (Noll's numbering: 4 defocus, 5-6 astigmatism, 7-8 coma,
11 spherical). With Noll's normalisation each coefficient is the RMS wavefront error of its term,
in waves (floats) or as a length (`"0.05um"`). Maréchal's rule: the peak intensity (Strehl ratio)
is about $e^{-(2\pi\sigma)^2}$ for an RMS error $\sigma$ in waves.
""")

code(r"""
terms = {"defocus": 4, "astigmatism": 6, "coma": 8, "spherical": 11}
kw = dict(f_number=8, pixel_pitch="0.5um", size=81, return_info=True)
ideal, inf0 = optics.pupil_psf("550nm", **kw)
peak0 = ideal.max() * inf0["energy_fraction"]  # peak as a share of the *total* energy
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, (name, j) in zip(axes, terms.items()):
    kk, inf = optics.pupil_psf("550nm", zernike={j: 0.1}, **kw)
    ax.imshow(kk[20:61, 20:61], cmap="inferno")
    ax.set_title(f"{name} 0.1 wave RMS\nStrehl {kk.max() * inf['energy_fraction'] / peak0:.3f} "
                 f"(Marechal {np.exp(-(2 * np.pi * 0.1) ** 2):.3f})", fontsize=9)
    ax.axis("off")
plt.show()
""")

md(r"""
## 3. Defocus: wave optics and the circle of confusion

A thin lens of focal length $f$ focused at distance $s_f$ images an object at $s_o$ behind or in
front of the sensor; ray optics gives a uniform **circle of confusion** of diameter
$c = D\,|v_o - v_f| / v_o$. Wave optics gives the same blur as a defocus wavefront
$W_{020} = \tfrac{D^2}{8}(1/v_f - 1/v_o)$. For a fraction of a wave the PSF is still an Airy-like
spot; beyond a few waves it approaches the geometric disk:
""")

code(r"""
print("object   W020 (waves)   CoC radius (px)   80%-energy radius: wave / geometric")
for so in ("1.9m", "1.5m", "0.94m", "0.62m"):
    d = optics.thin_lens_defocus("50mm", 8, "2m", so, "2um", wavelength="550nm")
    ratio = measured.encircled_energy_radius(d.psf, 0.8) / (d.coc_radius_px * np.sqrt(0.8))
    print(f"{so:>6} {d.w020_waves:14.2f} {d.coc_radius_px:17.1f} {ratio:22.3f}")
d = optics.thin_lens_defocus("50mm", 8, "2m", "0.94m", "2um", wavelength="550nm")
display(plots.plot_encircled_energy([d.psf, d.geometric_psf(d.psf.shape[0])],
                                    labels=["wave optics", "geometric disk"], pixel_pitch="2um"))
""")

md(r"""
## 4. Colour and motion

Diffraction scales with wavelength, so red light spreads more than blue. `optics.rgb_psfs` sums
monochromatic PSFs over each colour channel's spectral sensitivity (Gaussian bands by default;
pass your own `spectra`). Aberrations given in waves at a reference wavelength are treated as a
fixed optical path difference.

Camera motion during the exposure comes from physical quantities too: an angular velocity (rad/s,
for instance from a gyroscope trace), the exposure time, the focal length and the pixel pitch give
the image path in pixels, which is rasterised and convolved with the lens PSF.
""")

code(r"""
rgb = optics.rgb_psfs(f_number=11, pixel_pitch="1.5um")  # size: automatic
print("50%-energy radius R, G, B (px):",
      [round(measured.encircled_energy_radius(c, 0.5), 2) for c in rgb])
t = np.linspace(0, 1, 50)
gyro = np.stack([np.deg2rad(3.0) * np.cos(6 * t), np.deg2rad(2.0) * np.sin(9 * t)], 1)  # rad/s
shake = optics.motion_psf(gyro, 1 / 15, "35mm", "1.5um",
                          optics=optics.pupil_psf("550nm", f_number=11, pixel_pitch="1.5um"))
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, img, title in zip(axes, [*rgb, shake], ["R", "G", "B", "shake (1/15 s) * lens"]):
    ax.imshow(img, cmap="inferno")
    ax.set_title(title)
    ax.axis("off")
plt.show()
""")

md(r"""
## 5. Lens spec → PSF → blurred photo → restoration

A small sensor behind a slightly defocused f/4 lens with some spherical aberration, 1.4 µm
pixels. We blur a linear-light image with that PSF in `valid` mode (the honest model of a photo:
the observation is smaller than the scene), add Poisson + Gaussian noise, and restore with the
classical solvers. PSNR is measured against the matching part of the sharp scene.
""")

code(r"""
spec = dict(wavelength="550nm", f_number=4, pixel_pitch="1.4um",
            zernike={"defocus": 0.3, "spherical": 0.1})
with warnings.catch_warnings():
    warnings.simplefilter("ignore", optics.UndersampledWarning)
    k_sys = optics.pupil_psf(spec["wavelength"], f_number=4, pixel_pitch="1.4um",
                             zernike=spec["zernike"])
x = io.sample_image("camera")[::2, ::2].copy()
y, rec = degrade(x, k_sys, boundary="valid", noise={"poisson": 2000, "gaussian": 0.002}, seed=0)
ref = crop_valid(x, k_sys.shape)
x_w = crop_valid(wiener(y, k_sys, boundary="valid"), k_sys.shape)
x_rl = crop_valid(richardson_lucy(y, k_sys, 10, boundary="valid"), k_sys.shape)  # early stop
scores = {name: metrics.psnr(np.clip(im, 0, 1), ref)
          for name, im in [("blurred", y), ("Wiener", x_w), ("Richardson-Lucy", x_rl)]}
print(f"PSF {k_sys.shape}; noise {rec['noise']}; " +
      ", ".join(f"{n} {v:.2f} dB" for n, v in scores.items()))
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
for ax, img, title in zip(axes, [ref, y, x_w, x_rl], ["sharp", *scores]):
    ax.imshow(np.clip(io.linear_to_srgb(np.clip(img, 0, 1)), 0, 1), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{title}" + (f" {scores[title]:.1f} dB" if title in scores else ""), fontsize=9)
    ax.axis("off")
plt.show()
display(plots.plot_mtf([k_sys], labels=["system PSF"], pixel_pitch="1.4um",
                       wavelength="550nm", f_number=4))
""")

md(r"""
Richardson–Lucy is stopped after 10 iterations: it *semi-converges*, and more iterations fit
the noise (try 30). The MTF explains the result: frequencies where the system MTF is tiny are buried in noise and
cannot come back, whatever the solver; those above the diffraction cutoff are gone for good.

## 6. Measured PSFs and 3-D stacks

A bead image from a microscope arrives as raw counts with a camera offset, off-centre and noisy.
`measured.ingest` estimates the offset from the border, subtracts it, centres the PSF with
sub-pixel accuracy, crops it to 99 % of its energy and normalises it; `measured.fit` fits a
Gaussian, Airy or defocus model. The lattice light-sheet bead stack from `../shared/data` is used
when it is present.
""")

code(r"""
DATA = Path("..") / ".." / "shared" / "data" / "psf_measured_llsm" / "psf.tif"
if DATA.exists():
    bead, rep = measured.ingest(DATA, return_info=True)
    fit = measured.fit(bead, "gaussian", pixel_pitch=("0.1um", "0.1um", "0.1um"))
    print(f"camera offset {rep['background']:.0f} counts, bead found at {np.round(rep['center_found'], 2)}, "
          f"PSF {bead.shape}; lateral FWHM {fit.physical['fwhm']*1e6:.3f} um, "
          f"axial FWHM {fit.physical['fwhm_axial']*1e6:.3f} um")
    display(plots.plot_psf_stack(bead, mode="mip", voxel_size=("0.1um", "0.1um", "0.1um"),
                                 log=True, title="LLSM bead"))
else:
    print("shared data not found; skipping the measured bead")
""")

md(r"""
The same operator and solvers work on (z, y, x) stacks with `ndim=3`. `optics.pupil_psf_3d`
propagates the pupil to each focal plane (widefield fluorescence, NA 0.9 in air); we blur a phantom
of spheres, add Poisson noise and deconvolve with 3-D Richardson–Lucy.
""")

code(r"""
with warnings.catch_warnings():
    warnings.simplefilter("ignore", optics.GridWarning)
    k3 = optics.pupil_psf_3d("520nm", na=0.9, pixel_pitch="100nm", z_step="200nm", nz=15, size=25)
rng = np.random.default_rng(0)
zz, yy, xx = np.indices((32, 64, 64))
vol = np.full((32, 64, 64), 0.05)
for _ in range(12):
    c, r = rng.uniform([6, 10, 10], [26, 54, 54]), rng.uniform(2, 6)
    vol[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < r * r] = rng.uniform(0.5, 1.0)
obs = rng.poisson(Blur(k3, boundary="circular", ndim=3)(vol) * 200) / 200
rec3 = richardson_lucy(obs, k3, 10, ndim=3, boundary="circular")
p = lambda a: 10 * np.log10(1 / np.mean((a - vol) ** 2))
print(f"blurred {p(obs):.2f} dB -> 3-D RL {p(rec3):.2f} dB")
display(plots.plot_psf_stack(k3, voxel_size=("200nm", "100nm", "100nm"), log=True,
                             title="widefield PSF"))
fig, axes = plt.subplots(2, 3, figsize=(10, 5.5))
for col, (img, title) in enumerate([(vol, "truth"), (obs, "widefield"), (rec3, "3-D RL")]):
    axes[0, col].imshow(img[16], cmap="magma", vmin=0, vmax=1)
    axes[0, col].set_title(f"{title}: XY plane z=16", fontsize=9)
    axes[1, col].imshow(img[:, 32], cmap="magma", vmin=0, vmax=1, aspect=2)
    axes[1, col].set_title("XZ plane y=32 (z step 2x)", fontsize=9)
for ax in axes.ravel():
    ax.axis("off")
plt.show()
""")

md(r"""
## Summary

* `optics.pupil_psf` turns wavelength, f-number/NA, pixel pitch and Zernike aberrations into a
  pixel-integrated PSF; it agrees with the Airy closed form and warns when the sensor
  undersamples the optics or the window is too small.
* The MTF and its cutoff $1/(\lambda N)$ bound what any restoration can recover.
* Defocus from thin-lens geometry tends to the geometric disk once it exceeds a few waves.
* Measured PSFs are cleaned up by `measured.ingest` and summarised by `measured.fit`.
* The CLI does the same: `hybrid-deblur psf --optics wavelength=550nm,fnum=2.8,pixel=4.5um,defocus=1 -o lens.npy`
  and `hybrid-deblur psf --measured bead.tif -o bead.npy`; `benchmarks/optics_checks.py` measures
  every check against its closed form.

Exercises: (1) open the lens to f/2 in section 5 — what happens to the PSF size and the
restoration? (2) Replace the Gaussian default channel spectra by your camera's measured curves.
""")


if __name__ == "__main__":
    build(CELLS, Path(__file__).resolve().parent / "02_known_optics.ipynb")
