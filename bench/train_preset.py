"""Training recipes for the pretrained presets on the statically binarized MNIST.

``python bench/train_preset.py --model NAME`` trains one model with its
paper's architecture on the training split of the statically binarized MNIST
(Larochelle & Murray's 50,000 / 10,000 train / valid split), evaluates the
valid split after every epoch (exact NLL for the explicit models, the
negative ELBO for VAE / IWAE), keeps the best weights, stops early when the
valid loss has not improved for ``patience`` epochs, and finally writes the
preset directory (config, weights, metadata with the valid NLL, the CPU-hours
and this command) and a 4x4 sample grid.

It is resumable: ``keras.callbacks.BackupAndRestore`` saves the model and its
optimizer after every epoch in ``--run-dir`` (default ``bench/runs/NAME``);
the best weights, the early-stopping state and the CPU seconds spent so far
sit beside it. Running the same command again continues where the last run
stopped (``--hours`` bounds one invocation: it stops after the epoch that
would cross the budget). ``history.csv`` is the learning curve.

Recipes (target: the published test NLL in nats; we report the valid split,
the test split is not part of the data file):

- ``nade``: NADE, 500 sigmoid hidden units, raster order (Uria, Côté,
  Gregor, Murray & Larochelle, "Neural Autoregressive Distribution
  Estimation", JMLR 2016, binarized-MNIST results table: 88.86). Plain Adam
  overfits after ~45 epochs (training NLL 81, valid 89.15), so the preset is
  a second run from that run's best weights with the weights' moving average
  (momentum 0.999, validated and kept) and decoupled weight decay 0.05 on
  ``W`` and ``V`` at lr 2.5e-4::

      python bench/train_preset.py --model nade
      python bench/train_preset.py --model nade --run-dir bench/runs/nade_ema \
          --init-from nade --lr 0.00025 --ema 0.999 --weight-decay 0.05
- ``made``: MADE, one hidden layer of 2000 ReLU units with direct
  input-to-output connections, 32 masks (a random order and random
  connectivity each, the paper's "full" mask sampling) cycled during training
  and averaged at test time (Germain, Gregor, Murray & Larochelle, "MADE",
  ICML 2015, table 6, one hidden layer, 32 masks: 88.04). The authors'
  published command for their MNIST rows used 8000 hidden units, Adagrad
  (lr 0.01) and a direct connection; 2000 units keep the float16 preset at
  7.5 MB and an epoch at ~40 s on one core. The direct connection matters
  most: one epoch reached 125 nats valid with it and 153 without (2000 units,
  raster order), 121 with random orders. Valid NLL each epoch on
  ``valid[::5]`` (the 32-mask ensemble costs 32 passes), the final one on the
  whole split.
- ``vae``: VAE with one stochastic layer of 50 Gaussian units, encoder and
  decoder MLPs of two layers of 200 tanh units, Bernoulli decoder, k = 1
  (Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR
  2016, section 5: architecture and Adam with lr 1e-3 * 10^(-i/7) for 3^i
  epochs, i = 0..7; target 88.71). NLL: importance sampling, k = 5000.
- ``iwae``: the same networks trained on the IWAE bound with k = 50
  (target 87.10), started from the ``vae`` run's best weights when that run
  exists (``--init-from``), which saves the k = 50 objective most of its
  epochs.
- ``pixelcnn``: PixelCNN, 7x7 mask-A convolution to 32 channels, 15 residual
  blocks (1x1 to 16, 3x3 mask B, 1x1 to 32), two 1x1 ReLU layers of 32, a
  Bernoulli output (van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel
  Recurrent Neural Networks", ICML 2016, table 4: 81.30).
- ``gated_pixelcnn``: Gated PixelCNN, 10 gated blocks of 32 channels (van den
  Oord et al., "Conditional Image Generation with PixelCNN Decoders", NIPS
  2016; target: below our PixelCNN).
- ``row_lstm`` / ``diagonal_bilstm``: PixelRNN at this package's default
  size (2 layers; the paper used 7 layers of 16 units) (van den Oord et al.
  2016, table 4: 80.54 / 79.20).
- ``dcgan``: DCGAN on grey MNIST (Radford et al., ICLR 2016), compared with a
  keras.io-style DCGAN trained for the same steps in the same script by the
  Fréchet distance in the features of an MNIST classifier the script trains
  and ships with the preset (``bench/gan_recipe.py``; ``--mnist-data``,
  ``--steps``).
- ``aae``: adversarial autoencoder with a Gaussian encoder (Makhzani et al.,
  2016): importance-sampled valid NLL and the Fréchet distance next to the
  ``dcgan`` recipe's keras.io DCGAN (``bench/aae_recipe.py``; run ``dcgan``
  first).

Optimisation: Adam, batch 100 (the papers' batch size for these models);
the explicit models use lr 1e-3 with the learning rate halved when the valid
loss has not improved for ``patience // 2`` epochs (in place of the papers'
RMSProp / plain SGD with manual decay: Adam reaches the same losses in fewer
epochs on CPU). NADE's and MADE's output biases start at the logits of
the training split's pixel marginals (the independent-pixel maximum-likelihood
fit; it saves the first epochs that plain Adam steps spend moving them).
Weight decay and dropout were not used by these rows of the
papers and are not used here, except in NADE's second run (above).

    python bench/train_preset.py --model made --data data/binarized_mnist_train_valid.npz
    nohup python bench/train_preset.py --model nade --hours 2 --verbose 2 > nade.log 2>&1 &
    python bench/train_preset.py --model made --epochs 1 --steps-per-epoch 5 --quick  # smoke test
    python bench/train_preset.py --model dcgan --mnist-data data/mnist_test_images_labels.npz
"""

