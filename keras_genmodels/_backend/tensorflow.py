"""TensorFlow: gradient tapes, graph assertions, ``tf.function`` and ``tf.distribute``."""

import os
import warnings
import weakref

# TensorFlow's CPU allocator by default hands every tensor to glibc's malloc,
# which serves a buffer over 32 MB (64 MB in a thread's arena) with a fresh
# ``mmap`` and returns it with ``munmap`` when freed: each training step then
# page-faults its large activations and gradients in anew, one 4 KB page at a
# time (the Diagonal BiLSTM's step spent ~40% of its time in the kernel).
# TensorFlow's own pooling allocator keeps and reuses them. It is read once,
# when TensorFlow creates its CPU device (its first op), so it is set here, at
# import, before any op runs; a value the user set is kept
# (``TF_CPU_ALLOCATOR_USE_BFC=false`` restores TensorFlow's default). See
# ``bench/train_throughput.py --allocator-baseline``.
CPU_ALLOCATOR_ENV = "TF_CPU_ALLOCATOR_USE_BFC"
os.environ.setdefault(CPU_ALLOCATOR_ENV, "true")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

# Messages of the graph assertions created by ``record_check``; a failed one is
# recognised by its message and re-raised as a ValueError.
_GRAPH_CHECK_MESSAGES = set()

# The assertions recorded in each graph being traced. A graph assertion is not
# ordered before variable updates by itself, so without the control
# dependencies below a batch with NaNs would fail the step *and* write NaNs
# into the weights.
_GRAPH_ASSERTIONS = weakref.WeakKeyDictionary()


# Keras' TensorFlow trainer updates variables in place (any optimizer works).
STATELESS_TRAINER = False


def num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def strategy_scope(model):
    """The scope of the ``tf.distribute`` strategy ``model`` was created under.

    Optimizers (and their slots) must be created under the same strategy as
    the model's variables. Keras' ``compile`` leaves that to the user; the
    adversarial models create their optimizers from names/configs and wrap
    them in ``LossScaleOptimizer`` inside this scope, so that ``compile``
    works inside or outside ``strategy.scope()``.
    """
    return model.distribute_strategy.scope()


def check_optimizer_strategy(model, optimizer, name="optimizer"):
    """``ValueError`` if ``optimizer`` was created outside ``model``'s ``tf.distribute`` strategy.

    Such an optimizer keeps one (non-mirrored) iteration counter that every
    replica increments, so e.g. Adam's bias correction silently goes wrong.
    """
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


def is_eager(x):
    return tf.executing_eagerly() and not isinstance(x, keras.KerasTensor)


def record_check(condition, message):
    _GRAPH_CHECK_MESSAGES.add(message)
    assertion = tf.debugging.Assert(tf.reduce_all(condition), [message])
    graph = tf.compat.v1.get_default_graph()
    _GRAPH_ASSERTIONS.setdefault(graph, []).append(assertion)


def ensure_shape(x, shape, message):
    """``x``, failing with ``message`` when its run-time shape is not ``shape`` (None: any size).

    Inside a traced step an unknown size is checked by an ``EnsureShape`` op
    that ``x`` flows through, so nothing computed from ``x`` can run first
    (a control dependency alone did not stop a matmul of a wrongly shaped
    batch from failing before the check).
    """
    if is_eager(x):
        return x
    name = f"keras_genmodels_shape_check_{len(_SHAPE_CHECK_MESSAGES)}"
    _SHAPE_CHECK_MESSAGES[name] = message
    return tf.ensure_shape(x, shape, name=name)


# Node name of each EnsureShape op made by ``ensure_shape`` -> its message.
_SHAPE_CHECK_MESSAGES = {}


def _graph_assertions():
    if tf.executing_eagerly():
        return []
    return list(_GRAPH_ASSERTIONS.get(tf.compat.v1.get_default_graph(), ()))


def _after(assertions, tensors):
    """``tensors`` (a structure) recomputed only once ``assertions`` have passed."""
    if not assertions:
        return tensors

    def gate(t):
        if t is None:
            return t
        if isinstance(t, tf.IndexedSlices):
            with tf.control_dependencies(assertions):
                return tf.IndexedSlices(tf.identity(t.values), t.indices, t.dense_shape)
        with tf.control_dependencies(assertions):
            return tf.identity(t)

    return tf.nest.map_structure(gate, tensors)


