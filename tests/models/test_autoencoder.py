import os

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import likelihoods, metrics, models

D, CODE = 6, 2


def _networks(hidden=0, code=CODE, dim=D, activation=None):
    x = keras.Input((dim,))
    h = keras.layers.Dense(hidden, activation="tanh")(x) if hidden else x
    encoder = keras.Model(x, keras.layers.Dense(code, activation=activation)(h), name="enc")
    z = keras.Input((code,))
    h = keras.layers.Dense(hidden, activation="tanh")(z) if hidden else z
    decoder = keras.Model(z, keras.layers.Dense(dim)(h), name="dec")
    return encoder, decoder


def _numpy_forward(ae, x):
    """Linear encoder/decoder in float64 NumPy."""
    (w1, b1), (w2, b2) = (
        [w.numpy().astype("float64") for w in net.weights] for net in (ae.encoder, ae.decoder)
    )
    return (x.astype("float64") @ w1 + b1) @ w2 + b2


@pytest.mark.all_backends
def test_mse_loss_matches_numpy():
    ae = models.Autoencoder(*_networks(), loss="mse")
    x = np.random.default_rng(0).normal(size=(5, D)).astype("float32")
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.5], "float32")
    per_example = ((x - _numpy_forward(ae, x)) ** 2).sum(axis=1)
    values = {k: float(ops.convert_to_numpy(v))
              for k, v in ae.compute_losses(ops.convert_to_tensor(x)).items()}
    np.testing.assert_allclose(values["reconstruction_loss"], per_example.mean(), rtol=1e-5)
    np.testing.assert_allclose(values["loss"], per_example.mean(), rtol=1e-5)
    weighted = ae.compute_losses(ops.convert_to_tensor(x), sample_weight=w)
    np.testing.assert_allclose(float(ops.convert_to_numpy(weighted["loss"])),
                               (per_example * w).sum() / w.sum(), rtol=1e-5)
    np.testing.assert_allclose(ae.anomaly_score(x, batch_size=2), per_example, rtol=1e-5)
    np.testing.assert_allclose(ae.reconstruct(x), _numpy_forward(ae, x), rtol=1e-5, atol=1e-6)
    # evaluate reports the same number through the metrics trackers.
    ae.compile(optimizer="sgd")
    result = ae.evaluate(x, batch_size=5, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["reconstruction_loss"], per_example.mean(), rtol=1e-5)
    result = ae.evaluate(x, sample_weight=w, batch_size=5, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], (per_example * w).sum() / w.sum(), rtol=1e-5)


@pytest.mark.all_backends
def test_likelihood_loss_matches_numpy_bernoulli():
    ae = models.Autoencoder(*_networks(), loss="bernoulli")
    assert isinstance(ae.likelihood, likelihoods.Bernoulli)
    x = (np.random.default_rng(1).uniform(size=(4, D)) < 0.5).astype("float32")
    logits = _numpy_forward(ae, x)
    nll = (np.logaddexp(0.0, logits) - x * logits).sum(axis=1)
    np.testing.assert_allclose(ae.anomaly_score(x), nll, rtol=1e-5)
    np.testing.assert_allclose(ae.reconstruct(x), 1.0 / (1.0 + np.exp(-logits)), rtol=1e-5)
    with pytest.raises(ValueError, match="binary"):
        ae.anomaly_score(x + 0.3)
    ae.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="binary"):
        ae.fit(x + 0.3, batch_size=4, epochs=1, verbose=0)


