"""Training throughput of a PixelCNN: masked-kernel baselines vs the fused kernel.

Trains the keras.io PixelCNN architecture (binarized 28x28x1 images; a 7x7
mask-A conv, ``--blocks`` residual blocks ReLU -> 1x1 conv -> 3x3 mask-B conv
with half the filters -> 1x1 conv -> add, two 1x1 mask-B convs, a 1x1 logit
conv; ``--filters`` 64, batch 64) written four ways, each with and without
``jit_compile`` (XLA) on the training step:

* ``keras_io``: the keras.io example's ``PixelConvLayer`` (``kernel.assign(
  kernel * mask)`` on every call, then a dense conv);
* ``tfp``: ``tfp.distributions.PixelCNN`` (PixelCNN++ with shifted convs) at
  ``--filters`` filters, ``--tfp-resnets`` resnet blocks, one hierarchy (its
  compile is slow: ``--tfp-steps`` steps only);
* ``reference``: ``MaskedConv2D(implementation="reference")`` (mask multiplied
  into the kernel inside the op, no state change);
* ``fused``: ``MaskedConv2D(implementation="fused")`` with its default
  method on this device (``"shifted"`` on CPU: one conv over the rows up to
  the current one, no work on the rows below), on TensorFlow with the native
  ops of ``kernels/_tensorflow.py`` (fusable ``BiasAdd``, explicit padding,
  input gradient as a forward conv); ``fused_ops``: the same kernel through
  ``keras.ops`` only (what the JAX backend runs); ``fused_split``: the same with
  ``method="split"`` (rows-above conv + current-row conv: no masked tap at
  all); ``fused_xla``: the fused kernel compiled with XLA on its own inside
  an otherwise plain step (relevant when the step itself is not compiled).

Every model takes the same plain-SGD training step on a fixed batch (so the
optimizer is not what is measured): ``images/s`` is the median over
``--repeats`` timed runs of ``--steps`` steps, after one warm-up step (whose
time, compile included, is reported separately). FLOPs per image are counted
per forward pass (2 per multiply-add); a training step is counted as 3x the
forward (forward, input gradient, kernel gradient). ``dense`` counts every
kernel tap, ``useful`` only the unmasked ones, ``computed`` what the variant
actually multiplies; the useful FLOP rate is compared
with the machine's own peak, measured here as a plain 3x3 64->64 convolution on
a 64x28x28x64 input (training-step-like: forward + both gradients).

Usage::

    python bench/masked_conv.py                 # full run (a few minutes on 2 cores)
    python bench/masked_conv.py --steps 3 --repeats 1 --tfp-steps 1   # quick check
    python bench/masked_conv.py --onednn --models keras_io,fused --xla off

Prints a table and one JSON line (prefix ``JSON:``).
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "--onednn" in sys.argv:
    # Read by TensorFlow at import. Its oneDNN kernels are off by default on
    # CPUs without AVX-512 (e.g. AMD Zen 3, where this was measured).
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_genmodels.kernels import conv_flops  # noqa: E402
from keras_genmodels.kernels import masked_conv2d  # noqa: E402
from keras_genmodels.kernels.masked_conv import _resolve_method  # noqa: E402
from keras_genmodels.kernels.masked_conv import _run  # noqa: E402
from keras_genmodels.layers import MaskedConv2D  # noqa: E402

H = W = 28


# --------------------------------------------------------------------------
# (a) the keras.io example's layers (kernel.assign(kernel * mask) per call)
class PixelConvLayer(keras.layers.Layer):
    def __init__(self, mask_type, **kwargs):
        super().__init__()
        self.mask_type = mask_type
        self.conv = keras.layers.Conv2D(**kwargs)

    def build(self, input_shape):
        self.conv.build(input_shape)
        kernel_shape = self.conv.kernel.shape
        self.mask = np.zeros(shape=kernel_shape, dtype="float32")
        self.mask[: kernel_shape[0] // 2, ...] = 1.0
        self.mask[kernel_shape[0] // 2, : kernel_shape[1] // 2, ...] = 1.0
        if self.mask_type == "B":
            self.mask[kernel_shape[0] // 2, kernel_shape[1] // 2, ...] = 1.0

    def call(self, inputs):
        self.conv.kernel.assign(self.conv.kernel * self.mask)
        return self.conv(inputs)


class _SplitMaskedConv2D(MaskedConv2D):
    """MaskedConv2D forced to the fused kernel's ``method="split"``."""

    def call(self, inputs):
        return masked_conv2d(inputs, self.kernel, self.bias, mask_type=self.mask_type,
                             activation=self.activation, method="split")


