"""Keras' saving code rebuilds its attribute skip-sets on every save and load.

Saving or loading weights (``save_weights``, ``model.save``, ``load_weights``,
``keras.callbacks.BackupAndRestore`` / ``ModelCheckpoint`` every epoch) walks
each layer and optimizer, skipping the attributes every ``Layer`` /
``Optimizer`` / ``Metric`` has. ``keras.src.saving.saving_lib.get_attr_skipset``
builds those sets from freshly made reference objects and means to cache them
in Keras' global state, but (Keras 3.15) it stores them under another key than
the one it reads, so every call builds them again: a new ``Optimizer(1.0)``
with its two variables per save on every backend. On TensorFlow each Keras
variable made and freed keeps ~31 KB of process memory, so a training run
that checkpoints every epoch grew by ~72 KB per epoch, and each
save of the IWAE networks took ~1.5x as long as with the sets cached
(``bench/save_cost.py``).

:func:`install` caches the sets in this module (surviving
``keras.backend.clear_session()``, which resets Keras' global state), and only
when the running Keras is found not to cache them itself: the sets are pure
functions of the reference classes, so the cached ones are the ones Keras
would build.
"""

from keras.src.saving import saving_lib

_KERAS_GET_ATTR_SKIPSET = saving_lib.get_attr_skipset
_CACHE = {}


def _cached_get_attr_skipset(obj_type):
    if obj_type not in _CACHE:
        _CACHE[obj_type] = _KERAS_GET_ATTR_SKIPSET(obj_type)
    return _CACHE[obj_type]


def keras_caches_skipsets():
    """Whether Keras' own ``get_attr_skipset`` returns its cached set on a second call."""
    return _KERAS_GET_ATTR_SKIPSET("Loss") is _KERAS_GET_ATTR_SKIPSET("Loss")


def install():
    """Route Keras' skip-set lookups through this module's cache, unless Keras caches them."""
    if saving_lib.get_attr_skipset is _cached_get_attr_skipset or keras_caches_skipsets():
        return
    saving_lib.get_attr_skipset = _cached_get_attr_skipset
