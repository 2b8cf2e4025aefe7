"""Generative models: keras.Model subclasses with their own train/test steps."""

from keras_genmodels.models.builders import mlp_vae_networks
from keras_genmodels.models.vae import VAE
from keras_genmodels.models.made import MADE
from keras_genmodels.models.markov import MarkovAR
from keras_genmodels.models.nade import NADE
from keras_genmodels.models.pixel_rnn import PixelRNN
from keras_genmodels.models.autoencoder import Autoencoder
from keras_genmodels.models.gan import GAN
from keras_genmodels.models.aae import AAE
from keras_genmodels.models.dcgan import dcgan_discriminator
from keras_genmodels.models.dcgan import dcgan_generator
from keras_genmodels.models.pixel_cnn import GatedPixelCNN
from keras_genmodels.models.pixel_cnn import PixelCNN
