"""Skew / unskew: the diagonals of an image as columns (the Diagonal BiLSTM's layout).

The skew / unskew helpers turn the diagonals of an image into columns, so
that a recurrence along image diagonals becomes a loop over columns:

    skew:   row i is shifted right by i,    (H, W) -> (H, W + H - 1)
    unskew: the inverse,                    (H, W + H - 1) -> (H, W)

Both are a pad and two reshapes (no gather), hence cheap and differentiable
on every backend.
"""

from keras import ops

from keras_genmodels.kernels.slicing import slice_axis


def static_height_width(x, what):
    """``(height, width)`` of a 4D tensor (or shape) as ints, or a ``ValueError`` naming ``what``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.layers.skew import static_height_width
    >>> static_height_width(np.zeros((2, 3, 4, 1)), "skew")
    (3, 4)
    """
    shape = tuple(getattr(x, "shape", x))
    if len(shape) != 4:
        raise ValueError(
            f"{what} expects a 4D tensor (batch, height, width, channels). "
            f"Received: shape={shape}"
        )
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"{what} needs a static height and width (it loops over rows / diagonals). "
            f"Received: shape={shape}"
        )
    return int(shape[1]), int(shape[2])


def skew(x):
    """Shift row ``i`` of ``x`` right by ``i`` (zero fill): ``(B, H, W, C) -> (B, H, W+H-1, C)``.

    Pixel ``(i, j)`` lands at ``(i, i + j)``, so column ``k`` of the result
    holds the diagonal ``{(i, k - i)}`` of the input, read top to bottom, and
    the left and upper neighbours of every pixel of that diagonal lie in
    column ``k - 1``.

    Args:
        x: 4D tensor ``(batch, height, width, channels)`` with static height
            and width.

    Returns:
        The skewed tensor ``(batch, height, width + height - 1, channels)``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import skew
    >>> x = np.arange(4.0, dtype="float32").reshape(1, 2, 2, 1)   # [[0, 1], [2, 3]]
    >>> keras.ops.convert_to_numpy(skew(x))[0, ..., 0]
    array([[0., 1., 0.],
           [0., 2., 3.]], dtype=float32)
    """
    h, w = static_height_width(x, "skew")
    c = x.shape[-1]
    # Pad every row with H zeros: row i starts at flat index i * (W + H).
    x = ops.pad(x, [[0, 0], [0, 0], [0, h], [0, 0]])
    x = ops.reshape(x, (-1, h * (w + h), c))
    # Dropping the last H entries and re-reading rows of width W + H - 1 makes
    # row i start i entries earlier, i.e. behind i zeros of the previous row.
    x = slice_axis(x, 0, h * (w + h - 1), axis=1)  # not x[:, :n]: see slice_axis
    return ops.reshape(x, (-1, h, w + h - 1, c))


def unskew(x, width=None):
    """Inverse of :func:`skew`: ``(B, H, W+H-1, C) -> (B, H, W, C)``.

    Args:
        x: 4D skewed tensor with static height and width.
        width: int, the unskewed width ``W``; default ``x.shape[2] - H + 1``.

    Returns:
        ``(batch, height, width, channels)`` with ``out[:, i, j] = x[:, i, i + j]``.

    Raises:
        ValueError: when ``width`` does not match the skewed width.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import skew, unskew
    >>> x = np.random.rand(2, 3, 4, 5).astype("float32")
    >>> tuple(skew(x).shape), tuple(unskew(skew(x)).shape)
    ((2, 3, 6, 5), (2, 3, 4, 5))
    >>> bool(np.array_equal(keras.ops.convert_to_numpy(unskew(skew(x))), x))
    True
    """
    h, ws = static_height_width(x, "unskew")
    w = ws - h + 1 if width is None else int(width)
    if w < 1 or ws != w + h - 1:
        raise ValueError(
            f"unskew expects width + height - 1 columns. Received: shape={tuple(x.shape)}, "
            f"width={width}"
        )
    c = x.shape[-1]
    x = ops.reshape(x, (-1, h * ws, c))
    x = ops.pad(x, [[0, 0], [0, h], [0, 0]])
    x = ops.reshape(x, (-1, h, w + h, c))
    return slice_axis(x, 0, w, axis=2)
