"""Likelihood metrics: ``log p(x)`` of a model, in nats unless stated.

- :func:`nll` and :func:`bits_per_dim` for explicit-density models (or
  arrays of per-example log-probabilities);
- :func:`importance_sampled_log_likelihood` for latent-variable models, and
  :func:`importance_sampled_log_likelihood_batch`, its numerics for one batch
  (``models.VAE.log_likelihood`` calls it too).

Example:

>>> import numpy as np
>>> from keras_genmodels.metrics.likelihood import bits_per_dim, nll
>>> log_probs = np.log([0.5, 0.25])   # log p(x) of two examples
>>> round(nll(log_probs), 4)
1.0397
>>> bits_per_dim(log_probs, num_dims=1)
1.5
"""

import inspect
import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels.layers.sampling import reparameterize
from keras_genmodels._seed_state import call_seed_generator
from keras_genmodels._validate import check_int


def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params  # not **kwargs: TFP's log_prob(x, **kwargs) forwards them


def _model_log_probs(model, x, batch_size):
    log_prob = getattr(model, "log_prob", None)
    if not callable(log_prob):
        hint = (" It has log_likelihood: use metrics.importance_sampled_log_likelihood."
                if hasattr(model, "log_likelihood") else "")
        raise ValueError(f"The model must have a log_prob(x) method. Received: "
                         f"{type(model).__name__}.{hint}")
    batch_size = check_int("batch_size", batch_size)
    x = np.asarray(x)
    if _accepts(log_prob, "batch_size"):
        values = log_prob(x, batch_size=batch_size)
    else:
        values = np.concatenate([
            np.reshape(ops.convert_to_numpy(log_prob(x[s:s + batch_size])), (-1,))
            for s in range(0, len(x), batch_size)
        ])
    return np.asarray(ops.convert_to_numpy(values), np.float64)


def _log_probs(model_or_log_probs, x, batch_size):
    if x is None:
        values = np.asarray(ops.convert_to_numpy(model_or_log_probs), np.float64)
    else:
        values = _model_log_probs(model_or_log_probs, x, batch_size)
        if values.shape != (len(x),):
            raise ValueError(f"log_prob must return one value per example, shape ({len(x)},). "
                             f"Received: shape={values.shape}")
    if values.ndim != 1 or values.shape[0] == 0:
        raise ValueError("log-probabilities must be a non-empty (n,) array. "
                         f"Received: shape={values.shape}")
    if np.any(np.isnan(values)):
        raise ValueError("log-probabilities contain NaN.")
    return values


def nll(model_or_log_probs, x=None, batch_size=256):
    """Mean negative log-likelihood in nats per example.

    Args:
        model_or_log_probs: either an ``(n,)`` array of per-example
            ``log p(x)`` (nats), or, with ``x``, a model with a
            ``log_prob(x)`` method (``keras_genmodels`` density models, a
            ``tfp.distributions.Distribution``...).
        x: the examples, when the first argument is a model.
        batch_size: int, examples per ``log_prob`` call.

    Returns:
        Python float, ``-mean(log p(x))``.

    Raises:
        ValueError: for a model without ``log_prob`` or malformed values.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import nll
    >>> round(nll(np.log([0.5, 0.25])), 4)   # an array of log p(x)
    1.0397
    >>> class Coin:                          # a model: p(x) = 1/2 for x in {0, 1}
    ...     def log_prob(self, x):
    ...         return np.full((len(x),), np.log(0.5))
    >>> round(nll(Coin(), np.zeros((3, 1))), 4)
    0.6931
    """
    return float(-np.mean(_log_probs(model_or_log_probs, x, batch_size)))


