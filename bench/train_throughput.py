"""Training throughput of every model: ours against a PyTorch twin and against this machine's floor.

For each model (the explicit-density family, VAE / IWAE, AAE, DCGAN) one
child process trains, round-robin in the same process, on the same batches:

* ``plain``: our model under ``model.fit`` with a plain ``tf.function`` step
  (``jit_compile=False``: Keras' default step on a CPU);
* ``xla``: the same with ``jit_compile=True`` (on TensorFlow the models run
  their step's computation as an XLA function after the data checks: see
  ``SingleLossModel.compile``); omitted where a layer cannot be XLA-compiled;
* ``update``: the plain step with only the optimizer updates compiled by XLA
  (``model.xla_on_cpu = "update"``, TensorFlow);
* ``torch``: the PyTorch reference of the same architecture
  (``bench/torch_reference.py``, a plain ``loss.backward(); opt.step()``
  loop with ``torch.optim.Adam``), where one exists;
* NADE also runs ``implementation="cumsum"`` (the reference formulation the
  blocked one replaces), MADE and the PixelCNNs nothing more.

``auto`` is what ``compile()`` picks by itself (``jit_compile="auto"``); the
table reports it and its ratio to the PyTorch twin and to the ``plain`` step.
Images/s are timed between the first and last batch of each ``fit`` (a
callback at ``on_train_batch_end``, so ``fit``'s set-up is not counted),
the median over ``--repeats`` rounds after one warm-up round.

The floor: FLOPs per image of a training step are 3x the forward FLOPs
(forward, input gradients, weight gradients), counted from the weights (2
per multiply-add of every kernel at every position it is applied; masked
kernels counted dense, as they are computed), and compared with the peak of
the model's dominant operation measured in the same process (a GEMM of its
largest dense shape, or a 3x3 convolution of its channel width, forward +
both gradients). Bytes per image: every activation written once, read back
by the backward pass and its gradient written (3 x 4 bytes per value), plus
Adam's traffic per parameter (read w, g, m, v; write w, m, v: 28 bytes)
over the batch, against the measured copy bandwidth. The floor is the lower
of the two rates; "% floor" is the achieved (``auto``) rate over it. Peak
RSS is the child's maximum resident set; "RSS growth" the resident set after
the last round minus after the first (nothing may grow with the steps).

``--allocator-baseline`` runs each model's ``auto`` step a second time, in a
child process with ``TF_CPU_ALLOCATOR_USE_BFC=false`` (TensorFlow's default
CPU allocator, plain ``malloc``; the package otherwise turns on TensorFlow's
pooling allocator when it is imported: see ``keras_genmodels/_backend/tensorflow.py``),
started right after the model's main child; the "other" column reports it
and the ratio of ``auto`` to it. ``--onednn-flip`` does the same with
TensorFlow's oneDNN CPU kernels switched the other way from the main child
(``TF_ENABLE_ONEDNN_OPTS=0`` where they are on, ``=1`` where they are off:
TensorFlow turns them on by default only on CPUs with AVX-512 VNNI / BF16 or
AMX, and reads the variable when it is imported, so only a fresh process can
switch them).

``--memory EPOCHS`` measures instead whether memory grows with the steps:
each model's ``auto`` step alone in its own child process, one ``fit`` of
EPOCHS epochs of the model's timed batches, the resident set read after
every epoch; the table gives it after the first epoch, at a quarter, half
and three quarters of the run and after the last, and the least-squares
slope over the second half per 1000 steps (the first epoch holds the one-off
costs: tracing, XLA compilation; a pooling allocator grows its pool in
steps until it holds the step's peak, a leak keeps its slope).

``--bf16`` adds two variants in the same rounds: our ``auto`` step built under
Keras' ``mixed_bfloat16`` policy (layers compute in bfloat16; variables,
losses and likelihoods stay float32) and each PyTorch twin under
``torch.autocast("cpu", dtype=torch.bfloat16)``; they are reported in the
"other" column (the floor stays the float32 one).

Usage::

    python bench/train_throughput.py                       # every model, all cores
    python bench/train_throughput.py --threads 1 --models nade,made --repeats 3
    python bench/train_throughput.py --quick               # a short run of each
    KERAS_BACKEND=jax python bench/train_throughput.py --models made,vae
    python bench/train_throughput.py --threads 1 --bf16 --models pixelcnn,vae
    python bench/train_throughput.py --threads 1 --allocator-baseline --no-torch
    python bench/train_throughput.py --threads 1 --onednn-flip --models pixelcnn,dcgan
    python bench/train_throughput.py --threads 1 --memory 20 --models nade,pixelcnn

Prints a markdown table with the backend, CPU and threads, and one JSON line
(prefix ``JSON:``). Needs ``torch`` for the PyTorch column
(``pip install torch==2.13.0``: the CPU build); without it the column is empty.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from nade_step import cpu_description  # the bench scripts' one CPU description

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (batch size, steps per timed fit, PyTorch reference names). Where there
# are two references (NADE: the cumsum form and the paper's loop over positions)
# the faster is the "PyTorch" column.
MODELS = {
    "nade": (100, 8, ("nade", "nade_loop")),
    "made": (100, 60, ("made",)),
    "pixelcnn": (100, 8, ("pixelcnn",)),
    "gated_pixelcnn": (100, 4, ("gated_pixelcnn",)),
    "gated_pixelcnn_128": (100, 2, ("gated_pixelcnn_128",)),
    "row_lstm": (100, 8, ("row_lstm",)),
    "diagonal_bilstm": (100, 4, ("diagonal_bilstm",)),
    "vae": (100, 60, ("vae",)),
    "iwae": (100, 20, ()),
    "aae": (100, 40, ()),
    "dcgan": (64, 10, ("dcgan",)),
}
DEFAULT_MODELS = [m for m in MODELS if m != "gated_pixelcnn_128"]


def rss_mb(field="VmRSS"):
    """Current resident set (MB), from /proc/self/status (``VmHWM``: its peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# ------------------------------------------------------------------ our models
def build(name, jit_compile, implementation=None):
    """Our model ``name`` at the benchmark's architecture, compiled with Adam.

    ``jit_compile="update"``: "auto" with the model's CPU choice set to XLA
    optimizer updates (``xla_on_cpu = "update"``).
    """
    model = _build(name, implementation)
    if jit_compile == "update":
        model.xla_on_cpu = "update"
        jit_compile = "auto"
    _compile(model, name, jit_compile)
    return model


def _compile(model, name, jit_compile):
    import keras

    adam = lambda lr=1e-3, **kw: keras.optimizers.Adam(lr, **kw)  # noqa: E731
    if name == "dcgan":
        model.compile(d_optimizer=adam(2e-4, beta_1=0.5), g_optimizer=adam(2e-4, beta_1=0.5),
                      jit_compile=jit_compile)
    elif name == "aae":
        model.compile(r_optimizer=adam(), d_optimizer=adam(2e-4, beta_1=0.5),
                      g_optimizer=adam(2e-4, beta_1=0.5), jit_compile=jit_compile)
    else:
        model.compile(optimizer=adam(), jit_compile=jit_compile)


def _build(name, implementation=None):
    import keras

    from keras_genmodels import models

    if name in ("aae", "dcgan"):
        if name == "dcgan":
            return models.GAN(models.dcgan_generator((28, 28, 1), 64),
                              models.dcgan_discriminator((28, 28, 1)), 64, seed=0)
        encoder, decoder = models.mlp_vae_networks((28, 28, 1), 8, hidden_units=(512, 512),
                                                   activation="relu", name="aae")
        z = keras.Input((8,))
        h = keras.layers.Dense(512, activation="relu")(keras.layers.Dense(512, activation="relu")(z))
        disc = keras.Model(z, keras.layers.Dense(1)(h))
        return models.AAE(encoder, decoder, disc, 8, likelihood="bernoulli", seed=0)
    image = (28, 28, 1)
    if name == "nade":
        model = models.NADE(784, hidden_units=500, implementation=implementation or "auto", seed=0)
    elif name == "made":
        model = models.MADE(784, hidden_units=(500,), seed=0)
    elif name == "pixelcnn":
        model = models.PixelCNN(image, filters=32, num_layers=15, seed=0)
    elif name.startswith("gated_pixelcnn"):
        model = models.GatedPixelCNN(image, filters=128 if name.endswith("128") else 32,
                                     num_layers=10, seed=0)
    elif name in ("row_lstm", "diagonal_bilstm"):
        model = models.PixelRNN(image, kind=name, seed=0)
    elif name in ("vae", "iwae"):
        model = models.VAE(*models.mlp_vae_networks(image, 50), seed=0,
                           num_samples=50 if name == "iwae" else 1)
    else:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return model


def _adversarial_parts(model, name):
    """(networks, passes): the forward passes per image of each network in one training step.

    DCGAN: the D step runs G forward and D on the real and the fake batch, the
    G step G and D forward; counted as 4 G and 9 D forwards (3x per forward
    for the backward pass, as everywhere). AAE: the reconstruction step
    (encoder + decoder), the code discriminator step (encoder, D twice) and
    the generator step (encoder, D).
    """
    if name == "dcgan":
        return (model.generator, model.discriminator), (4, 9)
    return (model.encoder, model.decoder, model.discriminator), (6, 3, 9)


def forward_flops(model, name):
    """Forward FLOPs per image: 2 per multiply-add of each kernel at each position it is applied."""
    if name in ("aae", "dcgan"):
        nets, passes = _adversarial_parts(model, name)
        total = sum(p * network_flops(n) for n, p in zip(nets, passes)) / 3
        return total, " + ".join(f"{p}/3 x {n.name}" for n, p in zip(nets, passes))
    kernels = [w for w in model.trainable_weights if len(w.shape) >= 2]
    per_position = sum(2 * math.prod(w.shape) for w in kernels)
    if name in ("nade", "made", "vae"):
        return per_position, "dense"
    if name == "iwae":  # the encoder once, the decoder for each of the k = 50 samples
        enc = sum(2 * math.prod(w.shape) for w in model.encoder.trainable_weights
                  if len(w.shape) >= 2)
        return enc + 50 * (per_position - enc), "encoder + 50 decoders"
    return per_position * 28 * 28, "dense kernels at 28 x 28"


def _kernel_layers(net):
    return [layer for layer in net._flatten_layers(include_self=False)
            if getattr(layer, "kernel", None) is not None]


def network_flops(net):
    """Forward FLOPs per image of a functional Keras network of Dense / Conv2D / Conv2DTranspose."""
    import keras

    total = 0
    for layer in _kernel_layers(net):
        size = 2 * math.prod(layer.kernel.shape)
        if isinstance(layer, keras.layers.Conv2DTranspose):
            size *= math.prod(layer.input.shape[1:3])
        elif isinstance(layer, keras.layers.Conv2D):
            size *= math.prod(layer.output.shape[1:3])
        total += size
    return total


def activation_values(model, name):
    """Values per image a training step writes for its backward pass (the bytes estimate)."""
    if name in ("aae", "dcgan"):
        nets, passes = _adversarial_parts(model, name)
        return sum(p / 3 * sum(math.prod(layer.output.shape[1:]) for layer in _kernel_layers(n))
                   for n, p in zip(nets, passes))
    kernels = [w for w in model.trainable_weights if len(w.shape) >= 2]
    outputs = sum(int(w.shape[-1]) for w in kernels)
    if name == "nade":  # the D x H hidden activations (h_d for every d) and D logits
        return 784 * 500 + 784
    if name in ("made", "vae"):
        return outputs
    if name == "iwae":
        return outputs * 50
    return outputs * 28 * 28


def peak_flops(model, name, threads, batch):
    """(FLOP/s, what): the dominant operation of ``model``, forward + both gradients, timed here."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    if name in ("nade", "made", "vae", "iwae", "aae"):
        x = tf.constant(rng.standard_normal((batch, 784)), tf.float32)
        w = tf.Variable(rng.standard_normal((784, 500)).astype("float32") * 0.05)
        op = lambda x: tf.matmul(x, w)  # noqa: E731
        flops = 3 * 2 * batch * 784 * 500
        what = f"GEMM {batch}x784x500"
    else:
        c = 32 if name != "gated_pixelcnn_128" else 128
        x = tf.constant(rng.standard_normal((batch, 28, 28, c)), tf.float32)
        w = tf.Variable(rng.standard_normal((3, 3, c, c)).astype("float32") * 0.05)
        op = lambda x: tf.nn.conv2d(x, w, 1, "SAME")  # noqa: E731
        flops = 3 * 2 * batch * 28 * 28 * 9 * c * c
        what = f"3x3 conv {c}->{c} at 28x28"

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(op(x))
        gx, gw = tape.gradient(loss, [x, w])
        return tf.reduce_sum(gx) + tf.reduce_sum(gw)

    float(step(x))
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            out = step(x)
        float(out)
        best = max(best, 10 * flops / (time.perf_counter() - start))
    return best, what


def copy_bandwidth():
    """Bytes/s of a 256 MB NumPy copy (read + write), best of 5."""
    a = np.ones(32 * 2**20)
    b = np.empty_like(a)
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - start))
    return best


class BatchTimes:
    """Keras callback: the time at every ``on_train_batch_end``."""

    def __init__(self):
        import keras

        class _Callback(keras.callbacks.Callback):
            def on_train_batch_end(cb, batch, logs=None):
                self.times.append(time.perf_counter())

        self.times = []
        self.callback = _Callback()

    def rate(self, batch_size):
        steps = len(self.times) - 1
        return steps * batch_size / (self.times[-1] - self.times[0])


def fit_rate(model, x, batch_size, steps):
    timer = BatchTimes()
    model.fit(x[: batch_size * steps], batch_size=batch_size, epochs=1, shuffle=False,
              verbose=0, callbacks=[timer.callback])
    return timer.rate(batch_size)


def torch_rate(trainer, x, batch_size, steps, bf16=False):
    import torch

    x = x.reshape(-1, 28, 28, 1)  # the references take NHWC images
    batches = [torch.from_numpy(x[i * batch_size:(i + 1) * batch_size]) for i in range(steps)]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        trainer.step(batches[0])
        start = time.perf_counter()
        for b in batches[1:]:
            trainer.step(b)
    return (steps - 1) * batch_size / (time.perf_counter() - start)


def data(name, n, path):
    if path:
        with np.load(path) as f:
            train = f["train"]
        x = train[:: max(1, len(train) // n)][:n].astype("float32")
    else:
        x = (np.random.default_rng(0).random((n, 28, 28)) < 0.13).astype("float32")
    x = x.reshape(n, 28, 28, 1)
    if name in ("nade", "made"):
        x = x.reshape(n, 784)
    if name == "dcgan":
        x = 2.0 * x - 1.0
    return x


def run_one(args):
    """Child process: every variant of one model, round-robin; prints one JSON line."""
    import keras

    from keras_genmodels import _backend

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        if args.threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    name = args.one
    batch, steps, ref = MODELS[name]
    steps = max(3, steps // 2) if args.quick else steps
    x = data(name, batch * steps, args.data)
    auto = build(name, "auto")
    xla_step = bool(getattr(auto, "xla_step", False))
    xla_update = bool(getattr(auto, "xla_update", False))
    auto_key = ("xla" if (xla_step or keras.backend.backend() == "jax")
                else "update" if xla_update else "plain")
    if args.auto_only:  # the allocator baseline: the auto step alone
        return _time_auto_only(args, name, auto, auto_key, x, batch, steps)
    if args.memory:
        return _memory_one(args, name, auto, auto_key, x, batch, steps)
    variants = {"plain": build(name, False)}
    supports_xla = all(layer.supports_jit for layer in auto._flatten_layers())
    if keras.backend.backend() == "tensorflow" and supports_xla:
        variants["xla"] = build(name, True)
        variants["update"] = build(name, "update")
    elif keras.backend.backend() == "jax":
        variants = {"xla": auto}  # JAX: Keras compiles every step
    if name == "nade":
        variants["cumsum"] = build(name, "auto", implementation="cumsum")
    if args.bf16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            variants["bf16"] = build(name, "auto")
        finally:
            keras.mixed_precision.set_global_policy("float32")
    trainers = {}
    if ref and not args.no_torch:
        try:
            import torch

            sys.path.insert(0, HERE)
            from torch_reference import REFERENCES

            torch.set_num_threads(args.threads or os.cpu_count())
            torch.manual_seed(0)
            trainers = {f"torch:{r}": REFERENCES[r]() for r in ref}
            if args.bf16:
                trainers.update({f"torch_bf16:{r}": REFERENCES[r]() for r in ref})
        except ImportError:
            trainers = {}
    rates = {k: [] for k in list(variants) + list(trainers)}
    rss = []
    for round_ in range(args.repeats + 1):
        for key, model in variants.items():
            r = fit_rate(model, x, batch, steps)
            if round_:
                rates[key].append(r)
        for key, trainer in trainers.items():
            r = torch_rate(trainer, x, batch, steps, bf16=key.startswith("torch_bf16:"))
            if round_:
                rates[key].append(r)
        rss.append(rss_mb())
    median = {k: statistics.median(v) for k, v in rates.items()}
    if trainers:
        best = max((k for k in trainers if k.startswith("torch:")), key=median.get)
        median["torch"] = median[best]
        median["torch_best"] = best
    model = variants[auto_key]
    flops, counted = forward_flops(model, name)
    train_flops = 3 * flops
    params = sum(math.prod(w.shape) for w in model.trainable_weights)
    values = activation_values(model, name)
    bytes_per_image = 12 * values + 28 * params / batch
    peak, peak_what = (peak_flops(model, name, args.threads, batch)
                       if keras.backend.backend() == "tensorflow" else (float("nan"), "-"))
    bandwidth = copy_bandwidth()
    floor = min(peak / train_flops, bandwidth / bytes_per_image)
    out = {
        "model": name, "backend": keras.backend.backend(), "batch": batch, "steps": steps,
        "params": params, "mflop_per_image": train_flops / 1e6, "flops_counted": counted,
        "kb_per_image": bytes_per_image / 1e3, "peak_gflops": peak / 1e9, "peak_op": peak_what,
        "bandwidth_gbs": bandwidth / 1e9, "floor": floor,
        "bound": "FLOPs" if peak / train_flops <= bandwidth / bytes_per_image else "bytes",
        "auto": auto_key, "images_per_s": median, "all_rates": rates,
        "onednn": _backend._impl.onednn_enabled() if keras.backend.backend() == "tensorflow" else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_growth_mb": rss[-1] - rss[1] if len(rss) > 2 else float("nan"),
    }
    print("JSON1:" + json.dumps(out))


def _time_auto_only(args, name, model, auto_key, x, batch, steps):
    rates = [fit_rate(model, x, batch, steps) for _ in range(args.repeats + 1)][1:]
    print("JSON1:" + json.dumps({"model": name, "auto": auto_key, "rates": rates,
                                 "images_per_s": statistics.median(rates)}))


def _memory_one(args, name, model, auto_key, x, batch, steps):
    """Child of ``--memory``: one ``fit`` of ``args.memory`` epochs, VmRSS after each."""
    import keras

    rss = []

    class _Rss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rss.append(rss_mb())

    model.fit(x, batch_size=batch, epochs=args.memory, shuffle=False, verbose=0, callbacks=[_Rss()])
    print("JSON1:" + json.dumps({
        "model": name, "backend": keras.backend.backend(), "auto": auto_key,
        "steps_per_epoch": steps, "rss_mb": rss, "peak_rss_mb": rss_mb("VmHWM")}))


def memory_table(results, header):
    """The ``--memory`` table: resident set against steps, per model."""
    lines = [header, "",
             "| model | step | epochs x steps | RSS after epoch 1, at 1/4, 1/2, 3/4, the last (MB) "
             "| growth after epoch 1 MB | slope over the second half (MB per 1000 steps) | peak RSS MB |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        rss, steps = r["rss_mb"], r["steps_per_epoch"]
        n = len(rss)
        marks = ", ".join(f"{rss[i]:,.0f}" for i in (0, n // 4, n // 2, 3 * n // 4, n - 1))
        half = rss[n // 2:]
        slope = (np.polyfit(steps * np.arange(len(half)), half, 1)[0] * 1000
                 if len(half) > 1 else float("nan"))
        lines.append(
            f"| {r['model']} | {r['auto']} | {n} x {steps} | {marks} | {rss[-1] - rss[0]:+.0f} "
            f"| {slope:+.1f} | {r['peak_rss_mb']:,.0f} |")
    return "\n".join(lines)


# The "other" column's auto-only children: key -> label.
BASELINES = {"default_allocator": "TF default allocator", "onednn_on": "oneDNN on",
             "onednn_off": "oneDNN off"}


def table(results, header):
    lines = [header, "",
             "| model | params | MFLOP/img (train) | KB/img | peak GFLOP/s (op) | floor img/s (bound) "
             "| plain | XLA step | XLA update | **auto** (choice) | % floor | auto / plain | other | PyTorch "
             "| **auto / PyTorch** | peak RSS MB | RSS growth MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ips = r["images_per_s"]
        auto = ips[r["auto"]]
        fmt = lambda k: f"{ips[k]:,.0f}" if k in ips else "-"  # noqa: E731
        torch_name = f" ({ips['torch_best'][6:]})" if "torch_best" in ips else ""
        others = [f"{k} {ips[k]:,.0f}" for k in ("cumsum", "bf16") if k in ips]
        for key, label in BASELINES.items():
            if key in ips:
                others.append(f"{label} {ips[key]:,.0f} (auto / it: **{auto / ips[key]:.2f}x**)")
        others += [f"{k[6:]} {v:,.0f}" for k, v in ips.items()
                   if k.startswith("torch:") and k != ips.get("torch_best")]
        others += [f"torch bf16 ({k[11:]}) {v:,.0f}" for k, v in ips.items()
                   if k.startswith("torch_bf16:")]
        other = "; ".join(others) or "-"
        vs_plain = f"{auto / ips['plain']:.2f}x" if "plain" in ips else "-"
        vs_torch = f"**{auto / ips['torch']:.2f}x**" if "torch" in ips else "-"
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['mflop_per_image']:.1f} | {r['kb_per_image']:,.0f} "
            f"| {r['peak_gflops']:.0f} ({r['peak_op']}) | {r['floor']:,.0f} ({r['bound']}) "
            f"| {fmt('plain')} | {fmt('xla')} | {fmt('update')} | **{auto:,.0f}** ({r['auto']}) "
            f"| {100 * auto / r['floor']:.0f}% | {vs_plain} | {other} | {fmt('torch')}{torch_name} | {vs_torch} "
            f"| {r['peak_rss_mb']:,.0f} | {r['rss_growth_mb']:+.0f} |")
    return "\n".join(lines)


def _child(cmd, env, name):
    """Run one child process; its ``JSON1:`` line as a dict."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("JSON1:")), None)
    if line is None:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{name}: the child process failed")
    return json.loads(line[6:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated, of {sorted(MODELS)}")
    p.add_argument("--threads", type=int, default=None, help="TF and torch threads (default: all)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds after one warm-up round")
    p.add_argument("--data", default=None, help="binarized MNIST .npz (train split); else random")
    p.add_argument("--quick", action="store_true", help="half the steps (a check that it runs)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--bf16", action="store_true",
                   help="also our auto step under mixed_bfloat16 and the twins under autocast")
    p.add_argument("--allocator-baseline", action="store_true",
                   help="also each auto step with TensorFlow's default CPU allocator")
    p.add_argument("--onednn-flip", action="store_true",
                   help="also each auto step with TensorFlow's oneDNN kernels switched the other way")
    p.add_argument("--memory", type=int, default=0, metavar="EPOCHS",
                   help="instead: resident set over one fit of EPOCHS epochs of each auto step")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--auto-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        return run_one(args)
    results = []
    for name in args.models.split(","):
        if name not in MODELS:
            p.error(f"unknown model {name!r}; known: {sorted(MODELS)}")
        cmd = [sys.executable, os.path.abspath(__file__), "--one", name,
               "--repeats", str(args.repeats)]
        for flag, value in (("--threads", args.threads), ("--data", args.data)):
            if value:
                cmd += [flag, str(value)]
        cmd += ["--quick"] * args.quick + ["--no-torch"] * args.no_torch + ["--bf16"] * args.bf16
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        if args.memory:
            results.append(_child(cmd + ["--memory", str(args.memory)], env, name))
            print(f"{name}: done", file=sys.stderr, flush=True)
            continue
        results.append(_child(cmd, env, name))
        baselines = {}
        if args.allocator_baseline:
            baselines["default_allocator"] = {"TF_CPU_ALLOCATOR_USE_BFC": "false"}
        if args.onednn_flip and results[-1].get("onednn") is not None:
            on = results[-1]["onednn"]
            baselines["onednn_off" if on else "onednn_on"] = {"TF_ENABLE_ONEDNN_OPTS": "0" if on else "1"}
        for key, extra in baselines.items():
            base = _child(cmd + ["--auto-only", "--no-torch"], dict(env, **extra), name)
            results[-1]["images_per_s"][key] = base["images_per_s"]
            results[-1]["all_rates"][key] = base["rates"]
        print(f"{name}: done", file=sys.stderr, flush=True)
    if args.memory:
        print(memory_table(results, f"backend {results[0]['backend']}, {cpu_description()}, "
                                    f"{args.threads or os.cpu_count()} thread(s)"))
        print("JSON:" + json.dumps({"bench": "train_throughput_memory", "results": results}))
        return
    backend = results[0]["backend"]
    onednn = {True: "on", False: "off"}.get(results[0].get("onednn"), "-")
    header = (f"backend {backend}, {cpu_description()}, {args.threads or os.cpu_count()} thread(s), "
              f"oneDNN {onednn} "
              f"(TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default')}), "
              f"TF_CPU_ALLOCATOR_USE_BFC={os.environ.get('TF_CPU_ALLOCATOR_USE_BFC', 'true (package default)')}, "
              f"median of {args.repeats} rounds; copy bandwidth {results[0]['bandwidth_gbs']:.1f} GB/s")
    print(table(results, header))
    print("JSON:" + json.dumps({"bench": "train_throughput", "results": results}))


if __name__ == "__main__":
    main()
