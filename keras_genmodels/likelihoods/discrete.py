"""Discrete likelihoods for 8-bit images (PixelCNN family): Categorical, DiscretizedLogisticMixture."""

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels._api import register
from keras_genmodels.likelihoods.base import Likelihood
from keras_genmodels.likelihoods.base import params_tensor
from keras_genmodels.likelihoods.base import register_alias
from keras_genmodels.likelihoods.base import sum_non_batch


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
        params = params_tensor(params)
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
        return sum_non_batch(ops.sum(log_p * one_hot, axis=-1))

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
        params = params_tensor(params)
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
        params = params_tensor(params)
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
        return sum_non_batch(self.log_prob_per_pixel(x, params))

    def sample(self, params, seed=None):
        """Exact draws of integer pixel values (as floats) ``0..255``.

        A component is drawn per pixel, then the channels in order: a
        continuous logistic draw, rounded to its 8-bit bin (which is exactly
        the discretized distribution) before it enters the next channel's
        coupled mean.
        """
        params = params_tensor(params)
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
