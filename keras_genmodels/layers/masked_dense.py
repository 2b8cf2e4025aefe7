"""MaskedDense: the masked fully-connected layer of MADE (Germain et al., 2015)."""

import numpy as np
from keras import activations
from keras import constraints
from keras import initializers
from keras import layers as keras_layers
from keras import ops
from keras import regularizers

from keras_genmodels._api import register
from keras_genmodels._validate import check_int

HIDDEN_DEGREES = ("random", "equal")


def degree_mask(input_degrees, output_degrees, strict=False):
    """The MADE connectivity mask from unit degrees.

    Unit ``j`` of the output may see unit ``i`` of the input when
    ``output_degrees[j] >= input_degrees[i]`` (hidden layers) or, with
    ``strict=True``, when ``output_degrees[j] > input_degrees[i]`` (the output
    layer and direct input-to-output connections, so that output ``d`` never
    sees input ``d`` itself).

    Args:
        input_degrees: int array ``(in,)``, or ``(num_masks, in)`` for a stack
            of masks.
        output_degrees: int array ``(out,)`` or ``(num_masks, out)``.
        strict: bool, use ``>`` instead of ``>=``.

    Returns:
        float32 NumPy array ``(in, out)`` (or ``(num_masks, in, out)``) of 0/1.

    Raises:
        ValueError: for non-integer degrees or mismatching stack sizes.

    Example:

    >>> from keras_genmodels.layers import degree_mask
    >>> degree_mask([1, 2, 3], [1, 2], strict=False)   # (in, out): out >= in
    array([[1., 1.],
           [0., 1.],
           [0., 0.]], dtype=float32)
    >>> degree_mask([1, 2, 3], [1, 2], strict=True)    # out > in
    array([[0., 1.],
           [0., 0.],
           [0., 0.]], dtype=float32)
    """
    din, dout = _check_degree_pair(input_degrees, output_degrees)
    if strict:
        mask = dout[..., None, :] > din[..., :, None]
    else:
        mask = dout[..., None, :] >= din[..., :, None]
    return mask.astype("float32")


def _check_degree_pair(input_degrees, output_degrees):
    din = _as_degrees(input_degrees, "input_degrees")
    dout = _as_degrees(output_degrees, "output_degrees")
    if din.ndim != dout.ndim or (din.ndim == 2 and din.shape[0] != dout.shape[0]):
        raise ValueError(
            "input_degrees and output_degrees must both be 1D, or both 2D with the "
            f"same number of masks. Received shapes {din.shape} and {dout.shape}"
        )
    return din, dout


def _as_degrees(degrees, name):
    arr = np.asarray(degrees)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1D array (one degree per unit) or a 2D "
            f"array (num_masks, units). Received: shape={arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)) or np.any(
        arr != np.round(arr)
    ):
        raise ValueError(f"{name} must contain integers. Received: {degrees!r}")
    return arr.astype("int64")


def made_degrees(input_dim, hidden_units, order=None, hidden_degrees="random", rng=None):
    """Unit degrees of a MADE network (input, each hidden layer).

    The input unit ``order[k]`` gets degree ``k + 1``: it is the ``(k + 1)``-th
    variable in the autoregressive order. Hidden units get degrees in
    ``[min(previous degrees), input_dim - 1]`` - drawn uniformly at random
    (``hidden_degrees="random"``, as in the paper) or spread evenly over that
    range (``"equal"``) - so that no hidden unit is useless. The output
    layer reuses the input degrees with a strict mask (see :func:`degree_mask`).

    Args:
        input_dim: int D >= 1.
        hidden_units: sequence of ints, the hidden layer widths.
        order: permutation of ``range(D)`` (the first variable first) or None
            for the natural order ``0, 1, ..., D-1``.
        hidden_degrees: ``"random"`` or ``"equal"``.
        rng: ``numpy.random.Generator`` for ``"random"`` (default: seed 0).

    Returns:
        A list of int64 arrays: the input degrees ``(D,)`` followed by one
        array per hidden layer.

    Raises:
        ValueError: for a bad order or an unknown ``hidden_degrees``.

    Example:

    >>> from keras_genmodels.layers import made_degrees
    >>> deg_in, deg_h = made_degrees(3, [4], hidden_degrees="equal")
    >>> deg_in.tolist(), deg_h.tolist()
    ([1, 2, 3], [1, 1, 2, 2])
    >>> deg_in, deg_h = made_degrees(3, [4], order=[2, 0, 1], hidden_degrees="equal")
    >>> deg_in.tolist()   # variable 2 comes first, then 0, then 1
    [2, 3, 1]
    """
    order = check_order(order, input_dim)
    if hidden_degrees not in HIDDEN_DEGREES:
        raise ValueError(
            f"hidden_degrees must be one of {HIDDEN_DEGREES}. Received: "
            f"hidden_degrees={hidden_degrees!r}"
        )
    rng = rng if rng is not None else np.random.default_rng(0)
    degrees = [np.empty(input_dim, "int64")]
    degrees[0][order] = np.arange(1, input_dim + 1)
    for units in hidden_units:
        low = min(int(degrees[-1].min()), max(input_dim - 1, 1))
        high = max(input_dim - 1, 1)
        if hidden_degrees == "random":
            d = rng.integers(low, high + 1, size=units)
        else:
            d = low + (np.arange(units) * (high - low + 1)) // units
        degrees.append(d.astype("int64"))
    return degrees


