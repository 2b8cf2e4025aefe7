"""Evaluation metrics for generative models.

Sample quality (NumPy, float64, streaming over batches):

- :func:`frechet_distance` between two sets of features (or their running
  statistics, :class:`FeatureStatistics`), and
  :func:`frechet_distance_from_images` with a pluggable feature extractor
  (FID when the extractor is InceptionV3's pool layer);
- :func:`kernel_distance`: the unbiased squared MMD with the cubic polynomial
  kernel over random subsets (KID);
- :func:`mode_coverage`: modes hit and high-quality samples for toy mixtures.

Likelihood (nats unless stated):

- :func:`nll` and :func:`bits_per_dim` for explicit-density models;
- :func:`importance_sampled_log_likelihood` for latent-variable models.

Divergences of the theory (``keras.ops``, differentiable, any float dtype):

- :func:`kl_divergence`, :func:`entropy`, :func:`jensen_shannon` for discrete
  distributions (probabilities or logits over the last axis);
- :func:`gaussian_kl` and :func:`gaussian_entropy` for diagonal Gaussians.

Example:

>>> from keras_genmodels import metrics
>>> fd = metrics.frechet_distance(real_features, fake_features)
>>> kid = metrics.kernel_distance(real_features, fake_features, seed=0)
>>> kid.mean, kid.std
"""

import collections
import inspect
import math

import keras
import numpy as np
from keras import ops

from keras_genmodels import _backend
from keras_genmodels.layers.kl import diagonal_gaussian_kl

LOG_2PI = math.log(2.0 * math.pi)


