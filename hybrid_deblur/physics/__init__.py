"""Forward model: the blur operator, boundary handling, noise and the degradation pipeline."""

from .blur import Blur, convolve
from .boundary import BOUNDARIES

__all__ = ["Blur", "convolve", "BOUNDARIES"]
