"""The one module that knows which Keras backend is running.

Everything else in the package is written with ``keras.ops`` and
``keras.random``.  Two things cannot be: taking a gradient step inside a custom
``train_step`` (TensorFlow records a ``GradientTape``, JAX differentiates a pure
function, torch calls ``backward``), and raising a data error from inside a
compiled graph.  Both live here, so supporting a new backend means editing this
file only.
"""

import contextlib
import weakref

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
        grads = _after_graph_checks(grads)
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

        _GRAPH_CHECK_MESSAGES.add(message)
        assertion = tf.debugging.Assert(tf.reduce_all(condition), [message])
        graph = tf.compat.v1.get_default_graph()
        _GRAPH_ASSERTIONS.setdefault(graph, []).append(assertion)
    # Other backends: values are unknown while tracing; the eager entry points
    # (log_prob, sample, ...) have already validated concrete data.


def check_finite(x, name="data"):
    check(ops.all(ops.isfinite(x)), f"{name} contains NaN or infinite values.")


# Messages of the graph assertions created by ``check``; a failed one is
# recognised by its message and re-raised as a ValueError.
_GRAPH_CHECK_MESSAGES = set()

# The assertions created by ``check`` in each graph being traced. ``minimize``
# makes the optimizer update wait for them: a graph assertion is not ordered
# before variable updates by itself, so without this a batch with NaNs would
# fail the step *and* write NaNs into the weights.
_GRAPH_ASSERTIONS = weakref.WeakKeyDictionary()


def _after_graph_checks(grads):
    """Gradients that are computed only once the graph's checks have passed."""
    import tensorflow as tf

    if tf.executing_eagerly():
        return grads
    assertions = _GRAPH_ASSERTIONS.get(tf.compat.v1.get_default_graph())
    if not assertions:
        return grads
    out = []
    with tf.control_dependencies(list(assertions)):
        for g in grads:
            if g is None:
                out.append(g)
            elif isinstance(g, tf.IndexedSlices):
                out.append(tf.IndexedSlices(tf.identity(g.values), g.indices, g.dense_shape))
            else:
                out.append(tf.identity(g))
    return out


@contextlib.contextmanager
def data_errors_as_value_error():
    """Re-raise a failed :func:`check` from a compiled step as ``ValueError``.

    Inside ``fit``/``evaluate`` a failed check is a graph assertion, which
    TensorFlow raises as ``InvalidArgumentError``. Wrapped in this context
    manager, the user gets ``ValueError(message)`` instead, as when the same
    check fails eagerly. Other errors pass through unchanged.
    """
    try:
        yield
    except Exception as error:  # re-raised unchanged unless a failed check
        if backend() == "tensorflow":
            import tensorflow as tf

            if isinstance(error, tf.errors.InvalidArgumentError):
                text = str(error)
                for message in sorted(_GRAPH_CHECK_MESSAGES, key=len, reverse=True):
                    if message in text:
                        raise ValueError(message) from error
        raise


def input_gradients(fn, x):
    """Gradient of ``sum(fn(x))`` with respect to the input ``x``.

    Used by the gradient penalties of ``keras_genmodels.losses`` (WGAN-GP,
    R1), which need the discriminator's gradient with respect to its input.
    When called inside :func:`minimize`'s ``loss_fn`` the result is itself
    differentiable (double backpropagation). Because ``fn`` acts on each
    example separately, row ``i`` of the result is ``d fn(x)_i / d x_i``.

    Args:
        fn: callable mapping a tensor like ``x`` to a tensor (e.g. logits).
        x: tensor of inputs.

    Returns:
        A tensor of the shape of ``x``.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(tf.cast(fn(x), "float32"))
        return tape.gradient(total, x)
    raise NotImplementedError(
        f"input_gradients (gradient penalties) supports the 'tensorflow' backend; the "
        f"active Keras backend is '{name}'. Set KERAS_BACKEND=tensorflow."
    )


def compile_function(fn):
    """Compile a pure inference function of tensors (no gradients, no state updates).

    ``tf.function`` on TensorFlow (retracing only on new shapes / Python
    values), ``jax.jit`` on JAX, the function itself elsewhere. Used by the
    autoregressive samplers, which call the network once per pixel.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True)
    if name == "jax":
        import jax

        return jax.jit(fn)
    return fn
