"""Where a model's training step spends its time, per TensorFlow op (no TensorBoard needed).

Trains one model of ``bench/train_throughput.py`` (same architecture, batch
and compile choice) under TensorFlow's profiler, then reads the trace it
writes (the ``XSpace`` protobuf in ``*.xplane.pb``) directly: every op the
executor ran is an event on a ``tf_Compute`` line of the host plane, named
``scope/.../op_name:OpType`` (an XLA function is one ``XlaExecutable``
event; the runtime's nested ``Class::method`` events are left out). Prints the total time per op type and the
slowest individual ops (their names shortened to the layer scope and op),
as a share of the executor's busy time.

Usage::

    python bench/op_profile.py --model diagonal_bilstm --threads 1
    python bench/op_profile.py --model vae --steps 20 --top 30 --compile plain

TensorFlow only (on JAX the step is one XLA program: use ``jax.profiler``).
The times are the profiler's (it adds a little per op); compare shares, not
absolute numbers, and time speed with ``bench/train_throughput.py``.
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _short(name):
    """``.../gradient_tape/pixel_rnn/layer_1/while/.../x/StridedSliceGrad:T`` -> the last scopes."""
    grad = "gradient_tape/" in name or "_grad/" in name
    parts = [p for p in name.split("/") if not re.match(r"^(StatefulPartitionedCall|cond|then|"
                                                         r"_\d+|body|while_grad|gradients)$", p)]
    return ("grad: " if grad else "") + "/".join(parts[-3:])


def op_times(xspace):
    """``{op name: total picoseconds}`` of the executor's op events in ``xspace``."""
    totals = collections.Counter()
    for plane in xspace.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if name.startswith("CpuExecutable::"):  # an XLA function, as one op
                    totals["xla/CpuExecutable:XlaExecutable"] += event.duration_ps
                elif ":" in name and "::" not in name:  # not the runtime's (nested) C++ events
                    totals[name] += event.duration_ps
    return totals


def profile(name, steps, compile_as, threads, policy="float32"):
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    import train_throughput as tt

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    batch = tt.MODELS[name][0]
    x = tt.data(name, batch * steps, None)
    import keras

    keras.mixed_precision.set_global_policy(policy)
    model = tt.build(name, {"plain": False, "xla": True}.get(compile_as, compile_as))
    model.fit(x, batch_size=batch, epochs=1, verbose=0)  # trace and warm up
    logdir = tempfile.mkdtemp(prefix="op_profile_")
    tf.profiler.experimental.start(logdir)
    model.fit(x, batch_size=batch, epochs=1, verbose=0)
    tf.profiler.experimental.stop()
    path = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0]
    xspace = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        xspace.ParseFromString(f.read())
    return op_times(xspace)


def report(totals, steps, top):
    busy = sum(totals.values()) or 1
    by_type = collections.Counter()
    for name, ps in totals.items():
        by_type[name.rsplit(":", 1)[1]] += ps
    lines = [f"executor busy time: {busy / 1e9 / steps:.1f} ms per step", "",
             "| op type | ms / step | share |", "|---|---|---|"]
    lines += [f"| {t} | {ps / 1e9 / steps:.2f} | {100 * ps / busy:.1f}% |"
              for t, ps in by_type.most_common(top)]
    lines += ["", "| op | type | ms / step | share |", "|---|---|---|---|"]
    lines += [f"| {_short(n.rsplit(':', 1)[0])} | {n.rsplit(':', 1)[1]} | {ps / 1e9 / steps:.2f} "
              f"| {100 * ps / busy:.1f}% |" for n, ps in totals.most_common(top)]
    return "\n".join(lines)


def main(argv=None):
    import train_throughput as tt

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=sorted(tt.MODELS))
    p.add_argument("--steps", type=int, default=4, help="profiled training steps")
    p.add_argument("--compile", default="auto", choices=["auto", "plain", "xla", "update"],
                   help="the step to profile (default: what compile() picks)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--policy", default="float32", choices=["float32", "mixed_bfloat16"],
                   help="Keras dtype policy the model is built under")
    args = p.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    totals = profile(args.model, args.steps, args.compile, args.threads, args.policy)
    print(f"{args.model} ({args.compile}, {args.policy}), {args.steps} steps\n")
    print(report(totals, args.steps, args.top))


if __name__ == "__main__":
    main()