def failed_check_message(error):
    if isinstance(error, tf.errors.InvalidArgumentError):
        text = str(error)
        for message in sorted(_GRAPH_CHECK_MESSAGES, key=len, reverse=True):
            if message in text:
                return message
        for name, message in _SHAPE_CHECK_MESSAGES.items():
            if f"{name}}}" in text or f"{name}/" in text or f"{name} " in text:
                return message
    return None


def pop_failed_checks():
    return []


# An eager or graph-asserted data check stops the step by itself: no callback.
StopOnFailedCheck = None


def checked_step(model, step, args, prepare):
    """``step(*state, prepare(data))`` run only once ``prepare``'s data checks pass.

    ``prepare`` validates the batch with :func:`check` (graph assertions while
    ``fit`` traces the step) and returns the batch the step should see. The
    step's ops are created under control dependencies on those assertions,
    so nothing it does — gradients, optimizer, metric and random-generator
    updates — runs for a failing batch.
    """
    *state, data = args
    before = len(_graph_assertions())
    data = prepare(data)
    assertions = _graph_assertions()[before:]
    if not assertions:
        return step(*state, data)
    with tf.control_dependencies(assertions):
        return step(*state, data)


def keras_step(kind):
    """A stateful ``train_step``/``test_step`` runs as it is on TensorFlow (see ``jax.keras_step``)."""
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test'. Received: kind={kind!r}")
    return lambda step: step


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
    variables = list(variables)
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        scaled = ops.cast(loss, "float32") / num_replicas()
        scaled = optimizer.scale_loss(scaled)
    grads = tape.gradient(scaled, variables)
    grads = _after(_graph_assertions(), grads)
    optimizer.apply_gradients(zip(grads, variables))
    return loss, aux


