"""TensorFlow-native pieces of the fused masked convolution.

On TensorFlow without XLA (``model.fit`` on a CPU-only machine: Keras leaves
``jit_compile`` off there) each op runs as TensorFlow's own kernel, and three
choices that ``keras.ops`` cannot express make a measurable difference
(``bench/masked_conv.py``: ``fused`` vs ``fused_ops``):

* ``tf.nn.bias_add`` instead of a broadcast ``+``: grappler's remapper fuses
  ``Conv2D`` / ``MatMul`` + ``BiasAdd`` + ``Relu`` into one ``_FusedConv2D``
  / ``_FusedMatMul``, and ``BiasAddGrad`` is one reduction instead of a
  broadcast gradient;
* explicit (asymmetric) conv padding instead of a ``Pad`` op and its
  gradient's slice;
* the input gradient of the shifted convolution as a *forward* convolution of
  the output gradient with the flipped, transposed kernel: TensorFlow's CPU
  ``Conv2DBackpropInput`` runs this shape at about half the speed of its
  forward ``Conv2D``. The kernel gradient stays ``Conv2DBackpropFilter``
  (per-tap GEMMs, an im2col GEMM, a row-flattened GEMM and XLA were measured
  and are no faster), on the padded input with "valid" padding: with
  explicit padding TensorFlow does not swap in its oneDNN kernel
  (``TF_ENABLE_ONEDNN_OPTS=1``), which is then ~1.1x slower end to end.

The functions compute exactly what the ``keras.ops`` path of
``masked_conv.py`` computes; the parity tests run both. They are also valid
inside a caller's XLA-compiled step (``jit_compile=True``, Keras' default on
GPU), where they measured no slower than the ``keras.ops`` path; the kernel's
own ``compile=True`` keeps the ``keras.ops`` path.
"""

import tensorflow as tf


def bias_add(h, bias):
    """``h + bias`` over the last axis, as the fusable ``BiasAdd`` op."""
    return tf.nn.bias_add(h, tf.cast(bias, h.dtype))


def shifted_conv2d(x, kernel, rows_above, cols_each_side):
    """'Same'-size conv over the rows ``i - rows_above .. i`` (no rows below).

    Equals ``conv(pad(x, top=rows_above, left=right=cols_each_side), kernel,
    "valid")`` with ``kernel`` of shape ``(rows_above + 1, 2 *
    cols_each_side + 1, in, out)``; stride and dilation 1.
    """
    top, side = int(rows_above), int(cols_each_side)
    padding = [[0, 0], [top, 0], [side, side], [0, 0]]
    flipped_padding = [[0, 0], [0, top], [side, side], [0, 0]]

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, strides=1, padding=padding)

        def grad(dy):
            # dx[i, j] = sum_{a, b} dy[i + top - a, j + side - b] k[a, b]^T:
            # a forward conv of dy (padded at the bottom) with the kernel
            # flipped in both spatial axes and in/out channels swapped.
            flipped = tf.transpose(tf.reverse(kernel, axis=[0, 1]), [0, 1, 3, 2])
            dx = tf.nn.conv2d(dy, flipped, strides=1, padding=flipped_padding)
            dk = tf.compat.v1.nn.conv2d_backprop_filter(
                tf.pad(x, padding), tf.shape(kernel), dy, strides=[1, 1, 1, 1], padding="VALID")
            return dx, dk

        return y, grad

    return conv(x, kernel)
