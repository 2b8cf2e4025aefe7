"""Autoregressive generation for the image density models (PixelCNN family).

Two samplers draw the pixels in raster order (and the colour channels of a
pixel R -> G -> B when their conditionals are separate):

- ``naive_sample``, the reference: the whole network once per pixel (and per
  colour group), reading the next conditional from the teacher-forced
  output. ``H * W * G`` full forward passes (``G`` = number of channel
  groups); exact for any autoregressive network.
- ``cached_sample``, the fast sampler of Ramachandran et al. (2017) for
  ``PixelCNN`` / ``GatedPixelCNN``: every layer is evaluated only at the new
  pixel, from cached activations of the earlier ones (see the comment block
  before it). ``cached_params`` runs the same recursion teacher-forced.

Both draw step ``t`` (pixel ``(i, j)``, group ``g``: ``t = (i W + j) G + g``)
with the stateless seed ``[s, t]`` (``s`` the int ``seed``, or one drawn from
``model.seed_generator`` when ``seed`` is None), so with the same int seed
they return the same images: the network outputs agree to float rounding
and every random draw is the same.

The model passed in provides:

- ``image_shape``: ``(H, W, C)``;
- ``likelihood``: a ``keras_genmodels.likelihoods.Likelihood`` whose
  ``sample(params)`` draws all ``C`` channels of a pixel from ``(n, 1, 1, P)``
  parameters;
- ``sampling_channel_groups``: a list of lists of channel indices; each list is
  sampled from one forward pass (``[[0], [1], [2]]`` for R -> G -> B
  softmaxes, ``[[0, 1, 2]]`` when a pixel's channels are drawn jointly, as in
  the discretized logistic mixture);
- ``call(x, condition=None)`` returning the parameters of every conditional;
- ``seed_generator``: the ``SeedGenerator`` used when ``seed`` is None.

``cached_sample`` also reads the layers of a ``PixelCNN`` (``input_conv``,
``residual_blocks``, ``gated_blocks``, ``output_convs``) and their weights,
which it passes to its compiled function on every call (a model trained
further samples from its new weights).
"""

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels.kernels import gated_activation


# Both samplers make their random draws inside XLA (``jax.jit`` on JAX,
# ``jit_compile=True`` on TensorFlow), so they use the same stateless
# random-number algorithm and draw the same values from the same seeds. The
# cached sampler's whole loop over rows and pixels is one XLA computation: on
# TensorFlow's graph executor the per-op overhead dominates (its matrices are
# only (n, filters)) and the loop runs ~5x slower.
_JIT = True


def _naive_step_fn(model):
    """A compiled ``(x, condition, i, j, base_seed, t) -> values`` for ``model`` (cached).

    One full forward pass (TensorFlow's graph executor: its convolutions
    beat XLA's on CPU), then the draw of step ``t`` from the parameters at
    pixel ``(i, j)``, compiled with XLA like the cached sampler's loop.
    """
    fn = getattr(model, "_naive_step_fn", None)
    if fn is None:
        def draw(params, base, t):
            return model.likelihood.sample(params, seed=_step_seed(base, t))

        draw = _backend.compile_function(draw, jit_compile=_JIT)

        def step(x, condition, i, j, base, t):
            if condition is None:
                params = model(x, training=False)
            else:
                params = model(x, condition=condition, training=False)
            params = ops.take(ops.take(params, i, axis=1), j, axis=1)
            return draw(ops.reshape(params, (x.shape[0], 1, 1, -1)), base, t)

        fn = _backend.compile_function(step)
        object.__setattr__(model, "_naive_step_fn", fn)
    return fn