# =====================================================================
# Helpers
# =====================================================================
def _check_positive_int(name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1. Received: {name}={value!r}")
    return int(value)


def _as_features(features, name):
    """A finite float64 ``(n, d)`` NumPy array, or ValueError naming ``name``."""
    try:
        arr = np.asarray(ops.convert_to_numpy(features) if not isinstance(features, np.ndarray)
                         else features, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array of shape (n, d). Received: "
                         f"{type(features).__name__} ({e})") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (num_examples, num_features). "
                         f"Received: shape={arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no feature columns. Received: shape={arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


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
    """
    sigma1 = np.asarray(sigma1, np.float64)
    sigma2 = np.asarray(sigma2, np.float64)
    root1 = _sqrtm_psd(sigma1)
    middle = root1 @ (0.5 * (sigma2 + sigma2.T)) @ root1
    eigvals = np.linalg.eigvalsh(0.5 * (middle + middle.T))
    return float(np.sum(np.sqrt(np.clip(eigvals, 0.0, None))))


# =====================================================================
# Streaming feature statistics and the Frechet distance
# =====================================================================
class FeatureStatistics:
    """Running mean and covariance of feature vectors, accumulated in float64.

    Batches are merged with the pairwise update of Chan, Golub & LeVeque
    (numerically stable, unlike accumulating raw second moments), so the
    statistics of 50,000 images need only ``O(d^2)`` memory: feed the
    feature extractor's output batch by batch.

    Args:
        num_features: int or None, the feature dimension ``d``; inferred from
            the first batch when None.

    Attributes:
        count: number of feature vectors seen.
        mean: ``(d,)`` float64 mean.
        covariance: ``(d, d)`` float64 unbiased covariance (``ddof=1``, as
            ``np.cov``).

    Example:

    >>> stats = FeatureStatistics()
    >>> for batch in real_images_batches:
    ...     stats.update(feature_extractor(batch))
    >>> stats.save("mnist_train_stats.npz")   # reuse: FeatureStatistics.load(path)
    >>> frechet_distance(stats, fake_stats)

    References:
        Chan, Golub & LeVeque, "Updating Formulae and a Pairwise Algorithm for
        Computing Sample Variances", 1979.
    """

    def __init__(self, num_features=None):
        if num_features is not None:
            num_features = _check_positive_int("num_features", num_features)
        self.num_features = num_features
        self.reset()

    def reset(self):
        self.count = 0
        d = self.num_features
        self._mean = None if d is None else np.zeros((d,), np.float64)
        self._comoment = None if d is None else np.zeros((d, d), np.float64)

    def update(self, features):
        """Add a batch of feature vectors ``(batch, d)``; returns ``self``."""
        x = _as_features(features, "features")
        if self.num_features is None:
            self.num_features = x.shape[1]
            self._mean = np.zeros((self.num_features,), np.float64)
            self._comoment = np.zeros((self.num_features, self.num_features), np.float64)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"FeatureStatistics holds {self.num_features} features; the batch has "
                f"{x.shape[1]}. Received: shape={x.shape}"
            )
        n_b = x.shape[0]
        if n_b == 0:
            return self
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        comoment_b = centred.T @ centred
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._comoment = self._comoment + comoment_b + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n
        return self

    def merge(self, other):
        """Combine with the statistics of another ``FeatureStatistics``; returns ``self``."""
        if not isinstance(other, FeatureStatistics):
            raise ValueError(f"merge expects a FeatureStatistics. Received: {type(other).__name__}")
        if other.count == 0:
            return self
        if self.count == 0:
            self.num_features = other.num_features
            self._mean = other._mean.copy()
            self._comoment = other._comoment.copy()
            self.count = other.count
            return self
        if other.num_features != self.num_features:
            raise ValueError(
                f"Cannot merge statistics of {other.num_features} features into "
                f"{self.num_features}."
            )
        n_a, n_b = self.count, other.count
        n = n_a + n_b
        delta = other._mean - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._comoment = self._comoment + other._comoment + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n
        return self

    def save(self, path):
        """Write the statistics to a ``.npz`` file (e.g. a dataset's reference statistics)."""
        if self.count == 0:
            raise ValueError("FeatureStatistics is empty: nothing to save.")
        np.savez(path, count=np.int64(self.count), mean=self._mean, comoment=self._comoment)

    @classmethod
    def load(cls, path):
        """Read statistics written by :meth:`save`."""
        with np.load(path) as data:
            if set(data.files) != {"count", "mean", "comoment"}:
                raise ValueError(f"{path} is not a FeatureStatistics file. Found: {data.files}")
            stats = cls(int(data["mean"].shape[0]))
            stats.count = int(data["count"])
            stats._mean = data["mean"].astype(np.float64)
            stats._comoment = data["comoment"].astype(np.float64)
        return stats

    @property
    def mean(self):
        if self.count == 0:
            raise ValueError("FeatureStatistics is empty: call update() with features first.")
        return self._mean.copy()

    @property
    def covariance(self):
        if self.count < 2:
            raise ValueError(
                "The covariance needs at least 2 feature vectors. Received: "
                f"count={self.count}"
            )
        return self._comoment / (self.count - 1)

    def __repr__(self):
        return f"FeatureStatistics(count={self.count}, num_features={self.num_features})"


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

    Raises:
        ValueError: for mismatched shapes or non-finite values.
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

    >>> fd = frechet_distance(encoder.predict(x_real), encoder.predict(x_fake))

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


# =====================================================================
# Feature extraction (streaming over batches)
# =====================================================================
def _iterate_batches(data, batch_size, name):
    """Yield NumPy-convertible batches from an array/tensor or an iterable of batches."""
    if isinstance(data, (np.ndarray, list)) or hasattr(data, "shape"):
        arr = data if hasattr(data, "shape") else np.asarray(data)
        if len(arr.shape) < 1 or arr.shape[0] == 0:
            raise ValueError(f"{name} is empty. Received: shape={tuple(arr.shape)}")
        for start in range(0, arr.shape[0], batch_size):
            yield arr[start:start + batch_size]
        return
    try:
        iterator = iter(data)
    except TypeError:
        raise ValueError(
            f"{name} must be an array of examples or an iterable of batches (e.g. a "
            f"tf.data.Dataset). Received: {type(data).__name__}"
        ) from None
    for batch in iterator:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]  # (x, y) datasets: the images
        yield batch


def _features_of(feature_extractor, batch):
    if isinstance(feature_extractor, keras.Model):
        out = feature_extractor.predict_on_batch(batch)
    elif isinstance(feature_extractor, keras.layers.Layer):
        out = feature_extractor(batch, training=False)
    else:
        out = feature_extractor(batch)
    if isinstance(out, (tuple, list)):
        out = out[0]  # e.g. VAE.encode -> (z_mean, z_log_var)
    out = np.asarray(ops.convert_to_numpy(out), np.float64)
    if out.ndim != 2:
        raise ValueError(
            "The feature extractor must return one feature vector per example, "
            f"shape (batch, d). Received: shape={out.shape}. For a convolutional "
            "network, pool spatially (e.g. InceptionV3(include_top=False, "
            "pooling='avg'))."
        )
    return out


def _check_extractor(feature_extractor):
    if not callable(feature_extractor):
        raise ValueError("feature_extractor must be a Keras model or a callable. "
                         f"Received: {type(feature_extractor).__name__}")


def extract_features(data, feature_extractor, batch_size=50):
    """Run ``feature_extractor`` over ``data`` batch by batch; returns ``(n, d)`` float64.

    Args:
        data: array of examples, or an iterable of batches (a ``tf.data``
            dataset; ``(x, y)`` elements use ``x``).
        feature_extractor: a ``keras.Model`` (run with ``predict_on_batch``),
            a layer, or any callable mapping a batch to ``(batch, d)``
            features; a tuple output uses its first element (so
            ``vae.encode`` gives ``z_mean``).
        batch_size: int, examples per call when ``data`` is an array.
    """
    _check_extractor(feature_extractor)
    batch_size = _check_positive_int("batch_size", batch_size)
    feats = [_features_of(feature_extractor, b) for b in _iterate_batches(data, batch_size, "data")]
    if not feats:
        raise ValueError("data yielded no batches.")
    return np.concatenate(feats, axis=0)


def feature_statistics(data, feature_extractor, batch_size=50):
    """Streaming :class:`FeatureStatistics` of ``feature_extractor`` over ``data``.

    Only the running mean and covariance are kept (``O(d^2)`` memory), so
    50,000 images of any size fit. Arguments as :func:`extract_features`.
    """
    _check_extractor(feature_extractor)
    batch_size = _check_positive_int("batch_size", batch_size)
    stats = FeatureStatistics()
    for batch in _iterate_batches(data, batch_size, "data"):
        stats.update(_features_of(feature_extractor, batch))
    return stats


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

    >>> extractor = metrics.inception_v3_feature_extractor((28, 28, 1))
    >>> fid = metrics.frechet_distance_from_images(x_real, gan.sample(10000),
    ...                                            extractor, batch_size=100)

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
        to a Local Nash Equilibrium", NeurIPS 2017.
    """
    stats_real = feature_statistics(real, feature_extractor, batch_size)
    stats_fake = feature_statistics(fake, feature_extractor, batch_size)
    return frechet_distance(stats_real, stats_fake)


def _inception_preprocessing(input_shape, image_size, low, high):
    """Grey to RGB, bilinear resize, rescale ``[low, high]`` to ``[-1, 1]``: ``(inputs, outputs)``."""
    images = keras.Input(input_shape, name="images")
    x = images
    if input_shape[-1] == 1:
        x = keras.layers.Concatenate(axis=-1)([x, x, x])
    x = keras.layers.Resizing(image_size, image_size, interpolation="bilinear")(x)
    x = keras.layers.Rescaling(2.0 / (high - low), offset=-1.0 - 2.0 * low / (high - low))(x)
    return images, x


def inception_v3_feature_extractor(input_shape, weights="imagenet", image_size=299,
                                   input_range=(0.0, 1.0)):
    """InceptionV3 pool-3 (2048-d) features for FID / KID, as a ``keras.Model``.

    Grey images are repeated to RGB, resized bilinearly to ``image_size`` and
    rescaled from ``input_range`` to ``[-1, 1]`` (InceptionV3's
    preprocessing) before ``keras.applications.InceptionV3(include_top=False,
    pooling="avg")``.

    Note: published FIDs use the original TF1 Inception graph; Keras' ImageNet
    weights give close but not identical numbers, so compare FIDs computed
    with the same extractor only.

    Args:
        input_shape: ``(H, W, C)`` of the images, ``C`` in {1, 3}.
        weights: ``"imagenet"`` (downloaded once by Keras), a path to a weights
            file, or None (random weights: only for tests).
        image_size: int >= 75, the side the images are resized to (299 for FID).
        input_range: ``(low, high)`` of the input pixel values.

    Returns:
        A functional ``keras.Model`` mapping ``(batch,) + input_shape`` to
        ``(batch, 2048)``.

    Example:

    >>> extractor = inception_v3_feature_extractor((28, 28, 1), weights="imagenet")
    >>> fid = frechet_distance_from_images(x_real, x_fake, extractor)
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError("input_shape must be (height, width, channels) with 1 or 3 channels. "
                         f"Received: input_shape={input_shape}")
    image_size = _check_positive_int("image_size", image_size)
    if image_size < 75:
        raise ValueError(f"InceptionV3 needs image_size >= 75. Received: image_size={image_size}")
    low, high = (float(v) for v in input_range)
    if not high > low:
        raise ValueError(f"input_range must be (low, high) with high > low. "
                         f"Received: input_range={input_range}")
    images, x = _inception_preprocessing(input_shape, image_size, low, high)
    base = keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=weights,
        input_shape=(image_size, image_size, 3),
    )
    return keras.Model(images, base(x), name="inception_v3_features")


