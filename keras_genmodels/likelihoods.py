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

>>> import numpy as np
>>> import keras_genmodels
>>> lik = keras_genmodels.likelihoods.get("bernoulli")
>>> x = np.array([[0.0, 1.0]], "float32")
>>> logits = np.array([[0.0, 0.0]], "float32")
>>> round(float(lik.log_prob(x, logits)[0]), 4)  # 2 * log(0.5)
-1.3863
"""

import math

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels._api import register

#: ``log(2 pi)``, the normalising constant of the Gaussian density (``0.5 * LOG_2PI``
#: per dimension); see :func:`normal_log_prob`.
LOG_2PI = math.log(2.0 * math.pi)


@register
class Likelihood:
    """Base class of the observation likelihoods (see the module docstring).

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


def _params(params):
    """``params`` as a tensor, upcast to float32 when in float16 / bfloat16.

    Under a mixed-precision policy the networks output float16 or bfloat16;
    log-likelihoods (sums over hundreds of values) and samples are computed
    in float32, as Keras computes losses in float32.
    """
    params = ops.convert_to_tensor(params)
    if keras.backend.standardize_dtype(params.dtype) in ("float16", "bfloat16"):
        params = ops.cast(params, "float32")
    return params


def _sum_non_batch(values):
    values = ops.convert_to_tensor(values)
    if len(values.shape) <= 1:
        return values
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


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
        logits = _params(params)
        x = ops.cast(x, logits.dtype)
        if self.validate_args:
            self.validate(x)
        # x*log sigmoid(l) + (1-x)*log sigmoid(-l) = -softplus(-l) - (1-x)*l
        return _sum_non_batch(-ops.softplus(-logits) - (1.0 - x) * logits)

    def sample(self, params, seed=None):
        logits = _params(params)
        u = keras.random.uniform(ops.shape(logits), seed=seed, dtype=logits.dtype)
        return ops.cast(u < ops.sigmoid(logits), logits.dtype)

    def mean(self, params):
        return ops.sigmoid(_params(params))

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
        params = _params(params)
        if not self.learn_scale:
            return params, ops.full_like(params, math.log(self.scale))
        mean, log_scale = ops.split(params, 2, axis=-1)
        return mean, ops.maximum(log_scale, self.min_log_scale)

    def log_prob(self, x, params):
        mean, log_scale = self._split(params)
        x = ops.cast(x, mean.dtype)
        if self.validate_args:
            self.validate(x)
        return _sum_non_batch(normal_log_prob(x, mean, 2.0 * log_scale, axis=None))

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


_ALIASES = {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "normal": Gaussian,
}


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


# --------------------------------------------------------------------------
# Discrete likelihoods for 8-bit images (PixelCNN family).
# --------------------------------------------------------------------------
def _validate_8bit(x, name, num_classes=256):
    """Raise ``ValueError`` unless every value of ``x`` is an integer in [0, num_classes - 1]."""
    _backend.check_finite(x)
    x = ops.convert_to_tensor(x)
    if not keras.backend.standardize_dtype(x.dtype).startswith(("int", "uint")):
        x = ops.cast(x, "float32")
        _backend.check(
            ops.all(x == ops.round(x)),
            f"{name} likelihood needs integer pixel values 0..{num_classes - 1}; received "
            "non-integer values. Pass raw 8-bit values (not images scaled to [0, 1]).",
        )
    _backend.check(
        ops.all((x >= 0) & (x <= num_classes - 1)),
        f"{name} likelihood needs pixel values in [0, {num_classes - 1}]; received values "
        "outside that range.",
    )


def _gumbel_argmax(logits, seed):
    """A categorical draw along the last axis (Gumbel-max trick)."""
    u = keras.random.uniform(
        ops.shape(logits), minval=1e-7, maxval=1.0 - 1e-7, seed=seed, dtype=logits.dtype
    )
    return ops.argmax(logits - ops.log(-ops.log(u)), axis=-1)


