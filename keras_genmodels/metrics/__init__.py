"""Evaluation metrics for generative models, one module per concern.

Sample quality (:mod:`~keras_genmodels.metrics.sample_quality`, with the
feature extraction in :mod:`~keras_genmodels.metrics.features`; NumPy,
float64, streaming over batches):

- :func:`frechet_distance` between two sets of features (or their running
  statistics, :class:`FeatureStatistics`), and
  :func:`frechet_distance_from_images` with a pluggable feature extractor
  (FID when the extractor is InceptionV3's pool layer);
- :func:`kernel_distance`: the unbiased squared MMD with the cubic polynomial
  kernel over random subsets (KID);
- :func:`mode_coverage`: modes hit and high-quality samples for toy mixtures.

Likelihood (:mod:`~keras_genmodels.metrics.likelihood`; nats unless stated):

- :func:`nll` and :func:`bits_per_dim` for explicit-density models;
- :func:`importance_sampled_log_likelihood` for latent-variable models.

Divergences of the theory (:mod:`~keras_genmodels.metrics.divergences`;
``keras.ops``, differentiable, any float dtype):

- :func:`kl_divergence`, :func:`entropy`, :func:`jensen_shannon` for discrete
  distributions (probabilities or logits over the last axis);
- :func:`gaussian_kl` and :func:`gaussian_entropy` for diagonal Gaussians.

Example:

>>> import numpy as np
>>> import keras_genmodels
>>> rng = np.random.default_rng(0)
>>> real_features = rng.normal(size=(200, 4))
>>> fake_features = rng.normal(size=(200, 4)) + 0.5
>>> fd = keras_genmodels.metrics.frechet_distance(real_features, fake_features)
>>> kid = keras_genmodels.metrics.kernel_distance(real_features, fake_features,
...                                               subset_size=100, seed=0)
>>> fd > 0.5, kid.mean > 0
(True, True)
"""

from keras_genmodels.layers.kl import diagonal_gaussian_kl
from keras_genmodels.likelihoods import LOG_2PI
from keras_genmodels.metrics.divergences import entropy
from keras_genmodels.metrics.divergences import gaussian_entropy
from keras_genmodels.metrics.divergences import gaussian_kl
from keras_genmodels.metrics.divergences import jensen_shannon
from keras_genmodels.metrics.divergences import kl_divergence
from keras_genmodels.metrics.features import FeatureStatistics
from keras_genmodels.metrics.features import extract_features
from keras_genmodels.metrics.features import feature_statistics
from keras_genmodels.metrics.features import inception_v3_feature_extractor
from keras_genmodels.metrics.likelihood import bits_per_dim
from keras_genmodels.metrics.likelihood import importance_sampled_log_likelihood
from keras_genmodels.metrics.likelihood import nll
from keras_genmodels.metrics.sample_quality import KernelDistance
from keras_genmodels.metrics.sample_quality import frechet_distance
from keras_genmodels.metrics.sample_quality import frechet_distance_from_images
from keras_genmodels.metrics.sample_quality import frechet_distance_from_moments
from keras_genmodels.metrics.sample_quality import kernel_distance
from keras_genmodels.metrics.sample_quality import kernel_distance_from_images
from keras_genmodels.metrics.sample_quality import mode_coverage
from keras_genmodels.metrics.sample_quality import polynomial_kernel
from keras_genmodels.metrics.sample_quality import trace_sqrt_product

__all__ = [
    "FeatureStatistics",
    "KernelDistance",
    "LOG_2PI",
    "bits_per_dim",
    "diagonal_gaussian_kl",
    "entropy",
    "extract_features",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_images",
    "frechet_distance_from_moments",
    "gaussian_entropy",
    "gaussian_kl",
    "importance_sampled_log_likelihood",
    "inception_v3_feature_extractor",
    "jensen_shannon",
    "kernel_distance",
    "kernel_distance_from_images",
    "kl_divergence",
    "mode_coverage",
    "nll",
    "polynomial_kernel",
    "trace_sqrt_product",
]
