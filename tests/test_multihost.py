"""Multi-host JAX: two processes on half a batch each take the single-process step.

Two worker processes on localhost form one JAX cluster
(``jax.distributed.initialize`` with a coordinator on ``127.0.0.1``, gloo CPU
collectives, ``JAX_PLATFORMS=cpu``: one CPU device per process), each sets
``keras.distribution.DataParallel(devices=jax.devices())`` and calls ``fit``
on ITS HALF of every global batch. A third process, with no distribution at
all, trains the same models from the same initial weights on the whole
batches. For every model family (VAE, Autoencoder, PixelCNN, GatedPixelCNN,
PixelRNN of both kinds, NADE, MADE with two mask sets, MarkovAR, GAN with two discriminator
steps, the R1 penalty and EMA, WGAN-GP, AAE with a Gaussian encoder and a
mixture prior) the test checks, after ``STEPS`` steps of SGD with momentum:

- the initial weights of the three processes are equal (same start);
- every weight (``model.weights``, the variables of ``get_weights``:
  networks, EMA copy...), every optimizer variable (slots, iteration
  counters) of each worker equals the single-process one to
  ``max|w - w_ref| < TOL * (1 + max|w_ref|)``, ``TOL = 1e-5`` (measured:
  below 1e-7, float32 summation order), and so do the metrics ``fit``
  reports; the ``SeedGenerator`` state is equal; every variable is fully
  replicated and the two workers hold identical values;
- the weights moved by much more than the tolerance, so a wrong gradient
  scale (e.g. a gradient averaged over processes and divided again, or one
  process's half-batch gradient applied alone) is caught. SGD is used
  because Adam's first steps are nearly invariant to the gradient's scale;
- a batch failing a data check on ONE process (``nade_bad_data``: a
  non-binary value in process 1's half of the second batch) makes ``fit``
  raise ``ValueError`` on EVERY process, after the same (first) step.

Data. Keras' JAX trainer turns each per-process batch into one global
``jax.Array`` with ``jax.make_array_from_process_local_data`` (the
trainer's ``_distribute_data`` -> ``distribute_data_input``): the global
batch is the concatenation of the processes' batches in process order
(the order of ``jax.devices()`` in the mesh). So with
``DataParallel(..., auto_shard_dataset=False)`` process ``p`` passes the
rows ``[p*B/2, (p+1)*B/2)`` of every global batch of ``B`` rows and
``batch_size=B/2`` (NumPy arrays must be sharded by the caller: with
auto-sharding on, Keras refuses them in a multi-process distribution). The
``vae_tf_data`` case uses the other path: every process passes the same
``tf.data.Dataset`` of global batches and Keras' auto-sharding
(``distribute_dataset``: ``rebatch(B/2).shard(2, process_id)``) gives each
process its half.

Random draws agree exactly. Unlike ``tf.distribute`` (where every replica
runs its own program on its own per-replica batch, see
``test_distribute.py``), the JAX step is ONE jitted SPMD program over the
global batch: ``ops.shape(x)[0]`` is the global batch size inside the step,
so ``keras.random.normal((batch, latent_dim), seed=model.seed_generator)``
draws an array of the global shape from the (replicated) seed state, and
``jit`` computes the same values whatever the sharding. The VAE's ``z``, the
GAN's noise, the WGAN-GP interpolation weights and the AAE's prior and
encoder draws are therefore the single-process draws, and nothing needs to
be made deterministic.

All the families run in sequence in ONE pair of workers (JAX and Keras take
seconds to start on 2 cores), launched together with the reference process
by a module fixture; each process writes an ``.npz`` (and a JSON summary with
its timings) that the tests compare. The workers are this file run as
``python -m tests.test_multihost``. They read each variable's local copy
(``addressable_data(0)``) after checking that it is fully replicated. XLA's
cheapest CPU compilation
(``XLA_FLAGS``) cuts the compile time, which dominates: about 80 CPU-seconds
for the three processes together.
"""

import argparse
import importlib.util
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.large,  # ~80 CPU-s: 3 processes compile 13 models (~45 s on 2 idle cores)
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed"),
]

NUM_PROCESSES = 2
GLOBAL_BATCH = 8
STEPS = 2
LR = 0.1
MOMENTUM = 0.5
TOL = 1e-5
DIM = 12
IMAGE = (4, 4, 1)
LATENT = 2
HIDDEN = 4
XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
TIMEOUT = 400  # seconds for the three processes together

NAMES = ("vae", "vae_tf_data", "autoencoder", "pixel_cnn", "gated_pixel_cnn",
         "pixel_rnn_row_lstm", "pixel_rnn_diagonal_bilstm", "nade", "made", "markov",
         "gan", "wgan_gp", "aae", "nade_bad_data")
