"""Fused, XLA-compiled kernels of keras-genmodels (installed as ``keras_genmodels.kernels``)."""

from keras_genmodels.kernels.masked_conv import accelerator_available
from keras_genmodels.kernels.masked_conv import conv_flops
from keras_genmodels.kernels.masked_conv import gated_activation
from keras_genmodels.kernels.masked_conv import masked_conv2d
from keras_genmodels.kernels.masked_conv import reference_masked_conv2d
from keras_genmodels.kernels.masked_conv import tap_counts
from keras_genmodels.kernels.masks import causal_mask
from keras_genmodels.kernels.masks import check_mask_args
from keras_genmodels.kernels.slicing import slice_axis
