"""The base of the observation likelihoods, their shared helpers and the registry of names.

:class:`Likelihood` is the base class (see :mod:`keras_genmodels.likelihoods`
for the interface); :func:`params_tensor` and :func:`sum_non_batch` are the
two helpers every likelihood uses (also for likelihoods written outside the
package); :func:`get`, :func:`serialize` and :func:`register_alias` resolve
and store likelihoods. The names ``"bernoulli"``, ``"gaussian"`` /
``"normal"`` (:mod:`~keras_genmodels.likelihoods.continuous`),
``"categorical"`` and ``"logistic_mixture"``
(:mod:`~keras_genmodels.likelihoods.discrete`) are registered by the modules
that define those classes.
"""

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels._api import register


@register
class Likelihood:
    """Base class of the observation likelihoods (see :mod:`keras_genmodels.likelihoods`).

    A subclass implements ``log_prob`` (summed over the non-batch axes),
    ``sample`` and ``mean``; ``params_shape`` follows from
    ``params_per_value``, ``validate`` checks for finite data, and
    ``get_config`` / ``from_config`` / ``repr`` come from the constructor
    arguments listed in ``get_config``.

    Example:

    >>> import math
    >>> import numpy as np
    >>> import keras
    >>> from keras import ops
    >>> from keras_genmodels.likelihoods import Likelihood
    >>> class Laplace(Likelihood):
    ...     # Unit-scale Laplace values; the network outputs their location.
    ...     def log_prob(self, x, params):
    ...         values = -ops.abs(ops.convert_to_tensor(x) - params) - math.log(2.0)
    ...         return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)
    ...     def mean(self, params):
    ...         return params
    ...     def sample(self, params, seed=None):
    ...         params = ops.convert_to_tensor(params)
    ...         u = keras.random.uniform(ops.shape(params), -0.5, 0.5, seed=seed)
    ...         return params - ops.sign(u) * ops.log1p(-2.0 * ops.abs(u))
    >>> lik = Laplace()
    >>> x = np.zeros((2, 3), "float32")
    >>> [round(v, 4) for v in ops.convert_to_numpy(lik.log_prob(x, x)).tolist()]  # 3 * -log 2
    [-2.0794, -2.0794]
    >>> tuple(lik.sample(x, seed=0).shape), lik.params_shape((28, 28, 1)), lik
    ((2, 3), (28, 28, 1), Laplace())
    """

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


def params_tensor(params):
    """``params`` as a tensor, upcast to float32 when in float16 / bfloat16.

    Under a mixed-precision policy the networks output float16 or bfloat16;
    log-likelihoods (sums over hundreds of values) and samples are computed
    in float32, as Keras computes losses in float32. Every likelihood reads
    its ``params`` through it.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.likelihoods.base import params_tensor
    >>> keras.backend.standardize_dtype(params_tensor(np.zeros((2, 3), "float16")).dtype)
    'float32'
    >>> keras.ops.is_tensor(params_tensor([[0.5, 1.5]]))   # any array-like: a backend tensor
    True
    """
    params = ops.convert_to_tensor(params)
    if keras.backend.standardize_dtype(params.dtype) in ("float16", "bfloat16"):
        params = ops.cast(params, "float32")
    return params


def sum_non_batch(values):
    """Sum per-value terms over every non-batch axis: ``(batch, ...)`` -> ``(batch,)``.

    What a likelihood's ``log_prob`` returns (one number per example);
    tensors of rank 0 or 1 are returned as they are.

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> from keras_genmodels.likelihoods.base import sum_non_batch
    >>> ops.convert_to_numpy(sum_non_batch(np.ones((2, 3, 4), "float32")))
    array([12., 12.], dtype=float32)
    """
    values = ops.convert_to_tensor(values)
    if len(values.shape) <= 1:
        return values
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


# Lower-case name -> Likelihood subclass; filled by register_alias (the
# continuous and discrete modules register their classes).
_ALIASES = {}


def register_alias(name, cls):
    """Make ``get(name)`` return ``cls()``.

    Example:

    >>> from keras_genmodels.likelihoods import Bernoulli, get, register_alias
    >>> class GreyBernoulli(Bernoulli):
    ...     # A Bernoulli that accepts grey values in [0, 1] (binary cross-entropy).
    ...     def __init__(self, validate_args=True, allow_continuous=True):
    ...         super().__init__(validate_args, allow_continuous)
    >>> register_alias("grey_bernoulli", GreyBernoulli)
    >>> get("grey_bernoulli")
    GreyBernoulli(validate_args=True, allow_continuous=True)
    >>> get("Grey_Bernoulli")   # names are case-insensitive
    GreyBernoulli(validate_args=True, allow_continuous=True)

    Raises:
        ValueError: ``name`` is not a string or ``cls`` is not a ``Likelihood`` subclass.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string. Received: name={name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Likelihood)):
        raise ValueError(f"cls must be a Likelihood subclass. Received: cls={cls!r}")
    _ALIASES[name.lower()] = cls


def get(identifier):
    """Resolve a likelihood from a name, a config dict or an instance.

    Args:
        identifier: a ``Likelihood`` instance, one of the names
            ``"bernoulli"``, ``"gaussian"`` (and those registered by other
            modules, e.g. ``"categorical"``, ``"logistic_mixture"``), or a
            dict produced by :func:`serialize`.

    Raises:
        ValueError: for an unknown name or type.

    Example:

    >>> from keras_genmodels.likelihoods import Gaussian, get
    >>> get("bernoulli")
    Bernoulli(validate_args=True, allow_continuous=False)
    >>> get("normal")   # an alias of "gaussian"
    Gaussian(scale=1.0, learn_scale=False, min_log_scale=-7.0, validate_args=True)
    >>> lik = Gaussian(scale=0.1)
    >>> get(lik) is lik
    True
    >>> get("poisson")
    Traceback (most recent call last):
    ...
    ValueError: Unknown likelihood 'poisson'. Expected one of [...] or a ...Likelihood.
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
    """The Keras config dict of a likelihood, which :func:`get` turns back into one.

    Example:

    >>> from keras_genmodels.likelihoods import Gaussian, get, serialize
    >>> config = serialize(Gaussian(scale=0.5))
    >>> config["registered_name"], config["config"]["scale"]
    ('keras_genmodels>Gaussian', 0.5)
    >>> get(config)
    Gaussian(scale=0.5, learn_scale=False, min_log_scale=-7.0, validate_args=True)
    """
    return keras.saving.serialize_keras_object(likelihood)
