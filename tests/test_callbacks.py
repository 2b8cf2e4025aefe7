"""Tests of keras_genmodels.callbacks: PNG grids, SampleGrid, KLWarmup."""

import glob
import os
import struct
import zlib

import keras
import numpy as np
import pytest

from keras_genmodels import _png, callbacks, models


def decode_png(data):
    """Independent minimal PNG decoder (8-bit grey/RGB, filter 0 lines, no interlace)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, comp, filt, interlace) == (8, 0, 0, 0)
    channels = {0: 1, 2: 3}[color]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + width * channels)
    assert (rows[:, 0] == 0).all()  # filter type None
    return rows[:, 1:].reshape(height, width, channels)


def _expected_grid(pixels, ncols, padding, pad_value):
    """Grid built pixel by pixel, the way the docstring describes it."""
    n, h, w, c = pixels.shape
    nrows = -(-n // ncols)
    grid = np.full((nrows * (h + padding) + padding, ncols * (w + padding) + padding, c),
                   pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        for y in range(h):
            for x in range(w):
                grid[padding + r * (h + padding) + y, padding + col * (w + padding) + x] = pixels[i, y, x]
    return grid


@pytest.mark.parametrize("channels", [1, 3])
def test_save_image_grid_roundtrip(tmp_path, channels):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 4, 3, channels), dtype=np.uint8)
    path = tmp_path / "sub" / "grid.png"
    grid = callbacks.save_image_grid(pixels, str(path), ncols=2, padding=2, pad_value=9)
    expected = _expected_grid(pixels, 2, 2, 9)
    assert grid.shape == (3 * 6 + 2, 2 * 5 + 2, channels)
    np.testing.assert_array_equal(grid, expected)
    np.testing.assert_array_equal(decode_png(path.read_bytes()), expected)


def test_png_decodes_with_pillow(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rgb = np.random.default_rng(1).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    grey = rgb[..., 0]
    _png.write_png(tmp_path / "rgb.png", rgb)
    _png.write_png(tmp_path / "grey.png", grey[..., None])
    with Image.open(tmp_path / "rgb.png") as im:
        assert im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), rgb)
    with Image.open(tmp_path / "grey.png") as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), grey)


def test_value_conversion():
    floats = np.array([0.0, 0.5, 1.0, 1.2, -0.1, 0.2], np.float32).reshape(1, 1, 6)
    grid = callbacks.make_image_grid(floats, padding=0)
    np.testing.assert_array_equal(grid[0, :, 0], [0, 128, 255, 255, 0, 51])
    tanh = np.array([-1.0, 0.0, 1.0]).reshape(1, 1, 3, 1)
    grid = callbacks.make_image_grid(tanh, padding=0, value_range=(-1, 1))
    np.testing.assert_array_equal(grid[0, :, 0], [0, 128, 255])
    bools = np.array([[True, False]]).reshape(1, 1, 2)
    np.testing.assert_array_equal(callbacks.make_image_grid(bools, padding=0)[0, :, 0], [255, 0])
    ints = np.array([[3, 200]], np.int64).reshape(1, 1, 2)
    np.testing.assert_array_equal(callbacks.make_image_grid(ints, padding=0)[0, :, 0], [3, 200])


def test_default_layout_and_empty_cells():
    grid = callbacks.make_image_grid(np.ones((5, 2, 2, 1)), padding=1)
    # ceil(sqrt(5)) = 3 columns, 2 rows; the last cell stays padding
    assert grid.shape == (7, 10, 1)
    assert grid[4:6, 7:9].max() == 0 and grid[4:6, 4:6].min() == 255


@pytest.mark.parametrize("images, kwargs, match", [
    (np.zeros((2, 4, 4, 2)), {}, "shape"),
    (np.zeros((0, 4, 4)), {}, "n >= 1"),
    (np.zeros((4, 4)), {}, "shape"),
    (np.full((1, 2, 2), np.nan), {}, "NaN"),
    (np.full((1, 2, 2), 256), {}, "0..255"),
    (np.zeros((1, 2, 2)), {"ncols": 0}, "ncols"),
    (np.zeros((1, 2, 2)), {"padding": -1}, "padding"),
    (np.zeros((1, 2, 2)), {"value_range": (1, 1)}, "value_range"),
], ids=["channels", "empty", "rank", "nan", "int-range", "ncols", "padding", "value_range"])
def test_grid_errors(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.make_image_grid(images, **kwargs)


def test_encode_png_errors():
    with pytest.raises(ValueError, match="uint8"):
        _png.encode_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="shape"):
        _png.encode_png(np.zeros((2, 2, 4), np.uint8))


# --------------------------------------------------------------- fitting
def _tiny_vae(seed=0):
    encoder, decoder = models.mlp_vae_networks((4, 4, 1), latent_dim=2, hidden_units=(8,))
    vae = models.VAE(encoder, decoder, likelihood="bernoulli", seed=seed)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    return vae


def _binary_data(n=32):
    return (np.random.default_rng(0).random((n, 4, 4, 1)) < 0.4).astype("float32")


def test_sample_grid_in_fit_png_and_tensorboard(tmp_path):
    import tensorflow as tf

    vae = _tiny_vae()
    pattern = str(tmp_path / "s" / "epoch_{epoch:03d}_{loss:.0f}.png")
    cb = callbacks.SampleGrid(pattern, num_samples=6, every=2, seed=5, ncols=3)
    tb = callbacks.SampleGrid(None, num_samples=4, log_dir=str(tmp_path / "tb"), every=5,
                              sample_kwargs={"mode": "mean"})
    history = vae.fit(_binary_data(), epochs=5, batch_size=8, verbose=0, callbacks=[cb, tb])
    losses = history.history["loss"]
    expected_names = [f"epoch_{e:03d}_{losses[e - 1]:.0f}.png" for e in (2, 4)]
    assert [os.path.basename(p) for p in cb.paths] == expected_names
    assert sorted(os.listdir(tmp_path / "s")) == sorted(expected_names)
    # The same seed gives the same picture as sampling directly; the weights
    # changed during epoch 5, so epoch 4's file differs from a grid made now.
    now = cb.make_grid()
    ref = callbacks.make_image_grid(vae.sample(6, seed=5), ncols=3)
    np.testing.assert_array_equal(now, ref)
    assert now.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    written = decode_png(open(cb.paths[-1], "rb").read())
    assert written.shape == now.shape and not np.array_equal(written, now)

    # TensorBoard: one image summary at step 4 (0-based last epoch), in the
    # image plugin's [width, height, png] layout, decoding to the grid.
    files = glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
    assert len(files) == 1
    images = []
    for record in tf.data.TFRecordDataset(files[0]):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
            if value.tag == "samples":
                assert event.step == 4
                assert value.metadata.plugin_data.plugin_name == "images"
                width, height, encoded = tf.make_ndarray(value.tensor)
                images.append((int(width), int(height), tf.io.decode_png(encoded).numpy()))
    assert len(images) == 1
    width, height, image = images[0]
    assert image.shape[:2] == (height, width) == (2 * 5 + 1, 2 * 5 + 1)
    # written after the last epoch: the final weights give the same picture
    np.testing.assert_array_equal(image, tb.make_grid())


def test_sample_grid_flat_samples_and_errors(tmp_path):
    class Flat(keras.Model):
        def sample(self, n, seed=None):
            return np.linspace(0, 1, n * 6).reshape(n, 6).astype("float32")

    model = Flat()
    cb = callbacks.SampleGrid(str(tmp_path / "f.png"), num_samples=2, image_shape=(2, 3, 1))
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0)
    expected = callbacks.make_image_grid(model.sample(2).reshape(2, 2, 3, 1))
    np.testing.assert_array_equal(decode_png((tmp_path / "f.png").read_bytes()), expected)

    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="sample"):
        plain.fit(np.zeros((4, 3)), np.zeros((4, 1)), verbose=0,
                  callbacks=[callbacks.SampleGrid(str(tmp_path / "x.png"))])
    for kwargs, match in [({"num_samples": 0}, "num_samples"), ({"every": 0}, "every"),
                          ({"filepath": None}, "filepath or a log_dir"),
                          ({"sample_kwargs": [1]}, "sample_kwargs"),
                          ({"seed": -1}, "seed")]:
        with pytest.raises(ValueError, match=match):
            callbacks.SampleGrid(**kwargs)


def test_callback_configs_roundtrip():
    for cb in (callbacks.SampleGrid("a/{epoch}.png", num_samples=9, every=3, seed=1,
                                    sample_kwargs={"mode": "sample"}, log_dir="tb", ncols=3,
                                    image_shape=(28, 28, 1), value_range=(-1.0, 1.0)),
               callbacks.KLWarmup(0.1, 0.9, epochs=4, per_step=True)):
        config = keras.saving.serialize_keras_object(cb)
        assert config["registered_name"].startswith("keras_genmodels>")
        clone = keras.saving.deserialize_keras_object(config)
        assert type(clone) is type(cb)
        assert clone.get_config() == cb.get_config()


# ---------------------------------------------------------------- KLWarmup
class _BetaProbe(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.values = []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(float(keras.ops.convert_to_numpy(self.model.beta)))


def test_kl_warmup_per_epoch_drives_the_loss():
    vae = _tiny_vae()
    probe = _BetaProbe()
    history = vae.fit(_binary_data(32), epochs=4, batch_size=8, verbose=0, shuffle=False,
                      callbacks=[callbacks.KLWarmup(0.0, 1.0, epochs=2), probe])
    betas = [0.0, 0.5, 1.0, 1.0]
    np.testing.assert_allclose(probe.values, np.repeat(betas, 4))
    h = history.history
    np.testing.assert_allclose(h["beta"], betas)
    # The compiled step used that beta: loss = recon + beta * kl (epoch means).
    np.testing.assert_allclose(
        h["loss"], np.array(h["reconstruction_loss"]) + np.array(betas) * h["kl_loss"],
        rtol=1e-5)
    assert h["kl_loss"][0] > 0


def test_kl_warmup_per_step_and_resume():
    vae = _tiny_vae()
    probe = _BetaProbe()
    warmup = callbacks.KLWarmup(0.2, 1.0, epochs=2, per_step=True)
    vae.fit(_binary_data(32), epochs=3, batch_size=8, verbose=0, callbacks=[warmup, probe])
    t = np.arange(12) / 4.0
    np.testing.assert_allclose(probe.values, 0.2 + 0.8 * np.minimum(t / 2, 1.0), rtol=1e-6)
    # initial_epoch continues the schedule where it stopped
    probe2 = _BetaProbe()
    vae.fit(_binary_data(32), epochs=2, initial_epoch=1, batch_size=8, verbose=0,
            callbacks=[warmup, probe2])
    np.testing.assert_allclose(probe2.values, 0.2 + 0.8 * np.minimum((4 + np.arange(4)) / 8, 1))


def test_kl_warmup_errors():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="beta"):
        plain.fit(np.zeros((4, 3)), np.zeros((4, 1)), verbose=0,
                  callbacks=[callbacks.KLWarmup()])
    import tensorflow as tf

    vae = _tiny_vae()
    unknown = tf.data.Dataset.from_tensor_slices(_binary_data(16)).filter(
        lambda x: True).batch(8)
    with pytest.raises(ValueError, match="steps"):
        vae.fit(unknown, epochs=1, verbose=0, shuffle=False,
                callbacks=[callbacks.KLWarmup(per_step=True)])
    for kwargs, match in [({"start": -1.0}, "start"), ({"end": "1"}, "end"),
                          ({"epochs": 0}, "epochs"), ({"per_step": 1}, "per_step")]:
        with pytest.raises(ValueError, match=match):
            callbacks.KLWarmup(**kwargs)
