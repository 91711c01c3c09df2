"""Generate ``01_blur_physics.ipynb`` (run: ``python notebooks/_build_01_blur_physics.py``).

The notebook is written without outputs; ``tests/test_notebooks.py`` executes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _nbtools import Cells, build

CELLS = Cells()
md, code = CELLS.md, CELLS.code


# ----------------------------------------------------------------------------- intro
md(r"""
# Blur physics: from a point of light to a blurred photo

This notebook is a first tour of the **forward model** that every method in `hybrid_deblur`
inverts. It runs on a laptop CPU in well under a minute.

A blurred photograph $y$ is modelled as

$$ y = k * x + n, $$

where $x$ is the sharp scene (in *linear light*, i.e. proportional to photon counts), $k$ is the
**point spread function** (PSF), $*$ is a true **convolution**, and $n$ is noise. We will look at

1. what a PSF is, and a few typical shapes (Gaussian, defocus disk, motion, camera shake);
2. the **OTF** (the Fourier transform of the PSF) and why its *zeros* make deblurring hard;
3. why the image **boundary** matters;
4. **noise** models (Gaussian, Poisson, quantisation, saturation);
5. a naive **inverse filter** versus the **Wiener** filter.
""")

code(r"""
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import matplotlib.pyplot as plt

from hybrid_deblur import backend, io, metrics, psf as P
from hybrid_deblur.physics import Blur, crop_valid, degrade

plt.rcParams["figure.dpi"] = 80


def show(images, titles, *, linear=True, cmap="gray", size=3.0):
    # Linear-light images are sRGB-encoded for display (and clipped to [0, 1]: display only).
    # linear=False (or a list of flags, one per image) shows raw values with their own range.
    flags = linear if isinstance(linear, (list, tuple)) else [linear] * len(images)
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size))
    for ax, im, title, lin in zip(np.atleast_1d(axes), images, titles, flags):
        im = np.asarray(im)
        if lin:
            im = np.clip(io.linear_to_srgb(im), 0, 1)
        ax.imshow(im, cmap=cmap, vmin=0 if lin else None, vmax=1 if lin else None)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    plt.tight_layout()
    plt.show()


# a 256 x 256 sharp test image bundled with scikit-image, in linear light
x = io.sample_image("camera")[::2, ::2].copy()
x.shape, float(x.min()), float(x.max())
""")

# ----------------------------------------------------------------------------- 1. PSFs
md(r"""
## 1. The point spread function

Photograph a single bright point (a star, a fluorescent bead) and you get a small smudge: that
smudge *is* the PSF. Because the optics act the same way on every point (we assume a
*shift-invariant* blur), the photo of any scene is the sum of shifted, scaled copies of the PSF:

$$ (k * x)[i] = \sum_j k[j]\, x[i - j]. $$

Conventions in this toolkit: a PSF is non-negative, **sums to 1** (blur moves light around, it
does not create or destroy it) and its centre is the pixel `(kh // 2, kw // 2)`.

Typical shapes:

* **Gaussian**: atmospheric turbulence, a slightly soft lens, a microscope (approximately);
* **disk** ("pillbox"): an out-of-focus lens, the image of the aperture;
* **linear motion**: the camera or the object moved in a straight line during the exposure;
* **camera shake**: a random hand-held trajectory;
* **combinations**: the blurs happen one after the other, so their PSFs *convolve*.
""")

code(r"""
kernels = {
    "Gaussian σ=2": P.gaussian(2.0, 25),
    "defocus disk r=5": P.disk(5.0, 25),
    "motion 15 px, 30°": P.linear_motion(15, 30, 25),
    "camera shake": P.trajectory_motion(size=25, length=30, anxiety=0.01, seed=3),
}
kernels["motion ⊛ disk"] = P.combine(kernels["motion 15 px, 30°"], P.disk(2.5))

fig, axes = plt.subplots(1, len(kernels), figsize=(14, 3))
for ax, (name, k) in zip(axes, kernels.items()):
    ax.imshow(k, cmap="magma")
    ax.set_title(f"{name}\nshape {k.shape}, sum {k.sum():.3f}", fontsize=9)
    ax.axis("off")
plt.show()
""")

md(r"""
**Check:** blurring an image that contains a single bright pixel (a "delta") returns the PSF
itself, centred on that pixel. This is exactly what the definition above says.
""")

code(r"""
k = kernels["camera shake"]
delta = np.zeros((41, 41))
delta[20, 20] = 1.0
blurred_delta = Blur(k, boundary="zero").A(delta)
c = k.shape[0] // 2
print("PSF recovered from a delta:", np.allclose(blurred_delta[20 - c:20 + c + 1, 20 - c:20 + c + 1], k))
""")

code(r"""
blurred = {name: Blur(k, boundary="reflect").A(x) for name, k in kernels.items()}
show([x] + list(blurred.values()), ["sharp"] + list(blurred), size=2.6)
""")

# ----------------------------------------------------------------------------- 2. OTF
md(r"""
## 2. The OTF and its zeros

