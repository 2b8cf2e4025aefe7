"""Divergences and entropies of the theory, in ``keras.ops`` (differentiable, any float dtype).

- :func:`kl_divergence`, :func:`entropy`, :func:`jensen_shannon` for discrete
  distributions (probabilities or logits over the last axis);
- :func:`gaussian_kl` and :func:`gaussian_entropy` for diagonal Gaussians.

Example:

>>> from keras_genmodels.metrics.divergences import jensen_shannon
>>> round(float(jensen_shannon([0.5, 0.5], [0.5, 0.5])), 6)   # identical distributions
0.0
"""

import math

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels.layers.kl import diagonal_gaussian_kl
from keras_genmodels.likelihoods import LOG_2PI


def _log_base(base):
    if base is None:
        return 1.0
    base = float(base)
    if not base > 0 or base == 1.0:
        raise ValueError(f"base must be > 0 and != 1 (or None for nats). Received: base={base}")
    return math.log(base)


def _float_tensor(x):
    x = ops.convert_to_tensor(x)
    if "float" not in keras.backend.standardize_dtype(x.dtype):
        x = ops.cast(x, keras.config.floatx())
    return x


def _check_probs(p, name):
    _backend.check(ops.all(p >= 0), f"{name} must be probabilities (>= 0); received negative "
                   "values. Pass from_logits=True for logits.")
    tol = 1e-6 if keras.backend.standardize_dtype(p.dtype) == "float64" else 1e-3
    _backend.check(ops.all(ops.abs(ops.sum(p, axis=-1) - 1.0) <= tol),
                   f"{name} must sum to 1 over the last axis. Pass from_logits=True for logits.")


def _log_probs_from(p, from_logits, name):
    """``(probs, log_probs)`` with log 0 = -inf, validated."""
    p = _float_tensor(p)
    if len(p.shape) == 0:
        raise ValueError(f"{name} must have at least one axis (the outcomes).")
    if from_logits:
        log_p = ops.log_softmax(p, axis=-1)
        return ops.exp(log_p), log_p
    _check_probs(p, name)
    return p, None


def _same_shape(p, q):
    if tuple(p.shape) != tuple(q.shape):
        raise ValueError(f"p and q must have the same shape. Received: {tuple(p.shape)} and "
                         f"{tuple(q.shape)}")


def _kl_terms(p, log_p, q, log_q):
    """Sum over the last axis of p (log p - log q) with 0 log 0 = 0 (gradient-safe)."""
    positive = p > 0
    one = ops.ones_like(p)
    if log_p is None:
        log_p = ops.log(ops.where(positive, p, one))
    else:
        log_p = ops.where(positive, log_p, ops.zeros_like(log_p))
    if log_q is None:
        log_q = ops.log(ops.where(positive, q, one))  # q = 0 where p > 0 -> -inf -> KL = inf
    else:
        log_q = ops.where(positive, log_q, ops.zeros_like(log_q))
    return ops.sum(ops.where(positive, p * (log_p - log_q), ops.zeros_like(p)), axis=-1)


def kl_divergence(p, q, from_logits=False, base=None):
    """``KL(p || q) = sum_i p_i log(p_i / q_i)`` over the last axis.

    Computed stably: terms with ``p_i = 0`` are 0 (``0 log 0 = 0``), the
    result is ``inf`` when ``q_i = 0`` where ``p_i > 0``, and logits go
    through ``log_softmax``. Written in ``keras.ops``: works on tensors in
    any float dtype and is differentiable.

    Args:
        p, q: probability vectors over the last axis (same shape), or logits
            with ``from_logits=True``.
        from_logits: bool.
        base: None (nats) or the logarithm base (2 for bits).

    Returns:
        Tensor of shape ``p.shape[:-1]``.

    Raises:
        ValueError: for negative or unnormalised probabilities or mismatched
            shapes.

    Example:

    >>> from keras_genmodels.metrics import kl_divergence
    >>> round(float(kl_divergence([0.5, 0.5], [0.9, 0.1])), 4)   # nats
    0.5108
    >>> round(float(kl_divergence([0.5, 0.5, 0.0], [0.25, 0.25, 0.5], base=2)), 6)   # bits
    1.0

    References:
        Cover & Thomas, "Elements of Information Theory", 2nd ed., ch. 2.
    """
    scale = _log_base(base)
    p, log_p = _log_probs_from(p, from_logits, "p")
    q, log_q = _log_probs_from(q, from_logits, "q")
    _same_shape(p, q)
    q = ops.cast(q, p.dtype)
    log_q = None if log_q is None else ops.cast(log_q, p.dtype)
    return _kl_terms(p, log_p, q, log_q) / scale


