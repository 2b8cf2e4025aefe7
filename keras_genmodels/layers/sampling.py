"""Sampling: the reparameterisation trick of the VAE (Kingma & Welling, 2014)."""

import keras
from keras import ops

from keras_genmodels._api import register

_SEED_STATE_KEY = "seed_generator_state"


@register
class Sampling(keras.layers.Layer):
    """Draws ``z = mean + exp(0.5 * log_var) * eps`` with ``eps ~ N(0, I)``.

    The noise comes from the layer's own ``keras.random.SeedGenerator``, so
    a layer built with the same ``seed`` produces the same sequence of draws,
    and gradients flow to ``mean`` and ``log_var`` (the reparameterisation
    trick). The generator's state is saved in ``.keras`` files, so a
    reloaded layer continues the same sequence of draws.

    Args:
        seed: int or None, seed of the layer's ``SeedGenerator``.
        **kwargs: base layer arguments.

    Input shape:
        A list of two tensors ``[z_mean, z_log_var]`` of the same shape
        ``(batch, latent_dim)``.

    Output shape:
        ``(batch, latent_dim)``.

    Example:

    >>> z_mean = keras.layers.Dense(2)(h)
    >>> z_log_var = keras.layers.Dense(2)(h)
    >>> z = Sampling(seed=0)([z_mean, z_log_var])

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
        eps = keras.random.normal(
            ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
        )
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape[0])

    # The seed generator's state is not a layer variable, so Keras would not
    # save it: store it too, so a reloaded layer continues the same stream of
    # draws (and files without it still load, starting from ``seed``).
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[_SEED_STATE_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _SEED_STATE_KEY in keys:
            self.seed_generator.state.assign(store[_SEED_STATE_KEY])
        super().load_own_variables({k: store[k] for k in keys if k != _SEED_STATE_KEY})

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config
