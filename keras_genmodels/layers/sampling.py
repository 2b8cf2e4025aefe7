"""Sampling: the reparameterisation trick of the VAE (Kingma & Welling, 2014).

:func:`reparameterize` is the package's one reparameterised draw from a
diagonal Gaussian, ``z = mean + exp(log_var / 2) * eps``; the
:class:`Sampling` layer, ``models.VAE``, ``models.AAE`` and the
importance-sampled log-likelihood of :mod:`keras_genmodels.metrics.likelihood`
call it.
"""

import keras
from keras import ops

from keras_genmodels._api import register
from keras_genmodels._seed_state import SavesSeedState


def reparameterize(mean, log_var, seed=None, num_samples=None):
    """Draw ``z = mean + exp(log_var / 2) * eps``, ``eps ~ N(0, I)``: the reparameterisation trick.

    A draw from the diagonal Gaussian ``N(mean, diag(exp(log_var)))`` that is
    differentiable in ``mean`` and ``log_var``. ``eps`` has the dtype of
    ``mean``.

    Args:
        mean: tensor (or array) of the Gaussian's means, e.g. ``(batch, latent_dim)``.
        log_var: tensor of the same shape, the log-variances.
        seed: passed to ``keras.random.normal``: a ``keras.random.SeedGenerator``
            (a stream: successive calls differ), an int (the same ``eps`` on
            every call) or None.
        num_samples: None for one draw of the shape of ``mean``, or an int
            ``k``: ``k`` independent draws stacked on a new leading axis.

    Returns:
        Tensor of shape ``mean.shape``, or ``(k,) + mean.shape`` with
        ``num_samples=k``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers.sampling import reparameterize
    >>> mean = np.zeros((2, 3), "float32")
    >>> log_var = np.full((2, 3), np.log(4.0), "float32")   # std 2
    >>> z = reparameterize(mean, log_var, seed=keras.random.SeedGenerator(0), num_samples=5)
    >>> tuple(z.shape)
    (5, 2, 3)
    >>> eps = keras.random.normal((5, 2, 3), seed=keras.random.SeedGenerator(0))
    >>> bool(np.allclose(keras.ops.convert_to_numpy(z), 2.0 * keras.ops.convert_to_numpy(eps)))
    True
    """
    if not ops.is_tensor(mean):  # e.g. a NumPy array, called eagerly
        mean = ops.convert_to_tensor(mean)
    shape = tuple(ops.shape(mean))
    if num_samples is not None:
        shape = (num_samples,) + shape
    eps = keras.random.normal(shape, dtype=mean.dtype, seed=seed)
    return mean + ops.exp(0.5 * log_var) * eps


@register
class Sampling(SavesSeedState, keras.layers.Layer):
    """Draws ``z = mean + exp(0.5 * log_var) * eps`` with ``eps ~ N(0, I)`` (:func:`reparameterize`).

    The noise comes from the layer's own ``keras.random.SeedGenerator``, so
    a layer built with the same ``seed`` produces the same sequence of draws,
    and gradients flow to ``mean`` and ``log_var`` (the reparameterisation
    trick). The generator's state is saved in ``.keras`` files
    (:class:`keras_genmodels._seed_state.SavesSeedState`; files without it
    still load, starting from ``seed``), so a reloaded layer continues the
    same sequence of draws.

    Args:
        seed: int or None, seed of the layer's ``SeedGenerator``.
        **kwargs: base layer arguments.

    Input shape:
        A list of two tensors ``[z_mean, z_log_var]`` of the same shape
        ``(batch, latent_dim)``.

    Output shape:
        ``(batch, latent_dim)``.

    Example:

    >>> import keras
    >>> from keras_genmodels.layers.sampling import Sampling
    >>> h = keras.Input((4,))
    >>> z_mean = keras.layers.Dense(2)(h)
    >>> z_log_var = keras.layers.Dense(2)(h)
    >>> z = Sampling(seed=0)([z_mean, z_log_var])
    >>> encoder = keras.Model(h, [z_mean, z_log_var, z])
    >>> tuple(z.shape)
    (None, 2)

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _check(self, shapes):
        if (
            not isinstance(shapes, (list, tuple))
            or len(shapes) != 2
            or not all(isinstance(s, (list, tuple)) for s in shapes)
        ):
            raise ValueError(
                "Sampling expects a list of two tensors [z_mean, z_log_var]. "
                f"Received: {shapes!r}"
            )
        if tuple(shapes[0]) != tuple(shapes[1]):
            raise ValueError(
                "z_mean and z_log_var must have the same shape. Received: "
                f"{tuple(shapes[0])} and {tuple(shapes[1])}"
            )

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        return reparameterize(z_mean, z_log_var, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config
