"""Sample quality: Frechet and kernel distances between feature sets, and mode coverage.

NumPy, float64, streaming over batches:

- :func:`frechet_distance` between two sets of features (or their running
  statistics, :class:`~keras_genmodels.metrics.features.FeatureStatistics`),
  and :func:`frechet_distance_from_images` with a pluggable feature extractor
  (FID when the extractor is InceptionV3's pool layer,
  :func:`~keras_genmodels.metrics.features.inception_v3_feature_extractor`);
- :func:`kernel_distance`: the unbiased squared MMD with the cubic polynomial
  kernel over random subsets (KID);
- :func:`mode_coverage`: modes hit and high-quality samples for toy mixtures.

The feature extraction and running statistics live in
:mod:`keras_genmodels.metrics.features`.

Example:

>>> import numpy as np
>>> from keras_genmodels.metrics.sample_quality import frechet_distance
>>> real = np.random.default_rng(0).normal(size=(100, 3))
>>> round(frechet_distance(real, real + 1.0), 6)   # a shift by 1 in 3 dimensions
3.0
"""

import collections

import numpy as np

from keras_genmodels.metrics._checks import as_features as _as_features
from keras_genmodels._validate import check_int
from keras_genmodels.metrics.features import FeatureStatistics
from keras_genmodels.metrics.features import extract_features
from keras_genmodels.metrics.features import feature_statistics


def _sqrtm_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix (eigen-decomposition)."""
    matrix = 0.5 * (matrix + matrix.T)
    eigvals, eigvecs = np.linalg.eigh(matrix)
    eigvals = np.clip(eigvals, 0.0, None)  # round-off can make tiny eigenvalues negative
    return (eigvecs * np.sqrt(eigvals)) @ eigvecs.T


def trace_sqrt_product(sigma1, sigma2):
    """``trace(sqrtm(sigma1 @ sigma2))`` for symmetric PSD matrices, in float64.

    ``sigma1 @ sigma2`` is not symmetric, but it is similar to the symmetric
    PSD matrix ``sqrt(sigma1) @ sigma2 @ sqrt(sigma1)``, so both have the same
    non-negative eigenvalues and the trace of the square root is the sum of
    their square roots. Two symmetric eigen-decompositions replace the
    general (Schur-based) ``scipy.linalg.sqrtm``, with no complex round-off
    to discard.

    Args:
        sigma1, sigma2: ``(d, d)`` symmetric positive semi-definite matrices.

    Returns:
        Python float >= 0.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import trace_sqrt_product
    >>> round(trace_sqrt_product(np.eye(2), np.diag([4.0, 9.0])), 6)   # sqrt(4) + sqrt(9)
    5.0
    """
    sigma1 = np.asarray(sigma1, np.float64)
    sigma2 = np.asarray(sigma2, np.float64)
    root1 = _sqrtm_psd(sigma1)
    middle = root1 @ (0.5 * (sigma2 + sigma2.T)) @ root1
    eigvals = np.linalg.eigvalsh(0.5 * (middle + middle.T))
    return float(np.sum(np.sqrt(np.clip(eigvals, 0.0, None))))


# =====================================================================
# The Frechet distance
# =====================================================================
def _statistics(features, name):
    if isinstance(features, FeatureStatistics):
        return features.mean, features.covariance
    x = _as_features(features, name)
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 examples for a covariance. "
                         f"Received: shape={x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def frechet_distance_from_moments(mean1, cov1, mean2, cov2):
    """Frechet distance between ``N(mean1, cov1)`` and ``N(mean2, cov2)`` in float64.

    ``||mean1 - mean2||^2 + tr(cov1) + tr(cov2) - 2 tr((cov1 cov2)^(1/2))``.

    Args:
        mean1, mean2: ``(d,)`` means.
        cov1, cov2: ``(d, d)`` covariances (symmetric positive semi-definite).

    Returns:
        Python float >= 0.

    Raises:
        ValueError: for mismatched shapes or non-finite values.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import frechet_distance_from_moments
    >>> round(frechet_distance_from_moments([0.0, 0.0], np.eye(2), [3.0, 4.0], np.eye(2)), 6)
    25.0
    """
    mean1, mean2 = (np.asarray(m, np.float64).reshape(-1) for m in (mean1, mean2))
    cov1, cov2 = (np.atleast_2d(np.asarray(c, np.float64)) for c in (cov1, cov2))
    d = mean1.shape[0]
    if mean2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(
            "Mismatched Gaussian moments: mean1 "
            f"{mean1.shape}, cov1 {cov1.shape}, mean2 {mean2.shape}, cov2 {cov2.shape}."
        )
    for name, v in (("mean1", mean1), ("cov1", cov1), ("mean2", mean2), ("cov2", cov2)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} contains NaN or infinite values.")
    diff = mean1 - mean2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product(cov1, cov2)
    return float(max(value, 0.0))


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two sets of features.

    ``FD = ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))``
    (the 2-Wasserstein distance squared between the fitted Gaussians), with
    unbiased covariances, computed in float64. The matrix square root uses the
    symmetric product ``S_a^(1/2) S_b S_a^(1/2)`` and eigen-decompositions
    (see :func:`trace_sqrt_product`); it agrees with the usual
    ``scipy.linalg.sqrtm`` formula. With InceptionV3 pool features of real
    and generated images this is the FID.

    Args:
        features_a: ``(n_a, d)`` array (NumPy or tensor) or a
            :class:`FeatureStatistics`.
        features_b: ``(n_b, d)`` array or a :class:`FeatureStatistics`.

    Returns:
        Python float >= 0.

    Raises:
        ValueError: for arrays that are not 2-D, have fewer than 2 rows,
            different feature sizes, or non-finite values.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import frechet_distance
    >>> real = np.random.default_rng(0).normal(size=(100, 3))
    >>> round(frechet_distance(real, real + 1.0), 6)   # same covariance, means 1 apart in 3-D
    3.0

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
        to a Local Nash Equilibrium", NeurIPS 2017.
        Dowson & Landau, "The Frechet distance between multivariate normal
        distributions", 1982.
    """
    mean_a, cov_a = _statistics(features_a, "features_a")
    mean_b, cov_b = _statistics(features_b, "features_b")
    if mean_a.shape != mean_b.shape:
        raise ValueError(
            "features_a and features_b must have the same number of features. "
            f"Received: {mean_a.shape[0]} and {mean_b.shape[0]}"
        )
    return frechet_distance_from_moments(mean_a, cov_a, mean_b, cov_b)


