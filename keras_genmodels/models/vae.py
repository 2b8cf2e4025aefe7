"""Variational autoencoder (Kingma & Welling, 2014): conditional, IWAE objective, IS likelihood."""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import likelihoods as likelihoods_lib
from keras_genmodels._api import register
from keras_genmodels._seed_state import SavesSeedState, call_seed_generator
from keras_genmodels.layers import sampling as sampling_layer
from keras_genmodels.layers.kl import standard_normal_kl
from keras_genmodels.metrics import likelihood as likelihood_metrics
from keras_genmodels.models import _common
from keras_genmodels.models._trainer import SingleLossModel
from keras_genmodels.presets import PresetMixin


@register
class VAE(PresetMixin, SavesSeedState, SingleLossModel, keras.Model):
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

    **IWAE objective** (``num_samples=k > 1``): training minimises the
    importance-weighted bound of Burda et al. (2016) instead,
    ``L_k(x) = log (1/k) sum_i w_i``, ``log w_i = log p(x|z_i) + beta *
    (log p(z_i) - log q(z_i|x))``, ``z_i ~ q(z|x)`` (a log-mean-exp over ``k``
    reparameterised draws; ``L_1`` is the ELBO, ``L_k`` tightens with ``k``).
    ``loss`` is ``-L_k``; ``reconstruction_loss`` (averaged over the ``k``
    draws) and the closed-form ``kl_loss`` are still reported, so
    ``reconstruction_loss + kl_loss`` is the ELBO's negative and
    ``loss <= reconstruction_loss + beta * kl_loss`` on average.

    **Conditional VAE** (``num_classes=K``): the data yields ``(x, labels)``;
    the labels (integers ``0..K-1`` of shape ``(batch,)``, or one-hot /
    soft labels ``(batch, K)``) are turned into one-hot vectors ``y`` and
    passed to both networks: the encoder takes ``[x, y]`` and the decoder
    ``[z, y]`` (``q(z | x, y)``, ``p(x | z, y)``, prior ``N(0, I)``;
    Sohn et al., 2015). A learned label embedding is a ``Dense`` layer on
    ``y`` inside the user's networks. ``models.mlp_vae_networks(...,
    num_classes=K)`` builds such networks. ``sample(n, labels=...)``,
    ``log_likelihood(x, labels=...)``, ``reconstruct(x, labels=...)``,
    ``encode(x, labels=...)`` and ``decode(z, labels=...)`` take the labels.

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
        num_classes: int K >= 1 or None. With K, a conditional VAE whose
            encoder takes ``[x, y_onehot]`` and decoder ``[z, y_onehot]``.
        num_samples: int k >= 1, importance samples of the training
            objective: 1 trains on the ELBO, k > 1 on the IWAE bound.
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: for invalid constructor arguments (also: networks whose
            number of inputs does not match ``num_classes``); when a
            conditional model gets no labels or labels outside
            ``0..num_classes-1``; from ``fit``,
            ``evaluate``, ``log_likelihood`` and ``reconstruct`` when the data
            is outside the likelihood's support (e.g. non-binary data for
            ``"bernoulli"``) or contains NaN / infinite values. A failed batch
            does not update the weights.

    ``fit(x, sample_weight=w)`` weights the examples (Keras alone would drop
    ``sample_weight`` when no ``y`` is given; the VAE ignores ``y``). The
    ``.keras`` file also stores the model's random-generator state, so a
    reloaded model continues training exactly as the original would.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.models import VAE, mlp_vae_networks
    >>> rng = np.random.default_rng(0)
    >>> x_train = (rng.uniform(size=(64, 28, 28, 1)) < 0.5).astype("float32")  # binary images
    >>> y_train = rng.integers(0, 10, size=(64,))                             # their digits
    >>> x_valid = x_train[:8]
    >>> encoder, decoder = mlp_vae_networks((28, 28, 1), latent_dim=16)
    >>> vae = VAE(encoder, decoder, likelihood="bernoulli")
    >>> vae.compile(optimizer="adam")
    >>> history = vae.fit(x_train, epochs=1, batch_size=32, verbose=0)
    >>> sorted(history.history)
    ['kl_loss', 'loss', 'reconstruction_loss']
    >>> vae.log_likelihood(x_valid, num_samples=100).shape   # (n,) nats
    (8,)
    >>> images = vae.sample(16, seed=0)
    >>> tuple(images.shape)
    (16, 28, 28, 1)
    >>> # IWAE objective with 5 samples, class-conditional on 10 digits:
    >>> enc, dec = mlp_vae_networks((28, 28, 1), 16, num_classes=10)
    >>> cvae = VAE(enc, dec, num_classes=10, num_samples=5)
    >>> cvae.compile(optimizer="adam")
    >>> history = cvae.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)
    >>> sevens = cvae.sample(16, labels=7, seed=0)
    >>> tuple(sevens.shape)
    (16, 28, 28, 1)

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
        Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders",
        ICLR 2016.
        Sohn, Lee & Yan, "Learning Structured Output Representation using
        Deep Conditional Generative Models", NeurIPS 2015.
    """

    # compile(jit_compile="auto") on a TensorFlow CPU: XLA-compiled optimizer
    # updates in the plain step (VAE: 1.13-1.19x the plain step in three runs,
    # IWAE k = 50 1.04x; the whole-step XLA 0.83-1.00x and 0.64-0.79x;
    # bench/train_throughput.py, one process).
    xla_on_cpu = "update"

    @property
    def _ignores_y(self):
        # An unconditional VAE does not use ``y``, so ``fit(x, sample_weight=w)``
        # passes x as y (see ``_common.DataErrorsAsValueError``) instead of Keras
        # dropping ``w``; a conditional one needs ``y`` (the labels).
        return self.num_classes is None

    def __init__(self, encoder, decoder, likelihood="bernoulli", beta=1.0, seed=None,
                 num_classes=None, num_samples=1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model) or not isinstance(decoder, keras.Model):
            raise ValueError(
                "VAE needs keras.Model instances for encoder and decoder. Received: "
                f"encoder={type(encoder).__name__}, decoder={type(decoder).__name__}"
            )
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0. Received: beta={beta}")
        if num_classes is not None:
            _common.check_int("num_classes", num_classes)
        _common.check_int("num_samples", num_samples)
        self.num_classes = num_classes
        self.num_samples = num_samples
        self._check_network_inputs(encoder, "encoder", "x")
        self._check_network_inputs(decoder, "decoder", "z")
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
        self._trackers = _common.trackers("reconstruction_loss", "kl_loss")
        self.latent_dim = self._infer_latent_dim()
        # The sub-networks are built, so the model is: this lets Keras build the
        # optimizer's slots when a saved model is re-compiled, and restore them.
        if encoder.built and decoder.built:
            self.built = True

    def _check_network_inputs(self, net, name, first):
        inputs = getattr(net, "inputs", None)
        if not inputs:
            return  # a subclassed network: checked when called
        if self.num_classes is None:
            if len(inputs) != 1:
                raise ValueError(
                    f"The {name} takes {len(inputs)} inputs; an unconditional VAE needs one "
                    f"({first}). For a conditional VAE taking [{first}, y_onehot], pass "
                    "num_classes=K."
                )
            return
        if len(inputs) != 2:
            raise ValueError(
                f"A conditional VAE (num_classes={self.num_classes}) needs a {name} taking two "
                f"inputs [{first}, y_onehot]. Received a {name} with {len(inputs)} input(s); "
                "see models.mlp_vae_networks(..., num_classes=K)."
            )
        width = inputs[1].shape[-1]
        if len(inputs[1].shape) != 2 or width not in (None, self.num_classes):
            raise ValueError(
                f"The {name}'s label input must have shape (batch, num_classes="
                f"{self.num_classes}). Received: {tuple(inputs[1].shape)}"
            )

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
    def conditional(self):
        """True when the model conditions on class labels (``num_classes`` given)."""
        return self.num_classes is not None

    def one_hot_labels(self, labels, n=None):
        """The one-hot ``(batch, num_classes)`` label tensor fed to the networks.

        Args:
            labels: integer labels ``(batch,)`` (or ``(batch, 1)``), one-hot or
                soft labels ``(batch, num_classes)``, or (with ``n``) one int
                for all ``n`` examples. None is an error for a conditional
                model; unconditional models return None.
            n: int or None, the expected batch size (for a scalar label).

        Returns:
            A float32 tensor ``(batch, num_classes)``
            (:func:`keras_genmodels.models._common.one_hot_labels`), or None.

        Raises:
            ValueError: missing labels, labels outside ``0..num_classes-1``,
                non-integer class indices or a wrong shape.
        """
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError(
                f"This VAE is conditional (num_classes={self.num_classes}) and needs labels: "
                "fit on (x, labels) data, or pass labels= to sample / log_likelihood / "
                "reconstruct / encode / decode."
            )
        return _common.one_hot_labels(labels, self.num_classes, n=n)

    def _encoder_in(self, x, y):
        # Keras refuses a list mixing NumPy arrays and tensors.
        return x if y is None else [_common.as_float32(x), _common.as_float32(y)]

    def _decoder_in(self, z, y):
        return z if y is None else [_common.as_float32(z), _common.as_float32(y)]

    def encode(self, x, training=False, labels=None):
        """Return ``(z_mean, z_log_var)`` of ``q(z | x)`` (``q(z | x, y)`` if conditional)."""
        y = self.one_hot_labels(labels, n=x.shape[0]) if self.conditional else None
        out = self.encoder(self._encoder_in(x, y), training=training)
        if isinstance(out, (list, tuple)):
            z_mean, z_log_var = out
        else:
            z_mean, z_log_var = ops.split(out, 2, axis=-1)
        return z_mean, z_log_var

    def decode(self, z, training=False, labels=None):
        """Return the likelihood's parameters ``p(x | z)`` (``p(x | z, y)``) for codes ``z``."""
        y = self.one_hot_labels(labels, n=z.shape[0]) if self.conditional else None
        return self.decoder(self._decoder_in(z, y), training=training)

    def reparameterize(self, z_mean, z_log_var, seed=None):
        """A draw ``z_mean + exp(z_log_var / 2) * eps`` (:func:`keras_genmodels.layers.sampling.reparameterize`).

        ``seed``: None uses the model's ``SeedGenerator``.
        """
        return sampling_layer.reparameterize(
            z_mean, z_log_var, seed=self.seed_generator if seed is None else seed)

    def call(self, inputs, training=False):
        """The ELBO's ingredients at ``num_samples`` posterior draws (what ``compute_loss`` judges).

        Args:
            inputs: ``x``, or ``[x, labels]`` for a conditional model.
            training: bool, passed to the encoder and decoder.

        Returns:
            A dict: ``z_mean``, ``z_log_var`` (``(batch, latent_dim)``),
            ``z`` (a draw from ``q(z | x)``: ``(batch, latent_dim)``, or
            ``(k, batch, latent_dim)`` with ``num_samples=k > 1``) and
            ``params``, the decoder's likelihood parameters at ``z`` (for the
            ``k * batch`` draws, sample-major, when ``k > 1``). Use
            ``reconstruct`` / ``encode`` / ``decode`` for deterministic outputs.
        """
        x, labels = self._split_inputs(inputs)
        y = self.one_hot_labels(labels) if self.conditional else None
        z_mean, z_log_var = self.encoder_stats(x, y, training)
        k = self.num_samples
        if k == 1:
            z = self.reparameterize(z_mean, z_log_var)
            flat_z, y_rep = z, y
        else:
            # (k, batch, d) draws, flattened sample-major to (k * batch, d).
            z = sampling_layer.reparameterize(z_mean, z_log_var, seed=self.seed_generator,
                                              num_samples=k)
            flat_z = ops.reshape(z, (-1, z_mean.shape[-1]))
            y_rep = None if y is None else ops.tile(y, (k, 1))
        params = self.decoder(self._decoder_in(flat_z, y_rep), training=training)
        return {"params": params, "z": z, "z_mean": z_mean, "z_log_var": z_log_var}

    def _split_inputs(self, inputs):
        if not self.conditional:
            return inputs, None
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("A conditional VAE is called on [x, labels].")
        return inputs[0], inputs[1]

    def reconstruct(self, x, labels=None):
        """Expected reconstruction ``E[x | z = z_mean(x)]`` (e.g. pixel probabilities)."""
        x = self._prepare(x)
        z_mean, _ = self.encode(x, labels=labels)
        return self.likelihood.mean(self.decode(z_mean, labels=labels))

    def sample(self, n, seed=None, mode="mean", labels=None):
        """Draw ``n`` samples from the model.

        Args:
            n: int, number of samples.
            seed: int or None. The same int gives the same samples; None uses
                the model's ``SeedGenerator``.
            mode: ``"mean"`` (the likelihood mean, e.g. pixel probabilities),
                ``"sample"`` (a draw from ``p(x | z)``) or ``"params"``.
            labels: conditional models (required): the classes to generate,
                ``n`` integer labels, ``(n, num_classes)`` one-hot labels, or
                one int for all ``n`` samples.
        """
        _common.check_int("n", n)
        if mode not in ("mean", "sample", "params"):
            raise ValueError(f"mode must be 'mean', 'sample' or 'params'. Received: mode={mode!r}")
        if self.latent_dim is None:
            raise ValueError("Cannot infer latent_dim from the encoder to sample.")
        y = self.one_hot_labels(labels, n=n) if self.conditional else None
        gen = call_seed_generator(seed) if seed is not None else self.seed_generator
        z = keras.random.normal((n, self.latent_dim), seed=gen)
        params = ops.stop_gradient(self.decoder(self._decoder_in(z, y), training=False))
        if mode == "params":
            return params
        if mode == "mean":
            return self.likelihood.mean(params)
        return self.likelihood.sample(params, seed=gen)

    # --------------------------------------------------------------- losses
    def _prepare(self, x):
        x = _common.as_float32(x)
        x = _common.check_example_shape(self, x, _common.network_input_shape(self.encoder))
        self.likelihood.validate(x)
        return x

    def _inputs(self, x, labels):
        return [x, self.one_hot_labels(labels)] if self.conditional else x

    def per_example_terms(self, x, training=False, labels=None):
        """Per-example ``(reconstruction_nll, kl)`` for one posterior sample."""
        out = self(self._inputs(x, labels), training=training)
        if self.num_samples > 1:
            return tuple(self._iwae_terms(x, out)[1:])
        return -self.likelihood.log_prob(x, out["params"]), self._kl(out)

    def encoder_stats(self, x, y, training=False):
        """``(z_mean, z_log_var)`` from already one-hot labels ``y`` (or None)."""
        out = self.encoder(self._encoder_in(x, y), training=training)
        if not isinstance(out, (list, tuple)):
            out = ops.split(out, 2, axis=-1)
        # float32 under mixed precision: the KL, the draws z and the IWAE
        # weights are computed in float32 (the decoder casts z back down).
        return _common.as_float32(out[0]), _common.as_float32(out[1])

    def iwae_terms(self, x, training=False, labels=None):
        """Per-example ``(iwae_bound, reconstruction_nll, kl)`` with ``num_samples`` draws.

        ``iwae_bound = logsumexp_i(log w_i) - log k`` with ``log w_i = log
        p(x|z_i) + beta * (log p(z_i) - log q(z_i|x))``; the reconstruction
        NLL is averaged over the ``k`` draws and ``kl`` is the closed form.
        """
        return self._iwae_terms(x, self(self._inputs(x, labels), training=training))

    @staticmethod
    def _kl(out):
        return standard_normal_kl(out["z_mean"], out["z_log_var"])

    def _iwae_terms(self, x, out):
        z, z_mean, z_log_var = out["z"], out["z_mean"], out["z_log_var"]
        if len(z.shape) == 2:  # one draw (num_samples=1): the bound is the ELBO
            z = z[None]
        k = z.shape[0]
        x_rep = ops.tile(x, (k,) + (1,) * (len(x.shape) - 1))
        log_px = ops.reshape(self.likelihood.log_prob(x_rep, out["params"]), (k, -1))
        log_pz = likelihoods_lib.normal_log_prob(z)
        log_qz = likelihoods_lib.normal_log_prob(z, z_mean[None], z_log_var[None])
        log_w = log_px + ops.cast(self.beta, log_px.dtype) * (log_pz - log_qz)
        bound = ops.logsumexp(log_w, axis=0) - math.log(k)
        return bound, -ops.mean(log_px, axis=0), self._kl(out)

    def prepare_batch(self, x, y):
        """Validated ``x``; ``[x, one-hot labels]`` for a conditional model."""
        x = self._prepare(x)
        return (self._inputs(x, y) if self.conditional else x), y

    def loss_terms(self, inputs, y_pred, sample_weight=None, training=False):
        """``loss`` (``-ELBO``, or ``-IWAE bound`` with ``num_samples > 1``), ``reconstruction_loss``, ``kl_loss``.

        Batch means (weighted by ``sample_weight``) of the per-example terms
        of the model's outputs ``y_pred = call(inputs)``.
        """
        x, _ = self._split_inputs(inputs)
        if self.num_samples == 1:
            recon = _common.weighted_mean(-self.likelihood.log_prob(x, y_pred["params"]),
                                          sample_weight)
            kl = _common.weighted_mean(self._kl(y_pred), sample_weight)
            loss = recon + ops.cast(self.beta, kl.dtype) * kl
        else:
            bound, recon, kl = self._iwae_terms(x, y_pred)
            loss = -_common.weighted_mean(bound, sample_weight)
            recon = _common.weighted_mean(recon, sample_weight)
            kl = _common.weighted_mean(kl, sample_weight)
        return {"loss": loss, "reconstruction_loss": recon, "kl_loss": kl}

    def compute_losses(self, x, sample_weight=None, training=False, labels=None):
        """Batch losses as a dict: ``loss``, ``reconstruction_loss``, ``kl_loss``.

        ``loss`` is ``-ELBO`` (``num_samples=1``) or ``-IWAE bound``, averaged
        over the batch (weighted by ``sample_weight``), plus the networks' own
        losses. ``labels``: the class labels of a conditional model.
        """
        inputs = self._inputs(x, labels)
        terms = self.loss_terms(inputs, self(inputs, training=training), sample_weight,
                                training=training)
        terms["loss"] = self._with_added_losses(terms["loss"])
        return terms

    # ------------------------------------------------------------ likelihood
    def log_likelihood(self, x, num_samples=100, batch_size=100, chunk_size=None, seed=None,
                       labels=None):
        """Importance-sampled estimate of ``log p(x)`` per example, in nats.

        ``log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log k``
        with ``z_k ~ q(z|x)``. Its expectation is a lower bound on ``log p(x)``
        that tightens with ``k``; ``num_samples=1`` gives the ELBO. The
        numerics are those of
        :func:`keras_genmodels.metrics.likelihood.importance_sampled_log_likelihood_batch`
        (chunked draws, a float64 streaming log-sum-exp).

        Args:
            x: array of examples.
            num_samples: int k, importance samples per example.
            batch_size: examples per batch.
            chunk_size: importance samples decoded at once (memory bound);
                default ``min(k, max(1, 10000 // b))`` for a batch of ``b``
                examples.
            seed: int or None (None: the model's ``SeedGenerator``).
            labels: conditional models (required): the labels of ``x``
                (``log p(x | y)`` is estimated).

        Returns:
            NumPy float64 array ``(n,)`` of log-likelihood estimates in nats.
        """
        _common.check_int("num_samples", num_samples)
        _common.check_int("batch_size", batch_size)
        x = np.asarray(x)
        if self.conditional:
            y_all = ops.convert_to_numpy(self.one_hot_labels(
                labels if not isinstance(labels, (int, np.integer)) else
                np.full((len(x),), labels, "int32"), n=len(x)))
        gen = call_seed_generator(seed) if seed is not None else self.seed_generator
        out = []
        for start in range(0, len(x), batch_size):
            xb = self._prepare(x[start:start + batch_size])
            yb = y_all[start:start + batch_size] if self.conditional else None
            z_mean, z_log_var = self.encoder_stats(xb, yb)
            out.append(likelihood_metrics.importance_sampled_log_likelihood_batch(
                xb, z_mean, z_log_var, functools.partial(self._decoded_log_prob, y=yb),
                num_samples=num_samples, chunk_size=chunk_size, seed=gen))
        return np.concatenate(out)

    def _decoded_log_prob(self, x_rep, z, y=None):
        """``log p(x | z)`` of draws ``z`` flattened sample-major; ``y``: one batch's one-hot labels."""
        y_rep = None if y is None else ops.tile(ops.convert_to_tensor(y),
                                                (z.shape[0] // y.shape[0], 1))
        params = self.decoder(self._decoder_in(z, y_rep), training=False)
        return self.likelihood.log_prob(x_rep, params)

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "encoder": _common.serialize(self.encoder),
            "decoder": _common.serialize(self.decoder),
            "likelihood": likelihoods_lib.serialize(self.likelihood),
            "beta": self.initial_beta,
            "seed": self.seed,
            "num_classes": self.num_classes,
            "num_samples": self.num_samples,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = _common.deserialize(config[key])
        config["likelihood"] = likelihoods_lib.get(config["likelihood"])
        return cls(**config)
