"""Fused masked convolution: no work on masked-out taps, one compiled epilogue.

A PixelCNN convolution with a ``kh x kw`` kernel and mask ``"A"`` or ``"B"``
only ever uses the rows above the centre and the taps left of (and, for mask
B / colour groups, at) the centre of the centre row. Multiplying a 0/1 mask
into the kernel (the reference, ``MaskedConv2D(implementation="reference")``)
computes all ``kh * kw`` taps and throws a third to a half of them away. This
module computes the same function as two smaller convolutions:

* **rows above**: a ``(kh // 2) x kw`` convolution on the input padded with
  ``kh // 2`` rows of zeros on top and cropped by one row at the bottom, so
  output row ``i`` sees input rows ``i - kh // 2 .. i - 1`` (a "valid" conv on
  a shifted-down input);
* **current row**: a ``1 x (kw // 2)`` convolution on the input padded with
  ``kw // 2`` zero columns on the left and cropped by one column on the right
  (the taps strictly left of the centre), widened to ``1 x (kw // 2 + 1)``
  without the crop when the centre tap is used (mask B, or colour groups,
  where the centre tap's ``in x out`` matrix is multiplied by the
  colour-group mask).

A 7x7 mask-A convolution thus costs 21 + 3 = 24 taps instead of 49; a 3x3
mask-B convolution 3 + 2 = 5 instead of 9 (``method="split"``). On CPU two
thin convolutions run slower than one larger one, so ``method="shifted"``
computes a single convolution over the ``kh // 2 + 1`` rows ending at the
current row (the PixelCNN++ "down-shifted" conv): it still skips every row
below the centre (28 taps for 7x7, 6 for 3x3) and is the CPU default. Bias, an activation or the gated
unit ``tanh(a) * sigmoid(b)`` and a residual input are applied in the same
function, so an XLA compilation (``compile=True``: ``tf.function(jit_compile=
True)`` on TensorFlow, ``jax.jit`` on JAX) fuses them with the convolutions.

The code is ``keras.ops``, except two backend-specific parts: the compile
step, and on TensorFlow three native ops that ``keras.ops`` cannot express
(``_tensorflow.py``: a fusable ``BiasAdd``, explicit conv padding, the input
gradient as a forward conv; ~1.15x faster training on CPU, same values).
XLA is *not* always faster: on the 2-core CPU this package is tested on
a separately compiled kernel is slower than TensorFlow's oneDNN convolutions
(see ``bench/masked_conv.py``), so ``compile="auto"`` compiles only when an
accelerator (GPU/TPU) is present.

References:
    van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016.
    van den Oord et al., "Conditional Image Generation with PixelCNN Decoders",
    NeurIPS 2016 (gated activation units).
"""

import functools

import keras
from keras import ops

from keras_genmodels.kernels.masks import causal_mask
from keras_genmodels.kernels.masks import check_mask_args
from keras_genmodels.kernels.slicing import slice_axis

__all__ = [
    "masked_conv2d",
    "reference_masked_conv2d",
    "tap_counts",
    "conv_flops",
    "accelerator_available",
    "gated_activation",
]

_COMPILE_CHOICES = (True, False, "auto")
METHODS = ("auto", "split", "shifted")


def _normalize_pair(value, name):
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them. Received: {name}={value}")
    return value


