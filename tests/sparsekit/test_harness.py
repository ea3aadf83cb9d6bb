"""Every public layer and regulariser through the shared harness."""

import keras
import numpy as np

import sparsekit as sk
from tests.harness import Case, LayerHarness, regularizer_case


def _digits_like(n):
    """Non-negative, skewed inputs, like pixel intensities."""
    rng = np.random.default_rng(0)
    return rng.gamma(0.5, size=(n, 16)).astype("float32")


class TestLayers(LayerHarness):
    cases = [
        Case("TopK", lambda: sk.layers.TopK(k=4), (16,)),
        Case("TopK-image", lambda: sk.layers.TopK(k=3), (4, 4, 2)),
        Case(
            "KWinners",
            lambda: sk.layers.KWinners(k=4, boost_strength=1.5, duty_cycle_period=100),
            (16,),
            data=_digits_like,
        ),
        Case(
            "SparseDense", lambda: sk.layers.SparseDense(12, density=0.3, seed=1), (10,)
        ),
        Case("LISTA", lambda: sk.layers.LISTA(units=12, n_layers=3, lam=0.1), (10,)),
        Case("TopKDense", lambda: sk.layers.TopKDense(12, k=4), (16,)),
        Case(
            "TopKDense-sparse",
            lambda: sk.layers.TopKDense(12, k=4, compute="sparse"),
            (16,),
        ),
        Case(
            "DropConnectDense", lambda: sk.dropout.DropConnectDense(12, rate=0.3), (10,)
        ),
        Case(
            "TargetedActivationDropout",
            lambda: sk.dropout.TargetedActivationDropout(rate=0.5, target_rate=0.5),
            (16,),
        ),
        Case(
            "TargetedDropoutDense-weight",
            lambda: sk.dropout.TargetedDropoutDense(12, rate=0.5, target_rate=0.5),
            (10,),
        ),
        Case(
            "TargetedDropoutDense-unit",
            lambda: sk.dropout.TargetedDropoutDense(
                12, rate=0.5, target_rate=0.25, variant="unit", seed=0
            ),
            (10,),
        ),
    ]


class TestRegularizers(LayerHarness):
    cases = [
        regularizer_case(
            "KLSparsity", lambda: sk.regularizers.KLSparsity(rho=0.05, beta=3.0)
        ),
        regularizer_case("Hoyer", lambda: sk.regularizers.Hoyer(strength=1e-2)),
        regularizer_case(
            "HoyerSquare", lambda: sk.regularizers.HoyerSquare(strength=1e-2)
        ),
        regularizer_case(
            "GroupLasso-kernel",
            lambda: sk.regularizers.GroupLasso(strength=1e-2),
            on="kernel",
        ),
    ]


def test_every_public_layer_and_regularizer_is_in_the_harness():
    tested = set()
    for case in TestLayers.cases + TestRegularizers.cases:
        layer = case.make()
        layer.build((None, *case.input_shape))
        tested.add(type(case.target(layer)))
    public = [
        getattr(module, name)
        for module in (sk.layers, sk.regularizers, sk.dropout)
        for name in module.__all__
    ]
    missing = [cls.__name__ for cls in public if cls not in tested]
    assert not missing, f"not covered by the harness: {missing}"


def test_regularizers_add_a_loss():
    for case in TestRegularizers.cases:
        layer = case.make()
        x = keras.ops.convert_to_tensor(np.ones((4, *case.input_shape), "float32"))
        model = keras.Sequential([keras.Input(case.input_shape), layer])
        model(x)
        assert len(model.losses) == 1, case.id