REFERENCE = {"vae_tf_data": "vae"}  # single-process run compared with, when not the same name


# --------------------------------------------------------------------- models
def _binary(shape, seed):
    return (np.random.default_rng(seed).uniform(size=shape) > 0.5).astype("float32")


def _mlp(keras, inp, sizes, seed, name, heads=1):
    """Dense tanh layers then ``heads`` linear outputs of ``sizes[-1]`` units each."""
    x = keras.Input((inp,))
    h = x
    for i, units in enumerate(sizes[:-1]):
        h = keras.layers.Dense(units, activation="tanh",
                               kernel_initializer=keras.initializers.GlorotUniform(seed + i))(h)
    outs = [keras.layers.Dense(
        sizes[-1], kernel_initializer=keras.initializers.GlorotUniform(seed + 10 + j))(h)
        for j in range(heads)]
    return keras.Model(x, outs if heads > 1 else outs[0], name=name)


def build(name):
    """``(model, x, optimizer_names)`` with ``x`` holding ``STEPS`` global batches."""
    import keras

    from keras_genmodels import models

    keras.utils.set_random_seed(0)
    n = STEPS * GLOBAL_BATCH
    vectors = _binary((n, DIM), 1)
    images = _binary((n,) + IMAGE, 2)
    single = ("optimizer",)
    if name in ("vae", "vae_tf_data"):
        encoder = _mlp(keras, DIM, (HIDDEN, LATENT), 1, "encoder", heads=2)
        decoder = _mlp(keras, LATENT, (HIDDEN, DIM), 3, "decoder")
        return models.VAE(encoder, decoder, likelihood="bernoulli", seed=0), vectors, single
    if name == "autoencoder":
        encoder = _mlp(keras, DIM, (HIDDEN, LATENT), 1, "encoder")
        decoder = _mlp(keras, LATENT, (HIDDEN, DIM), 3, "decoder")
        return models.Autoencoder(encoder, decoder, loss="bernoulli"), vectors, single
    if name == "pixel_cnn":
        return (models.PixelCNN(IMAGE, filters=HIDDEN, num_layers=1, kernel_size=3, seed=0),
                images, single)
    if name == "gated_pixel_cnn":
        return (models.GatedPixelCNN(IMAGE, filters=HIDDEN, num_layers=1, kernel_size=3,
                                     seed=0), images, single)
    if name.startswith("pixel_rnn_"):
        return (models.PixelRNN(IMAGE, kind=name[len("pixel_rnn_"):], hidden_units=HIDDEN,
                                num_layers=1, input_kernel_size=3, seed=0), images, single)
    if name in ("nade", "nade_bad_data"):
        if name == "nade_bad_data":
            # A non-binary value in the last row of the second global batch:
            # process 1's half. See test_a_failed_data_check_stops_every_process.
            vectors = vectors.copy()
            vectors[2 * GLOBAL_BATCH - 1, 0] = 0.5
        return models.NADE(DIM, hidden_units=HIDDEN, seed=0), vectors, single
    if name == "made":
        # Two mask sets: each step trains the set of its iteration number.
        return (models.MADE(DIM, hidden_units=(HIDDEN,), num_masks=2, mask_seed=0, seed=0),
                vectors, single)
    if name == "markov":
        return models.MarkovAR(DIM, order=2, seed=0), vectors, single
    if name in ("gan", "wgan_gp"):
        generator = _mlp(keras, LATENT, (HIDDEN, DIM), 1, "generator")
        discriminator = _mlp(keras, DIM, (HIDDEN, 1), 3, "discriminator")
        if name == "gan":  # two discriminator steps, R1 penalty, EMA generator
            model = models.GAN(generator, discriminator, LATENT, d_steps=2, r1_gamma=1.0,
                               ema=0.5, seed=0)
        else:  # gradient penalty on random interpolates (weight 10)
            model = models.GAN(generator, discriminator, LATENT, loss="wasserstein", seed=0)
        x = np.random.default_rng(3).normal(1.0, 0.5, (n, DIM)).astype("float32")
        return model, x, model.optimizer_names
    if name == "aae":
        encoder = _mlp(keras, DIM, (HIDDEN, LATENT), 1, "encoder", heads=2)  # Gaussian
        decoder = _mlp(keras, LATENT, (HIDDEN, DIM), 3, "decoder")
        discriminator = _mlp(keras, LATENT, (HIDDEN, 1), 5, "discriminator")
        prior = {"type": "gaussian_mixture", "means": [[1.0, 0.0], [-1.0, 0.0]],
                 "stddev": 0.3}
        model = models.AAE(encoder, decoder, discriminator, LATENT, prior=prior,
                           likelihood="bernoulli", seed=0)
        return model, vectors, model.optimizer_names
    raise ValueError(f"unknown model {name!r}")


