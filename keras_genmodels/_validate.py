"""Argument validators shared by the layers, models, kernels and callbacks.

A leaf module (NumPy only), so that every part of the package can use it:
layers and ``keras_genmodels.kernels`` must not import ``models``.
"""

import numpy as np


def check_int(name, value, minimum=1):
    """``value`` as a Python int if it is an integer ``>= minimum``, else ``ValueError``.

    Python and NumPy integers are accepted; bools, floats and strings are
    not. The error names the argument and the value received, as every
    constructor of the package does.

    Args:
        name: str, the argument's name (used in the error message).
        value: the value to check.
        minimum: int, the smallest allowed value (default 1: a positive
            int), or None for any integer.

    Returns:
        ``int(value)``. Callers that store the argument should store this,
        so configs hold plain ints.

    Raises:
        ValueError: when ``value`` is not an integer or is below ``minimum``.

    Example:

    >>> import numpy as np
    >>> from keras_genmodels._validate import check_int
    >>> check_int("latent_dim", np.int64(16))
    16
    >>> check_int("order", 0, minimum=0)
    0
    >>> check_int("seed", -3, minimum=None)
    -3
    >>> check_int("filters", 2.0)
    Traceback (most recent call last):
        ...
    ValueError: filters must be an int >= 1. Received: filters=2.0
    """
    if (not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_))
            or (minimum is not None and value < minimum)):
        bound = "an int" if minimum is None else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {bound}. Received: {name}={value!r}")
    return int(value)
