"""keras-genmodels: generative models as Keras 3 layers and models."""

# First: the backend module configures TensorFlow before any op runs.
from keras_genmodels import _backend  # noqa: F401
from keras_genmodels import _saving_cache

_saving_cache.install()
from keras_genmodels import likelihoods  # noqa: F401  (registers likelihoods)
from keras_genmodels import layers
from keras_genmodels import losses
from keras_genmodels import models
from keras_genmodels import samplers
from keras_genmodels import metrics
from keras_genmodels import callbacks
from keras_genmodels import datasets

__version__ = "0.1.0"
