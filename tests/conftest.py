import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_everything():
    # Seeds only: keras.backend.clear_session() after every test cost ~1 s each
    # on 2 cores; tests must not depend on auto-generated layer names.
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
