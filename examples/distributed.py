"""Data-parallel training on several devices, and on several hosts (processes).

Trains ``keras_genmodels.models.VAE`` (every model of the package trains the
same way) on the binarized-MNIST subset shipped with the package, with the
global batch split over devices, in one of three set-ups:

1. Single host, several devices, JAX backend: ``keras.distribution``.
   ``keras.distribution.set_distribution(DataParallel(devices=...))`` before
   the model is built; ``fit`` takes the global batch and shards it over the
   devices. On a CPU-only machine ask XLA for several host devices::

       XLA_FLAGS=--xla_force_host_platform_device_count=2 \\
           python examples/distributed.py --backend jax

2. Single host, several devices, TensorFlow backend:
   ``tf.distribute.MirroredStrategy``. The model is built and compiled under
   ``strategy.scope()``; ``fit`` takes the global batch. Without GPUs,
   ``--cpu-replicas N`` splits the CPU into N logical devices::

       python examples/distributed.py --backend tensorflow --cpu-replicas 2

3. Several hosts (or several processes on one host), JAX backend: the same
   script runs once per process with the coordinator's address (process 0's
   host and a free port), the number of processes and its own id; it calls
   ``jax.distributed.initialize`` and then trains with ``DataParallel`` over
   the devices of ALL the processes (``jax.devices()``)::

       # host 0 (10.0.0.1)                       # host 1
       python examples/distributed.py \\          python examples/distributed.py \\
           --coordinator 10.0.0.1:1234 \\              --coordinator 10.0.0.1:1234 \\
           --num-processes 2 --process-id 0           --num-processes 2 --process-id 1

   Two processes on this machine (CPU; gloo collectives)::

       python examples/distributed.py --coordinator 127.0.0.1:1234 \\
           --num-processes 2 --process-id 0 --out out/p0 &
       python examples/distributed.py --coordinator 127.0.0.1:1234 \\
           --num-processes 2 --process-id 1 --out out/p1

   Each process passes ``fit`` ITS OWN share of the data and the
   per-process batch size (global batch / number of processes), with
   ``DataParallel(..., auto_shard_dataset=False)``: Keras' JAX trainer
   assembles the global batch from the processes' batches
   (``jax.make_array_from_process_local_data``). Every process must run the
   same number of steps, so the data is cut to a multiple of the global batch
   before it is split. (The alternative: every process passes the same
   ``tf.data.Dataset`` of global batches and keeps
   ``auto_shard_dataset=True``; Keras then gives each process its share.)
   The step is one program over the global batch, so the metrics printed by
   every process are those of the global batch, and the random draws are
   those one process would make on the whole batch. Every process runs the
   whole script (evaluation and sampling are collective too); process 0
   writes the files (see ``save_here`` for ``model.save``).

   Multi-host training uses JAX: ``tf.distribute.MultiWorkerMirroredStrategy``
   does not work with Keras 3's ``fit``.

Writes to ``--out`` (default ``./out``): ``samples.png``, the trained model
``vae.keras`` and ``results.json``; the last printed line is the JSON
summary.

    python examples/distributed.py --backend tensorflow --epochs 1 --steps 2  # smoke test
"""

import argparse
import json
import os
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("jax", "tensorflow"),
                        default=os.environ.get("KERAS_BACKEND", "jax"),
                        help="Keras backend (default: $KERAS_BACKEND, else jax); multi-host "
                             "training needs jax")
    parser.add_argument("--coordinator", default=None,
                        help="multi-host: host:port of process 0's coordinator service")
    parser.add_argument("--num-processes", type=int, default=1,
                        help="multi-host: number of processes (one per host, usually)")
    parser.add_argument("--process-id", type=int, default=0,
                        help="multi-host: this process's id, 0 .. num-processes - 1")
    parser.add_argument("--cpu-replicas", type=int, default=None,
                        help="tensorflow without GPUs: split the CPU into N logical devices")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None,
                        help="limit the training steps per epoch (quick smoke tests)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="GLOBAL batch size, split over all devices (default 64)")
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--hidden", type=int, nargs="+", default=[128])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-limit", type=int, default=2000,
                        help="use the first N training images (default 2000)")
    parser.add_argument("--valid-limit", type=int, default=500)
    parser.add_argument("--out", default="out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.coordinator is not None and args.backend != "jax":
        parser.error("multi-host training (--coordinator) needs --backend jax")
    if args.coordinator is None and args.num_processes != 1:
        parser.error("--num-processes > 1 needs --coordinator host:port")
    if not 0 <= args.process_id < args.num_processes:
        parser.error("--process-id must be in 0 .. num-processes - 1")
    return args


def select_backend(name):
    """Set ``KERAS_BACKEND`` before Keras is imported (it cannot change afterwards)."""
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != name:
            raise SystemExit(
                f"Keras is already imported with the {keras.backend.backend()!r} backend; "
                f"run this script in a fresh process with --backend {name}.")
    os.environ["KERAS_BACKEND"] = name
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def start_jax(args):
    """``jax.distributed.initialize`` (multi-host); returns the DataParallel distribution."""
    import jax

    if args.coordinator is not None:
        # Before JAX starts its backends: CPU devices of different processes
        # talk through gloo (GPUs/TPUs use their own collectives).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=args.coordinator,
                                   num_processes=args.num_processes,
                                   process_id=args.process_id)
    import keras

    # All the devices of all the processes; each process feeds its own data.
    distribution = keras.distribution.DataParallel(
        devices=jax.devices(), auto_shard_dataset=args.coordinator is None)
    keras.distribution.set_distribution(distribution)
    return distribution, len(jax.devices()), jax.process_count()


