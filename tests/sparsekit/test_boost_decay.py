"""BoostDecay: the KWinners boost strength shrinks per epoch, inside a compiled fit."""

import keras
import numpy as np
import pytest

from sparsekit.boost_decay import BoostDecay
from sparsekit.layers import KWinners

# Units 0 and 1 always have the largest values; the others are close behind.
X = np.tile(np.array([[3.0, 3.0] + [1.0] * 8], "float32"), (64, 1))
Y = np.zeros((64, 1), "float32")


def make_model(winners):
    model = keras.Sequential([keras.Input((10,)), winners, keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.0), "mse")  # weights stay put
    return model


def test_strength_after_each_epoch_is_initial_times_factor_power():
    winners = KWinners(2, boost_strength=2.0)
    model = make_model(winners)
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[BoostDecay(0.9)])
    assert winners.boost_strength == pytest.approx(2.0 * 0.9**3)
    assert winners.get_config()["boost_strength"] == pytest.approx(2.0 * 0.9**3)
    assert "boost" not in vars(winners)  # the class's method is back


def duty_cycle_after(epochs, callbacks):
    winners = KWinners(2, boost_strength=50.0, duty_cycle_period=16)
    model = make_model(winners)
    model.fit(X, Y, epochs=epochs, batch_size=16, verbose=0, callbacks=callbacks)
    return keras.ops.convert_to_numpy(winners.duty_cycle)


def test_the_compiled_training_step_sees_the_decayed_strength():
    # A strong boost makes the always-largest units 0 and 1 lose: others win.
    boosted = duty_cycle_after(2, [])
    assert boosted[:2].max() < 0.6
    # Decayed to 0 after the first epoch, epoch 2 is a plain top-k: 0 and 1 win
    # every sample, and the 16-sample duty cycle says so.
    decayed = duty_cycle_after(2, [BoostDecay(0.0)])
    np.testing.assert_allclose(decayed[:2], 1.0, atol=1e-6)
    np.testing.assert_allclose(decayed[2:], 0.0, atol=1e-6)


def test_a_second_fit_continues_from_the_decayed_strength():
    winners = KWinners(2, boost_strength=1.0)
    model = make_model(winners)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[BoostDecay(0.5)])
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[BoostDecay(0.5)])
    assert winners.boost_strength == pytest.approx(0.125)
    model.fit(X, Y, epochs=1, verbose=0)  # no callback: the float, unchanged
    assert winners.boost_strength == pytest.approx(0.125)


def test_only_the_chosen_layers_decay_and_nested_models_are_found():
    first, second = KWinners(2, boost_strength=1.0), KWinners(2, boost_strength=1.0)
    inner = keras.Sequential([keras.Input((10,)), first])
    model = keras.Sequential([keras.Input((10,)), inner, second, keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.0), "mse")
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[BoostDecay(0.5, layers=[second])])
    assert (first.boost_strength, second.boost_strength) == (1.0, 0.5)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[BoostDecay(0.5)])
    assert (first.boost_strength, second.boost_strength) == (0.5, 0.25)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"factor": 1.5}, "`factor`"),
        ({"factor": -0.1}, "`factor`"),
        ({"factor": 0.9, "layers": []}, "`layers`"),
        ({"factor": 0.9, "layers": [keras.layers.Dense(2)]}, "`layers`"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BoostDecay(**kwargs)