def frechet_distance_from_images(real, fake, feature_extractor, batch_size=50):
    """Frechet distance between the features of real and generated examples.

    The features are streamed through :class:`FeatureStatistics`, so only
    ``O(d^2)`` memory is used whatever the number of images. With
    ``feature_extractor=inception_v3_feature_extractor(shape)`` (ImageNet weights)
    this is the FID of Heusel et al.; any Keras model works too (e.g. the
    ``encoder`` of a trained :class:`keras_genmodels.models.Autoencoder`, or a
    classifier's penultimate layer), which is the honest choice for MNIST-like
    data when InceptionV3 weights are unavailable.

    Args:
        real: array of real examples, or an iterable of batches
            (``tf.data.Dataset``; ``(x, y)`` elements use ``x``).
        fake: generated examples, same forms.
        feature_extractor: ``keras.Model``, layer or callable returning
            ``(batch, d)`` features.
        batch_size: int, examples per extractor call for array inputs.

    Returns:
        Python float >= 0.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_genmodels.metrics import frechet_distance_from_images
    >>> rng = np.random.default_rng(0)
    >>> real = rng.uniform(size=(40, 4, 4, 1)).astype("float32")
    >>> fake = (rng.uniform(size=(30, 4, 4, 1)) ** 2).astype("float32")
    >>> inputs = keras.Input((4, 4, 1))   # any Keras model (e.g. InceptionV3) extracts features
    >>> extractor = keras.Model(inputs, keras.layers.Flatten()(inputs))
    >>> fid = frechet_distance_from_images(real, fake, extractor, batch_size=16)
    >>> fid > 0.0
    True

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
        to a Local Nash Equilibrium", NeurIPS 2017.
    """
    stats_real = feature_statistics(real, feature_extractor, batch_size)
    stats_fake = feature_statistics(fake, feature_extractor, batch_size)
    return frechet_distance(stats_real, stats_fake)


# =====================================================================
# Kernel (MMD) distance, KID
# =====================================================================
KernelDistance = collections.namedtuple("KernelDistance", ["mean", "std"])
KernelDistance.__doc__ = """What :func:`kernel_distance` returns: mean and std of the subset MMD^2.

A named tuple of two Python floats, ``mean`` (the KID) and ``std`` (its
spread over the random subsets).

Example:

>>> import numpy as np
>>> from keras_genmodels.metrics import KernelDistance, kernel_distance
>>> rng = np.random.default_rng(0)
>>> kid = kernel_distance(rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 1.0,
...                       num_subsets=4, subset_size=20, seed=0)
>>> isinstance(kid, KernelDistance), kid.mean > 0.0, kid.std >= 0.0
(True, True, True)
>>> mean, std = KernelDistance(mean=0.25, std=0.5)   # unpacks like a tuple
>>> mean, std
(0.25, 0.5)
"""


