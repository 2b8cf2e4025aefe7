"""The reference sampler: the whole teacher-forced network once per generation step."""

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels.samplers.raster import JIT
from keras_genmodels.samplers.raster import compiled
from keras_genmodels.samplers.seeds import base_seed
from keras_genmodels.samplers.seeds import step_seed


def _step_function(model, network):
    """A compiled ``(x_raster, condition, i, j, base_seed, t) -> values`` (one full pass).

    One forward pass of ``network`` (TensorFlow's graph executor: its
    convolutions beat XLA's on CPU), then the draw of step ``t`` from the
    parameters at raster position ``(i, j)``, compiled with XLA like the
    cached loop (the same random numbers).
    """
    def draw(params, base, t):
        return model.likelihood.sample(params, seed=step_seed(base, t))

    draw = _backend.compile_function(draw, jit_compile=JIT)

    def step(x, condition, i, j, base, t):
        inputs = model.from_raster(x)
        params = network(inputs) if condition is None else network(inputs, condition)
        params = model.to_raster(params)
        params = ops.take(ops.take(params, i, axis=1), j, axis=1)
        return draw(ops.reshape(params, (x.shape[0], 1, 1, -1)), base, t)

    return _backend.compile_function(step)


def _default_network(model):
    def network(x, condition=None):
        if condition is None:
            return model(x, training=False)
        return model(x, condition=condition, training=False)
    return network


def naive_sample(model, n, seed=None, verbose=1, condition=None, network=None, key=None,
                 positions=None):
    """Draw ``n`` samples with one full forward pass of the network per step (the reference).

    ``rows * cols * G`` passes (``G`` channel groups per position), reading
    the next conditional from the teacher-forced output: exact for any
    autoregressive network, and the reference every cached sampler is
    tested against (same int seed, same samples).

    Args:
        model: an autoregressive model (``raster_shape``, ``to_raster``,
            ``from_raster``, ``likelihood``, ``sampling_channel_groups``,
            ``seed_generator``; see the package docstring).
        n: int, number of samples.
        seed: int or None. The same int gives the same samples; None draws
            from ``model.seed_generator`` (different samples on every call).
        verbose: 0 (silent) or 1 (a ``keras.utils.Progbar`` over the steps).
        condition: tensor ``(n, d)`` passed to ``model(x, condition=...)``,
            or None for unconditional models.
        network: ``f(x[, condition]) -> params`` in the layout of
            ``model(x)``; default ``model`` itself.
        key: hashable, names ``network`` in the model's compiled functions
            (required with ``network``).
        positions: the raster positions ``(i, j)`` in generation order
            (default: raster order). Step ``t`` draws position
            ``positions[t]`` with the seed ``[s, t]`` (MADE's orderings).

    Returns:
        NumPy ``float32`` array ``(n,) + model.event_shape``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.models import PixelCNN
    >>> from keras_genmodels.samplers import naive_sample
    >>> model = PixelCNN((4, 4, 1), filters=8, num_layers=1, kernel_size=3)
    >>> images = naive_sample(model, 2, seed=0, verbose=0)   # 16 forward passes
    >>> images.shape, bool(np.isin(images, [0.0, 1.0]).all())
    ((2, 4, 4, 1), True)
    >>> bool((images == naive_sample(model, 2, seed=0, verbose=0)).all())   # same seed
    True
    """
    if network is not None and key is None:
        raise ValueError("naive_sample needs a key naming the network it is given.")
    rows, width, channels = model.raster_shape
    groups = model.sampling_channel_groups
    base = base_seed(model, seed)
    network = network or _default_network(model)
    fn = compiled(model, ("naive", key), lambda: _step_function(model, network))
    x = np.zeros((n, rows, width, channels), "float32")
    if positions is None:
        positions = [(i, j) for i in range(rows) for j in range(width)]
    total = len(positions) * len(groups)
    progbar = keras.utils.Progbar(total, unit_name="step") if verbose else None
    step = 0
    for i, j in positions:
        for chans in groups:
            values = ops.convert_to_numpy(fn(
                ops.convert_to_tensor(x), condition, ops.convert_to_tensor(i, "int32"),
                ops.convert_to_tensor(j, "int32"), base, ops.convert_to_tensor(step, "int32")))
            x[:, i, j, chans] = values[:, 0, 0, chans]
            step += 1
            if progbar is not None:
                progbar.update(step)
    return ops.convert_to_numpy(model.from_raster(ops.convert_to_tensor(x))).astype("float32")
