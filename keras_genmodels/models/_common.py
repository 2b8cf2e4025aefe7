"""Helpers shared by the models: batch unpacking, weighted means, trackers."""

import keras
from keras import ops


def unpack(data):
    """Split a batch into ``(x, y, sample_weight)`` like Keras' own trainer."""
    return keras.utils.unpack_x_y_sample_weight(data)


def weighted_mean(values, sample_weight=None):
    """Mean of per-example ``values``; weighted when ``sample_weight`` is given."""
    values = ops.convert_to_tensor(values)
    if sample_weight is None:
        return ops.mean(values)
    w = ops.cast(ops.reshape(sample_weight, (-1,)), values.dtype)
    return ops.sum(values * w) / ops.maximum(ops.sum(w), 1e-12)


def trackers(*names):
    """One ``keras.metrics.Mean`` per name, in order."""
    return {name: keras.metrics.Mean(name=name) for name in names}


def update(tracker_dict, values, sample_weight=None):
    """Update the trackers from a dict of scalar values; return their results."""
    for name, tracker in tracker_dict.items():
        if name in values:
            tracker.update_state(values[name])
    return {name: tracker.result() for name, tracker in tracker_dict.items()}


def serialize(obj):
    return keras.saving.serialize_keras_object(obj)


def deserialize(config):
    return keras.saving.deserialize_keras_object(config)


def check_int(name, value, minimum=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}. Received: {name}={value!r}")
    return value


def as_float32(x):
    x = ops.convert_to_tensor(x)
    if x.dtype != "float32":
        x = ops.cast(x, "float32")
    return x
