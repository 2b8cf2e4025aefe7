"""Mixed precision: every model trains under "mixed_float16" and "mixed_bfloat16".

For each policy and model (tiny networks, see ``tests/_scale_models.py``):

- the layers compute in the low-precision dtype, while every loss and
  likelihood the model reports is float32;
- the optimizers are ``LossScaleOptimizer`` s exactly where Keras uses loss
  scaling (``mixed_float16``: Keras' compile wraps ``model.optimizer``, and
  the GAN/AAE wrap their own optimizers), and not for ``mixed_bfloat16``;
- STEPS Adam steps on one batch give finite losses and a decreasing loss
  (under mixed_float16 a step whose scaled gradients overflow is skipped and
  halves the loss scale, as Keras' dynamic loss scaling does; at most 2 of
  the steps may be skipped);
- (``mixed_float16``) one SGD step equals the float32 step from the same
  weights up to float16 rounding: the loss was multiplied by the loss scale
  (``2**15``) before differentiation and the gradients unscaled. A missing
  scale (or a missing unscale) changes the update by a factor ``2**15`` and
  fails this test.

The global policy is reset to ``"float32"`` after every test.
"""

import keras
import numpy as np
import pytest
from keras import ops

from tests import _scale_models
from tests._scale_models import NAMES

POLICIES = ("mixed_float16", "mixed_bfloat16")
LOW = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
STEPS = 4
# The quantity that must decrease: the GAN's losses are adversarial (one
# player's loss rises as the other's falls), so its discriminator loss is
# followed over the first steps, where the discriminator learns fastest.
MAIN_LOSS = {"aae": "reconstruction_loss", "gan": "d_loss"}


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _optimizers(model):
    return [getattr(model, n) for n in _scale_models.optimizer_names(model)]


def _losses(model, x):
    """The model's loss dict on ``x`` (every model has ``compute_losses(x)``)."""
    return model.compute_losses(ops.convert_to_tensor(x))


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
@pytest.mark.parametrize("name", NAMES)
def test_trains_with_float32_losses(policy, name):
    model, x, compile_fn = _scale_models.build(name)
    assert model.dtype_policy.name == policy
    compile_fn(model, lambda: keras.optimizers.Adam(1e-2))
    # Eager steps: a handful of steps on tiny models, where tracing costs more.
    model.run_eagerly = True

    scaled = [isinstance(o, keras.optimizers.LossScaleOptimizer) for o in _optimizers(model)]
    assert scaled == [policy == "mixed_float16"] * len(scaled)

    # The networks compute in low precision...
    low = [layer for layer in model._flatten_layers(include_self=True)
           if layer.weights and layer.compute_dtype == LOW[policy]]
    assert low, "no layer computes in the low-precision dtype"
    # ...and every reported loss is float32.
    for key, value in _losses(model, x).items():
        assert keras.backend.standardize_dtype(value.dtype) == "float32", (key, value.dtype)
    if hasattr(model, "log_prob"):
        log_p = model.log_prob(x)
        assert log_p.dtype == np.float32 and np.all(np.isfinite(log_p))

    # One fixed batch, STEPS Adam steps: fit's per-epoch logs are the losses
    # of each step (computed before the update).
    history = model.fit(x, batch_size=len(x), epochs=STEPS, shuffle=False, verbose=0).history
    for key, values in history.items():
        assert np.all(np.isfinite(values)), (key, values)
    main = history[MAIN_LOSS.get(name, "loss")]
    assert main[-1] < main[0], main
    for opt in _optimizers(model):
        applied = int(ops.convert_to_numpy(opt.iterations))
        if isinstance(opt, keras.optimizers.LossScaleOptimizer):
            # Dynamic loss scaling: a step whose scaled gradients overflow
            # float16 is skipped and halves the scale (2**15 at the start).
            halvings = np.log2(2.0 ** 15 / float(ops.convert_to_numpy(opt.dynamic_scale)))
            assert applied + halvings == STEPS and applied >= STEPS - 2, (applied, halvings)
        else:
            assert applied == STEPS


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
@pytest.mark.parametrize("name", NAMES)
def test_loss_scaled_step_matches_float32(policy, name):
    keras.mixed_precision.set_global_policy("float32")
    ref, x, compile_fn = _scale_models.build(name, deterministic=True)
    initial = [w.copy() for w in ref.get_weights()]
    keras.mixed_precision.set_global_policy(policy)
    model, _, _ = _scale_models.build(name, deterministic=True)
    model.set_weights(initial)

    def sgd():
        return keras.optimizers.SGD(0.1)

    for m in (ref, model):
        compile_fn(m, sgd)
        m.run_eagerly = True
        m.fit(x[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in _optimizers(model))
    delta_ref = [a - b for a, b in zip(ref.get_weights(), initial)]
    delta = [a - b for a, b in zip(model.get_weights(), initial)]
    scale = max(float(np.max(np.abs(d))) for d in delta_ref)
    assert scale > 1e-3
    err = max(float(np.max(np.abs(a - b))) for a, b in zip(delta, delta_ref))
    # float16 has an 11-bit mantissa: the updates agree to a few 1e-3 of
    # the largest update.
    assert err < 2e-2 * scale, (err, scale)
