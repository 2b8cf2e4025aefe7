import math

import keras
import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.spatial.distance
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_genmodels import likelihoods, metrics, models

tfd = tfp.distributions


def _random_features(rng, n, d, shift=0.0):
    mix = rng.normal(size=(d, d)) / math.sqrt(d)
    return rng.normal(size=(n, d)) @ mix + shift


def _scipy_frechet(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# ============================================================ Frechet
@pytest.mark.parametrize("n_a,n_b,d", [(200, 150, 8), (500, 300, 32), (64, 90, 3)])
def test_frechet_matches_scipy_sqrtm(n_a, n_b, d):
    rng = np.random.default_rng(d)
    a = _random_features(rng, n_a, d)
    b = _random_features(rng, n_b, d, shift=0.3)
    expected = _scipy_frechet(a, b)
    got = metrics.frechet_distance(a, b)
    assert isinstance(got, float)
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    np.testing.assert_allclose(metrics.frechet_distance(b, a), got, rtol=1e-8)


def test_frechet_closed_form_and_zero():
    # Diagonal Gaussians: FD = |m1 - m2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = metrics.frechet_distance_from_moments(m1, np.diag(v1), m2, np.diag(v2))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    x = np.random.default_rng(0).normal(size=(100, 6))
    assert metrics.frechet_distance(x, x) < 1e-9
    # Rank-deficient covariances (n < d) stay finite and non-negative.
    y = np.random.default_rng(1).normal(size=(5, 10))
    assert 0.0 <= metrics.frechet_distance(y, y + 1.0) == pytest.approx(10.0, rel=1e-6)


def test_feature_statistics_save_load(tmp_path):
    x = np.random.default_rng(5).normal(size=(20, 4))
    stats = metrics.FeatureStatistics().update(x)
    path = str(tmp_path / "stats.npz")
    stats.save(path)
    loaded = metrics.FeatureStatistics.load(path)
    assert loaded.count == 20
    np.testing.assert_array_equal(loaded.covariance, stats.covariance)
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    with pytest.raises(ValueError, match="empty"):
        metrics.FeatureStatistics().save(path)


def test_feature_statistics_streaming_equals_numpy():
    rng = np.random.default_rng(3)
    x = _random_features(rng, 103, 7) + 1e6  # large offset: naive E[x^2]-E[x]^2 would fail
    stats = metrics.FeatureStatistics()
    for start in range(0, 103, 10):
        stats.update(x[start:start + 10].astype("float64"))
    assert stats.count == 103
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-8, atol=1e-9)
    half1, half2 = metrics.FeatureStatistics(), metrics.FeatureStatistics(7)
    half1.update(x[:40])
    half2.update(x[40:])
    half1.merge(half2)
    np.testing.assert_allclose(half1.covariance, stats.covariance, rtol=1e-9)
    y = _random_features(rng, 80, 7)
    np.testing.assert_allclose(metrics.frechet_distance(stats, y), metrics.frechet_distance(x, y),
                               rtol=1e-8)


def test_frechet_from_images_streams_with_a_keras_extractor():
    rng = np.random.default_rng(0)
    real = rng.uniform(size=(37, 4, 4, 1)).astype("float32")
    fake = (rng.uniform(size=(29, 4, 4, 1)) ** 2).astype("float32")
    inp = keras.Input((4, 4, 1))
    extractor = keras.Model(inp, keras.layers.Dense(5, activation="tanh")(
        keras.layers.Flatten()(inp)))
    feats_real = ops.convert_to_numpy(extractor(real)).astype("float64")
    feats_fake = ops.convert_to_numpy(extractor(fake)).astype("float64")
    expected = metrics.frechet_distance(feats_real, feats_fake)
    got = metrics.frechet_distance_from_images(real, fake, extractor, batch_size=8)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # tf.data (x, y) batches and a plain callable give the same number.
    ds_real = tf.data.Dataset.from_tensor_slices((real, np.zeros(37))).batch(6)
    got_ds = metrics.frechet_distance_from_images(ds_real, fake, lambda b: extractor(b), 5)
    np.testing.assert_allclose(got_ds, expected, rtol=1e-5)
    np.testing.assert_allclose(metrics.extract_features(real, extractor, 8), feats_real,
                               rtol=1e-5, atol=1e-6)