# =====================================================================
# Kernel (MMD) distance, KID
# =====================================================================
KernelDistance = collections.namedtuple("KernelDistance", ["mean", "std"])


def polynomial_kernel(x, y, degree=3, gamma=None, coef0=1.0):
    """``(gamma * x . y + coef0) ** degree`` in float64; ``gamma`` defaults to ``1 / d``."""
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

    >>> kid = kernel_distance(real_features, fake_features, num_subsets=100,
    ...                       subset_size=1000, seed=0)
    >>> print(f"KID = {kid.mean:.4f} +- {kid.std:.4f}")

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
    num_subsets = _check_positive_int("num_subsets", num_subsets)
    subset_size = _check_positive_int("subset_size", subset_size)
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
    ``kwargs`` go to :func:`kernel_distance`.
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

    >>> angles = np.arange(8) * 2 * np.pi / 8
    >>> centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], -1)
    >>> mode_coverage(gan.sample(2500), centers, std=0.02)["mode_coverage"]

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
    min_samples = _check_positive_int("min_samples", min_samples)
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


# =====================================================================
# Likelihood: NLL, bits per dimension, importance sampling
# =====================================================================
def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params  # not **kwargs: TFP's log_prob(x, **kwargs) forwards them


def _model_log_probs(model, x, batch_size):
    log_prob = getattr(model, "log_prob", None)
    if not callable(log_prob):
        hint = (" It has log_likelihood: use metrics.importance_sampled_log_likelihood."
                if hasattr(model, "log_likelihood") else "")
        raise ValueError(f"The model must have a log_prob(x) method. Received: "
                         f"{type(model).__name__}.{hint}")
    batch_size = _check_positive_int("batch_size", batch_size)
    x = np.asarray(x)
    if _accepts(log_prob, "batch_size"):
        values = log_prob(x, batch_size=batch_size)
    else:
        values = np.concatenate([
            np.reshape(ops.convert_to_numpy(log_prob(x[s:s + batch_size])), (-1,))
            for s in range(0, len(x), batch_size)
        ])
    return np.asarray(ops.convert_to_numpy(values), np.float64)


