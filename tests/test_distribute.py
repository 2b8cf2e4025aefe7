"""tf.distribute: two replicas on a global batch take the same step as one replica.

Every model is trained for two steps of SGD on a global batch of 8,
once without a strategy and once under ``tf.distribute.MirroredStrategy``
with two logical CPU devices (4 examples per replica), from the same initial
weights (momentum 0.5, so the second step also reads optimizer slots).
Every final weight tensor ``w`` must agree with the reference ``w_ref`` to
``max|w - w_ref| < TOL * (1 + max|w_ref|)`` with ``TOL = 1e-5`` (float32
summation order is the only difference; measured: below 4e-8), and so must
the optimizer variables and the metrics ``fit`` reports.

Why this can fail: Keras' optimizers *sum* the replicas' gradients
(``_all_reduce_sum_gradients``), so each replica's loss must be divided by
``num_replicas_in_sync`` (as Keras' own ``compute_loss`` does through
``scale_loss_for_distribution``). Without that the distributed update is
twice the single-replica update; the test also asserts the weights moved by
much more than the tolerance, so such a factor is caught. SGD is used
because Adam's first step is nearly invariant to the gradient's scale and
would hide a wrong factor. A wrongly mirrored variable (e.g. an optimizer
created outside the strategy's scope, or an EMA assign that only lands on one
replica) shows up as a weight mismatch or as an error.

Logical devices must be configured before TensorFlow initialises, so the
whole comparison runs once in a subprocess (``python -m
tests.test_distribute --worker``, which prints one JSON line) and the tests
read its result. Each model's step is made free of random draws (see ``tests/_scale_models.py``): replicas draw
their own noise, so a 2-replica and a 1-replica step cannot draw the same.
"""

import json
import os
import subprocess
import sys

import pytest

TOL = 1e-5
STEPS = 2
LR = 0.1
MOMENTUM = 0.5
NUM_REPLICAS = 2


def _run_all():
    """The subprocess body: returns {model_name: result dict}."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * NUM_REPLICAS)

    import keras
    import numpy as np

    from tests import _scale_models

    strategy = tf.distribute.MirroredStrategy(
        [f"/cpu:{i}" for i in range(NUM_REPLICAS)],
        cross_device_ops=tf.distribute.ReductionToOneDevice())
    names = sys.argv[2:] or _scale_models.NAMES
    results = {}

    def sgd():
        return keras.optimizers.SGD(LR, momentum=MOMENTUM)

    def sgd_config():
        return {"class_name": "SGD", "config": {"learning_rate": LR, "momentum": MOMENTUM}}

    def train(model, x):
        history = model.fit(x, batch_size=_scale_models.BATCH, epochs=1, shuffle=False,
                            verbose=0)
        return {k: float(v[-1]) for k, v in history.history.items()}

    def optimizer_state(model):
        return [np.asarray(keras.ops.convert_to_numpy(v))
                for n in _scale_models.optimizer_names(model)
                for v in getattr(model, n).variables]

    for name in names:
        try:
            ref, x, compile_fn = _scale_models.build(name, deterministic=True)
            x = x[:STEPS * _scale_models.BATCH]
            initial = [w.copy() for w in ref.get_weights()]
            compile_fn(ref, sgd)
            ref.run_eagerly = True  # the reference needs no tracing (faster here)
            ref_logs = train(ref, x)
            adversarial = len(_scale_models.optimizer_names(ref)) > 1
            with strategy.scope():
                dist, _, _ = _scale_models.build(name, deterministic=True)
                dist.set_weights(initial)
                replicas = int(tf.distribute.get_strategy().num_replicas_in_sync)
                if not adversarial:
                    # Keras' rule for model.optimizer: compile under the scope.
                    compile_fn(dist, sgd)
            outside_instances = None
            if adversarial:
                # GAN/AAE create their optimizers from configs under the
                # model's strategy themselves: compile outside the scope.
                compile_fn(dist, sgd_config)
                # Instances made outside the scope are refused (they would
                # share one non-mirrored iteration counter).
                with strategy.scope():
                    other, _, _ = _scale_models.build(name, deterministic=True)
                try:
                    compile_fn(other, sgd)
                except ValueError as error:
                    outside_instances = str(error)
            dist_logs = train(dist, x)
            w_ref, w_dist = ref.get_weights(), dist.get_weights()
            mirrored = all(
                isinstance(v.value, tf.distribute.DistributedValues)
                for n in _scale_models.optimizer_names(dist)
                for v in list(getattr(dist, n).variables) + list(dist.trainable_weights)
            )
            results[name] = {
                "replicas": replicas,
                "num_weights": len(w_ref),
                "weight_diff": max(float(np.max(np.abs(a - b)) / (1.0 + np.max(np.abs(a))))
                                   for a, b in zip(w_ref, w_dist)),
                "weight_change": max(float(np.max(np.abs(a - b)))
                                     for a, b in zip(w_ref, initial)),
                "opt_state_diff": max([float(np.max(np.abs(a - b)) / (1.0 + np.max(np.abs(a))))
                                       for a, b in zip(optimizer_state(ref),
                                                       optimizer_state(dist))] or [0.0]),
                "mirrored": mirrored,
                "adversarial": adversarial,
                "outside_instances_error": outside_instances,
                "ref_logs": ref_logs,
                "dist_logs": dist_logs,
            }
        except Exception as error:  # reported per model by the tests
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    return results


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print("RESULTS " + json.dumps(_run_all()))
    sys.exit(0)


from tests._scale_models import NAMES  # noqa: E402


@pytest.fixture(scope="module")
def results():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2",
               CUDA_VISIBLE_DEVICES="")
    # Run as a module from the repository root, so that ``tests`` imports.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-m", "tests.test_distribute", "--worker"],
                          capture_output=True, text=True, timeout=600, env=env, cwd=root)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("RESULTS "):])


@pytest.mark.parametrize("name", NAMES)
def test_two_replicas_match_one(results, name):
    r = results[name]
    assert "error" not in r, r.get("error")
    assert r["replicas"] == NUM_REPLICAS
    assert r["num_weights"] > 0
    # Every trainable weight and optimizer slot is a mirrored variable: the
    # models and their optimizers (GAN/AAE's own ones included) were created
    # under the strategy's scope.
    assert r["mirrored"]
    # The step is large compared with the tolerance, so a wrong loss scale
    # (a factor of 2 on the update) would fail the comparison.
    assert r["weight_change"] > 100 * TOL, r
    assert r["weight_diff"] < TOL, r
    assert r["opt_state_diff"] < TOL, r
    if r["adversarial"]:
        # compile() outside the scope with optimizer configs worked (above);
        # optimizer instances created outside the scope are refused.
        assert "created outside the scope of the MirroredStrategy" in (
            r["outside_instances_error"] or ""), r
    # The metrics fit reports: per-replica means, averaged over replicas
    # (Keras' "auto" reduction), equal the global-batch means.
    assert set(r["ref_logs"]) == set(r["dist_logs"])
    for key, value in r["ref_logs"].items():
        assert r["dist_logs"][key] == pytest.approx(value, rel=TOL, abs=TOL), key
