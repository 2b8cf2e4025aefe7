"""Two-dimensional LSTM layers of PixelRNN (van den Oord et al., 2016): RowLSTM, DiagonalBiLSTM.

Both layers read a feature map ``(batch, height, width, channels)`` and
return ``(batch, height, width, units)`` in which the output at pixel
``(i, j)`` depends only on inputs at pixels up to and including ``(i, j)``
in raster order (the input-to-state convolution uses a PixelCNN mask
``"B"``). Put a mask-``"A"`` convolution in front (as ``models.PixelRNN``
does) and the output at ``(i, j)`` depends on earlier pixels only.

The skew / unskew helpers live in :mod:`keras_genmodels.layers.skew`.
"""

import keras
from keras import ops

from keras_genmodels._api import register
from keras_genmodels._validate import check_int
from keras_genmodels.kernels.slicing import slice_axis
from keras_genmodels.layers.masked_conv import MaskedConv2D
from keras_genmodels.layers.skew import skew
from keras_genmodels.layers.skew import static_height_width
from keras_genmodels.layers.skew import unskew

__all__ = ["DiagonalBiLSTM", "RowLSTM", "skew", "unskew"]


def _check_units(units, color_groups, name):
    check_int("units", units)
    check_int("color_groups", color_groups)
    if units % color_groups:
        raise ValueError(
            f"{name}: units must be divisible by color_groups. Received: units={units}, "
            f"color_groups={color_groups}"
        )


class _ForgetBias(keras.initializers.Initializer):
    """Zeros, except ones at the forget gate (layout [group][gate i, f, g, o][unit])."""

    def __init__(self, units, color_groups, directions=1):
        self.units = units
        self.color_groups = color_groups
        self.directions = directions

    def __call__(self, shape, dtype=None):
        per = self.units // self.color_groups
        gate = ops.reshape(ops.convert_to_tensor([0.0, 1.0, 0.0, 0.0]), (1, 4, 1))
        one = ops.ones((self.color_groups, 4, per)) * gate
        one = ops.reshape(one, (1, 4 * self.units))
        one = ops.tile(one, (self.directions, 1))
        return ops.cast(ops.reshape(one, shape), dtype or "float32")

    def get_config(self):
        return {"units": self.units, "color_groups": self.color_groups,
                "directions": self.directions}


