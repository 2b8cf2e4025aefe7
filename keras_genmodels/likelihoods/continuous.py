"""Likelihoods of binary and real-valued data: Bernoulli, Gaussian; the Gaussian log-density.

:func:`normal_log_prob` (and :data:`LOG_2PI`) is the package's one Gaussian
log-density, used by :class:`Gaussian`, the VAE and the metrics.
"""

import math

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels._api import register
from keras_genmodels.likelihoods.base import Likelihood
from keras_genmodels.likelihoods.base import params_tensor
from keras_genmodels.likelihoods.base import register_alias
from keras_genmodels.likelihoods.base import sum_non_batch

#: ``log(2 pi)``, the normalising constant of the Gaussian density (``0.5 * LOG_2PI``
#: per dimension); see :func:`normal_log_prob`.
LOG_2PI = math.log(2.0 * math.pi)


def normal_log_prob(x, mean=0.0, log_var=0.0, axis=-1):
    """Log-density of the diagonal Gaussian ``N(mean, diag(exp(log_var)))`` at ``x``, in nats.

    ``-0.5 * (log(2 pi) + log_var + (x - mean)^2 * exp(-log_var))``, summed
    over ``axis``. The package's one Gaussian log-density: the
    :class:`Gaussian` likelihood, the VAE's prior and posterior terms and the
    importance-sampled log-likelihood of :mod:`keras_genmodels.metrics.likelihood`
    call it. Written in ``keras.ops`` (differentiable, every backend) and
    computed in the dtype of ``x``: float64 inputs (NumPy float64 arrays
    included) give a float64 result.

    Args:
        x: tensor or array, the points.
        mean: the mean, broadcastable to ``x`` (default 0).
        log_var: the log-variance, broadcastable to ``x`` (default 0: unit
            variance).
        axis: int, tuple of ints or None, the axes summed over (the
            dimensions of one Gaussian); None keeps the element-wise values.

    Returns:
        Tensor of the shape of ``x`` without ``axis``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.likelihoods import LOG_2PI, normal_log_prob
    >>> round(float(normal_log_prob(np.zeros((1, 2)))[0]), 4), round(-LOG_2PI, 4)  # N(0; 0, I_2)
    (-1.8379, -1.8379)
    >>> round(float(normal_log_prob(np.array([2.0]), mean=1.0, log_var=np.log(4.0))), 4)
    -1.7371
    """
    x = ops.convert_to_tensor(x)
    if "float" not in keras.backend.standardize_dtype(x.dtype):
        x = ops.cast(x, keras.config.floatx())
    mean = ops.cast(mean, x.dtype)
    log_var = ops.cast(log_var, x.dtype)
    values = -0.5 * (LOG_2PI + log_var + ops.square(x - mean) * ops.exp(-log_var))
    return values if axis is None else ops.sum(values, axis=axis)


