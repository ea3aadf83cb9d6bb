"""sk.timing: compiled repeat loops, interleaved rounds, seconds per call."""

import time

import keras
import numpy as np
import pytest

import sparsekit as sk


def test_compiled_repeat_sums_every_iteration():
    x = np.ones((2, 3), "float32")
    loop = sk.timing.compiled_repeat(lambda a: a * 2.0, (x,), 5)
    # Each iteration adds 2 * (1 + r * 1e-9): five iterations give 10.
    np.testing.assert_allclose(loop(), np.full((2, 3), 10.0), rtol=1e-6)


def test_compiled_repeat_passes_the_other_arguments_unchanged():
    x = np.ones((1, 4), "float32")
    kernel = np.arange(8.0, dtype="float32").reshape(4, 2)
    loop = sk.timing.compiled_repeat(keras.ops.matmul, (x, kernel), 3)
    np.testing.assert_allclose(loop(), 3 * (x @ kernel), rtol=1e-5)


def test_interleaved_alternates_and_reports_per_unit():
    order = []

    def make(name, seconds):
        def fn():
            order.append(name)
            time.sleep(seconds)

        return fn

    result = sk.timing.interleaved(
        {"a": make("a", 0.01), "b": make("b", 0.0)}, rounds=4, per_call=2
    )
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert result["a"]["rounds"] == 4
    assert 0.005 <= result["a"]["min"] <= result["a"]["median"] < 0.05
    assert result["b"]["min"] < result["a"]["min"]


def test_seconds_per_call_grows_with_the_work():
    small = np.ones((8, 64), "float32")
    large = np.ones((8, 1024), "float32")
    matmul = keras.ops.matmul
    t_small = sk.timing.seconds_per_call(matmul, (small, np.ones((64, 64), "float32")))
    t_large = sk.timing.seconds_per_call(
        matmul, (large, np.ones((1024, 1024), "float32"))
    )
    assert 0 < t_small < t_large < 1.0  # 256x the multiply-adds


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sk.timing.compiled_repeat(3, (1.0,), 2), r"`fn`.*callable"),
        (lambda: sk.timing.compiled_repeat(abs, (), 2), r"`args`.*non-empty tuple"),
        (
            lambda: sk.timing.compiled_repeat(abs, (np.ones(2, "int32"),), 2),
            r"`args`.*floating",
        ),
        (lambda: sk.timing.compiled_repeat(abs, (1.0,), 0), r"`repeats`.*>= 1"),
        (lambda: sk.timing.interleaved({}, 2), r"`functions`.*non-empty"),
        (lambda: sk.timing.interleaved({"a": 1}, 2), r"`functions\['a'\]`"),
        (lambda: sk.timing.seconds_per_call(abs, (1.0,), round_s=0), r"`round_s`"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