def input_gradients(fn, x):
    """Gradient of ``sum(fn(x))`` with respect to the input ``x`` (differentiable)."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(tf.cast(fn(x), "float32"))
    return tape.gradient(total, x)


def compile_function(fn, jit_compile=False):
    """``tf.function`` (retracing only on new shapes; ``jit_compile=True``: XLA)."""
    return tf.function(fn, reduce_retracing=True, jit_compile=bool(jit_compile))


# ``KERAS_GENMODELS_AUTO_XLA=0``: "auto" never picks an XLA step or update.
AUTO_XLA_ENV = "KERAS_GENMODELS_AUTO_XLA"

# What xla_step / xla_update_step make, kept on the model (outside Keras' attribute tracking).
_XLA_STEP_ATTRIBUTE = "_keras_genmodels_xla_step"
_XLA_UPDATE_ATTRIBUTE = "_keras_genmodels_xla_updates"


def _on_gpu():
    return any(d.device_type != "CPU" for d in tf.config.list_physical_devices())


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels in this process.

    Fixed when TensorFlow is imported: ``TF_ENABLE_ONEDNN_OPTS=1`` / ``0``, or
    by default on only on CPUs with AVX-512 VNNI / BF16 or AMX. Where the
    query is missing (other TensorFlow builds) the variable decides.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"


def cpu_choice(xla_on_cpu):
    """A model's ``xla_on_cpu`` for this process: a mapping is read at ``"onednn"`` or ``"no_onednn"``.

    TensorFlow's plain-step matrix products and convolutions are oneDNN's or
    Eigen's depending on :func:`onednn_enabled`, and which step is faster
    depends on which (``bench/train_throughput.py --onednn-flip``).
    """
    if isinstance(xla_on_cpu, dict):
        return xla_on_cpu["onednn" if onednn_enabled() else "no_onednn"]
    return xla_on_cpu


def step_compilation(model, jit_compile, xla_on_cpu):
    """``(jit_compile for Keras' trainer, the model's XLA mode: None, "step" or "update")``.

    XLA drops graph assertions (``tf.debugging.Assert`` compiles to nothing),
    so a step Keras compiles whole with ``jit_compile=True`` would skip the
    data checks and train on a bad batch. The checks therefore stay in Keras'
    plain ``tf.function``, and XLA runs after them, in one of two ways:

    - ``"step"``: the rest of the step (forward, gradients, optimizer,
      metrics) is one XLA function (:func:`xla_step`);
    - ``"update"``: forward and gradients stay in the plain graph (oneDNN's
      GEMMs and convolutions, faster on a CPU than XLA's) and only each
      optimizer's update — many small element-wise ops per variable, which
      XLA fuses into a few loops — is an XLA function
      (:func:`xla_update_step`).

    ``jit_compile=True`` is ``"step"``, ``False`` neither. ``"auto"`` picks
    ``"step"`` on a GPU (as Keras' own "auto" does) and ``xla_on_cpu`` (the
    model's measured choice: ``True`` for "step", ``"update"`` or ``False``,
    or a mapping of ``"onednn"`` / ``"no_onednn"`` to one: see
    :func:`cpu_choice`) on a CPU; nothing under a ``tf.distribute`` strategy
    (its cross-replica updates are not XLA-compilable) or for a model with a layer that sets
    ``supports_jit = False`` (as Keras), nor when the environment variable
    ``KERAS_GENMODELS_AUTO_XLA=0`` (e.g. a test suite of many tiny models,
    where XLA's compile time outweighs its speed).
    """
    model.__dict__.pop(_XLA_STEP_ATTRIBUTE, None)  # made afresh for the new optimizers
    model.__dict__.pop(_XLA_UPDATE_ATTRIBUTE, None)
    supported = all(layer.supports_jit for layer in model._flatten_layers())
    if jit_compile == "auto":
        if os.environ.get(AUTO_XLA_ENV, "1") == "0":
            return False, None
        if tf.distribute.has_strategy() or model._distribute_strategy is not None:
            return False, None
        if not supported:
            return False, None
        if _on_gpu():
            return False, "step"
        return False, {True: "step", "update": "update", False: None}[cpu_choice(xla_on_cpu)]
    if jit_compile and not supported:
        warnings.warn(f"{type(model).__name__} holds a layer XLA cannot compile on TensorFlow "
                      "(supports_jit=False); proceeding with jit_compile=False.", stacklevel=3)
        jit_compile = False
    return False, "step" if jit_compile else None


def xla_step(model, step):
    """``step`` (the model's stateful training step) as an XLA function, made once per compile.

    The optimizers' variables are created first, in the calling (non-XLA)
    trace (``model.build_optimizers()``): XLA cannot create variables.
    """
    model.build_optimizers()
    fn = model.__dict__.get(_XLA_STEP_ATTRIBUTE)
    if fn is None:
        fn = tf.function(step, jit_compile=True, reduce_retracing=True)
        model.__dict__[_XLA_STEP_ATTRIBUTE] = fn
    return fn


def _xla_apply(optimizer, variables):
    """``optimizer.apply(grads, variables)`` for fixed ``variables``, as an XLA function of ``grads``."""
    return tf.function(lambda grads: optimizer.apply(grads, variables), jit_compile=True)


def xla_update_step(model, step, optimizers):
    """``step`` with every update of ``optimizers`` it makes run as an XLA function.

    While ``step`` is traced, each optimizer's ``apply_gradients`` (what
    Keras' trainer and :func:`minimize` call) is routed to an XLA function of
    the gradients, one per optimizer and variable list, made once per
    compile; outside the trace the optimizers are untouched. The update runs
    under the step's data-check dependencies like the rest of the step, so a
    failing batch still changes nothing.
    """
    model.build_optimizers()
    functions = model.__dict__.setdefault(_XLA_UPDATE_ATTRIBUTE, {})

    def routed(optimizer):
        def apply_gradients(grads_and_vars):
            grads, variables = zip(*grads_and_vars)
            key = (id(optimizer),) + tuple(id(v) for v in variables)
            if key not in functions:
                functions[key] = _xla_apply(optimizer, list(variables))
            functions[key](list(grads))
            return optimizer.iterations
        return apply_gradients

    def run(*args):
        for optimizer in optimizers:
            optimizer.__dict__["apply_gradients"] = routed(optimizer)
        try:
            return step(*args)
        finally:
            for optimizer in optimizers:
                optimizer.__dict__.pop("apply_gradients", None)

    return run
