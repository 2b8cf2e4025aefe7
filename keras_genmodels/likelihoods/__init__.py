"""Observation likelihoods p(x | params), written in ``keras.ops``.

A likelihood turns the raw output of a network (``params``) into a
distribution over data ``x``. Every likelihood offers

- ``log_prob(x, params)``: the log-density (log-mass) of each example, summed
  over all non-batch axes, in nats, shape ``(batch,)``;
- ``sample(params, seed=None)``: a draw of ``x``;
- ``mean(params)``: the expected value (used for reconstructions);
- ``params_shape(data_shape)``: the shape of ``params`` a network must output
  for data of shape ``data_shape`` (without the batch axis);
- ``validate(x)``: raises ``ValueError`` naming the problem when ``x`` is not
  in the support (e.g. non-binary data for a Bernoulli).

They are small serializable objects, so models keep them in ``get_config``.
Use :func:`get` to resolve names (``"bernoulli"``, ``"gaussian"``, ...).

Every name is importable from here (``keras_genmodels.likelihoods.X``); they
are defined in

- :mod:`~keras_genmodels.likelihoods.base`: :class:`Likelihood`, the helpers
  ``params_tensor`` / ``sum_non_batch``, and :func:`get`, :func:`serialize`,
  :func:`register_alias`;
- :mod:`~keras_genmodels.likelihoods.continuous`: :class:`Bernoulli`,
  :class:`Gaussian`, :func:`normal_log_prob`, :data:`LOG_2PI`;
- :mod:`~keras_genmodels.likelihoods.discrete`: the 8-bit likelihoods
  :class:`Categorical` and :class:`DiscretizedLogisticMixture`.

Example:

>>> import numpy as np
>>> import keras_genmodels
>>> lik = keras_genmodels.likelihoods.get("bernoulli")
>>> x = np.array([[0.0, 1.0]], "float32")
>>> logits = np.array([[0.0, 0.0]], "float32")
>>> round(float(lik.log_prob(x, logits)[0]), 4)  # 2 * log(0.5)
-1.3863
"""

from keras_genmodels.likelihoods.base import Likelihood
from keras_genmodels.likelihoods.base import get
from keras_genmodels.likelihoods.base import register_alias
from keras_genmodels.likelihoods.base import serialize
from keras_genmodels.likelihoods.continuous import LOG_2PI
from keras_genmodels.likelihoods.continuous import Bernoulli
from keras_genmodels.likelihoods.continuous import Gaussian
from keras_genmodels.likelihoods.continuous import normal_log_prob
from keras_genmodels.likelihoods.discrete import Categorical
from keras_genmodels.likelihoods.discrete import DiscretizedLogisticMixture

__all__ = [
    "LOG_2PI",
    "Bernoulli",
    "Categorical",
    "DiscretizedLogisticMixture",
    "Gaussian",
    "Likelihood",
    "get",
    "normal_log_prob",
    "register_alias",
    "serialize",
]
