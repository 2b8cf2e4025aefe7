"""Quickstart: a variational autoencoder on binarized MNIST, fully offline.

Trains ``keras_genmodels.models.VAE`` with MLP encoder/decoder networks
(``models.mlp_vae_networks``) on the binarized-MNIST subset shipped inside
the package (10000 train / 2000 valid images; or ``--data`` an ``.npz`` with
arrays ``train`` and ``valid``), then reports

- the training loss (negative ELBO, nats) and the validation ELBO per epoch,
- the final validation ELBO and the importance-weighted estimate of the
  negative log-likelihood ``-log p(x)`` with ``--k`` samples (Burda et al.),

and writes to ``--out`` (default ``./out``): a PNG grid of samples after
every few epochs (``callbacks.SampleGrid``), ``samples.png``,
``reconstructions.png`` (rows of originals, each followed by the row of their
reconstructions), the trained model ``vae.keras`` and ``results.json``.

Run (about 2-3 minutes on 2 CPU cores):

    python examples/quickstart.py
    python examples/quickstart.py --epochs 1 --steps 5 --k 5   # smoke test
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    parser.add_argument("--steps", type=int, default=None,
                        help="limit the training steps per epoch (quick smoke tests)")
    parser.add_argument("--data", default=None,
                        help="binarized MNIST .npz with arrays train and valid (or a directory, "
                             "see keras_genmodels.datasets); default: the shipped offline subset")
    parser.add_argument("--out", default="out", help="output directory (default ./out)")
    parser.add_argument("--preset", default=None,
                        help="skip training: sample 16 images from this pretrained "
                             "preset (any of keras_genmodels.presets.list_presets(): "
                             "vae_binarized_mnist, pixelcnn_binarized_mnist, dcgan_mnist, ...) "
                             "into --out")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--hidden", type=int, nargs="+", default=[500, 500],
                        help="hidden layer sizes of encoder and decoder")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--k", type=int, default=50,
                        help="importance samples for the NLL estimate (default 50)")
    parser.add_argument("--valid-limit", type=int, default=None,
                        help="evaluate on N validation images spread over the split (strided)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def load_data(args):
    x_train, x_valid, source = datasets.load_binarized_mnist_train_valid(args.data)
    if args.steps is not None:
        x_train = x_train[: args.steps * args.batch_size]
    if args.valid_limit is not None:
        x_valid = datasets.strided_subset(x_valid, args.valid_limit)
    return x_train, x_valid, source


def main(argv=None):
    args = parse_args(argv)
    if args.preset:
        from keras_genmodels import presets as _presets

        return _presets.sample_preset(None, args.preset,
                                      os.path.join(args.out, "preset_samples.png"))
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    x_train, x_valid, source = load_data(args)
    print(f"data: {source}: train {x_train.shape}, valid {x_valid.shape}")

    encoder, decoder = models.mlp_vae_networks(
        (28, 28, 1), latent_dim=args.latent_dim, hidden_units=tuple(args.hidden))
    vae = models.VAE(encoder, decoder, likelihood="bernoulli", seed=args.seed)
    vae.compile(optimizer=keras.optimizers.Adam(args.lr))

    def report(epoch, logs):
        elbo = -(logs["val_reconstruction_loss"] + logs["val_kl_loss"])
        print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {logs['loss']:8.2f}  "
              f"recon {logs['reconstruction_loss']:8.2f}  kl {logs['kl_loss']:6.2f}  "
              f"valid ELBO {elbo:8.2f} nats  ({time.time() - start:5.1f} s)", flush=True)

    every = max(1, args.epochs // 4)
    sample_grid = callbacks.SampleGrid(
        os.path.join(args.out, "samples", "epoch_{epoch:03d}.png"), num_samples=64,
        every=every, seed=0)
    start = time.time()
    vae.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
            validation_data=(x_valid,), verbose=0,
            callbacks=[sample_grid, keras.callbacks.LambdaCallback(on_epoch_end=report)])
    train_seconds = time.time() - start

    valid = vae.evaluate(x_valid, batch_size=args.batch_size, verbose=0, return_dict=True)
    elbo = -(valid["reconstruction_loss"] + valid["kl_loss"])
    t0 = time.time()
    log_px = vae.log_likelihood(x_valid, num_samples=args.k, batch_size=args.batch_size,
                                seed=args.seed)
    nll = -float(np.mean(log_px))
    print(f"valid ELBO {elbo:.2f} nats, importance-sampled NLL (k={args.k}) {nll:.2f} nats "
          f"[{time.time() - t0:.1f} s]")

    samples_path = os.path.join(args.out, "samples.png")
    callbacks.save_image_grid(vae.sample(64, seed=0), samples_path, ncols=8)
    originals = x_valid[:32]
    recons = keras.ops.convert_to_numpy(vae.reconstruct(originals))
    # Rows of 8: originals 0-7, their reconstructions, originals 8-15, ...
    pairs = np.concatenate([originals.reshape(4, 1, 8, 28, 28, 1),
                            recons.reshape(4, 1, 8, 28, 28, 1)], axis=1)
    recon_path = os.path.join(args.out, "reconstructions.png")
    callbacks.save_image_grid(pairs.reshape(64, 28, 28, 1), recon_path, ncols=8)
    model_path = os.path.join(args.out, "vae.keras")
    vae.save(model_path)

    results = {
        "example": "quickstart", "data": source, "train_examples": int(len(x_train)),
        "valid_examples": int(len(x_valid)), "epochs": args.epochs,
        "train_seconds": round(train_seconds, 1), "valid_elbo": round(elbo, 3),
        "valid_nll_iwae": round(nll, 3), "k": args.k,
        "files": sample_grid.paths + [samples_path, recon_path, model_path],
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print("wrote", ", ".join(results["files"]))
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
