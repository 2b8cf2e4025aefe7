"""The one module that knows which Keras backend is running.

Everything else in the package is written with ``keras.ops`` and
``keras.random``.  Two things cannot be: taking a gradient step inside a custom
``train_step`` (TensorFlow records a ``GradientTape``, JAX differentiates a pure
function, torch calls ``backward``), and raising a data error from inside a
compiled graph.  Both live here, so supporting a new backend means editing this
file only.
"""

import keras
import numpy as np
from keras import ops


def backend():
    return keras.backend.backend()


def _num_replicas():
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    return 1


def minimize(optimizer, loss_fn, variables):
    """Take one optimizer step that lowers ``loss_fn()`` over ``variables``.

    Args:
        optimizer: a ``keras.optimizers.Optimizer`` (a ``LossScaleOptimizer``
            under mixed precision is handled: the loss is scaled before
            differentiation and the optimizer unscales the gradients).
        loss_fn: callable with no arguments returning ``(loss, aux)`` where
            ``loss`` is a scalar tensor (the mean over the per-replica batch)
            and ``aux`` anything the caller wants back (e.g. a dict of metric
            values).
        variables: list of the ``keras.Variable`` s to update.

    Returns:
        ``(loss, aux)`` as computed by ``loss_fn`` (unscaled).

    Under a ``tf.distribute`` strategy each replica's loss is divided by the
    number of replicas, as Keras' own trainer does, so that the all-reduced
    (summed) gradient is the gradient of the global-batch mean.
    """
    name = backend()
    variables = list(variables)
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, aux = loss_fn()
            scaled = ops.cast(loss, "float32") / _num_replicas()
            scaled = optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, aux
    raise NotImplementedError(
        f"keras_genmodels' custom train steps support the 'tensorflow' backend; "
        f"the active Keras backend is '{name}'. Set KERAS_BACKEND=tensorflow."
    )


def _is_eager(x):
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly() and not isinstance(x, keras.KerasTensor)
    if backend() == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    return True


def check(condition, message):
    """Raise ``ValueError(message)`` unless the boolean tensor ``condition`` is true.

    Eagerly (NumPy inputs, eager tensors) this is a plain Python ``ValueError``.
    Inside a compiled TensorFlow graph (``fit``) it becomes a graph assertion
    that fails with the same message when the data arrives.
    """
    if isinstance(condition, (bool, np.bool_, np.ndarray)):
        if not bool(np.all(condition)):
            raise ValueError(message)
        return
    if _is_eager(condition):
        if not bool(ops.convert_to_numpy(ops.all(condition))):
            raise ValueError(message)
        return
    if backend() == "tensorflow":
        import tensorflow as tf

        tf.debugging.Assert(tf.reduce_all(condition), [message])
    # Other backends: values are unknown while tracing; the eager entry points
    # (log_prob, sample, ...) have already validated concrete data.


def check_finite(x, name="data"):
    check(ops.all(ops.isfinite(x)), f"{name} contains NaN or infinite values.")
