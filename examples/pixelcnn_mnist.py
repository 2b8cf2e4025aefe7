"""Train a PixelCNN on binarized MNIST, report exact NLL, sample, and flag outliers.

    python examples/pixelcnn_mnist.py --data data/binarized_mnist_train_valid.npz \
        --epochs 2 --steps 200 --out out/pixelcnn

Without ``--data`` the 12000-image subset shipped with the package is used
(offline). ``--steps`` limits the batches per epoch (a quick run); writes
``samples_epoch_XXX.png`` each epoch and ``samples_final.png``, and prints
the validation NLL (nats and bits/dim) and the anomaly scores of digits vs.
noise images.
"""

import argparse
import os
import time

import numpy as np

from keras_genmodels import callbacks, datasets, models


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="binarized MNIST .npz / directory")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="batches per epoch (default: all)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--num-layers", type=int, default=5)
    p.add_argument("--gated", action="store_true", help="Gated PixelCNN network")
    p.add_argument("--num-samples", type=int, default=16)
    p.add_argument("--valid", type=int, default=1000, help="validation images scored")
    p.add_argument("--out", default="out/pixelcnn_mnist")
    p.add_argument("--preset", default=None,
                   help="skip training: sample 16 images from this pretrained "
                        "preset (keras_genmodels.models.PixelCNN.presets) into --out")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def load(path):
    x_train, x_valid, _ = datasets.load_binarized_mnist_train_valid(path)
    return x_train, x_valid


def main(argv=None):
    args = parse_args(argv)
    if args.preset:
        from keras_genmodels import models as _models, presets as _presets

        return _presets.sample_preset(_models.PixelCNN, args.preset,
                                      os.path.join(args.out, "preset_samples.png"))
    import keras

    keras.utils.set_random_seed(args.seed)
    x_train, x_valid = load(args.data)
    x_valid = x_valid[: args.valid]
    model = models.PixelCNN((28, 28, 1), filters=args.filters, num_layers=args.num_layers,
                            likelihood="bernoulli", gated=args.gated, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    grid = callbacks.SampleGrid(os.path.join(args.out, "samples_epoch_{epoch:03d}.png"),
                                num_samples=args.num_samples, seed=args.seed,
                                sample_kwargs={"verbose": 0})
    start = time.time()
    model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size,
              steps_per_epoch=args.steps, validation_data=(x_valid,), callbacks=[grid])
    train_s = time.time() - start
    nll = -model.log_prob(x_valid).mean()
    print(f"valid NLL: {nll:.2f} nats ({nll / (784 * np.log(2)):.4f} bits/dim), "
          f"trained {train_s:.0f} s")

    start = time.time()
    samples = model.sample(args.num_samples, seed=args.seed)
    print(f"sampled {args.num_samples} images in {time.time() - start:.1f} s")
    callbacks.save_image_grid(samples, os.path.join(args.out, "samples_final.png"))

    # Anomaly scores (-log p, higher = more anomalous): digits vs. random noise.
    rng = np.random.default_rng(args.seed)
    noise = (rng.random((100, 28, 28, 1)) < x_valid.mean()).astype("float32")
    digit_scores = model.anomaly_score(x_valid[:100])
    noise_scores = model.anomaly_score(noise)
    auc = (noise_scores[:, None] > digit_scores[None, :]).mean()
    print(f"anomaly score: digits {digit_scores.mean():.1f}, noise {noise_scores.mean():.1f} "
          f"nats; AUROC(noise vs digits) = {auc:.3f}")
    return {"nll": float(nll), "auroc": float(auc)}


if __name__ == "__main__":
    main()