def bits_per_dim(model_or_log_probs, x=None, num_dims=None, batch_size=256):
    """Mean negative log-likelihood in bits per dimension: ``nll / (D ln 2)``.

    ``D`` is ``num_dims`` when given, else the number of values per example
    of ``x`` (``prod(x.shape[1:])``), else ``model.num_dims``.

    Args:
        model_or_log_probs, x, batch_size: as :func:`nll`.
        num_dims: int, the number of dimensions ``D`` (required with an array
            of log-probabilities).

    Returns:
        Python float, ``nll / (D ln 2)``.

    Raises:
        ValueError: as :func:`nll`, and without ``num_dims`` for an array of
            log-probabilities.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import bits_per_dim
    >>> bits_per_dim(np.log([0.25, 0.25]), num_dims=2)   # 2 bits per example, 2 dimensions
    1.0
    """
    if num_dims is None:
        if x is not None:
            num_dims = int(np.prod(np.shape(x)[1:]))
        else:
            num_dims = getattr(model_or_log_probs, "num_dims", None)
        if num_dims is None:
            raise ValueError("bits_per_dim needs num_dims when given log-probabilities.")
    num_dims = check_int("num_dims", num_dims)
    return nll(model_or_log_probs, x, batch_size) / (num_dims * math.log(2.0))


def importance_sampled_log_likelihood(model, x, num_samples=100, batch_size=100, chunk_size=None,
                                      seed=None, likelihood=None, prior_log_prob=None,
                                      proposal_scale=None):
    """Importance-sampled estimate of ``log p(x)`` per example for latent-variable models.

    ``log p(x) ~= log (1/k) sum_k p(x | z_k) p(z_k) / q(z_k | x)``, ``z_k ~ q(z|x)``:
    a stochastic lower bound that tightens with ``k`` (Burda et al.); exact
    for every ``k`` when ``q`` is the true posterior.

    When the model has its own ``log_likelihood`` (``models.VAE``) and none
    of ``likelihood``/``prior_log_prob``/``proposal_scale`` is given, that
    method is called (the VAE's uses the same numerics,
    :func:`importance_sampled_log_likelihood_batch`). Otherwise a generic
    estimator uses

    - ``model.encode(x)``: ``(z_mean, z_log_var)`` of a diagonal Gaussian
      proposal, or one tensor ``z`` (a deterministic encoder, e.g. an AAE),
      then the proposal is ``N(z, proposal_scale^2 I)``;
    - ``model.decode(z)``: the likelihood's parameters;
    - ``likelihood`` (default ``model.likelihood``) for ``log p(x | z)``;
    - ``prior_log_prob(z) -> (batch,)`` (default standard normal).

    Memory: ``batch_size * chunk_size`` decodes at a time, and the log-mean-exp
    is accumulated over chunks (running max and sum, float64), so
    ``num_samples=5000`` fits.

    Args:
        model: the latent-variable model.
        x: ``(n, ...)`` examples.
        num_samples: int k >= 1.
        batch_size: int, examples per batch.
        chunk_size: int, importance samples decoded at once; default
            ``min(k, max(1, 10000 // b))`` for a batch of ``b`` examples.
        seed: int or None.
        likelihood: name or ``Likelihood`` (generic estimator).
        prior_log_prob: callable ``z -> (batch,)`` log-density of the prior.
        proposal_scale: float > 0, proposal std around a deterministic code.

    Returns:
        NumPy ``(n,)`` float64 estimates in nats.

    Raises:
        ValueError: for bad arguments or a model without encode/decode.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import importance_sampled_log_likelihood
    >>> from keras_genmodels.models import VAE, mlp_vae_networks
    >>> encoder, decoder = mlp_vae_networks((6,), latent_dim=2, hidden_units=(8,))
    >>> vae = VAE(encoder, decoder, likelihood="bernoulli", seed=0)
    >>> x = (np.random.default_rng(0).uniform(size=(5, 6)) < 0.5).astype("float32")
    >>> ll = importance_sampled_log_likelihood(vae, x, num_samples=10, seed=0)
    >>> ll.shape, ll.dtype, bool(np.all(ll < 0))   # log-masses of binary data
    ((5,), dtype('float64'), True)

    References:
        Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders",
        ICLR 2016.
        Rezende, Mohamed & Wierstra, "Stochastic Backpropagation and
        Approximate Inference in Deep Generative Models", ICML 2014.
    """
    num_samples = check_int("num_samples", num_samples)
    batch_size = check_int("batch_size", batch_size)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size)
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch of examples. Received: shape={x.shape}")
    generic = likelihood is not None or prior_log_prob is not None or proposal_scale is not None
    own = getattr(model, "log_likelihood", None)
    if callable(own) and not generic:
        kwargs = {"num_samples": num_samples, "batch_size": batch_size, "seed": seed}
        if _accepts(own, "chunk_size"):
            kwargs["chunk_size"] = chunk_size
        return np.asarray(own(x, **kwargs), np.float64)

    for name in ("encode", "decode"):
        if not callable(getattr(model, name, None)):
            raise ValueError(f"The generic importance-sampling estimator needs model.{name}(). "
                             f"Received: {type(model).__name__}")
    lik = likelihood if likelihood is not None else getattr(model, "likelihood", None)
    if lik is None:
        raise ValueError("Pass likelihood= (the model has no .likelihood attribute).")
    lik = likelihoods_lib.get(lik)
    if proposal_scale is not None and not proposal_scale > 0:
        raise ValueError(f"proposal_scale must be > 0. Received: proposal_scale={proposal_scale}")

    def log_prob_given_z(x_rep, z):
        return lik.log_prob(x_rep, model.decode(z))

    gen = call_seed_generator(seed)
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb = ops.convert_to_tensor(x[start:start + batch_size].astype("float32"))
        lik.validate(xb)
        z_mean, z_log_var = _gaussian_proposal(model.encode(xb), proposal_scale)
        out.append(importance_sampled_log_likelihood_batch(
            xb, z_mean, z_log_var, log_prob_given_z, num_samples=num_samples,
            chunk_size=chunk_size, seed=gen, prior_log_prob=prior_log_prob))
    return np.concatenate(out)