def naive_sample(model, n, seed=None, verbose=1, condition=None):
    """Draw ``n`` images pixel by pixel with one forward pass per step.

    Args:
        model: an image density model (see the module docstring).
        n: int, number of images.
        seed: int or None. The same int gives the same images; None draws from
            ``model.seed_generator`` (different images on every call).
        verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` over the steps).
        condition: tensor ``(n, d)`` passed to ``model(x, condition=...)``, or
            None for unconditional models.

    Returns:
        NumPy ``float32`` array ``(n, H, W, C)`` of sampled values.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.models import PixelCNN
    >>> from keras_genmodels.sampling import naive_sample
    >>> model = PixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3)
    >>> images = naive_sample(model, 2, seed=0, verbose=0)   # 16 forward passes
    >>> images.shape, bool(np.isin(images, [0.0, 1.0]).all())
    ((2, 4, 4, 1), True)
    >>> bool((images == naive_sample(model, 2, seed=0, verbose=0)).all())   # same seed
    True
    """
    height, width, channels = model.image_shape
    groups = model.sampling_channel_groups
    base = _base_seed(model, seed)
    fn = _naive_step_fn(model)
    x = np.zeros((n, height, width, channels), "float32")
    total = height * width * len(groups)
    progbar = keras.utils.Progbar(total, unit_name="step") if verbose else None
    step = 0
    for i in range(height):
        for j in range(width):
            for chans in groups:
                values = ops.convert_to_numpy(fn(
                    ops.convert_to_tensor(x), condition, ops.convert_to_tensor(i, "int32"),
                    ops.convert_to_tensor(j, "int32"), base, ops.convert_to_tensor(step, "int32")))
                x[:, i, j, chans] = values[:, 0, 0, chans]
                step += 1
                if progbar is not None:
                    progbar.update(step)
    return x


# ------------------------------------------------------------------ seeds
class _StepSeed(keras.random.SeedGenerator):
    """A stateless seed for ``keras.random`` draws: the tensor ``seed`` itself.

    ``keras.random`` accepts an int or a ``SeedGenerator``; inside a compiled
    loop the seed of step ``t`` is a tensor, which this wrapper hands to the
    random op through ``SeedGenerator.next`` without owning a state variable.
    Step ``t`` of a sample with int seed ``s`` uses ``[s, t]``: the ``t``-th
    seed a ``keras.random.SeedGenerator(s)`` would give. A likelihood drawing
    more than once in a step gets ``[s + 7919 k, t]`` for its ``k``-th draw.
    """

    def __init__(self, seed):  # no super().__init__: no state variable
        self._seed = seed
        self._calls = 0

    def next(self, ordered=True):
        seed = self._seed
        if self._calls:
            seed = seed + ops.cast(ops.convert_to_tensor([7919 * self._calls, 0]), seed.dtype)
        self._calls += 1
        return seed


def _base_seed(model, seed):
    """The ``(2,)`` seed tensor ``[s, 0]`` of a sample call (``s`` drawn when ``seed`` is None)."""
    if seed is None:
        seed = int(ops.convert_to_numpy(
            keras.random.randint((), 0, 2**30, seed=model.seed_generator)))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int or None. Received: seed={seed!r}")
    return keras.random.SeedGenerator(int(seed)).next()


def _step_seed(base, t):
    """The seed of step ``t`` (a scalar int tensor): ``base + [0, t]``."""
    return _StepSeed(base + ops.cast(ops.stack([ops.zeros_like(t), t]), base.dtype))


# ----------------------------------------------------------- cached sampler
#
# Ramachandran et al. (2017): a convolutional autoregressive network computes
# its output at pixel (i, j) from a small window of every layer's input, and
# all of that window (above and left of (i, j)) was computed while the
# earlier pixels were generated. For each layer with a spatial kernel the
# sampler keeps its input in a zero-padded cache (fixed size, allocated once
# per call) and splits the masked kernel ``kernel * mask`` in two:
#
# * the rows above the centre only see finished rows, so at the start of row
#   ``i`` their contribution is computed for the whole row at once (one
#   convolution of a ``q``-row strip of the cache); the Gated PixelCNN's
#   vertical stack (which only sees earlier rows) is computed there too;
# * the centre row (taps left of the centre and the centre, colour-masked)
#   is evaluated for each new pixel from a one-row buffer of the current
#   row, as one matrix product.
#
# The masked-out taps are never multiplied, and every buffer entry read
# holds a finite value (zeros or earlier activations), so an unfilled entry
# cannot turn into NaN. The pixels of a row are an ``ops.fori_loop`` (in-loop
# updates touch only the one-row buffers) inside a loop over the rows; each
# row ends by writing its buffers into the caches. The whole image is one
# XLA computation (a few calls with ``verbose=1``, for the progress
# bar). The colour channels of a pixel with per-channel conditionals are
# sampled one after another, recomputing that pixel each time.


def _masked_kernel(conv):
    return ops.convert_to_tensor(conv.kernel, "float32") * ops.convert_to_tensor(conv.mask)


def _bias(layer):
    if getattr(layer, "bias", None) is None:
        return ops.zeros((layer.filters,), "float32")
    return ops.convert_to_tensor(layer.bias, "float32")


