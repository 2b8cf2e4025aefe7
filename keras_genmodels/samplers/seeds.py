"""Seeds of the autoregressive samplers: one stateless seed per generation step.

A sample call with int seed ``s`` draws step ``t`` (the ``t``-th value in
generation order) with the stateless seed ``[s, t]``: the ``t``-th seed a
``keras.random.SeedGenerator(s)`` would give. The cached sampler and the
naive reference both use it, so with the same int seed they draw the same
random numbers and return the same samples. With ``seed=None`` the int is
drawn from the model's own ``SeedGenerator`` (different samples per call).
"""

import keras
import numpy as np
from keras import ops

from keras_genmodels._seed_state import call_seed_generator
from keras_genmodels._validate import check_int


class StepSeed(keras.random.SeedGenerator):
    """A stateless seed for ``keras.random`` draws: the tensor ``seed`` itself.

    ``keras.random`` accepts an int or a ``SeedGenerator``; inside a compiled
    loop the seed of step ``t`` is a tensor, which this wrapper hands to the
    random op through ``SeedGenerator.next`` without owning a state variable.
    A likelihood drawing more than once in a step gets ``[s + 7919 k, t]``
    for its ``k``-th draw.

    Args:
        seed: int tensor of shape ``(2,)``.

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import StepSeed
    >>> seed = keras.random.SeedGenerator(3).next()   # the seed tensor [3, 0]
    >>> a = keras.random.uniform((2,), seed=StepSeed(seed))
    >>> b = keras.random.uniform((2,), seed=StepSeed(seed))
    >>> bool((keras.ops.convert_to_numpy(a) == keras.ops.convert_to_numpy(b)).all())
    True
    """

    def __init__(self, seed):  # no super().__init__: no state variable
        self._seed = seed
        self._calls = 0

    def next(self, ordered=True):
        seed = self._seed
        if self._calls:
            seed = seed + ops.cast(ops.convert_to_tensor([7919 * self._calls, 0]), seed.dtype)
        self._calls += 1
        return seed


def resolve_seed(model, seed):
    """The int seed of a sample call: ``seed`` itself, or one drawn from ``model.seed_generator``.

    Args:
        model: a model with a ``seed_generator`` (used when ``seed`` is None).
        seed: int or None.

    Returns:
        A Python int.

    Raises:
        ValueError: when ``seed`` is neither an int nor None.

    Example:

    >>> from keras_genmodels.models import MarkovAR
    >>> from keras_genmodels.samplers import resolve_seed
    >>> resolve_seed(MarkovAR(4), 7)
    7
    """
    if seed is None:
        return int(ops.convert_to_numpy(
            keras.random.randint((), 0, 2**30, seed=model.seed_generator)))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int or None. Received: seed={seed!r}")
    return check_int("seed", int(seed), minimum=None)


def base_seed(model, seed):
    """The ``(2,)`` seed tensor ``[s, 0]`` of a sample call (``s`` from :func:`resolve_seed`).

    Example:

    >>> import keras
    >>> from keras_genmodels.models import MarkovAR
    >>> from keras_genmodels.samplers import base_seed
    >>> keras.ops.convert_to_numpy(base_seed(MarkovAR(4), 7)).tolist()
    [7, 0]
    """
    return call_seed_generator(resolve_seed(model, seed)).next()


def step_seed(base, t):
    """The seed of step ``t`` (a scalar int tensor): ``base + [0, t]``, as a :class:`StepSeed`.

    Example:

    >>> import keras
    >>> from keras_genmodels.samplers import step_seed
    >>> base = keras.random.SeedGenerator(7).next()
    >>> seed = step_seed(base, keras.ops.convert_to_tensor(3, "int32"))
    >>> keras.ops.convert_to_numpy(seed.next()).tolist()
    [7, 3]
    """
    return StepSeed(base + ops.cast(ops.stack([ops.zeros_like(t), t]), base.dtype))