import argparse
import csv
import json
import math
import os
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_genmodels import datasets, models, presets  # noqa: E402
from keras_genmodels.callbacks import save_image_grid  # noqa: E402
from keras_genmodels.models.density import DensityModel  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _vae_networks(hidden=(200, 200)):
    return models.mlp_vae_networks((28, 28, 1), latent_dim=50, hidden_units=hidden,
                                   activation="tanh")


def _burda_schedule(epoch, lr=None):
    """Burda et al.'s Adam schedule: 1e-3 * 10^(-i/7) for 3^i epochs, i = 0..7."""
    i, end = 0, 1
    while epoch >= end and i < 7:
        i += 1
        end += 3 ** i
    return 1e-3 * 10 ** (-i / 7)


def _marginal_logits(x):
    p = np.clip(np.asarray(x, "float64").reshape(len(x), -1).mean(axis=0), 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p)).astype("float32")


def _init_made_bias(model, x):
    model.output_layer.bias.assign(_marginal_logits(x))


def _init_nade_bias(model, x):
    model.b.assign(_marginal_logits(x))


RECIPES = {
    "nade": dict(
        preset="nade_binarized_mnist", target=88.86, epochs=500, patience=20,
        build=lambda s: models.NADE((28, 28, 1), hidden_units=500, seed=s),
        init_bias=_init_nade_bias,
        description="NADE, 500 sigmoid hidden units, raster order, statically binarized MNIST"),
    "made": dict(
        preset="made_binarized_mnist", target=88.04, epochs=1000, patience=20, val_stride=5,
        init_bias=_init_made_bias,
        build=lambda s: models.MADE((28, 28, 1), hidden_units=(2000,), num_masks=32,
                                    order="random", direct_connections=True, mask_seed=s,
                                    seed=s),
        description="MADE, 784-2000-784 ReLU with direct connections, 32 masks (random "
                    "orders and connectivity; ensemble log-prob), statically binarized MNIST"),
    "vae": dict(
        preset="vae_binarized_mnist", target=88.71, epochs=3280, patience=100,
        schedule=_burda_schedule, k_eval=5000,
        build=lambda s: models.VAE(*_vae_networks(), likelihood="bernoulli", seed=s),
        description="VAE, 784-200-200-50 tanh encoder and mirror decoder, Bernoulli, "
                    "statically binarized MNIST"),
    "iwae": dict(
        preset="iwae_binarized_mnist", target=87.10, epochs=3280, patience=100,
        schedule=_burda_schedule, k_eval=5000, init_from="vae",
        build=lambda s: models.VAE(*_vae_networks(), likelihood="bernoulli",
                                   num_samples=50, seed=s),
        description="IWAE (k=50), 784-200-200-50 tanh encoder and mirror decoder, Bernoulli, "
                    "statically binarized MNIST"),
    "pixelcnn": dict(
        preset="pixelcnn_binarized_mnist", target=81.30, epochs=200, patience=10,
        build=lambda s: models.PixelCNN((28, 28, 1), filters=32, num_layers=15,
                                        likelihood="bernoulli", seed=s),
        description="PixelCNN, 7x7 mask A to 32 channels, 15 residual blocks, "
                    "statically binarized MNIST"),
    "gated_pixelcnn": dict(
        preset="gated_pixelcnn_binarized_mnist", target=None, epochs=200, patience=10,
        build=lambda s: models.GatedPixelCNN((28, 28, 1), filters=32, num_layers=10,
                                             likelihood="bernoulli", seed=s),
        description="Gated PixelCNN, 10 gated blocks of 32 channels, statically binarized MNIST"),
    "row_lstm": dict(
        preset="row_lstm_binarized_mnist", target=80.54, epochs=200, patience=10,
        build=lambda s: models.PixelRNN((28, 28, 1), kind="row_lstm", seed=s),
        description="PixelRNN Row LSTM, 2 layers, statically binarized MNIST"),
    "diagonal_bilstm": dict(
        preset="diagonal_bilstm_binarized_mnist", target=79.20, epochs=200, patience=10,
        build=lambda s: models.PixelRNN((28, 28, 1), kind="diagonal_bilstm", seed=s),
        description="PixelRNN Diagonal BiLSTM, 2 layers, statically binarized MNIST"),
}


