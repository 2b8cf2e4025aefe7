"""Adversarial autoencoder on binarized MNIST with ``models.AAE``.

The codes are shaped by a discriminator into the prior: a standard normal
(default) or, with ``--mixture K``, K Gaussians on a circle in the first two
latent dimensions. Writes sample grids (``callbacks.SampleGrid``), the codes
of the test images (``codes.npz``) and the model (``aae.keras``) to ``--out``.

    # offline: the binarized subset shipped with the package
    python examples/aae_mnist.py --epochs 10
    # grey MNIST from the labelled file, binarized at 0.5, 10-mode prior in 2-D:
    python examples/aae_mnist.py --data data/mnist_test_images_labels.npz \
        --latent-dim 2 --mixture 10 --epochs 20
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import callbacks  # noqa: E402
from keras_genmodels import datasets  # noqa: E402
from keras_genmodels import models  # noqa: E402


def mixture_prior(k, latent_dim, radius=4.0, stddev=0.5):
    """Spec of K Gaussians evenly spaced on a circle (first two dims)."""
    angles = 2 * np.pi * np.arange(k) / k
    means = np.zeros((k, latent_dim))
    means[:, 0], means[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
    return {"type": "gaussian_mixture", "means": means.tolist(), "stddev": stddev}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="grey MNIST .npz (arrays x, y); binarized at 0.5")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (default: one pass)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--latent-dim", type=int, default=8)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--mixture", type=int, default=0, help="K > 0: mixture-of-K prior (latent_dim >= 2)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/aae_mnist")
    p.add_argument("--preset", default=None,
                   help="skip training: sample 16 images from this pretrained "
                        "preset (keras_genmodels.models.AAE.presets) into --out")
    args = p.parse_args(argv)
    if args.preset:
        from keras_genmodels import models as _models, presets as _presets

        return _presets.sample_preset(_models.AAE, args.preset,
                                      os.path.join(args.out, "preset_samples.png"))

    keras.utils.set_random_seed(args.seed)
    if args.data:
        x, _ = datasets.load_mnist("train", path=args.data, binarize=0.5)
        x_test = x[-1000:]
        x = x[:-1000]
    else:
        x = datasets.load_binarized_mnist_small("train")
        x_test = datasets.load_binarized_mnist_small("valid")
    if args.mixture and args.latent_dim < 2:
        raise SystemExit("--mixture needs --latent-dim >= 2")
    prior = mixture_prior(args.mixture, args.latent_dim) if args.mixture else None

    # Gaussian encoder [z_mean, z_log_var] and Bernoulli decoder.
    encoder, decoder = models.mlp_vae_networks((28, 28, 1), args.latent_dim,
                                               hidden_units=(args.hidden, args.hidden),
                                               activation="relu", name="aae")
    z = keras.Input((args.latent_dim,))
    h = keras.layers.Dense(args.hidden, activation="relu")(z)
    h = keras.layers.Dense(args.hidden, activation="relu")(h)
    discriminator = keras.Model(z, keras.layers.Dense(1)(h), name="aae_discriminator")
    aae = models.AAE(encoder, decoder, discriminator, args.latent_dim, prior=prior,
                     likelihood="bernoulli", seed=args.seed)
    aae.compile(r_optimizer=keras.optimizers.Adam(args.lr),
                d_optimizer=keras.optimizers.Adam(args.lr / 2, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(args.lr / 2, beta_1=0.5))

    os.makedirs(args.out, exist_ok=True)
    grid = callbacks.SampleGrid(os.path.join(args.out, "epoch_{epoch:03d}.png"), num_samples=64,
                                seed=0)
    if args.steps is not None:
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=args.seed).repeat()
        fit_args = dict(x=ds.batch(args.batch_size, drop_remainder=True),
                        steps_per_epoch=args.steps, shuffle=False)
    else:
        fit_args = dict(x=x, batch_size=args.batch_size)
    aae.fit(epochs=args.epochs, validation_data=(x_test,), callbacks=[grid], verbose=2, **fit_args)
    codes = keras.ops.convert_to_numpy(aae.encode(x_test))
    np.savez(os.path.join(args.out, "codes.npz"), codes=codes)
    print("test codes: mean", np.round(codes.mean(0), 2), "std", np.round(codes.std(0), 2))
    aae.save(os.path.join(args.out, "aae.keras"))
    print("wrote", grid.paths[-1], "and", os.path.join(args.out, "aae.keras"))


if __name__ == "__main__":
    main()