The **convolution theorem** turns the convolution into a product of Fourier transforms:

$$ \mathcal{F}(k * x) = H \cdot X, \qquad H = \mathcal{F}(k) \;\text{ (the optical transfer function, OTF).} $$

Each spatial frequency $f$ of the scene is multiplied by $H(f)$. Since the PSF sums to 1,
$H(0) = 1$: the mean brightness is kept. High frequencies (fine detail) are attenuated. Where
$|H(f)| = 0$ the information at that frequency is **gone**: no algorithm can read it back from
$y$ alone; it has to be guessed with prior knowledge about images.

`hybrid_deblur.psf.psf2otf` computes $H$ on an image grid (zero-pad the PSF, roll its centre to
pixel 0, real FFT). Below, $\log_{10} |H|$ (dark = small): the Gaussian decays smoothly and is
never zero; the disk has rings of zeros; motion blur has lines of zeros perpendicular to the
motion.
""")

code(r"""
grid = (128, 128)
fig, axes = plt.subplots(1, len(kernels), figsize=(14, 3.2))
for ax, (name, k) in zip(axes, kernels.items()):
    H = backend.to_numpy(P.psf2otf(k, grid))  # real-FFT half plane: shape (128, 65)
    H = np.fft.fftshift(H, axes=0)            # zero frequency in the middle of the vertical axis
    ax.imshow(np.log10(np.abs(H) + 1e-6), cmap="viridis", vmin=-4, vmax=0, aspect="auto",
              extent=[0, 0.5, 0.5, -0.5])
    ax.set_title(f"log10 |OTF|: {name}", fontsize=9)
    ax.set_xlabel("fx (cycles/pixel)")
    ax.set_ylabel("fy")
plt.tight_layout()
plt.show()
""")

md(r"""
**Where are the zeros?** For a horizontal motion of length $L$ pixels the PSF is (almost) a box
of width $L$, whose Fourier transform is a sinc: $|H(f_x)| \approx |\mathrm{sinc}(L f_x)|$,
with zeros at $f_x = 1/L, 2/L, \dots$ cycles per pixel. For a disk of radius $R$ the transform is
an Airy-like pattern $2 J_1(2\pi R\rho) / (2\pi R \rho)$, first zero at $\rho \approx 0.61 / R$.
Let us check both on a 1-D cut through the OTF.
""")

code(r"""
from scipy.special import j1

