"""Generative adversarial network (Goodfellow et al., 2014) trained with ``model.fit``."""

import copy

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels import losses as losses_lib
from keras_genmodels._api import register
from keras_genmodels._seed_state import call_seed_generator
from keras_genmodels.models import _common
from keras_genmodels.models.adversarial import AdversarialModel
from keras_genmodels.models.adversarial import check_discriminator_output
from keras_genmodels.models.adversarial import output_spec


def _input_count(model):
    inputs = getattr(model, "inputs", None)
    return len(inputs) if inputs else 1


def _spec_like(tensor, batch=2):
    return keras.KerasTensor((batch,) + tuple(tensor.shape[1:]), dtype=tensor.dtype)


@register
class GAN(AdversarialModel):
    """Generative adversarial network trained with ``fit``.

    Each ``train_step`` takes ``d_steps`` discriminator steps (each with fresh
    noise ``z ~ N(0, I)`` and the same real batch), descending the
    discriminator loss of the chosen family (for ``"minimax"`` and
    ``"non_saturating"``: ascent on ``log D(x) + log(1 - D(G(z)))`` written
    as a cross-entropy on logits), then one generator step on fresh noise.
    With ``ema`` an exponential moving average of the generator's weights is
    kept in ``model.ema_generator`` and used by :meth:`sample`.

    ``fit`` shows ``d_loss`` (including penalties), ``g_loss``, ``d_real``
    and ``d_fake``: the mean of ``D(x)`` and ``D(G(z))`` as probabilities
    (``sigmoid`` of the logits) for ``"minimax"``/``"non_saturating"``, and
    the mean raw critic output for ``"wasserstein"``, ``"hinge"`` and
    ``"least_squares"``.

    Conditional GAN: when the generator has two inputs ``[z, labels]``, the
    discriminator takes ``[x, labels]`` and the data must be ``(x, labels)``.

    Saving: ``model.save`` stores the networks, the EMA copy and both
    optimizers' states; ``keras.saving.load_model(path, safe_mode=True)``
    restores them and ``fit`` continues where it stopped. Sample weights are
    not supported.

    Args:
        generator: ``keras.Model`` mapping ``z`` (or ``[z, labels]``) of
            shape ``(batch, latent_dim)`` to samples.
        discriminator: ``keras.Model`` mapping samples (or
            ``[samples, labels]``) to logits of shape ``(batch, 1)``.
        latent_dim: int, size of ``z``; must match the generator's input.
        loss: name (``"non_saturating"`` default, ``"minimax"``,
            ``"wasserstein"``, ``"hinge"``, ``"least_squares"``) or a
            ``keras_genmodels.losses.GANLoss``.
        d_steps: int >= 1, discriminator steps per generator step.
        gradient_penalty_weight: float >= 0 or None, weight of the WGAN-GP
            penalty; None means 10.0 for ``"wasserstein"`` and 0 otherwise.
        r1_gamma: float >= 0, R1 penalty ``gamma / 2 * E||grad D(x)||^2``.
        ema: None or float in (0, 1), decay of the generator's weight
            average (e.g. 0.999).
        num_classes: int or None; for conditional models, lets ``sample``
            cycle through the classes when no labels are given.
        seed: int or None, seed of the model's ``SeedGenerator``.
        **kwargs: ``keras.Model`` arguments (``name``...).

    Raises:
        ValueError: for non-model networks, a generator input that is not
            ``latent_dim`` wide, a discriminator output that is not
            ``(batch, 1)``, an unknown loss or bad numbers.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels.models import GAN, dcgan_discriminator, dcgan_generator
    >>> x_train = np.random.uniform(-1, 1, size=(16, 8, 8, 1)).astype("float32")  # in [-1, 1]
    >>> g = dcgan_generator((8, 8, 1), latent_dim=4, base_filters=4)
    >>> d = dcgan_discriminator((8, 8, 1), base_filters=4)
    >>> gan = GAN(g, d, latent_dim=4, ema=0.999, seed=0)
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> history = gan.fit(x_train, batch_size=8, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['d_fake', 'd_loss', 'd_real', 'g_loss']
    >>> images = gan.sample(4, seed=0)   # from the EMA generator
    >>> tuple(images.shape)
    (4, 8, 8, 1)

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
        Radford, Metz & Chintala, "Unsupervised Representation Learning with
        Deep Convolutional GANs" (DCGAN), ICLR 2016.
        Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014.
        Gulrajani et al., "Improved Training of Wasserstein GANs", 2017.
        Yazici et al., "The Unusual Effectiveness of Averaging in GAN
        Training", ICLR 2019 (EMA).
    """

    optimizer_names = ("d_optimizer", "g_optimizer")

    # compile(jit_compile="auto") on a TensorFlow CPU (bench/train_throughput.py,
    # one process), DCGAN: with oneDNN XLA-compiled optimizer updates in the
    # plain step (1.04-1.19x the plain step in three runs, the whole-step XLA
    # 0.78-0.88x); with Eigen's kernels (TensorFlow's default on AVX2 CPUs) the
    # XLA step (1.09x, 1.18x and 1.13x the XLA updates in three runs).
    xla_on_cpu = {"onednn": "update", "no_onednn": True}

    def __init__(self, generator, discriminator, latent_dim, loss="non_saturating", d_steps=1,
                 gradient_penalty_weight=None, r1_gamma=0.0, ema=None, num_classes=None, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        for arg, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, keras.Model):
                raise ValueError(f"{arg} must be a keras.Model. Received: {arg}={type(net).__name__}")
        latent_dim = _common.check_int("latent_dim", latent_dim)
        d_steps = _common.check_int("d_steps", d_steps)
        if gradient_penalty_weight is not None and not gradient_penalty_weight >= 0:
            raise ValueError(
                f"gradient_penalty_weight must be >= 0 or None. Received: "
                f"gradient_penalty_weight={gradient_penalty_weight!r}"
            )
        if not r1_gamma >= 0:
            raise ValueError(f"r1_gamma must be >= 0. Received: r1_gamma={r1_gamma!r}")
        if ema is not None and not 0.0 < ema < 1.0:
            raise ValueError(f"ema must be None or in (0, 1). Received: ema={ema!r}")
        if num_classes is not None:
            num_classes = _common.check_int("num_classes", num_classes)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.adversarial_loss = losses_lib.get(loss)
        self.d_steps = d_steps
        self.gradient_penalty_weight = gradient_penalty_weight
        self.penalty_weight = float(
            gradient_penalty_weight if gradient_penalty_weight is not None
            else (10.0 if getattr(self.adversarial_loss, "name", None) == "wasserstein" else 0.0)
        )
        self.r1_gamma = float(r1_gamma)
        self.ema = ema
        self.num_classes = num_classes
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.conditional = _input_count(generator) == 2
        self._check_networks()
        self.ema_generator = None
        if ema is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        self._trackers = _common.trackers("d_loss", "g_loss", "d_real", "d_fake")
        self._init_optimizers()
        if generator.built and discriminator.built:
            self.built = True

    def _check_networks(self):
        g_inputs = getattr(self.generator, "inputs", None)
        if g_inputs:
            if len(g_inputs) not in (1, 2):
                raise ValueError(
                    "The generator must take z or [z, labels]. Received "
                    f"{len(g_inputs)} inputs."
                )
            width = g_inputs[0].shape[-1]
            if len(g_inputs[0].shape) != 2 or width != self.latent_dim:
                raise ValueError(
                    f"latent_dim={self.latent_dim} does not match the generator's input shape "
                    f"{tuple(g_inputs[0].shape)}; it must be (batch, latent_dim)."
                )
        z = keras.KerasTensor((2, self.latent_dim), dtype="float32")
        if self.conditional:
            d_inputs = getattr(self.discriminator, "inputs", None)
            if not d_inputs or len(d_inputs) != 2:
                raise ValueError(
                    "The generator takes [z, labels], so the discriminator must take "
                    "[x, labels] (two inputs)."
                )
            label = _spec_like(g_inputs[1])
            fake = output_spec(self.generator, [z, label],
                               f"generator does not accept z of shape (batch, {self.latent_dim})")
            out = output_spec(self.discriminator, [fake, _spec_like(d_inputs[1])],
                              "discriminator does not accept the generator's output")
        else:
            fake = output_spec(self.generator, z,
                               f"generator does not accept z of shape (batch, {self.latent_dim}) "
                               f"(latent_dim={self.latent_dim})")
            out = output_spec(self.discriminator, fake,
                              "discriminator does not accept the generator's output")
        check_discriminator_output(out)
        self.example_shape = tuple(fake.shape[1:])

    def optimizer_variables(self, name):
        if name == "d_optimizer":
            return self.discriminator.trainable_weights
        return self.generator.trainable_weights

    @property
    def metrics(self):
        return list(self._trackers.values())

    # ------------------------------------------------------------ helpers
    def _unpack(self, data):
        x, labels, sample_weight = _common.unpack(data)
        if sample_weight is not None:
            raise ValueError("GAN does not support sample weights. Pass x or (x, labels).")
        if self.conditional and labels is None:
            raise ValueError(
                "This GAN is conditional (its generator takes [z, labels]): the data must be "
                "(x, labels)."
            )
        if not self.conditional and labels is not None:
            raise ValueError(
                "This GAN is unconditional but the data has labels (x, y). Pass x only, or "
                "build a generator taking [z, labels] for a conditional GAN."
            )
        if labels is not None:
            labels = ops.convert_to_tensor(labels)
        x = _common.as_float32(x)
        x = _common.check_example_shape(self, x, self.example_shape)
        _backend.check_finite(x)
        return x, labels

    def _g_in(self, z, labels):
        return [z, labels] if self.conditional else z

    def _d_in(self, x, labels):
        return [x, labels] if self.conditional else x

    def _noise(self, n):
        return keras.random.normal((n, self.latent_dim), seed=self.seed_generator)

    def _summary(self, logits):
        logits = ops.cast(logits, "float32")
        if getattr(self.adversarial_loss, "probabilities", False):
            return ops.mean(ops.sigmoid(logits))
        return ops.mean(logits)

    def _net_losses(self, net):
        if not net.losses:
            return 0.0
        return ops.sum(ops.stack([ops.cast(l, "float32") for l in net.losses]))

    # ------------------------------------------------------------- losses
    def discriminator_losses(self, x, fake, labels=None, training=False):
        """Discriminator loss (with penalties) and ``d_real``/``d_fake`` as a dict."""
        real_logits = self.discriminator(self._d_in(x, labels), training=training)
        fake_logits = self.discriminator(self._d_in(fake, labels), training=training)
        loss = ops.cast(self.adversarial_loss.discriminator_loss(real_logits, fake_logits), "float32")

        def critic(t):
            return self.discriminator(self._d_in(t, labels), training=training)

        if self.penalty_weight > 0:
            loss = loss + self.penalty_weight * losses_lib.gradient_penalty(
                critic, x, fake, seed=self.seed_generator
            )
        if self.r1_gamma > 0:
            loss = loss + 0.5 * self.r1_gamma * losses_lib.r1_penalty(critic, x)
        loss = loss + self._net_losses(self.discriminator)
        return {"d_loss": loss, "d_real": self._summary(real_logits),
                "d_fake": self._summary(fake_logits)}

    def generator_losses(self, z, labels=None, training=False):
        """Generator loss as a dict ``{"g_loss": ...}``."""
        fake = self.generator(self._g_in(z, labels), training=training)
        logits = self.discriminator(self._d_in(fake, labels), training=training)
        loss = ops.cast(self.adversarial_loss.generator_loss(logits), "float32")
        return {"g_loss": loss + self._net_losses(self.generator)}

    def compute_losses(self, x, labels=None, training=False):
        """All the losses on one batch (fresh noise), as a dict."""
        batch = ops.shape(x)[0]
        fake = self.generator(self._g_in(self._noise(batch), labels), training=training)
        values = self.discriminator_losses(x, fake, labels, training=training)
        values.update(self.generator_losses(self._noise(batch), labels, training=training))
        return values

    # ----------------------------------------------------------- training
    def _prepare_data(self, data):
        return keras.utils.pack_x_y_sample_weight(*self._unpack(data))

    @_backend.keras_step("train")
    def _stateful_train_step(self, data):
        x, labels, _ = _common.unpack(data)
        batch = ops.shape(x)[0]
        values = {}
        for _ in range(self.d_steps):
            fake = self.generator(self._g_in(self._noise(batch), labels), training=True)
            fake = ops.stop_gradient(fake)

            def d_loss_fn(fake=fake):
                out = self.discriminator_losses(x, fake, labels, training=True)
                return out["d_loss"], out

            _, values = self.minimize(
                self.d_optimizer, d_loss_fn, self.discriminator.trainable_weights
            )
        z = self._noise(batch)

        def g_loss_fn():
            out = self.generator_losses(z, labels, training=True)
            return out["g_loss"], out

        _, g_values = self.minimize(self.g_optimizer, g_loss_fn, self.generator.trainable_weights)
        values = dict(values, **g_values)
        self._update_ema()
        return _common.update(self._trackers, values)

    @_backend.keras_step("test")
    def _stateful_test_step(self, data):
        x, labels, _ = _common.unpack(data)
        return _common.update(self._trackers, self.compute_losses(x, labels, training=False))

    def _update_ema(self):
        if self.ema_generator is None:
            return
        decay = float(self.ema)
        trainable = {id(v) for v in self.generator.trainable_weights}
        for avg, w in zip(self.ema_generator.weights, self.generator.weights):
            if id(w) in trainable:
                avg.assign(decay * avg + (1.0 - decay) * ops.cast(w, avg.dtype))
            else:
                avg.assign(w)

    # --------------------------------------------------------------- API
    def call(self, inputs, training=False):
        """The generator's output for ``z`` (or ``[z, labels]``)."""
        return self.generator(inputs, training=training)

    def sample(self, n, seed=None, labels=None, use_ema=True):
        """Generate ``n`` samples.

        Args:
            n: int, number of samples.
            seed: int or None; the same int gives the same samples, None uses
                (and advances) the model's ``SeedGenerator``.
            labels: conditional models: ``n`` labels; default
                ``arange(n) % num_classes`` when ``num_classes`` was given.
            use_ema: bool, sample from the EMA generator when there is one.

        Returns:
            A tensor of ``n`` generated samples that does not track gradients
            (on torch: detached, so ``np.asarray`` works as on the other
            backends); call ``model.generator`` to differentiate through it.
        """
        _common.check_int("n", n)
        gen = call_seed_generator(seed) if seed is not None else self.seed_generator
        z = keras.random.normal((n, self.latent_dim), seed=gen)
        if self.conditional:
            if labels is None:
                if self.num_classes is None:
                    raise ValueError(
                        "This GAN is conditional: pass labels= to sample(), or num_classes= to "
                        "the GAN to cycle through the classes."
                    )
                labels = ops.arange(n) % self.num_classes
            labels = ops.convert_to_tensor(labels)
            if labels.shape[0] != n:
                raise ValueError(f"labels must have n={n} rows. Received shape {tuple(labels.shape)}")
        net = self.ema_generator if (use_ema and self.ema_generator is not None) else self.generator
        return ops.stop_gradient(net(self._g_in(z, labels), training=False))

    # ------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "generator": _common.serialize(self.generator),
            "discriminator": _common.serialize(self.discriminator),
            "latent_dim": self.latent_dim,
            "loss": losses_lib.serialize(self.adversarial_loss),
            "d_steps": self.d_steps,
            "gradient_penalty_weight": self.gradient_penalty_weight,
            "r1_gamma": self.r1_gamma,
            "ema": self.ema,
            "num_classes": self.num_classes,
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserialization consumes nested configs
        for key in ("generator", "discriminator"):
            config[key] = _common.deserialize(config[key])
        config["loss"] = losses_lib.get(config["loss"])
        return cls(**config)