def _log_probs(model_or_log_probs, x, batch_size):
    if x is None:
        values = np.asarray(ops.convert_to_numpy(model_or_log_probs), np.float64)
    else:
        values = _model_log_probs(model_or_log_probs, x, batch_size)
        if values.shape != (len(x),):
            raise ValueError(f"log_prob must return one value per example, shape ({len(x)},). "
                             f"Received: shape={values.shape}")
    if values.ndim != 1 or values.shape[0] == 0:
        raise ValueError("log-probabilities must be a non-empty (n,) array. "
                         f"Received: shape={values.shape}")
    if np.any(np.isnan(values)):
        raise ValueError("log-probabilities contain NaN.")
    return values


def nll(model_or_log_probs, x=None, batch_size=256):
    """Mean negative log-likelihood in nats per example.

    Args:
        model_or_log_probs: either an ``(n,)`` array of per-example
            ``log p(x)`` (nats), or, with ``x``, a model with a
            ``log_prob(x)`` method (``keras_genmodels`` density models, a
            ``tfp.distributions.Distribution``...).
        x: the examples, when the first argument is a model.
        batch_size: int, examples per ``log_prob`` call.

    Returns:
        Python float, ``-mean(log p(x))``.

    Raises:
        ValueError: for a model without ``log_prob`` or malformed values.

    Example:

    >>> metrics.nll(pixelcnn, x_test)          # nats
    >>> metrics.nll(vae.log_likelihood(x_test, num_samples=5000))
    """
    return float(-np.mean(_log_probs(model_or_log_probs, x, batch_size)))


