"""Feature-array check shared by the metrics modules (a private module: its names are public)."""

import numpy as np
from keras import ops


def as_features(features, name):
    """A finite float64 ``(n, d)`` NumPy array, or ValueError naming ``name``."""
    try:
        arr = np.asarray(ops.convert_to_numpy(features) if not isinstance(features, np.ndarray)
                         else features, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array of shape (n, d). Received: "
                         f"{type(features).__name__} ({e})") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (num_examples, num_features). "
                         f"Received: shape={arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no feature columns. Received: shape={arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr
