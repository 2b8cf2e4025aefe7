"""Adversarial autoencoder (Makhzani et al., 2016)."""

import copy

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels import losses as losses_lib
from keras_genmodels._api import register
from keras_genmodels._seed_state import call_seed_generator
from keras_genmodels.layers import sampling as sampling_layer
from keras_genmodels.models import _common
from keras_genmodels.models.adversarial import AdversarialModel
from keras_genmodels.models.adversarial import check_discriminator_output
from keras_genmodels.models.adversarial import output_spec


def _normal_prior(latent_dim):
    def sample(n, seed):
        return keras.random.normal((n, latent_dim), seed=seed)

    return sample


def _mixture_prior(latent_dim, means, stddev, weights):
    means = np.asarray(means, "float32")
    if means.ndim != 2 or means.shape[1] != latent_dim:
        raise ValueError(
            f"A gaussian_mixture prior needs means of shape (num_components, latent_dim="
            f"{latent_dim}). Received: shape {means.shape}"
        )
    k = means.shape[0]
    std = np.asarray(stddev, "float32")
    if std.ndim == 0:
        std = np.full((k, latent_dim), std, "float32")
    elif std.shape == (k,):
        std = np.repeat(std[:, None], latent_dim, axis=1)
    if std.shape != (k, latent_dim) or not np.all(std > 0):
        raise ValueError(
            "A gaussian_mixture prior needs positive stddev: a number, (num_components,) or "
            f"(num_components, latent_dim). Received: {stddev!r}"
        )
    w = np.full((k,), 1.0 / k) if weights is None else np.asarray(weights, "float64")
    if w.shape != (k,) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights must be {k} non-negative numbers. Received: {weights!r}")
    cdf = np.cumsum(w / w.sum()).astype("float32")
    cdf[-1] = 2.0  # guard against rounding: every u < 1 falls in a component

    def sample(n, seed):
        u = keras.random.uniform((n,), seed=seed)
        idx = ops.sum(ops.cast(u[:, None] >= ops.convert_to_tensor(cdf)[None, :], "int32"), axis=1)
        eps = keras.random.normal((n, latent_dim), seed=seed)
        return ops.take(means, idx, axis=0) + ops.take(std, idx, axis=0) * eps

    return sample


def _resolve_prior(prior, latent_dim):
    """Return ``(spec_or_None, sampler(n, seed_generator))``."""
    if prior is None or prior == "normal":
        return {"type": "normal"}, _normal_prior(latent_dim)
    if isinstance(prior, dict):
        kind = prior.get("type")
        if kind == "normal" and set(prior) == {"type"}:
            return dict(prior), _normal_prior(latent_dim)
        if kind == "gaussian_mixture":
            extra = set(prior) - {"type", "means", "stddev", "weights"}
            if extra or "means" not in prior:
                raise ValueError(
                    "A gaussian_mixture prior spec takes 'means' (required), 'stddev' and "
                    f"'weights'. Received: {sorted(prior)}"
                )
            spec = {
                "type": "gaussian_mixture",
                "means": np.asarray(prior["means"], "float32").tolist(),
                "stddev": np.asarray(prior.get("stddev", 1.0), "float32").tolist(),
                "weights": None if prior.get("weights") is None
                else np.asarray(prior["weights"], "float64").tolist(),
            }
            return spec, _mixture_prior(latent_dim, spec["means"], spec["stddev"], spec["weights"])
        raise ValueError(
            "Unknown prior spec. Expected {'type': 'normal'} or {'type': 'gaussian_mixture', "
            f"'means': ..., 'stddev': ..., 'weights': ...}}. Received: prior={prior!r}"
        )
    if hasattr(prior, "sample") and hasattr(prior, "log_prob"):
        # A tensorflow-probability distribution: stateless seeds from our generator.
        dist = prior

        def sample(n, seed):
            return ops.cast(dist.sample(n, seed=ops.cast(seed.next(), "int32")), "float32")

        return None, sample
    if callable(prior):
        return None, prior
    raise ValueError(
        "prior must be None/'normal', a spec dict, a callable (n, seed) -> samples or a "
        f"tensorflow-probability distribution. Received: prior={prior!r}"
    )


