"""Variational autoencoder (Kingma & Welling, 2014) with an importance-sampled likelihood."""

import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels._api import register
from keras_genmodels.layers.kl import standard_normal_kl
from keras_genmodels.models import _common

LOG_2PI = math.log(2.0 * math.pi)


def _normal_log_prob(z, mean, log_var):
    """log N(z; mean, diag exp(log_var)) summed over the last axis."""
    return -0.5 * ops.sum(
        LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1
    )


@register
class VAE(_common.DataErrorsAsValueError, keras.Model):
    """Variational autoencoder trained on the evidence lower bound.

    ``ELBO(x) = E_q(z|x)[log p(x|z)] - beta * KL(q(z|x) || N(0, I))`` with a
    diagonal Gaussian ``q(z|x) = N(z_mean, exp(z_log_var))`` from the encoder,
    ``z = z_mean + exp(z_log_var / 2) * eps`` (the reparameterisation trick),
    the closed-form Gaussian KL, and the decoder's output read as the
    parameters of ``likelihood``. The loss minimised is ``-ELBO`` averaged
    over the batch (nats per example), plus any losses the sub-networks add.

    ``fit``/``evaluate`` show ``loss``, ``reconstruction_loss`` (``-E_q log
    p(x|z)``) and ``kl_loss``. ``log_likelihood(x, num_samples=k)`` returns the
    importance-weighted estimate of ``log p(x)`` (Burda et al., 2016); k=1 is
    a one-sample ELBO and the estimate tightens as k grows.

    Args:
        encoder: ``keras.Model`` mapping ``x`` to ``[z_mean, z_log_var]`` (two
            outputs of shape ``(batch, latent_dim)``), or to one tensor of
            ``2 * latent_dim`` units holding both.
        decoder: ``keras.Model`` mapping ``z`` to the likelihood's parameters
            (e.g. logits of the shape of ``x`` for ``"bernoulli"``).
        likelihood: name (``"bernoulli"``, ``"gaussian"``) or a
            ``keras_genmodels.likelihoods.Likelihood``.
        beta: float >= 0, KL weight (beta-VAE). Held in a non-trainable
            variable ``model.beta`` that ``callbacks.KLWarmup`` anneals.
        seed: int or None, seed of the model's ``SeedGenerator``.
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: for invalid constructor arguments; from ``fit``,
            ``evaluate``, ``log_likelihood`` and ``reconstruct`` when the data
            is outside the likelihood's support (e.g. non-binary data for
            ``"bernoulli"``) or contains NaN / infinite values. A failed batch
            does not update the weights.

    ``fit(x, sample_weight=w)`` weights the examples (Keras alone would drop
    ``sample_weight`` when no ``y`` is given; the VAE ignores ``y``). The
    ``.keras`` file also stores the model's random-generator state, so a
    reloaded model continues training exactly as the original would.

    Example:

    >>> encoder, decoder = models.mlp_vae_networks((28, 28, 1), latent_dim=16)
    >>> vae = models.VAE(encoder, decoder, likelihood="bernoulli")
    >>> vae.compile(optimizer="adam")
    >>> vae.fit(x_train, epochs=10, batch_size=100)
    >>> vae.log_likelihood(x_valid, num_samples=100)   # (n,) nats
    >>> images = vae.sample(16, seed=0)

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
        Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders",
        ICLR 2016.
    """

    # ``y`` is unused, so ``fit(x, sample_weight=w)`` passes x as y (see
    # ``_common.DataErrorsAsValueError``) instead of Keras dropping ``w``.
    _ignores_y = True

    def __init__(self, encoder, decoder, likelihood="bernoulli", beta=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model) or not isinstance(decoder, keras.Model):
            raise ValueError(
                "VAE needs keras.Model instances for encoder and decoder. Received: "
                f"encoder={type(encoder).__name__}, decoder={type(decoder).__name__}"
            )
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0. Received: beta={beta}")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihoods_lib.get(likelihood)
        self.initial_beta = float(beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.beta = self.add_weight(
            name="beta", shape=(), initializer=keras.initializers.Constant(beta),
            trainable=False, dtype="float32",
        )
        self._trackers = _common.trackers("loss", "reconstruction_loss", "kl_loss")
        self.latent_dim = self._infer_latent_dim()
        # The sub-networks are built, so the model is: this lets Keras build the
        # optimizer's slots when a saved model is re-compiled, and restore them.
        if encoder.built and decoder.built:
            self.built = True

    def _infer_latent_dim(self):
        try:
            outs = self.encoder.outputs
        except (AttributeError, ValueError):
            return None
        if outs is None:
            return None
        if len(outs) == 2:
            if tuple(outs[0].shape) != tuple(outs[1].shape):
                raise ValueError(
                    "The encoder's two outputs (z_mean, z_log_var) must have the same "
                    f"shape. Received: {tuple(outs[0].shape)} and {tuple(outs[1].shape)}"
                )
            return outs[0].shape[-1]
        if len(outs) == 1 and outs[0].shape[-1] is not None:
            if outs[0].shape[-1] % 2:
                raise ValueError(
                    "A single-output encoder must output 2 * latent_dim units "
                    f"[z_mean, z_log_var]. Received: {tuple(outs[0].shape)}"
                )
            return outs[0].shape[-1] // 2
        raise ValueError(
            "The encoder must output [z_mean, z_log_var]. Received "
            f"{len(outs)} outputs."
        )

    # ------------------------------------------------------------------ API
    @property
    def metrics(self):
        return list(self._trackers.values())

    def encode(self, x, training=False):
        """Return ``(z_mean, z_log_var)`` of ``q(z | x)``."""
        out = self.encoder(x, training=training)
        if isinstance(out, (list, tuple)):
            z_mean, z_log_var = out
        else:
            z_mean, z_log_var = ops.split(out, 2, axis=-1)
        return z_mean, z_log_var

    def decode(self, z, training=False):
        """Return the likelihood's parameters ``p(x | z)`` for latent codes ``z``."""
        return self.decoder(z, training=training)

    def reparameterize(self, z_mean, z_log_var, seed=None):
        eps = keras.random.normal(
            ops.shape(z_mean), dtype=z_mean.dtype,
            seed=self.seed_generator if seed is None else seed,
        )
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def call(self, inputs, training=False):
        """Parameters of ``p(x | z)`` at a posterior draw (training) or at ``z_mean``."""
        z_mean, z_log_var = self.encode(inputs, training=training)
        z = self.reparameterize(z_mean, z_log_var) if training else z_mean
        return self.decode(z, training=training)

    def reconstruct(self, x):
        """Expected reconstruction ``E[x | z = z_mean(x)]`` (e.g. pixel probabilities)."""
        x = self._prepare(x)
        return self.likelihood.mean(self(x, training=False))

    def sample(self, n, seed=None, mode="mean"):
        """Draw ``n`` samples from the model.

        Args:
            n: int, number of samples.
            seed: int or None. The same int gives the same samples; None uses
                the model's ``SeedGenerator``.
            mode: ``"mean"`` (the likelihood mean, e.g. pixel probabilities),
                ``"sample"`` (a draw from ``p(x | z)``) or ``"params"``.
        """
        _common.check_int("n", n)
        if mode not in ("mean", "sample", "params"):
            raise ValueError(f"mode must be 'mean', 'sample' or 'params'. Received: mode={mode!r}")
        if self.latent_dim is None:
            raise ValueError("Cannot infer latent_dim from the encoder to sample.")
        gen = keras.random.SeedGenerator(seed) if seed is not None else self.seed_generator
        z = keras.random.normal((n, self.latent_dim), seed=gen)
        params = self.decode(z)
        if mode == "params":
            return params
        if mode == "mean":
            return self.likelihood.mean(params)
        return self.likelihood.sample(params, seed=gen)

    # --------------------------------------------------------------- losses
    def _prepare(self, x):
        x = _common.as_float32(x)
        self.likelihood.validate(x)
        return x

    def per_example_terms(self, x, training=False):
        """Per-example ``(reconstruction_nll, kl)`` for one posterior sample."""
        z_mean, z_log_var = self.encode(x, training=training)
        z = self.reparameterize(z_mean, z_log_var)
        params = self.decode(z, training=training)
        recon = -self.likelihood.log_prob(x, params)
        kl = standard_normal_kl(z_mean, z_log_var)
        return recon, kl

    def compute_losses(self, x, sample_weight=None, training=False):
        """Batch losses as a dict: ``loss``, ``reconstruction_loss``, ``kl_loss``."""
        recon, kl = self.per_example_terms(x, training=training)
        recon = _common.weighted_mean(recon, sample_weight)
        kl = _common.weighted_mean(kl, sample_weight)
        loss = recon + ops.cast(self.beta, kl.dtype) * kl
        if self.losses:
            loss = loss + ops.sum(ops.stack([ops.cast(l, loss.dtype) for l in self.losses]))
        return {"loss": loss, "reconstruction_loss": recon, "kl_loss": kl}

    def train_step(self, data):
        x, _, sample_weight = _common.unpack(data)
        x = self._prepare(x)

        def loss_fn():
            values = self.compute_losses(x, sample_weight, training=True)
            return values["loss"], values

        _, values = _backend.minimize(self.optimizer, loss_fn, self.trainable_weights)
        return _common.update(self._trackers, values)

    def test_step(self, data):
        x, _, sample_weight = _common.unpack(data)
        x = self._prepare(x)
        values = self.compute_losses(x, sample_weight, training=False)
        return _common.update(self._trackers, values)

    # ------------------------------------------------------------ likelihood
    def log_likelihood(self, x, num_samples=100, batch_size=100, chunk_size=None, seed=None):
        """Importance-sampled estimate of ``log p(x)`` per example, in nats.

        ``log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log k``
        with ``z_k ~ q(z|x)``. Its expectation is a lower bound on ``log p(x)``
        that tightens with ``k``; ``num_samples=1`` gives the ELBO.

        Args:
            x: array of examples.
            num_samples: int k, importance samples per example.
            batch_size: examples per batch.
            chunk_size: importance samples decoded at once (memory bound);
                default ``min(k, max(1, 10000 // batch_size))``.
            seed: int or None.

        Returns:
            NumPy array ``(n,)`` of log-likelihood estimates in nats.
        """
        _common.check_int("num_samples", num_samples)
        _common.check_int("batch_size", batch_size)
        x = np.asarray(x)
        chunk = chunk_size or min(num_samples, max(1, 10000 // batch_size))
        gen = keras.random.SeedGenerator(seed) if seed is not None else self.seed_generator
        out = []
        for start in range(0, len(x), batch_size):
            xb = self._prepare(x[start:start + batch_size])
            out.append(self._log_likelihood_batch(xb, num_samples, chunk, gen))
        return np.concatenate(out)

    def _log_likelihood_batch(self, x, k, chunk, gen):
        z_mean, z_log_var = self.encode(x)
        b = ops.shape(z_mean)[0]
        log_w = []
        for start in range(0, k, chunk):
            c = min(chunk, k - start)
            # (c, b, d) draws, flattened to (c * b, d) for the decoder.
            mean = ops.broadcast_to(z_mean[None], (c,) + tuple(z_mean.shape))
            log_var = ops.broadcast_to(z_log_var[None], (c,) + tuple(z_log_var.shape))
            eps = keras.random.normal(ops.shape(mean), seed=gen)
            z = mean + ops.exp(0.5 * log_var) * eps
            flat_z = ops.reshape(z, (c * b, -1))
            params = self.decode(flat_z)
            x_rep = ops.reshape(
                ops.broadcast_to(x[None], (c,) + tuple(x.shape)), (c * b,) + tuple(x.shape[1:])
            )
            log_px = ops.reshape(self.likelihood.log_prob(x_rep, params), (c, b))
            log_pz = _normal_log_prob(z, 0.0, ops.zeros_like(z))
            log_qz = _normal_log_prob(z, mean, log_var)
            log_w.append(log_px + log_pz - log_qz)
        log_w = ops.concatenate(log_w, axis=0)
        est = ops.logsumexp(log_w, axis=0) - math.log(k)
        return ops.convert_to_numpy(est)

    # --------------------------------------------------------------- config
    def save_own_variables(self, store):
        super().save_own_variables(store)
        _common.save_seed_state(self.seed_generator, store)

    def load_own_variables(self, store):
        store = _common.load_seed_state(self.seed_generator, store)
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update({
            "encoder": _common.serialize(self.encoder),
            "decoder": _common.serialize(self.decoder),
            "likelihood": likelihoods_lib.serialize(self.likelihood),
            "beta": self.initial_beta,
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = _common.deserialize(config[key])
        config["likelihood"] = likelihoods_lib.get(config["likelihood"])
        return cls(**config)