def _gaussian_proposal(code, proposal_scale):
    """``(z_mean, z_log_var)`` of the proposal from ``model.encode``'s output."""
    if isinstance(code, (tuple, list)):
        if len(code) != 2:
            raise ValueError("encode(x) must return (z_mean, z_log_var) or one tensor z. "
                             f"Received {len(code)} outputs.")
        z_mean, z_log_var = (ops.convert_to_tensor(c) for c in code)
        if proposal_scale is not None:
            z_log_var = ops.full_like(z_mean, 2.0 * math.log(proposal_scale))
    else:
        if proposal_scale is None:
            raise ValueError("model.encode returns a single code z (a deterministic encoder); "
                             "pass proposal_scale= for the Gaussian proposal N(z, scale^2).")
        z_mean = ops.convert_to_tensor(code)
        z_log_var = ops.full_like(z_mean, 2.0 * math.log(proposal_scale))
    return z_mean, z_log_var


def importance_sampled_log_likelihood_batch(x, z_mean, z_log_var, log_prob_given_z,
                                            num_samples=100, chunk_size=None, seed=None,
                                            prior_log_prob=None):
    """Importance-sampled ``log p(x)`` of one batch under a diagonal Gaussian proposal ``q(z|x)``.

    ``logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log k`` with
    ``z_k = z_mean + exp(z_log_var / 2) * eps_k``
    (:func:`keras_genmodels.layers.sampling.reparameterize`), the numerics of
    :func:`importance_sampled_log_likelihood` and of
    ``models.VAE.log_likelihood``. The ``k`` draws are made ``chunk_size`` at
    a time (``chunk_size * batch`` decodes in memory), and the log-sum-exp of
    the float64 log-weights is accumulated over the chunks with a running
    maximum, so it is stable and ``k`` is unbounded.

    Args:
        x: ``(b, ...)`` tensor, the batch of examples.
        z_mean: ``(b, d)`` tensor, the proposal's means.
        z_log_var: ``(b, d)`` tensor, the proposal's log-variances.
        log_prob_given_z: callable ``(x_rep, z) -> (c * b,)``, ``log p(x | z)``
            for ``c`` draws of the batch, flattened sample-major: ``z`` is
            ``(c * b, d)`` and ``x_rep`` is ``x`` repeated ``c`` times,
            ``(c * b, ...)`` (row ``j * b + i`` is example ``i``).
        num_samples: int k >= 1, importance samples per example.
        chunk_size: int or None, draws per chunk; default
            ``min(k, max(1, 10000 // b))``.
        seed: a ``keras.random.SeedGenerator`` (its stream is advanced, e.g.
            over the batches of a data set), an int or None.
        prior_log_prob: callable ``z -> (c * b,)`` log-density of the prior;
            default standard normal
            (:func:`keras_genmodels.likelihoods.normal_log_prob`).

    Returns:
        NumPy ``(b,)`` float64 estimates in nats.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.likelihoods import normal_log_prob
    >>> from keras_genmodels.metrics.likelihood import importance_sampled_log_likelihood_batch
    >>> # z ~ N(0, 1), x | z ~ N(z, 1); with the exact posterior N(x / 2, 1 / 2) as the
    >>> # proposal every weight is p(x) = N(x; 0, 2), whatever the draws.
    >>> x = np.array([[0.0], [1.0]], "float32")
    >>> log_var = np.full_like(x, np.log(0.5))
    >>> ll = importance_sampled_log_likelihood_batch(
    ...     x, x / 2, log_var, lambda x_rep, z: normal_log_prob(x_rep, z), num_samples=8, seed=0)
    >>> bool(np.allclose(ll, normal_log_prob(x, 0.0, np.log(2.0)), atol=1e-5))
    True
    """
    k = check_int("num_samples", num_samples)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size)
    prior = prior_log_prob or likelihoods_lib.normal_log_prob
    if not callable(prior):
        raise ValueError(f"prior_log_prob must be callable. Received: {prior!r}")
    gen = seed if isinstance(seed, keras.random.SeedGenerator) else call_seed_generator(seed)
    x = ops.convert_to_tensor(x)
    z_mean = ops.convert_to_tensor(z_mean)
    z_log_var = ops.convert_to_tensor(z_log_var)
    b = int(z_mean.shape[0])
    chunk = chunk_size or min(k, max(1, 10000 // b))
    running_max = np.full((b,), -np.inf)
    running_sum = np.zeros((b,))
    for start in range(0, k, chunk):
        c = min(chunk, k - start)
        z = reparameterize(z_mean, z_log_var, seed=gen, num_samples=c)  # (c, b, d)
        flat_z = ops.reshape(z, (c * b,) + tuple(z.shape[2:]))
        x_rep = ops.reshape(ops.broadcast_to(x[None], (c,) + tuple(x.shape)),
                            (c * b,) + tuple(x.shape[1:]))
        log_px = ops.reshape(log_prob_given_z(x_rep, flat_z), (c, b))
        log_pz = ops.reshape(prior(flat_z), (c, b))
        log_qz = likelihoods_lib.normal_log_prob(z, z_mean, z_log_var)
        log_w = np.asarray(ops.convert_to_numpy(log_px + log_pz - log_qz), np.float64)
        # streaming log-sum-exp over chunks
        new_max = np.maximum(running_max, log_w.max(axis=0))
        safe = np.where(np.isfinite(new_max), new_max, 0.0)
        running_sum = (running_sum * np.exp(np.where(np.isfinite(running_max),
                                                     running_max - safe, -np.inf))
                       + np.exp(log_w - safe).sum(axis=0))
        running_max = new_max
    safe = np.where(np.isfinite(running_max), running_max, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(running_sum) + safe - math.log(k)