def test_inception_preprocessing():
    images, out = metrics.features.inception_preprocessing((8, 8, 1), 75, 0.0, 255.0)
    prep = keras.Model(images, out)
    x = np.full((2, 8, 8, 1), 255.0, "float32")
    x[1] = 127.5
    y = ops.convert_to_numpy(prep(x))
    assert y.shape == (2, 75, 75, 3)
    np.testing.assert_allclose(y[0], 1.0, atol=1e-5)
    np.testing.assert_allclose(y[1], 0.0, atol=1e-5)
    with pytest.raises(ValueError, match="image_size"):
        metrics.inception_v3_feature_extractor((8, 8, 1), weights=None, image_size=32)
    with pytest.raises(ValueError, match="channels"):
        metrics.inception_v3_feature_extractor((8, 8, 2), weights=None)
    with pytest.raises(ValueError, match="input_range"):
        metrics.inception_v3_feature_extractor((8, 8, 1), weights=None, input_range=(1, 0))


# The InceptionV3 extractor's output (shape (batch, 2048), finite features) is checked by
# its docstring example, on every backend (tests/test_docstrings.py), and extract_features'
# batching (a last, smaller batch) above: building InceptionV3 dominates, so it is built
# once there rather than again here.


def test_frechet_bad_inputs():
    a = np.zeros((10, 3))
    with pytest.raises(ValueError, match="same number of features"):
        metrics.frechet_distance(a, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="shape"):
        metrics.frechet_distance(np.zeros(10), a)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.frechet_distance(np.zeros((1, 3)), a)
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance(bad, a)
    with pytest.raises(ValueError, match="empty"):
        metrics.FeatureStatistics().mean
    with pytest.raises(ValueError, match="one feature vector per example"):
        metrics.extract_features(np.zeros((4, 2, 2)), lambda b: b, 2)
    with pytest.raises(ValueError, match="callable"):
        metrics.frechet_distance_from_images(a, a, "inception")


# ============================================================ KID
def _loop_mmd2(x, y):
    d = x.shape[1]
    k = lambda u, v: (u @ v / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kernel_distance_matches_pairwise_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(15, 4))
    y = rng.normal(size=(15, 4)) + 0.5
    kid = metrics.kernel_distance(x, y, num_subsets=3, subset_size=15, seed=0)
    # Full sets: every subset is a permutation, so every estimate is the same.
    np.testing.assert_allclose(kid.mean, _loop_mmd2(x, y), rtol=1e-10)
    assert kid.std < 1e-10


def test_kernel_distance_subsets_unbiased_and_reproducible():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 6))
    same = rng.normal(size=(400, 6))
    other = rng.normal(size=(400, 6)) * 1.5 + 0.3
    kid_same = metrics.kernel_distance(a, same, num_subsets=20, subset_size=100, seed=0)
    kid_other = metrics.kernel_distance(a, other, num_subsets=20, subset_size=100, seed=0)
    assert abs(kid_same.mean) < 3 * kid_same.std / math.sqrt(20) + 1e-3
    assert kid_other.mean > 10 * abs(kid_same.mean) and kid_other.mean > 0.1
    again = metrics.kernel_distance(a, other, num_subsets=20, subset_size=100, seed=0)
    assert again == kid_other
    with pytest.raises(ValueError, match="at least 2"):
        metrics.kernel_distance(a[:1], other)
    with pytest.raises(ValueError, match="num_subsets"):
        metrics.kernel_distance(a, other, num_subsets=0)


# ============================================================ mode coverage
def test_mode_coverage_on_ring():
    angles = np.arange(8) * 2 * np.pi / 8
    centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], -1)
    std = 0.05
    good = np.repeat(centers[:6], [10, 10, 10, 10, 5, 5], axis=0) + 0.1  # |offset| = 0.141 < 0.15
    bad = np.array([[0.0, 0.0], [5.0, 5.0], [centers[6, 0] + 0.2, centers[6, 1]]])
    result = metrics.mode_coverage(np.concatenate([good, bad]), centers, std)
    assert result["modes_covered"] == 6 and result["mode_coverage"] == 0.75
    assert result["high_quality_fraction"] == pytest.approx(50 / 53)
    np.testing.assert_array_equal(result["counts"], [10, 10, 10, 10, 5, 5, 0, 0])
    p = np.array([10, 10, 10, 10, 5, 5]) / 50
    assert result["mode_kl"] == pytest.approx(np.sum(p * np.log(p * 8)))
    strict = metrics.mode_coverage(np.concatenate([good, bad]), centers, std, min_samples=6)
    assert strict["modes_covered"] == 4
    with pytest.raises(ValueError, match="std"):
        metrics.mode_coverage(good, centers, -1.0)