def polynomial_kernel(x, y, degree=3, gamma=None, coef0=1.0):
    """``(gamma * x . y + coef0) ** degree`` in float64; ``gamma`` defaults to ``1 / d``.

    Args:
        x: ``(m, d)`` features.
        y: ``(n, d)`` features.
        degree: int, the polynomial's degree.
        gamma: float or None (``1 / d``), the scale of the inner product.
        coef0: float, the constant term.

    Returns:
        ``(m, n)`` float64 NumPy kernel matrix.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import polynomial_kernel
    >>> polynomial_kernel(np.ones((1, 2)), np.ones((2, 2)))   # (2 / 2 + 1) ** 3
    array([[8., 8.]])
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)
    return (gamma * (x @ y.T) + coef0) ** degree


def _unbiased_mmd2(k_xx, k_yy, k_xy):
    m = k_xx.shape[0]
    n = k_yy.shape[0]
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * k_xy.sum() / (m * n)


def kernel_distance(features_a, features_b, num_subsets=100, subset_size=1000, degree=3,
                    gamma=None, coef0=1.0, seed=None):
    """Kernel Inception Distance: unbiased squared MMD with a polynomial kernel.

    ``k(x, y) = (x . y / d + 1) ** 3`` by default. As in Binkowski et al.,
    ``num_subsets`` random subsets of ``subset_size`` examples are drawn
    without replacement from each set, the unbiased MMD^2 estimate is
    computed on each (only ``subset_size^2`` kernel values in memory at a
    time), and their mean and standard deviation are returned. The estimator
    is unbiased, so it can be slightly negative when the sets match.

    Args:
        features_a: ``(n_a, d)`` features (e.g. of real images).
        features_b: ``(n_b, d)`` features (e.g. of generated images).
        num_subsets: int >= 1.
        subset_size: int >= 2; capped at ``min(n_a, n_b)``.
        degree, gamma, coef0: polynomial kernel ``(gamma x.y + coef0)^degree``;
            ``gamma=None`` means ``1 / d``.
        seed: int or None, seed of the subset draws.

    Returns:
        ``KernelDistance(mean, std)`` of Python floats.

    Raises:
        ValueError: for bad shapes, fewer than 2 examples, or bad arguments.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import kernel_distance
    >>> rng = np.random.default_rng(0)
    >>> real_features = rng.normal(size=(300, 4))
    >>> fake_features = rng.normal(size=(300, 4)) * 1.5 + 0.3
    >>> kid = kernel_distance(real_features, fake_features, num_subsets=20,
    ...                       subset_size=100, seed=0)
    >>> same = kernel_distance(real_features, rng.normal(size=(300, 4)), num_subsets=20,
    ...                        subset_size=100, seed=0)
    >>> kid.mean > 1.0, abs(same.mean) < 0.1   # different sets; the same distribution
    (True, True)

    References:
        Binkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs",
        ICLR 2018.
        Gretton et al., "A Kernel Two-Sample Test", JMLR 2012.
    """
    a = _as_features(features_a, "features_a")
    b = _as_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError("features_a and features_b must have the same number of features. "
                         f"Received: {a.shape[1]} and {b.shape[1]}")
    num_subsets = check_int("num_subsets", num_subsets)
    subset_size = check_int("subset_size", subset_size)
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError("kernel_distance needs at least 2 examples in each set and "
                         f"subset_size >= 2. Received: n_a={a.shape[0]}, n_b={b.shape[0]}, "
                         f"subset_size={subset_size}")
    rng = np.random.default_rng(seed)
    values = np.empty((num_subsets,), np.float64)
    for i in range(num_subsets):
        x = a[rng.choice(a.shape[0], m, replace=False)]
        y = b[rng.choice(b.shape[0], m, replace=False)]
        kern = lambda u, v: polynomial_kernel(u, v, degree, gamma, coef0)  # noqa: E731
        values[i] = _unbiased_mmd2(kern(x, x), kern(y, y), kern(x, y))
    return KernelDistance(float(values.mean()), float(values.std()))


def kernel_distance_from_images(real, fake, feature_extractor, batch_size=50, **kwargs):
    """:func:`kernel_distance` of the features of two image sets (see :func:`extract_features`).

    KID needs the features themselves (not only moments): ``n * d`` float64
    values per set (50,000 x 2048 is 800 MB; pass fewer images if needed).

    Args:
        real, fake, feature_extractor, batch_size: as
            :func:`frechet_distance_from_images`.
        **kwargs: :func:`kernel_distance` arguments (``num_subsets``,
            ``subset_size``, ``seed``...).

    Returns:
        ``KernelDistance(mean, std)`` of Python floats.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import kernel_distance_from_images
    >>> rng = np.random.default_rng(0)
    >>> real = rng.uniform(size=(60, 2, 2, 1))
    >>> fake = rng.uniform(size=(60, 2, 2, 1)) ** 3
    >>> flatten = lambda batch: batch.reshape(len(batch), -1)   # a feature extractor
    >>> kid = kernel_distance_from_images(real, fake, flatten, num_subsets=5, subset_size=50,
    ...                                   seed=0)
    >>> kid.mean > 0
    True
    """
    return kernel_distance(extract_features(real, feature_extractor, batch_size),
                           extract_features(fake, feature_extractor, batch_size), **kwargs)


# =====================================================================
# Mode coverage on toy mixtures
# =====================================================================
def mode_coverage(samples, centers, std, threshold=3.0, min_samples=1, weights=None):
    """Precision/recall-style quality of samples of a known mixture (toy data).

    Each sample is assigned to its nearest mode centre; it is *high quality*
    when it lies within ``threshold * std`` of that centre (precision). A mode
    is *covered* when at least ``min_samples`` high-quality samples fall on it
    (recall). This is the protocol of the unrolled-GAN / VEEGAN papers for
    the 8-Gaussians ring and the 25-Gaussians grid.

    Args:
        samples: ``(n, d)`` generated points.
        centers: ``(k, d)`` mode centres.
        std: float or ``(k,)`` standard deviation of each mode.
        threshold: float > 0, radius in units of ``std`` (3 in the papers).
        min_samples: int >= 1, high-quality samples a mode needs to count.
        weights: optional ``(k,)`` true mode probabilities (uniform when
            None), for ``mode_kl``.

    Returns:
        dict with ``mode_coverage`` (fraction of modes covered),
        ``modes_covered`` (int), ``high_quality_fraction`` (fraction of
        samples that are high quality), ``counts`` (``(k,)`` high-quality
        samples per mode) and ``mode_kl`` (``KL(empirical mode histogram of
        the high-quality samples || weights)``, nan without high-quality
        samples).

    Example:

    >>> import numpy as np
    >>> from keras_genmodels.metrics import mode_coverage
    >>> angles = np.arange(8) * 2 * np.pi / 8
    >>> centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], -1)
    >>> samples = np.repeat(centers[:6], 10, axis=0) + 0.01   # 6 of the 8 modes, on target
    >>> result = mode_coverage(samples, centers, std=0.02)
    >>> result["mode_coverage"], result["modes_covered"], result["high_quality_fraction"]
    (0.75, 6, 1.0)

    References:
        Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017.
        Srivastava et al., "VEEGAN", NeurIPS 2017.
    """
    x = _as_features(samples, "samples")
    c = _as_features(centers, "centers")
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"samples and centers must have the same dimension. Received: "
                         f"{x.shape[1]} and {c.shape[1]}")
    k = c.shape[0]
    std = np.broadcast_to(np.asarray(std, np.float64), (k,)) if np.ndim(std) <= 1 else None
    if std is None or not np.all(std > 0) or not np.all(np.isfinite(std)):
        raise ValueError(f"std must be a positive float or a (k,) = ({k},) array of them.")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0. Received: threshold={threshold}")
    min_samples = check_int("min_samples", min_samples)
    if weights is None:
        weights = np.full((k,), 1.0 / k)
    else:
        weights = np.asarray(weights, np.float64)
        if weights.shape != (k,) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
            raise ValueError(f"weights must be ({k},) probabilities summing to 1. "
                             f"Received: {weights}")
    # Squared distances without an (n, k, d) intermediate.
    d2 = (x ** 2).sum(1)[:, None] - 2.0 * x @ c.T + (c ** 2).sum(1)[None, :]
    nearest = np.argmin(d2, axis=1)
    dist = np.sqrt(np.maximum(d2[np.arange(x.shape[0]), nearest], 0.0))
    good = dist <= threshold * std[nearest]
    counts = np.bincount(nearest[good], minlength=k)
    covered = int(np.sum(counts >= min_samples))
    if counts.sum() > 0:
        p = counts / counts.sum()
        with np.errstate(divide="ignore"):
            terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0))
                                         - np.log(np.where(p > 0, weights, 1.0))), 0.0)
        mode_kl = float(terms.sum())
    else:
        mode_kl = float("nan")
    return {
        "mode_coverage": covered / k,
        "modes_covered": covered,
        "high_quality_fraction": float(good.mean()) if x.shape[0] else 0.0,
        "counts": counts,
        "mode_kl": mode_kl,
    }