def _split(conv):
    """A spatial ``MaskedConv2D`` as ``(above, row, bias)``.

    ``above``: the kernel rows above the centre, ``(q, kw, in, out)`` (None
    when ``q = 0``); ``row``: the centre-row taps ``0..kw//2`` (mask applied)
    as a ``((kw//2 + 1) * in, out)`` matrix.
    """
    kernel = _masked_kernel(conv)
    q, c = kernel.shape[0] // 2, kernel.shape[1] // 2
    above = kernel[:q] if q else None
    row = ops.reshape(kernel[q, :c + 1], (-1, kernel.shape[-1]))
    return above, row, _bias(conv)


def _matrix(conv):
    """A 1x1 ``MaskedConv2D`` (or ``Conv2D``) as ``(matrix, bias)``."""
    kernel = (_masked_kernel(conv) if hasattr(conv, "mask")
              else ops.convert_to_tensor(conv.kernel, "float32"))
    return ops.reshape(kernel, (-1, kernel.shape[-1])), _bias(conv)


def _dense(x, weights):
    matrix, bias = weights
    return ops.matmul(x, matrix) + bias


def _zero(i):
    return ops.zeros_like(i)


def _row_window(buffer, j, taps):
    """``buffer[:, 0, j:j + taps]`` flattened to ``(n, taps * C)``."""
    n, channels = buffer.shape[0], buffer.shape[-1]
    z = _zero(j)
    patch = ops.slice(buffer, (z, z, j, z), (n, 1, taps, channels))
    return ops.reshape(patch, (n, taps * channels))


def _put(buffer, j, value):
    """``buffer[:, 0, j] = value`` (``value`` of shape ``(n, C)``)."""
    z = _zero(j)
    return ops.slice_update(buffer, (z, z, j, z), value[:, None, None, :])


def _column(rows, j):
    """``rows[:, j]`` of a ``(n, W, C)`` tensor."""
    z = _zero(j)
    return ops.squeeze(ops.slice(rows, (z, j, z), (rows.shape[0], 1, rows.shape[-1])), 1)


def _strip(cache, i, rows):
    """Cache rows ``i .. i + rows - 1``, all columns."""
    z = _zero(i)
    return ops.slice(cache, (z, i, z, z), (cache.shape[0], rows) + tuple(cache.shape[2:]))


def _above(cache, i, above, bias):
    """Contribution ``(n, W, out)`` of the kernel rows above the centre (plus bias) for row ``i``."""
    if above is None:  # a 1 x kw kernel
        return ops.zeros((cache.shape[0], cache.shape[2], bias.shape[0]), bias.dtype) + bias
    return bias + ops.conv(_strip(cache, i, above.shape[0]), above, padding="valid")[:, 0]


def _write_row(cache, i, pad, row_buffer):
    """Write the finished row buffer (left padding ``pad``) into cache row ``i + pad``."""
    z = _zero(i)
    return ops.slice_update(cache, (z, i + pad, z + pad, z), row_buffer[:, :, pad:])


def _weights(model):
    """The tensors the cached sampler reads (passed to the compiled function)."""
    weights = {"output": [_matrix(conv) for conv in model.output_convs]}
    if model.gated:
        blocks = []
        for block in model.gated_blocks:
            _, row, bias = _split(block.horizontal_conv)
            w = {
                "vertical": (ops.convert_to_tensor(block.vertical_conv.kernel, "float32"),
                             _bias(block.vertical_conv)),
                "v2h": _matrix(block.vertical_to_horizontal),
                "horizontal": (row, bias),
                "output": _matrix(block.horizontal_output),
            }
            if block.condition_dim is not None:
                w["v_cond"] = ops.convert_to_tensor(block.vertical_condition.kernel, "float32")
                w["h_cond"] = ops.convert_to_tensor(block.horizontal_condition.kernel, "float32")
            blocks.append(w)
        weights["blocks"] = blocks
    else:
        weights["input"] = _split(model.input_conv)
        weights["blocks"] = [(_matrix(b.conv_in), _split(b.conv_mid), _matrix(b.conv_out))
                             for b in model.residual_blocks]
    return weights