# ============================================================ likelihood
class _TableModel:
    """An explicit model with log_prob(x, batch_size=...) and num_dims."""

    num_dims = 3

    def __init__(self):
        self.calls = []

    def log_prob(self, x, batch_size=256):
        self.calls.append(batch_size)
        return -np.sum(np.asarray(x) ** 2, axis=-1) - 1.0


def test_nll_and_bits_per_dim():
    x = np.random.default_rng(0).normal(size=(10, 3))
    model = _TableModel()
    expected = np.mean(np.sum(x ** 2, -1) + 1.0)
    assert metrics.nll(model, x, batch_size=4) == pytest.approx(expected)
    assert model.calls == [4]
    assert metrics.bits_per_dim(model, x) == pytest.approx(expected / (3 * math.log(2)))
    log_probs = model.log_prob(x)
    assert metrics.nll(log_probs) == pytest.approx(expected)
    assert metrics.bits_per_dim(log_probs, num_dims=3) == pytest.approx(expected / (3 * math.log(2)))
    with pytest.raises(ValueError, match="num_dims"):
        metrics.bits_per_dim(log_probs)


def test_nll_of_a_tfp_distribution_batches_itself():
    logits = np.linspace(-2, 2, 6).astype("float32")
    dist = tfd.Independent(tfd.Bernoulli(logits=logits), 1)
    x = (np.random.default_rng(0).uniform(size=(11, 6)) < 0.5).astype("float32")
    expected = -np.mean(dist.log_prob(x).numpy())
    assert metrics.nll(dist, x, batch_size=4) == pytest.approx(expected, rel=1e-6)
    assert metrics.bits_per_dim(dist, x, batch_size=4) == pytest.approx(
        expected / (6 * math.log(2)), rel=1e-6)
    with pytest.raises(ValueError, match="log_prob"):
        metrics.nll(object(), x)


class _LinearGaussian:
    """z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I_3) with orthogonal W: exact posterior is diagonal."""

    def __init__(self, exact_posterior=True):
        q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 2)))
        self.w = (q * np.array([1.5, 0.7])).astype("float64")
        self.b = np.array([0.3, -0.2, 0.1])
        self.s = 0.5
        self.likelihood = likelihoods.Gaussian(scale=self.s)
        prec = np.eye(2) + self.w.T @ self.w / self.s ** 2
        self.post_var = np.diag(np.linalg.inv(prec))
        self.exact = exact_posterior

    def encode(self, x):
        x = ops.convert_to_numpy(x).astype("float64")
        mean = (x - self.b) @ self.w / self.s ** 2 * self.post_var
        log_var = np.log(self.post_var) + (0.0 if self.exact else 1.0)
        mean = mean + (0.0 if self.exact else 0.3)
        return (ops.convert_to_tensor(mean.astype("float32")),
                ops.convert_to_tensor(np.broadcast_to(log_var, mean.shape).astype("float32")))

    def decode(self, z):
        return ops.matmul(z, ops.convert_to_tensor(self.w.T.astype("float32"))) + self.b.astype(
            "float32")

    def exact_log_prob(self, x):
        cov = self.w @ self.w.T + self.s ** 2 * np.eye(3)
        return scipy.stats.multivariate_normal(self.b, cov).logpdf(x)


def test_importance_sampling_exact_with_true_posterior():
    model = _LinearGaussian(exact_posterior=True)
    x = np.random.default_rng(1).normal(size=(7, 3)).astype("float32")
    got = metrics.importance_sampled_log_likelihood(model, x, num_samples=5, batch_size=3, seed=0)
    assert got.shape == (7,) and got.dtype == np.float64
    np.testing.assert_allclose(got, model.exact_log_prob(x), atol=2e-4)