def mirrored_strategy(args):
    import tensorflow as tf

    if args.cpu_replicas and not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_replicas)
        except RuntimeError:  # TensorFlow already initialised its devices in this process
            print("note: TensorFlow is already initialised; --cpu-replicas ignored")
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    strategy = tf.distribute.MirroredStrategy(
        [d.name for d in devices], cross_device_ops=tf.distribute.ReductionToOneDevice())
    return strategy


def process_share(x, global_batch, num_processes, process_id):
    """This process's rows of ``x`` cut to whole global batches: every ``num_processes``-th."""
    x = x[: len(x) // global_batch * global_batch]
    return x[process_id::num_processes]


def save_here(keras, model, path, num_processes):
    """``model.save(path)`` from one process of a multi-process run.

    The weights are replicated, so this process's copy is the model. Keras'
    saving creates a temporary variable, which under a multi-process
    distribution would be placed on every process's devices (a collective
    that the other processes would never join): save with the distribution
    unset. (Loading, to resume training, is done by every process, under the
    distribution.)
    """
    if num_processes == 1:
        model.save(path)
        return
    distribution = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        model.save(path)
    finally:
        keras.distribution.set_distribution(distribution)


def main(argv=None):
    args = parse_args(argv)
    select_backend(args.backend)

    import contextlib

    import keras

    from keras_genmodels import callbacks, datasets, models

    if args.backend == "jax":
        distribution, num_devices, num_processes = start_jax(args)
        scope, setup = contextlib.nullcontext(), "keras.distribution.DataParallel"
    else:
        strategy = mirrored_strategy(args)
        num_devices, num_processes = strategy.num_replicas_in_sync, 1
        scope, setup = strategy.scope(), "tf.distribute.MirroredStrategy"
    if args.batch_size % num_devices:
        raise SystemExit(f"--batch-size {args.batch_size} must be a multiple of the "
                         f"{num_devices} devices")
    chief = args.process_id == 0
    say = print if chief else (lambda *a, **k: None)
    say(f"{setup}: {num_devices} device(s) in {num_processes} process(es); global batch "
        f"{args.batch_size} = {args.batch_size // num_devices} per device")

    keras.utils.set_random_seed(args.seed)  # the same initial weights in every process
    x_train, x_valid, source = datasets.load_binarized_mnist_train_valid(None)
    x_train, x_valid = x_train[: args.train_limit], datasets.strided_subset(x_valid, args.valid_limit)
    if args.steps is not None:
        x_train = x_train[: args.steps * args.batch_size]
    # Whole global batches only: every batch splits evenly over the devices.
    batch_size = args.batch_size
    x_train = process_share(x_train, batch_size, num_processes, args.process_id)
    x_valid = process_share(x_valid, batch_size, num_processes, args.process_id)
    batch_size //= num_processes  # per process
    say(f"data: {source}: train {x_train.shape}, valid {x_valid.shape} per process")

    with scope:
        encoder, decoder = models.mlp_vae_networks(
            (28, 28, 1), latent_dim=args.latent_dim, hidden_units=tuple(args.hidden))
        vae = models.VAE(encoder, decoder, likelihood="bernoulli", seed=args.seed)
        vae.compile(optimizer=keras.optimizers.Adam(args.lr))

    def report(epoch, logs):
        say(f"epoch {epoch + 1}/{args.epochs}  loss {logs['loss']:.2f}  "
            f"valid loss {logs['val_loss']:.2f}  ({time.time() - start:.1f} s)", flush=True)

    start = time.time()
    vae.fit(x_train, epochs=args.epochs, batch_size=batch_size, shuffle=True,
            validation_data=(x_valid,), verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=report)])
    train_seconds = time.time() - start
    valid = vae.evaluate(x_valid, batch_size=batch_size, verbose=0, return_dict=True)
    elbo = -(valid["reconstruction_loss"] + valid["kl_loss"])
    samples = keras.ops.convert_to_numpy(vae.sample(16, seed=0))  # every process
    say(f"valid ELBO {elbo:.2f} nats")

    results = {
        "example": "distributed", "backend": args.backend, "setup": setup,
        "devices": num_devices, "processes": num_processes, "global_batch": args.batch_size,
        "epochs": args.epochs, "train_seconds": round(train_seconds, 1),
        "valid_elbo": round(float(elbo), 3),
    }
    if chief:
        os.makedirs(args.out, exist_ok=True)
        samples_path = os.path.join(args.out, "samples.png")
        callbacks.save_image_grid(samples, samples_path, ncols=4)
        model_path = os.path.join(args.out, "vae.keras")
        save_here(keras, vae, model_path, num_processes)
        results["files"] = [samples_path, model_path, os.path.join(args.out, "results.json")]
        with open(results["files"][-1], "w") as f:
            json.dump(results, f, indent=2)
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