def entropy(p, from_logits=False, base=None):
    """Shannon entropy ``-sum_i p_i log p_i`` over the last axis (``0 log 0 = 0``).

    Args:
        p: probabilities over the last axis, or logits with ``from_logits=True``.
        from_logits: bool.
        base: None (nats) or the logarithm base.

    Returns:
        Tensor of shape ``p.shape[:-1]``.

    Example:

    >>> from keras_genmodels.metrics import entropy
    >>> float(entropy([0.25] * 4, base=2))   # bits
    2.0
    >>> round(float(entropy([0.0, 0.0], from_logits=True)), 4)   # log 2 nats
    0.6931
    """
    scale = _log_base(base)
    p, log_p = _log_probs_from(p, from_logits, "p")
    positive = p > 0
    if log_p is None:
        log_p = ops.log(ops.where(positive, p, ops.ones_like(p)))
    terms = ops.where(positive, p * log_p, ops.zeros_like(p))
    return -ops.sum(terms, axis=-1) / scale


def jensen_shannon(p, q, from_logits=False, base=None):
    """Jensen-Shannon divergence ``KL(p || m) / 2 + KL(q || m) / 2``, ``m = (p + q) / 2``.

    Symmetric, zero iff ``p = q``, always finite, and bounded by ``log 2``
    (1 bit with ``base=2``). The GAN value function at the optimal
    discriminator is ``2 JS(p_data || p_g) - log 4`` (Goodfellow et al.).

    Args:
        p, q: probabilities over the last axis, or logits with
            ``from_logits=True``.
        from_logits: bool.
        base: None (nats) or the logarithm base (2 bounds it by 1).

    Returns:
        Tensor of shape ``p.shape[:-1]``.

    Example:

    >>> from keras_genmodels.metrics import jensen_shannon
    >>> float(jensen_shannon([1.0, 0.0], [0.0, 1.0], base=2))   # disjoint supports: 1 bit
    1.0

    References:
        Lin, "Divergence measures based on the Shannon entropy", IEEE Trans.
        Inf. Theory, 1991. Goodfellow et al., "Generative Adversarial Nets",
        NeurIPS 2014.
    """
    scale = _log_base(base)
    p, log_p = _log_probs_from(p, from_logits, "p")
    q, log_q = _log_probs_from(q, from_logits, "q")
    _same_shape(p, q)
    q = ops.cast(q, p.dtype)
    m = 0.5 * (p + q)
    log_m = None
    if from_logits:
        log_q = ops.cast(log_q, p.dtype)
        # logsumexp of the pair, not ops.logaddexp: Keras' torch logaddexp
        # computes in float32 whatever the inputs' dtype.
        log_m = ops.logsumexp(ops.stack([log_p, log_q]), axis=0) - math.log(2.0)
    kl_pm = _kl_terms(p, log_p, m, log_m)
    kl_qm = _kl_terms(q, log_q, m, log_m)
    return 0.5 * (kl_pm + kl_qm) / scale


def gaussian_kl(mean1, log_var1, mean2, log_var2):
    """Closed-form ``KL(N(mean1, diag e^log_var1) || N(mean2, diag e^log_var2))``.

    Summed over the last axis (a diagonal multivariate Gaussian; use a last
    axis of size 1 for scalars). Uses
    :func:`keras_genmodels.layers.kl.diagonal_gaussian_kl`.

    Args:
        mean1, log_var1: means and log-variances of the first Gaussian,
            ``(..., d)``.
        mean2, log_var2: those of the second, broadcastable to the first.

    Returns:
        Tensor of shape ``mean1.shape[:-1]`` (broadcast).

    Raises:
        ValueError: for a scalar ``mean1`` (no dimension axis).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> from keras_genmodels.metrics import gaussian_kl
    >>> z_mean, z_log_var = np.array([[1.0, 0.0]]), np.array([[0.0, np.log(2.0)]])
    >>> kl = gaussian_kl(z_mean, z_log_var, 0.0 * z_mean, 0.0 * z_log_var)  # the VAE's KL term
    >>> round(float(ops.convert_to_numpy(kl)[0]), 4)
    0.6534
    """
    mean1 = _float_tensor(mean1)
    if len(mean1.shape) == 0:
        raise ValueError("gaussian_kl needs at least one axis (the dimensions).")
    return ops.sum(diagonal_gaussian_kl(mean1, log_var1, mean2, log_var2), axis=-1)


def gaussian_entropy(log_var):
    """Differential entropy of ``N(mu, diag e^log_var)``: ``0.5 sum(log(2 pi e) + log_var)``.

    Summed over the last axis; in nats.

    Args:
        log_var: ``(..., d)`` log-variances.

    Returns:
        Tensor of shape ``log_var.shape[:-1]``.

    Raises:
        ValueError: for a scalar ``log_var`` (no dimension axis).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> from keras_genmodels.metrics import gaussian_entropy
    >>> round(float(ops.convert_to_numpy(gaussian_entropy(np.zeros((1, 2))))[0]), 4)  # log(2 pi e)
    2.8379
    """
    log_var = _float_tensor(log_var)
    if len(log_var.shape) == 0:
        raise ValueError("gaussian_entropy needs at least one axis (the dimensions).")
    return 0.5 * ops.sum(LOG_2PI + 1.0 + log_var, axis=-1)
