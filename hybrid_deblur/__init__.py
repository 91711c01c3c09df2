"""hybrid_deblur: physics-first image deblurring.

One forward model (PSFs, a blur operator with explicit boundaries, noise) serves
classical solvers (NumPy / CuPy), blind kernel estimation and hybrid learned
networks (PyTorch).
"""

__version__ = "0.1.0"
