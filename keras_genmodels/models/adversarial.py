"""Base class of the models trained with several optimizers (GAN, AAE), and their shared checks."""

import keras

from keras_genmodels import _backend
from keras_genmodels._seed_state import SavesSeedState
from keras_genmodels.models import _common
from keras_genmodels.presets import PresetMixin

_COMPILE_KWARGS = ("run_eagerly", "jit_compile", "steps_per_execution")


class _OptimizerGroup(keras.optimizers.Optimizer):
    """Keras' ``model.optimizer`` of a GAN/AAE on the JAX backend: its optimizers as one state.

    Keras' JAX trainer is stateless: ``fit`` passes the model's state to the
    (jitted) ``train_step(state, data)`` as ``(trainable_variables,
    non_trainable_variables, optimizer_variables, metrics_variables)`` and
    takes the new state back. ``optimizer_variables`` are the values of
    ``model.optimizer.variables``; any other variable would be a constant of
    the compiled step and its updates would be lost. The adversarial models
    have one optimizer per sub-problem (``d_optimizer``, ``g_optimizer``...)
    and no single Keras optimizer. On JAX, ``compile`` therefore sets
    ``model.optimizer`` to this group, whose ``variables`` are the
    concatenated variables of the named optimizers (the same ``Variable``
    objects). Keras then carries, purges and syncs back their slots and
    iteration counters exactly as it does for an ordinary optimizer, with
    Keras' public ``Optimizer`` API only: no private trainer method is
    overridden and the state tuple is never sliced by position. The steps
    still call each named optimizer (``_backend.minimize``), which reads and
    updates its variables inside the step's ``StatelessScope``.

    The group itself never updates anything (``apply`` raises) and stores
    nothing (the named optimizers are saved as the model's attributes). Its
    own ``learning_rate`` is not used: callbacks that change
    ``model.optimizer.learning_rate`` have no effect on adversarial models;
    use a learning-rate schedule in each optimizer.
    """

    def __init__(self, optimizers, name="optimizer_group"):
        super().__init__(learning_rate=0.0, name=name)
        self._members = tuple(optimizers)

    @property
    def variables(self):
        return [v for opt in self._members for v in opt.variables]

    def build(self, variables):
        # The named optimizers are built by ``AdversarialModel.build_optimizers``.
        self.built = True

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError(
            "The optimizer group of an adversarial model is never applied; its train_step "
            "uses the named optimizers."
        )

    def save_own_variables(self, store):
        pass  # the named optimizers save themselves

    def load_own_variables(self, store):
        pass


