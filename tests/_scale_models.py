"""Tiny instances of every model, shared by test_distribute.py and test_mixed_precision.py.

``build(name, deterministic=False)`` returns ``(model, x, compile_fn)`` where
``compile_fn(model, make_optimizer)`` compiles the model with fresh optimizers
from ``make_optimizer()`` (one per optimizer the model owns).

``deterministic=True`` removes every random draw from the training step, so
that a step taken on two replicas can be compared with a step on one: each
replica draws its own noise from the (replicated) ``SeedGenerator``, so a
2-replica step and a 1-replica step on the same global batch cannot draw the
same noise. Rather than compare only "it runs", the noise is made irrelevant
while the maths of the step stays the same:

- VAE: the encoder's log-variance head starts at ``-60`` (``sigma = e^-30``),
  so ``z = mean + sigma * eps`` equals ``mean`` to float32 precision; the KL
  term and its gradient are still there (the log-variance weights train).
- AAE: a deterministic encoder and a one-component Gaussian-mixture prior
  with ``stddev = 1e-20``: the prior draws are the component mean.
- GAN: the generator's first layer is a frozen zero projection of ``z``, so
  its output does not depend on the noise but the later (trainable) layers
  still learn from the discriminator; ``r1_gamma > 0`` (a deterministic
  input-gradient penalty) and ``ema`` are on, so the double backprop and the
  EMA update are exercised under the strategy too.
- The explicit-density models and the autoencoder draw nothing in a step.
"""

import keras
import numpy as np

from keras_genmodels import models

NAMES = ("vae", "aae", "gan", "pixel_cnn", "gated_pixel_cnn", "pixel_rnn", "nade", "made",
         "markov", "autoencoder")

DIM = 6
LATENT = 2
IMAGE = (4, 4, 1)
BATCH = 8


def _dense_net(inp_dim, sizes, name, final_activation=None, seed=0):
    x = keras.Input((inp_dim,))
    h = x
    for i, units in enumerate(sizes):
        act = "tanh" if i < len(sizes) - 1 else final_activation
        h = keras.layers.Dense(units, activation=act,
                               kernel_initializer=keras.initializers.GlorotUniform(seed + i))(h)
    return keras.Model(x, h, name=name)


def _binary(shape, seed):
    return (np.random.default_rng(seed).uniform(size=shape) > 0.5).astype("float32")


def _single(model, make_optimizer):
    model.compile(optimizer=make_optimizer())


def _vae(deterministic):
    x_in = keras.Input((DIM,))
    h = keras.layers.Dense(8, activation="tanh",
                           kernel_initializer=keras.initializers.GlorotUniform(1))(x_in)
    mean = keras.layers.Dense(LATENT, kernel_initializer=keras.initializers.GlorotUniform(2))(h)
    if deterministic:
        log_var = keras.layers.Dense(LATENT, kernel_initializer="zeros",
                                     bias_initializer=keras.initializers.Constant(-60.0))(h)
    else:
        log_var = keras.layers.Dense(LATENT,
                                     kernel_initializer=keras.initializers.GlorotUniform(3))(h)
    encoder = keras.Model(x_in, [mean, log_var], name="encoder")
    decoder = _dense_net(LATENT, (8, DIM), "decoder", seed=4)
    model = models.VAE(encoder, decoder, likelihood="bernoulli", seed=0)
    return model, _binary((2 * BATCH, DIM), 0), _single


def _aae(deterministic):
    encoder = _dense_net(DIM, (8, LATENT), "encoder", seed=1)
    decoder = _dense_net(LATENT, (8, DIM), "decoder", seed=3)
    discriminator = _dense_net(LATENT, (8, 1), "discriminator", seed=5)
    if deterministic:
        prior = {"type": "gaussian_mixture", "means": [[0.5, -0.3]], "stddev": 1e-20}
    else:
        prior = None
    model = models.AAE(encoder, decoder, discriminator, LATENT, prior=prior,
                       likelihood="bernoulli", seed=0)

    def compile_fn(m, make_optimizer):
        m.compile(r_optimizer=make_optimizer(), d_optimizer=make_optimizer(),
                  g_optimizer=make_optimizer())

    return model, _binary((2 * BATCH, DIM), 1), compile_fn


def _gan(deterministic):
    z = keras.Input((LATENT,))
    if deterministic:
        h = keras.layers.Dense(4, kernel_initializer="zeros", use_bias=False, trainable=False)(z)
    else:
        h = z
    h = keras.layers.Dense(8, activation="tanh",
                           bias_initializer=keras.initializers.RandomNormal(seed=7),
                           kernel_initializer=keras.initializers.GlorotUniform(1))(h)
    out = keras.layers.Dense(DIM, kernel_initializer=keras.initializers.GlorotUniform(2))(h)
    generator = keras.Model(z, out, name="generator")
    discriminator = _dense_net(DIM, (8, 1), "discriminator", seed=3)
    model = models.GAN(generator, discriminator, LATENT, r1_gamma=1.0, ema=0.5, seed=0)
    x = np.random.default_rng(2).normal(1.0, 0.5, (2 * BATCH, DIM)).astype("float32")

    def compile_fn(m, make_optimizer):
        m.compile(d_optimizer=make_optimizer(), g_optimizer=make_optimizer())

    return model, x, compile_fn


def _autoencoder(deterministic):
    encoder = _dense_net(DIM, (8, LATENT), "encoder", seed=1)
    decoder = _dense_net(LATENT, (8, DIM), "decoder", seed=3)
    model = models.Autoencoder(encoder, decoder, loss="bernoulli")
    return model, _binary((2 * BATCH, DIM), 3), _single


def _density(build, shape, seed):
    def factory(deterministic):
        keras.utils.set_random_seed(seed)
        return build(), _binary((2 * BATCH,) + shape, seed), _single
    return factory


_FACTORIES = {
    "vae": _vae,
    "aae": _aae,
    "gan": _gan,
    "autoencoder": _autoencoder,
    "pixel_cnn": _density(lambda: models.PixelCNN(IMAGE, filters=4, num_layers=1, kernel_size=3,
                                                  seed=0), IMAGE, 4),
    "gated_pixel_cnn": _density(lambda: models.GatedPixelCNN(
        IMAGE, filters=4, num_layers=1, kernel_size=3, seed=0), IMAGE, 5),
    "pixel_rnn": _density(lambda: models.PixelRNN(
        IMAGE, kind="row_lstm", hidden_units=4, num_layers=1, input_kernel_size=3, seed=0),
        IMAGE, 6),
    "nade": _density(lambda: models.NADE(DIM, hidden_units=4, seed=0), (DIM,), 7),
    "made": _density(lambda: models.MADE(DIM, hidden_units=(8,), seed=0), (DIM,), 8),
    "markov": _density(lambda: models.MarkovAR(DIM, order=2, seed=0), (DIM,), 9),
}


def build(name, deterministic=False):
    """``(model, x, compile_fn)`` for the model ``name`` (one of ``NAMES``)."""
    keras.utils.set_random_seed(0)
    return _FACTORIES[name](deterministic)


def optimizer_names(model):
    """The attribute names of the optimizers ``model`` trains with."""
    return tuple(getattr(model, "optimizer_names", ())) or ("optimizer",)
