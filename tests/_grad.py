"""Gradients for the tests, on whichever Keras backend runs them.

The package differentiates through ``keras_genmodels._backend``; the tests
use this independent helper instead (TensorFlow ``GradientTape``,
``jax.vjp`` / ``jax.jacrev``, ``torch.autograd``), so a test written once
checks gradients under every backend (``-m all_backends``). Inputs are NumPy
arrays or tensors; results are NumPy arrays.

Under JAX the functions are traced by ``jax.vjp`` (not ``jax.jit``): layers
may be built inside them, but a function must not assign input-dependent
values to variables.
"""

import keras
import numpy as np
from keras import ops

BACKEND = keras.backend.backend()


def _numpy(t):
    if t is None:
        return None
    return np.asarray(ops.convert_to_numpy(ops.cast(t, "float32")
                                           if "float16" in str(t.dtype) else t))


def _cotangent(cotangent, out):
    return np.asarray(cotangent(tuple(out.shape)) if callable(cotangent) else cotangent)


def vjp(fn, *args, cotangent=None):
    """``(fn(*args), [d sum(fn(*args) * cotangent) / d a for a in args])``.

    ``cotangent`` (NumPy, the shape of the output, or a callable mapping
    that shape to one) defaults to ones: the gradients of ``sum(fn(*args))``.
    Inputs that do not reach the output get zero gradients.
    """
    xs = [ops.convert_to_tensor(a) for a in args]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(xs)
            out = fn(*xs)
            cot = tf.ones_like(out) if cotangent is None else tf.cast(
                _cotangent(cotangent, out), out.dtype)
            total = tf.reduce_sum(tf.cast(out * cot, "float32"))
        grads = tape.gradient(total, xs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    elif BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        out, pull = jax.vjp(fn, *xs)
        cot = (jnp.ones_like(out) if cotangent is None
               else jnp.asarray(_cotangent(cotangent, out), out.dtype))
        grads = pull(cot)
    elif BACKEND == "torch":
        import torch

        xs = [x.detach().requires_grad_(True) for x in xs]
        with torch.enable_grad():
            out = fn(*xs)
            cot = (torch.ones_like(out) if cotangent is None
                   else torch.as_tensor(_cotangent(cotangent, out), device=out.device).to(out.dtype))
            grads = torch.autograd.grad(out, xs, grad_outputs=cot, allow_unused=True,
                                        materialize_grads=True)
        out = out.detach()
    else:  # pragma: no cover
        raise NotImplementedError(BACKEND)
    return _numpy(out), [_numpy(g) for g in grads]


def gradient(fn, x, cotangent=None):
    """``d sum(fn(x) * cotangent) / d x`` (cotangent defaults to ones), as NumPy."""
    return vjp(fn, x, cotangent=cotangent)[1][0]


def variable_gradients(fn, variables):
    """``d sum(fn()) / d v`` for each Keras variable ``v`` in ``variables``, as NumPy."""
    variables = list(variables)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            total = tf.reduce_sum(fn())
        grads = tape.gradient(total, [v.value for v in variables])
    elif BACKEND == "jax":
        import jax

        def total(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return ops.sum(fn())

        grads = jax.grad(total)([v.value for v in variables])
    elif BACKEND == "torch":
        import torch

        with torch.enable_grad():
            total = torch.sum(fn())
            grads = torch.autograd.grad(total, [v.value for v in variables], allow_unused=True,
                                        materialize_grads=True)
    else:  # pragma: no cover
        raise NotImplementedError(BACKEND)
    return [_numpy(g) for g in grads]


def jacobian(fn, x):
    """``d fn(x) / d x`` as NumPy of shape ``fn(x).shape + x.shape``."""
    x = ops.convert_to_tensor(x)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        return _numpy(tape.jacobian(y, x, experimental_use_pfor=True))
    if BACKEND == "jax":
        import jax

        return _numpy(jax.jacrev(fn)(x))
    if BACKEND == "torch":
        import torch

        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            y = fn(x)
            flat = y.reshape(-1)
            rows = [torch.autograd.grad(flat[i], x, retain_graph=True, allow_unused=True,
                                        materialize_grads=True)[0] for i in range(flat.shape[0])]
        return _numpy(torch.stack(rows).reshape(tuple(y.shape) + tuple(x.shape)))
    raise NotImplementedError(BACKEND)  # pragma: no cover