def bits_per_dim(model_or_log_probs, x=None, num_dims=None, batch_size=256):
    """Mean negative log-likelihood in bits per dimension: ``nll / (D ln 2)``.

    ``D`` is ``num_dims`` when given, else the number of values per example
    of ``x`` (``prod(x.shape[1:])``), else ``model.num_dims``.

    Args:
        model_or_log_probs, x, batch_size: as :func:`nll`.
        num_dims: int, the number of dimensions ``D`` (required with an array
            of log-probabilities).

    Example:

    >>> metrics.bits_per_dim(pixelcnn, x_test)
    >>> metrics.bits_per_dim(log_probs, num_dims=784)
    """
    if num_dims is None:
        if x is not None:
            num_dims = int(np.prod(np.shape(x)[1:]))
        else:
            num_dims = getattr(model_or_log_probs, "num_dims", None)
        if num_dims is None:
            raise ValueError("bits_per_dim needs num_dims when given log-probabilities.")
    num_dims = _check_positive_int("num_dims", num_dims)
    return nll(model_or_log_probs, x, batch_size) / (num_dims * math.log(2.0))


def _standard_normal_log_prob(z):
    return -0.5 * ops.sum(LOG_2PI + ops.square(z), axis=-1)


def _normal_log_prob(z, mean, log_var):
    return -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)


