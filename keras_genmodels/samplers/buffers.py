"""Fixed-size buffers of the cached samplers, read and written at a tensor index.

A cached sampler keeps, for every layer that looks at earlier positions, a
zero-padded copy of what it needs: the finished rows of its input (a
``(n, H + q, W + 2q, C)`` *cache*, row ``i`` stored at ``i + q``) and the
row being generated (a ``(n, 1, W + q, C)`` *row buffer*, column ``j``
stored at ``j + q``). The index arguments are scalar int tensors (the loop
counters of ``keras.ops.fori_loop``), so these are ``ops.slice`` /
``ops.slice_update`` with fixed sizes: the buffers never grow, and every
entry read holds a finite value (zeros or earlier activations).

Example:

>>> import keras
>>> from keras_genmodels.samplers import buffers
>>> row = keras.ops.zeros((2, 1, 5, 3))
>>> j = keras.ops.convert_to_tensor(1, "int32")
>>> row = buffers.put(row, j, keras.ops.ones((2, 3)))
>>> tuple(buffers.row_window(row, j, 2).shape)   # columns 1 and 2, flattened
(2, 6)
>>> keras.ops.convert_to_numpy(buffers.row_window(row, j, 2))[0].tolist()
[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
"""

from keras import ops


def _zero(i):
    return ops.zeros_like(i)


def row_window(buffer, j, taps):
    """``buffer[:, 0, j:j + taps]`` flattened to ``(n, taps * C)``.

    Args:
        buffer: a row buffer ``(n, 1, W', C)``.
        j: scalar int tensor, the first column.
        taps: int, number of columns.

    Returns:
        ``(n, taps * C)``, the columns in order.

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import buffers
    >>> row = keras.ops.reshape(keras.ops.arange(8, dtype="float32"), (1, 1, 4, 2))
    >>> j = keras.ops.convert_to_tensor(1, "int32")
    >>> keras.ops.convert_to_numpy(buffers.row_window(row, j, 2)).tolist()
    [[2.0, 3.0, 4.0, 5.0]]
    """
    n, channels = buffer.shape[0], buffer.shape[-1]
    z = _zero(j)
    patch = ops.slice(buffer, (z, z, j, z), (n, 1, taps, channels))
    return ops.reshape(patch, (n, taps * channels))


def put(buffer, j, value):
    """``buffer[:, 0, j] = value`` for a row buffer and ``value`` of shape ``(n, C)``.

    Returns:
        The updated buffer (same shape).

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import buffers
    >>> row = buffers.put(keras.ops.zeros((1, 1, 3, 1)), keras.ops.convert_to_tensor(2, "int32"),
    ...                   keras.ops.ones((1, 1)))
    >>> keras.ops.convert_to_numpy(row).ravel().tolist()
    [0.0, 0.0, 1.0]
    """
    z = _zero(j)
    return ops.slice_update(buffer, (z, z, j, z), value[:, None, None, :])


def column(rows, j):
    """``rows[:, j]`` of a ``(n, W, C)`` tensor, as ``(n, C)``.

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import buffers
    >>> rows = keras.ops.reshape(keras.ops.arange(6, dtype="float32"), (1, 3, 2))
    >>> keras.ops.convert_to_numpy(buffers.column(rows, keras.ops.convert_to_tensor(1, "int32"))).tolist()
    [[2.0, 3.0]]
    """
    z = _zero(j)
    return ops.squeeze(ops.slice(rows, (z, j, z), (rows.shape[0], 1, rows.shape[-1])), 1)


def strip(cache, i, rows):
    """Cache rows ``i .. i + rows - 1``, all columns: ``(n, rows, W', C)``.

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import buffers
    >>> cache = keras.ops.zeros((2, 6, 5, 3))
    >>> tuple(buffers.strip(cache, keras.ops.convert_to_tensor(1, "int32"), 2).shape)
    (2, 2, 5, 3)
    """
    z = _zero(i)
    return ops.slice(cache, (z, i, z, z), (cache.shape[0], rows) + tuple(cache.shape[2:]))


def write_row(cache, i, pad, row_buffer):
    """Write a finished row buffer (left padding ``pad``) into cache row ``i + pad``.

    Args:
        cache: ``(n, H + pad, W + 2 pad, C)``.
        i: scalar int tensor, the image row.
        pad: int, the padding of both.
        row_buffer: ``(n, 1, W + pad, C)``.

    Returns:
        The updated cache.

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import buffers
    >>> cache = buffers.zeros(1, 3 + 1, 2 + 2, 1)            # H=3, W=2, pad 1
    >>> row = keras.ops.ones((1, 1, 2 + 1, 1))               # a row buffer, left pad 1
    >>> cache = buffers.write_row(cache, keras.ops.convert_to_tensor(0, "int32"), 1, row)
    >>> keras.ops.convert_to_numpy(cache)[0, :, :, 0].tolist()[:2]
    [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]]
    """
    z = _zero(i)
    return ops.slice_update(cache, (z, i + pad, z + pad, z), row_buffer[:, :, pad:])


def zeros(*shape):
    """A float32 zero buffer of ``shape`` (the samplers compute in float32).

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import buffers
    >>> tuple(buffers.zeros(2, 3).shape), keras.backend.standardize_dtype(buffers.zeros(1).dtype)
    ((2, 3), 'float32')
    """
    return ops.zeros(shape, "float32")