def _check(x, kernel, bias, mask_type, color_groups, gated, residual):
    if len(kernel.shape) != 4:
        raise ValueError(
            "kernel must have shape (kh, kw, in_channels, out_channels). "
            f"Received: kernel.shape={tuple(kernel.shape)}"
        )
    if len(x.shape) != 4:
        raise ValueError(
            "x must be 4D (batch, height, width, channels). "
            f"Received: x.shape={tuple(x.shape)}"
        )
    kh, kw, cin, cout = (int(d) for d in kernel.shape)
    mask_type = check_mask_args((kh, kw), cin, cout, mask_type, color_groups)
    if x.shape[-1] is not None and int(x.shape[-1]) != cin:
        raise ValueError(
            f"x has {x.shape[-1]} channels but the kernel expects {cin}. "
            f"Received: x.shape={tuple(x.shape)}, kernel.shape={tuple(kernel.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (cout,):
        raise ValueError(
            f"bias must have shape ({cout},). Received: bias.shape={tuple(bias.shape)}"
        )
    if gated and cout % (2 * color_groups) != 0:
        raise ValueError(
            "gated=True splits every colour group's channels into a tanh half and a "
            f"sigmoid half: out_channels ({cout}) must be divisible by "
            f"2 * color_groups = {2 * color_groups}."
        )
    out_channels = cout // 2 if gated else cout
    if residual is not None and residual.shape[-1] is not None and int(residual.shape[-1]) != out_channels:
        raise ValueError(
            f"residual must have {out_channels} channels (the output's). "
            f"Received: residual.shape={tuple(residual.shape)}"
        )
    return mask_type


def tap_counts(kernel_size, mask_type, color_groups=1):
    """Taps computed by the reference (dense) and by the fused kernel.

    Args:
        kernel_size: int or pair of odd ints.
        mask_type: ``"A"`` or ``"B"``.
        color_groups: int.

    Returns:
        dict with ``dense`` (``kh * kw``), ``split`` (full ``in x out`` taps
        the split kernel multiplies: rows above, left of centre, and the
        centre when it is used), ``shifted`` (``(kh // 2 + 1) * kw`` when
        ``kh > 1``) and ``uses_centre`` (bool).

    Example:

    >>> from keras_genmodels.kernels import tap_counts
    >>> tap_counts(7, "A")   # 21 rows above + 3 left of the centre
    {'dense': 49, 'split': 24, 'shifted': 28, 'uses_centre': False}
    >>> tap_counts(3, "B")
    {'dense': 9, 'split': 5, 'shifted': 6, 'uses_centre': True}
    """
    kh, kw = _normalize_pair(kernel_size, "kernel_size")
    uses_centre = mask_type.upper() == "B" or color_groups > 1
    split = (kh // 2) * kw + kw // 2 + (1 if uses_centre else 0)
    shifted = (kh // 2 + 1) * kw if kh > 1 else split
    return {"dense": kh * kw, "split": split, "shifted": shifted, "uses_centre": uses_centre}


def conv_flops(kernel_size, in_channels, out_channels, mask_type=None, color_groups=1):
    """FLOPs per output pixel (2 per multiply-add) of a (masked) convolution.

    Args:
        kernel_size: int or pair.
        in_channels, out_channels: ints.
        mask_type: ``None`` for an unmasked convolution, else ``"A"``/``"B"``.
        color_groups: int.

    Returns:
        dict ``{"dense", "useful", "split", "shifted"}``: the reference's
        FLOPs (all taps), the FLOPs on unmasked kernel entries only, and what
        the two fused methods compute.

    Example:

    >>> from keras_genmodels.kernels import conv_flops
    >>> conv_flops(7, 3, 12, mask_type="A", color_groups=3)   # 2 * 49 * 3 * 12 dense
    {'dense': 3528, 'useful': 1752, 'split': 1800, 'shifted': 2016}
    >>> conv_flops(3, 1, 1)   # unmasked: every method computes all 9 taps
    {'dense': 18, 'useful': 18, 'split': 18, 'shifted': 18}
    """
    kh, kw = _normalize_pair(kernel_size, "kernel_size")
    dense = 2 * kh * kw * in_channels * out_channels
    if mask_type is None:
        return {"dense": dense, "useful": dense, "split": dense, "shifted": dense}
    useful = 2 * int(causal_mask((kh, kw), in_channels, out_channels, mask_type, color_groups).sum())
    taps = tap_counts((kh, kw), mask_type, color_groups)
    return {
        "dense": dense,
        "useful": useful,
        "split": 2 * taps["split"] * in_channels * out_channels,
        "shifted": 2 * taps["shifted"] * in_channels * out_channels,
    }


def gated_activation(h, color_groups=1):
    """``tanh(a) * sigmoid(b)`` with ``a, b`` the two halves of each colour group.

    The gated activation unit of the Gated PixelCNN, and the package's one
    implementation of it: the fused kernels, ``GatedPixelCNNBlock`` and the
    cached samplers all call this function.

    The channels of ``h`` are ``color_groups`` contiguous groups (as in
    ``causal_mask``); each group is split into a tanh half and a sigmoid half,
    so output group ``g`` only mixes pre-activations of group ``g`` and the
    colour ordering stays causal. With ``color_groups=1`` this is the usual
    ``tanh(h[..., :c]) * sigmoid(h[..., c:])``.

    Args:
        h: tensor ``(..., 2 * f)``, ``2 * f`` divisible by ``2 * color_groups``.
        color_groups: int, number of contiguous colour groups.

    Returns:
        Tensor ``(..., f)``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.kernels import gated_activation
    >>> h = np.zeros((2, 4, 4, 12), "float32")
    >>> tuple(gated_activation(h, color_groups=3).shape)
    (2, 4, 4, 6)

    References:
        van den Oord et al., "Conditional Image Generation with PixelCNN
        Decoders", NeurIPS 2016.
    """
    # ``ops.split``, not ``h[..., :half]``: TensorFlow's gradient of a slice of
    # the last axis writes a zero-filled copy of all of ``h`` per slice, which
    # made the gated activation 4.5x slower (fwd + bwd, (100, 28, 28, 64), one
    # thread: 19 ms vs 85-95 ms); a split's gradient is one concatenation.
    halves = ops.split(h, 2 * color_groups, axis=-1)
    if color_groups == 1:
        return ops.tanh(halves[0]) * ops.sigmoid(halves[1])
    parts = [ops.tanh(halves[2 * g]) * ops.sigmoid(halves[2 * g + 1]) for g in range(color_groups)]
    return ops.concatenate(parts, axis=-1)


def _epilogue(h, bias, activation, gated, color_groups, residual, native=False):
    if bias is not None:
        h = _native_tf().bias_add(h, bias) if native else h + bias
    if activation is not None:
        h = activation(h)
    if gated:
        h = gated_activation(h, color_groups)
    if residual is not None:
        h = h + residual
    return h


def _native_tf():
    from keras_genmodels.kernels import _tensorflow

    return _tensorflow


def _fused_impl(x, kernel, bias, residual, *, mask_type, color_groups, activation, gated, dilation,
                method="split", native=False):
    """The fused kernel; ``native=True`` (TensorFlow only) uses ``_tensorflow.py``'s ops."""
    kh, kw, cin, cout = (int(d) for d in kernel.shape)
    ch, cw = kh // 2, kw // 2
    dh, dw = dilation
    uses_centre = mask_type == "B" or color_groups > 1
    ncols = cw + (1 if uses_centre else 0)
    if kh == 1 and kw == 1:
        # A 1x1 convolution is a matrix product over the channels (the mask,
        # if any, acts on the in x out matrix): a GEMM and its two GEMM
        # gradients instead of a convolution and its backprop kernels.
        mask = causal_mask((1, 1), cin, cout, mask_type, color_groups)[0, 0]
        k = kernel[0, 0]
        if not mask.all():
            k = k * ops.cast(mask, k.dtype)
        # Bias and activation on the (pixels, channels) matrix, so that
        # TensorFlow fuses them into the product (_FusedMatMul).
        shape = ops.shape(x)
        h = _epilogue(ops.matmul(ops.reshape(x, (-1, cin)), k), bias, activation, gated,
                      color_groups, None, native)
        h = ops.reshape(h, tuple(shape[:-1]) + (int(h.shape[-1]),))
        return h if residual is None else h + residual
    if method == "shifted" and ch > 0:
        # One "down-shifted" conv over rows i - ch .. i: the rows below the
        # centre are never computed; the current row's right part is masked.
        mask = causal_mask((kh, kw), cin, cout, mask_type, color_groups)[:ch + 1]
        k = kernel[:ch + 1] * ops.cast(mask, kernel.dtype)
        if native and dilation == (1, 1):
            h = _native_tf().shifted_conv2d(x, k, ch, cw)
        else:
            xs = ops.pad(x, [[0, 0], [ch * dh, 0], [cw * dw, cw * dw], [0, 0]])
            h = ops.conv(xs, k, strides=1, padding="valid", dilation_rate=(dh, dw))
        return _epilogue(h, bias, activation, gated, color_groups, residual, native)
    h = None
    if ch > 0:
        # Rows above: drop the last dh rows, pad ch*dh zero rows on top, so a
        # "valid" (ch x kw) conv puts input row i - ch*dh + r*dh at output row i.
        xt = slice_axis(x, 0, -dh, axis=1) if dh > 0 else x
        xt = ops.pad(xt, [[0, 0], [ch * dh, 0], [cw * dw, cw * dw], [0, 0]])
        h = ops.conv(xt, kernel[:ch], strides=1, padding="valid", dilation_rate=(dh, dw))
    if ncols > 0:
        row_kernel = kernel[ch:ch + 1, :ncols]
        if uses_centre:
            row_mask = causal_mask((kh, kw), cin, cout, mask_type, color_groups)[ch:ch + 1, :ncols]
            if not row_mask.all():
                row_kernel = row_kernel * ops.cast(row_mask, row_kernel.dtype)
            xr = x
        else:
            xr = slice_axis(x, 0, -dw, axis=2)
        xr = ops.pad(xr, [[0, 0], [0, 0], [cw * dw, 0], [0, 0]])
        r = ops.conv(xr, row_kernel, strides=1, padding="valid", dilation_rate=(dh, dw))
        h = r if h is None else h + r
    return _epilogue(h, bias, activation, gated, color_groups, residual, native)


def _reference_impl(x, kernel, bias, residual, *, mask_type, color_groups, activation, gated, dilation,
                    method=None):
    kh, kw, cin, cout = (int(d) for d in kernel.shape)
    mask = causal_mask((kh, kw), cin, cout, mask_type, color_groups)
    h = ops.conv(x, kernel * ops.cast(mask, kernel.dtype), strides=1, padding="same",
                 dilation_rate=dilation)
    return _epilogue(h, bias, activation, gated, color_groups, residual)


def accelerator_available():
    """Whether the active Keras backend sees a GPU or TPU.

    ``compile="auto"`` and ``method="auto"`` of :func:`masked_conv2d` decide
    with it (cached per backend).

    Example:

    >>> from keras_genmodels.kernels import accelerator_available
    >>> accelerator_available() in (True, False)   # False on a CPU-only machine
    True
    """
    return _accelerator_available(keras.backend.backend())


@functools.lru_cache(maxsize=None)
def _accelerator_available(name):
    if name == "tensorflow":
        import tensorflow as tf

        return any(d.device_type not in ("CPU",) for d in tf.config.list_physical_devices())
    if name == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if name == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def _resolve_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}. Received: method={method!r}")
    if method == "auto":
        # Measured on a 2-core CPU (bench/masked_conv.py): oneDNN runs the
        # one-row convolutions of "split" slowly, so one shifted conv wins.
        return "split" if accelerator_available() else "shifted"
    return method


# Backends whose compiler is XLA (``compile=True``). On torch there is none:
# ``compile="auto"`` runs the ``keras.ops`` path eagerly (on CPU and GPU), and
# ``compile=True`` raises a ValueError.
_XLA_BACKENDS = ("tensorflow", "jax")


def _resolve_compile(compile):
    if compile not in _COMPILE_CHOICES:
        raise ValueError(f"compile must be True, False or 'auto'. Received: compile={compile!r}")
    if compile == "auto":
        return keras.backend.backend() in _XLA_BACKENDS and accelerator_available()
    return bool(compile)


@functools.lru_cache(maxsize=None)
def _compiled(backend, impl_name, static):
    """One XLA-compiled function per backend and static configuration."""
    impl = {"fused": _fused_impl, "reference": _reference_impl}[impl_name]
    kwargs = dict(static)
    kwargs["activation"] = _ACTIVATIONS.get(kwargs["activation"])

    def fn(x, kernel, bias, residual):
        return impl(x, kernel, bias, residual, **kwargs)

    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    raise ValueError(
        f"compile=True (MaskedConv2D(implementation='fused_xla')) needs the 'tensorflow' or "
        f"'jax' backend (XLA). Active backend: '{backend}'; use compile=False or 'auto' "
        "(implementation='fused' or 'auto')."
    )


class _ActivationRegistry:
    """Maps activations to hashable keys, so compiled functions can be cached."""

    def __init__(self):
        self._by_key = {}

    def key(self, activation):
        if activation is None:
            return None
        fn = keras.activations.get(activation)
        key = (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)), id(fn))
        self._by_key[key] = fn
        return key

    def get(self, key):
        return None if key is None else self._by_key[key]


