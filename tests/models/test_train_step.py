"""One ``fit`` step is one step down the exact gradient of the loss, on every backend.

Each backend takes the package's gradient step its own way (a TensorFlow
``GradientTape``, a pure jitted JAX step with the state passed in and out,
``torch.autograd``). After one ``train_on_batch`` with plain SGD, every weight
must equal ``w - lr * dL/dw``: ``L`` is the batch's mean negative
log-likelihood ``-mean_n log p(x_n)``, from the network's output and the
Bernoulli likelihood, differentiated independently by ``tests/_grad.py``. A
gradient that is scaled, partial, taken at stale weights or applied twice
fails; so does a reported loss that is not the pre-step batch NLL.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_genmodels import likelihoods, models
from tests import _grad

LR = 0.5

CASES = {
    "nade": lambda: models.NADE(6, hidden_units=5, seed=0),
    "made": lambda: models.MADE(6, hidden_units=(8,), seed=0),
    "markov": lambda: models.MarkovAR(6, order=2, seed=0),
    "pixel_cnn": lambda: models.PixelCNN((3, 3, 1), filters=4, num_layers=1, kernel_size=3,
                                         likelihood="bernoulli", seed=0),
}


@pytest.mark.parametrize("name", [
    # The conv model on TensorFlow only: the step itself is the same code (cost on JAX: 10 s).
    n if n == "pixel_cnn" else pytest.param(n, marks=pytest.mark.all_backends)
    for n in sorted(CASES)])
def test_one_sgd_step_follows_the_exact_gradient(name):
    model = CASES[name]()
    rng = np.random.default_rng(0)
    x = (rng.random((8,) + model.event_shape) < 0.4).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(LR))
    model(x)  # built
    variables = model.trainable_variables
    before = [ops.convert_to_numpy(v).copy() for v in variables]

    def mean_nll():
        return -likelihoods.Bernoulli().log_prob(x, model(x)) / len(x)

    grads = _grad.variable_gradients(mean_nll, variables)
    nll = -np.mean(model.log_prob(x))
    logs = model.train_on_batch(x, return_dict=True)

    np.testing.assert_allclose(logs["loss"], nll, rtol=1e-5)
    moved = 0.0
    for v, w0, g in zip(variables, before, grads):
        expected = w0 - LR * g
        np.testing.assert_allclose(ops.convert_to_numpy(v), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=v.path)
        moved = max(moved, float(np.max(np.abs(LR * g))))
    assert moved > 1e-2  # the step is far larger than the tolerance
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 1