N = 240
f = np.arange(N // 2 + 1) / N                                   # cycles per pixel
L, R = 15, 5.0
H_motion = backend.to_numpy(P.psf2otf(P.linear_motion(L, 0.0), (N, N)))[0]
H_disk = backend.to_numpy(P.psf2otf(P.disk(R), (N, N)))[0]

fig, ax = plt.subplots(1, 2, figsize=(11, 3.2))
ax[0].semilogy(f, np.abs(H_motion) + 1e-8, label="|OTF| of linear_motion(15)")
ax[0].semilogy(f, np.abs(np.sinc(L * f) * np.sinc(f) ** 2) + 1e-8, "--", label="sinc(L f)·sinc²(f)")
for n in range(1, 8):
    ax[0].axvline(n / L, color="gray", lw=0.5)
ax[0].set_xlabel("f (cycles/pixel)"); ax[0].set_ylim(1e-4, 1.5); ax[0].legend(fontsize=8)
ax[0].set_title("motion blur: zeros at n / L")
rho = np.maximum(f, 1e-9)
airy = 2 * j1(2 * np.pi * R * rho) / (2 * np.pi * R * rho)
ax[1].semilogy(f, np.abs(H_disk) + 1e-8, label="|OTF| of disk(5)")
ax[1].semilogy(f, np.abs(airy) + 1e-8, "--", label="2 J1(2πRρ)/(2πRρ)")
ax[1].axvline(0.6098 / R, color="gray", lw=0.5)
ax[1].set_xlabel("ρ (cycles/pixel)"); ax[1].set_ylim(1e-4, 1.5); ax[1].legend(fontsize=8)
ax[1].set_title("defocus: first zero at 0.61 / R")
plt.tight_layout()
plt.show()
zero_bins = [round(N * n / L) for n in (1, 2, 3)]
print("|H| at f = 1/L, 2/L, 3/L:", np.abs(H_motion[zero_bins]).round(12))
""")

md(r"""
(The extra factor $\mathrm{sinc}^2(f)$ in the motion model comes from the anti-aliasing used to
draw a segment of arbitrary length and angle on the pixel grid; it does not move the zeros.)
""")

# ----------------------------------------------------------------------------- 3. boundaries
md(r"""
## 3. Why boundaries matter

The FFT computes a **circular** convolution: the image is treated as if it tiled the plane
periodically, so light blurred off the right edge comes back on the left. That is convenient for
synthetic experiments, but a real camera does not do it: pixels near the edge of a photo receive
light from parts of the scene *outside* the frame. The honest model is the **valid** convolution,
whose output is smaller than the scene by $k - 1$ pixels.

Every blur and every solver in the toolkit takes an explicit `boundary=` argument.
""")

code(r"""
k = P.linear_motion(21, 0.0)                     # strong horizontal motion
y_circ = Blur(k, boundary="circular").A(x)       # wraps around
y_valid = Blur(k, boundary="valid").A(x)         # what a camera sees: smaller
y_true = Blur(k, boundary="reflect").A(x)        # a stand-in for the real scene beyond the frame
print("scene", x.shape, "| circular", y_circ.shape, "| valid", y_valid.shape)
show([x, y_circ, y_valid, np.abs(y_circ - y_true)],
     ["sharp scene", "circular blur (wraps)", "valid blur (smaller)", "|circular − reflect|"],
     linear=[True, True, True, False], size=2.8)
""")

md(r"""
The last panel shows where the circular model differs from a blur that extends the scene by
reflection: only in bands of width $k/2$ at the left and right edges, where light from the
opposite side of the image has wrapped around. Now the consequence for deblurring: a solver that *assumes*
circular blur, applied to a real (valid) photo, sees a model error at the borders and produces
**ringing** there. The Wiener solver with `boundary="auto"` (the default) first extends the photo
smoothly (reflection + edge taper) and does not ring.
""")

code(r"""
from hybrid_deblur.solvers import wiener

y_photo, info = degrade(x, k, boundary="valid", noise=0.005, seed=0)
ref = crop_valid(x, k.shape)                      # the part of the scene y_photo shows
x_circ = wiener(y_photo, k, boundary="circular", sigma=0.005)
x_auto = wiener(y_photo, k, sigma=0.005)          # boundary="auto"
show([y_photo, x_circ, x_auto],
     ["valid blur + noise",
      f"circular model: {metrics.psnr(x_circ, ref):.1f} dB",
      f"boundary='auto': {metrics.psnr(x_auto, ref):.1f} dB"])
""")

# ----------------------------------------------------------------------------- 4. noise
md(r"""
## 4. Noise models

Sensors add noise *after* the blur. The main sources:

* **Gaussian read noise**: $n \sim \mathcal N(0, \sigma^2)$, independent of the signal
  ($\sigma$ on the $[0, 1]$ scale; $\sigma = 0.01$ is 2.55 grey levels of an 8-bit image);
* **Poisson (shot) noise**: light arrives in photons. With a peak of $P$ photons for a white
  pixel, $P\,y \sim \mathrm{Poisson}(P\,(k * x))$, so the variance *grows with brightness*:
  $\mathrm{Var}[y] = (k*x)/P$;
* **quantisation**: 8-bit files keep 256 levels (error up to $\pm 1/510$);
* **saturation**: pixels brighter than the full well are clipped at 1 (light sources!).

`hybrid_deblur.physics.degrade` applies them in that physical order and reports what it did.
""")

code(r"""
k = P.gaussian(1.5)
y_g, _ = degrade(x, k, boundary="valid", noise=0.03, seed=1)
y_p, _ = degrade(x, k, boundary="valid", noise={"poisson": 100}, seed=1)
y_q, _ = degrade(x, k, boundary="valid", noise={"bits": 3}, seed=1)
y_s, info = degrade(1.6 * x, k, boundary="valid", noise={"gaussian": 0.01, "saturation": 1.0}, seed=1)
show([y_g, y_p, y_q, y_s],
     ["Gaussian σ=0.03", "Poisson, 100 photons", "3-bit quantisation", "overexposed ×1.6, saturated"],
     size=2.8)
info["noise"]
""")

md(r"""
**Check the Poisson law:** on a smooth ramp, the variance of the noise should be proportional to
the brightness, with slope $1/P$.
""")

code(r"""
ramp = np.tile(np.linspace(0.05, 1.0, 20), (4000, 1))          # 20 brightness levels
peak = 200.0
noisy, _ = degrade(ramp, np.ones((1, 1)), boundary="circular", noise={"poisson": peak}, seed=2)
var = (noisy - ramp).var(axis=0)
slope = np.polyfit(ramp[0], var, 1)[0]
plt.figure(figsize=(4.5, 3))
plt.plot(ramp[0], var, "o", label="measured variance")
plt.plot(ramp[0], ramp[0] / peak, label="mean / P")
plt.xlabel("brightness"); plt.ylabel("noise variance"); plt.legend(); plt.show()
print(f"fitted slope {slope:.5f}  vs  1/P = {1 / peak:.5f}")
""")

# ----------------------------------------------------------------------------- 5. inverse vs Wiener
md(r"""
## 5. Naive inverse filter versus Wiener

If $Y = H X + N$, the obvious estimate is to divide: $\hat X = Y / H$. Without noise (and with
circular blur) this is exact. With noise, $\hat X = X + N / H$: wherever $|H|$ is tiny the noise is
multiplied by a huge factor, and near the zeros of the OTF the result explodes.

The **Wiener filter** is the linear estimate with the smallest mean squared error:

$$ \hat X = \frac{\overline{H}}{|H|^2 + \mathrm{NSR}}\, Y, $$

where NSR is the noise-to-signal power ratio. Where the blur passes the signal ($|H|^2 \gg$ NSR)
it behaves like the inverse filter; where it does not ($|H|^2 \ll$ NSR) it gives up gracefully
(the gain goes to 0) instead of amplifying noise.

We use the circular model here (so that only the noise matters) and write both filters with the
library's OTF (`Blur.otf`) and FFT helpers.
""")

code(r"""
k = P.linear_motion(15, 30)
A = Blur(k, boundary="circular")
sigma = 0.01
y, _ = degrade(x, k, boundary="circular", noise=sigma, seed=3)

H = A.otf(x.shape, like=x)                        # OTF on the image grid (real-FFT half plane)
Y = backend.rfftn(y)
x_noiseless = backend.irfftn(backend.rfftn(A.A(x)) / H, s=x.shape)   # inverse filter, no noise
x_inverse = backend.irfftn(Y / H, s=x.shape)                          # inverse filter, noisy
nsr = 1e-2
x_wiener = backend.irfftn(np.conj(H) * Y / (np.abs(H) ** 2 + nsr), s=x.shape)

print(f"smallest |H| on the grid: {np.abs(H).min():.2e}")
print(f"inverse filter, noiseless data: max error {np.abs(x_noiseless - x).max():.1e}")
show([y, x_inverse, x_wiener],
     [f"blurred + noise σ={sigma}: {metrics.psnr(y, x):.1f} dB",
      f"inverse filter: {metrics.psnr(x_inverse, x):.1f} dB",
      f"Wiener, NSR={nsr}: {metrics.psnr(x_wiener, x):.1f} dB"])
""")

md(r"""
The toolkit's solver gives the same result (`hybrid_deblur.solvers.wiener` with the same NSR and
`boundary="circular"`), and can also choose the NSR itself from an estimate of the noise level and
a $1/f^2$ model of natural-image spectra (`nsr=None`, the default).

