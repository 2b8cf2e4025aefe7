"""Class-conditional Gated PixelCNN on binarized MNIST digits: sample a grid of every class.

    python examples/gated_pixelcnn.py --data data/mnist_test_images_labels.npz \
        --epochs 2 --steps 100 --out out/gated_pixelcnn

``--data`` is an MNIST ``.npz`` with images and labels (``x``/``y`` or
``x_test``/``y_test`` arrays, see ``datasets.load_mnist``); the grey levels are
binarized at 0.5. The first 90% trains, the rest is scored. The dataset yields
``(x, labels)``, so the model conditions on them. Writes
``samples_epoch_XXX.png`` (one row per class) and prints the validation NLL
with the true labels and with shuffled ones (the gap is what the label buys).
"""

import argparse
import os
import time

import numpy as np

from keras_genmodels import callbacks, datasets, models


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="MNIST .npz with images and labels")
    p.add_argument("--split", default="test", help="split of --data to use")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="batches per epoch (default: all)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--num-layers", type=int, default=5)
    p.add_argument("--per-class", type=int, default=4, help="samples per class in the grid")
    p.add_argument("--out", default="out/gated_pixelcnn")
    p.add_argument("--preset", default=None,
                   help="skip training: sample 16 images from this pretrained "
                        "preset (keras_genmodels.models.GatedPixelCNN.presets) into --out")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.preset:
        from keras_genmodels import models as _models, presets as _presets

        return _presets.sample_preset(_models.GatedPixelCNN, args.preset,
                                      os.path.join(args.out, "preset_samples.png"))
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    x, y = datasets.load_mnist(args.split, path=args.data, binarize=0.5)
    n_train = int(0.9 * len(x))
    x_train, y_train, x_valid, y_valid = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    train = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
             .shuffle(10000, seed=args.seed).batch(args.batch_size).repeat())
    steps = args.steps or n_train // args.batch_size
    model = models.GatedPixelCNN((28, 28, 1), filters=args.filters, num_layers=args.num_layers,
                                 num_classes=10, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    labels = np.repeat(np.arange(10), args.per_class)
    grid = callbacks.SampleGrid(
        os.path.join(args.out, "samples_epoch_{epoch:03d}.png"), num_samples=len(labels),
        seed=args.seed, ncols=args.per_class, sample_kwargs={"labels": labels, "verbose": 0})
    start = time.time()
    model.fit(train, epochs=args.epochs, steps_per_epoch=steps, callbacks=[grid])
    print(f"trained {time.time() - start:.0f} s")
    valid = slice(0, 1000)
    nll = -model.log_prob(x_valid[valid], labels=y_valid[valid]).mean()
    shuffled = np.random.default_rng(args.seed).permutation(y_valid[valid])
    nll_wrong = -model.log_prob(x_valid[valid], labels=shuffled).mean()
    print(f"valid NLL with labels: {nll:.2f} nats ({nll / (784 * np.log(2)):.4f} bits/dim); "
          f"with shuffled labels: {nll_wrong:.2f} nats")
    return {"nll": float(nll), "nll_shuffled_labels": float(nll_wrong)}


if __name__ == "__main__":
    main()