def importance_sampled_log_likelihood(model, x, num_samples=100, batch_size=100, chunk_size=None,
                                      seed=None, likelihood=None, prior_log_prob=None,
                                      proposal_scale=None):
    """Importance-sampled estimate of ``log p(x)`` per example for latent-variable models.

    ``log p(x) ~= log (1/k) sum_k p(x | z_k) p(z_k) / q(z_k | x)``, ``z_k ~ q(z|x)``:
    a stochastic lower bound that tightens with ``k`` (Burda et al.); exact
    for every ``k`` when ``q`` is the true posterior.

    When the model has its own ``log_likelihood`` (``models.VAE``) and none
    of ``likelihood``/``prior_log_prob``/``proposal_scale`` is given, that
    method is called. Otherwise a generic estimator uses

    - ``model.encode(x)``: ``(z_mean, z_log_var)`` of a diagonal Gaussian
      proposal, or one tensor ``z`` (a deterministic encoder, e.g. an AAE),
      then the proposal is ``N(z, proposal_scale^2 I)``;
    - ``model.decode(z)``: the likelihood's parameters;
    - ``likelihood`` (default ``model.likelihood``) for ``log p(x | z)``;
    - ``prior_log_prob(z) -> (batch,)`` (default standard normal).

    Memory: ``batch_size * chunk_size`` decodes at a time, and the log-mean-exp
    is accumulated over chunks (running max and sum, float64), so
    ``num_samples=5000`` fits.

    Args:
        model: the latent-variable model.
        x: ``(n, ...)`` examples.
        num_samples: int k >= 1.
        batch_size: int, examples per batch.
        chunk_size: int, importance samples decoded at once; default
            ``min(k, max(1, 10000 // batch_size))``.
        seed: int or None.
        likelihood: name or ``Likelihood`` (generic estimator).
        prior_log_prob: callable ``z -> (batch,)`` log-density of the prior.
        proposal_scale: float > 0, proposal std around a deterministic code.

    Returns:
        NumPy ``(n,)`` float64 estimates in nats.

    Raises:
        ValueError: for bad arguments or a model without encode/decode.

    Example:

    >>> ll = metrics.importance_sampled_log_likelihood(vae, x_test, num_samples=5000)
    >>> print("NLL", -ll.mean())

    References:
        Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders",
        ICLR 2016.
        Rezende, Mohamed & Wierstra, "Stochastic Backpropagation and
        Approximate Inference in Deep Generative Models", ICML 2014.
    """
    num_samples = _check_positive_int("num_samples", num_samples)
    batch_size = _check_positive_int("batch_size", batch_size)
    if chunk_size is not None:
        chunk_size = _check_positive_int("chunk_size", chunk_size)
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch of examples. Received: shape={x.shape}")
    generic = likelihood is not None or prior_log_prob is not None or proposal_scale is not None
    own = getattr(model, "log_likelihood", None)
    if callable(own) and not generic:
        kwargs = {"num_samples": num_samples, "batch_size": batch_size, "seed": seed}
        if _accepts(own, "chunk_size"):
            kwargs["chunk_size"] = chunk_size
        return np.asarray(own(x, **kwargs), np.float64)

    for name in ("encode", "decode"):
        if not callable(getattr(model, name, None)):
            raise ValueError(f"The generic importance-sampling estimator needs model.{name}(). "
                             f"Received: {type(model).__name__}")
    from keras_genmodels import likelihoods as likelihoods_lib

    lik = likelihood if likelihood is not None else getattr(model, "likelihood", None)
    if lik is None:
        raise ValueError("Pass likelihood= (the model has no .likelihood attribute).")
    lik = likelihoods_lib.get(lik)
    if proposal_scale is not None and not proposal_scale > 0:
        raise ValueError(f"proposal_scale must be > 0. Received: proposal_scale={proposal_scale}")
    prior = prior_log_prob or _standard_normal_log_prob
    if not callable(prior):
        raise ValueError(f"prior_log_prob must be callable. Received: {prior!r}")
    chunk = chunk_size or min(num_samples, max(1, 10000 // batch_size))
    gen = keras.random.SeedGenerator(seed)
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb = ops.convert_to_tensor(x[start:start + batch_size].astype("float32"))
        lik.validate(xb)
        out.append(_is_batch(model, lik, prior, xb, num_samples, chunk, gen, proposal_scale))
    return np.concatenate(out)


def _is_batch(model, lik, prior, x, k, chunk, gen, proposal_scale):
    code = model.encode(x)
    if isinstance(code, (tuple, list)):
        if len(code) != 2:
            raise ValueError("encode(x) must return (z_mean, z_log_var) or one tensor z. "
                             f"Received {len(code)} outputs.")
        z_mean, z_log_var = (ops.convert_to_tensor(c) for c in code)
        if proposal_scale is not None:
            z_log_var = ops.full_like(z_mean, 2.0 * math.log(proposal_scale))
    else:
        if proposal_scale is None:
            raise ValueError("model.encode returns a single code z (a deterministic encoder); "
                             "pass proposal_scale= for the Gaussian proposal N(z, scale^2).")
        z_mean = ops.convert_to_tensor(code)
        z_log_var = ops.full_like(z_mean, 2.0 * math.log(proposal_scale))
    b = int(z_mean.shape[0])
    running_max = np.full((b,), -np.inf)
    running_sum = np.zeros((b,))
    for start in range(0, k, chunk):
        c = min(chunk, k - start)
        mean = ops.broadcast_to(z_mean[None], (c,) + tuple(z_mean.shape))
        log_var = ops.broadcast_to(z_log_var[None], (c,) + tuple(z_log_var.shape))
        eps = keras.random.normal(ops.shape(mean), seed=gen, dtype=mean.dtype)
        z = mean + ops.exp(0.5 * log_var) * eps
        flat_z = ops.reshape(z, (c * b,) + tuple(z.shape[2:]))
        params = model.decode(flat_z)
        x_rep = ops.reshape(ops.broadcast_to(x[None], (c,) + tuple(x.shape)),
                            (c * b,) + tuple(x.shape[1:]))
        log_px = ops.reshape(lik.log_prob(x_rep, params), (c, b))
        log_pz = ops.reshape(prior(flat_z), (c, b))
        log_qz = _normal_log_prob(z, mean, log_var)
        log_w = np.asarray(ops.convert_to_numpy(log_px + log_pz - log_qz), np.float64)
        # streaming log-sum-exp over chunks
        new_max = np.maximum(running_max, log_w.max(axis=0))
        safe = np.where(np.isfinite(new_max), new_max, 0.0)
        running_sum = (running_sum * np.exp(np.where(np.isfinite(running_max),
                                                     running_max - safe, -np.inf))
                       + np.exp(log_w - safe).sum(axis=0))
        running_max = new_max
    safe = np.where(np.isfinite(running_max), running_max, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(running_sum) + safe - math.log(k)


# =====================================================================
# Divergences (keras.ops; differentiable)
# =====================================================================
def _log_base(base):
    if base is None:
        return 1.0
    base = float(base)
    if not base > 0 or base == 1.0:
        raise ValueError(f"base must be > 0 and != 1 (or None for nats). Received: base={base}")
    return math.log(base)


def _float_tensor(x):
    x = ops.convert_to_tensor(x)
    if "float" not in keras.backend.standardize_dtype(x.dtype):
        x = ops.cast(x, keras.config.floatx())
    return x


def _check_probs(p, name):
    _backend.check(ops.all(p >= 0), f"{name} must be probabilities (>= 0); received negative "
                   "values. Pass from_logits=True for logits.")
    tol = 1e-6 if keras.backend.standardize_dtype(p.dtype) == "float64" else 1e-3
    _backend.check(ops.all(ops.abs(ops.sum(p, axis=-1) - 1.0) <= tol),
                   f"{name} must sum to 1 over the last axis. Pass from_logits=True for logits.")


def _log_probs_from(p, from_logits, name):
    """``(probs, log_probs)`` with log 0 = -inf, validated."""
    p = _float_tensor(p)
    if len(p.shape) == 0:
        raise ValueError(f"{name} must have at least one axis (the outcomes).")
    if from_logits:
        log_p = ops.log_softmax(p, axis=-1)
        return ops.exp(log_p), log_p
    _check_probs(p, name)
    return p, None


def _same_shape(p, q):
    if tuple(p.shape) != tuple(q.shape):
        raise ValueError(f"p and q must have the same shape. Received: {tuple(p.shape)} and "
                         f"{tuple(q.shape)}")


def _kl_terms(p, log_p, q, log_q):
    """Sum over the last axis of p (log p - log q) with 0 log 0 = 0 (gradient-safe)."""
    positive = p > 0
    one = ops.ones_like(p)
    if log_p is None:
        log_p = ops.log(ops.where(positive, p, one))
    else:
        log_p = ops.where(positive, log_p, ops.zeros_like(log_p))
    if log_q is None:
        log_q = ops.log(ops.where(positive, q, one))  # q = 0 where p > 0 -> -inf -> KL = inf
    else:
        log_q = ops.where(positive, log_q, ops.zeros_like(log_q))
    return ops.sum(ops.where(positive, p * (log_p - log_q), ops.zeros_like(p)), axis=-1)


def kl_divergence(p, q, from_logits=False, base=None):
    """``KL(p || q) = sum_i p_i log(p_i / q_i)`` over the last axis.

    Computed stably: terms with ``p_i = 0`` are 0 (``0 log 0 = 0``), the
    result is ``inf`` when ``q_i = 0`` where ``p_i > 0``, and logits go
    through ``log_softmax``. Written in ``keras.ops``: works on tensors in
    any float dtype and is differentiable.

    Args:
        p, q: probability vectors over the last axis (same shape), or logits
            with ``from_logits=True``.
        from_logits: bool.
        base: None (nats) or the logarithm base (2 for bits).

    Returns:
        Tensor of shape ``p.shape[:-1]``.

    Raises:
        ValueError: for negative or unnormalised probabilities or mismatched
            shapes.

    Example:

    >>> kl_divergence([0.5, 0.5], [0.9, 0.1])   # 0.5108 nats

    References:
        Cover & Thomas, "Elements of Information Theory", 2nd ed., ch. 2.
    """
    scale = _log_base(base)
    p, log_p = _log_probs_from(p, from_logits, "p")
    q, log_q = _log_probs_from(q, from_logits, "q")
    _same_shape(p, q)
    q = ops.cast(q, p.dtype)
    log_q = None if log_q is None else ops.cast(log_q, p.dtype)
    return _kl_terms(p, log_p, q, log_q) / scale


def entropy(p, from_logits=False, base=None):
    """Shannon entropy ``-sum_i p_i log p_i`` over the last axis (``0 log 0 = 0``).

    Args:
        p: probabilities over the last axis, or logits with ``from_logits=True``.
        from_logits: bool.
        base: None (nats) or the logarithm base.

    Returns:
        Tensor of shape ``p.shape[:-1]``.

    Example:

    >>> entropy([0.25] * 4, base=2)   # 2 bits
    """
    scale = _log_base(base)
    p, log_p = _log_probs_from(p, from_logits, "p")
    positive = p > 0
    if log_p is None:
        log_p = ops.log(ops.where(positive, p, ops.ones_like(p)))
    terms = ops.where(positive, p * log_p, ops.zeros_like(p))
    return -ops.sum(terms, axis=-1) / scale


def jensen_shannon(p, q, from_logits=False, base=None):
    """Jensen-Shannon divergence ``KL(p || m) / 2 + KL(q || m) / 2``, ``m = (p + q) / 2``.

    Symmetric, zero iff ``p = q``, always finite, and bounded by ``log 2``
    (1 bit with ``base=2``). The GAN value function at the optimal
    discriminator is ``2 JS(p_data || p_g) - log 4`` (Goodfellow et al.).

    Args:
        p, q: probabilities over the last axis, or logits with
            ``from_logits=True``.
        from_logits: bool.
        base: None (nats) or the logarithm base (2 bounds it by 1).

    Returns:
        Tensor of shape ``p.shape[:-1]``.

    Example:

    >>> jensen_shannon([1.0, 0.0], [0.0, 1.0], base=2)   # 1.0 (disjoint supports)

    References:
        Lin, "Divergence measures based on the Shannon entropy", IEEE Trans.
        Inf. Theory, 1991. Goodfellow et al., "Generative Adversarial Nets",
        NeurIPS 2014.
    """
    scale = _log_base(base)
    p, log_p = _log_probs_from(p, from_logits, "p")
    q, log_q = _log_probs_from(q, from_logits, "q")
    _same_shape(p, q)
    q = ops.cast(q, p.dtype)
    m = 0.5 * (p + q)
    log_m = None
    if from_logits:
        log_q = ops.cast(log_q, p.dtype)
        # logsumexp of the pair, not ops.logaddexp: Keras' torch logaddexp
        # computes in float32 whatever the inputs' dtype.
        log_m = ops.logsumexp(ops.stack([log_p, log_q]), axis=0) - math.log(2.0)
    kl_pm = _kl_terms(p, log_p, m, log_m)
    kl_qm = _kl_terms(q, log_q, m, log_m)
    return 0.5 * (kl_pm + kl_qm) / scale


def gaussian_kl(mean1, log_var1, mean2, log_var2):
    """Closed-form ``KL(N(mean1, diag e^log_var1) || N(mean2, diag e^log_var2))``.

    Summed over the last axis (a diagonal multivariate Gaussian; use a last
    axis of size 1 for scalars). Uses
    :func:`keras_genmodels.layers.kl.diagonal_gaussian_kl`.

    Returns:
        Tensor of shape ``mean1.shape[:-1]`` (broadcast).

    Example:

    >>> gaussian_kl(z_mean, z_log_var, 0.0 * z_mean, 0.0 * z_log_var)  # VAE KL term
    """
    mean1 = _float_tensor(mean1)
    if len(mean1.shape) == 0:
        raise ValueError("gaussian_kl needs at least one axis (the dimensions).")
    return ops.sum(diagonal_gaussian_kl(mean1, log_var1, mean2, log_var2), axis=-1)


def gaussian_entropy(log_var):
    """Differential entropy of ``N(mu, diag e^log_var)``: ``0.5 sum(log(2 pi e) + log_var)``.

    Summed over the last axis; in nats.

    Example:

    >>> gaussian_entropy(np.zeros((1, 2)))   # log(2 pi e) = 2.8379
    """
    log_var = _float_tensor(log_var)
    if len(log_var.shape) == 0:
        raise ValueError("gaussian_entropy needs at least one axis (the dimensions).")
    return 0.5 * ops.sum(LOG_2PI + 1.0 + log_var, axis=-1)
