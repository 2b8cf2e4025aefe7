"""torch: ``torch.autograd`` steps; Keras' torch trainer runs eagerly, so data checks raise at once."""

import contextlib
import functools

import keras
import torch
from keras import ops


# Keras' torch trainer updates variables in place (any optimizer works).
STATELESS_TRAINER = False


def num_replicas():
    return 1


def strategy_scope(model):
    return contextlib.nullcontext()


def check_optimizer_strategy(model, optimizer, name="optimizer"):
    """Nothing to check: no ``tf.distribute`` strategies on torch."""


def is_eager(x):
    return not isinstance(x, keras.KerasTensor)


def record_check(condition, message):
    """Values traced by ``torch.compile`` are unknown; the eager entry points check them."""


def ensure_shape(x, shape, message):
    """``x``: shapes are known while tracing here (checked statically by the caller)."""
    return x


def failed_check_message(error):
    return None


def pop_failed_checks():
    return []


# An eager or graph-asserted data check stops the step by itself: no callback.
StopOnFailedCheck = None


def checked_step(model, step, args, prepare):
    """``step(prepare(data))``: ``prepare`` raises ``ValueError`` before the step for bad data."""
    *state, data = args
    return step(*state, prepare(data))


def keras_step(kind):
    """A stateful ``train_step``/``test_step`` runs as it is on torch (see ``jax.keras_step``)."""
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test'. Received: kind={kind!r}")
    return lambda step: step


def minimize(optimizer, loss_fn, variables):
    """One optimizer step on ``loss_fn()`` over ``variables`` with ``torch.autograd.grad``.

    Only ``variables`` are differentiated (the gradients of the other networks
    a loss touches, e.g. the discriminator in the generator's loss, are
    neither computed nor accumulated). See ``tensorflow.minimize`` for the
    arguments.
    """
    variables = list(variables)
    with torch.enable_grad():
        loss, aux = loss_fn()
        scaled = optimizer.scale_loss(ops.cast(loss, "float32"))
        grads = torch.autograd.grad(scaled, [v.value for v in variables], allow_unused=True)
    grads = [torch.zeros_like(v.value) if g is None else g for g, v in zip(grads, variables)]
    with torch.no_grad():
        optimizer.apply(grads, variables)
    return loss, aux


def input_gradients(fn, x):
    """Gradient of ``sum(fn(x))`` with respect to the input ``x`` (differentiable)."""
    x = ops.convert_to_tensor(x)
    with torch.enable_grad():
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        total = torch.sum(fn(x).to(torch.float32))
        (grad,) = torch.autograd.grad(total, x, create_graph=True)
    return grad


def compile_function(fn, jit_compile=False):
    """``fn`` run eagerly under ``torch.no_grad``; ``torch.compile`` is not used.

    Measured on the cached samplers (``torch==2.13.0``, 2-core CPU, 16 images
    of 8x8x1, compile time excluded, best of 3 calls after the first):
    eager / ``torch.compile`` steady-state time was 0.06-0.30 for
    ``PixelCNN`` (filters=16, 2 blocks, kernel 5), 0.16 for
    ``GatedPixelCNN`` (same sizes) and 0.97 for ``PixelRNN(kind="row_lstm")``
    (8 units): compiled was 1x-16x *slower*. The samplers' ``ops.fori_loop``
    runs a Python loop on torch whose loop index Dynamo specialises on, so
    every row and pixel recompiles until the recompile limit (8) and then
    runs with graph breaks (each first call also took 54-150 s to compile).
    Inductor also draws its own random numbers, so compiled samples differed
    from the eager ones for the same seed (the cached samplers must equal the
    naive one). ``jit_compile`` is accepted for the other backends' signature
    and ignored.
    """

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with torch.no_grad():
            return fn(*args, **kwargs)

    return run


def step_compilation(model, jit_compile, xla_on_cpu):
    """``(jit_compile for Keras' trainer, None)``: Keras' meaning (``torch.compile``), no XLA step."""
    return jit_compile, None


def xla_step(model, step):
    """``step`` itself: Keras' trainer compiles the whole step on this backend."""
    return step


def xla_update_step(model, step, optimizers):
    """``step`` itself (no XLA mode is chosen on this backend)."""
    return step
