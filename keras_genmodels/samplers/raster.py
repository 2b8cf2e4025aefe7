"""The one generation loop of the autoregressive models: rows, pixels, channel groups.

``cached_sample`` runs it for any model that owns a *cache layout* (see the
package docstring for the methods): at the start of each row the model
computes what depends only on finished rows; for each pixel it computes the
parameters of the next conditional from its caches, the loop draws the
values (or reads them, teacher-forced) and hands them back to the model to
cache; at the end of the row the model moves its row buffers into its
caches. The loop owns the image, the random draws (step ``t`` uses the seed
``[s, t]``, :mod:`~keras_genmodels.samplers.seeds`) and the compilation:
the whole image is one XLA computation (a few calls with ``verbose=1``, for
the progress bar).
"""

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels.samplers import buffers
from keras_genmodels.samplers.seeds import base_seed
from keras_genmodels.samplers.seeds import step_seed

# The samplers make their random draws inside XLA (``jax.jit`` on JAX,
# ``jit_compile=True`` on TensorFlow), so the cached loop and the naive
# reference use the same stateless random-number algorithm and draw the
# same values from the same seeds. The cached loop is one XLA computation:
# on TensorFlow's graph executor the per-op overhead dominates (its matrices
# are only (n, filters)) and the loop runs ~5x slower.
JIT = True


class FunctionCache:
    """The compiled sampling functions of one model, by key (what they were traced for).

    A plain object (not a dict) so Keras does not track it as model state;
    the functions take the weights as arguments, so a model trained further
    samples from its new weights without recompiling.

    Example:

    >>> from keras_genmodels.samplers import FunctionCache
    >>> cache = FunctionCache()
    >>> cache.get("key", lambda: "built once")
    'built once'
    >>> cache.get("key", lambda: "not called")
    'built once'
    """

    def __init__(self):
        self._functions = {}

    def get(self, key, build):
        """The function stored under ``key``, built by ``build()`` the first time."""
        if key not in self._functions:
            self._functions[key] = build()
        return self._functions[key]

    def __len__(self):
        return len(self._functions)


def compiled(model, key, build):
    """``model``'s compiled function for ``key`` (built once by ``build()``, then reused).

    The functions live in ``model.sampler_functions`` (a :class:`FunctionCache`,
    created on first use).

    Example:

    >>> from keras_genmodels.models import MarkovAR
    >>> from keras_genmodels.samplers import compiled
    >>> model = MarkovAR(4)
    >>> compiled(model, "k", lambda: len) is compiled(model, "k", lambda: None)
    True
    """
    cache = getattr(model, "sampler_functions", None)
    if cache is None:
        cache = FunctionCache()
        model.sampler_functions = cache
    return cache.get(key, build)