def test_anomaly_scores_flag_out_of_distribution_inputs():
    rng = np.random.default_rng(3)
    direction = rng.normal(size=(1, D))
    train = (rng.normal(size=(512, 1)) @ direction + 0.05 * rng.normal(size=(512, D)))
    ae = models.Autoencoder(*_networks(hidden=16, code=1), loss="mse")
    ae.compile(optimizer=keras.optimizers.Adam(0.02))
    history = ae.fit(train.astype("float32"), batch_size=128, epochs=25, verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss"}
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    inliers = rng.normal(size=(100, 1)) @ direction + 0.05 * rng.normal(size=(100, D))
    outliers = rng.normal(size=(100, D))  # off the training line
    s_in = ae.anomaly_score(inliers.astype("float32"))
    s_out = ae.anomaly_score(outliers.astype("float32"))
    auroc = (s_out[:, None] > s_in[None, :]).mean()
    assert auroc > 0.95, auroc
    assert np.median(s_out) > 10 * np.median(s_in)


def test_encoder_is_a_feature_extractor():
    ae = models.Autoencoder(*_networks(), loss="mse")
    x = np.random.default_rng(4).normal(size=(30, D)).astype("float32")
    y = x + 1.0
    codes_x = ops.convert_to_numpy(ae.encode(x))
    codes_y = ops.convert_to_numpy(ae.encode(y))
    expected = metrics.frechet_distance(codes_x, codes_y)
    np.testing.assert_allclose(metrics.frechet_distance_from_images(x, y, ae.encode, 7), expected,
                               rtol=1e-5)
    np.testing.assert_allclose(metrics.frechet_distance_from_images(x, y, ae.encoder, 7), expected,
                               rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(ae.decode(codes_x)), ae.reconstruct(x),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["mse", "bernoulli"])
def test_keras_round_trip(tmp_path, loss):
    ae = models.Autoencoder(*_networks(hidden=4), loss=loss, name="ae")
    x = (np.random.default_rng(5).uniform(size=(16, D)) < 0.5).astype("float32")
    if loss == "mse":  # with optimizer state
        ae.compile(optimizer="adam")
        ae.fit(x, batch_size=8, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "ae.keras")
    ae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, models.Autoencoder)
    assert loaded.get_config()["loss"] == ae.get_config()["loss"]
    assert (loaded.likelihood is None) == (loss == "mse")
    for a, b in zip(ae.weights, loaded.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    np.testing.assert_array_equal(loaded.anomaly_score(x), ae.anomaly_score(x))
    np.testing.assert_array_equal(loaded.reconstruct(x), ae.reconstruct(x))
    if loss != "mse":
        return
    # Training resumes from the restored optimizer state: identical next step.
    ae.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(loaded.anomaly_score(x), ae.anomaly_score(x), rtol=1e-6)


def test_likelihood_object_in_config():
    lik = likelihoods.Gaussian(scale=0.5)
    ae = models.Autoencoder(*_networks(), loss=lik)
    restored = models.Autoencoder.from_config(ae.get_config())
    assert isinstance(restored.likelihood, likelihoods.Gaussian)
    assert restored.likelihood.scale == 0.5


def test_bad_arguments_and_data():
    encoder, decoder = _networks()
    with pytest.raises(ValueError, match="keras.Model"):
        models.Autoencoder(lambda x: x, decoder)
    with pytest.raises(ValueError, match="loss"):
        models.Autoencoder(encoder, decoder, loss="hinge")
    x = keras.Input((D,))
    two = keras.Model(x, [keras.layers.Dense(2)(x), keras.layers.Dense(2)(x)])
    with pytest.raises(ValueError, match="one output"):
        models.Autoencoder(two, decoder)
    ae = models.Autoencoder(encoder, decoder)
    with pytest.raises(ValueError, match="NaN"):
        ae.anomaly_score(np.full((2, D), np.nan, "float32"))
    z = keras.Input((CODE,))
    wrong = keras.Model(z, keras.layers.Dense(D + 1)(z))
    with pytest.raises(ValueError, match="shape of x"):
        models.Autoencoder(encoder, wrong).anomaly_score(np.zeros((2, D), "float32"))
    with pytest.raises(ValueError, match="batch_size"):
        ae.anomaly_score(np.zeros((2, D), "float32"), batch_size=0)
