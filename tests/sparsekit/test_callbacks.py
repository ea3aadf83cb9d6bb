"""SparsityMonitor: records per-layer sparsity during a real (tiny) fit."""

import csv

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

from sparsekit import metrics
from sparsekit.callbacks import SparsityMonitor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 6)).astype("float32")
Y = RNG.normal(size=(48, 3)).astype("float32")


def make_model():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(12, activation="relu", name="hidden"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def layer_output(model, name, x):
    probe = keras.Model(model.inputs[0], model.get_layer(name).output)
    return keras.ops.convert_to_numpy(probe(x)).astype(np.float64)


def treves_rolls(r, axis):
    n = r.shape[axis]
    mean, mean_sq = r.mean(axis), (r**2).mean(axis)
    ratio = np.divide(mean**2, mean_sq, out=np.ones_like(mean), where=mean_sq > 0)
    return (1 - ratio) / (1 - 1 / n)


def test_history_after_three_epochs_matches_metrics_on_final_activations():
    model = make_model()
    hidden = model.get_layer("hidden")
    monitor = SparsityMonitor([hidden, "out"], (X, Y))
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[monitor])

    assert list(monitor.history) == ["hidden", "out"]
    assert monitor.epochs == [0, 1, 2]
    for per_layer in monitor.history.values():
        assert list(per_layer) == [
            "activation_sparsity",
            "hoyer",
            "dead_units",
            "lifetime_sparsity",
            "population_sparsity",
        ]
        assert all(len(values) == 3 for values in per_layer.values())
        assert all(isinstance(v, float) for v in sum(per_layer.values(), []))

    # The last record was taken on the final weights.
    a = np.abs(layer_output(model, "hidden", X))
    n = a.shape[1]
    l1, l2 = a.sum(1), np.sqrt((a**2).sum(1))
    hoyer = np.where(l2 > 0, (np.sqrt(n) - l1 / np.where(l2 > 0, l2, 1)), 0)
    expected = {
        "activation_sparsity": np.mean(a == 0),
        "hoyer": np.mean(hoyer / (np.sqrt(n) - 1)),
        "dead_units": np.mean(np.all(a == 0, axis=0)),
        "lifetime_sparsity": np.mean(treves_rolls(a, 0)),
        "population_sparsity": np.mean(treves_rolls(a, 1)),
    }
    for metric, value in expected.items():
        assert monitor.history["hidden"][metric][-1] == pytest.approx(value, abs=1e-6)
    out = layer_output(model, "out", X)
    assert monitor.history["out"]["hoyer"][-1] == pytest.approx(
        np.mean(metrics.hoyer(out)), abs=1e-6
    )
    # Weights changed during training, so the first record differs from the last.
    assert monitor.history["out"]["hoyer"][0] != monitor.history["out"]["hoyer"][-1]

    fig = monitor.plot()
    assert len(fig.axes) == 5
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), [0, 1, 2])
    plt.close("all")


def test_every_threshold_custom_metrics_and_a_second_fit():
    model = make_model()

    def max_activation(a):
        return float(np.max(a))

    monitor = SparsityMonitor(
        "hidden",
        X[:20],
        metrics=["gini", "l0", "activation_sparsity", max_activation],
        threshold=0.3,
        every=2,
        batch_size=8,
    )
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[monitor])
    assert monitor.epochs == [0, 2]
    history = monitor.history["hidden"]
    assert list(history) == ["gini", "l0", "activation_sparsity", "max_activation"]
    assert all(len(values) == 2 for values in history.values())

    a = layer_output(model, "hidden", X[:20])
    assert history["activation_sparsity"][-1] == pytest.approx(np.mean(a <= 0.3))
    assert history["l0"][-1] == pytest.approx(np.mean((a != 0).sum(1)))
    assert history["max_activation"][-1] == pytest.approx(a.max(), rel=1e-6)
    assert history["gini"][-1] == pytest.approx(np.mean(metrics.gini(a)), abs=1e-6)

    # A second fit on the same model continues the history.
    model.fit(X, Y, epochs=5, initial_epoch=3, verbose=0, callbacks=[monitor])
    assert monitor.epochs == [0, 2, 4]
    assert len(history["gini"]) == 3


