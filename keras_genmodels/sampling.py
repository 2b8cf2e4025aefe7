"""Deprecated: the autoregressive samplers moved to :mod:`keras_genmodels.samplers`.

``keras_genmodels.sampling.naive_sample``, ``cached_sample`` and
``cached_params`` still work for one release and warn; import them from
``keras_genmodels.samplers``.

Example:

>>> import warnings
>>> from keras_genmodels.models import PixelCNN
>>> from keras_genmodels import sampling
>>> model = PixelCNN((3, 3, 1), filters=4, num_layers=0, kernel_size=3)
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     images = sampling.cached_sample(model, 2, seed=0, verbose=0)
>>> images.shape, caught[0].category.__name__
((2, 3, 3, 1), 'DeprecationWarning')
"""

import functools
import warnings

from keras_genmodels import samplers


def _moved(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        warnings.warn(
            f"keras_genmodels.sampling.{function.__name__} is deprecated; use "
            f"keras_genmodels.samplers.{function.__name__}.", DeprecationWarning, stacklevel=2)
        return function(*args, **kwargs)
    return wrapper


naive_sample = _moved(samplers.naive_sample)
cached_sample = _moved(samplers.cached_sample)
cached_params = _moved(samplers.cached_params)
