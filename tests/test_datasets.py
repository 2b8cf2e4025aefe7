"""Tests of keras_genmodels.datasets on small synthetic files (no network, no /work/shared)."""

import os

import keras
import numpy as np
import pytest

from keras_genmodels import datasets

SHARED_NPZ = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                          "binarized_mnist_train_valid.npz")


def _binary(n, seed):
    return (np.random.default_rng(seed).random((n, 28, 28)) < 0.3).astype(np.uint8)


@pytest.fixture
def bin_npz(tmp_path):
    train, valid = _binary(5, 0), _binary(3, 1)
    path = tmp_path / "binarized_mnist_train_valid.npz"
    np.savez(path, train=train, valid=valid)
    return path, train, valid


def _write_amat(path, images):
    with open(path, "w") as f:
        for image in images.reshape(len(images), 784):
            f.write(" ".join(str(v) for v in image) + " \n")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)


# ------------------------------------------------------- binarized MNIST
def test_binarized_npz_shapes_values(bin_npz):
    path, train, valid = bin_npz
    for split, ref in (("train", train), ("valid", valid)):
        x = datasets.load_binarized_mnist(split, path=path)
        assert x.shape == (len(ref), 28, 28, 1) and x.dtype == np.float32
        np.testing.assert_array_equal(x[..., 0], ref.astype(np.float32))


def test_binarized_flat_and_4d_layouts(tmp_path):
    ref = _binary(4, 2)
    np.savez(tmp_path / "flat.npz", test=ref.reshape(4, 784))
    np.savez(tmp_path / "four.npz", test=ref[..., None].astype(bool))
    for name in ("flat.npz", "four.npz"):
        x = datasets.load_binarized_mnist("test", path=tmp_path / name)
        np.testing.assert_array_equal(x[..., 0], ref)


def test_binarized_directory_amat_and_npy(tmp_path):
    train, test = _binary(3, 3), _binary(2, 4)
    _write_amat(tmp_path / "binarized_mnist_train.amat", train)
    np.save(tmp_path / "binarized_mnist_test.npy", test)
    np.savez(tmp_path / "binarized_mnist_extra.npz", valid=_binary(2, 5))
    np.testing.assert_array_equal(datasets.load_binarized_mnist("train", tmp_path)[..., 0], train)
    np.testing.assert_array_equal(datasets.load_binarized_mnist("test", tmp_path)[..., 0], test)
    np.testing.assert_array_equal(
        datasets.load_binarized_mnist("valid", tmp_path)[..., 0], _binary(2, 5))


def test_binarized_env_var(bin_npz, monkeypatch):
    path, _, valid = bin_npz
    monkeypatch.setenv(datasets.ENV_VAR, str(path))
    np.testing.assert_array_equal(datasets.load_binarized_mnist("valid")[..., 0], valid)
    monkeypatch.setenv(datasets.ENV_VAR, str(path.parent))
    np.testing.assert_array_equal(datasets.load_binarized_mnist("valid")[..., 0], valid)


def test_parse_amat_exact(tmp_path):
    ref = _binary(3, 6)
    _write_amat(tmp_path / "a.amat", ref)
    out = datasets.parse_amat(tmp_path / "a.amat")
    assert out.dtype == np.uint8 and out.shape == (3, 784)
    np.testing.assert_array_equal(out, ref.reshape(3, 784))


@pytest.mark.parametrize("content", [
    "0 " * 783 + "\n",            # a value short
    "0 " * 783 + "2\n",           # not binary
    "0 " * 782 + "01\n",          # two characters glued together
    "",                           # empty
], ids=["short", "not-binary", "glued", "empty"])
def test_parse_amat_malformed(tmp_path, content):
    path = tmp_path / "bad.amat"
    path.write_text(content)
    with pytest.raises(ValueError, match="bad.amat"):
        datasets.parse_amat(path)


