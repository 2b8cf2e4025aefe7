"""PixelCNN causal masks: mask ``"A"`` / ``"B"``, colour groups, and their argument checks.

The one home of the mask logic: the kernels (``masked_conv.py``) and the
layers (``keras_genmodels.layers.MaskedConv2D``, ``GatedPixelCNNBlock``)
build and validate their masks with these functions. NumPy only.

References:
    van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016.
"""

import numpy as np

from keras_genmodels._validate import check_int

__all__ = ["MASK_TYPES", "causal_mask", "check_mask_args"]

MASK_TYPES = ("A", "B")


def check_mask_args(kernel_size, in_channels, out_channels, mask_type, color_groups=1):
    """Validate the arguments of a PixelCNN mask; return the mask type in upper case.

    Args:
        kernel_size: int or tuple ``(kh, kw)``; every size must be odd, so
            that the kernel has a centre tap.
        in_channels: int or None (unknown yet: not checked), divisible by
            ``color_groups``.
        out_channels: int or None, divisible by ``color_groups``.
        mask_type: ``"A"`` or ``"B"`` (either case).
        color_groups: int >= 1.

    Returns:
        ``"A"`` or ``"B"``.

    Raises:
        ValueError: for an unknown mask type, an even kernel size, a
            non-positive ``color_groups`` or channel counts it does not divide.

    Example:

    >>> from keras_genmodels.kernels.masks import check_mask_args
    >>> check_mask_args((7, 7), 3, 12, "a", color_groups=3)
    'A'
    >>> check_mask_args(4, None, 8, "B")
    Traceback (most recent call last):
        ...
    ValueError: Masked convolutions need odd kernel sizes so that the kernel has a centre tap. Received: kernel_size=4
    """
    if not isinstance(mask_type, str) or mask_type.upper() not in MASK_TYPES:
        raise ValueError(
            f"Unknown mask_type. Expected 'A' or 'B'. Received: mask_type={mask_type!r}"
        )
    sizes = (kernel_size, kernel_size) if isinstance(kernel_size, (int, np.integer)) else kernel_size
    for k in sizes:
        if k < 1 or k % 2 == 0:
            received = tuple(kernel_size) if isinstance(kernel_size, (list, tuple)) else kernel_size
            raise ValueError(
                "Masked convolutions need odd kernel sizes so that the kernel has a centre "
                f"tap. Received: kernel_size={received}"
            )
    color_groups = check_int("color_groups", color_groups)
    for name, c in (("input channels", in_channels), ("filters", out_channels)):
        if c is not None and c % color_groups != 0:
            raise ValueError(
                f"The number of {name} ({c}) must be divisible by "
                f"color_groups={color_groups}."
            )
    return mask_type.upper()


def causal_mask(kernel_size, in_channels, out_channels, mask_type, color_groups=1):
    """The 0/1 PixelCNN mask for a kernel of shape ``(kh, kw, in, out)``.

    Output position (i, j) may see every input above the centre row, and
    the inputs left of the centre in the centre row. At the centre tap itself
    channels are split into ``color_groups`` contiguous groups (R, G, B for
    ``color_groups=3``): with mask ``"A"`` output group ``g`` sees input groups
    ``< g``; with mask ``"B"`` it sees groups ``<= g``.

    Args:
        kernel_size: tuple ``(kh, kw)`` of odd ints.
        in_channels: int, divisible by ``color_groups``.
        out_channels: int, divisible by ``color_groups``.
        mask_type: ``"A"`` (first layer: excludes the current pixel/group) or
            ``"B"`` (later layers: includes it).
        color_groups: int >= 1.

    Returns:
        A float32 NumPy array of shape ``(kh, kw, in_channels, out_channels)``.

    Raises:
        ValueError: see :func:`check_mask_args`.

    Example:

    >>> from keras_genmodels.kernels.masks import causal_mask
    >>> causal_mask((3, 3), 1, 1, "A")[..., 0, 0]
    array([[1., 1., 1.],
           [1., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    kh, kw = kernel_size
    mask_type = check_mask_args(kernel_size, in_channels, out_channels, mask_type, color_groups)
    mask = np.zeros((kh, kw, in_channels, out_channels), dtype="float32")
    ci, cj = kh // 2, kw // 2
    mask[:ci] = 1.0
    mask[ci, :cj] = 1.0
    in_group = np.arange(in_channels) // (in_channels // color_groups)
    out_group = np.arange(out_channels) // (out_channels // color_groups)
    if mask_type == "A":
        centre = in_group[:, None] < out_group[None, :]
    else:
        centre = in_group[:, None] <= out_group[None, :]
    mask[ci, cj] = centre.astype("float32")
    return mask