class _OpsMaskedConv2D(MaskedConv2D):
    """MaskedConv2D's fused kernel written in ``keras.ops`` only (no TensorFlow-native ops)."""

    def call(self, inputs):
        return _run("fused", inputs, self.kernel, self.bias, self.mask_type, self.color_groups,
                    self.activation, False, None, self.dilation_rate, False, native=False)


def _masked(kind, filters, kernel_size, mask_type, activation):
    if kind == "keras_io":
        return PixelConvLayer(mask_type=mask_type, filters=filters, kernel_size=kernel_size,
                              padding="same", activation=activation)
    if kind == "fused_split":
        return _SplitMaskedConv2D(filters, kernel_size, mask_type=mask_type, activation=activation)
    if kind == "fused_ops":
        return _OpsMaskedConv2D(filters, kernel_size, mask_type=mask_type, activation=activation)
    return MaskedConv2D(filters, kernel_size, mask_type=mask_type, activation=activation,
                        implementation=kind)


def _pointwise(kind, filters, activation=None):
    """A 1x1 convolution: ``keras.layers.Conv2D`` for keras.io, ours otherwise.

    A 1x1 mask-B ``MaskedConv2D`` with one colour group is the same function
    (every tap unmasked); the fused kernel computes it as a matrix product.
    """
    if kind == "keras_io":
        return keras.layers.Conv2D(filters, 1, activation=activation)
    return _masked(kind, filters, 1, "B", activation)


