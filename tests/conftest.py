"""Test session set-up shared by every test.

The backend and device layout must be fixed before Keras or TensorFlow is imported,
so this runs at collection time, before any test module imports sparsekit.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# Two host devices for the JAX data-parallel check (a no-op for TensorFlow).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import keras  # noqa: E402
import pytest  # noqa: E402

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    # Two logical CPUs so MirroredStrategy really splits batches across replicas.
    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )


def pytest_generate_tests(metafunc):
    """Parametrises harness classes (`cases = [...]`) over their cases."""
    cases = getattr(metafunc.cls, "cases", None)
    if cases is not None and "case" in metafunc.fixturenames:
        metafunc.parametrize("case", cases, ids=[case.id for case in cases])


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from float32, no distribution and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(None)
    keras.backend.clear_session(free_memory=False)
