"""The gated PixelCNN block: vertical and horizontal stacks without a blind spot."""

import warnings

import keras
from keras import layers as keras_layers
from keras import ops

from keras_genmodels._api import register
from keras_genmodels._validate import check_int
from keras_genmodels.kernels.masked_conv import gated_activation
from keras_genmodels.kernels.masks import check_mask_args
from keras_genmodels.kernels.slicing import slice_axis
from keras_genmodels.layers.masked_conv import MaskedConv2D


def gate(x, color_groups=1):
    """Deprecated alias of :func:`keras_genmodels.kernels.gated_activation`.

    ``tanh(a) * sigmoid(b)`` with ``a, b`` the two halves of every colour
    group; emits a ``DeprecationWarning`` and will be removed in the next
    release. Use ``keras_genmodels.kernels.gated_activation(x, color_groups)``.

    Example:

    >>> import warnings
    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.kernels import gated_activation
    >>> from keras_genmodels.layers.gated import gate
    >>> x = np.random.rand(2, 4, 4, 8).astype("float32")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     y = gate(x)
    >>> caught[0].category.__name__, tuple(y.shape)
    ('DeprecationWarning', (2, 4, 4, 4))
    >>> bool(np.allclose(keras.ops.convert_to_numpy(y),
    ...                  keras.ops.convert_to_numpy(gated_activation(x))))
    True
    """
    warnings.warn(
        "keras_genmodels.layers.gated.gate is deprecated and will be removed in the next "
        "release; use keras_genmodels.kernels.gated_activation (same arguments, same values).",
        DeprecationWarning,
        stacklevel=2,
    )
    return gated_activation(x, color_groups)


