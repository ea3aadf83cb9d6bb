"""KLSparsity, Hoyer, HoyerSquare and GroupLasso against numpy references."""

import re

import keras
import numpy as np
import pytest

import sparsekit as sk

EPS = 1e-7


def _grad(fn, x):
    """Gradient of the scalar `fn(x)` at the numpy array `x`, on either backend."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = fn(xt)
        return tape.gradient(y, xt).numpy()
    import jax

    return np.asarray(jax.grad(fn)(jax.numpy.asarray(x)))


def _value(tensor):
    return float(keras.ops.convert_to_numpy(tensor))


def _invalid(name, received):
    return re.escape(f"`{name}`") + ".*" + re.escape(f"Received: {name}={received!r}")


def _loss_added_by(regularizer, x, on="activity"):
    """The loss a layer adds: for activity, after Keras divides by the batch size."""
    x = keras.ops.convert_to_tensor(x)
    if on == "activity":
        layer = keras.layers.Identity(activity_regularizer=regularizer)
        layer(x)
    else:
        layer = keras.layers.Dense(
            x.shape[-1], use_bias=False, kernel_regularizer=regularizer
        )
        layer.build((None, x.shape[0]))
        layer.kernel.assign(x)
    assert len(layer.losses) == 1
    return _value(layer.losses[0])


def _sigmoid_data(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (1 / (1 + np.exp(-rng.normal(-1.5, 1.0, size=shape)))).astype("float32")


# KLSparsity ----------------------------------------------------------------------


def kl_reference(x, rho, beta):
    """UFLDL: beta * sum_j KL(rho || rho_hat_j), times n (Keras divides by n)."""
    x = np.asarray(x, np.float64)
    rho_hat = x.reshape(-1, x.shape[-1]).mean(axis=0)
    # Clip in float32 like the layer: 1 - 1e-7 rounds to 1 - 1.19e-7 there.
    eps = np.float32(EPS)
    rho_hat = np.clip(rho_hat.astype(np.float32), eps, np.float32(1) - eps)
    rho_hat = rho_hat.astype(np.float64)
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    return len(x) * beta * kl.sum()


def test_kl_sparsity_matches_numpy():
    for shape, rho, beta in [((32, 6), 0.05, 3.0), ((4, 3, 3, 5), 0.3, 0.5)]:
        x = _sigmoid_data(shape)
        value = _value(sk.regularizers.KLSparsity(rho=rho, beta=beta)(x))
        np.testing.assert_allclose(value, kl_reference(x, rho, beta), rtol=1e-5)


def test_kl_sparsity_is_zero_when_mean_activation_equals_rho():
    rng = np.random.default_rng(1)
    # Each column has mean exactly 0.2 but the values vary.
    noise = rng.uniform(-0.1, 0.1, size=(8, 4))
    x = (0.2 + noise - noise.mean(axis=0)).astype("float32")
    value = _value(sk.regularizers.KLSparsity(rho=0.2, beta=3.0)(x))
    assert abs(value) < 1e-5
    assert _value(sk.regularizers.KLSparsity(rho=0.2)(x + 0.1)) > 0.1


def test_kl_sparsity_loss_in_layer_is_the_ufldl_penalty_for_any_batch_size():
    x = _sigmoid_data((16, 5))
    reg = sk.regularizers.KLSparsity(rho=0.05, beta=3.0)
    expected = kl_reference(x, 0.05, 3.0) / len(x)
    np.testing.assert_allclose(_loss_added_by(reg, x), expected, rtol=1e-5)
    # The same rows twice: the same mean activations, so the same penalty.
    np.testing.assert_allclose(
        _loss_added_by(reg, np.concatenate([x, x])), expected, rtol=1e-5
    )


def test_kl_sparsity_gradient_pushes_mean_activation_towards_rho():
    rho, beta = 0.1, 3.0
    reg = sk.regularizers.KLSparsity(rho=rho, beta=beta)
    x = np.array([[0.5, 0.02], [0.3, 0.06], [0.4, 0.01]], "float32")
    grad = _grad(lambda t: reg(t) / t.shape[0], x)
    # UFLDL's backprop term beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)),
    # spread over the n samples of the mean (times n, divided by n here).
    rho_hat = x.mean(axis=0)
    expected = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)) / len(x)
    np.testing.assert_allclose(grad, np.broadcast_to(expected, x.shape), rtol=1e-4)
    assert np.all(grad[:, 0] > 0)  # mean 0.4 > rho: descent lowers activations
    assert np.all(grad[:, 1] < 0)  # mean 0.03 < rho: descent raises them


def test_kl_sparsity_is_finite_for_saturated_units():
    x = np.array([[0.0, 1.0, 3.0], [0.0, 1.0, 2.0]], "float32")
    reg = sk.regularizers.KLSparsity(rho=0.05, beta=1.0)
    value = _value(reg(x))
    np.testing.assert_allclose(value, kl_reference(x, 0.05, 1.0), rtol=1e-4)
    assert np.all(np.isfinite(_grad(reg, x)))


def test_kl_sparsity_rejects_bad_arguments():
    for rho in [0, 1, -0.1, 1.5, float("nan"), "0.1"]:
        with pytest.raises(ValueError, match=_invalid("rho", rho)):
            sk.regularizers.KLSparsity(rho=rho)
    for beta in [-1.0, float("inf"), None]:
        with pytest.raises(ValueError, match=_invalid("beta", beta)):
            sk.regularizers.KLSparsity(beta=beta)


# Hoyer and HoyerSquare ------------------------------------------------------------


def hoyer_reference(x, axes, squared):
    """Sum over slices of ||x||_1 / ||x||_2 (squared: of its square), 0 for 0."""
    x = np.asarray(x, np.float64)
    l1 = np.abs(x).sum(axis=axes)
    l2 = np.sqrt((x**2).sum(axis=axes))
    ratio = np.divide(l1, l2, out=np.zeros_like(l1), where=l2 > 0)
    return float(np.sum(ratio**2 if squared else ratio))


HOYERS = [(sk.regularizers.Hoyer, False), (sk.regularizers.HoyerSquare, True)]


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_matches_numpy(cls, squared):
    cases = [
        ((6, 10), "sample", (1,)),
        ((3, 4, 4, 2), "sample", (1, 2, 3)),
        ((6, 10), None, None),
        ((3, 4, 5), -1, (2,)),
        ((3, 4, 5), (0, 2), (0, 2)),
    ]
    for shape, axis, axes in cases:
        x = np.random.default_rng(2).normal(size=shape).astype("float32")
        value = _value(cls(strength=0.3, axis=axis)(x))
        expected = 0.3 * hoyer_reference(x, axes, squared)
        np.testing.assert_allclose(value, expected, rtol=1e-5, err_msg=str(axis))


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_is_scale_invariant(cls, squared):
    x = np.random.default_rng(3).normal(size=(5, 12)).astype("float32")
    for axis in ("sample", None):
        reg = cls(strength=1.0, axis=axis)
        for scale in (1e-3, 7.0, -2.0):
            np.testing.assert_allclose(
                _value(reg(x * np.float32(scale))), _value(reg(x)), rtol=1e-5
            )


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_range_from_one_hot_to_flat(cls, squared):
    n = 9
    one_hot = np.eye(n, dtype="float32")[:4] * 5
    flat = np.full((4, n), -0.5, "float32")
    reg = cls(strength=1.0)
    np.testing.assert_allclose(_value(reg(one_hot)), 4 * 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        _value(reg(flat)), 4 * (n if squared else np.sqrt(n)), rtol=1e-6
    )


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_is_safe_at_zero(cls, squared):
    x = np.zeros((3, 6), "float32")
    x[1] = [0.0, 1.0, -2.0, 0.0, 0.5, 0.0]  # one live sample among dead ones
    reg = cls(strength=1.0)
    np.testing.assert_allclose(
        _value(reg(x)), hoyer_reference(x, (1,), squared), rtol=1e-6
    )
    grad = _grad(reg, x)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[[0, 2]], 0.0)
    zero = np.zeros((4, 5), "float32")
    assert _value(cls(strength=1.0, axis=None)(zero)) == 0.0
    assert np.all(_grad(cls(strength=1.0, axis=None), zero) == 0.0)


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_activity_loss_is_the_mean_over_samples(cls, squared):
    x = np.abs(np.random.default_rng(4).normal(size=(8, 7))).astype("float32")
    expected = 0.5 * hoyer_reference(x, (1,), squared) / len(x)
    np.testing.assert_allclose(
        _loss_added_by(cls(strength=0.5), x), expected, rtol=1e-5
    )


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_gradient_favours_sparser_vectors(cls, squared):
    x = np.array([[3.0, 0.5, 0.2, -0.1]], "float32")
    grad = _grad(cls(strength=1.0), x)
    # Descent shrinks the small entries relative to the large one.
    assert grad[0, 0] * x[0, 0] < 0
    assert np.all(grad[0, 1:] * x[0, 1:] > 0)


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_config_keeps_axis(cls, squared):
    reg = cls(strength=0.1, axis=(1, 2))
    config = reg.get_config()
    assert config == {"strength": 0.1, "axis": [1, 2]}
    assert cls.from_config(config).get_config() == config


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_rejects_bad_arguments(cls, squared):
    for strength in [-0.1, float("nan"), "1"]:
        with pytest.raises(ValueError, match=_invalid("strength", strength)):
            cls(strength=strength)
    for axis in ["samples", 1.5, True, [0, 0], [], [1, "a"]]:
        with pytest.raises(ValueError, match=_invalid("axis", axis)):
            cls(strength=0.1, axis=axis)


@pytest.mark.parametrize(("cls", "squared"), HOYERS)
def test_hoyer_rejects_axis_outside_the_tensor(cls, squared):
    x = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match=_invalid("axis", 2)):
        cls(strength=0.1, axis=2)(x)
    with pytest.raises(ValueError, match=_invalid("axis", (-1, 1))):
        cls(strength=0.1, axis=(-1, 1))(x)
    with pytest.raises(ValueError, match=_invalid("axis", "sample")):
        cls(strength=0.1)(np.ones((3,), "float32"))


# GroupLasso ---------------------------------------------------------------------


def group_lasso_reference(w, norm_axes):
    """sum_g sqrt(p_g) * ||W_g||_2 with the norm over `norm_axes`."""
    w = np.asarray(w, np.float64)
    size = int(np.prod([w.shape[a] for a in norm_axes]))
    return float(np.sqrt(size) * np.sqrt((w**2).sum(axis=norm_axes)).sum())


def test_group_lasso_matches_numpy():
    cases = [
        ((10, 12), -1, (0,)),  # Dense: one group per output unit (column)
        ((3, 3, 4, 8), -1, (0, 1, 2)),  # Conv2D: one group per filter
        ((10, 12), 0, (1,)),  # Dense: one group per input feature
        ((3, 3, 4, 8), (-2, -1), (0, 1)),  # Conv2D: one group per 3x3 slice
        ((10, 12), None, (0, 1)),  # the whole kernel is one group
    ]
    for shape, axis, norm_axes in cases:
        w = np.random.default_rng(5).normal(size=shape).astype("float32")
        value = _value(sk.regularizers.GroupLasso(strength=0.2, axis=axis)(w))
        expected = 0.2 * group_lasso_reference(w, norm_axes)
        np.testing.assert_allclose(value, expected, rtol=1e-5, err_msg=str(axis))


def test_group_lasso_default_groups_are_dense_columns():
    w = np.random.default_rng(6).normal(size=(10, 4)).astype("float32")
    expected = 0.01 * sum(np.sqrt(10) * np.linalg.norm(w[:, j]) for j in range(4))
    np.testing.assert_allclose(
        _loss_added_by(sk.regularizers.GroupLasso(), w, on="kernel"),
        expected,
        rtol=1e-5,
    )


def test_group_lasso_zero_group_is_safe_and_gradient_is_unit_direction():
    w = np.random.default_rng(7).normal(size=(6, 3)).astype("float32")
    w[:, 1] = 0.0
    reg = sk.regularizers.GroupLasso(strength=1.0)
    np.testing.assert_allclose(
        _value(reg(w)), group_lasso_reference(w, (0,)), rtol=1e-5
    )
    grad = _grad(reg, w)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[:, 1], 0.0)
    # d/dW_g sqrt(p) ||W_g|| = sqrt(p) W_g / ||W_g||: the same pull on every weight
    # of a group, whatever its size, so small groups reach zero together.
    expected = np.sqrt(6) * w / np.maximum(np.linalg.norm(w, axis=0), 1e-30)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def test_group_lasso_config_keeps_axis():
    reg = sk.regularizers.GroupLasso(strength=0.1, axis=[0, 3])
    config = reg.get_config()
    assert config == {"strength": 0.1, "axis": [0, 3]}
    assert sk.regularizers.GroupLasso.from_config(config).get_config() == config


def test_group_lasso_rejects_bad_arguments():
    for strength in [-1e-3, float("inf"), None]:
        with pytest.raises(ValueError, match=_invalid("strength", strength)):
            sk.regularizers.GroupLasso(strength=strength)
    for axis in ["last", 0.5, False, (1, 1), ()]:
        with pytest.raises(ValueError, match=_invalid("axis", axis)):
            sk.regularizers.GroupLasso(strength=0.1, axis=axis)


def test_group_lasso_rejects_axis_outside_the_kernel():
    with pytest.raises(ValueError, match=_invalid("axis", 4)):
        sk.regularizers.GroupLasso(axis=4)(np.ones((3, 3, 2, 2), "float32"))
    with pytest.raises(ValueError, match=_invalid("axis", (0, -2))):
        sk.regularizers.GroupLasso(axis=(0, -2))(np.ones((3, 2), "float32"))