def test_importance_sampling_converges_with_a_poor_proposal():
    model = _LinearGaussian(exact_posterior=False)
    x = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    exact = model.exact_log_prob(x)
    # chunk_size=700 does not divide k: the streaming log-mean-exp handles a partial chunk.
    many = metrics.importance_sampled_log_likelihood(model, x, num_samples=3000, batch_size=2,
                                                     chunk_size=700, seed=0)
    np.testing.assert_allclose(many, exact, atol=0.05)
    # k = 1 is an ELBO sample: on average below log p(x) by KL(q || posterior) > 0.1 here.
    k1 = metrics.importance_sampled_log_likelihood(model, np.tile(x, (500, 1)), num_samples=1,
                                                   batch_size=2000, seed=0)
    assert np.mean(k1) < np.mean(exact) - 0.1


def test_importance_sampling_deterministic_encoder_needs_a_proposal_scale():
    model = _LinearGaussian()

    class Deterministic:
        likelihood = model.likelihood
        decode = staticmethod(model.decode)

        @staticmethod
        def encode(x):
            return model.encode(x)[0]

    x = np.random.default_rng(3).normal(size=(3, 3)).astype("float32")
    with pytest.raises(ValueError, match="proposal_scale"):
        metrics.importance_sampled_log_likelihood(Deterministic(), x, num_samples=2)
    got = metrics.importance_sampled_log_likelihood(
        Deterministic(), x, num_samples=3000, proposal_scale=float(np.sqrt(model.post_var.max())),
        seed=0)
    np.testing.assert_allclose(got, model.exact_log_prob(x), atol=0.05)


def test_importance_sampling_uses_the_vae_method_and_agrees_with_generic():
    encoder, decoder = models.mlp_vae_networks((6,), latent_dim=2, hidden_units=(8,))
    vae = models.VAE(encoder, decoder, likelihood="bernoulli", seed=0)
    x = (np.random.default_rng(0).uniform(size=(5, 6)) < 0.5).astype("float32")
    own = vae.log_likelihood(x, num_samples=10, batch_size=2, seed=3)
    via = metrics.importance_sampled_log_likelihood(vae, x, num_samples=10, batch_size=2, seed=3)
    np.testing.assert_allclose(via, own, rtol=1e-6)
    # Forcing the generic estimator (likelihood=...): with the same seed and chunking it draws
    # the same noise as VAE.log_likelihood, so the two paths (model.encode / decode vs the
    # VAE's own networks, one numerics: importance_sampled_log_likelihood_batch) agree.
    own = vae.log_likelihood(x, num_samples=300, batch_size=3, seed=1)
    generic = metrics.importance_sampled_log_likelihood(vae, x, num_samples=300, batch_size=3,
                                                        seed=1, likelihood="bernoulli")
    np.testing.assert_allclose(generic, own, rtol=1e-5)
    with pytest.raises(ValueError, match="num_samples"):
        metrics.importance_sampled_log_likelihood(vae, x, num_samples=0)
    with pytest.raises(ValueError, match="encode"):
        metrics.importance_sampled_log_likelihood(object(), x, likelihood="bernoulli")


# ============================================================ divergences
def _random_probs(rng, shape):
    logits = rng.normal(size=shape) * 2
    return logits, scipy.special.softmax(logits, axis=-1)


def test_discrete_divergences_match_tfp():
    rng = np.random.default_rng(0)
    lp, p = _random_probs(rng, (3, 4, 5))
    lq, q = _random_probs(rng, (3, 4, 5))
    ref_kl = tfd.kl_divergence(tfd.Categorical(probs=p), tfd.Categorical(probs=q)).numpy()
    ref_h = tfd.Categorical(probs=p).entropy().numpy()
    kl = ops.convert_to_numpy(metrics.kl_divergence(p, q))
    assert kl.shape == (3, 4)
    np.testing.assert_allclose(kl, ref_kl, rtol=1e-10)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.kl_divergence(lp, lq, from_logits=True)),
                               ref_kl, rtol=1e-10)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.entropy(p)), ref_h, rtol=1e-10)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.entropy(lp, from_logits=True)), ref_h,
                               rtol=1e-10)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.entropy(p, base=2)),
                               ref_h / math.log(2), rtol=1e-10)
    # float32 inputs stay float32 and agree to single precision.
    kl32 = metrics.kl_divergence(p.astype("float32"), q.astype("float32"))
    assert kl32.dtype == "float32"
    np.testing.assert_allclose(ops.convert_to_numpy(kl32), ref_kl, rtol=1e-4, atol=1e-6)


