"""Autoregressive generation for the image density models (PixelCNN family).

``naive_sample`` is the reference sampler: it runs the whole network once per
pixel (and per colour group when channels are sampled one after another),
reading the conditional of the next value from the teacher-forced output.
That costs ``H * W * G`` full forward passes (``G`` = number of channel
groups), but it is exact for any network that is autoregressive, and it is the
reference that faster (cached) samplers are tested against.

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
"""

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend


def _pixel_params_fn(model):
    """A compiled ``(x, condition, i, j) -> params[:, i, j, :]`` for ``model`` (cached)."""
    fn = getattr(model, "_naive_pixel_params_fn", None)
    if fn is None:
        def pixel_params(x, condition, i, j):
            if condition is None:
                params = model(x, training=False)
            else:
                params = model(x, condition=condition, training=False)
            row = ops.take(params, i, axis=1)
            return ops.take(row, j, axis=1)

        fn = _backend.compile_function(pixel_params)
        object.__setattr__(model, "_naive_pixel_params_fn", fn)
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
    """
    height, width, channels = model.image_shape
    groups = model.sampling_channel_groups
    gen = keras.random.SeedGenerator(seed) if seed is not None else model.seed_generator
    fn = _pixel_params_fn(model)
    x = np.zeros((n, height, width, channels), "float32")
    total = height * width * len(groups)
    progbar = keras.utils.Progbar(total, unit_name="step") if verbose else None
    step = 0
    for i in range(height):
        for j in range(width):
            for chans in groups:
                params = fn(ops.convert_to_tensor(x), condition,
                            ops.convert_to_tensor(i, "int32"), ops.convert_to_tensor(j, "int32"))
                params = ops.reshape(params, (n, 1, 1, -1))
                values = ops.convert_to_numpy(model.likelihood.sample(params, seed=gen))
                x[:, i, j, chans] = values[:, 0, 0, chans]
                step += 1
                if progbar is not None:
                    progbar.update(step)
    return x