_ACTIVATIONS = _ActivationRegistry()


def _as_tensor(t):
    if t is None:
        return None
    if isinstance(t, keras.Variable):
        # The (autocast) value: a compiled function takes tensors, and the
        # tape / JAX trace still sees the read of the variable.
        return t.value
    return ops.convert_to_tensor(t)


def _run(impl_name, x, kernel, bias, mask_type, color_groups, activation, gated, residual,
         dilation_rate, compile, method="auto", native="auto"):
    x, kernel, bias, residual = (_as_tensor(t) for t in (x, kernel, bias, residual))
    mask_type = _check(x, kernel, bias, mask_type, color_groups, gated, residual)
    dilation = _normalize_pair(dilation_rate, "dilation_rate")
    method = _resolve_method(method) if impl_name == "fused" else None
    if _resolve_compile(compile):
        static = (
            ("mask_type", mask_type),
            ("color_groups", int(color_groups)),
            ("activation", _ACTIVATIONS.key(activation)),
            ("gated", bool(gated)),
            ("dilation", dilation),
            ("method", method),
        )
        return _compiled(keras.backend.backend(), impl_name, static)(x, kernel, bias, residual)
    act = None if activation is None else keras.activations.get(activation)
    kwargs = dict(mask_type=mask_type, color_groups=int(color_groups), activation=act,
                  gated=bool(gated), dilation=dilation, method=method)
    if impl_name == "reference":
        return _reference_impl(x, kernel, bias, residual, **kwargs)
    if native == "auto":
        native = keras.backend.backend() == "tensorflow"
    return _fused_impl(x, kernel, bias, residual, native=bool(native), **kwargs)