def test_binarized_errors(bin_npz, tmp_path):
    path, _, _ = bin_npz
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load_binarized_mnist("validation", path=path)
    with pytest.raises(ValueError, match=r"does not contain the array\(s\) \['test'\].*train"):
        datasets.load_binarized_mnist("test", path=path)
    np.savez(tmp_path / "grey.npz", train=np.full((2, 28, 28), 7, np.uint8))
    with pytest.raises(ValueError, match="grey.npz.*binary values"):
        datasets.load_binarized_mnist("train", path=tmp_path / "grey.npz")
    np.savez(tmp_path / "shape.npz", train=np.zeros((2, 27, 28), np.uint8))
    with pytest.raises(ValueError, match=r"shape.npz must have shape .*\(2, 27, 28\)"):
        datasets.load_binarized_mnist("train", path=tmp_path / "shape.npz")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="Cannot read .*garbage.npz"):
        datasets.load_binarized_mnist("train", path=tmp_path / "garbage.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz does not exist"):
        datasets.load_binarized_mnist("train", path=tmp_path / "missing.npz")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="binarized_mnist_train.amat"):
        datasets.load_binarized_mnist("train", path=empty)
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(ValueError, match="Unsupported file"):
        datasets.load_binarized_mnist("train", path=tmp_path / "data.csv")


def test_binarized_download_path(tmp_path, monkeypatch):
    """Without a path: get_file with the standard URL, parsed once, cached as .npy."""
    ref = _binary(2, 7)
    amat = tmp_path / "datasets" / "binarized_mnist" / "binarized_mnist_valid.amat"
    amat.parent.mkdir(parents=True)
    _write_amat(amat, ref)
    calls = []

    def fake_get_file(**kwargs):
        calls.append(kwargs)
        return str(amat)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    x = datasets.load_binarized_mnist("valid", cache_dir=str(tmp_path))
    np.testing.assert_array_equal(x[..., 0], ref)
    assert calls[0]["origin"] == (
        "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
        "binarized_mnist_valid.amat")
    assert calls[0]["fname"] == "binarized_mnist_valid.amat"
    assert calls[0]["hash_algorithm"] == "sha256"
    assert calls[0]["cache_dir"] == str(tmp_path)
    cached = amat.with_suffix(".npy")
    assert cached.exists()
    # The second call reads the .npy cache, not the text.
    np.save(cached, np.zeros((1, 784), np.uint8))
    os.utime(cached, (os.path.getmtime(amat) + 10,) * 2)
    assert datasets.load_binarized_mnist("valid", cache_dir=str(tmp_path)).shape == (1, 28, 28, 1)


# --------------------------------------------------------------- MNIST
@pytest.fixture
def mnist_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 6).astype(np.uint8)
    path = tmp_path / "mnist_test_images_labels.npz"
    np.savez(path, x=x, y=y)
    return path, x, y


def test_mnist_grey(mnist_npz):
    path, x_ref, y_ref = mnist_npz
    x, y = datasets.load_mnist("test", path=path)
    assert x.shape == (6, 28, 28, 1) and x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(x[..., 0], x_ref / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, y_ref)
    # the same through the directory form and the environment variable
    x2, _ = datasets.load_mnist("test", path=path.parent)
    np.testing.assert_array_equal(x2, x)


def test_mnist_keras_layout(tmp_path):
    x_train = np.zeros((3, 28, 28), np.uint8)
    x_train[:, 0, 0] = 255
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=np.arange(3),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.arange(1))
    x, y = datasets.load_mnist("train", path=tmp_path)
    assert x.shape == (3, 28, 28, 1) and x[0, 0, 0, 0] == 1.0 and x.sum() == 3
    np.testing.assert_array_equal(y, [0, 1, 2])


def test_mnist_binarize(mnist_npz, monkeypatch):
    path, x_ref, _ = mnist_npz
    monkeypatch.setenv(datasets.ENV_VAR, str(path))
    x, _ = datasets.load_mnist("test", binarize=0.5)
    np.testing.assert_array_equal(x[..., 0], (x_ref / 255.0 > 0.5).astype(np.float32))
    s1, _ = datasets.load_mnist("test", binarize="stochastic", seed=3)
    s2, _ = datasets.load_mnist("test", binarize="stochastic", seed=3)
    np.testing.assert_array_equal(s1, s2)
    assert set(np.unique(s1)) <= {0.0, 1.0}
    # Bernoulli(grey): the mean matches the grey mean (4704 pixels, sd ~0.007)
    assert abs(s1.mean() - x_ref.mean() / 255.0) < 0.03
    with pytest.raises(ValueError, match="binarize must be"):
        datasets.load_mnist("test", binarize="dynamic")


