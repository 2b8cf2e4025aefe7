"""Reusable, backend-agnostic layers."""

from keras_genmodels.layers.gated import GatedPixelCNNBlock
from keras_genmodels.layers.kl import KLDivergence
from keras_genmodels.layers.kl import KLDivergenceRegularizer
from keras_genmodels.layers.kl import diagonal_gaussian_kl
from keras_genmodels.layers.kl import standard_normal_kl
from keras_genmodels.layers.masked_conv import MaskedConv2D
from keras_genmodels.layers.masked_conv import causal_mask
from keras_genmodels.layers.masked_dense import MaskedDense
from keras_genmodels.layers.masked_dense import degree_mask
from keras_genmodels.layers.masked_dense import made_degrees
from keras_genmodels.layers.pixel_rnn import DiagonalBiLSTM
from keras_genmodels.layers.pixel_rnn import RowLSTM
from keras_genmodels.layers.pixel_rnn import skew
from keras_genmodels.layers.pixel_rnn import unskew
from keras_genmodels.layers.sampling import Sampling
from keras_genmodels.layers.sampling import reparameterize
