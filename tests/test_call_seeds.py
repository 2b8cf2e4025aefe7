"""An int seed given to one call makes its generator under one fixed name.

TensorFlow keeps memory for every distinct variable name it sees, and Keras
names each unnamed ``SeedGenerator`` anew, so ``sample(n, seed=7)`` in a loop
would grow the process if its generator were unnamed.
"""

import keras
import numpy as np
import pytest
from keras.src.random import seed_generator

from keras_genmodels import models
from keras_genmodels._seed_state import CALL_SEED_GENERATOR_NAME, call_seed_generator
from tests._networks import mlp

pytestmark = pytest.mark.all_backends

X = (np.random.default_rng(0).random((6, 12)) < 0.4).astype("float32")


def _vae():
    enc, dec = models.mlp_vae_networks((12,), latent_dim=2, hidden_units=(8,))
    return models.VAE(enc, dec, likelihood="bernoulli", seed=0)


CALLS = {
    "vae.sample": lambda: _vae().sample(2, seed=7),
    "vae.log_likelihood": lambda: _vae().log_likelihood(X, num_samples=2, seed=7),
    "gan.sample": lambda: models.GAN(mlp([2, 8, 12], "g"), mlp([12, 8, 1], "d"),
                                     latent_dim=2, seed=0).sample(2, seed=7),
    "aae.sample": lambda: models.AAE(mlp([12, 8, 2], "enc"), mlp([2, 8, 12], "dec"),
                                     mlp([2, 8, 1], "disc"), latent_dim=2,
                                     seed=0).sample(2, seed=7),
    "nade.sample": lambda: models.NADE(12, hidden_units=4, seed=0).sample(2, seed=7, verbose=0),
    "pixel_cnn.sample": lambda: models.PixelCNN((3, 3, 1), filters=4, num_layers=1,
                                                kernel_size=3, seed=0).sample(2, seed=7,
                                                                              verbose=0),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_seeded_call_names_its_generator(name, monkeypatch):
    model_call = CALLS[name]
    made = []
    original = seed_generator.SeedGenerator.__init__

    def recording_init(self, seed=None, name=None, **kwargs):
        original(self, seed=seed, name=name, **kwargs)
        made.append((seed, self.name))

    monkeypatch.setattr(seed_generator.SeedGenerator, "__init__", recording_init)
    model_call()
    per_call = [gen_name for seed, gen_name in made if seed == 7]
    assert per_call, made
    assert set(per_call) == {CALL_SEED_GENERATOR_NAME}, made


def test_the_name_does_not_change_the_draws():
    a = keras.random.normal((5,), seed=call_seed_generator(11))
    b = keras.random.normal((5,), seed=keras.random.SeedGenerator(11))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
