"""KL divergence of a diagonal Gaussian posterior from a Gaussian prior."""

import keras
from keras import ops

from keras_genmodels._api import register


def diagonal_gaussian_kl(mean, log_var, prior_mean=0.0, prior_log_var=0.0):
    """Closed-form ``KL(N(mean, exp(log_var)) || N(prior_mean, exp(prior_log_var)))``.

    Element-wise (no reduction):
    ``0.5 * (prior_log_var - log_var + (exp(log_var) + (mean - prior_mean)^2)
    / exp(prior_log_var) - 1)``.
    Sum over the last axis for a diagonal multivariate Gaussian.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import diagonal_gaussian_kl
    >>> mean = np.array([0.0, 1.0], "float32")
    >>> log_var = np.zeros(2, "float32")
    >>> keras.ops.convert_to_numpy(diagonal_gaussian_kl(mean, log_var)).tolist()
    [0.0, 0.5]
    >>> # KL(N(0, 1) || N(0, 4)) = 0.5 * (log 4 + 1 / 4 - 1)
    >>> kl = diagonal_gaussian_kl(mean[:1], log_var[:1], prior_log_var=np.log(4.0))
    >>> round(float(kl[0]), 4)
    0.3181
    """
    mean = ops.convert_to_tensor(mean)
    log_var = ops.cast(log_var, mean.dtype)
    prior_mean = ops.cast(prior_mean, mean.dtype)
    prior_log_var = ops.cast(prior_log_var, mean.dtype)
    return 0.5 * (
        prior_log_var
        - log_var
        + (ops.exp(log_var) + ops.square(mean - prior_mean)) * ops.exp(-prior_log_var)
        - 1.0
    )


def standard_normal_kl(mean, log_var):
    """Per-example ``KL(N(mean, diag exp(log_var)) || N(0, I))``, summed over the last axis.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import standard_normal_kl
    >>> z_mean = np.array([[0.0, 0.0], [1.0, 1.0]], "float32")
    >>> z_log_var = np.zeros((2, 2), "float32")
    >>> keras.ops.convert_to_numpy(standard_normal_kl(z_mean, z_log_var)).tolist()
    [0.0, 1.0]
    """
    return ops.sum(diagonal_gaussian_kl(mean, log_var), axis=-1)


def _check_weight(weight):
    if not weight >= 0:
        raise ValueError(f"KL weight must be >= 0. Received: weight={weight}")
    return float(weight)


@register
class KLDivergenceRegularizer(keras.layers.Layer):
    """Adds ``weight * KL(N(mean, var) || N(0, I))`` to the model's losses.

    Called on ``[z_mean, z_log_var]``, the layer adds the closed-form KL
    divergence (summed over latent dimensions, averaged over the batch) to
    ``model.losses`` and returns its inputs unchanged. Together with
    :class:`Sampling` it turns any functional encoder/decoder into a VAE
    trained with a plain ``compile(loss=...)`` / ``fit``.

    Args:
        weight: float >= 0, multiplier of the KL term (beta of a beta-VAE).
        **kwargs: base layer arguments.

    Input shape:
        ``[z_mean, z_log_var]``, each ``(batch, latent_dim)``.

    Output shape:
        The same list, unchanged.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import KLDivergenceRegularizer, Sampling
    >>> h = keras.Input((3,))
    >>> z_mean = keras.layers.Dense(2)(h)
    >>> z_log_var = keras.layers.Dense(2)(h)
    >>> z_mean, z_log_var = KLDivergenceRegularizer(weight=1.0)([z_mean, z_log_var])
    >>> z = Sampling(seed=0)([z_mean, z_log_var])
    >>> encoder = keras.Model(h, z)
    >>> # Eagerly: the inputs come back unchanged and the loss is recorded.
    >>> layer = KLDivergenceRegularizer(weight=2.0)
    >>> outputs = layer([np.ones((4, 2), "float32"), np.zeros((4, 2), "float32")])
    >>> [round(float(loss), 4) for loss in layer.losses]   # 2.0 * KL of 1.0 per example
    [2.0]
    """

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = _check_weight(weight)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "KLDivergenceRegularizer expects [z_mean, z_log_var]. "
                f"Received: {inputs!r}"
            )
        z_mean, z_log_var = inputs
        if tuple(z_mean.shape) != tuple(z_log_var.shape):
            raise ValueError(
                "z_mean and z_log_var must have the same shape. Received: "
                f"{tuple(z_mean.shape)} and {tuple(z_log_var.shape)}"
            )
        kl = ops.mean(standard_normal_kl(z_mean, z_log_var))
        self.add_loss(self.weight * kl)
        return [z_mean, z_log_var]

    def compute_output_shape(self, input_shape):
        return [tuple(s) for s in input_shape]

    def get_config(self):
        config = super().get_config()
        config["weight"] = self.weight
        return config


@register
class KLDivergence(keras.regularizers.Regularizer):
    """Activity regularizer: KL of ``N(mean, exp(log_var))`` from ``N(0, I)``.

    Use as ``activity_regularizer=`` on a layer whose output concatenates the
    mean and the log-variance on its last axis (``2 * latent_dim`` units).
    Returns the KL summed over the batch; Keras divides activity
    regularization by the batch size, so the loss added is the batch mean.

    Args:
        weight: float >= 0, multiplier of the KL term.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.layers import KLDivergence
    >>> latent_dim = 2
    >>> h = keras.Input((3,))
    >>> stats = keras.layers.Dense(2 * latent_dim,
    ...                            activity_regularizer=KLDivergence(1.0))(h)
    >>> z_mean, z_log_var = keras.ops.split(stats, 2, axis=-1)
    >>> tuple(z_mean.shape)
    (None, 2)
    >>> # On [mean, log_var] values: the KL summed over the batch.
    >>> values = np.array([[0.0, 0.0, 0.0, 0.0],    # N(0, 1): KL 0
    ...                    [1.0, 1.0, 0.0, 0.0]],   # N(1, 1) in 2 dims: KL 1
    ...                   "float32")
    >>> round(float(KLDivergence(1.0)(values)), 4)
    1.0
    """

    def __init__(self, weight=1.0):
        self.weight = _check_weight(weight)

    def __call__(self, x):
        if x.shape[-1] is not None and x.shape[-1] % 2:
            raise ValueError(
                "KLDivergence expects the last axis to hold [mean, log_var] "
                f"(an even size). Received: shape={tuple(x.shape)}"
            )
        mean, log_var = ops.split(x, 2, axis=-1)
        return self.weight * ops.sum(standard_normal_kl(mean, log_var))

    def get_config(self):
        return {"weight": self.weight}
