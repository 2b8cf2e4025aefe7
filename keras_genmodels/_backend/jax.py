"""JAX: Keras' stateless trainer, ``jax.value_and_grad`` and ``jax.jit``."""

import contextlib
import functools

import jax
import jax.numpy as jnp
import keras
import numpy as np
from keras import ops

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
    flat_new = _unchanged_if_failed(context.checks, flat_new, flat_old)
    return logs, _regroup(flat_new, groups)


def _regroup(flat, groups):
    """The flat list ``flat`` cut into a tuple of lists of the sizes of ``groups``."""
    out, start = [], 0
    for group in groups:
        out.append(list(flat[start:start + len(group)]))
        start += len(group)
    return tuple(out)


def _unchanged_if_failed(checks, new, old):
    """``new`` (a list of arrays), or ``old`` where a recorded check fails.

    A batch that fails a data check leaves the whole state unchanged and
    reports its message to the host (``_record_failed_checks``). Raising inside
    the compiled step instead would lose the model's weights: Keras donates the
    state buffers to the step.
    """
    if not checks:
        return new
    oks = [jnp.all(c) for c, _ in checks]
    ok = jnp.all(jnp.stack(oks))
    messages = tuple(m for _, m in checks)
    _report_checks(functools.partial(_record_failed_checks, messages), oks)
    return [jnp.where(ok, n, o) for n, o in zip(new, old)]


def _report_checks(record, oks):
    """Call ``record(*oks)`` on the host of every process running the step.

    In a jitted step ``jax.debug.callback`` runs once, on the process that
    owns device 0. With several processes (``jax.distributed``) the others
    would never learn that the batch failed a check: process 0 stops (and
    raises) while the others go on to the next step and wait for it. There
    the callback runs inside a ``shard_map`` over the devices of the step's
    mesh (``keras.distribution``'s, else all devices), i.e. on every device,
    and each process records the result of its first device only.
    """
    if jax.process_count() == 1:
        jax.debug.callback(record, *oks)
        return
    distribution = keras.distribution.distribution()
    if distribution is not None:
        mesh = distribution.device_mesh.backend_mesh
    else:
        mesh = jax.sharding.Mesh(np.array(jax.devices()), ("devices",))
    devices = list(mesh.devices.flat)
    first_local = min(i for i, d in enumerate(devices) if d.process_index == jax.process_index())

    def on_device(index, *flags):
        if int(index) == first_local:
            record(*flags)

    def per_device(*flags):
        index = jax.lax.axis_index(tuple(mesh.axis_names))
        jax.debug.callback(on_device, index, *flags)
        return ()

    jax.shard_map(per_device, mesh=mesh, in_specs=jax.sharding.PartitionSpec(),
                  out_specs=(), check_vma=False)(*oks)


# Messages of the checks that failed in compiled JAX steps, in order, until
# ``data_errors_as_value_error`` (or ``pop_failed_checks``) collects them.
_FAILED_CHECKS = []


def _record_failed_checks(messages, *oks):
    for ok, message in zip(oks, messages):
        if not bool(np.all(ok)):
            _FAILED_CHECKS.append(message)
            return


def pop_failed_checks():
    """Messages of the data checks failed by JAX steps since the last call (oldest first).

    On JAX a batch that fails a check inside ``fit``/``evaluate`` leaves the
    model unchanged (see ``keras_step``); the models that raise
    ``ValueError`` for data errors (``_common.DataErrorsAsValueError``) stop
    and raise with the first message. Returns ``[]`` on other backends.
    """
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


def minimize(optimizer, loss_fn, variables):
    """``jax.value_and_grad`` of a pure function of the trainable values (see the module docstring)."""
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


def input_gradients(fn, x):
    """Gradient of ``sum(fn(x))`` with respect to the input ``x`` (differentiable)."""
    x = ops.convert_to_tensor(x)
    context = _jax_step()
    mapping = [(v, v.value) for v in context.variables] if context is not None else []

    def total(t):
        # Variable updates and losses of this extra forward pass stay inside
        # its own scope (they would hold values of the inner trace).
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True):
            return jnp.sum(jnp.asarray(fn(t), dtype="float32"))

    return jax.grad(total)(x)


def checked_step(model, step, args, prepare):
    """``step(state, prepare(data))`` whose new state is the old one if a data check fails.

    Keras' JAX trainer calls ``train_step(state, data)`` inside ``jax.jit``:
    the data is traced, so ``prepare``'s checks are recorded, and a failing
    batch returns the state it was given (its message reaches the host, where
    :func:`pop_failed_checks` collects it).
    """
    *state, data = args
    context = _JaxStep([])
    _JAX_STEPS.append(context)
    try:
        data = prepare(data)
    except ValueError as error:
        if not state:
            raise
        # A problem known while tracing (a wrong shape, missing labels): the
        # step keeps its state and reports the message like a failed check.
        # Raising here would lose the model's weights, which Keras' JAX
        # ``fit`` detaches from the variables while its steps run.
        jax.debug.callback(functools.partial(_record_failed_checks, (str(error),)),
                           jnp.asarray(False))
        return {}, state[0]
    finally:
        _JAX_STEPS.pop()
    out = step(*state, data)
    if not context.checks or not state:
        return out
    logs, new_state = out
    flat_new = [x for g in new_state for x in g]
    flat_old = [x for g in state[0] for x in g]
    return logs, _regroup(_unchanged_if_failed(context.checks, flat_new, flat_old), new_state)


def is_eager(x):
    return not isinstance(x, jax.core.Tracer)


def record_check(condition, message):
    """Inside a model step: recorded for the step (see ``checked_step``); elsewhere unknown."""
    if _jax_step() is not None:
        _jax_step().checks.append((condition, message))


def ensure_shape(x, shape, message):
    """``x``: shapes are known while tracing here (checked statically by the caller)."""
    return x


def failed_check_message(error):
    return None


# Keras' JAX trainer is stateless: its compiled step carries only the state of
# ``model.optimizer`` (models with several optimizers group them into one).
STATELESS_TRAINER = True


def num_replicas():
    return 1


def strategy_scope(model):
    return contextlib.nullcontext()


def check_optimizer_strategy(model, optimizer, name="optimizer"):
    """Nothing to check: ``keras.distribution`` places the optimizer's variables itself."""


def compile_function(fn, jit_compile=False):
    """``jax.jit`` (always XLA)."""
    return jax.jit(fn)


def step_compilation(model, jit_compile, xla_on_cpu):
    """``(jit_compile for Keras' trainer, None)``: Keras compiles every JAX step with XLA.

    (JAX's data checks are not graph assertions: they survive XLA.)
    """
    return jit_compile, None


def xla_step(model, step):
    """``step`` itself: Keras' trainer compiles the whole step on this backend."""
    return step


def xla_update_step(model, step, optimizers):
    """``step`` itself (no XLA mode is chosen on this backend)."""
    return step