class _PixelLSTMBase(keras.layers.Layer):
    """Shared arguments, gate arithmetic and config of the two PixelRNN LSTMs."""

    _directions = 1

    def __init__(
        self,
        units,
        color_groups=1,
        unroll=False,
        unit_forget_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # TensorFlow's XLA bridge cannot compile the gradient of the row /
        # column while loop (its TensorList accumulators), so a TensorFlow
        # model holding this layer keeps a plain tf.function step (Keras reads
        # this flag; so do the models' XLA steps). JAX compiles it.
        self.supports_jit = keras.backend.backend() != "tensorflow"
        _check_units(units, color_groups, type(self).__name__)
        self.units = units
        self.color_groups = color_groups
        self.unroll = bool(unroll)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def _input_conv(self, kernel_size, filters):
        return MaskedConv2D(
            filters, kernel_size, mask_type="B", color_groups=self.color_groups,
            use_bias=False, kernel_initializer=self.kernel_initializer,
            kernel_regularizer=self.kernel_regularizer, dtype=self.dtype_policy,
            name="input_to_state",
        )

    def _add_bias(self):
        init = (_ForgetBias(self.units, self.color_groups, self._directions)
                if self.unit_forget_bias else self.bias_initializer)
        shape = (4 * self.units,) if self._directions == 1 else (self._directions, 4 * self.units)
        self.bias = self.add_weight(
            name="bias", shape=shape, initializer=init, regularizer=self.bias_regularizer,
        )

    def _check_input(self, input_shape):
        static_height_width(input_shape, type(self).__name__)
        if input_shape[-1] is None or input_shape[-1] % self.color_groups:
            raise ValueError(
                f"{type(self).__name__}: the input channels must be known and divisible by "
                f"color_groups={self.color_groups}. Received: input_shape={tuple(input_shape)}"
            )

    def _gates(self, z):
        """Split pre-activations laid out [group][gate][unit] into i, f, g, o (..., units)."""
        g = self.color_groups
        if g == 1:  # a split, not slices: see kernels.gated_activation
            return ops.split(z, 4, axis=-1)
        lead = tuple(ops.shape(z)[:-1])
        z = ops.reshape(z, lead + (g, 4, self.units // g))
        return [ops.reshape(k, lead + (self.units,)) for k in ops.split(z, 4, axis=-2)]

    def cell(self, z, c):
        """One LSTM update from pre-activations ``z`` and the previous cell ``c``.

        Args:
            z: ``(..., 4 units)`` pre-activations laid out [group][gate][unit]
                (gates i, f, g, o).
            c: ``(..., units)``, the previous cell state.

        Returns:
            ``(h, c)``, each ``(..., units)``.

        Example:

        >>> import keras
        >>> from keras_genmodels.layers import RowLSTM
        >>> h, c = RowLSTM(2).cell(keras.ops.zeros((1, 8)), keras.ops.ones((1, 2)))
        >>> keras.ops.convert_to_numpy(c).round(3).tolist()   # sigmoid(0) * 1 + sigmoid(0) * tanh(0)
        [[0.5, 0.5]]
        """
        i, f, g, o = self._gates(z)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, c

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "color_groups": self.color_groups,
            "unroll": self.unroll,
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        })
        return config


@register
class RowLSTM(_PixelLSTMBase):
    """Row LSTM of PixelRNN: a convolutional LSTM that runs down the image one row at a time.

    For row ``i`` (all columns at once)::

        [i, f, g, o] = K_ss (*) h[i-1] + K_is (*) x[i] + b
        c[i] = sigmoid(f) * c[i-1] + sigmoid(i) * tanh(g)
        h[i] = sigmoid(o) * tanh(c[i])

    ``K_is (*) x`` is a ``1 x kernel_size`` convolution with PixelCNN mask
    ``"B"`` (pixel ``(i, j)`` sees ``x[i, j - k//2 .. j]``), computed for all
    rows at once; ``K_ss (*) h[i-1]`` is a 1D convolution of width
    ``kernel_size`` over the previous row's hidden state. The receptive
    field of ``(i, j)`` is a triangle above the pixel (plus the pixels to
    its left fed through the input map), not the whole past: see
    ``DiagonalBiLSTM`` for the full context.

    With ``color_groups=3`` the units are split into R, G, B groups that see
    the current pixel's input groups ``<= g`` only (mask B), so stacks stay
    autoregressive over colour channels.

    Args:
        units: int, hidden units ``h`` (divisible by ``color_groups``).
        kernel_size: int, odd, width of the input-to-state and
            state-to-state convolutions (3 in the paper).
        color_groups: int, number of colour channel groups (1 or 3).
        unroll: bool. False (default): the recurrence is a ``keras.ops.scan``
            (a ``tf.while_loop`` on TensorFlow): compiles fast. True: a
            Python loop unrolled into the graph: slower to compile, often
            faster per step on small images (measure on your device).
        unit_forget_bias: bool, initialise the forget-gate bias to 1.
        kernel_initializer: initializer of the input-to-state kernel.
        recurrent_initializer: initializer of the state-to-state kernel.
        bias_initializer: initializer of the bias (when
            ``unit_forget_bias=False``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            optional regularizers of the three weights.
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, height, width, channels)`` with static height and width.

    Output shape:
        ``(batch, height, width, units)``.

    Raises:
        ValueError: for non-positive ``units``, an even ``kernel_size``,
            ``units`` not divisible by ``color_groups``, or non-4D inputs.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.layers import MaskedConv2D, RowLSTM
    >>> images = np.random.rand(2, 6, 6, 1).astype("float32")
    >>> h = MaskedConv2D(8, 5, mask_type="A")(images)
    >>> h = RowLSTM(4)(h)
    >>> tuple(h.shape)
    (2, 6, 6, 4)

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
        Networks", ICML 2016, section 3.1.
    """

    def __init__(self, units, kernel_size=3, color_groups=1, **kwargs):
        super().__init__(units, color_groups=color_groups, **kwargs)
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"RowLSTM needs an odd positive int kernel_size. Received: "
                f"kernel_size={kernel_size!r}"
            )
        self.kernel_size = kernel_size
        self.input_to_state = self._input_conv((1, kernel_size), 4 * units)

    def build(self, input_shape):
        self._check_input(input_shape)
        self.input_to_state.build(input_shape)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.kernel_size, self.units, 4 * self.units),
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
        )
        self._add_bias()

    def call(self, inputs):
        height, _ = static_height_width(inputs, "RowLSTM")
        z_in = self.input_to_state(inputs) + ops.cast(self.bias, inputs.dtype)
        kernel = ops.cast(self.recurrent_kernel, inputs.dtype)
        u = self.units

        def step(state, z):
            h, c = self.cell(z + ops.conv(state[0], kernel, strides=1, padding="same"), state[1])
            return (h, c), (h, c)  # Keras' TensorFlow scan wants ys shaped like the carry

        zeros = ops.zeros(ops.shape(z_in[:, 0, :, :u]), z_in.dtype)
        init = (zeros, zeros)  # (h, c): no slicing of a packed state (see _gates)
        if self.unroll:
            state, rows = init, []
            for r in range(height):
                state, _ = step(state, z_in[:, r])
                rows.append(state[0])
            return ops.stack(rows, axis=1)
        _, (hs, _) = ops.scan(step, init, ops.moveaxis(z_in, 1, 0))
        return ops.moveaxis(hs, 0, 1)

    # ------------------------------------------------------ incremental step
    # The gates at (i, j) are K_is (*) x[i, j - k//2 .. j] + K_ss (*)
    # h[i - 1, j - k//2 .. j + k//2] + b, and the cell reads c[i - 1, j]: the
    # state-to-state term only involves the finished row i - 1 (computed for
    # the whole row at its start, ``row_term``), so the state at (i, j) is
    # exact at pixel j (``pixel_step``).
    def cached_weights(self):
        """The layer's weights as float32 tensors for :meth:`row_term` / :meth:`pixel_step`.

        Example:

        >>> from keras_genmodels.layers import RowLSTM
        >>> layer = RowLSTM(4, kernel_size=3)
        >>> layer.build((None, 5, 5, 8))
        >>> tuple(layer.cached_weights()["input"].shape)   # 2 taps x 8 channels -> 4 gates x 4 units
        (16, 16)
        """
        return {"input": self.input_to_state.cached_kernels()["row"],
                "recurrent": ops.convert_to_tensor(self.recurrent_kernel, "float32"),
                "bias": ops.convert_to_tensor(self.bias, "float32")}

    def row_term(self, h_above, weights):
        """The state-to-state term of a whole row from the previous row's ``h`` ``(n, W, units)``.

        Returns:
            ``(n, W, 4 units)``.
        """
        return ops.conv(h_above, weights["recurrent"], padding="same")

    def pixel_step(self, window, row_term, c_above, weights):
        """``(h, c)`` at one pixel.

        Args:
            window: ``(n, (kernel_size // 2 + 1) * channels)``, the layer's
                input at the taps ``j - kernel_size // 2 .. j``, flattened.
            row_term: ``(n, 4 units)``, the pixel's column of :meth:`row_term`.
            c_above: ``(n, units)``, the cell state of the pixel above.
            weights: :meth:`cached_weights`.

        Returns:
            ``(h, c)``, each ``(n, units)``.
        """
        z = ops.matmul(window, weights["input"]) + weights["bias"]
        return self.cell(z + row_term, c_above)

    def get_config(self):
        config = super().get_config()
        config["kernel_size"] = self.kernel_size
        return config