def down_shift(x):
    """Shift an image tensor down by one row (zeros enter at the top).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers.gated import down_shift
    >>> x = np.arange(1.0, 5.0, dtype="float32").reshape(1, 4, 1, 1)   # rows 1, 2, 3, 4
    >>> keras.ops.convert_to_numpy(down_shift(x))[0, :, 0, 0].tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    return ops.pad(slice_axis(x, 0, -1, axis=1), ((0, 0), (1, 0), (0, 0), (0, 0)))


@register
class GatedPixelCNNBlock(keras_layers.Layer):
    """One layer of the Gated PixelCNN: a vertical and a horizontal stack.

    The **vertical stack** ``v`` at row ``i`` summarises only rows ``< i``
    (all columns within the receptive field); the **horizontal stack** ``h``
    at ``(i, j)`` sees row ``i`` left of ``j`` (and ``j`` itself after the
    first layer) plus the vertical stack of its own row. Together they cover
    every earlier pixel in a growing triangle, without the blind spot of the
    masked-convolution PixelCNN.

    With ``mask_type="A"`` (the first layer, fed the image as both ``v`` and
    ``h``) the vertical stack is a ``(k // 2) x k`` convolution shifted down
    one row, and the horizontal one a ``1 x k`` ``MaskedConv2D`` with mask A
    (excluding the current pixel / colour group). With ``mask_type="B"`` the
    vertical convolution is ``(k // 2 + 1) x k`` over rows ``i - k//2 .. i`` of
    the (already shifted) vertical stack, the horizontal one a ``1 x k`` mask-B
    convolution, and the horizontal output is residual:

        v_pre = conv_v(v) + V_v y          v_out = tanh(v_pre_a) * sigmoid(v_pre_b)
        h_pre = conv_h(h) + 1x1(v_pre) + V_h y   (so the last block's V_v is used too)
        h_out = h + 1x1(tanh(h_pre_a) * sigmoid(h_pre_b))      (residual only for "B")

    where ``y`` is the optional conditioning vector (e.g. a one-hot class
    label), entering every gate as a bias. Colour groups (``color_groups=3``
    for R -> G -> B) are respected by the horizontal stack (the vertical stack
    only holds earlier rows, so it may feed every group).

    The sub-layers are attributes (``vertical_conv``, ``vertical_to_horizontal``,
    ``horizontal_conv``, ``horizontal_output``, ``vertical_condition``,
    ``horizontal_condition``), so a cached sampler can read their weights.

    Args:
        filters: int, channels ``f`` of both stacks (divisible by
            ``color_groups``).
        kernel_size: odd int ``k`` (>= 3 for mask ``"A"``).
        mask_type: ``"A"`` (first layer) or ``"B"``.
        color_groups: int, colour channel groups of the horizontal stack.
        condition_dim: int or None, size of the conditioning vector; when set
            the layer takes a third input.
        kernel_initializer: initializer of all kernels.
        **kwargs: base layer arguments.

    Input shape:
        ``[v, h]`` or ``[v, h, y]``: ``v`` and ``h`` 4D ``(batch, H, W, c)``
        (the image for mask A, ``f`` channels for mask B), ``y`` of shape
        ``(batch, condition_dim)``.

    Output shape:
        ``[v_out, h_out]``, each ``(batch, H, W, filters)``.

    Raises:
        ValueError: for an even kernel size, an unknown mask type, ``filters``
            not divisible by ``color_groups``, or a missing / unexpected
            conditioning input.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import GatedPixelCNNBlock
    >>> x = np.random.rand(2, 8, 8, 1).astype("float32")
    >>> v, h = GatedPixelCNNBlock(16, 5, mask_type="A")([x, x])
    >>> v, h = GatedPixelCNNBlock(16, 3, mask_type="B")([v, h])
    >>> tuple(v.shape), tuple(h.shape)
    ((2, 8, 8, 16), (2, 8, 8, 16))
    >>> # Class-conditional: a one-hot label enters every gate as a bias.
    >>> y = keras.ops.one_hot(np.array([3, 7]), 10)
    >>> block = GatedPixelCNNBlock(16, 3, mask_type="B", condition_dim=10)
    >>> v, h = block([v, h, y])
    >>> tuple(h.shape)
    (2, 8, 8, 16)

    References:
        van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
        "Conditional Image Generation with PixelCNN Decoders", NeurIPS 2016.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        mask_type="B",
        color_groups=1,
        condition_dim=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        filters = check_int("filters", filters)
        kernel_size = check_int("kernel_size", kernel_size)
        mask_type = check_mask_args(kernel_size, None, filters, mask_type, color_groups)
        if mask_type == "A" and kernel_size < 3:
            raise ValueError(
                "kernel_size must be >= 3 for mask_type='A' (the vertical stack needs a row "
                f"above). Received: kernel_size={kernel_size!r}"
            )
        if condition_dim is not None:
            condition_dim = check_int("condition_dim", condition_dim)
        self.filters = filters
        self.kernel_size = kernel_size
        self.mask_type = mask_type
        self.color_groups = color_groups
        self.condition_dim = condition_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        k = kernel_size
        self.vertical_rows = k // 2 if mask_type == "A" else k // 2 + 1
        self.vertical_conv = keras_layers.Conv2D(
            2 * filters, (self.vertical_rows, k), padding="valid",
            kernel_initializer=kernel_initializer, name="vertical_conv",
        )
        self.vertical_to_horizontal = keras_layers.Conv2D(
            2 * filters, 1, kernel_initializer=kernel_initializer,
            name="vertical_to_horizontal",
        )
        self.horizontal_conv = MaskedConv2D(
            2 * filters, (1, k), mask_type=mask_type, color_groups=color_groups,
            kernel_initializer=kernel_initializer, name="horizontal_conv",
        )
        self.horizontal_output = MaskedConv2D(
            filters, 1, mask_type="B", color_groups=color_groups,
            kernel_initializer=kernel_initializer, name="horizontal_output",
        )
        if condition_dim is not None:
            self.vertical_condition = keras_layers.Dense(
                2 * filters, use_bias=False, name="vertical_condition")
            self.horizontal_condition = keras_layers.Dense(
                2 * filters, use_bias=False, name="horizontal_condition")
        else:
            self.vertical_condition = None
            self.horizontal_condition = None

    def _check_inputs(self, shapes):
        n = 3 if self.condition_dim is not None else 2
        if not isinstance(shapes, (list, tuple)) or len(shapes) != n or not all(
            isinstance(s, (list, tuple)) for s in shapes
        ):
            raise ValueError(
                f"GatedPixelCNNBlock(condition_dim={self.condition_dim}) expects {n} inputs "
                f"{'[v, h, y]' if n == 3 else '[v, h]'}. Received: {shapes!r}"
            )
        v_shape, h_shape = tuple(shapes[0]), tuple(shapes[1])
        if len(v_shape) != 4 or len(h_shape) != 4 or v_shape[1:3] != h_shape[1:3]:
            raise ValueError(
                "v and h must be 4D with the same height and width. "
                f"Received: v={v_shape}, h={h_shape}"
            )
        if self.mask_type == "B" and h_shape[-1] != self.filters:
            raise ValueError(
                f"A mask-B GatedPixelCNNBlock needs h with filters={self.filters} channels "
                f"(it is residual). Received: h={h_shape}"
            )
        if self.mask_type == "A" and h_shape[-1] % self.color_groups:
            raise ValueError(
                f"The input channels ({h_shape[-1]}) must be divisible by "
                f"color_groups={self.color_groups}."
            )
        return v_shape, h_shape

    def build(self, input_shape):
        v_shape, h_shape = self._check_inputs(input_shape)
        k = self.kernel_size
        batch, height, width = v_shape[0], v_shape[1], v_shape[2]
        padded = (batch, None if height is None else height + self.vertical_rows - 1,
                  None if width is None else width + k - 1, v_shape[-1])
        self.vertical_conv.build(padded)
        pre = (batch, height, width, 2 * self.filters)
        self.vertical_to_horizontal.build(pre)
        self.horizontal_conv.build(h_shape)
        self.horizontal_output.build((batch, height, width, self.filters))
        if self.condition_dim is not None:
            self.vertical_condition.build((batch, self.condition_dim))
            self.horizontal_condition.build((batch, self.condition_dim))

    def call(self, inputs):
        v, h = inputs[0], inputs[1]
        y = inputs[2] if self.condition_dim is not None else None
        k = self.kernel_size
        v_pad = ops.pad(v, ((0, 0), (self.vertical_rows - 1, 0), (k // 2, k // 2), (0, 0)))
        v_pre = self.vertical_conv(v_pad)
        if self.mask_type == "A":
            v_pre = down_shift(v_pre)
        if y is not None:
            y = ops.cast(y, v_pre.dtype)
            v_pre = v_pre + self.vertical_condition(y)[:, None, None, :]
        h_pre = self.horizontal_conv(h) + self.vertical_to_horizontal(v_pre)
        if y is not None:
            h_pre = h_pre + self.horizontal_condition(y)[:, None, None, :]
        v_out = gated_activation(v_pre, 1)
        h_out = self.horizontal_output(gated_activation(h_pre, self.color_groups))
        if self.mask_type == "B":
            h_out = h + h_out
        return [v_out, h_out]

    # ------------------------------------------------------ incremental step
    # Generation one pixel at a time: the vertical stack of row i only sees
    # rows < i (mask A) or <= i of the stack below, so it is computed for the
    # whole row at its start (``vertical_row``); the horizontal stack is
    # computed at each new pixel (``horizontal_pixel``).
    def cached_weights(self):
        """The block's weights as float32 tensors for :meth:`vertical_row` / :meth:`horizontal_pixel`.

        Example:

        >>> from keras_genmodels.layers import GatedPixelCNNBlock
        >>> block = GatedPixelCNNBlock(4, kernel_size=3, mask_type="A")
        >>> block.build([(None, 5, 5, 1), (None, 5, 5, 1)])
        >>> sorted(block.cached_weights())
        ['horizontal', 'output', 'v2h', 'vertical']
        """
        def tensor(v):
            return ops.convert_to_tensor(v, "float32")

        weights = {
            "vertical": (tensor(self.vertical_conv.kernel), tensor(self.vertical_conv.bias)),
            "v2h": (ops.reshape(tensor(self.vertical_to_horizontal.kernel), (-1, 2 * self.filters)),
                    tensor(self.vertical_to_horizontal.bias)),
            "horizontal": self.horizontal_conv.cached_kernels(),
            "output": self.horizontal_output.cached_kernels(),
        }
        if self.condition_dim is not None:
            weights["v_cond"] = tensor(self.vertical_condition.kernel)
            weights["h_cond"] = tensor(self.horizontal_condition.kernel)
        return weights

    def vertical_row(self, strip, weights, i, condition=None):
        """The vertical stack of output row ``i`` and its input to the horizontal gates.

        Args:
            strip: the ``vertical_rows`` rows of the vertical input ending
                above row ``i`` (mask A) or at row ``i`` (mask B), zero-padded
                by ``kernel_size // 2`` columns on each side:
                ``(n, vertical_rows, W + kernel_size - 1, C)``.
            weights: :meth:`cached_weights`.
            i: scalar int tensor, the row (row 0 of a mask-A block sees nothing).
            condition: one-hot labels ``(n, condition_dim)`` or None.

        Returns:
            ``(to_horizontal, v_out)``: ``(n, W, 2 filters)``, what the
            vertical stack adds to the horizontal gates of row ``i`` (with
            the conditioning bias), and ``(n, W, filters)``, the block's
            vertical output row.
        """
        kernel, bias = weights["vertical"]
        v_pre = ops.conv(strip, kernel, padding="valid")[:, 0] + bias
        if self.mask_type == "A":
            v_pre = v_pre * ops.cast(i > 0, v_pre.dtype)
        h_bias = 0.0
        if condition is not None:
            v_pre = v_pre + ops.matmul(condition, weights["v_cond"])[:, None, :]
            h_bias = ops.matmul(condition, weights["h_cond"])[:, None, :]
        matrix, v2h_bias = weights["v2h"]
        to_horizontal = ops.matmul(v_pre, matrix) + v2h_bias + h_bias
        return to_horizontal, gated_activation(v_pre, 1)

    def horizontal_pixel(self, window, to_horizontal, h, weights):
        """The block's horizontal output at one pixel.

        Args:
            window: ``(n, (kernel_size // 2 + 1) * C)``, the horizontal input
                at the taps ``j - kernel_size // 2 .. j``, flattened.
            to_horizontal: ``(n, 2 filters)``, the pixel's column of
                :meth:`vertical_row`'s first output.
            h: ``(n, filters)``, the horizontal input at the pixel (the
                residual of a mask-B block; unused for mask A).
            weights: :meth:`cached_weights`.

        Returns:
            ``(n, filters)``.
        """
        h_pre = self.horizontal_conv.at_pixel(window, weights["horizontal"]) + to_horizontal
        out = self.horizontal_output.at_pixel(gated_activation(h_pre, self.color_groups),
                                              weights["output"])
        return out if self.mask_type == "A" else h + out

    def compute_output_shape(self, input_shape):
        v_shape, _ = self._check_inputs(input_shape)
        out = tuple(v_shape[:3]) + (self.filters,)
        return [out, out]

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "mask_type": self.mask_type,
            "color_groups": self.color_groups,
            "condition_dim": self.condition_dim,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config
