"""sk.sae.SparseAutoencoder: its maths, its training, and Keras' contracts."""

import json

import keras
import numpy as np
import pytest

import sparsekit as sk

N_LATENTS = 48


def _data(n=512, seed=0):
    return sk.datasets.superposition(32, 12, 0.05, n, seed=seed)


def _sae(activation="topk", **kwargs):
    if activation in ("topk", "batchtopk"):
        kwargs.setdefault("k", 4)
    kwargs.setdefault("seed", 0)
    return sk.sae.SparseAutoencoder(N_LATENTS, activation, **kwargs)


def _fit(sae, x, epochs=2, lr=3e-3, batch_size=64, shuffle=True):
    sae.compile(keras.optimizers.Adam(lr))
    return sae.fit(x, epochs=epochs, batch_size=batch_size, shuffle=shuffle, verbose=0)


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _gradients(sae, x):
    """Gradients of the training loss with respect to the trainable variables."""
    sae.compile(keras.optimizers.SGD(0.0))
    sae(x[:2])
    x = keras.ops.convert_to_tensor(x)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = sae.compute_loss(x, None, sae(x, training=True))
        grads = tape.gradient(loss, sae.trainable_variables)
    else:
        import jax

        def loss(trainable):
            return sae.compute_loss_and_updates(
                trainable,
                [v.value for v in sae.non_trainable_variables],
                [v.value for v in sae.metrics_variables],
                x,
                None,
                None,
                training=True,
                optimizer_variables=[v.value for v in sae.optimizer.variables],
            )[0]

        grads = jax.grad(loss)([v.value for v in sae.trainable_variables])
    return {
        v.name: _numpy(g) for v, g in zip(sae.trainable_variables, grads, strict=True)
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_latents": 0, "k": 1}, "n_latents"),
        ({"n_latents": 8, "k": 9}, "`k`"),
        ({"n_latents": 8, "k": None}, "`k`"),
        ({"n_latents": 8, "activation": "gelu", "k": 2}, "activation"),
        ({"n_latents": 8, "activation": "relu", "k": 2}, "`k`"),
        ({"n_latents": 8, "activation": "relu", "sparsity_coef": -1.0}, "sparsity"),
        ({"n_latents": 8, "k": 2, "sparsity_coef": 1e-3}, "sparsity_coef"),
        ({"n_latents": 8, "k": 2, "aux_k": 9}, "aux_k"),
        ({"n_latents": 8, "k": 2, "aux_coef": -0.1}, "aux_coef"),
        ({"n_latents": 8, "k": 2, "dead_after": 0}, "dead_after"),
        ({"n_latents": 8, "activation": "jumprelu", "bandwidth": 0.0}, "bandwidth"),
        ({"n_latents": 8, "k": 2, "normalize_decoder": 1}, "normalize_decoder"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sk.sae.SparseAutoencoder(**kwargs)


def test_bad_inputs_name_the_argument():
    sae = _sae()
    x = _data().x
    with pytest.raises(ValueError, match="needs a built model"):
        sae.encode(x)
    sae.adapt(x)
    with pytest.raises(ValueError, match="`x`.*2-D"):
        sae.encode(x[0])
    with pytest.raises(ValueError, match="`x`.*width 12"):
        sae.encode(x[:, :5])
    with pytest.raises(ValueError, match="`codes`"):
        sae.decode(np.zeros((2, N_LATENTS + 1), "float32"))
    sae.compile(keras.optimizers.Adam())
    with pytest.raises(ValueError, match="without targets"):
        sae.fit(x, x, epochs=1, verbose=0)


def test_topk_codes_are_non_negative_with_at_most_k_active():
    sae = _sae(k=5)
    x = _data().x
    sae.adapt(x)
    codes = _numpy(sae.encode(x))
    assert codes.shape == (len(x), N_LATENTS)
    assert codes.min() >= 0
    assert ((codes > 0).sum(axis=1) <= 5).all()
    pre = (x - _numpy(sae.pre_bias)) @ _numpy(sae.encoder_kernel)
    kth = np.sort(pre, axis=1)[:, -5][:, None]
    np.testing.assert_allclose(
        codes, np.where(pre >= kth, np.maximum(pre, 0), 0), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(_numpy(sae.encoder_kernel), sae.dictionary.T, rtol=1e-6)


def test_batchtopk_shares_k_per_sample_over_the_batch_and_infers_per_sample():
    sae = _sae("batchtopk", k=3)
    x = _data().x
    history = _fit(sae, x, epochs=2)
    assert history.history["l0"][-1] == pytest.approx(3.0, abs=0.05)
    codes = _numpy(sae.encode(x))
    per_sample = (codes > 0).sum(axis=1)
    assert per_sample.std() > 0  # samples do not all get exactly k
    assert abs(per_sample.mean() - 3.0) < 1.5  # the running threshold keeps L0 near k
    np.testing.assert_allclose(_numpy(sae.encode(x[:1])), codes[:1], atol=1e-6)


def test_jumprelu_pseudo_gradient_of_the_threshold():
    theta = keras.ops.convert_to_tensor(np.array([0.5, 0.5, 0.5], "float32"))
    pre = keras.ops.convert_to_tensor(np.array([[0.4999, 0.8, 0.1]], "float32"))
    codes, step = sk.sae.activations.jumprelu(pre, theta, 0.01)
    np.testing.assert_allclose(_numpy(codes), [[0.0, 0.8, 0.0]])
    np.testing.assert_allclose(_numpy(step), [[0.0, 1.0, 0.0]])

    def grads(fn, t):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            t = tf.Variable(t)
            with tf.GradientTape() as tape:
                value = fn(t)
            return _numpy(tape.gradient(value, t))
        import jax

        return np.asarray(jax.grad(fn)(t))

    d_code = grads(
        lambda t: keras.ops.sum(sk.sae.activations.jumprelu(pre, t, 0.01)[0]), theta
    )
    d_step = grads(
        lambda t: keras.ops.sum(sk.sae.activations.jumprelu(pre, t, 0.01)[1]), theta
    )
    # Only the first unit lies within half a bandwidth of its threshold.
    np.testing.assert_allclose(d_code, [-0.5 / 0.01, 0.0, 0.0], rtol=1e-5)
    np.testing.assert_allclose(d_step, [-1 / 0.01, 0.0, 0.0], rtol=1e-5)


def test_decoder_stays_unit_norm_and_gets_no_radial_gradient():
    sae = _sae()
    x = _data().x
    grads = _gradients(sae, x[:64])
    kernel = _numpy(sae.decoder_kernel)
    radial = np.sum(grads["decoder_kernel"] * kernel, axis=1)
    assert np.abs(radial).max() < 1e-5 * np.abs(grads["decoder_kernel"]).max() + 1e-7
    _fit(sae, x)
    np.testing.assert_allclose(np.linalg.norm(sae.dictionary, axis=1), 1, rtol=1e-5)
    assert sae.dictionary.shape == (N_LATENTS, 12)


def test_free_decoder_with_norm_weighted_l1():
    sae = _sae("relu", normalize_decoder=False, sparsity_coef=1e-2)
    x = _data().x
    sae(x[:2])
    sae.decoder_kernel.assign(2 * sae.decoder_kernel)
    grads = _gradients(sae, x[:64])
    # The L1 term's gradient grows with the atoms' norms, so it reaches the decoder.
    assert np.abs(np.sum(grads["decoder_kernel"] * _numpy(sae.decoder_kernel))).sum()
    np.testing.assert_allclose(np.linalg.norm(sae.dictionary, axis=1), 2, rtol=1e-5)


def test_auxk_gives_dead_latents_a_gradient():
    x = _data().x[:64]
    for aux_k, expect_gradient in ((None, False), (8, True)):
        sae = _sae(k=2, aux_k=aux_k, dead_after=1)
        sae(x[:2])
        dead = np.zeros(N_LATENTS, "float32")
        dead[N_LATENTS // 2 :] = 1e6  # the second half has not fired for long
        sae.samples_since_fired.assign(dead)
        grads = _gradients(sae, x)
        codes = _numpy(sae.encode(x))
        silent = (codes == 0).all(axis=0) & (dead > 0)
        assert silent.any()
        reached = np.abs(grads["encoder_kernel"][:, silent]).sum() > 0
        assert reached == expect_gradient, aux_k


def test_dead_latents_are_counted_in_samples():
    sae = _sae(k=1, dead_after=100)
    x = _data(n=256).x
    _fit(sae, x, epochs=1, batch_size=64)
    counts = _numpy(sae.samples_since_fired)
    assert set(np.unique(counts)) <= {0.0, 64.0, 128.0, 192.0, 256.0}
    np.testing.assert_array_equal(sae.dead_latents(), counts >= 100)


def test_fit_reports_metrics_and_recovers_superposed_features():
    data = sk.datasets.superposition(32, 16, 0.05, 4096, seed=1)
    sae = sk.sae.SparseAutoencoder(64, "topk", k=4, seed=0)
    sae.adapt(data.x)
    history = _fit(sae, data.x, epochs=10, lr=1e-2)
    assert set(history.history) == {"loss", "fvu", "l0", "dead_fraction"}
    assert history.history["fvu"][-1] < 0.5 * history.history["fvu"][0]
    assert history.history["l0"][-1] <= 4
    x_hat = _numpy(sae(data.x))
    fvu = sk.metrics.fraction_variance_unexplained(data.x, x_hat)
    assert fvu == pytest.approx(_numpy(sae.evaluate(data.x, verbose=0)[1]), rel=0.2)
    assert sk.metrics.feature_recovery(sae.dictionary, data.directions, 0.9) > 0.8


@pytest.mark.parametrize("activation", ["topk", "batchtopk", "jumprelu", "relu"])
def test_config_round_trip_and_keras_file(activation, tmp_path):
    sae = _sae(activation, aux_k=4 if activation == "topk" else None)
    x = _data().x
    sae.adapt(x)
    _fit(sae, x, epochs=1)
    config = sae.get_config()
    json.dumps(config)
    clone = sk.sae.SparseAutoencoder.from_config(config)
    assert clone.get_config() == config
    path = tmp_path / "sae.keras"
    sae.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is sk.sae.SparseAutoencoder
    np.testing.assert_allclose(
        _numpy(loaded.encode(x)), _numpy(sae.encode(x)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(loaded.dictionary, sae.dictionary, rtol=1e-6)
    # Training goes on from the loaded state.
    assert np.isfinite(loaded.fit(x, epochs=1, verbose=0).history["loss"][0])


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    sae = _sae("jumprelu", initial_threshold=0.05)
    x = _data().x
    history = _fit(sae, x, epochs=1)
    assert np.isfinite(history.history["loss"][0])
    assert keras.backend.standardize_dtype(sae.encode(x).dtype) == "bfloat16"
    assert all(w.dtype == "float32" for w in sae.weights)


def test_two_replicas():
    x = _data().x
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(
            ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
        with strategy.scope():
            sae = _sae(aux_k=4, dead_after=64).adapt(x)
            history = _fit(sae, x, epochs=2, shuffle=False)
    else:
        import jax

        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=jax.devices("cpu")[:2])
        )
        sae = _sae(aux_k=4, dead_after=64).adapt(x)
        history = _fit(sae, x, epochs=2, shuffle=False)
        keras.distribution.set_distribution(None)
    single = _sae(aux_k=4, dead_after=64).adapt(x)
    reference = _fit(single, x, epochs=2, shuffle=False)
    # Reconstruction, L0 and the dead counters add up exactly across replicas;
    # the AuxK term is normalised by each slice's residual spread, like Gao et
    # al.'s, so the total loss agrees only closely.
    for key in ("fvu", "l0", "dead_fraction"):
        np.testing.assert_allclose(
            history.history[key], reference.history[key], rtol=1e-3, atol=1e-4
        )
    np.testing.assert_allclose(
        history.history["loss"], reference.history["loss"], rtol=0.02
    )


def test_geometric_median_resists_outliers():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(101, 3))
    points[:10] += 1000.0  # a tenth of the data far away
    median = sk.sae.geometric_median(points)
    assert np.linalg.norm(median) < 0.5
    assert np.linalg.norm(points.mean(axis=0)) > 90
    sae = _sae().adapt(points.astype("float32"))
    np.testing.assert_allclose(_numpy(sae.pre_bias), median, rtol=1e-4, atol=1e-5)


def test_seeded_init_differs_from_other_seeded_draws():
    data = sk.datasets.superposition(N_LATENTS, 12, 0.05, 8, seed=0)
    sae = _sae(seed=0)
    sae(data.x[:2])
    best = sk.metrics.feature_recovery(
        sae.dictionary, data.directions, return_similarity=True
    )
    assert best.max() < 0.99  # not the same generator's draws as the dataset's
    again = _sae(seed=0)
    again(data.x[:2])
    np.testing.assert_array_equal(again.dictionary, sae.dictionary)


def test_untied_init_draws_the_encoder_independently():
    x = _data().x
    tied, untied = _sae(), _sae(tied_init=False)
    tied(x[:2])
    untied(x[:2])
    np.testing.assert_allclose(untied.dictionary, tied.dictionary)
    assert not np.allclose(_numpy(untied.encoder_kernel), untied.dictionary.T)
    assert untied.get_config()["tied_init"] is False