def group_masks(model):
    """Per channel group: a 0/1 mask over the value channels and over the parameters.

    Returns:
        ``(value_masks (G, C), param_masks (G, P))`` float32 tensors: group
        ``g``'s draw writes the value channels and records the parameters
        where its masks are 1 (all parameters when ``G == 1``).

    Example:

    >>> import keras
    >>> from keras_genmodels.models import PixelCNN
    >>> from keras_genmodels.samplers import raster
    >>> model = PixelCNN((3, 3, 3), filters=12, num_layers=0, kernel_size=3,
    ...                  likelihood="categorical")   # R -> G -> B, 256 logits each
    >>> values, params = raster.group_masks(model)
    >>> keras.ops.convert_to_numpy(values).tolist(), tuple(params.shape)
    ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], (3, 768))
    """
    channels = model.raster_shape[-1]
    groups = model.sampling_channel_groups
    num_params = model.num_params
    value_masks = np.stack([np.isin(np.arange(channels), g) for g in groups])
    if len(groups) == 1:
        param_masks = np.ones((1, num_params))
    else:
        per_value = num_params // channels
        param_masks = np.stack([np.isin(np.arange(num_params) // per_value, g) for g in groups])
    return (ops.convert_to_tensor(value_masks.astype("float32")),
            ops.convert_to_tensor(param_masks.astype("float32")))


def _row_function(model, n, forced):
    """``(weights, state, i, base_seed, condition) -> state``: generates row ``i``.

    With ``forced`` (teacher forcing) the values are read from
    ``state["forced"]`` instead of drawn, and the parameters of every
    conditional are recorded in ``state["params"]``.
    """
    _, width, channels = model.raster_shape
    groups = model.sampling_channel_groups
    num_params = model.num_params
    likelihood = model.likelihood
    value_masks, param_masks = group_masks(model)

    def row(weights, state, i, base, condition):
        z = ops.zeros_like(i)
        cache, context = model.cache_row_start(weights, state["cache"], i, condition)
        loop = {"cache": cache, "row": buffers.zeros(n, 1, width, channels)}
        if forced:
            target = ops.slice(state["forced"], (z, i, z, z), (n, 1, width, channels))
            loop["params"] = buffers.zeros(n, 1, width, num_params)

        def channel(j, g, loop):
            """Draw (or read) the values of channel group ``g`` of pixel (i, j)."""
            params, cache = model.call_with_cache(weights, loop["cache"], context, i, j)
            loop = dict(loop)
            if forced:
                values = buffers.row_window(target, j, 1)
                old = buffers.row_window(loop["params"], j, 1)
                mask = ops.take(param_masks, g, axis=0)
                loop["params"] = buffers.put(loop["params"], j, old + mask * (params - old))
            else:
                t = (i * width + j) * len(groups) + g
                values = likelihood.sample(ops.reshape(params, (n, 1, 1, -1)),
                                           seed=step_seed(base, t))
                values = ops.reshape(ops.cast(values, "float32"), (n, channels))
            old = buffers.row_window(loop["row"], j, 1)
            new = old + ops.take(value_masks, g, axis=0) * (values - old)
            loop["row"] = buffers.put(loop["row"], j, new)
            loop["cache"] = model.cache_write(weights, cache, context, i, j, new)
            return loop

        def pixel(j, loop):
            if len(groups) == 1:
                return channel(j, ops.zeros_like(j), loop)
            # A loop over the channel groups (not unrolled: a third of the
            # graph to compile for RGB).
            return ops.fori_loop(0, len(groups), lambda g, lp: channel(j, g, lp), loop)

        loop = ops.fori_loop(0, width, pixel, loop)
        state = dict(
            state,
            cache=model.cache_row_end(weights, loop["cache"], context, i),
            image=ops.slice_update(state["image"], (z, i, z, z), loop["row"]),
        )
        if forced:
            state["params"] = ops.slice_update(state["params"], (z, i, z, z), loop["params"])
        return state

    return row


def _rows_function(row):
    """``row`` compiled into a loop over a row range: ``(weights, state, start, stop, base, condition)``."""
    def rows(weights, state, start, stop, base, condition):
        return ops.fori_loop(start, stop,
                             lambda i, st: row(weights, st, i, base, condition), state)

    return _backend.compile_function(rows, jit_compile=JIT)


def run_rows(model, n, seed=None, verbose=0, condition=None, forced=None, weights=None):
    """Run the compiled raster loop over every row of ``model``'s raster; the final state.

    Args:
        model: a model with a cache layout (see the package docstring).
        n: int, number of examples.
        seed: int or None (see :func:`~keras_genmodels.samplers.seeds.resolve_seed`).
        verbose: 0: one call for the whole raster; 1: at most 8 calls with a
            ``keras.utils.Progbar`` over the rows (the row range is a tensor
            argument: the same compiled function).
        condition: a float tensor ``(n, d)`` for class-conditional models, or None.
        forced: values ``(n, rows, cols, C)`` to teacher-force, or None to sample.
        weights: the nested tensors ``model.cache_weights()`` (default), or
            others of the same structure.

    Returns:
        dict with ``image`` ``(n, rows, cols, C)``, ``cache`` and, when
        ``forced``, ``params`` ``(n, rows, cols, num_params)``.

    Example:

    >>> from keras_genmodels.models import NADE
    >>> from keras_genmodels.samplers import run_rows
    >>> model = NADE(5, hidden_units=3, seed=0)
    >>> state = run_rows(model, 2, seed=0)
    >>> tuple(state["image"].shape), tuple(state["cache"]["a"].shape)   # 5 rows of one value
    ((2, 5, 1, 1), (2, 3))
    """
    rows, width, channels = model.raster_shape
    teacher = forced is not None
    fn = compiled(model, ("rows", n, teacher),
                  lambda: _rows_function(_row_function(model, n, teacher)))
    if condition is not None:
        condition = ops.cast(ops.convert_to_tensor(condition), "float32")
    state = {"image": buffers.zeros(n, rows, width, channels), "cache": model.build_cache(n)}
    if teacher:
        state["forced"] = ops.cast(ops.convert_to_tensor(forced), "float32")
        state["params"] = buffers.zeros(n, rows, width, model.num_params)
    weights = model.cache_weights() if weights is None else weights
    base = base_seed(model, seed)
    step = -(-rows // 8) if verbose else rows
    progbar = keras.utils.Progbar(rows, unit_name="row") if verbose else None
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        state = fn(weights, state, ops.convert_to_tensor(start, "int32"),
                   ops.convert_to_tensor(stop, "int32"), base, condition)
        if progbar is not None:
            progbar.update(stop)
    return state


def cached_sample(model, n, seed=None, verbose=1, condition=None, weights=None):
    """Draw ``n`` samples with the model's caches: each step evaluates only the new position.

    For every new value each layer is evaluated at that position only, from
    cached activations of the earlier ones (Ramachandran et al., 2017, for
    convolutional models; the LSTM states of the previous row for PixelRNN;
    running pre-activations for NADE and MADE), instead of a whole forward
    pass. With the same int seed it returns the same samples as
    :func:`~keras_genmodels.samplers.naive_sample`: both use the seed
    ``[seed, t]`` at step ``t``, and the parameters agree to float rounding.

    Args:
        model: a model with a cache layout: ``PixelCNN``, ``GatedPixelCNN``,
            ``PixelRNN``, ``NADE``, ``MADE`` or ``MarkovAR`` (or one of
            your own, see the package docstring).
        n: int, number of samples.
        seed: int or None (a seed drawn from ``model.seed_generator``).
        verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` over the rows).
        condition: one-hot labels ``(n, num_classes)`` (class-conditional
            models) or None.
        weights: the model's ``cache_weights(...)`` when they take options
            (MADE's mask set), else None.

    Returns:
        NumPy ``float32`` array ``(n,) + model.event_shape``.

    Memory: the model's caches (fixed sizes, allocated once per call);
    nothing grows with the number of steps.

    Example:

    >>> from keras_genmodels.models import PixelCNN
    >>> from keras_genmodels.samplers import cached_sample, naive_sample
    >>> model = PixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3)
    >>> fast = cached_sample(model, 2, seed=0, verbose=0)
    >>> fast.shape, bool((fast == naive_sample(model, 2, seed=0, verbose=0)).all())
    ((2, 4, 4, 1), True)

    References:
        Ramachandran, Le Paine, Khorrami, Babaeizadeh, Chang, Zhang,
        Hasegawa-Johnson, Campbell & Huang, "Fast Generation for Convolutional
        Autoregressive Models", ICLR 2017 workshop.
    """
    state = run_rows(model, n, seed, verbose, condition, weights=weights)
    return ops.convert_to_numpy(model.from_raster(state["image"])).astype("float32")


def cached_params(model, x, condition=None, weights=None):
    """The conditionals' parameters of ``x`` computed through the model's caches.

    Teacher forcing through the same per-position computation as
    :func:`cached_sample` (values read from ``x`` instead of drawn). It
    equals the teacher-forced network ``model(x)`` up to float rounding; the
    tests use it to check the caches independently of the random draws.

    Args:
        model: a model with a cache layout.
        x: examples ``(n,) + model.event_shape`` in the data's units.
        condition: one-hot labels or None.
        weights: as in :func:`cached_sample`.

    Returns:
        NumPy ``float32`` array of the parameters in the layout of ``model(x)``.

    Raises:
        ValueError: when ``x`` does not have the shape ``(n,) + event_shape``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import PixelCNN
    >>> from keras_genmodels.samplers import cached_params
    >>> model = PixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3)
    >>> x = (np.random.rand(2, 4, 4, 1) < 0.5).astype("float32")
    >>> params = cached_params(model, x)
    >>> params.shape, bool(np.allclose(params, keras.ops.convert_to_numpy(model(x)), atol=1e-5))
    ((2, 4, 4, 1), True)
    """
    x = np.asarray(x, "float32")
    shape = tuple(model.event_shape)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape or x.shape[0] < 1:
        raise ValueError(
            f"cached_params expects examples of shape (n,) + {shape}. Received: shape={x.shape}"
        )
    forced = model.to_raster(ops.convert_to_tensor(x))
    state = run_rows(model, x.shape[0], 0, 0, condition, forced=forced, weights=weights)
    return ops.convert_to_numpy(model.from_raster(state["params"]))
