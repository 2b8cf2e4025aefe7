"""WGAN-GP on MNIST: a Wasserstein critic with the gradient penalty (Gulrajani et al., 2017).

``models.GAN(..., loss="wasserstein", gradient_penalty_weight=10, d_steps=5)``
with the DCGAN builders (the critic has no batch normalization, so the
per-example penalty ``10 * (||grad D(x_hat)|| - 1)^2`` on random
interpolates ``x_hat`` is well defined); Adam(1e-4, beta_1=0.5, beta_2=0.9)
as in the paper. ``fit`` shows ``d_loss`` (critic loss + penalty), ``g_loss``
and the mean critic outputs ``d_real`` / ``d_fake``: ``d_real - d_fake`` is
the critic's estimate of the Wasserstein distance, which falls as the
generator improves.

Writes ``samples/epoch_XXX.png`` (``callbacks.SampleGrid``, fixed noise),
``samples.png``, ``gan.keras`` and ``results.json`` to ``--out``; the last
printed line is the summary as JSON.

Data: ``--data`` an MNIST ``.npz`` with arrays ``x`` (``uint8`` 0..255) and
``y`` (``datasets.load_mnist``), e.g. ``data/mnist_test_images_labels.npz``;
without it, the binarized subset shipped with the package.

    python examples/wgan_gp.py --data data/mnist_test_images_labels.npz \\
        --epochs 5 --steps 200
    python examples/wgan_gp.py --epochs 1 --steps 1 --filters 8   # smoke test
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_genmodels import callbacks, datasets, models  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="MNIST .npz with arrays x, y")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=200, help="generator steps per epoch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--d-steps", type=int, default=5, help="critic steps per generator step")
    p.add_argument("--gp-weight", type=float, default=10.0)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--out", default="out/wgan_gp")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def load(path):
    if path is None:
        return datasets.load_binarized_mnist_small("train"), "shipped binarized subset"
    x, _ = datasets.load_mnist("train", path=path)
    return x, path


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    x, source = load(args.data)
    x = x * 2.0 - 1.0  # the generator's tanh range
    print(f"data: {source}: {x.shape}")
    generator = models.dcgan_generator((28, 28, 1), args.latent_dim, base_filters=args.filters)
    critic = models.dcgan_discriminator((28, 28, 1), base_filters=args.filters, dropout=0.0,
                                        name="critic")
    gan = models.GAN(generator, critic, args.latent_dim, loss="wasserstein",
                     gradient_penalty_weight=args.gp_weight, d_steps=args.d_steps,
                     seed=args.seed)
    gan.compile(d_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5, beta_2=0.9),
                g_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5, beta_2=0.9))
    ds = (tf.data.Dataset.from_tensor_slices(x.astype("float32")).shuffle(len(x), seed=args.seed)
          .repeat().batch(args.batch_size, drop_remainder=True).prefetch(2))
    grid = callbacks.SampleGrid(os.path.join(args.out, "samples", "epoch_{epoch:03d}.png"),
                                num_samples=64, seed=0, value_range=(-1.0, 1.0))
    start = time.time()
    history = gan.fit(ds, epochs=args.epochs, steps_per_epoch=args.steps, shuffle=False,
                      callbacks=[grid], verbose=2)
    train_seconds = time.time() - start
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    w_estimate = logs["d_real"] - logs["d_fake"]
    print(f"critic estimate of the Wasserstein distance (d_real - d_fake): {w_estimate:.3f}")

    samples_path = os.path.join(args.out, "samples.png")
    callbacks.save_image_grid(gan.sample(64, seed=1), samples_path, ncols=8,
                              value_range=(-1.0, 1.0))
    model_path = os.path.join(args.out, "gan.keras")
    gan.save(model_path)
    results = {"example": "wgan_gp", "data": source, "epochs": args.epochs,
               "steps_per_epoch": args.steps, "d_steps": args.d_steps,
               "gp_weight": args.gp_weight, "train_seconds": round(train_seconds, 1),
               "wasserstein_estimate": round(w_estimate, 4),
               "d_loss": round(logs["d_loss"], 4), "g_loss": round(logs["g_loss"], 4),
               "files": grid.paths + [samples_path, model_path]}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
