"""Observation likelihoods p(x | params), written in ``keras.ops``.

A likelihood turns the raw output of a network (``params``) into a
distribution over data ``x``. Every likelihood offers

- ``log_prob(x, params)``: the log-density (log-mass) of each example, summed
  over all non-batch axes, in nats, shape ``(batch,)``;
- ``sample(params, seed=None)``: a draw of ``x``;
- ``mean(params)``: the expected value (used for reconstructions);
- ``params_shape(data_shape)``: the shape of ``params`` a network must output
  for data of shape ``data_shape`` (without the batch axis);
- ``validate(x)``: raises ``ValueError`` naming the problem when ``x`` is not
  in the support (e.g. non-binary data for a Bernoulli).

They are small serializable objects, so models keep them in ``get_config``.
Use :func:`get` to resolve names (``"bernoulli"``, ``"gaussian"``, ...).

Example:

>>> from keras_genmodels import likelihoods
>>> lik = likelihoods.get("bernoulli")
>>> x = np.array([[0.0, 1.0]], "float32")
>>> logits = np.array([[0.0, 0.0]], "float32")
>>> float(lik.log_prob(x, logits)[0])  # 2 * log(0.5)
-1.386...
"""

import math

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels._api import register


class Likelihood:
    """Base class of the observation likelihoods."""

    #: Number of parameters per data value (last axis multiplier).
    params_per_value = 1

    def log_prob(self, x, params):
        raise NotImplementedError

    def sample(self, params, seed=None):
        raise NotImplementedError

    def mean(self, params):
        raise NotImplementedError

    def params_shape(self, data_shape):
        data_shape = tuple(data_shape)
        return data_shape[:-1] + (data_shape[-1] * self.params_per_value,)

    def validate(self, x):
        """Raise ``ValueError`` if ``x`` is outside the support (or not finite)."""
        _backend.check_finite(x)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _sum_non_batch(values):
    values = ops.convert_to_tensor(values)
    if len(values.shape) <= 1:
        return values
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


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

    >>> lik = Bernoulli()
    >>> lik.log_prob(np.ones((1, 3), "float32"), np.zeros((1, 3), "float32"))
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
        logits = ops.convert_to_tensor(params)
        x = ops.cast(x, logits.dtype)
        if self.validate_args:
            self.validate(x)
        # x*log sigmoid(l) + (1-x)*log sigmoid(-l) = -softplus(-l) - (1-x)*l
        return _sum_non_batch(-ops.softplus(-logits) - (1.0 - x) * logits)

    def sample(self, params, seed=None):
        logits = ops.convert_to_tensor(params)
        u = keras.random.uniform(ops.shape(logits), seed=seed, dtype=logits.dtype)
        return ops.cast(u < ops.sigmoid(logits), logits.dtype)

    def mean(self, params):
        return ops.sigmoid(params)

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

    Example:

    >>> lik = Gaussian(scale=1.0)
    >>> lik.log_prob(np.zeros((1, 1), "float32"), np.zeros((1, 1), "float32"))
    """

    def __init__(self, scale=1.0, learn_scale=False, min_log_scale=-7.0):
        if not learn_scale and not scale > 0:
            raise ValueError(f"Gaussian scale must be positive. Received: scale={scale}")
        self.scale = float(scale)
        self.learn_scale = bool(learn_scale)
        self.min_log_scale = float(min_log_scale)

    @property
    def params_per_value(self):
        return 2 if self.learn_scale else 1

    def _split(self, params):
        params = ops.convert_to_tensor(params)
        if not self.learn_scale:
            return params, ops.full_like(params, math.log(self.scale))
        mean, log_scale = ops.split(params, 2, axis=-1)
        return mean, ops.maximum(log_scale, self.min_log_scale)

    def log_prob(self, x, params):
        mean, log_scale = self._split(params)
        x = ops.cast(x, mean.dtype)
        z = (x - mean) * ops.exp(-log_scale)
        values = -0.5 * ops.square(z) - log_scale - 0.5 * math.log(2.0 * math.pi)
        return _sum_non_batch(values)

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
        }


_ALIASES = {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "normal": Gaussian,
}


def register_alias(name, cls):
    """Make ``get(name)`` return ``cls()``."""
    _ALIASES[name] = cls


def get(identifier):
    """Resolve a likelihood from a name, a config dict or an instance.

    Args:
        identifier: a ``Likelihood`` instance, one of the names
            ``"bernoulli"``, ``"gaussian"`` (and those registered by other
            modules, e.g. ``"categorical"``, ``"logistic_mixture"``), or a
            dict produced by :func:`serialize`.

    Raises:
        ValueError: for an unknown name or type.
    """
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _ALIASES:
            raise ValueError(
                f"Unknown likelihood '{identifier}'. Expected one of "
                f"{sorted(_ALIASES)} or a keras_genmodels.likelihoods.Likelihood."
            )
        return _ALIASES[key]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise ValueError(
        f"Could not interpret likelihood identifier: {identifier!r}. Expected a "
        "name or a keras_genmodels.likelihoods.Likelihood instance."
    )


def serialize(likelihood):
    return keras.saving.serialize_keras_object(likelihood)
