"""Class-conditional GAN on MNIST digits: ask for a digit, get that digit.

The dataset yields ``(images, labels)``; ``models.dcgan_generator(...,
num_classes=10)`` takes ``[z, labels]`` (a learned label embedding joined to
``z``) and ``models.dcgan_discriminator(..., num_classes=10)`` takes
``[x, labels]`` (a learned label map joined to the image channels), so
``models.GAN`` trains a conditional GAN (Mirza & Osindero, 2014) with the
non-saturating loss (``--loss`` picks another, e.g. ``hinge``).
``gan.sample(n, labels=...)`` draws the asked classes.

Writes ``samples/epoch_XXX.png`` after every epoch and ``samples.png`` at the
end (one row per class 0..9, ``--per-class`` columns, fixed noise),
``gan.keras`` and ``results.json`` to ``--out``; the last printed line is the
summary as JSON.

Data: ``--data`` an MNIST ``.npz`` with arrays ``x`` (``uint8``) and ``y``
(labels); default ``data/mnist_test_images_labels.npz`` when it
exists, else ``datasets.load_mnist("train")`` (``$KERAS_GENMODELS_DATA`` or a
checksummed download).

    python examples/conditional_gan.py --data data/mnist_test_images_labels.npz \\
        --epochs 5 --steps 300
    python examples/conditional_gan.py --epochs 1 --steps 1 --filters 8   # smoke test
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import callbacks, datasets, models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "data", "mnist_test_images_labels.npz"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="MNIST .npz with arrays x, y")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=300, help="steps per epoch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--loss", default="non_saturating")
    p.add_argument("--per-class", type=int, default=8, help="samples per class in the grids")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--out", default="out/conditional_gan")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    path = args.data or (DEFAULT_DATA if os.path.isfile(DEFAULT_DATA) else None)
    x, y = datasets.load_mnist("train", path=path)
    num_classes = int(y.max()) + 1
    print(f"data: {path or 'datasets.load_mnist'}: {x.shape}, {num_classes} classes")
    x = x * 2.0 - 1.0  # the generator's tanh range
    generator = models.dcgan_generator((28, 28, 1), args.latent_dim, base_filters=args.filters,
                                       num_classes=num_classes)
    discriminator = models.dcgan_discriminator((28, 28, 1), base_filters=args.filters,
                                               num_classes=num_classes)
    gan = models.GAN(generator, discriminator, args.latent_dim, loss=args.loss,
                     num_classes=num_classes, seed=args.seed)
    gan.compile(d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5))
    ds = (tf.data.Dataset.from_tensor_slices((x.astype("float32"), y.astype("int32")))
          .shuffle(len(x), seed=args.seed).repeat()
          .batch(args.batch_size, drop_remainder=True).prefetch(2))
    labels = np.repeat(np.arange(num_classes), args.per_class)
    grid = callbacks.SampleGrid(os.path.join(args.out, "samples", "epoch_{epoch:03d}.png"),
                                num_samples=len(labels), seed=0, ncols=args.per_class,
                                value_range=(-1.0, 1.0), sample_kwargs={"labels": labels})
    start = time.time()
    history = gan.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps, shuffle=False,
                      callbacks=[grid], verbose=2)
    train_seconds = time.time() - start
    logs = {k: float(v[-1]) for k, v in history.history.items()}

    samples_path = os.path.join(args.out, "samples.png")
    callbacks.save_image_grid(gan.sample(len(labels), labels=labels, seed=1), samples_path,
                              ncols=args.per_class, value_range=(-1.0, 1.0))
    model_path = os.path.join(args.out, "gan.keras")
    gan.save(model_path)
    print(f"rows of {samples_path}: classes 0..{num_classes - 1}")
    results = {"example": "conditional_gan", "data": path or "datasets.load_mnist",
               "epochs": args.epochs, "steps_per_epoch": args.steps, "loss": args.loss,
               "train_seconds": round(train_seconds, 1), "d_loss": round(logs["d_loss"], 4),
               "g_loss": round(logs["g_loss"], 4), "d_real": round(logs["d_real"], 4),
               "d_fake": round(logs["d_fake"], 4),
               "files": grid.paths + [samples_path, model_path]}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