def check_order(order, input_dim):
    """Validate an autoregressive order (a permutation of ``range(input_dim)``).

    Returns:
        The order as an int array (``arange(input_dim)`` for ``None``).

    Raises:
        ValueError: when ``order`` is not a permutation of ``range(input_dim)``.

    Example:

    >>> from keras_genmodels.layers.masked_dense import check_order
    >>> check_order([2, 0, 1], 3).tolist(), check_order(None, 3).tolist()
    ([2, 0, 1], [0, 1, 2])
    >>> check_order([0, 0, 1], 3)
    Traceback (most recent call last):
    ...
    ValueError: order must be a permutation of range(3). Received: order=[0, 0, 1]
    """
    if order is None:
        return np.arange(input_dim)
    arr = np.asarray(order)
    if arr.shape != (input_dim,) or not np.array_equal(np.sort(arr), np.arange(input_dim)):
        raise ValueError(
            f"order must be a permutation of range({input_dim}). Received: order={order!r}"
        )
    return arr.astype("int64")


@register
class MaskedDense(keras_layers.Layer):
    """A densely-connected layer whose kernel is multiplied by a constant 0/1 mask.

    ``output = activation(inputs @ (kernel * mask) + bias)``. The mask is a
    constant applied inside ``call``; the kernel variable is never modified,
    so masked entries get exactly zero gradient and weights save, load and
    regularise like a plain ``Dense`` kernel. Stacking these layers with masks
    built from unit degrees (:func:`degree_mask`, :func:`made_degrees`) gives
    an autoregressive network (MADE).

    The mask is given either explicitly (``mask``) or through the degrees of
    the input and output units (``input_degrees``, ``output_degrees``,
    ``strict``). A stack of masks (leading axis ``num_masks``) is allowed: the
    layer then applies mask ``mask_index`` (a call argument, an int or a
    scalar int tensor; default 0), which is how MADE resamples connectivity
    while sharing one kernel.

    Args:
        units: int, output dimension.
        mask: array-like of 0/1 of shape ``(in, units)`` or
            ``(num_masks, in, units)``, or None when degrees are given.
        input_degrees: int array ``(in,)`` or ``(num_masks, in)``.
        output_degrees: int array ``(units,)`` or ``(num_masks, units)``.
        strict: bool, with degrees: connect when ``out > in`` instead of
            ``out >= in`` (output layers).
        activation, use_bias, kernel_initializer, bias_initializer,
        kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint: as in ``keras.layers.Dense``.
        **kwargs: base layer arguments (``name``, ``dtype``, ...).

    Input shape:
        N-D tensor ``(batch, ..., in)``.

    Output shape:
        N-D tensor ``(batch, ..., units)``.

    Raises:
        ValueError: when neither or both of ``mask`` and the degrees are given,
            for a mask with values other than 0/1, or whose shape does not
            match ``(in, units)``.

    Example:

    >>> import keras
    >>> from keras_genmodels.layers import MaskedDense, made_degrees
    >>> deg_in, deg_h = made_degrees(4, [8])
    >>> x = keras.Input((4,))
    >>> h = MaskedDense(8, input_degrees=deg_in, output_degrees=deg_h,
    ...                 activation="relu")(x)
    >>> logits = MaskedDense(4, input_degrees=deg_h, output_degrees=deg_in,
    ...                      strict=True)(h)
    >>> made = keras.Model(x, logits)
    >>> tuple(made.output.shape)
    (None, 4)
    >>> # A direct input-to-output layer: output d sees the inputs before d only.
    >>> direct = MaskedDense(4, input_degrees=deg_in, output_degrees=deg_in, strict=True)
    >>> direct.mask   # (in, units)
    array([[0., 1., 1., 1.],
           [0., 0., 1., 1.],
           [0., 0., 0., 1.],
           [0., 0., 0., 0.]], dtype=float32)

    References:
        Germain, Gregor, Murray & Larochelle, "MADE: Masked Autoencoder for
        Distribution Estimation", ICML 2015.
    """

    def __init__(
        self,
        units,
        mask=None,
        input_degrees=None,
        output_degrees=None,
        strict=False,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        units = check_int("units", units)
        self.units = units
        has_degrees = input_degrees is not None or output_degrees is not None
        if (mask is None) == (not has_degrees) or (
            has_degrees and (input_degrees is None or output_degrees is None)
        ):
            raise ValueError(
                "MaskedDense needs either `mask` or both `input_degrees` and "
                f"`output_degrees`. Received: mask={'given' if mask is not None else None}, "
                f"input_degrees={'given' if input_degrees is not None else None}, "
                f"output_degrees={'given' if output_degrees is not None else None}"
            )
        self.strict = bool(strict)
        if has_degrees:
            self.input_degrees, self.output_degrees = _check_degree_pair(input_degrees,
                                                                         output_degrees)
            self._explicit_mask = None
            # A stack's masks are computed from these degrees (see `masked_kernel`).
            self._num_masks = 1 if self.input_degrees.ndim == 1 else self.input_degrees.shape[0]
            in_features = self.input_degrees.shape[-1]
            mask_units = self.output_degrees.shape[-1]
            self._mask_stack = None
        else:
            self.input_degrees = self.output_degrees = None
            mask_value = np.asarray(mask, dtype="float64")
            if mask_value.ndim not in (2, 3):
                raise ValueError(
                    "mask must have shape (in, units) or (num_masks, in, units). "
                    f"Received: mask.shape={mask_value.shape}"
                )
            if not np.all((mask_value == 0) | (mask_value == 1)):
                raise ValueError("mask must contain only 0 and 1 values.")
            mask_value = mask_value.astype("float32")
            self._explicit_mask = mask_value
            self._mask_stack = mask_value if mask_value.ndim == 3 else mask_value[None]
            self._num_masks, in_features, mask_units = self._mask_stack.shape
        if mask_units != units:
            raise ValueError(
                f"The mask's last axis ({mask_units}) must equal units={units}."
            )
        self._in_features = int(in_features)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def num_masks(self):
        """Number of masks in the stack (1 for a single mask)."""
        return self._num_masks

    def mask_at(self, index):
        """The 0/1 NumPy mask ``(in, units)`` of mask ``index`` of the stack."""
        if self._mask_stack is not None:
            return self._mask_stack[index]
        din, dout = self.input_degrees, self.output_degrees
        if din.ndim == 2:
            din, dout = din[index], dout[index]
        return degree_mask(din, dout, self.strict)

    @property
    def mask(self):
        """The 0/1 mask ``(in, units)``, or ``(num_masks, in, units)`` for a stack."""
        if self.num_masks == 1:
            return self.mask_at(0)
        if self._mask_stack is not None:
            return self._mask_stack
        return degree_mask(self.input_degrees, self.output_degrees, self.strict)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim != self._in_features:
            raise ValueError(
                f"MaskedDense's mask expects {self._in_features} input features; "
                f"received input_shape={tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(in_dim, self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def masked_kernel(self, mask_index=None):
        """``kernel * mask`` for mask ``mask_index`` of the stack (default 0)."""
        if self.num_masks == 1 or mask_index is None:
            mask = self.mask_at(0)
        else:
            if isinstance(mask_index, (int, np.integer)) and not 0 <= mask_index < self.num_masks:
                raise ValueError(
                    f"mask_index must be in [0, {self.num_masks}). Received: "
                    f"mask_index={mask_index}"
                )
            k = ops.cast(mask_index, "int32")
            if self._mask_stack is not None:
                mask = ops.take(ops.convert_to_tensor(self._mask_stack), k, axis=0)
            else:
                # From the degrees, in the graph: a NumPy mask per index would put
                # K (in, units) constants into every graph that loops over the
                # masks (MADE's ensemble log-prob: +5.7 GB for 32 masks of 784 x 2000).
                din = ops.take(ops.convert_to_tensor(self.input_degrees, "int32"), k, axis=0)
                dout = ops.take(ops.convert_to_tensor(self.output_degrees, "int32"), k, axis=0)
                compare = ops.greater if self.strict else ops.greater_equal
                mask = compare(dout[None, :], din[:, None])
        return self.kernel * ops.cast(mask, self.kernel.dtype)

    def call(self, inputs, mask_index=None):
        x = ops.matmul(inputs, self.masked_kernel(mask_index))
        if self.bias is not None:
            x = x + self.bias
        if self.activation is not None:
            x = self.activation(x)
        return x

    # ------------------------------------------------------ incremental step
    # Generation one input at a time (MADE's cached sampler): when input d
    # gets its value, the pre-activations gain value * kernel[d]
    # (``add_input``, a rank-1 update instead of a full product), and only
    # the output unit about to be drawn is computed (``output_at``).
    def cached_kernels(self, mask_index=None):
        """``(kernel * mask, bias)`` as float32 tensors for the incremental step.

        Args:
            mask_index: int, the mask of the stack (default 0).

        Returns:
            ``(kernel (in, units), bias (units,))``; zeros without a bias.

        Example:

        >>> from keras_genmodels.layers import MaskedDense
        >>> layer = MaskedDense(3, mask=[[1, 0, 1], [0, 1, 1]])
        >>> layer.build((None, 2))
        >>> kernel, bias = layer.cached_kernels()
        >>> tuple(kernel.shape), tuple(bias.shape)
        ((2, 3), (3,))
        """
        kernel = ops.cast(self.masked_kernel(mask_index), "float32")
        bias = (ops.convert_to_tensor(self.bias, "float32") if self.bias is not None
                else ops.zeros((self.units,), "float32"))
        return kernel, bias

    def add_input(self, pre, value, index, kernels):
        """Pre-activations after input ``index`` gets ``value``: ``pre + value * kernel[index]``.

        Args:
            pre: ``(n, units)``, the pre-activations so far (start from the bias).
            value: ``(n,)``, the new input's values.
            index: scalar int tensor, which input.
            kernels: :meth:`cached_kernels`.

        Returns:
            ``(n, units)``.
        """
        return pre + value[:, None] * ops.take(kernels[0], index, axis=0)[None]

    def output_at(self, h, index, kernels):
        """Output unit ``index`` of the layer (activation applied): ``(n,)``.

        Example:

        >>> import numpy as np
        >>> import keras
        >>> from keras_genmodels.layers import MaskedDense
        >>> layer = MaskedDense(3, mask=[[1, 0, 1], [0, 1, 1]], activation="relu")
        >>> x = np.random.rand(4, 2).astype("float32")
        >>> full = keras.ops.convert_to_numpy(layer(x))   # builds the layer
        >>> unit = layer.output_at(keras.ops.convert_to_tensor(x), 2, layer.cached_kernels())
        >>> bool(np.allclose(keras.ops.convert_to_numpy(unit), full[:, 2], atol=1e-6))
        True
        """
        kernel, bias = kernels
        out = ops.matmul(h, ops.take(kernel, index, axis=1)) + ops.take(bias, index)
        return out if self.activation is None else self.activation(out)

    def apply_cached(self, h, kernels):
        """The whole layer from :meth:`cached_kernels` (a hidden layer after the first)."""
        kernel, bias = kernels
        out = ops.matmul(h, kernel) + bias
        return out if self.activation is None else self.activation(out)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "mask": None if self._explicit_mask is None else self._explicit_mask.tolist(),
            "input_degrees": None if self.input_degrees is None else self.input_degrees.tolist(),
            "output_degrees": None if self.output_degrees is None else self.output_degrees.tolist(),
            "strict": self.strict,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        })
        return config