def read_csv_log(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_values_go_into_the_epoch_logs_for_history_and_csv_logger(tmp_path):
    model = make_model()
    monitor = SparsityMonitor(["hidden", "out"], X, metrics=["hoyer", "dead_units"])
    logger = keras.callbacks.CSVLogger(tmp_path / "log.csv")
    fitted = model.fit(
        X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[monitor, logger]
    )
    keys = ["hidden/hoyer", "hidden/dead_units", "out/hoyer", "out/dead_units"]
    rows = read_csv_log(tmp_path / "log.csv")
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert set(keys) <= set(rows[0])
    for key in keys:
        layer, metric = key.split("/")
        recorded = monitor.history[layer][metric]
        assert fitted.history[key] == recorded  # keras.callbacks.History
        assert [float(row[key]) for row in rows] == pytest.approx(recorded)
    assert [float(row["loss"]) for row in rows] == pytest.approx(
        fitted.history["loss"], rel=1e-6
    )
    assert fitted.history["out/hoyer"][0] != fitted.history["out/hoyer"][-1]


def test_epochs_skipped_by_every_have_no_log_entries(tmp_path):
    model = make_model()
    monitor = SparsityMonitor("hidden", X, metrics=["l0"], every=2)
    logger = keras.callbacks.CSVLogger(tmp_path / "log.csv")
    fitted = model.fit(
        X, Y, epochs=4, batch_size=16, verbose=0, callbacks=[monitor, logger]
    )
    values = [row["hidden/l0"] for row in read_csv_log(tmp_path / "log.csv")]
    assert values[1] == values[3] == "NA"
    assert [float(v) for v in values[::2]] == pytest.approx(
        monitor.history["hidden"]["l0"]
    )
    assert fitted.history["hidden/l0"] == monitor.history["hidden"]["l0"]
    assert len(fitted.history["loss"]) == 4


def test_record_returns_the_values_it_appended():
    model = make_model()
    monitor = SparsityMonitor("hidden", X, metrics=["gini", "l0"])
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[monitor])
    values = monitor.record(7)
    assert monitor.epochs == [0, 7]
    assert values == {
        "hidden/gini": monitor.history["hidden"]["gini"][-1],
        "hidden/l0": monitor.history["hidden"]["l0"][-1],
    }


def test_unknown_layer_name_or_foreign_layer_is_rejected_at_train_begin():
    model = make_model()
    monitor = SparsityMonitor(["hidden", "nope"], X)
    with pytest.raises(ValueError, match=r"`layers`.*'hidden', 'out'.*layers='nope'"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[monitor])
    foreign = keras.layers.Dense(2, name="elsewhere")
    monitor = SparsityMonitor(foreign, X)
    with pytest.raises(ValueError, match=r"`layers`.*layers='elsewhere'"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[monitor])


def test_subclassed_model_gets_a_clear_error():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(4, name="sub_hidden")

        def call(self, x):
            return self.hidden(x)

    model = Net()
    model.compile(optimizer="sgd", loss="mse")
    monitor = SparsityMonitor("sub_hidden", X)
    with pytest.raises(ValueError, match="Functional or Sequential"):
        model.fit(X, Y[:, :1].repeat(4, 1), epochs=1, verbose=0, callbacks=[monitor])


def test_invalid_arguments_name_the_argument_and_value():
    cases = [
        (lambda: SparsityMonitor([], X), r"`layers`.*layers=\[\]"),
        (lambda: SparsityMonitor(3, X), r"`layers`.*layers=3"),
        (lambda: SparsityMonitor(["a", 2], X), r"`layers`.*\['a', 2\]"),
        (lambda: SparsityMonitor("a", None), r"`data`.*data=None"),
        (lambda: SparsityMonitor("a", X, metrics=["nope"]), r"`metrics`.*'nope'"),
        (lambda: SparsityMonitor("a", X, metrics="hoyer"), r"`metrics`.*'hoyer'"),
        (lambda: SparsityMonitor("a", X, metrics=[]), r"`metrics`.*metrics=\[\]"),
        (lambda: SparsityMonitor("a", X, threshold=-1.0), r"`threshold`.*=-1\.0"),
        (lambda: SparsityMonitor("a", X, every=0), r"`every`.*every=0"),
        (lambda: SparsityMonitor("a", X, every=1.5), r"`every`.*every=1\.5"),
        (lambda: SparsityMonitor("a", X, batch_size=0), r"`batch_size`.*=0"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()


def test_functional_model_with_named_inputs():
    a, b = keras.Input((2,), name="a"), keras.Input((4,), name="b")
    joined = keras.layers.Concatenate(name="joined")([a, b])
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(joined)
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(3)(hidden))
    model.compile(optimizer="sgd", loss="mse")
    data = {"a": X[:, :2], "b": X[:, 2:]}
    monitor = SparsityMonitor(["joined", "hidden"], (data, Y), metrics=["l0"])
    model.fit(data, Y, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.history["joined"]["l0"] == [pytest.approx(6.0)]
    assert len(monitor.history["hidden"]["l0"]) == 1