def masked_conv2d(x, kernel, bias=None, mask_type="A", color_groups=1, activation=None,
                  gated=False, residual=None, dilation_rate=1, compile=False, method="auto"):
    """PixelCNN masked convolution that skips masked-out taps, with a fused epilogue.

    Computes ``out = post(conv_same(x, kernel * mask) + bias)`` where ``mask``
    is :func:`keras_genmodels.kernels.masks.causal_mask` and ``post`` applies, in
    order, ``activation``, the gated unit and ``+ residual`` — without ever
    multiplying by a masked-out tap (see the module docstring). Strides are 1
    and padding is "same", as an autoregressive model needs.

    Args:
        x: tensor ``(batch, height, width, in_channels)``.
        kernel: tensor ``(kh, kw, in_channels, out_channels)`` with odd
            ``kh, kw``: the same layout (and variable) as ``Conv2D``'s kernel;
            entries at masked-out taps are ignored.
        bias: optional tensor ``(out_channels,)``.
        mask_type: ``"A"`` (excludes the current pixel / colour group) or
            ``"B"`` (includes it).
        color_groups: int; channels are split into this many contiguous
            colour groups (3 for RGB).
        activation: optional activation (name or callable), applied after
            the bias.
        gated: bool; if True the output is ``tanh(a) * sigmoid(b)`` of the two
            halves of every colour group's channels (``out_channels / 2``
            channels out).
        residual: optional tensor added to the (activated / gated) output.
        dilation_rate: int or pair.
        compile: ``True`` compiles with XLA (``tf.function(jit_compile=True)``
            on TensorFlow, ``jax.jit`` on JAX); ``False`` runs the ops as they
            come (inside a caller's ``tf.function`` / ``jit`` they are fused by
            its compiler); ``"auto"`` compiles when a GPU/TPU is present and
            the backend is TensorFlow or JAX (never on torch, which has no
            XLA: ``True`` raises ``ValueError`` there).
        method: ``"split"`` (rows-above conv + current-row conv: no
            masked-out tap is multiplied, except the masked part of a
            colour-group centre tap), ``"shifted"`` (one conv over the
            ``kh // 2 + 1`` rows ending at the current row: skips the rows
            below, computes the ``kw // 2`` masked taps right of the centre;
            one larger conv runs faster than two thin ones on CPU) or
            ``"auto"`` (``"shifted"`` on CPU, ``"split"`` on GPU/TPU).

    Returns:
        Tensor ``(batch, height, width, out_channels)`` (halved if ``gated``).

    Raises:
        ValueError: for even kernel sizes, an unknown mask type, channel
            counts not divisible by ``color_groups`` (``2 * color_groups`` when
            gated), or shapes that do not fit together.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.kernels import masked_conv2d, reference_masked_conv2d
    >>> x = np.random.rand(2, 8, 8, 3).astype("float32")
    >>> k = np.random.randn(7, 7, 3, 12).astype("float32")
    >>> y = masked_conv2d(x, k, mask_type="A", color_groups=3, gated=True)
    >>> tuple(y.shape)
    (2, 8, 8, 6)
    >>> y_ref = reference_masked_conv2d(x, k, mask_type="A", color_groups=3, gated=True)
    >>> bool(np.allclose(keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(y_ref),
    ...                  atol=1e-4))
    True

    References:
        van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016.
        van den Oord et al., "Conditional Image Generation with PixelCNN
        Decoders", NeurIPS 2016.
    """
    return _run("fused", x, kernel, bias, mask_type, color_groups, activation, gated, residual,
                dilation_rate, compile, method)


def reference_masked_conv2d(x, kernel, bias=None, mask_type="A", color_groups=1, activation=None,
                            gated=False, residual=None, dilation_rate=1, compile=False):
    """The same function as :func:`masked_conv2d`, computed densely (mask times kernel).

    Kept as the parity reference; arguments as in :func:`masked_conv2d`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.kernels import causal_mask, reference_masked_conv2d
    >>> x = np.random.rand(1, 5, 5, 2).astype("float32")
    >>> k = np.random.randn(3, 3, 2, 4).astype("float32")
    >>> y = reference_masked_conv2d(x, k, mask_type="B", activation="relu")
    >>> dense = keras.ops.conv(x, k * causal_mask((3, 3), 2, 4, "B"), padding="same")
    >>> bool(np.allclose(keras.ops.convert_to_numpy(y),
    ...                  keras.ops.convert_to_numpy(keras.ops.relu(dense)), atol=1e-5))
    True
    """
    return _run("reference", x, kernel, bias, mask_type, color_groups, activation, gated, residual,
                dilation_rate, compile)