def build_pixelcnn(kind, filters=64, blocks=5):
    """The keras.io PixelCNN (logits out) with masked convs of the given kind.

    Returns the model and the list of conv specs
    ``(kernel_size, in, out, mask_type or None)`` for FLOP counting.
    """
    specs = []
    inputs = keras.Input((H, W, 1))
    x = _masked(kind, filters, 7, "A", "relu")(inputs)
    specs.append((7, 1, filters, "A"))
    for _ in range(blocks):
        h = keras.layers.ReLU()(x)
        h = _pointwise(kind, filters, "relu")(h)
        h = _masked(kind, filters // 2, 3, "B", "relu")(h)
        h = _pointwise(kind, filters, "relu")(h)
        x = keras.layers.add([x, h])
        specs += [(1, filters, filters, None), (3, filters, filters // 2, "B"),
                  (1, filters // 2, filters, None)]
    for _ in range(2):
        x = _masked(kind, filters, 1, "B", "relu")(x)
        specs.append((1, filters, filters, "B"))
    out = _pointwise(kind, 1)(x)
    specs.append((1, filters, 1, None))
    return keras.Model(inputs, out), specs


def flops_per_image(specs, kind):
    """Forward FLOPs per image: dense, useful and what ``kind`` computes."""
    computed_key = {"keras_io": "dense", "reference": "dense", "fused_split": "split"}.get(
        kind, _resolve_method("auto"))
    totals = {"dense": 0, "useful": 0, "computed": 0}
    for k, cin, cout, mask in specs:
        f = conv_flops(k, cin, cout, mask)
        totals["dense"] += f["dense"] * H * W
        totals["useful"] += f["useful"] * H * W
        totals["computed"] += f[computed_key] * H * W
    return totals


def _sgd_step_fn(loss_fn, variables, jit, lr=1e-3):
    def step(x):
        with tf.GradientTape() as tape:
            loss = loss_fn(x)
        grads = tape.gradient(loss, variables)
        for v, g in zip(variables, grads):
            v.assign_sub(lr * g)
        return loss

    return tf.function(step, jit_compile=jit)


def keras_step(model, jit):
    def loss_fn(x):
        logits = model(x, training=True)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))

    return _sgd_step_fn(loss_fn, model.trainable_variables, jit)


def tfp_model(filters, resnets):
    import tensorflow_probability as tfp

    dist = tfp.distributions.PixelCNN(
        image_shape=(H, W, 1), num_resnet=resnets, num_hierarchies=1, num_filters=filters,
        num_logistic_mix=1, receptive_field_dims=(3, 3), dropout_p=0.0,
        use_weight_norm=False, use_data_init=False, high=1, low=0)
    return dist


def tfp_step(dist, x, jit):
    dist.log_prob(x[:1])  # builds the network variables
    variables = dist.trainable_variables

    def loss_fn(x):
        return -tf.reduce_mean(dist.log_prob(x)) / (H * W)

    return _sgd_step_fn(loss_fn, variables, jit)


def tfp_forward_flops(dist, x):
    """Graph FLOPs of one forward pass (TF's profiler), per image."""
    fn = tf.function(lambda t: dist.log_prob(t)).get_concrete_function(
        tf.TensorSpec(x.shape, x.dtype))
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    prof = tf.compat.v1.profiler.profile(fn.graph, options=opts)
    return prof.total_float_ops / int(x.shape[0])


def first_step(step, x):
    t0 = time.perf_counter()
    float(step(x))
    return time.perf_counter() - t0


def timed_run(step, x, steps):
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step(x)
    float(loss)
    return steps * int(x.shape[0]) / (time.perf_counter() - t0)


def time_step(step, x, steps, repeats):
    first = first_step(step, x)
    rates = [timed_run(step, x, steps) for _ in range(repeats)]
    return statistics.median(rates), rates, first


def peak_step(batch):
    """Plain 3x3 64->64 conv on (batch, 28, 28, 64), forward + both gradients.

    Returns ``(step, x, flops_per_image)`` (3x the forward FLOPs, as for the
    models).
    """
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch, H, W, 64)), tf.float32)
    k = tf.Variable(rng.standard_normal((3, 3, 64, 64)).astype("float32") * 0.05)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, k, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        gx, gk = tape.gradient(loss, [x, k])
        return tf.reduce_sum(gx) + tf.reduce_sum(gk)

    return step, x, 3 * 2 * 9 * 64 * 64 * H * W


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10, help="training steps per timed repeat")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--tfp-resnets", type=int, default=2)
    p.add_argument("--tfp-steps", type=int, default=2, help="steps per repeat for TFP (slow)")
    p.add_argument("--models", default="keras_io,tfp,reference,fused,fused_ops,fused_split,fused_xla",
                   help="comma-separated subset of keras_io,tfp,reference,fused,fused_ops,"
                        "fused_split,fused_xla")
    p.add_argument("--xla", default="off,on", help="'off', 'on' or 'off,on' (step jit_compile)")
    p.add_argument("--onednn", action="store_true",
                   help="set TF_ENABLE_ONEDNN_OPTS=1 (TensorFlow's oneDNN CPU kernels) for every model")
    args = p.parse_args(argv)

    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    allowed = {"keras_io", "tfp", "reference", "fused", "fused_ops", "fused_split", "fused_xla"}
    if not set(kinds) <= allowed:
        raise ValueError(f"--models must be a subset of {sorted(allowed)}. Received: {args.models}")
    xla_modes = [{"off": False, "on": True}[m.strip()] for m in args.xla.split(",")]

    rng = np.random.default_rng(0)
    x = tf.constant((rng.random((args.batch, H, W, 1)) < 0.3).astype("float32"))

    pstep, px, pflops = peak_step(args.batch)
    first_step(pstep, px)
    peak_rates = []

    # Build and warm up every variant, then time them round-robin (repeat r of
    # every variant before repeat r + 1 of any): a load change on a shared
    # machine then hits all variants alike, and ratios stay meaningful.
    configs = []
    for kind in kinds:
        for jit in xla_modes:
            if kind == "fused_xla" and jit:
                continue  # identical to fused under an XLA-compiled step
            keras.utils.set_random_seed(0)
            if kind == "tfp":
                dist = tfp_model(args.filters, args.tfp_resnets)
                step = tfp_step(dist, x, jit)
                fwd = tfp_forward_flops(dist, x)
                # PixelCNN++ shifted convs have no masked taps: all FLOPs useful.
                flops = {"dense": fwd, "useful": fwd, "computed": fwd}
                steps = args.tfp_steps
            else:
                model, specs = build_pixelcnn(kind, args.filters, args.blocks)
                step = keras_step(model, jit)
                flops = flops_per_image(specs, kind)
                steps = args.steps
            first = first_step(step, x)
            print(f"  built {kind:11s} xla={str(jit):5s} first step (trace+compile) {first:.1f} s",
                  flush=True)
            configs.append({"model": kind, "xla": jit, "step": step, "steps": steps,
                            "flops": flops, "first": first, "rates": []})
    for rep_i in range(args.repeats):
        peak_rates.append(timed_run(pstep, px, max(args.steps, 3)) * pflops / 1e9)
        for c in configs:
            c["rates"].append(timed_run(c["step"], x, c["steps"]))
        print(f"  repeat {rep_i + 1}/{args.repeats} done", flush=True)
    peak = statistics.median(peak_rates)
    print(f"measured conv peak (3x3 64->64 conv on 64x28x28x64, fwd + both grads): "
          f"{peak:.1f} GFLOP/s")
    rows = []
    for c in configs:
        rate = statistics.median(c["rates"])
        flops = c["flops"]
        rows.append({
            "model": c["model"], "xla": c["xla"], "images_per_s": rate, "repeats": c["rates"],
            "steps_per_repeat": c["steps"], "first_step_s": c["first"],
            "dense_mflop_per_image": flops["dense"] / 1e6,
            "useful_mflop_per_image": flops["useful"] / 1e6,
            "computed_mflop_per_image": flops["computed"] / 1e6,
            "dense_gflops": 3 * flops["dense"] * rate / 1e9,
            "useful_gflops": 3 * flops["useful"] * rate / 1e9,
        })

    base = {r["xla"]: r["images_per_s"] for r in rows if r["model"] == "keras_io"}
    base_best = max(base.values()) if base else None
    print()
    header = (f"{'model':11s} {'XLA':5s} {'img/s':>8s} {'vs keras.io':>11s} {'dense MF/img':>12s} "
              f"{'useful MF/img':>13s} {'computed MF':>11s} {'dense GF/s':>10s} "
              f"{'useful GF/s':>11s} {'useful % peak':>13s}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["images_per_s"] / base_best if base_best else float("nan")
        r["speedup_vs_keras_io_best"] = ratio
        r["useful_fraction_of_peak"] = r["useful_gflops"] / peak
        print(f"{r['model']:11s} {str(r['xla']):5s} {r['images_per_s']:8.1f} {ratio:10.2f}x "
              f"{r['dense_mflop_per_image']:12.1f} {r['useful_mflop_per_image']:13.1f} "
              f"{r['computed_mflop_per_image']:11.1f} {r['dense_gflops']:10.1f} "
              f"{r['useful_gflops']:11.1f} {100 * r['useful_fraction_of_peak']:12.0f}%")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of this process: {peak_rss_mb:.0f} MB")
    result = {
        "benchmark": "masked_conv_training", "batch": args.batch, "filters": args.filters,
        "blocks": args.blocks, "steps": args.steps, "repeats": args.repeats,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "peak_conv_gflops": peak, "peak_rss_mb": peak_rss_mb,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "tensorflow": tf.__version__, "keras": keras.__version__,
                    "python": sys.version.split()[0]},
        "rows": rows,
    }
    print("JSON: " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()