def local_rows(x, process_id, num_processes):
    """Process ``process_id``'s share of ``x``: its slice of every global batch, in order."""
    per = GLOBAL_BATCH // num_processes
    return np.concatenate([
        x[start + process_id * per: start + (process_id + 1) * per]
        for start in range(0, len(x), GLOBAL_BATCH)])


# --------------------------------------------------------------------- worker
def _local_value(variable):
    """This process's copy of a variable, which must be replicated over all devices."""
    value = variable.value
    if not value.is_fully_replicated:
        raise AssertionError(f"{variable.path} is not replicated: {value.sharding}")
    return np.asarray(value.addressable_data(0))


def _train(name, process_id, num_processes):
    """Train ``name`` here; returns ``({key: array}, logs, ValueError message or None)``."""
    import keras

    model, x, optimizer_names = build(name)
    arrays = {}
    # model.weights: the variables of get_weights(), in its order.
    for i, v in enumerate(model.weights):
        arrays[f"init/{i}"] = _local_value(v)
    sgd = {n: keras.optimizers.SGD(LR, momentum=MOMENTUM) for n in optimizer_names}
    model.compile(**sgd)
    if num_processes > 1 and name != "vae_tf_data":
        x = local_rows(x, process_id, num_processes)
    batch_size = GLOBAL_BATCH // num_processes
    if name == "vae_tf_data":
        import tensorflow as tf

        # The global batches; with auto_shard_dataset=True Keras gives each
        # process its half of each.
        x = tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)
        batch_size = None
    raised, logs = None, {}
    try:
        history = model.fit(x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        logs = {k: float(v[-1]) for k, v in history.history.items()}
    except ValueError as error:  # the models' data errors
        raised = str(error)
    for i, v in enumerate(model.weights):
        arrays[f"final/{i}"] = _local_value(v)
    for n in optimizer_names:
        for i, v in enumerate(getattr(model, n).variables):
            arrays[f"opt/{n}/{i}"] = _local_value(v)
    if getattr(model, "seed_generator", None) is not None:
        arrays["seed_state"] = _local_value(model.seed_generator.state)
    return arrays, logs, raised


def worker(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--num-processes", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    start = time.time()
    import jax

    if args.num_processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{args.port}",
                                   num_processes=args.num_processes,
                                   process_id=args.process_id, initialization_timeout=120)
    import keras

    distribution = None
    if args.num_processes > 1:
        # One CPU device per process: the mesh spans both processes.
        assert jax.process_count() == args.num_processes and len(jax.devices()) == 2
        distribution = keras.distribution.DataParallel(devices=jax.devices())
    arrays, summary = {}, {"devices": len(jax.devices()), "models": {}}
    for name in args.names or NAMES:
        t0 = time.time()
        if distribution is not None:
            # Per-process NumPy shards; the tf.data case lets Keras shard.
            distribution.auto_shard_dataset = name == "vae_tf_data"
            keras.distribution.set_distribution(distribution)
        try:
            values, logs, raised = _train(name, args.process_id, args.num_processes)
            arrays.update({f"{name}/{k}": v for k, v in values.items()})
            summary["models"][name] = {"logs": logs, "error": None, "raised": raised}
        except Exception:  # noqa: BLE001 - reported to the test
            import traceback

            summary["models"][name] = {"logs": {}, "raised": None,
                                       "error": traceback.format_exc()[-3000:]}
        summary["models"][name]["seconds"] = round(time.time() - t0, 1)
        # No keras.backend.clear_session(): its gc.collect() costs ~1 s here.
        keras.distribution.set_distribution(None)
    summary["seconds"] = round(time.time() - start, 1)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    summary["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    np.savez(args.out, **arrays)
    with open(args.out + ".json", "w") as f:
        json.dump(summary, f)


# ---------------------------------------------------------------------- tests
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("multihost")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    # One CPU device per process (no forced host device count), and XLA's
    # cheapest CPU compilation: compiling dominates these tiny steps.
    env["XLA_FLAGS"] = XLA_FLAGS
    port = _free_port()
    command = [sys.executable, "-m", "tests.test_multihost"]
    # The reference of vae_tf_data is vae's (same model, data and global
    # batches): no TensorFlow import (~3 CPU-s) in the reference process.
    jobs = {"reference": command + ["--out", str(base / "reference.npz")]
            + [n for n in NAMES if n != "vae_tf_data"]}
    for p in range(NUM_PROCESSES):
        jobs[f"process{p}"] = command + [
            "--process-id", str(p), "--num-processes", str(NUM_PROCESSES), "--port", str(port),
            "--out", str(base / f"process{p}.npz")]
    procs = {k: subprocess.Popen(c, cwd=ROOT, env=env, stdout=open(base / f"{k}.log", "w"),
                                 stderr=subprocess.STDOUT) for k, c in jobs.items()}
    deadline = time.time() + TIMEOUT
    failed = None
    while any(p.poll() is None for p in procs.values()):
        bad = [k for k, p in procs.items() if p.poll() not in (None, 0)]
        if bad or time.time() > deadline:
            failed = bad or "timeout"
            for p in procs.values():  # a lone worker would wait for its peer
                if p.poll() is None:
                    p.kill()
            break
        time.sleep(0.2)
    for p in procs.values():
        p.wait()
    logs = {k: (base / f"{k}.log").read_text()[-4000:] for k in jobs}
    if failed or any(p.returncode != 0 for p in procs.values()):
        pytest.fail(f"multi-host run failed ({failed}): "
                    + "\n".join(f"--- {k}\n{v}" for k, v in logs.items()))
    results = {}
    for k in jobs:
        with np.load(base / f"{k}.npz") as data:
            arrays = dict(data)
        summary = json.loads((base / f"{k}.npz.json").read_text())
        results[k] = {"arrays": arrays, "summary": summary}
    return results


def _model_arrays(run, name):
    prefix = name + "/"
    return {k[len(prefix):]: v for k, v in run["arrays"].items() if k.startswith(prefix)}


def _diff(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    return float(np.max(np.abs(a - b)) / (1.0 + np.max(np.abs(b)))) if a.size else 0.0


def test_two_processes_form_one_cluster(runs):
    assert runs["reference"]["summary"]["devices"] == 1
    for p in range(NUM_PROCESSES):
        assert runs[f"process{p}"]["summary"]["devices"] == NUM_PROCESSES


@pytest.mark.parametrize("name", NAMES)
def test_multihost_step_equals_single_process_step(runs, name):
    ref_name = REFERENCE.get(name, name)
    ref_run = runs["reference"]["summary"]["models"][ref_name]
    assert ref_run["error"] is None, ref_run["error"]
    ref = _model_arrays(runs["reference"], ref_name)
    finals = [k for k in ref if k.startswith("final/")]
    assert finals and len(finals) == len([k for k in ref if k.startswith("init/")])
    moved = max(float(np.max(np.abs(ref["final/" + k[5:]] - ref[k])))
                for k in ref if k.startswith("init/"))
    assert moved > 1000 * TOL, f"{name}: the weights barely moved ({moved})"
    per_process = []
    for p in range(NUM_PROCESSES):
        run = runs[f"process{p}"]["summary"]["models"][name]
        assert run["error"] is None, f"process {p}:\n{run['error']}"
        assert run["raised"] == ref_run["raised"], (p, run["raised"], ref_run["raised"])
        got = _model_arrays(runs[f"process{p}"], name)
        assert sorted(got) == sorted(ref)
        for key in ref:
            if key.startswith("init/") or key == "seed_state":
                np.testing.assert_array_equal(got[key], ref[key], err_msg=f"{name} {key}")
            else:
                diff = _diff(got[key], ref[key])
                assert diff < TOL, f"{name} process {p}: {key} differs by {diff:.3g}"
        for metric, value in ref_run["logs"].items():
            assert abs(run["logs"][metric] - value) < TOL * (1 + abs(value)), (
                name, p, metric, run["logs"][metric], value)
        assert set(run["logs"]) == set(ref_run["logs"])
        per_process.append(got)
    for key in ref:  # the replicas hold the same values
        np.testing.assert_array_equal(per_process[0][key], per_process[1][key])


def test_a_failed_data_check_stops_every_process(runs):
    """A batch failing a data check on one process raises ``ValueError`` on all of them.

    The check runs inside the compiled step; its result reaches the host
    through a callback (``keras_genmodels/_backend/jax.py``). Had it reached
    process 0 only, process 0 would stop while process 1 went on (and, with
    more batches left, waited for process 0 in the next step's collectives).
    The failing batch changes nothing: the weights are those after the first
    step, as in the single process (compared by the test above).
    """
    for run in ("reference", "process0", "process1"):
        raised = runs[run]["summary"]["models"]["nade_bad_data"]["raised"]
        assert raised is not None and "binary" in raised, (run, raised)
        iterations = runs[run]["arrays"]["nade_bad_data/opt/optimizer/0"]
        assert int(iterations) == 1, (run, iterations)


if __name__ == "__main__":
    worker()