class RunState(keras.callbacks.Callback):
    """Best-weights keeping, early stopping, lr halving and a wall budget, all resumable.

    State (``state.json`` in the run directory): best valid loss and its
    epoch, the current learning rate and the CPU seconds of every run so far.
    """

    def __init__(self, run_dir, patience, hours, schedule=None):
        super().__init__()
        self.path = os.path.join(run_dir, "state.json")
        self.best_path = os.path.join(run_dir, "best.weights.h5")
        self.patience = patience
        self.budget = hours * 3600.0 if hours else None
        self.schedule = schedule
        self.state = {"best": math.inf, "best_epoch": -1, "lr": None, "cpu_seconds": 0.0,
                      "epochs_done": 0, "stopped_early": False}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.state.update(json.load(f))
        self.cpu_at_start = _cpu_seconds()

    def save(self):
        self.state["cpu_seconds"] += _cpu_seconds() - self.cpu_at_start
        self.cpu_at_start = _cpu_seconds()
        with open(self.path, "w") as f:
            json.dump(self.state, f, indent=2)

    def _set_lr(self, lr):
        self.model.optimizer.learning_rate.assign(lr)
        self.state["lr"] = float(lr)

    def on_train_begin(self, logs=None):
        self.start = time.time()
        self.epoch_seconds = 0.0
        if self.state["lr"] is not None and self.schedule is None:
            self._set_lr(self.state["lr"])
        if self.finished():
            self.model.stop_training = True

    def finished(self):
        return self.state["stopped_early"]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.time()
        if self.schedule is not None:
            self._set_lr(self.schedule(epoch))

    def on_epoch_end(self, epoch, logs=None):
        loss = float(logs["val_loss"])
        self.state["epochs_done"] = epoch + 1
        if loss < self.state["best"]:
            self.state.update(best=loss, best_epoch=epoch)
            self.model.save_weights(self.best_path, overwrite=True)
        since = epoch - self.state["best_epoch"]
        if self.schedule is None and since > 0 and since % max(1, self.patience // 2) == 0:
            self._set_lr(float(self.model.optimizer.learning_rate.numpy()) / 2)
        if since >= self.patience:
            self.state["stopped_early"] = True
            self.model.stop_training = True
        self.epoch_seconds = time.time() - self.epoch_start
        if self.budget and time.time() - self.start + self.epoch_seconds > self.budget:
            self.model.stop_training = True
        logs["lr"] = float(self.model.optimizer.learning_rate.numpy())
        self.save()


def _recipe_of_run(name):
    """The recipe a run directory's name belongs to: ``NAME`` or ``NAME_SUFFIX``."""
    matches = [r for r in RECIPES if name == r or name.startswith(r + "_")]
    return max(matches, key=len) if matches else None


def _run_name(name):
    if _recipe_of_run(name) is None:
        raise argparse.ArgumentTypeError(
            f"{name!r} is not a run of a recipe: expected one of {sorted(RECIPES)}, "
            "optionally followed by _SUFFIX")
    return name


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return f"{len(names)} x {names[0]}"
    except (OSError, IndexError):
        return platform.processor() or platform.machine()


def _cpu_seconds():
    t = os.times()
    return t.user + t.system


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(RECIPES) + ["aae", "dcgan"], required=True)
    parser.add_argument("--data", default=None,
                        help="binarized MNIST with train/valid splits (a path that "
                             "datasets.load_binarized_mnist accepts; default "
                             "$KERAS_GENMODELS_DATA, else the download)")
    parser.add_argument("--run-dir", default=None, help="checkpoints (default bench/runs/NAME)")
    parser.add_argument("--preset-dir", default=None,
                        help="where the preset goes (default: inside the package)")
    parser.add_argument("--gallery-dir", default=None,
                        help="where the sample grid goes (default bench/gallery, or "
                             "PRESET_DIR/gallery with --preset-dir)")
    parser.add_argument("--hours", type=float, default=None, help="wall budget of this run")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="training steps between evaluations (default: one pass)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default 100 (the papers'); dcgan 64")
    parser.add_argument("--eval-stride", type=int, default=1,
                        help="final NLL on valid[::stride] (1: the whole split)")
    parser.add_argument("--k", type=int, default=None, help="VAE/IWAE importance samples")
    parser.add_argument("--init-from", default=None, type=_run_name,
                        help="start from the best weights of the run RUN_DIR/../NAME: a "
                             "recipe's name, or one followed by _SUFFIX (nade_ema is a nade run)")
    parser.add_argument("--lr", type=float, default=None,
                        help="initial learning rate (default: the recipe's, 1e-3); it "
                             "replaces a recipe's schedule (VAE / IWAE) by this rate, halved "
                             "on plateaus like the other recipes'")
    parser.add_argument("--ema", type=float, default=None,
                        help="keep an exponential moving average of the weights with this "
                             "momentum (Adam's use_ema) and validate / keep the averaged ones")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="Adam's decoupled weight decay on the kernels (not the biases)")
    parser.add_argument("--export-only", action="store_true", help="skip training")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: the shipped data subset, strided evaluation "
                             "(the per-epoch validation too)")
    parser.add_argument("--verbose", type=int, default=1, help="fit's verbose (1: progress bar)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow intra-op threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist-data", default=None,
                        help="dcgan: labelled grey MNIST (a path datasets.load_mnist accepts; "
                             "default $KERAS_GENMODELS_DATA, else the download)")
    parser.add_argument("--steps", type=int, default=3000,
                        help="dcgan / aae: training steps (of each GAN for dcgan)")
    parser.add_argument("--fd-images", type=int, default=2000,
                        help="dcgan: images per Frechet distance")
    return parser.parse_args(argv)


