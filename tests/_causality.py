"""Autoregressive-property checks by gradients, vectorised over output positions."""

import numpy as np

from tests._grad import gradient


def input_gradients(fn, x, targets, out_index=None, repeats=2, seed=0):
    """|d out[t, i, j, chans] / d x| for every target ``(i, j, chans)``, one backward pass.

    Each target gets its own copies of the input (``repeats`` random draws of
    ``x``'s distribution are stacked on the batch axis); since examples do not
    interact, the gradient of ``sum_t <w_t, out[t, i_t, j_t, chans_t]>`` with
    respect to copy ``t`` is that target's gradient alone. Runs on every
    Keras backend (``tests/_grad.py``).

    Args:
        fn: callable mapping a batch of inputs to an output tensor (or list,
            indexed by ``out_index``).
        x: NumPy sampler ``x(n) -> (n, H, W, C)`` of inputs.
        targets: list of ``(i, j, chans)``.

    Returns:
        NumPy ``(len(targets), H, W, C)`` of absolute gradients summed over
        the repeats.
    """
    n = len(targets) * repeats

    def weights(shape):
        mask = np.zeros(shape, "float32")
        rng = np.random.default_rng(seed)
        for t, (i, j, chans) in enumerate(targets):
            for r in range(repeats):
                mask[t * repeats + r, i, j, chans] = rng.normal(size=len(chans))
        return mask

    def output(inputs):
        out = fn(inputs)
        return out if out_index is None else out[out_index]

    grads = np.abs(gradient(output, x(n), cotangent=weights))
    return grads.reshape((len(targets), repeats) + grads.shape[1:]).sum(1)


def allowed_inputs(shape, i, j, g, groups):
    """Inputs output ``(i, j)``, colour group ``g`` may see: earlier pixels, earlier groups."""
    h, w, c = shape
    allowed = np.zeros((h * w, c), bool)
    allowed[: i * w + j] = True
    allowed[i * w + j, : g * (c // groups)] = True
    return allowed.reshape(h, w, c)