@register
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels parameterised by logits.

    ``log p(x | l) = x * log_sigmoid(l) + (1 - x) * log_sigmoid(-l)``, computed
    as ``-softplus(-l) - (1 - x) * l`` so that logits of +/-1e4 stay finite.

    Args:
        validate_args: bool. When true (the default), ``log_prob`` raises
            ``ValueError`` for data outside {0, 1} (or [0, 1] with
            ``allow_continuous=True``).
        allow_continuous: bool. Accept data in [0, 1] (the "continuous
            Bernoulli"-free binary cross-entropy many MNIST examples use)
            instead of only {0, 1}. Default false.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.likelihoods import Bernoulli
    >>> lik = Bernoulli()
    >>> lp = lik.log_prob(np.ones((1, 3), "float32"), np.zeros((1, 3), "float32"))
    >>> round(float(lp[0]), 4)   # 3 * log(0.5)
    -2.0794
    """

    def __init__(self, validate_args=True, allow_continuous=False):
        self.validate_args = bool(validate_args)
        self.allow_continuous = bool(allow_continuous)

    def validate(self, x):
        super().validate(x)
        x = ops.convert_to_tensor(x)
        if self.allow_continuous:
            _backend.check(
                ops.all((x >= 0) & (x <= 1)),
                "Bernoulli likelihood needs data in [0, 1]; received values outside "
                "that range.",
            )
        else:
            _backend.check(
                ops.all((x == 0) | (x == 1)),
                "Bernoulli likelihood needs binary data (every value 0 or 1); received "
                "non-binary values. Binarize the data (e.g. x > 0.5) or pass "
                "allow_continuous=True.",
            )

    def log_prob(self, x, params):
        logits = params_tensor(params)
        x = ops.cast(x, logits.dtype)
        if self.validate_args:
            self.validate(x)
        # x*log sigmoid(l) + (1-x)*log sigmoid(-l) = -softplus(-l) - (1-x)*l
        return sum_non_batch(-ops.softplus(-logits) - (1.0 - x) * logits)

    def sample(self, params, seed=None):
        logits = params_tensor(params)
        u = keras.random.uniform(ops.shape(logits), seed=seed, dtype=logits.dtype)
        return ops.cast(u < ops.sigmoid(logits), logits.dtype)

    def mean(self, params):
        return ops.sigmoid(params_tensor(params))

    def get_config(self):
        return {
            "validate_args": self.validate_args,
            "allow_continuous": self.allow_continuous,
        }


@register
class Gaussian(Likelihood):
    """Independent Gaussian values with a fixed or a learned scale.

    With ``learn_scale=False`` the network outputs the mean only and the scale
    is the constant ``scale``. With ``learn_scale=True`` the network outputs
    ``2 * C`` values on the last axis: the mean (first ``C``) and the log of
    the standard deviation (last ``C``), clipped below at ``min_log_scale``.

    Args:
        scale: float, the fixed standard deviation (``learn_scale=False``).
        learn_scale: bool, whether params carry a per-value log-scale.
        min_log_scale: float, lower clip of the learned log-scale.
        validate_args: bool. When true (the default), ``log_prob`` raises
            ``ValueError`` for NaN or infinite data.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.likelihoods import Gaussian
    >>> lik = Gaussian(scale=1.0)
    >>> lp = lik.log_prob(np.zeros((1, 1), "float32"), np.zeros((1, 1), "float32"))
    >>> round(float(lp[0]), 4)   # -log(2 pi) / 2
    -0.9189
    """

    def __init__(self, scale=1.0, learn_scale=False, min_log_scale=-7.0, validate_args=True):
        if not learn_scale and not scale > 0:
            raise ValueError(f"Gaussian scale must be positive. Received: scale={scale}")
        self.scale = float(scale)
        self.learn_scale = bool(learn_scale)
        self.min_log_scale = float(min_log_scale)
        self.validate_args = bool(validate_args)

    @property
    def params_per_value(self):
        return 2 if self.learn_scale else 1

    def _split(self, params):
        params = params_tensor(params)
        if not self.learn_scale:
            return params, ops.full_like(params, math.log(self.scale))
        mean, log_scale = ops.split(params, 2, axis=-1)
        return mean, ops.maximum(log_scale, self.min_log_scale)

    def log_prob(self, x, params):
        mean, log_scale = self._split(params)
        x = ops.cast(x, mean.dtype)
        if self.validate_args:
            self.validate(x)
        return sum_non_batch(normal_log_prob(x, mean, 2.0 * log_scale, axis=None))

    def sample(self, params, seed=None):
        mean, log_scale = self._split(params)
        eps = keras.random.normal(ops.shape(mean), seed=seed, dtype=mean.dtype)
        return mean + ops.exp(log_scale) * eps

    def mean(self, params):
        return self._split(params)[0]

    def get_config(self):
        return {
            "scale": self.scale,
            "learn_scale": self.learn_scale,
            "min_log_scale": self.min_log_scale,
            "validate_args": self.validate_args,
        }


register_alias("bernoulli", Bernoulli)
register_alias("gaussian", Gaussian)
register_alias("normal", Gaussian)