def test_kl_and_entropy_with_zeros():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    assert float(metrics.kl_divergence(p, q)) == pytest.approx(math.log(2))
    assert float(metrics.entropy(p)) == pytest.approx(math.log(2))
    assert float(metrics.kl_divergence(q, p)) == np.inf
    assert float(metrics.kl_divergence(p, p)) == 0.0
    # -inf logits are exact zeros.
    logits = np.array([0.0, 0.0, -np.inf])
    assert float(metrics.entropy(logits, from_logits=True)) == pytest.approx(math.log(2))
    assert float(metrics.kl_divergence(logits, np.log(q), from_logits=True)) == pytest.approx(
        math.log(2))


def test_kl_gradient_is_finite_with_zero_probabilities():
    p = tf.constant([[0.7, 0.3, 0.0]], "float64")
    q_logits = tf.Variable([[0.1, -0.4, 0.3]], dtype="float64")
    with tf.GradientTape() as tape:
        value = metrics.kl_divergence(tf.math.log(p), q_logits, from_logits=True)
    grad = tape.gradient(value, q_logits).numpy()
    np.testing.assert_allclose(grad, tf.nn.softmax(q_logits).numpy() - p.numpy(), rtol=1e-10)
    with tf.GradientTape() as tape:
        q = tf.nn.softmax(q_logits)
        value = metrics.kl_divergence(p, q)
    assert np.all(np.isfinite(tape.gradient(value, q_logits).numpy()))


def test_jensen_shannon_properties_and_scipy_reference():
    rng = np.random.default_rng(4)
    lp, p = _random_probs(rng, (6, 5))
    lq, q = _random_probs(rng, (6, 5))
    ref = np.array([scipy.spatial.distance.jensenshannon(a, b, base=2) ** 2 for a, b in zip(p, q)])
    js = ops.convert_to_numpy(metrics.jensen_shannon(p, q, base=2))
    np.testing.assert_allclose(js, ref, rtol=1e-8)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.jensen_shannon(q, p, base=2)), js,
                               rtol=1e-12)
    np.testing.assert_allclose(
        ops.convert_to_numpy(metrics.jensen_shannon(lp, lq, from_logits=True, base=2)), js,
        rtol=1e-8)
    assert np.all(js > 0) and np.all(js <= 1.0)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.jensen_shannon(p, p)), 0.0, atol=1e-15)
    # Disjoint supports: exactly log 2 = 1 bit.
    assert float(metrics.jensen_shannon([1.0, 0.0], [0.0, 1.0], base=2)) == pytest.approx(1.0)
    assert float(metrics.jensen_shannon([1.0, 0.0], [0.0, 1.0])) == pytest.approx(math.log(2))


def test_divergence_input_errors():
    with pytest.raises(ValueError, match=">= 0"):
        metrics.kl_divergence([1.5, -0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.entropy([0.5, 0.6])
    with pytest.raises(ValueError, match="same shape"):
        metrics.jensen_shannon([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="base"):
        metrics.entropy([0.5, 0.5], base=1)


def test_gaussian_closed_forms_match_tfp():
    rng = np.random.default_rng(5)
    m1, m2 = rng.normal(size=(2, 4, 3))
    lv1, lv2 = rng.normal(size=(2, 4, 3))
    ref = tfd.kl_divergence(
        tfd.Independent(tfd.Normal(m1, np.exp(lv1 / 2)), 1),
        tfd.Independent(tfd.Normal(m2, np.exp(lv2 / 2)), 1)).numpy()
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.gaussian_kl(m1, lv1, m2, lv2)), ref,
                               rtol=1e-10)
    ref_h = tfd.Independent(tfd.Normal(m1, np.exp(lv1 / 2)), 1).entropy().numpy()
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.gaussian_entropy(lv1)), ref_h,
                               rtol=1e-10)
    np.testing.assert_allclose(ops.convert_to_numpy(metrics.gaussian_kl(m1, lv1, m1, lv1)), 0.0,
                               atol=1e-12)
