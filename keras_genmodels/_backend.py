"""The one module that knows which Keras backend is running.

Everything else in the package is written with ``keras.ops`` and
``keras.random``.  Two things cannot be: taking a gradient step inside a custom
``train_step`` (TensorFlow records a ``GradientTape``, JAX differentiates a pure
function, torch calls ``backward``), and raising a data error from inside a
compiled graph.  Both live here, so supporting a new backend means editing this
file only.
"""

import contextlib
import functools
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


def strategy_scope(model):
    """The scope of the ``tf.distribute`` strategy ``model`` was created under.

    Optimizers (and their slots) must be created under the same strategy as
    the model's variables. Keras' ``compile`` leaves that to the user; the
    adversarial models create their optimizers from names/configs and wrap
    them in ``LossScaleOptimizer`` inside this scope, so that ``compile``
    works inside or outside ``strategy.scope()``. A no-op on other backends.
    """
    if backend() == "tensorflow":
        return model.distribute_strategy.scope()
    return contextlib.nullcontext()


def check_optimizer_strategy(model, optimizer, name="optimizer"):
    """``ValueError`` if ``optimizer`` was created outside ``model``'s ``tf.distribute`` strategy.

    Such an optimizer keeps one (non-mirrored) iteration counter that every
    replica increments, so e.g. Adam's bias correction silently goes wrong.
    """
    if backend() != "tensorflow":
        return
    import tensorflow as tf

    with model.distribute_strategy.scope():
        if not tf.distribute.has_strategy():
            return  # the default (no) strategy
        strategy = tf.distribute.get_strategy()
    if not isinstance(optimizer.iterations.value, tf.distribute.DistributedValues):
        raise ValueError(
            f"{name} was created outside the scope of the {type(strategy).__name__} the model "
            f"was created under; its variables would not be mirrored. Create the optimizer "
            f"inside `with strategy.scope():` (or pass its name / config). Received: "
            f"{name}={optimizer!r}"
        )


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
    if name == "jax":
        return _minimize_jax(optimizer, loss_fn, variables)
    raise NotImplementedError(
        f"keras_genmodels' custom train steps (fit of VAE, GAN, AAE, Autoencoder, PixelCNN, "
        f"PixelRNN, NADE, MADE, MarkovAR) support the 'tensorflow' and 'jax' backends; the "
        f"active Keras backend is '{name}', which is not supported. The layers work on it; "
        f"to train the models set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax."
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
    that fails with the same message when the data arrives. Inside a JAX
    model step (``keras_step``) the values are unknown while tracing: a
    failing batch leaves the model's state unchanged and its message is
    reported to the host, where ``data_errors_as_value_error`` raises it
    as ``ValueError`` (models without that wrapper warn and skip the batch).
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
    elif backend() == "jax" and _jax_step() is not None:
        # Inside a JAX train/test step (see ``keras_step``): the step keeps the
        # state unchanged and reports the message when it fails.
        _jax_step().checks.append((condition, message))
    # Elsewhere (torch, a bare jax.jit): values are unknown while tracing; the
    # eager entry points (log_prob, sample, ...) validate concrete data.


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
    pop_failed_checks()  # forget failures of earlier calls
    try:
        yield
        failed = pop_failed_checks()
        if failed:
            # JAX: the failing batch left the model unchanged; report it now.
            raise ValueError(failed[0])
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
    if name == "jax":
        return _input_gradients_jax(fn, x)
    raise NotImplementedError(
        f"input_gradients (gradient penalties) supports the 'tensorflow' and 'jax' backends; "
        f"the active Keras backend is '{name}', which is not supported. Set "
        f"KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax."
    )


def compile_function(fn, jit_compile=False):
    """Compile a pure inference function of tensors (no gradients, no state updates).

    ``tf.function`` on TensorFlow (retracing only on new shapes / Python
    values; ``jit_compile=True`` compiles the whole graph with XLA),
    ``jax.jit`` on JAX (always XLA), the function itself elsewhere. Used by
    the autoregressive samplers.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True, jit_compile=bool(jit_compile))
    if name == "jax":
        import jax

        return jax.jit(fn)
    return fn


# --------------------------------------------------------------------- JAX
#
# Keras' JAX trainer is stateless: it calls ``model.train_step(state, data)``
# with ``state = (trainable_variables, non_trainable_variables,
# optimizer_variables, metrics_variables)`` (``test_step``: the same without
# the optimizer's) as lists of arrays in the order of
# ``model.trainable_variables``, ``model.non_trainable_variables``,
# ``model.optimizer.variables`` and ``model.metrics_variables``, and expects
# ``(logs, new_state)`` back. The models' steps are written statefully (they
# read variables, call ``minimize`` and update ``Mean`` trackers).
# :func:`keras_step` bridges the two with Keras' public ``StatelessScope``:
# the state arrays become the variables' values inside the scope, the stateful
# step runs there (every ``assign`` is recorded by the scope instead of
# mutating the variable), and the new state is read back from the scope.
# ``minimize`` differentiates a pure function of the trainable values with
# ``jax.value_and_grad``: inside it a nested scope maps every state variable
# (the trainable ones to the traced values, the others to their current
# values), so the loss sees the same state as the step.


class _JaxStep:
    """The state variables of the running step and the checks it recorded."""

    def __init__(self, variables):
        self.variables = variables
        self.checks = []  # (boolean tensor, message)


_JAX_STEPS = []  # stack of the running _JaxStep (steps do not nest in practice)


def _jax_step():
    return _JAX_STEPS[-1] if _JAX_STEPS else None


def _state_groups(model, kind):
    """The variable lists of Keras' state tuple, in Keras' order."""
    optimizer = getattr(model, "optimizer", None)
    optimizer_vars = list(optimizer.variables) if optimizer is not None else []
    if kind == "train":
        return [list(model.trainable_variables), list(model.non_trainable_variables),
                optimizer_vars, list(model.metrics_variables)]
    return [list(model.trainable_variables), list(model.non_trainable_variables),
            list(model.metrics_variables)]


def _run_stateless(model, step, kind, state, data):
    import jax
    import jax.numpy as jnp

    groups = _state_groups(model, kind)
    state = tuple(state)
    if len(state) != len(groups) or any(len(s) != len(g) for s, g in zip(state, groups)):
        raise ValueError(
            f"{type(model).__name__}.{kind}_step received a state of "
            f"{[len(s) for s in state]} arrays; the model has {[len(g) for g in groups]} "
            "(trainable, non-trainable, optimizer, metrics variables)."
        )
    flat_vars = [v for g in groups for v in g]
    flat_old = [x for s in state for x in s]
    context = _JaxStep(flat_vars)
    _JAX_STEPS.append(context)
    try:
        with keras.StatelessScope(state_mapping=list(zip(flat_vars, flat_old)),
                                  collect_losses=True) as scope:
            logs = step(model, data)
        flat_new = [scope.get_current_value(v) for v in flat_vars]
    finally:
        _JAX_STEPS.pop()
    if context.checks:
        # A batch that fails a data check leaves the whole state unchanged and
        # reports its message to the host (``_record_failed_checks``). Raising
        # inside the compiled step instead would lose the model's weights:
        # Keras donates the state buffers to the step.
        oks = [jnp.all(c) for c, _ in context.checks]
        ok = jnp.all(jnp.stack(oks))
        flat_new = [jnp.where(ok, n, o) for n, o in zip(flat_new, flat_old)]
        messages = tuple(m for _, m in context.checks)
        jax.debug.callback(functools.partial(_record_failed_checks, messages), *oks)
    new_state, start = [], 0
    for group in groups:
        new_state.append(flat_new[start:start + len(group)])
        start += len(group)
    return logs, tuple(new_state)


# Messages of the checks that failed in compiled JAX steps, in order, until
# ``data_errors_as_value_error`` (or ``pop_failed_checks``) collects them.
_FAILED_CHECKS = []


def _record_failed_checks(messages, *oks):
    import warnings

    for ok, message in zip(oks, messages):
        if not bool(np.all(ok)):
            _FAILED_CHECKS.append(message)
            warnings.warn(f"Skipped a batch (the model is unchanged by it): {message}",
                          stacklevel=2)
            return


def pop_failed_checks():
    """Messages of the data checks failed by JAX steps since the last call (oldest first).

    On JAX a batch that fails a check inside ``fit``/``evaluate`` leaves the
    model unchanged (see ``keras_step``); the models that raise
    ``ValueError`` for data errors (``_common.DataErrorsAsValueError``) stop
    and raise with the first message. Returns ``[]`` on other backends.
    """
    if backend() != "jax":
        return []
    import jax

    jax.effects_barrier()  # the host callbacks of the steps have run
    failed = list(_FAILED_CHECKS)
    del _FAILED_CHECKS[:]
    return failed


class StopOnFailedCheck(keras.callbacks.Callback):
    """Stop ``fit``/``evaluate`` after a JAX step failed a data check (see ``check``)."""

    def _stop_if_failed(self):
        if _FAILED_CHECKS:
            self.model.stop_training = True
            self.model.stop_evaluating = True

    def on_train_batch_end(self, batch, logs=None):
        self._stop_if_failed()

    def on_test_batch_end(self, batch, logs=None):
        self._stop_if_failed()


def keras_step(kind):
    """Decorator making a stateful ``train_step``/``test_step`` work on every backend.

    A model writes its step statefully: ``def train_step(self, data)`` that
    calls :func:`minimize` and updates its ``Mean`` trackers. On TensorFlow
    (and torch) the decorated method is that function unchanged. On JAX,
    Keras calls ``train_step(state, data)``; the decorator runs the stateful
    step inside a ``keras.StatelessScope`` that maps the model's variables
    (trainable, non-trainable — including ``SeedGenerator`` states —,
    ``model.optimizer.variables``, metrics) to the arrays of ``state`` and
    returns ``(logs, new_state)`` read back from the scope, as Keras' JAX
    trainer requires. Called on JAX with ``data`` only (outside ``fit``), the
    step runs on the variables' current values and assigns the results.

    Args:
        kind: ``"train"`` (state of 4 lists) or ``"test"`` (3 lists: no
            optimizer variables).
    """
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test'. Received: kind={kind!r}")

    def decorate(step):
        @functools.wraps(step)
        def wrapper(model, *args):
            if backend() != "jax":
                return step(model, *args)
            if len(args) == 2:
                return _run_stateless(model, step, kind, *args)
            (data,) = args
            groups = _state_groups(model, kind)
            state = tuple([v.value for v in g] for g in groups)
            logs, new_state = _run_stateless(model, step, kind, state, data)
            for group, values in zip(groups, new_state):
                for v, value in zip(group, values):
                    v.assign(value)
            return logs

        return wrapper

    return decorate


def _minimize_jax(optimizer, loss_fn, variables):
    import jax

    context = _jax_step()
    if context is None:
        raise RuntimeError(
            "On the JAX backend, keras_genmodels._backend.minimize must run inside a model "
            "step decorated with keras_genmodels._backend.keras_step (as the models' "
            "train_step are), which provides the variables' state."
        )
    trainable_ids = {id(v) for v in variables}
    others = [v for v in context.variables if id(v) not in trainable_ids]
    other_values = [v.value for v in others]
    train_values = [v.value for v in variables]
    changed = []  # indices into ``others`` updated by loss_fn (found while tracing)

    def pure(values):
        mapping = list(zip(variables, values)) + list(zip(others, other_values))
        n_checks = len(context.checks)
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as inner:
            start = [inner.get_current_value(v) for v in others]
            loss, aux = loss_fn()
            scaled = optimizer.scale_loss(ops.cast(loss, "float32"))
        changed[:] = [i for i, v in enumerate(others)
                      if inner.get_current_value(v) is not start[i]]
        updates = [inner.get_current_value(others[i]) for i in changed]
        # Checks recorded while differentiating hold traced values: hand their
        # conditions out through ``aux`` and re-record them outside.
        checks = context.checks[n_checks:]
        del context.checks[n_checks:]
        conditions = [c for c, _ in checks]
        messages[:] = [m for _, m in checks]
        return scaled, (loss, aux, updates, conditions)

    messages = []
    (_, (loss, aux, updates, conditions)), grads = jax.value_and_grad(pure, has_aux=True)(
        train_values)
    context.checks.extend(zip(conditions, messages))
    for i, value in zip(changed, updates):
        others[i].assign(value)
    optimizer.apply(list(grads), variables)
    return loss, aux


def _input_gradients_jax(fn, x):
    import jax
    import jax.numpy as jnp

    x = ops.convert_to_tensor(x)
    context = _jax_step()
    mapping = [(v, v.value) for v in context.variables] if context is not None else []

    def total(t):
        # Variable updates and losses of this extra forward pass stay inside
        # its own scope (they would hold values of the inner trace).
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True):
            return jnp.sum(jnp.asarray(fn(t), dtype="float32"))

    return jax.grad(total)(x)