def test_mnist_errors(tmp_path, bin_npz):
    path, _, _ = bin_npz
    with pytest.raises(ValueError, match=r"Expected arrays \['x', 'y'\]"):
        datasets.load_mnist("test", path=path)
    np.savez(tmp_path / "m.npz", x=np.zeros((3, 28, 28), np.uint8), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"labels in .*m.npz must have shape \(3,\)"):
        datasets.load_mnist("test", path=tmp_path / "m.npz")
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load_mnist("valid", path=tmp_path / "m.npz")
    with pytest.raises(FileNotFoundError, match="mnist_train"):
        datasets.load_mnist("train", path=tmp_path)


# ---------------------------------------------------- shipped subset
def test_small_subset():
    train = datasets.load_binarized_mnist_small("train")
    valid = datasets.load_binarized_mnist_small("valid")
    assert train.shape == (10000, 28, 28, 1) and valid.shape == (2000, 28, 28, 1)
    assert train.dtype == np.float32 and valid.dtype == np.float32
    assert set(np.unique(train)) == {0.0, 1.0}
    # binarized MNIST has ~13% ink; the border pixels are empty
    assert 0.10 < train.mean() < 0.16 and 0.10 < valid.mean() < 0.16
    assert train[:, 0, :].sum() == 0
    assert not np.array_equal(train[:2000], valid)
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load_binarized_mnist_small("test")


def test_small_subset_provenance():
    import importlib.resources

    ref = importlib.resources.files("keras_genmodels").joinpath("data", datasets.SMALL_FILE)
    with importlib.resources.as_file(ref) as path, np.load(path) as data:
        assert os.path.getsize(path) < 2 * 1024 * 1024
        assert "Larochelle" in str(data["description"])
        assert data["train"].shape == (10000, 98) and data["train"].dtype == np.uint8


@pytest.mark.skipif(not os.path.exists(SHARED_NPZ), reason="needs the shared full data file")
def test_small_subset_matches_full_data():
    full_train = datasets.load_binarized_mnist("train", path=SHARED_NPZ)
    full_valid = datasets.load_binarized_mnist("valid", path=SHARED_NPZ)
    np.testing.assert_array_equal(datasets.load_binarized_mnist_small("train"), full_train[:10000])
    np.testing.assert_array_equal(datasets.load_binarized_mnist_small("valid"), full_valid[:2000])


def _amat_bytes(images):
    """The .amat text of binary images: 784 '0'/'1' tokens per line, space-separated."""
    flat = np.asarray(images).reshape(len(images), -1).astype(np.uint8)
    text = np.empty((len(flat), 2 * flat.shape[1]), np.uint8)
    text[:, 0::2] = np.where(flat == 1, ord("1"), ord("0"))
    text[:, 1::2] = ord(" ")
    text[:, -1] = ord("\n")
    return text.tobytes()


def test_amat_text_format_round_trips_through_the_parser(tmp_path):
    images = (np.random.default_rng(0).random((3, 28, 28)) > 0.5).astype(np.uint8)
    path = tmp_path / "tiny.amat"
    path.write_bytes(_amat_bytes(images))
    parsed = datasets.parse_amat(str(path))
    np.testing.assert_array_equal(np.asarray(parsed).reshape(3, 28, 28), images)


@pytest.mark.skipif(not os.path.exists(SHARED_NPZ), reason="shared binarized MNIST not present")
def test_download_checksums_match_the_standard_data():
    """The pinned sha256 digests are those of the .amat files holding these arrays."""
    import hashlib

    with np.load(SHARED_NPZ) as data:
        for split in ("train", "valid"):
            digest = hashlib.sha256(_amat_bytes(data[split])).hexdigest()
            assert digest == datasets.BINARIZED_MNIST_SHA256[split], split


def test_train_valid_loader_uses_the_subset_or_the_given_file(tmp_path):
    x_train, x_valid, source = datasets.load_binarized_mnist_train_valid()
    np.testing.assert_array_equal(x_train, datasets.load_binarized_mnist_small("train"))
    np.testing.assert_array_equal(x_valid, datasets.load_binarized_mnist_small("valid"))
    assert "subset" in source
    rng = np.random.default_rng(3)
    arrays = {s: (rng.random((n, 28, 28)) > 0.5).astype(np.uint8) for s, n in (("train", 4), ("valid", 2))}
    path = tmp_path / "bm.npz"
    np.savez(path, **arrays)
    x_train, x_valid, source = datasets.load_binarized_mnist_train_valid(str(path))
    np.testing.assert_array_equal(x_train[..., 0], arrays["train"])
    np.testing.assert_array_equal(x_valid[..., 0], arrays["valid"])
    assert source == str(path)
