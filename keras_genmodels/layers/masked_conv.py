"""MaskedConv2D: the causal convolution of PixelCNN (van den Oord et al., 2016)."""

import numpy as np
from keras import layers as keras_layers
from keras import ops

from keras_genmodels._api import register

MASK_TYPES = ("A", "B")
IMPLEMENTATIONS = ("auto", "reference", "fused", "fused_xla")


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
    """
    kh, kw = kernel_size
    mask_type = _check_mask_args(kernel_size, in_channels, out_channels, mask_type, color_groups)
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


def _check_mask_args(kernel_size, in_channels, out_channels, mask_type, color_groups):
    if not isinstance(mask_type, str) or mask_type.upper() not in MASK_TYPES:
        raise ValueError(
            f"Unknown mask_type. Expected 'A' or 'B'. Received: mask_type={mask_type!r}"
        )
    for k in kernel_size:
        if k < 1 or k % 2 == 0:
            raise ValueError(
                "MaskedConv2D needs odd kernel sizes so that the kernel has a centre "
                f"tap. Received: kernel_size={tuple(kernel_size)}"
            )
    if not isinstance(color_groups, int) or color_groups < 1:
        raise ValueError(
            f"color_groups must be a positive int. Received: color_groups={color_groups!r}"
        )
    for name, c in (("input channels", in_channels), ("filters", out_channels)):
        if c is not None and c % color_groups != 0:
            raise ValueError(
                f"The number of {name} ({c}) must be divisible by "
                f"color_groups={color_groups}."
            )
    return mask_type.upper()


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

    >>> x = keras.Input((28, 28, 1))
    >>> h = MaskedConv2D(64, 7, mask_type="A")(x)
    >>> h = MaskedConv2D(64, 3, mask_type="B", activation="relu")(h)

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
        self.mask_type = _check_mask_args(kernel_size, None, filters, mask_type, color_groups)
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
        from keras_genmodels.kernels import masked_conv2d

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