def load_data(args):
    """``(train, valid, source name)``: the binarized MNIST splits (the shipped subset with ``--quick``)."""
    if args.quick:
        return datasets.load_binarized_mnist_train_valid(None)
    train = datasets.load_binarized_mnist("train", path=args.data)
    valid = datasets.load_binarized_mnist("valid", path=args.data)
    return train, valid, args.data or os.environ.get(datasets.ENV_VAR) or "download"


def evaluate_nll(model, recipe, x, k, seed):
    """Valid NLL per image (nats): exact, or importance-sampled with k samples."""
    if isinstance(model, models.VAE):
        return -model.log_likelihood(x, num_samples=k, batch_size=20, seed=seed), f"IS k={k}"
    return -model.log_prob(x, batch_size=200), "exact"


def main(argv=None):
    args = parse_args(argv)
    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if args.model == "dcgan":
        import gan_recipe

        args.batch_size = args.batch_size or 64
        gan_recipe.main(args, _cpu_seconds)
        return None
    if args.model == "aae":
        import aae_recipe

        args.batch_size = args.batch_size or 100
        aae_recipe.main(args, _cpu_seconds, load_data(args))
        return None
    args.batch_size = args.batch_size or 100
    recipe = RECIPES[args.model]
    run_dir = args.run_dir or os.path.join(HERE, "runs", args.model)
    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    train, valid, source = load_data(args)
    model = recipe["build"](args.seed)
    if not model.built:
        model(train[:2])
    if recipe.get("init_bias") and not os.path.exists(os.path.join(run_dir, "backup")):
        recipe["init_bias"](model, train)
    model.compile(optimizer=_optimizer(model, recipe, args))

    init_from = args.init_from or recipe.get("init_from")
    started_from = None
    if init_from and not os.path.exists(os.path.join(run_dir, "backup")):
        source_weights = os.path.join(os.path.dirname(os.path.abspath(run_dir)), init_from,
                                      "best.weights.h5")
        if args.init_from and not os.path.exists(source_weights):
            raise SystemExit(f"--init-from {args.init_from}: no {source_weights} (train that run "
                             "first)")
        if os.path.exists(source_weights):
            donor = RECIPES[_recipe_of_run(init_from)]["build"](args.seed)
            donor.compile(optimizer=keras.optimizers.Adam(1e-3))
            donor.load_weights(source_weights)
            for target, value in zip(model.trainable_weights, donor.trainable_weights):
                target.assign(value)
            print(f"started from {source_weights}")
            started_from = f"the {init_from} run's best weights (bench/runs/{init_from})"
            donor_state = os.path.join(os.path.dirname(source_weights), "state.json")
            with open(donor_state) as f:
                donor_run = json.load(f)
            # A chain of runs (vae -> vae_ema -> iwae) counts every run's CPU time.
            donor_seconds = (donor_run["cpu_seconds"]
                             + donor_run.get("started_from_cpu_seconds", 0.0))

    state = RunState(run_dir, recipe["patience"], args.hours,
                     None if args.lr else recipe.get("schedule"))
    if started_from:
        # The donor run's CPU time counts towards this preset's.
        state.state.update(started_from=started_from, started_from_cpu_seconds=donor_seconds)
    epochs = args.epochs or recipe["epochs"]
    if not args.export_only:
        import tensorflow as tf

        ds = (tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=args.seed)
              .repeat().batch(args.batch_size, drop_remainder=True).prefetch(2))
        steps = args.steps_per_epoch or len(train) // args.batch_size
        # With --ema the backup (first) holds the training weights and the moving
        # average as the optimizer's; the swap (second) puts the average in the model
        # for validation and for the best-weights copy, and back for training.
        callbacks = [
            keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"),
                                             delete_checkpoint=False),
            *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if args.ema else []),
            state,
            keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
        ]
        # --quick validates on valid[::eval_stride] too (a smoke test, not a measurement);
        # a recipe's val_stride validates each epoch on a strided subset (never the
        # first N images: the split may be ordered).
        x_val = valid[:: args.eval_stride] if args.quick else valid[:: recipe.get("val_stride", 1)]
        model.fit(ds, epochs=epochs, steps_per_epoch=steps, validation_data=(x_val, x_val),
                  validation_batch_size=200, callbacks=callbacks, verbose=args.verbose)
        state.save()

    if not os.path.exists(state.best_path):
        raise SystemExit(f"no best weights in {run_dir} yet: train first")
    model.load_weights(state.best_path)
    export(model, recipe, args, state, valid, run_dir, source)