The NSR is a **trade-off**: too small and the noise comes back, too large and the image stays
blurred.
""")

code(r"""
x_lib = wiener(y, k, nsr=nsr, boundary="circular")
print("library == hand-written Wiener:", np.allclose(x_lib, x_wiener, atol=1e-10))

nsrs = np.logspace(-6, 0, 25)
scores = [metrics.psnr(wiener(y, k, nsr=v, boundary="circular"), x) for v in nsrs]
x_auto, info = wiener(y, k, boundary="circular", return_info=True)
plt.figure(figsize=(5, 3))
plt.semilogx(nsrs, scores, "o-", label="fixed NSR")
plt.axhline(metrics.psnr(x_auto, x), color="C1", ls="--", label="automatic NSR (nsr=None)")
plt.xlabel("NSR"); plt.ylabel("PSNR (dB)"); plt.legend(); plt.show()
print(f"best fixed NSR {nsrs[int(np.argmax(scores))]:.1e}: {max(scores):.2f} dB;"
      f" automatic: {metrics.psnr(x_auto, x):.2f} dB")
""")

md(r"""
## Summary and exercises

* A PSF sums to 1 and describes how one point of light spreads; blur is a convolution with it.
* The OTF tells which frequencies survive; its zeros destroy information for good.
* Real photos follow the **valid** model; assuming circular blur causes ringing at the borders.
* Noise is amplified by $1/|H|$: the inverse filter is useless on real data; Wiener balances
  noise against blur with the NSR.

Exercises:

1. Make the motion longer (`linear_motion(31, ...)`). Where do the OTF zeros move? What happens
   to the inverse filter?
2. Replace the Gaussian noise by Poisson noise with 30 photons. Is a single NSR still a good
   model? (Hint: look at the noise in dark and bright regions.)
3. Compare `boundary="circular"` and `boundary="auto"` in the Wiener solver on a colour image
   (`io.sample_image("astronaut")`, shape `(3, H, W)`).
""")


if __name__ == "__main__":
    build(CELLS, Path(__file__).resolve().parent / "01_blur_physics.ipynb")
