"""Forward model: the blur operator, boundary handling, noise and the degradation pipeline.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur, degrade
>>> y, info = degrade(np.ones((32, 32)), np.ones((3, 3)), boundary="valid", noise=None)
>>> y.shape, float(y.mean())
((30, 30), 1.0)
"""

from . import noise
from .blur import Blur, convolve
from .boundary import BOUNDARIES
from .degrade import crop_valid, degrade, encode_gamma
from .noise import add_gaussian, add_poisson, add_poisson_gaussian, quantize, saturate

__all__ = ["Blur", "convolve", "BOUNDARIES", "degrade", "crop_valid", "encode_gamma", "noise",
           "add_gaussian", "add_poisson", "add_poisson_gaussian", "quantize", "saturate"]
from .space_varying import SpaceVaryingBlur  # noqa: E402  (issue 11: non-uniform blur)
__all__ += ["SpaceVaryingBlur"]
