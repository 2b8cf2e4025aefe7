"""Single-loss models on Keras' own trainer.

A model whose training objective is one scalar (VAE, Autoencoder and the
explicit-density models) lets Keras' trainer of the running backend take the
gradient step: Keras calls ``y_pred = model(inputs, training=True)`` and then
``model.compute_loss(inputs, y, y_pred, sample_weight, training)``, scales the
loss for distribution and mixed precision, applies the optimizer and runs
``steps_per_execution``. :class:`SingleLossModel` supplies the two hooks
Keras leaves to the model:

- ``train_step``/``test_step`` only prepare the batch before Keras' own step:
  ``prepare_batch`` validates the data (``_backend.check``: a failing batch
  changes nothing, see ``_backend.checked_step``) and turns ``(x, labels)``
  of a conditional model into the network's inputs;
- ``compute_loss`` turns the model's outputs into the loss with the model's
  ``loss_terms`` and updates the extra ``keras.metrics.Mean`` trackers
  (``reconstruction_loss``, ``kl_loss``, ``bits_per_dim``...) beside Keras'
  own ``loss`` tracker.
"""

import keras
from keras import ops

from keras_genmodels import _backend
from keras_genmodels.models import _common


class SingleLossModel(_common.DataErrorsAsValueError):
    """Mixin (before ``keras.Model`` in the bases) for models trained by Keras' trainer.

    Subclasses set ``self._trackers = _common.trackers(...)`` (the metrics
    shown beside ``loss``) and implement:

    - ``prepare_batch(x, y)``: validate ``x`` and return ``(inputs, y)``, the
      inputs ``call`` takes during ``fit``/``evaluate``;
    - ``loss_terms(inputs, y_pred, sample_weight)``: a dict with ``"loss"``
      (the data term, a batch mean in nats) and one scalar per tracker name;
      ``y_pred`` is ``call(inputs, training=...)``.
    """

    def prepare_batch(self, x, y):
        raise NotImplementedError

    def loss_terms(self, inputs, y_pred, sample_weight=None, training=False):
        raise NotImplementedError

    def _prepare_data(self, data):
        x, y, sample_weight = _common.unpack(data)
        inputs, y = self.prepare_batch(x, y)
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def compile(self, *args, jit_compile="auto", **kwargs):
        """Keras' ``compile``; ``jit_compile="auto"`` picks the faster step for the backend and device.

        On TensorFlow, ``jit_compile=True`` (or an "auto" that chooses XLA:
        see ``xla_on_cpu``) compiles the step's computation with XLA *after*
        the data checks, which stay outside XLA (XLA drops graph assertions,
        so a whole-step XLA function would train on a bad batch); an "auto"
        whose ``xla_on_cpu`` is ``"update"`` keeps the step plain and compiles
        only the optimizer's update. ``model.xla_step`` / ``model.xla_update``
        tell what was chosen, ``xla_on_cpu`` (a class attribute; set it on a
        model before ``compile`` to change its choice) what "auto" picks on a
        CPU (a dict of ``"onednn"`` / ``"no_onednn"`` where that depends on
        whether TensorFlow runs its oneDNN kernels). On JAX and torch
        ``jit_compile`` is passed to Keras unchanged.
        """
        super().compile(*args, jit_compile=self._step_compilation(jit_compile), **kwargs)
        if hasattr(self, "_compile_config"):  # a reloaded model chooses afresh
            self._compile_config.config["jit_compile"] = jit_compile

    def compile_from_config(self, config):
        """Keras' ``compile_from_config`` (which skips models that override ``compile``)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.build_optimizers()

    def build_optimizers(self):
        """Create the optimizer's slot variables (idempotent; an XLA step cannot create them)."""
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, *args):
        return _backend.checked_step(self, self._compiled_step(super().train_step), args,
                                     self._prepare_data)

    def test_step(self, *args):
        return _backend.checked_step(self, super().test_step, args, self._prepare_data)

    def _with_added_losses(self, loss):
        if not self.losses:
            return loss
        return loss + ops.sum(ops.stack([ops.cast(l, loss.dtype) for l in self.losses]))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The loss Keras' trainer minimises: ``loss_terms(x, y_pred)["loss"]`` plus ``self.losses``.

        Also updates the model's extra metric trackers (each weighted by the
        batch size, as Keras weights its ``loss`` tracker). Under
        ``tf.distribute`` the per-replica loss is divided by the number of
        replicas, as Keras' own losses are.
        """
        terms = self.loss_terms(x, y_pred, sample_weight, training=training)
        count = ops.shape(ops.convert_to_tensor(keras.tree.flatten(x)[0]))[0]
        for name, tracker in self._trackers.items():
            tracker.update_state(terms[name], sample_weight=count)
        return _backend.scale_loss_for_distribution(self._with_added_losses(terms["loss"]))
