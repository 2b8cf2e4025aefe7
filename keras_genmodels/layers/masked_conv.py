"""MaskedConv2D: the causal convolution of PixelCNN (van den Oord et al., 2016)."""

from keras import layers as keras_layers
from keras import ops

from keras_genmodels._api import register
from keras_genmodels.kernels.masked_conv import masked_conv2d
from keras_genmodels.kernels.masks import MASK_TYPES  # noqa: F401  (re-exported)
from keras_genmodels.kernels.masks import causal_mask
from keras_genmodels.kernels.masks import check_mask_args

IMPLEMENTATIONS = ("auto", "reference", "fused", "fused_xla")


@register
class MaskedConv2D(keras_layers.Conv2D):
    """2D convolution with a PixelCNN causal mask.

    Output pixel (i, j) depends only on input pixels above row i and on the
    pixels left of column j in row i. Mask ``"A"`` (the first layer of a
    PixelCNN) excludes pixel (i, j) itself; mask ``"B"`` (later layers)
    includes it. With ``color_groups=3`` the channels are split into R, G, B
    groups and, at the current pixel, mask A lets G see R and B see R and G,
    while mask B also lets each group see itself.

    The kernel variable itself is never modified, so weights can be saved,
    loaded and regularised as in a plain ``Conv2D``. The implementations
    compute the same function from the same ``(kh, kw, in, filters)`` kernel
    (weights saved from one load into the other):

    * ``"reference"``: the constant mask is multiplied into the kernel inside
      ``convolution_op`` and a dense ``kh x kw`` convolution is run;
    * ``"fused"``: ``keras_genmodels.kernels.masked_conv2d``, which skips the
      masked-out taps (a convolution over the rows above plus a one-row
      convolution over the current row: 24 taps instead of 49 for a 7x7 mask
      A) and applies bias and activation in the same function;
    * ``"fused_xla"``: the fused kernel, compiled on its own with XLA
      (TensorFlow and JAX only; a ``ValueError`` on torch at call time);
    * ``"auto"`` (default): ``"fused"``, compiled with XLA only when a GPU/TPU
      is present and the backend is TensorFlow or JAX (on CPU separately
      compiled XLA kernels measured slower than TensorFlow's own
      convolutions; see ``bench/masked_conv.py``). On torch it is always
      the eager ``"fused"`` path.
    Padding is always ``"same"`` and strides are 1 (the output keeps the image
    size, as an autoregressive model needs).

    Args:
        filters: int, number of output channels (divisible by ``color_groups``).
        kernel_size: int or tuple of 2 odd ints.
        mask_type: ``"A"`` or ``"B"``.
        color_groups: int, number of colour channel groups (1 or 3 usually).
        dilation_rate: int or tuple of 2 ints.
        implementation: ``"auto"``, ``"reference"``, ``"fused"`` or
            ``"fused_xla"`` (see above).
        activation, use_bias, kernel_initializer, bias_initializer,
        kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint: as in ``keras.layers.Conv2D``.
        **kwargs: base layer arguments (``name``, ``dtype``, ...).

    Input shape:
        4D tensor ``(batch, height, width, channels)`` (channels_last).

    Output shape:
        4D tensor ``(batch, height, width, filters)``.

    Raises:
        ValueError: for an even kernel size, an unknown mask type, channel
            counts not divisible by ``color_groups``, an unknown
            ``implementation``, inputs that are not 4D, or
            ``strides``/``padding``/``data_format``/``groups`` other than
            1 / ``"same"`` / ``"channels_last"`` / 1.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import MaskedConv2D
    >>> x = keras.Input((8, 8, 1))
    >>> h = MaskedConv2D(16, 5, mask_type="A")(x)
    >>> h = MaskedConv2D(16, 3, mask_type="B", activation="relu")(h)
    >>> model = keras.Model(x, h)
    >>> tuple(model.output.shape)
    (None, 8, 8, 16)
    >>> # Causal: changing rows 3.. of the image leaves output rows 0..2 as they were.
    >>> images = np.random.rand(2, 8, 8, 1).astype("float32")
    >>> changed = images.copy()
    >>> changed[:, 3:] = 0.0
    >>> before = keras.ops.convert_to_numpy(model(images))
    >>> after = keras.ops.convert_to_numpy(model(changed))
    >>> bool(np.allclose(before[:, :3], after[:, :3])), bool(np.allclose(before, after))
    (True, False)

    References:
        van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        color_groups=1,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        implementation="auto",
        **kwargs,
    ):
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"Unknown implementation. Expected one of {IMPLEMENTATIONS}. "
                f"Received: implementation={implementation!r}"
            )
        self.implementation = implementation
        for unsupported in ("strides", "padding", "groups", "data_format"):
            value = kwargs.pop(unsupported, None)
            allowed = {"strides": (1, (1, 1), [1, 1]), "padding": ("same",),
                       "groups": (1,), "data_format": ("channels_last",)}[unsupported]
            if value is not None and value not in allowed:
                raise ValueError(
                    f"MaskedConv2D supports only {unsupported}={allowed[0]!r}. "
                    f"Received: {unsupported}={value!r}"
                )
        kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.mask_type = check_mask_args(kernel_size, None, filters, mask_type, color_groups)
        self.color_groups = color_groups
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            strides=(1, 1),
            padding="same",
            data_format="channels_last",
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "MaskedConv2D expects 4D inputs (batch, height, width, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        in_channels = input_shape[-1]
        self.mask = causal_mask(
            self.kernel_size, in_channels, self.filters, self.mask_type, self.color_groups
        )
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        kernel = kernel * ops.cast(self.mask, kernel.dtype)
        return super().convolution_op(inputs, kernel)

    def call(self, inputs):
        if self.implementation == "reference":
            return super().call(inputs)
        compile = {"auto": "auto", "fused": False, "fused_xla": True}[self.implementation]
        return masked_conv2d(
            inputs,
            self.kernel,
            self.bias if self.use_bias else None,
            mask_type=self.mask_type,
            color_groups=self.color_groups,
            activation=self.activation,
            dilation_rate=self.dilation_rate,
            compile=compile,
        )

    # ------------------------------------------------------ incremental step
    # Generation one pixel at a time (the cached samplers): the output at
    # pixel (i, j) is the rows of the kernel above the centre applied to
    # finished rows (computed once per row, ``rows_above``) plus the centre
    # row's taps left of j and the centre (colour-masked) applied to the
    # current row (``at_pixel``). Masked-out taps are never multiplied.
    def cached_kernels(self):
        """The masked kernel split for one-pixel-at-a-time evaluation.

        Returns:
            dict of float32 tensors: ``above``, the kernel rows above the
            centre ``(kh // 2, kw, in, out)`` (None for a ``1 x kw``
            kernel); ``row``, the centre-row taps ``0 .. kw // 2`` (mask
            applied) as a ``((kw // 2 + 1) * in, out)`` matrix (for a 1x1
            kernel: the kernel as an ``(in, out)`` matrix); ``bias``
            ``(out,)`` (zeros without a bias).

        Example:

        >>> from keras_genmodels.layers import MaskedConv2D
        >>> conv = MaskedConv2D(4, 3, mask_type="A")
        >>> conv.build((None, 5, 5, 2))
        >>> k = conv.cached_kernels()
        >>> tuple(k["above"].shape), tuple(k["row"].shape), tuple(k["bias"].shape)
        ((1, 3, 2, 4), (4, 4), (4,))
        """
        if self.dilation_rate not in ((1, 1), [1, 1], 1):
            raise ValueError("The incremental step supports dilation_rate=1 only.")
        kernel = ops.convert_to_tensor(self.kernel, "float32") * ops.convert_to_tensor(
            self.mask, "float32")
        q, c = kernel.shape[0] // 2, kernel.shape[1] // 2
        bias = (ops.convert_to_tensor(self.bias, "float32") if self.use_bias
                else ops.zeros((self.filters,), "float32"))
        return {"above": kernel[:q] if q else None,
                "row": ops.reshape(kernel[q, :c + 1], (-1, kernel.shape[-1])),
                "bias": bias}

    def rows_above(self, strip, kernels):
        """The contribution of the finished rows to a whole output row, plus the bias.

        Args:
            strip: the ``kh // 2`` input rows above the output row, zero-padded
                by ``kw // 2`` columns on each side: ``(n, kh // 2, W + kw - 1, in)``.
            kernels: :meth:`cached_kernels` (``above`` not None).

        Returns:
            ``(n, W, out)``, before the activation.
        """
        return kernels["bias"] + ops.conv(strip, kernels["above"], padding="valid")[:, 0]

    def at_pixel(self, window, kernels, above=None):
        """The layer's output at one pixel from its centre-row window (and the rows above).

        Args:
            window: ``(n, (kw // 2 + 1) * in)``, the input at the centre-row
                taps ``j - kw // 2 .. j`` (zeros left of the image), flattened.
            kernels: :meth:`cached_kernels`.
            above: ``(n, out)``, the pixel's column of :meth:`rows_above`, or
                None (a ``1 x kw`` kernel: the bias alone).

        Returns:
            ``(n, out)``: the layer's output at the pixel (activation applied).

        Example:

        >>> import numpy as np
        >>> import keras
        >>> from keras_genmodels.layers import MaskedConv2D
        >>> conv = MaskedConv2D(3, 1, mask_type="B")
        >>> x = np.random.rand(2, 4, 4, 6).astype("float32")
        >>> full = keras.ops.convert_to_numpy(conv(x))
        >>> at = conv.at_pixel(keras.ops.convert_to_tensor(x[:, 1, 2]), conv.cached_kernels())
        >>> bool(np.allclose(keras.ops.convert_to_numpy(at), full[:, 1, 2], atol=1e-5))
        True
        """
        h = ops.matmul(window, kernels["row"])
        h = h + (kernels["bias"] if above is None else above)
        return self.activation(h)

    def get_config(self):
        config = super().get_config()
        for key in ("strides", "padding", "data_format", "groups"):
            config.pop(key, None)
        config.update({
            "mask_type": self.mask_type,
            "color_groups": self.color_groups,
            "implementation": self.implementation,
        })
        return config
