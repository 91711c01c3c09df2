"""Grouped and depthwise-separable variants of a trained convolutional network.

:func:`separable_variant` replaces every k x k convolution (k > 1, no groups yet) of a
model by a depthwise k x k convolution followed by a pointwise 1 x 1 convolution, and
initialises the pair with the **best** such factorisation of the trained weights: for
each input channel ``i`` the slice :math:`W_{:, i}` (``c_out x k²``) is replaced by its
rank-1 truncated SVD :math:`p_i d_i^T` (Eckart–Young: the closest depthwise-separable
kernel in the Frobenius norm, channel by channel). :func:`grouped_variant` keeps the
block-diagonal part of each weight for ``groups`` groups. Either variant is then
fine-tuned (:func:`hybrid_deblur.learned.deploy.distill.distill` with the original as the
teacher is the natural way) to win back the quality the factorisation lost.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.deploy.grouped import separable_variant, conv_parameters
>>> net = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1))
>>> sep = separable_variant(net)
>>> conv_parameters(net), conv_parameters(sep)
(1168, 216)
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["conv_parameters", "grouped_variant", "separable_from_conv", "separable_variant"]


def conv_parameters(model: nn.Module) -> int:
    """Parameters of all ``nn.Conv2d`` / ``nn.ConvTranspose2d`` layers of ``model``."""
    return sum(p.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
               for p in m.parameters())


def _eligible(m: nn.Module, min_channels: int) -> bool:
    return (type(m) is nn.Conv2d and m.groups == 1 and max(m.kernel_size) > 1
            and min(m.in_channels, m.out_channels) >= min_channels)


def separable_from_conv(conv: nn.Conv2d) -> nn.Sequential:
    """Depthwise + pointwise pair closest (per input channel, Frobenius) to ``conv``.

    Examples
    --------
    >>> import torch
    >>> from hybrid_deblur.learned.deploy.grouped import separable_from_conv
    >>> c = torch.nn.Conv2d(3, 5, 3, padding=1)
    >>> with torch.no_grad():   # a weight that *is* separable is reproduced exactly
    ...     _ = c.weight.copy_(torch.rand(5, 3, 1, 1) * torch.rand(1, 3, 3, 3))
    >>> x = torch.rand(1, 3, 8, 8)
    >>> bool(torch.allclose(separable_from_conv(c)(x), c(x), atol=1e-5))
    True
    """
    if not isinstance(conv, nn.Conv2d) or conv.groups != 1:
        raise TypeError(f"conv must be an nn.Conv2d with groups=1, got {conv!r}")
    cin, cout = conv.in_channels, conv.out_channels
    kh, kw = conv.kernel_size
    dw = nn.Conv2d(cin, cin, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                   dilation=conv.dilation, groups=cin, bias=False, padding_mode=conv.padding_mode)
    pw = nn.Conv2d(cin, cout, 1, bias=conv.bias is not None)
    w = conv.weight.detach().double()  # (cout, cin, kh, kw)
    with torch.no_grad():
        for i in range(cin):
            u, s, vh = torch.linalg.svd(w[:, i].reshape(cout, kh * kw), full_matrices=False)
            r = torch.sqrt(s[0])
            pw.weight[:, i, 0, 0] = (u[:, 0] * r).to(pw.weight.dtype)
            dw.weight[i, 0] = (vh[0] * r).reshape(kh, kw).to(dw.weight.dtype)
        if conv.bias is not None:
            pw.bias.copy_(conv.bias.detach())
    return nn.Sequential(dw, pw)


def _grouped_from_conv(conv: nn.Conv2d, groups: int) -> nn.Conv2d:
    cin, cout = conv.in_channels, conv.out_channels
    g = nn.Conv2d(cin, cout, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                  dilation=conv.dilation, groups=groups, bias=conv.bias is not None,
                  padding_mode=conv.padding_mode)
    gi, go = cin // groups, cout // groups
    with torch.no_grad():
        for j in range(groups):
            g.weight[j * go:(j + 1) * go] = conv.weight[j * go:(j + 1) * go, j * gi:(j + 1) * gi]
        if conv.bias is not None:
            g.bias.copy_(conv.bias)
    return g


def _replace(model: nn.Module, make, accept) -> nn.Module:
    out = copy.deepcopy(model)
    for name, mod in list(out.named_modules()):
        for cname, child in list(mod.named_children()):
            if accept(child):
                setattr(mod, cname, make(child))
    return out


def separable_variant(model: nn.Module, *, min_channels: int = 8) -> nn.Module:
    """A copy of ``model`` with its k x k convolutions made depthwise-separable (SVD init).

    Parameters
    ----------
    model : torch.nn.Module
        A trained (or untrained) network; it is not modified.
    min_channels : int
        Convolutions with fewer input or output channels (e.g. an RGB head, a 1-channel
        tail) are kept as they are.

    Returns
    -------
    torch.nn.Module
        The variant (same forward signature); fine-tune it before use.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return _replace(model, separable_from_conv, lambda m: _eligible(m, int(min_channels)))


def grouped_variant(model: nn.Module, groups: int = 4, *, min_channels: int = 8) -> nn.Module:
    """A copy of ``model`` whose k x k convolutions use ``groups`` groups (block-diagonal init).

    Only convolutions whose channel counts are divisible by ``groups`` are changed.
    """
    if int(groups) < 2:
        raise ValueError(f"groups must be an int >= 2, got {groups!r}")
    g = int(groups)
    return _replace(model, lambda c: _grouped_from_conv(c, g),
                    lambda m: _eligible(m, max(int(min_channels), g)) and m.in_channels % g == 0
                    and m.out_channels % g == 0)