@register
class Categorical(Likelihood):
    """An independent ``num_classes``-way softmax for every data value (channel).

    The network outputs ``C * num_classes`` values on the last axis for data
    with ``C`` channels, **channel-major**: logits of channel ``c`` are
    ``params[..., c * num_classes:(c + 1) * num_classes]``. This is the layout
    a ``MaskedConv2D(C * num_classes, 1, color_groups=C)`` output layer
    produces, so colour group ``c`` of the network predicts channel ``c``
    (the R -> G -> B ordering of PixelCNN).

    ``log p(x | logits) = sum_values log_softmax(logits)[x]``.

    Args:
        num_classes: int >= 2, number of values (256 for 8-bit images).
        validate_args: bool. When true (default), ``log_prob`` raises
            ``ValueError`` for data that are not integers in
            ``[0, num_classes - 1]`` (float or int dtypes are accepted).

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.likelihoods import Categorical
    >>> lik = Categorical(256)
    >>> x = np.array([[[[3.0]]]])                      # (1, 1, 1, 1), value 3
    >>> round(float(lik.log_prob(x, np.zeros((1, 1, 1, 256)))[0]), 4)  # log(1/256)
    -5.5452

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural
        Networks", ICML 2016 (the discrete 256-way softmax).
    """

    def __init__(self, num_classes=256, validate_args=True):
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an int >= 2. Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        self.validate_args = bool(validate_args)

    @property
    def params_per_value(self):
        return self.num_classes

    def validate(self, x):
        _validate_8bit(x, "Categorical", self.num_classes)

    def _logits(self, params):
        params = _params(params)
        shape = tuple(params.shape)
        if shape[-1] is not None and shape[-1] % self.num_classes:
            raise ValueError(
                f"Categorical({self.num_classes}) needs params with a multiple of "
                f"{self.num_classes} values on the last axis. Received: shape={shape}"
            )
        new_shape = tuple(ops.shape(params)[:-1]) + (-1, self.num_classes)
        return ops.reshape(params, new_shape)

    def log_prob(self, x, params):
        logits = self._logits(params)
        if self.validate_args:
            self.validate(x)
        x = ops.cast(x, "int32")
        log_p = ops.log_softmax(logits, axis=-1)
        one_hot = ops.one_hot(x, self.num_classes, dtype=log_p.dtype)
        return _sum_non_batch(ops.sum(log_p * one_hot, axis=-1))

    def probs(self, params):
        """Per-value class probabilities ``(..., C, num_classes)``."""
        return ops.softmax(self._logits(params), axis=-1)

    def sample(self, params, seed=None):
        logits = self._logits(params)
        return ops.cast(_gumbel_argmax(logits, seed), logits.dtype)

    def mean(self, params):
        probs = self.probs(params)
        values = ops.arange(self.num_classes, dtype=probs.dtype)
        return ops.sum(probs * values, axis=-1)

    def get_config(self):
        return {"num_classes": self.num_classes, "validate_args": self.validate_args}


