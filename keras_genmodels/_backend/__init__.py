"""The one place that knows which Keras backend is running.

Everything else in the package is written with ``keras.ops`` and
``keras.random``. A few things cannot be: taking a gradient step inside a
custom ``train_step`` (TensorFlow records a ``GradientTape``, JAX
differentiates a pure function, torch calls ``backward``), differentiating
with respect to an input, compiling an inference function, and stopping a
compiled step whose data fails a check (and, on TensorFlow, choosing its CPU
allocator before the first op: see ``tensorflow.py``). Each backend does these in its own
module (``tensorflow.py``, ``jax.py``, ``torch.py``), picked once, here, from
``keras.backend.backend()`` — the way ``keras/src/models/model.py`` picks its
trainer. The rest of the package imports these names from this module only.

Data checks (:func:`check`) raise ``ValueError`` eagerly. Inside a compiled
step (``fit``/``evaluate``) the data is not known while tracing, so each
backend records the check and makes a failing batch change nothing:
TensorFlow runs the step only after graph assertions on the data pass, JAX
keeps the old state and reports the message to the host, torch runs eagerly.
:func:`data_errors_as_value_error` turns the reported failure into the same
``ValueError`` on every backend.
"""

import contextlib

import keras
import numpy as np
from keras import ops


def backend():
    """The name of the running Keras backend."""
    return keras.backend.backend()


_NAME = backend()
if _NAME == "tensorflow":
    from keras_genmodels._backend import tensorflow as _impl
elif _NAME == "jax":
    from keras_genmodels._backend import jax as _impl
elif _NAME == "torch":
    from keras_genmodels._backend import torch as _impl
else:  # pragma: no cover - Keras knows no other trainer-capable backend
    from keras_genmodels._backend import unsupported as _impl

STATELESS_TRAINER = _impl.STATELESS_TRAINER
minimize = _impl.minimize
input_gradients = _impl.input_gradients
compile_function = _impl.compile_function
step_compilation = _impl.step_compilation
xla_step = _impl.xla_step
xla_update_step = _impl.xla_update_step
keras_step = _impl.keras_step
checked_step = _impl.checked_step
strategy_scope = _impl.strategy_scope
check_optimizer_strategy = _impl.check_optimizer_strategy
num_replicas = _impl.num_replicas
pop_failed_checks = _impl.pop_failed_checks
ensure_shape = _impl.ensure_shape
StopOnFailedCheck = _impl.StopOnFailedCheck


def scale_loss_for_distribution(loss):
    """``loss / num_replicas()``: a per-replica mean whose summed gradient is the global one.

    Keras' trainer sums the replicas' gradients under ``tf.distribute``, so a
    loss averaged over the per-replica batch is divided by the number of
    replicas (as Keras' own losses do). Elsewhere the batch is global: 1.
    """
    replicas = num_replicas()
    return loss if replicas == 1 else loss / replicas


def check(condition, message):
    """Raise ``ValueError(message)`` unless the boolean tensor ``condition`` is true.

    Eagerly (NumPy inputs, eager tensors) this is a plain Python ``ValueError``.
    Inside a compiled step the backend records the check (see the module
    docstring): the batch fails without changing the model and
    :func:`data_errors_as_value_error` raises the same ``ValueError``.
    """
    if isinstance(condition, (bool, np.bool_, np.ndarray)):
        if not bool(np.all(condition)):
            raise ValueError(message)
        return
    if _impl.is_eager(condition):
        if not bool(ops.convert_to_numpy(ops.all(condition))):
            raise ValueError(message)
        return
    _impl.record_check(condition, message)


def check_finite(x, name="data"):
    """:func:`check` that ``x`` holds no NaN or infinite value."""
    check(ops.all(ops.isfinite(x)), f"{name} contains NaN or infinite values.")


class DataError(ValueError):
    """A batch failed a data check inside a compiled step, which left the model unchanged."""


@contextlib.contextmanager
def data_errors_as_value_error():
    """Re-raise a failed :func:`check` from a compiled step as ``ValueError``.

    TensorFlow raises a failed graph assertion as ``InvalidArgumentError``;
    JAX reports it to the host after the (skipped) step. Wrapped in this
    context manager, the user gets ``ValueError(message)`` instead, as when the
    same check fails eagerly (a :class:`DataError`, a subclass). Other errors pass
    through unchanged.
    """
    pop_failed_checks()  # forget failures of earlier calls
    try:
        yield
        failed = pop_failed_checks()
        if failed:
            raise DataError(failed[0])
    except Exception as error:  # re-raised unchanged unless a failed check
        message = _impl.failed_check_message(error)
        if message is not None:
            raise DataError(message) from error
        raise