def _pads(model):
    """Padding ``k // 2`` of the image input and of each cached hidden input."""
    if model.gated:
        return (model.gated_blocks[0].kernel_size // 2,
                [b.kernel_size // 2 for b in model.gated_blocks[1:]])
    return (model.kernel_size // 2,
            [b.conv_mid.kernel_size[0] // 2 for b in model.residual_blocks])


def _hidden_channels(model):
    if model.gated:
        return [b.filters for b in model.gated_blocks[1:]]
    return [b.conv_mid.filters for b in model.residual_blocks]


def _init_state(model, n, forced=None):
    """Zero caches and row buffers (fixed sizes) and the image being generated."""
    height, width, channels = model.image_shape
    p, pads = _pads(model)
    zeros = lambda *shape: ops.zeros(shape, "float32")  # noqa: E731
    state = {
        "image": zeros(n, height, width, channels),
        "x": zeros(n, height + p, width + 2 * p, channels),
        "x_row": zeros(n, 1, width + p, channels),
        "hidden": [zeros(n, height + q, width + 2 * q, c)
                   for q, c in zip(pads, _hidden_channels(model))],
        "hidden_row": [zeros(n, 1, width + q, c) for q, c in zip(pads, _hidden_channels(model))],
    }
    if forced is not None:
        state["forced"] = ops.cast(ops.convert_to_tensor(forced), "float32")
        state["params"] = zeros(n, height, width, model.num_params)
    return state


def _output_params(weights, h):
    for w in weights["output"]:
        h = _dense(ops.relu(h), w)
    return h


def _plain_row_start(model, weights, state, i, condition):
    """Contributions ``(n, W, out)`` of the rows above row ``i`` (plus biases), per spatial layer."""
    del model, condition  # same signature as _gated_row_start
    above = [_above(state["x"], i, weights["input"][0], weights["input"][2])]
    for cache, (_, mid, _) in zip(state["hidden"], weights["blocks"]):
        above.append(_above(cache, i, mid[0], mid[2]))
    return above


def _plain_pixel(model, weights, loop, j, above):
    """Parameters at pixel (i, j) of the plain PixelCNN; updates the hidden row buffers."""
    p, pads = _pads(model)
    h = ops.matmul(_row_window(loop["x_row"], j, p + 1), weights["input"][1]) + _column(above[0], j)
    rows = []
    for q, buffer, part, (w_in, mid, w_out) in zip(pads, loop["hidden_row"], above[1:],
                                                   weights["blocks"]):
        a = ops.relu(_dense(ops.relu(h), w_in))
        buffer = _put(buffer, j + q, a)
        m = ops.matmul(_row_window(buffer, j, q + 1), mid[1]) + _column(part, j)
        h = h + _dense(ops.relu(m), w_out)
        rows.append(buffer)
    return _output_params(weights, h), dict(loop, hidden_row=rows)


def _gated_row_start(model, weights, state, i, condition):
    """The vertical stacks of row ``i`` of every gated block (they only see rows < i).

    Returns the per-block ``(n, W, 2f)`` input of the vertical stack to the
    horizontal gates (``vertical_to_horizontal(v_pre)`` plus the conditioning
    bias ``V_h y``); each block's ``v_out`` row is written into the next
    block's cache, in order, before that block reads it.
    """
    blocks = model.gated_blocks
    p, pads = _pads(model)
    caches = state["hidden"]  # mutated in place (a Python list of tensors)
    to_horizontal = []
    for l, (block, w) in enumerate(zip(blocks, weights["blocks"])):
        cache = state["x"] if l == 0 else caches[l - 1]
        # Mask A: image rows i - p .. i - 1 (cache rows i .. i + p - 1); row 0
        # gets the zero that down_shift brings in. Mask B: image rows
        # i - p .. i of the (already shifted) vertical stack.
        kernel, bias = w["vertical"]
        v_pre = ops.conv(_strip(cache, i, block.vertical_rows), kernel, padding="valid")[:, 0]
        v_pre = v_pre + bias
        if block.mask_type == "A":
            v_pre = v_pre * ops.cast(i > 0, v_pre.dtype)
        h_bias = 0.0
        if condition is not None:
            v_pre = v_pre + ops.matmul(condition, w["v_cond"])[:, None, :]
            h_bias = ops.matmul(condition, w["h_cond"])[:, None, :]
        to_horizontal.append(_dense(v_pre, w["v2h"]) + h_bias)
        if l + 1 < len(blocks):
            q = pads[l]
            caches[l] = _write_row(caches[l], i, q, ops.pad(gated_activation(v_pre, 1)[:, None],
                                                            ((0, 0), (0, 0), (q, 0), (0, 0))))
    return to_horizontal


def _gated_pixel(model, weights, loop, j, to_horizontal):
    """Parameters at pixel (i, j) of the Gated PixelCNN (the horizontal stacks)."""
    p, pads = _pads(model)
    rows = list(loop["hidden_row"])
    h = None
    for l, (block, w) in enumerate(zip(model.gated_blocks, weights["blocks"])):
        if l == 0:
            window = _row_window(loop["x_row"], j, p + 1)
        else:
            q = pads[l - 1]
            rows[l - 1] = _put(rows[l - 1], j + q, h)
            window = _row_window(rows[l - 1], j, q + 1)
        h_pre = _dense(window, w["horizontal"]) + _column(to_horizontal[l], j)
        out = _dense(gated_activation(h_pre, block.color_groups), w["output"])
        h = out if block.mask_type == "A" else h + out
    return _output_params(weights, h), dict(loop, hidden_row=rows)


def _row_function(model, n, forced):
    """``(weights, state, i, base_seed, condition) -> state``: generates row ``i``.

    With ``forced`` (teacher forcing, for tests) the pixel values are read
    from ``state["forced"]`` instead of sampled, and the parameters of every
    conditional are recorded in ``state["params"]``.
    """
    width, channels = model.image_shape[1:]
    groups = model.sampling_channel_groups
    lik = model.likelihood
    num_params = model.num_params
    # Tensors, not NumPy arrays: ``ndarray * tensor`` is not defined on torch.
    value_masks = [ops.convert_to_tensor(np.isin(np.arange(channels), g).astype("float32"))
                   for g in groups]
    per_value = num_params // channels
    param_masks = [ops.convert_to_tensor(
        np.isin(np.arange(num_params) // per_value, g).astype("float32")
        if len(groups) > 1 else np.ones(num_params, "float32")) for g in groups]
    p, pads = _pads(model)
    row_start = _gated_row_start if model.gated else _plain_row_start
    pixel_params = _gated_pixel if model.gated else _plain_pixel

    def row(weights, state, i, base, condition):
        state = dict(state, hidden=list(state["hidden"]))
        above = row_start(model, weights, state, i, condition)
        z = _zero(i)
        loop = {"x_row": state["x_row"], "hidden_row": state["hidden_row"],
                "row": ops.zeros((n, 1, width, channels), "float32")}
        if forced:
            target = ops.slice(state["forced"], (z, i, z, z), (n, 1, width, channels))
            loop["params"] = ops.zeros((n, 1, width, num_params), "float32")

        def pixel(j, loop):
            for g in range(len(groups)):
                params, loop = pixel_params(model, weights, loop, j, above)
                if forced:
                    values = _row_window(target, j, 1)
                    old = _row_window(loop["params"], j, 1)
                    loop = dict(loop, params=_put(loop["params"], j,
                                                  old + param_masks[g] * (params - old)))
                else:
                    t = (i * width + j) * len(groups) + g
                    values = lik.sample(ops.reshape(params, (n, 1, 1, -1)),
                                        seed=_step_seed(base, t))
                    values = ops.reshape(ops.cast(values, "float32"), (n, channels))
                old = _row_window(loop["row"], j, 1)
                new = old + value_masks[g] * (values - old)
                loop = dict(loop, row=_put(loop["row"], j, new),
                            x_row=_put(loop["x_row"], j + p, model._network_input(new)))
            return loop

        loop = ops.fori_loop(0, width, pixel, loop)
        state = dict(
            state,
            image=ops.slice_update(state["image"], (z, i, z, z), loop["row"]),
            x=_write_row(state["x"], i, p, loop["x_row"]),
            x_row=loop["x_row"],
            hidden_row=loop["hidden_row"],
        )
        if not model.gated:
            state["hidden"] = [_write_row(c, i, q, r)
                               for c, q, r in zip(state["hidden"], pads, loop["hidden_row"])]
        if forced:
            state["params"] = ops.slice_update(state["params"], (z, i, z, z), loop["params"])
        return state

    return row


def _rows_function(row):
    """Compile ``row(weights, state, i, base_seed, *args) -> state`` into a loop over a row range.

    The result is ``(weights, state, start, stop, base_seed, *args) -> state``
    running rows ``start .. stop - 1``: one XLA computation (see ``_JIT``).
    """
    def rows(weights, state, start, stop, base, *args):
        return ops.fori_loop(start, stop, lambda i, st: row(weights, st, i, base, *args), state)

    return _backend.compile_function(rows, jit_compile=_JIT)


def _run_row_loop(model, make_row, key, weights, state, base, verbose, *args):
    """Generate every row of ``model``'s image with a compiled row loop (shared by the cached samplers).

    Args:
        model: the model; its compiled loops are kept on it, one per ``key``.
        make_row: ``() -> row`` building the (uncompiled) row function, called
            once per ``key``.
        key: hashable, what the row function depends on (``n``, forced...).
        weights, state: the nested tensors passed to the row function.
        base: the ``(2,)`` base seed.
        verbose: 0: one call for the whole image; 1: at most 8 calls (each
            costs ~15 ms of launch overhead on CPU) with a progress bar. The
            row range is a tensor argument: the same compiled function.
        *args: further arguments of the row function (the condition).

    Returns:
        The final state.
    """
    functions = getattr(model, "_cached_rows_fns", None)
    if functions is None:
        functions = {}
        object.__setattr__(model, "_cached_rows_fns", functions)
    if key not in functions:
        functions[key] = _rows_function(make_row())
    fn = functions[key]
    height = model.image_shape[0]
    step = -(-height // 8) if verbose else height
    progbar = keras.utils.Progbar(height, unit_name="row") if verbose else None
    for start in range(0, height, step):
        stop = min(start + step, height)
        state = fn(weights, state, ops.convert_to_tensor(start, "int32"),
                   ops.convert_to_tensor(stop, "int32"), base, *args)
        if progbar is not None:
            progbar.update(stop)
    return state


def _run_rows(model, n, seed, verbose, condition, forced=None):
    if condition is not None:
        condition = ops.cast(ops.convert_to_tensor(condition), "float32")
    return _run_row_loop(model, lambda: _row_function(model, n, forced is not None),
                    (n, forced is not None), _weights(model), _init_state(model, n, forced),
                    _base_seed(model, seed), verbose, condition)


def cached_sample(model, n, seed=None, verbose=1, condition=None):
    """Draw ``n`` images with the cached (fast) sampler of Ramachandran et al. (2017).

    For every new pixel each layer is evaluated at that position only, from
    the cached activations of the earlier pixels, instead of a whole forward
    pass (see the comment above this function for the scheme). Same int seed,
    same images as :func:`naive_sample`: both use the seed ``[seed, t]`` at
    step ``t``, and the activations agree to float rounding.

    Args:
        model: a ``keras_genmodels.models.PixelCNN`` (plain or gated,
            conditional or not).
        n: int, number of images.
        seed: int or None (a seed drawn from ``model.seed_generator``).
        verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` over the rows).
        condition: one-hot labels ``(n, num_classes)`` (conditional gated
            models) or None.

    Returns:
        NumPy ``float32`` array ``(n, H, W, C)``.

    Memory: one zero-padded copy of the input of every layer with a spatial
    kernel (``O(n * H * W * filters)``) plus one-row buffers, allocated once;
    nothing grows with the number of pixels generated.

    Example:

    >>> from keras_genmodels.models import PixelCNN
    >>> from keras_genmodels.sampling import cached_sample, naive_sample
    >>> model = PixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3)
    >>> fast = cached_sample(model, 2, seed=0, verbose=0)
    >>> fast.shape, bool((fast == naive_sample(model, 2, seed=0, verbose=0)).all())
    ((2, 4, 4, 1), True)

    References:
        Ramachandran, Le Paine, Khorrami, Babaeizadeh, Chang, Zhang,
        Hasegawa-Johnson, Campbell & Huang, "Fast Generation for Convolutional
        Autoregressive Models", ICLR 2017 workshop.
    """
    state = _run_rows(model, n, seed, verbose, condition)
    return ops.convert_to_numpy(state["image"]).astype("float32")


def cached_params(model, x, condition=None):
    """The conditionals' parameters of ``x`` computed by the cached sampler's recursion.

    Teacher forcing through the same per-pixel computation as
    :func:`cached_sample` (values read from ``x`` instead of sampled). It
    equals ``model(x, condition=...)`` up to float rounding; the tests use it
    to check the caches independently of the random draws.

    Args:
        model: a ``PixelCNN``.
        x: images ``(n, H, W, C)`` in the data's units.
        condition: one-hot labels or None.

    Returns:
        NumPy ``float32`` array ``(n, H, W, num_params)``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import PixelCNN
    >>> from keras_genmodels.sampling import cached_params
    >>> model = PixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3)
    >>> x = (np.random.rand(2, 4, 4, 1) < 0.5).astype("float32")
    >>> params = cached_params(model, x)
    >>> params.shape, bool(np.allclose(params, keras.ops.convert_to_numpy(model(x)), atol=1e-5))
    ((2, 4, 4, 1), True)
    """
    x = np.asarray(x, "float32")
    state = _run_rows(model, x.shape[0], 0, 0, condition, forced=x)
    return ops.convert_to_numpy(state["params"])