@register
class DiagonalBiLSTM(_PixelLSTMBase):
    """Diagonal BiLSTM of PixelRNN: two LSTMs that sweep the image along its diagonals.

    The left-to-right stream computes, at every pixel, ::

        [i, f, g, o] = K_is (*) x[i, j] + K_ss [h[i-1, j]; h[i, j-1]] + b

    i.e. its state comes from the pixel above and the pixel to the left, so
    it summarises the whole quadrant above-left. It is computed by
    :func:`skew`-ing the input-to-state map (row ``i`` shifted right by
    ``i``), running a column-wise LSTM whose state-to-state is a ``2 x 1``
    convolution over the previous column, and :func:`unskew`-ing the result.
    The right-to-left stream is the same on the width-flipped map (state from
    above and from the right); its output is shifted DOWN one row before the
    two are added, so pixel ``(i, j)`` gets the above-right quadrant of rows
    ``< i`` and never a future pixel of its own row. Input-to-state is a
    ``1 x 1`` convolution with mask ``"B"``.

    Receptive field: after a ``k x k`` mask-``"A"`` convolution, output
    ``(i, j)`` depends on every earlier pixel except one: the last pixel of
    the previous row, ``(i - 1, W - 1)``, is unseen when
    ``j < W - 1 - k // 2`` (only features at pixels after it, in row ``i``,
    contain it, and the mask-A kernel reaches ``k // 2`` columns right).
    Stacking more layers does not remove this; the unit tests measure the
    receptive field by gradients.

    Args:
        units: int, hidden units ``h`` per direction (divisible by
            ``color_groups``).
        color_groups: int, number of colour channel groups (1 or 3).
        unroll: bool. False (default): the recurrence is a ``keras.ops.scan``
            (a ``tf.while_loop`` on TensorFlow): compiles fast. True: a
            Python loop unrolled into the graph: slower to compile, often
            faster per step on small images (measure on your device).
        unit_forget_bias: bool, initialise the forget-gate bias to 1.
        kernel_initializer: initializer of the input-to-state kernel.
        recurrent_initializer: initializer of the state-to-state kernel.
        bias_initializer: initializer of the bias (when
            ``unit_forget_bias=False``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            optional regularizers of the three weights.
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, height, width, channels)`` with static height and width.

    Output shape:
        ``(batch, height, width, units)`` (the sum of the two streams).

    Raises:
        ValueError: for non-positive ``units``, ``units`` not divisible by
            ``color_groups``, or non-4D inputs.

    Example:

    >>> import keras
    >>> from keras_genmodels.layers import DiagonalBiLSTM, MaskedConv2D
    >>> x = keras.Input((6, 6, 1))
    >>> h = MaskedConv2D(8, 5, mask_type="A")(x)
    >>> h = DiagonalBiLSTM(4)(h)
    >>> tuple(h.shape)
    (None, 6, 6, 4)

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
        Networks", ICML 2016, section 3.2.
    """

    _directions = 2

    def __init__(self, units, color_groups=1, **kwargs):
        super().__init__(units, color_groups=color_groups, **kwargs)
        # One 1x1 mask-B conv for both directions: channels [group][direction][gate][unit].
        self.input_to_state = self._input_conv((1, 1), 8 * units)

    def build(self, input_shape):
        self._check_input(input_shape)
        self.input_to_state.build(input_shape)
        # [direction, (above; left-or-right neighbour) x units, 4 * units]
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(2, 2 * self.units, 4 * self.units),
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
        )
        self._add_bias()

    def _split_directions(self, z):
        """``(B, H, W, 8u)`` laid out [group][dir][gate][unit] -> two ``(B, H, W, 4u)``."""
        b, h, w = ops.shape(z)[0], z.shape[1], z.shape[2]
        g = self.color_groups
        z = ops.reshape(z, (b, h, w, g, 2, 4 * (self.units // g)))
        return [ops.reshape(d, (b, h, w, 4 * self.units)) for d in ops.split(z, 2, axis=-2)]

    def call(self, inputs):
        height, width = static_height_width(inputs, "DiagonalBiLSTM")
        u = self.units
        bias = ops.cast(self.bias, inputs.dtype)
        left, right = self._split_directions(self.input_to_state(inputs))
        left = left + bias[0]
        right = ops.flip(right, axis=2) + bias[1]
        # Both directions in one loop: stacked on the batch axis.
        z_in = skew(ops.concatenate([left, right], axis=0))  # (2B, H, W+H-1, 4u)
        kernel = ops.cast(self.recurrent_kernel, inputs.dtype)

        def step(state, z):
            h, c = state
            above = ops.pad(slice_axis(h, 0, -1, axis=1), [[0, 0], [1, 0], [0, 0]])
            hh = ops.reshape(ops.concatenate([above, h], axis=-1), (2, -1, 2 * u))
            z_ss = ops.reshape(ops.matmul(hh, kernel), (-1, height, 4 * u))
            h, c = self.cell(z + z_ss, c)
            return (h, c), (h, c)  # Keras' TensorFlow scan wants ys shaped like the carry

        zeros = ops.zeros((ops.shape(z_in)[0], height, u), z_in.dtype)
        init = (zeros, zeros)  # (h, c): no slicing of a packed state (see _gates)
        if self.unroll:
            state, cols = init, []
            for col in range(width + height - 1):
                state, _ = step(state, z_in[:, :, col])
                cols.append(state[0])
            hs = ops.stack(cols, axis=2)
        else:
            _, (hs, _) = ops.scan(step, init, ops.moveaxis(z_in, 2, 0))
            hs = ops.moveaxis(hs, 0, 2)
        out = unskew(hs, width)  # (2B, H, W, u)
        left_out, right_out = ops.split(out, 2, axis=0)
        right_out = ops.flip(right_out, axis=2)
        # Shift the right-to-left stream down one row: (i, j) sees rows < i of it.
        right_out = ops.pad(slice_axis(right_out, 0, -1, axis=1), [[0, 0], [1, 0], [0, 0], [0, 0]])
        return left_out + right_out

    # ------------------------------------------------------ incremental step
    # In image coordinates the skewed column recurrence is
    # L(i, j) = LSTM(z_L(i, j) + K_l [hL(i-1, j); hL(i, j-1)], cL(i, j-1)) for
    # the left-to-right stream (``left_pixel_step``, at each new pixel) and
    # the same with the right neighbour for the right-to-left stream, which
    # the layer shifts down a row: it is needed for row i + 1 only, and is
    # computed by one right-to-left scan once row i is finished (``right_row``).
    def cached_weights(self):
        """The layer's weights as float32 tensors for the incremental steps.

        ``input`` is the 1x1 kernel with its columns reordered from
        [group][direction][gate][unit] to [direction][group][gate][unit]
        (the left stream's ``4 units``, then the right stream's).

        Example:

        >>> from keras_genmodels.layers import DiagonalBiLSTM
        >>> layer = DiagonalBiLSTM(4)
        >>> layer.build((None, 5, 5, 8))
        >>> tuple(layer.cached_weights()["input"].shape)
        (8, 32)
        """
        matrix = self.input_to_state.cached_kernels()["row"]
        rows, g = matrix.shape[0], self.color_groups
        matrix = ops.reshape(matrix, (rows, g, 2, -1))
        return {
            "input": ops.concatenate(
                [ops.reshape(matrix[:, :, d], (rows, -1)) for d in range(2)], axis=-1),
            "bias": ops.reshape(ops.convert_to_tensor(self.bias, "float32"), (-1,)),
            "recurrent": ops.convert_to_tensor(self.recurrent_kernel, "float32"),
        }

    def left_pixel_step(self, x, h_above, h_left, c_left, weights):
        """The left-to-right stream at one pixel.

        Args:
            x: ``(n, channels)``, the layer's input at the pixel.
            h_above, h_left: ``(n, units)``, the stream's ``h`` at the pixels
                above and to the left (zeros outside the image).
            c_left: ``(n, units)``, the cell state to the left.
            weights: :meth:`cached_weights`.

        Returns:
            ``(h, c, z_right)``: the stream's state and ``(n, 4 units)``,
            the right stream's input-to-state term at the pixel (for
            :meth:`right_row`).
        """
        four = 4 * self.units
        z = ops.matmul(x, weights["input"]) + weights["bias"]
        neighbours = ops.concatenate([h_above, h_left], axis=-1)
        h, c = self.cell(z[:, :four] + ops.matmul(neighbours, weights["recurrent"][0]), c_left)
        return h, c, z[:, four:]

    def right_row(self, z_right, h_above, weights):
        """The right-to-left stream of a finished row: one scan from the last column to the first.

        Args:
            z_right: ``(n, W, 4 units)``, :meth:`left_pixel_step`'s ``z_right``
                of every pixel of the row.
            h_above: ``(n, W, units)``, the stream's previous row (zeros above
                the image).
            weights: :meth:`cached_weights`.

        Returns:
            ``(n, W, units)``, the stream's ``h`` of the row; the layer's output
            at ``(i + 1, j)`` adds it to the left stream.
        """
        kernel = weights["recurrent"][1]
        u, four = self.units, 4 * self.units

        def step(state, inputs):  # state [h; c] of the column to the right
            z, up = inputs[:, :four], inputs[:, four:]
            h, c = self.cell(z + ops.matmul(ops.concatenate([up, state[:, :u]], axis=-1), kernel),
                             state[:, u:])
            state = ops.concatenate([h, c], axis=-1)
            return state, state

        init = ops.zeros((h_above.shape[0], 2 * u), "float32")
        xs = ops.flip(ops.moveaxis(ops.concatenate([z_right, h_above], axis=-1), 1, 0), axis=0)
        _, states = ops.scan(step, init, xs)
        return ops.moveaxis(ops.flip(states[..., :u], axis=0), 0, 1)