@register
class DiscretizedLogisticMixture(Likelihood):
    """The discretized logistic mixture of PixelCNN++ for 8-bit pixels.

    Data are integers ``0..255`` (any float or int dtype); internally a value
    ``v`` is mapped to ``x = v / 127.5 - 1`` in ``[-1, 1]`` and receives the
    mass of a logistic on the bin ``[x - 1/255, x + 1/255]`` (the edge bins
    extend to -inf and +inf). A whole pixel of ``C`` channels is a mixture of
    ``K`` components, and within a component the channel means are linearly
    coupled to the *earlier* channels of the same pixel (R -> G -> B):

        p(pixel) = sum_k pi_k prod_c L(x_c | mu_kc + sum_{j<c} a_kcj x_j, s_kc)

    with ``a = tanh(raw coefficients)``. Per pixel the network outputs
    ``K * (1 + 2 C + C (C - 1) / 2)`` values (``10 K`` for RGB, ``3 K`` for
    grey), laid out as ``[mixture logits (K) | means (C, K) | log-scales
    (C, K) | coupling coefficients (C (C - 1) / 2, K)]`` — each block
    channel-major, coefficients ordered ``(1, 0), (2, 0), (2, 1), ...``.
    Log-scales are clipped below at ``min_log_scale``.

    The bin mass ``sigmoid(a) - sigmoid(b)`` is evaluated exactly in log space
    as ``-softplus(-a) - softplus(b) + log(-expm1(b - a))``, so unlike the
    PixelCNN++ reference code no density approximation is needed and the 256
    probabilities of a value sum to one to float precision.

    Args:
        num_mixtures: int >= 1, the number of components ``K``.
        min_log_scale: float, lower clip of the log-scales (-7 as in
            PixelCNN++).
        validate_args: bool, whether ``log_prob`` checks that the data are
            integers in ``[0, 255]``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.likelihoods import DiscretizedLogisticMixture
    >>> lik = DiscretizedLogisticMixture(num_mixtures=5)
    >>> lik.params_shape((32, 32, 3))
    (32, 32, 50)
    >>> x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3))
    >>> tuple(lik.log_prob(x, np.zeros((4, 32, 32, 50), "float32")).shape)   # nats per image
    (4,)

    References:
        Salimans, Karpathy, Chen & Kingma, "PixelCNN++: Improving the PixelCNN
        with Discretized Logistic Mixture Likelihood and Other
        Modifications", ICLR 2017.
    """

    NUM_VALUES = 256

    def __init__(self, num_mixtures=5, min_log_scale=-7.0, validate_args=True):
        if not isinstance(num_mixtures, int) or isinstance(num_mixtures, bool) or num_mixtures < 1:
            raise ValueError(
                f"num_mixtures must be an int >= 1. Received: num_mixtures={num_mixtures!r}"
            )
        self.num_mixtures = num_mixtures
        self.min_log_scale = float(min_log_scale)
        self.validate_args = bool(validate_args)

    @staticmethod
    def num_coefficients(channels):
        return channels * (channels - 1) // 2

    def params_per_pixel(self, channels):
        """Number of parameters per pixel for ``channels`` channels."""
        return self.num_mixtures * (1 + 2 * channels + self.num_coefficients(channels))

    def params_shape(self, data_shape):
        data_shape = tuple(data_shape)
        return data_shape[:-1] + (self.params_per_pixel(data_shape[-1]),)

    def channels_from_params(self, num_params):
        """Invert ``params_per_pixel``: the channel count ``C`` for ``num_params``."""
        for c in range(1, 65):
            if self.params_per_pixel(c) == num_params:
                return c
        raise ValueError(
            f"DiscretizedLogisticMixture(num_mixtures={self.num_mixtures}) cannot read "
            f"{num_params} parameters per pixel: expected K * (1 + 2C + C(C-1)/2) values, "
            f"e.g. {self.params_per_pixel(1)} for 1 channel or {self.params_per_pixel(3)} "
            "for 3 channels."
        )

    def validate(self, x):
        _validate_8bit(x, "DiscretizedLogisticMixture", self.NUM_VALUES)

    def unpack_params(self, params, channels=None):
        """Split ``params`` into ``(logit_probs, means, log_scales, coeffs)``.

        Shapes: ``(..., K)``, ``(..., C, K)``, ``(..., C, K)`` and
        ``(..., C (C - 1) / 2, K)``; log-scales clipped, coefficients tanh'ed.
        """
        params = _params(params)
        k = self.num_mixtures
        c = channels or self.channels_from_params(params.shape[-1])
        if params.shape[-1] is not None and params.shape[-1] != self.params_per_pixel(c):
            raise ValueError(
                f"DiscretizedLogisticMixture(num_mixtures={k}) needs "
                f"{self.params_per_pixel(c)} parameters per pixel for {c} channel(s). "
                f"Received: params with {params.shape[-1]} values on the last axis."
            )
        m = self.num_coefficients(c)
        lead = tuple(ops.shape(params)[:-1])
        logit_probs = params[..., :k]
        means = ops.reshape(params[..., k:k + c * k], lead + (c, k))
        log_scales = ops.reshape(params[..., k + c * k:k + 2 * c * k], lead + (c, k))
        log_scales = ops.maximum(log_scales, self.min_log_scale)
        coeffs = ops.reshape(params[..., k + 2 * c * k:], lead + (m, k))
        return logit_probs, means, log_scales, ops.tanh(coeffs)

    @staticmethod
    def _coupled_means(means, coeffs, x):
        """Means with the linear dependence on earlier channels: (..., C, K)."""
        c = means.shape[-2]
        out = [means[..., 0, :]]
        idx = 0
        for ch in range(1, c):
            m = means[..., ch, :]
            for prev in range(ch):
                m = m + coeffs[..., idx, :] * x[..., prev:prev + 1]
                idx += 1
            out.append(m)
        return ops.stack(out, axis=-2)

    def _log_bin_mass(self, x, means, log_scales):
        """log P(value | component) for scaled x (..., C, 1) against (..., C, K)."""
        inv_s = ops.exp(-log_scales)
        centred = x - means
        a = inv_s * (centred + 1.0 / 255.0)   # upper edge
        b = inv_s * (centred - 1.0 / 255.0)   # lower edge
        log_cdf_upper = -ops.softplus(-a)      # log sigmoid(a), for value 0
        log_one_minus_cdf_lower = -ops.softplus(b)  # log(1 - sigmoid(b)), for value 255
        # log(sigmoid(a) - sigmoid(b)) = log sig(a) + log sig(-b) + log(1 - exp(b - a)).
        width = inv_s * (2.0 / 255.0)
        log_mid = log_cdf_upper + log_one_minus_cdf_lower + ops.log(-ops.expm1(-width))
        return ops.where(
            x < -0.999, log_cdf_upper, ops.where(x > 0.999, log_one_minus_cdf_lower, log_mid)
        )

    def log_prob_per_pixel(self, x, params):
        """``log p(pixel)`` for every pixel: shape of ``x`` without its last axis."""
        params = _params(params)
        x = ops.cast(x, params.dtype) / 127.5 - 1.0
        c = x.shape[-1]
        logit_probs, means, log_scales, coeffs = self.unpack_params(params, c)
        means = self._coupled_means(means, coeffs, x)
        log_mass = self._log_bin_mass(x[..., None], means, log_scales)  # (..., C, K)
        log_mix = ops.log_softmax(logit_probs, axis=-1) + ops.sum(log_mass, axis=-2)
        return ops.logsumexp(log_mix, axis=-1)

    def log_prob(self, x, params):
        if self.validate_args:
            self.validate(x)
        return _sum_non_batch(self.log_prob_per_pixel(x, params))

    def sample(self, params, seed=None):
        """Exact draws of integer pixel values (as floats) ``0..255``.

        A component is drawn per pixel, then the channels in order: a
        continuous logistic draw, rounded to its 8-bit bin (which is exactly
        the discretized distribution) before it enters the next channel's
        coupled mean.
        """
        params = _params(params)
        logit_probs, means, log_scales, coeffs = self.unpack_params(params)
        c, k = means.shape[-2], self.num_mixtures
        # One uniform draw for both the component (Gumbel-max) and the logistic
        # noise, so that an int seed does not correlate two draws.
        u = keras.random.uniform(tuple(ops.shape(logit_probs)[:-1]) + (k + c,), minval=1e-5,
                                 maxval=1.0 - 1e-5, seed=seed, dtype=params.dtype)
        gumbel = -ops.log(-ops.log(u[..., :k]))
        comp = ops.one_hot(ops.argmax(logit_probs + gumbel, axis=-1), k,
                           dtype=params.dtype)                        # (..., K)
        mu = ops.sum(means * comp[..., None, :], axis=-1)             # (..., C)
        log_s = ops.sum(log_scales * comp[..., None, :], axis=-1)
        coef = ops.sum(coeffs * comp[..., None, :], axis=-1)          # (..., M)
        u = u[..., k:]
        noise = ops.exp(log_s) * (ops.log(u) - ops.log1p(-u))
        values, scaled, idx = [], [], 0
        for ch in range(c):
            m = mu[..., ch]
            for prev in range(ch):
                m = m + coef[..., idx] * scaled[prev]
                idx += 1
            v = ops.clip(ops.round((m + noise[..., ch] + 1.0) * 127.5), 0.0, 255.0)
            values.append(v)
            scaled.append(v / 127.5 - 1.0)
        return ops.stack(values, axis=-1)

    def mean(self, params):
        """Mean of the *undiscretized* mixture, mapped to ``[0, 255]``.

        With the linear coupling, ``E_k[x_c] = mu_kc + sum_{j<c} a_kcj E_k[x_j]``;
        the edge bins' clipping is ignored, so this is an approximation of the
        discrete mean (exact up to the mass beyond [-1, 1]).
        """
        logit_probs, means, _, coeffs = self.unpack_params(params)
        c = means.shape[-2]
        comp_means, idx = [], 0
        for ch in range(c):
            m = means[..., ch, :]
            for prev in range(ch):
                m = m + coeffs[..., idx, :] * comp_means[prev]
                idx += 1
            comp_means.append(m)
        comp_means = ops.stack(comp_means, axis=-2)                   # (..., C, K)
        pi = ops.softmax(logit_probs, axis=-1)[..., None, :]
        mean = ops.sum(pi * comp_means, axis=-1)
        return ops.clip((mean + 1.0) * 127.5, 0.0, 255.0)

    def get_config(self):
        return {
            "num_mixtures": self.num_mixtures,
            "min_log_scale": self.min_log_scale,
            "validate_args": self.validate_args,
        }


register_alias("categorical", Categorical)
register_alias("logistic_mixture", DiscretizedLogisticMixture)
