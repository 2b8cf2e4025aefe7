"""DCGAN (optionally conditional) on MNIST with ``models.GAN`` and ``model.fit``.

Writes a PNG grid of samples after every epoch (``callbacks.SampleGrid``) and
the trained model (``gan.keras``) to ``--out``.

    # offline, with the labelled MNIST file shipped beside the repository:
    python examples/gan_mnist.py --data data/mnist_test_images_labels.npz --epochs 5
    # a conditional WGAN-GP with an EMA generator, 200 steps per epoch:
    python examples/gan_mnist.py --data data/mnist_test_images_labels.npz \
        --conditional --loss wasserstein --d-steps 5 --ema 0.999 --steps 200

Without ``--data`` the images come from ``datasets.load_mnist("train")``
(``$KERAS_GENMODELS_DATA`` or a checksummed download).
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from keras_genmodels import callbacks  # noqa: E402
from keras_genmodels import datasets  # noqa: E402
from keras_genmodels import models  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="MNIST .npz (arrays x, y) or directory")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=None, help="steps per epoch (default: one pass)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--loss", default="non_saturating")
    p.add_argument("--d-steps", type=int, default=1)
    p.add_argument("--ema", type=float, default=None)
    p.add_argument("--conditional", action="store_true")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/gan_mnist")
    p.add_argument("--preset", default=None,
                   help="skip training: sample 16 images from this pretrained "
                        "preset (keras_genmodels.models.GAN.presets) into --out")
    args = p.parse_args(argv)
    if args.preset:
        from keras_genmodels import models as _models, presets as _presets

        return _presets.sample_preset(_models.GAN, args.preset,
                                      os.path.join(args.out, "preset_samples.png"))

    keras.utils.set_random_seed(args.seed)
    x, y = datasets.load_mnist("train", path=args.data)
    x = x * 2.0 - 1.0  # tanh range
    num_classes = 10 if args.conditional else None
    generator = models.dcgan_generator((28, 28, 1), args.latent_dim, base_filters=args.filters,
                                       num_classes=num_classes)
    discriminator = models.dcgan_discriminator((28, 28, 1), base_filters=args.filters,
                                               num_classes=num_classes)
    gan = models.GAN(generator, discriminator, args.latent_dim, loss=args.loss,
                     d_steps=args.d_steps, ema=args.ema, num_classes=num_classes, seed=args.seed)
    gan.compile(d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5))

    data = (x, y.astype("int32")) if args.conditional else (x,)
    steps = args.steps
    if steps is not None:
        # Repeat the arrays so that any number of steps per epoch is available.
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices(data if len(data) > 1 else data[0])
        ds = ds.shuffle(len(x), seed=args.seed).repeat().batch(args.batch_size, drop_remainder=True)
        fit_args = dict(x=ds, steps_per_epoch=steps)
    else:
        fit_args = dict(x=data[0], y=data[1] if len(data) > 1 else None, batch_size=args.batch_size)
    os.makedirs(args.out, exist_ok=True)
    grid = callbacks.SampleGrid(os.path.join(args.out, "epoch_{epoch:03d}.png"), num_samples=64,
                                seed=0, value_range=(-1.0, 1.0))
    gan.fit(epochs=args.epochs, callbacks=[grid], verbose=2, shuffle=steps is None, **fit_args)
    gan.save(os.path.join(args.out, "gan.keras"))
    print("wrote", grid.paths[-1], "and", os.path.join(args.out, "gan.keras"))


if __name__ == "__main__":
    main()