def _optimizer(model, recipe, args):
    """Adam at the recipe's (or ``--lr``'s) rate, with ``--ema`` / ``--weight-decay`` when given."""
    optimizer = keras.optimizers.Adam(
        args.lr or recipe.get("lr", 1e-3), weight_decay=args.weight_decay,
        use_ema=bool(args.ema), ema_momentum=args.ema or 0.99)
    if args.weight_decay:
        optimizer.exclude_from_weight_decay(
            var_list=[v for v in model.trainable_weights if len(v.shape) < 2])
    return optimizer


def _curve(run_dir):
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [(int(row["epoch"]), float(row["val_loss"])) for row in csv.DictReader(f)]


def _restored(model, preset_dir, dtype):
    """The model as the preset will hold it (float16-rounded weights when stored so)."""
    presets.save_to_preset(model, preset_dir, {}, dtype=dtype)
    return type(model).from_preset(preset_dir)


def export(model, recipe, args, state, valid, run_dir, source):
    """Final valid NLL, float16 check, preset directory and sample grid."""
    k = args.k or recipe.get("k_eval", 0)
    x_eval = valid[:: args.eval_stride]
    nll, estimator = evaluate_nll(model, recipe, x_eval, k, args.seed)
    preset_dir = args.preset_dir or os.path.join(presets.PRESET_ROOT, recipe["preset"])
    command = "python bench/train_preset.py --model " + args.model
    if args.run_dir and os.path.basename(os.path.normpath(args.run_dir)) != args.model:
        command += " --run-dir bench/runs/" + os.path.basename(os.path.normpath(args.run_dir))
    for flag in ("init_from", "lr", "ema", "weight_decay"):
        if getattr(args, flag) is not None:
            command += f" --{flag.replace('_', '-')} {getattr(args, flag)}"
    meta = {
        "description": recipe["description"],
        "valid_nll": round(float(nll.mean()), 3),
        "valid_nll_stderr": round(float(nll.std() / math.sqrt(len(nll))), 3),
        "valid_bits_per_dim": round(float(nll.mean() / (784 * math.log(2))), 4),
        "nll_estimator": estimator,
        "valid_images": int(len(x_eval)),
        "published_test_nll": recipe["target"],
        "epochs_trained": state.state["epochs_done"],
        "best_epoch": state.state["best_epoch"] + 1,
        "stopped_early": state.state["stopped_early"],
        "cpu_hours": round((state.state["cpu_seconds"]
                            + state.state.get("started_from_cpu_seconds", 0.0)) / 3600.0, 3),
        "cpu": _cpu_model(),
        "recipe": command,
        "data": os.path.basename(source),
        "backend": keras.backend.backend(),
    }
    if state.state.get("started_from"):
        meta["started_from"] = state.state["started_from"]
    # float16 storage when it moves the NLL by less than 0.05 nats: a paired comparison
    # (same images, same seed); for the importance-sampled NLL on valid[::10] with k <= 100.
    x_check, k_check = (x_eval, k) if not k else (valid[::10], min(k, 100))
    base, _ = evaluate_nll(model, recipe, x_check, k_check, args.seed)
    nll16, _ = evaluate_nll(_restored(model, preset_dir, "float16"), recipe, x_check, k_check,
                            args.seed)
    meta["float16_nll_shift"] = round(abs(float(nll16.mean()) - float(base.mean())), 4)
    dtype = "float16" if meta["float16_nll_shift"] < 0.05 else None
    meta["check_log_probs"] = [round(float(v), 4) for v in
                               presets.check_log_probs(_restored(model, preset_dir, dtype))]
    meta = presets.save_to_preset(model, preset_dir, meta, dtype=dtype)
    t0 = time.time()
    kwargs = {"verbose": 0} if isinstance(model, DensityModel) else {}
    samples = np.asarray(keras.ops.convert_to_numpy(model.sample(16, seed=args.seed, **kwargs)))
    sample_seconds = time.time() - t0
    gallery = args.gallery_dir or os.path.join(
        HERE if args.preset_dir is None else args.preset_dir, "gallery")
    grid = os.path.join(gallery, recipe["preset"] + ".png")
    save_image_grid(samples.reshape(16, 28, 28, 1), grid, ncols=4)
    result = dict(meta, model=args.model, sample16_seconds=round(sample_seconds, 2),
                  preset_dir=preset_dir, gallery=grid, curve=_curve(run_dir)[-5:])
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(main())
