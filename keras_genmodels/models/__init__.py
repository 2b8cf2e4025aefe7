"""Generative models: keras.Model subclasses with their own train/test steps."""

from keras_genmodels.models.builders import mlp_vae_networks
from keras_genmodels.models.vae import VAE
