"""Saving a ``keras.random.SeedGenerator``'s state with the weights.

Keras does not save seed-generator states (a generator's state is not a
variable of the layer that owns it), so a reloaded layer or model would start
its stream of random draws again from its seed. The layers and models that
draw noise from ``self.seed_generator`` (``layers.Sampling``, ``models.VAE``,
the density models, ``models.GAN``/``models.AAE``) store the state under the
key :data:`SEED_STATE_KEY` next to their own variables, so a reloaded or
resumed one continues the same stream. Files saved without that key still
load (the stream then starts from the seed).

This is the one home of that logic, importable by ``layers`` and ``models``
alike: :class:`SavesSeedState` is the mixin, :func:`save_seed_state` and
:func:`load_seed_state` are what it does, for classes that need to call them
themselves. :func:`call_seed_generator` makes the generator of one call given
an int seed (``sample(n, seed=7)``, ``log_likelihood(x, seed=7)``).
"""

import keras
from keras import ops

# The name of every per-call generator's state variable. Keras names an
# unnamed generator uniquely ("seed_generator_12"), and TensorFlow's eager
# runtime keeps ~31 KB per distinct variable name it has seen (measured:
# tf.Variable with a new name each call +30.7 KB per call, with one name +0.0),
# so a generator made per call with Keras' names grows the process with every
# call; with one name it does not. The name does not enter the draws.
CALL_SEED_GENERATOR_NAME = "call_seed_generator"

#: The store key of the state; the name is in saved ``.keras`` files: keep it.
SEED_STATE_KEY = "seed_generator_state"


class SavesSeedState:
    """Mixin: ``self.seed_generator``'s state is saved with the weights and restored.

    Put it before the Keras base class (``class M(SavesSeedState,
    keras.Model)``). ``save_own_variables`` stores the state next to the
    layer's own variables (:func:`save_seed_state`); ``load_own_variables``
    restores it when the store has it and hands the rest of the store to
    Keras (:func:`load_seed_state`).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels._seed_state import SavesSeedState
    >>> class Noise(SavesSeedState, keras.layers.Layer):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.seed_generator = keras.random.SeedGenerator(0)
    ...     def call(self, x):
    ...         return x + keras.random.normal(keras.ops.shape(x), seed=self.seed_generator)
    >>> layer, copy = Noise(), Noise()
    >>> _ = layer(np.zeros((2,), "float32"))   # one draw: the state moves on
    >>> store = {}
    >>> layer.save_own_variables(store)
    >>> sorted(store)
    ['seed_generator_state']
    >>> copy.load_own_variables(store)
    >>> x = np.zeros((2,), "float32")
    >>> bool(np.array_equal(keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(copy(x))))
    True
    """

    def save_own_variables(self, store):
        super().save_own_variables(store)
        save_seed_state(self.seed_generator, store)

    def load_own_variables(self, store):
        super().load_own_variables(load_seed_state(self.seed_generator, store))


def save_seed_state(seed_generator, store):
    """Store a ``SeedGenerator``'s state in a ``save_own_variables`` store.

    The state is stored as a NumPy array (what Keras' weight files hold), so
    a dict store keeps a snapshot, not the live variable.

    Args:
        seed_generator: a ``keras.random.SeedGenerator``.
        store: the dict-like store passed to ``save_own_variables``.

    Example:

    >>> import keras
    >>> from keras_genmodels._seed_state import SEED_STATE_KEY, save_seed_state
    >>> store = {}
    >>> save_seed_state(keras.random.SeedGenerator(0), store)
    >>> list(store) == [SEED_STATE_KEY], tuple(store[SEED_STATE_KEY].shape)
    (True, (2,))
    """
    store[SEED_STATE_KEY] = ops.convert_to_numpy(seed_generator.state)


def load_seed_state(seed_generator, store):
    """Restore what :func:`save_seed_state` stored, if the store has it.

    Args:
        seed_generator: the ``keras.random.SeedGenerator`` to restore.
        store: the dict-like store passed to ``load_own_variables``.

    Returns:
        A dict of the store's other entries, for
        ``super().load_own_variables``.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_genmodels._seed_state import load_seed_state, save_seed_state
    >>> saved, store = keras.random.SeedGenerator(7), {"0": np.ones(3)}
    >>> save_seed_state(saved, store)
    >>> restored = keras.random.SeedGenerator(0)
    >>> list(load_seed_state(restored, store))   # what Keras' own loading gets
    ['0']
    >>> bool(np.array_equal(keras.ops.convert_to_numpy(restored.state),
    ...                     keras.ops.convert_to_numpy(saved.state)))
    True
    >>> list(load_seed_state(restored, {"0": np.ones(3)}))   # an older file: nothing to restore
    ['0']
    """
    keys = list(store.keys())
    if SEED_STATE_KEY in keys:
        seed_generator.state.assign(store[SEED_STATE_KEY])
    return {k: store[k] for k in keys if k != SEED_STATE_KEY}


def call_seed_generator(seed):
    """A fresh ``keras.random.SeedGenerator(seed)`` for one call, under one fixed name.

    Its draws are those of ``keras.random.SeedGenerator(seed)`` (the state
    starts at ``[seed, 0]`` whatever the name); the fixed name keeps
    TensorFlow from keeping memory for each call's new variable name.

    Args:
        seed: int, or None for a random seed.

    Returns:
        A ``keras.random.SeedGenerator``.

    Example:

    >>> import keras
    >>> from keras_genmodels._seed_state import call_seed_generator
    >>> a = keras.random.uniform((3,), seed=call_seed_generator(7))
    >>> b = keras.random.uniform((3,), seed=keras.random.SeedGenerator(7))
    >>> bool(keras.ops.all(a == b))
    True
    """
    return keras.random.SeedGenerator(seed, name=CALL_SEED_GENERATOR_NAME)

