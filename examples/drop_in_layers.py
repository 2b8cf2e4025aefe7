"""Drop-in layers: your own functional VAE with ``layers.Sampling`` and ``layers.KLDivergenceRegularizer``.

No ``models.VAE`` here: a user-written Keras functional model becomes a VAE
with two of the package's layers and a plain ``compile(loss=...)`` / ``fit``:

- ``KLDivergenceRegularizer(weight=beta)`` on ``[z_mean, z_log_var]`` adds
  ``beta * KL(q(z|x) || N(0, I))`` (batch mean) to ``model.losses``, which
  Keras adds to the compiled loss;
- ``Sampling(seed=...)`` draws ``z = z_mean + exp(z_log_var / 2) * eps``
  (reparameterised, seeded);
- the compiled loss is the Bernoulli negative log-likelihood in nats per
  image, summed over pixels (``bernoulli_nll`` below), so the printed
  ``loss`` is the negative ELBO, comparable with ``models.VAE``'s.

The decoder is its own functional model, reused for generation.
Writes ``samples.png`` (decoded ``z ~ N(0, I)``), ``reconstructions.png``
(rows of originals, each followed by their reconstructions), the model
``drop_in_vae.keras`` (reloaded with ``safe_mode=True`` to check it) and
``results.json`` to ``--out``; the last printed line is the summary as JSON.

Data: ``--data`` a binarized MNIST ``.npz`` (arrays ``train``/``valid``),
else the subset shipped with the package.

    python examples/drop_in_layers.py --epochs 10
    python examples/drop_in_layers.py --epochs 1 --steps 1 --hidden 32   # smoke test
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from keras_genmodels import callbacks, datasets, layers  # noqa: E402


@keras.saving.register_keras_serializable(package="drop_in_example")
def bernoulli_nll(x, logits):
    """``-log p(x | logits)`` summed over the pixels of each image (nats)."""
    x = ops.cast(ops.reshape(x, (ops.shape(x)[0], -1)), logits.dtype)
    logits = ops.reshape(logits, (ops.shape(logits)[0], -1))
    # softplus(l) - x * l == -[x log sigmoid(l) + (1 - x) log sigmoid(-l)], stably.
    return ops.sum(ops.softplus(logits) - x * logits, axis=-1)


def build(latent_dim, hidden, beta, seed):
    # Decoder: z -> Bernoulli logits, a model of its own for sampling.
    z_in = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(hidden, activation="relu")(z_in)
    logits = keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784)(h))
    decoder = keras.Model(z_in, logits, name="decoder")
    # Encoder + KL + sampling + decoder: one functional model x -> logits.
    x_in = keras.Input((28, 28, 1), name="x")
    h = keras.layers.Dense(hidden, activation="relu")(keras.layers.Flatten()(x_in))
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    z_mean, z_log_var = layers.KLDivergenceRegularizer(weight=beta, name="kl")(
        [z_mean, z_log_var])
    z = layers.Sampling(seed=seed, name="z_sample")([z_mean, z_log_var])
    vae = keras.Model(x_in, decoder(z), name="drop_in_vae")
    encoder = keras.Model(x_in, z_mean, name="encoder_mean")
    return vae, encoder, decoder


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="binarized MNIST .npz (train/valid)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=None, help="training batches per epoch")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--valid-limit", type=int, default=1000)
    p.add_argument("--out", default="out/drop_in_layers")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    x_train, x_valid, source = datasets.load_binarized_mnist_train_valid(args.data)
    if args.steps is not None:
        x_train = x_train[: args.steps * args.batch_size]
    x_valid = datasets.strided_subset(x_valid, args.valid_limit)
    print(f"data: {source}: train {x_train.shape}, valid {x_valid.shape}")

    vae, encoder, decoder = build(args.latent_dim, args.hidden, args.beta, args.seed)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), loss=bernoulli_nll)
    start = time.time()
    vae.fit(x_train, x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
            validation_data=(x_valid, x_valid), verbose=2)
    train_seconds = time.time() - start
    neg_elbo = float(vae.evaluate(x_valid, x_valid, batch_size=args.batch_size, verbose=0))
    print(f"valid negative ELBO (reconstruction NLL + KL): {neg_elbo:.2f} nats")

    z = keras.random.normal((64, args.latent_dim), seed=args.seed)
    samples = ops.sigmoid(decoder(z))
    samples_path = os.path.join(args.out, "samples.png")
    callbacks.save_image_grid(samples, samples_path, ncols=8)
    originals = x_valid[:32]
    recons = ops.convert_to_numpy(ops.sigmoid(decoder(encoder(originals))))
    pairs = np.concatenate([originals.reshape(4, 1, 8, 28, 28, 1),
                            recons.reshape(4, 1, 8, 28, 28, 1)], axis=1)
    recon_path = os.path.join(args.out, "reconstructions.png")
    callbacks.save_image_grid(pairs.reshape(64, 28, 28, 1), recon_path, ncols=8)

    model_path = os.path.join(args.out, "drop_in_vae.keras")
    vae.save(model_path)
    loaded = keras.saving.load_model(model_path, safe_mode=True)
    same = all(np.array_equal(a, b) for a, b in zip(vae.get_weights(), loaded.get_weights()))
    print(f"reloaded {model_path} (safe_mode=True): identical weights: {same}")

    results = {"example": "drop_in_layers", "data": source, "epochs": args.epochs,
               "train_seconds": round(train_seconds, 1), "valid_neg_elbo": round(neg_elbo, 3),
               "reloaded_identical": same, "files": [samples_path, recon_path, model_path]}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