@register
class AAE(AdversarialModel):
    """Adversarial autoencoder: an autoencoder whose codes are matched to a prior by a GAN.

    Each ``train_step`` takes three optimizer steps on one batch ``x``:

    1. reconstruction: encoder and decoder descend ``-log p(x | z)`` with
       ``z = encoder(x)`` (the likelihood's negative log-likelihood, nats per
       example);
    2. discriminator: tells prior samples ``z ~ p(z)`` (label 1) from codes
       ``q(z | x)`` (label 0, gradients stopped at the codes), with the
       minimax cross-entropy on logits;
    3. generator: the encoder descends the non-saturating loss
       ``-log D(encoder(x))`` - the adversarial replacement of the VAE's KL
       term, which pushes the aggregated posterior ``q(z)`` to ``p(z)``.

    ``fit`` shows ``reconstruction_loss``, ``d_loss`` and ``g_loss``.

    The encoder is deterministic (one output ``z``) or Gaussian (two outputs
    ``[z_mean, z_log_var]``, reparameterised ``z = mean + exp(log_var/2) eps``).

    Priors: None or ``"normal"`` (standard normal); the serializable spec
    ``{"type": "gaussian_mixture", "means": (K, latent_dim), "stddev": s,
    "weights": (K,) or None}``; any callable ``prior(n, seed) -> (n,
    latent_dim)`` where ``seed`` is a ``keras.random.SeedGenerator`` to pass
    to ``keras.random`` functions; or a tensorflow-probability distribution
    (sampled with stateless seeds drawn from the model's generator).
    Callables and TFP distributions are not Keras-serializable:
    ``get_config`` (hence ``model.save``) raises a ``ValueError`` for them;
    ``save_weights``/``load_weights`` and ``BackupAndRestore`` still work.

    Args:
        encoder: ``keras.Model``, ``x -> z`` or ``x -> [z_mean, z_log_var]``,
            each ``(batch, latent_dim)``.
        decoder: ``keras.Model``, ``z -> params`` of ``likelihood``.
        discriminator: ``keras.Model``, ``z -> (batch, 1)`` logits.
        latent_dim: int, code size; must match the networks.
        prior: see above.
        likelihood: name or ``keras_genmodels.likelihoods.Likelihood``.
        seed: int or None, seed of the model's ``SeedGenerator``.
        **kwargs: ``keras.Model`` arguments.

    Compile with ``compile(r_optimizer=..., d_optimizer=..., g_optimizer=...)``
    (reconstruction, discriminator and encoder-as-generator steps).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_genmodels.models import AAE
    >>> rng = np.random.default_rng(0)
    >>> x_train = (rng.uniform(size=(64, 6)) < 0.5).astype("float32")
    >>> x_test = x_train[:4]
    >>> def mlp(inputs, *units):
    ...     return keras.Sequential([keras.Input((inputs,))] + [
    ...         keras.layers.Dense(u, activation="relu") for u in units[:-1]]
    ...         + [keras.layers.Dense(units[-1])])
    >>> encoder, decoder, discriminator = mlp(6, 8, 2), mlp(2, 8, 6), mlp(2, 8, 1)
    >>> means = [[-2.0, 0.0], [2.0, 0.0]]   # a two-component mixture prior on the codes
    >>> aae = AAE(encoder, decoder, discriminator, latent_dim=2,
    ...           prior={"type": "gaussian_mixture", "means": means, "stddev": 0.3})
    >>> aae.compile(r_optimizer="adam", d_optimizer="adam", g_optimizer="adam")
    >>> history = aae.fit(x_train, batch_size=32, epochs=1, verbose=0)
    >>> codes = aae.encode(x_test); images = aae.sample(16, seed=0)
    >>> tuple(codes.shape), tuple(images.shape)
    ((4, 2), (16, 6))

    References:
        Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial
        Autoencoders", ICLR workshop 2016.
    """

    # compile(jit_compile="auto") on a TensorFlow CPU: the XLA step (measured
    # 1.12-1.44x the plain step in three runs; XLA updates alone 1.01x the XLA
    # step; bench/train_throughput.py, one process).
    xla_on_cpu = True

    optimizer_names = ("r_optimizer", "d_optimizer", "g_optimizer")

    def __init__(self, encoder, decoder, discriminator, latent_dim, prior=None,
                 likelihood="bernoulli", seed=None, **kwargs):
        super().__init__(**kwargs)
        for arg, net in (("encoder", encoder), ("decoder", decoder), ("discriminator", discriminator)):
            if not isinstance(net, keras.Model):
                raise ValueError(f"{arg} must be a keras.Model. Received: {arg}={type(net).__name__}")
        latent_dim = _common.check_int("latent_dim", latent_dim)
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.likelihood = likelihoods_lib.get(likelihood)
        self.prior = prior
        self.prior_spec, self._prior_sampler = _resolve_prior(prior, latent_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.gaussian_encoder = self._check_networks()
        self._trackers = _common.trackers("reconstruction_loss", "d_loss", "g_loss")
        self._init_optimizers()
        if encoder.built and decoder.built and discriminator.built:
            self.built = True

    def _check_networks(self):
        outs = getattr(self.encoder, "outputs", None)
        gaussian = bool(outs) and len(outs) == 2
        if outs is not None and len(outs) not in (1, 2):
            raise ValueError(
                f"The encoder must output z or [z_mean, z_log_var]. Received {len(outs)} outputs."
            )
        for out in outs or []:
            if out.shape[-1] != self.latent_dim:
                raise ValueError(
                    f"latent_dim={self.latent_dim} does not match the encoder's output shape "
                    f"{tuple(out.shape)}."
                )
        z = keras.KerasTensor((2, self.latent_dim), dtype="float32")
        output_spec(self.decoder, z, f"decoder does not accept codes of shape (batch, {self.latent_dim})")
        out = output_spec(self.discriminator, z,
                          f"discriminator does not accept codes of shape (batch, {self.latent_dim})")
        check_discriminator_output(out)
        return gaussian

    def optimizer_variables(self, name):
        if name == "r_optimizer":
            return self.encoder.trainable_weights + self.decoder.trainable_weights
        if name == "d_optimizer":
            return self.discriminator.trainable_weights
        return self.encoder.trainable_weights

    @property
    def metrics(self):
        return list(self._trackers.values())

    # --------------------------------------------------------------- API
    def _codes(self, x, training=False, sample=True):
        out = self.encoder(x, training=training)
        if not self.gaussian_encoder:
            return out[0] if isinstance(out, (list, tuple)) else out
        z_mean, z_log_var = out
        if not sample:
            return z_mean
        return sampling_layer.reparameterize(z_mean, z_log_var, seed=self.seed_generator)

    def encode(self, x, training=False):
        """Codes of ``x``: the encoder's output (its mean for a Gaussian encoder)."""
        return self._codes(self._prepare(x), training=training, sample=False)

    def decode(self, z, training=False):
        """The likelihood's parameters ``p(x | z)`` for codes ``z``."""
        return self.decoder(z, training=training)

    def call(self, inputs, training=False):
        """Likelihood parameters of the reconstruction of ``inputs``."""
        return self.decode(self._codes(inputs, training=training, sample=training), training=training)

    def prior_sample(self, n, seed=None):
        """``n`` draws from the prior (``seed`` int for reproducibility)."""
        gen = call_seed_generator(seed) if seed is not None else self.seed_generator
        return _common.as_float32(self._prior_sampler(n, gen))

    def sample(self, n, seed=None, mode="mean"):
        """Decode ``n`` prior draws: ``mode`` ``"mean"``, ``"sample"`` or ``"params"``.

        Returns a tensor that does not track gradients (on torch: detached, so
        ``np.asarray`` works as on the other backends).
        """
        _common.check_int("n", n)
        if mode not in ("mean", "sample", "params"):
            raise ValueError(f"mode must be 'mean', 'sample' or 'params'. Received: mode={mode!r}")
        gen = call_seed_generator(seed) if seed is not None else self.seed_generator
        params = ops.stop_gradient(self.decode(_common.as_float32(self._prior_sampler(n, gen))))
        if mode == "params":
            return params
        if mode == "mean":
            return self.likelihood.mean(params)
        return self.likelihood.sample(params, seed=gen)

    # ------------------------------------------------------------ losses
    def _prepare(self, x):
        x = _common.as_float32(x)
        x = _common.check_example_shape(self, x, _common.network_input_shape(self.encoder))
        self.likelihood.validate(x)
        return x

    def _unpack(self, data):
        x, y, sample_weight = _common.unpack(data)
        if y is not None or sample_weight is not None:
            raise ValueError("AAE is unsupervised: pass x only (no targets or sample weights).")
        return self._prepare(x)

    def _net_losses(self, *nets):
        terms = [ops.cast(l, "float32") for net in nets for l in net.losses]
        return ops.sum(ops.stack(terms)) if terms else 0.0

    def reconstruction_loss(self, x, training=False):
        params = self.decode(self._codes(x, training=training), training=training)
        return ops.mean(-self.likelihood.log_prob(x, params))

    def discriminator_loss(self, prior_codes, codes, training=False):
        real = self.discriminator(prior_codes, training=training)
        fake = self.discriminator(codes, training=training)
        return losses_lib.minimax_discriminator_loss(real, fake) + self._net_losses(self.discriminator)

    def generator_loss(self, x, training=False):
        logits = self.discriminator(self._codes(x, training=training), training=training)
        return losses_lib.non_saturating_generator_loss(logits)

    def compute_losses(self, x, training=False):
        """``reconstruction_loss``, ``d_loss`` and ``g_loss`` on one batch, as a dict."""
        batch = ops.shape(x)[0]
        codes = ops.stop_gradient(self._codes(x, training=training))
        return {
            "reconstruction_loss": self.reconstruction_loss(x, training=training),
            "d_loss": self.discriminator_loss(self.prior_sample_tensor(batch), codes, training),
            "g_loss": self.generator_loss(x, training=training),
        }

    def prior_sample_tensor(self, n):
        return _common.as_float32(self._prior_sampler(n, self.seed_generator))

    def _prepare_data(self, data):
        return (self._unpack(data),)

    @_backend.keras_step("train")
    def _stateful_train_step(self, data):
        (x,) = data
        batch = ops.shape(x)[0]

        def r_fn():
            loss = self.reconstruction_loss(x, training=True)
            return loss + self._net_losses(self.encoder, self.decoder), {"reconstruction_loss": loss}

        _, values = self.minimize(self.r_optimizer, r_fn, self.optimizer_variables("r_optimizer"))
        codes = ops.stop_gradient(self._codes(x, training=True))
        prior_codes = self.prior_sample_tensor(batch)

        def d_fn():
            loss = self.discriminator_loss(prior_codes, codes, training=True)
            return loss, {"d_loss": loss}

        _, d_values = self.minimize(self.d_optimizer, d_fn, self.discriminator.trainable_weights)

        def g_fn():
            loss = self.generator_loss(x, training=True)
            return loss, {"g_loss": loss}

        _, g_values = self.minimize(self.g_optimizer, g_fn, self.encoder.trainable_weights)
        values.update(d_values)
        values.update(g_values)
        return _common.update(self._trackers, values)

    @_backend.keras_step("test")
    def _stateful_test_step(self, data):
        (x,) = data
        return _common.update(self._trackers, self.compute_losses(x, training=False))

    # ------------------------------------------------------------ config
    def get_config(self):
        if self.prior_spec is None:
            raise ValueError(
                f"AAE cannot serialize prior={self.prior!r} (a callable or a "
                "tensorflow-probability distribution). Use a spec ({'type': 'normal'} or "
                "{'type': 'gaussian_mixture', 'means': ..., 'stddev': ..., 'weights': ...}) "
                "to save with model.save, or save the weights with model.save_weights and "
                "rebuild the model with the same prior."
            )
        config = super().get_config()
        config.update({
            "encoder": _common.serialize(self.encoder),
            "decoder": _common.serialize(self.decoder),
            "discriminator": _common.serialize(self.discriminator),
            "latent_dim": self.latent_dim,
            "prior": self.prior_spec,
            "likelihood": likelihoods_lib.serialize(self.likelihood),
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserialization consumes nested configs
        for key in ("encoder", "decoder", "discriminator"):
            config[key] = _common.deserialize(config[key])
        config["likelihood"] = likelihoods_lib.get(config["likelihood"])
        return cls(**config)
