"""Autoregressive generation: the raster loop, its seeds and compilation, and the reference.

Generation lives in three rooms, as in keras-hub (``CachedMultiHeadAttention``
/ ``CausalLM.call_with_cache`` / ``samplers``):

- **layers** own their incremental step beside ``call``:
  ``MaskedConv2D.cached_kernels`` / ``rows_above`` / ``at_pixel``,
  ``GatedPixelCNNBlock.vertical_row`` / ``horizontal_pixel``,
  ``RowLSTM.row_term`` / ``pixel_step``, ``DiagonalBiLSTM.left_pixel_step``
  / ``right_row``, ``MaskedDense.add_input`` / ``output_at``;
- **models** own their cache layout (which buffers, what each row and
  pixel computes);
- **this package** owns the loop over rows, pixels and channel groups, the
  random draws (step ``t`` of a call with int seed ``s`` uses the stateless
  seed ``[s, t]``), teacher forcing, the progress bar and the compilation
  (:func:`cached_sample`, :func:`cached_params`), and the reference that
  runs the whole network per step (:func:`naive_sample`). Same int seed,
  same samples: the tests check ``cached == naive`` for every model.

A model sampled here provides:

- ``event_shape``, ``likelihood`` (a ``keras_genmodels.likelihoods.Likelihood``
  whose ``sample(params)`` draws all ``C`` channels of a position from
  ``(n, 1, 1, P)`` parameters), ``num_params`` (``P``),
  ``sampling_channel_groups`` (lists of channel indices drawn together,
  ``[[0], [1], [2]]`` for R -> G -> B) and ``seed_generator``;
- ``raster_shape``: ``(rows, cols, C)``, the generation order as a raster;
  ``to_raster(t)`` / ``from_raster(t)``: tensors between the layout of
  ``model(x)`` (values or parameters) and ``(n, rows, cols, last)``;
- the cache layout: ``cache_weights()`` (nested weight tensors, passed to
  the compiled loop on every call), ``build_cache(n)`` (nested zero
  buffers of fixed sizes), ``cache_row_start(weights, cache, i, condition)
  -> (cache, context)``, ``call_with_cache(weights, cache, context, i, j)
  -> (params (n, P), cache)``, ``cache_write(weights, cache, context, i, j,
  values) -> cache`` (``values`` ``(n, C)`` in the data's units) and
  ``cache_row_end(weights, cache, context, i) -> cache``.

Example:

>>> import numpy as np
>>> from keras_genmodels.models import NADE
>>> from keras_genmodels.samplers import cached_sample, naive_sample
>>> model = NADE(6, hidden_units=4, seed=0)
>>> fast = cached_sample(model, 3, seed=1, verbose=0)
>>> fast.shape, bool((fast == naive_sample(model, 3, seed=1, verbose=0)).all())
((3, 6), True)
"""

from keras_genmodels.samplers import buffers
from keras_genmodels.samplers.naive import naive_sample
from keras_genmodels.samplers.raster import FunctionCache
from keras_genmodels.samplers.raster import cached_params
from keras_genmodels.samplers.raster import cached_sample
from keras_genmodels.samplers.raster import compiled
from keras_genmodels.samplers.raster import run_rows
from keras_genmodels.samplers.seeds import StepSeed
from keras_genmodels.samplers.seeds import base_seed
from keras_genmodels.samplers.seeds import resolve_seed
from keras_genmodels.samplers.seeds import step_seed

METHODS = ("cached", "naive")


def check_method(method):
    """``method`` if it is one of :data:`METHODS`, else a ``ValueError`` naming the choices.

    Example:

    >>> from keras_genmodels.samplers import check_method
    >>> check_method("naive")
    'naive'
    """
    if method not in METHODS:
        raise ValueError(
            f"Unknown sampling method. Expected one of {METHODS}. Received: method={method!r}"
        )
    return method

__all__ = [
    "METHODS", "FunctionCache", "check_method", "StepSeed", "base_seed", "buffers", "cached_params",
    "cached_sample", "compiled", "naive_sample", "resolve_seed", "run_rows", "step_seed",
]
