"""Reusable, backend-agnostic layers."""

from keras_genmodels.layers.kl import KLDivergence
from keras_genmodels.layers.kl import KLDivergenceRegularizer
from keras_genmodels.layers.kl import diagonal_gaussian_kl
from keras_genmodels.layers.kl import standard_normal_kl
from keras_genmodels.layers.masked_conv import MaskedConv2D
from keras_genmodels.layers.masked_conv import causal_mask
from keras_genmodels.layers.sampling import Sampling