class AdversarialModel(PresetMixin, _common.DataErrorsAsValueError, SavesSeedState, keras.Model):
    """Base of the models trained with several optimizers (GAN, AAE).

    Subclasses list their optimizers in ``optimizer_names`` and return the
    variables each one updates from :meth:`optimizer_variables`.

    ``compile`` takes one optimizer per name (all required), keeps each as an
    attribute of that name (so ``model.save``/``save_weights`` store their
    variables) and builds their slot variables at once from the networks,
    which makes ``load_model``, ``load_weights`` and
    ``keras.callbacks.BackupAndRestore`` restore every optimizer's state.
    ``get_compile_config``/``compile_from_config`` serialize all of them.
    Keras' own ``model.optimizer`` stays ``None`` on TensorFlow, and is an
    optimizer group on JAX that lets Keras' stateless JAX trainer carry every
    optimizer's state (see ``_OptimizerGroup``). Callbacks that adjust
    ``model.optimizer``, such as ``ReduceLROnPlateau``, do not apply; use
    learning-rate schedules in the optimizers instead. The model's
    ``seed_generator`` state is saved with the weights
    (:class:`keras_genmodels._seed_state.SavesSeedState`), so a reloaded or
    resumed model draws the same noise.

    Example (with :class:`~keras_genmodels.models.GAN`, a subclass):

    >>> import keras
    >>> from keras_genmodels.models import GAN
    >>> from keras_genmodels.models.adversarial import AdversarialModel
    >>> generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> discriminator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> gan = GAN(generator, discriminator, latent_dim=2)
    >>> isinstance(gan, AdversarialModel), gan.optimizer_names
    (True, ('d_optimizer', 'g_optimizer'))
    >>> gan.optimizer_variables("g_optimizer") == generator.trainable_weights
    True
    >>> gan.compile(d_optimizer="adam")
    Traceback (most recent call last):
    ...
    ValueError: GAN.compile() needs every optimizer: [...]. Missing: ['g_optimizer']. ...
    >>> gan.compile(d_optimizer="adam", g_optimizer=keras.optimizers.Adam(1e-4))
    >>> round(float(gan.g_optimizer.learning_rate), 6)   # each optimizer is an attribute
    0.0001
    """

    optimizer_names = ()

    def optimizer_variables(self, name):
        raise NotImplementedError

    # Subclasses write their steps statefully (``_stateful_train_step`` /
    # ``_stateful_test_step``, decorated with ``_backend.keras_step``) and
    # validate a batch in ``_prepare_data``; a batch failing validation
    # changes nothing (``_backend.checked_step``).
    def train_step(self, *args):
        return _backend.checked_step(self, self._compiled_step(self._stateful_train_step), args,
                                     self._prepare_data)

    def test_step(self, *args):
        return _backend.checked_step(self, self._stateful_test_step, args, self._prepare_data)

    def _init_optimizers(self):
        for name in self.optimizer_names:
            setattr(self, name, None)
        self._compile_kwargs = {}

    def compile(self, **kwargs):
        """Configure training with one optimizer per sub-problem.

        Args:
            **kwargs: the optimizers named in ``optimizer_names``
                (``keras.optimizers.Optimizer`` instances, names or configs),
                plus ``run_eagerly``, ``jit_compile``, ``steps_per_execution``.

        Raises:
            ValueError: when an optimizer is missing, two are the same object,
                or ``optimizer``/``loss``/``metrics`` is passed.
        """
        names = self.optimizer_names
        unexpected = sorted(set(kwargs) - set(names) - set(_COMPILE_KWARGS))
        if unexpected:
            raise ValueError(
                f"{type(self).__name__}.compile() takes the optimizers {list(names)} and "
                f"{list(_COMPILE_KWARGS)}; its losses and metrics are built in. Received "
                f"unexpected arguments: {unexpected}"
            )
        missing = [n for n in names if kwargs.get(n) is None]
        if missing:
            raise ValueError(
                f"{type(self).__name__}.compile() needs every optimizer: {list(names)}. "
                f"Missing: {missing}. Example: compile("
                + ", ".join(f"{n}=keras.optimizers.Adam(2e-4, beta_1=0.5)" for n in names) + ")"
            )
        # Under tf.distribute, optimizers made here from names/configs (and
        # the LossScaleOptimizer wrappers) must be created under the model's
        # strategy; instances must have been (checked below).
        with _backend.strategy_scope(self):
            optimizers = {n: keras.optimizers.get(kwargs.pop(n)) for n in names}
        ids = [id(o) for o in optimizers.values()]
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"{type(self).__name__}.compile() needs a distinct optimizer object for each of "
                f"{list(names)} (each keeps its own slot variables). Received the same object "
                "twice."
            )
        for n, o in optimizers.items():
            _backend.check_optimizer_strategy(self, o, n)
        if self.dtype_policy.name == "mixed_float16":
            # Loss scaling, as Keras' compile does for model.optimizer.
            with _backend.strategy_scope(self):
                optimizers = {
                    n: o if isinstance(o, keras.optimizers.LossScaleOptimizer)
                    else keras.optimizers.LossScaleOptimizer(o)
                    for n, o in optimizers.items()
                }
        jit_compile = kwargs.pop("jit_compile", "auto")
        super().compile(optimizer=None, jit_compile=self._step_compilation(jit_compile), **kwargs)
        kwargs["jit_compile"] = jit_compile
        for name, opt in optimizers.items():
            setattr(self, name, opt)
        if _backend.STATELESS_TRAINER:
            # Keras' JAX trainer carries only model.optimizer's variables
            # through its compiled step: see _OptimizerGroup.
            self.optimizer = _OptimizerGroup([optimizers[n] for n in names])
        self._compile_kwargs = dict(kwargs)
        if self.built:
            self.build_optimizers()

    def minimize(self, optimizer, loss_fn, variables):
        """``_backend.minimize``, or just ``loss_fn()`` when ``variables`` is empty (frozen network)."""
        variables = list(variables)
        if not variables:
            return loss_fn()
        return _backend.minimize(optimizer, loss_fn, variables)

    def _step_optimizers(self):
        return [o for o in (getattr(self, n, None) for n in self.optimizer_names) if o is not None]

    def build_optimizers(self):
        """Create every optimizer's slot variables (idempotent)."""
        with _backend.strategy_scope(self):
            for name in self.optimizer_names:
                opt = getattr(self, name)
                if opt is not None and not opt.built:
                    opt.build(self.optimizer_variables(name))

    def get_compile_config(self):
        if not self.compiled or getattr(self, self.optimizer_names[0], None) is None:
            return None
        config = {n: keras.saving.serialize_keras_object(getattr(self, n)) for n in self.optimizer_names}
        config.update(self._compile_kwargs)
        return config

    def compile_from_config(self, config):
        config = dict(config)
        for name in self.optimizer_names:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        self.compile(**config)


def output_spec(model, inputs, what):
    """Symbolic output of ``model`` on ``inputs`` (KerasTensors); ValueError on mismatch.

    Used by the adversarial models' constructors to check that their
    networks fit together before any data is seen.

    Args:
        model: a ``keras.Model`` (or layer).
        inputs: ``keras.KerasTensor`` or a list of them.
        what: str, what failed, the start of the error message.

    Returns:
        The ``KerasTensor`` (or structure of them) ``model`` outputs.

    Raises:
        ValueError: ``"{what}: {reason}"`` when ``model`` does not accept
            ``inputs``.

    Example:

    >>> import keras
    >>> from keras_genmodels.models.adversarial import output_spec
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> tuple(output_spec(net, keras.KerasTensor((2, 4)), "net").shape)
    (2, 1)
    """
    try:
        return model.compute_output_spec(inputs)
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise ValueError(f"{what}: {e}") from e


def check_discriminator_output(spec, name="discriminator"):
    """Raise ``ValueError`` unless ``spec`` has the shape ``(batch, 1)`` of one logit per example.

    Args:
        spec: the discriminator's symbolic output (see :func:`output_spec`).
        name: str, the network's name in the error message.

    Raises:
        ValueError: when the shape is not ``(batch, 1)``.

    Example:

    >>> import keras
    >>> from keras_genmodels.models.adversarial import check_discriminator_output
    >>> check_discriminator_output(keras.KerasTensor((2, 1)))
    >>> check_discriminator_output(keras.KerasTensor((2, 3)))
    Traceback (most recent call last):
        ...
    ValueError: The discriminator must output one logit per example, shape (batch, 1). Received output shape: (2, 3)
    """
    shape = tuple(spec.shape)
    if len(shape) != 2 or shape[1] != 1:
        raise ValueError(
            f"The {name} must output one logit per example, shape (batch, 1). "
            f"Received output shape: {shape}"
        )
