"""Pruning schedules: when to prune and to which sparsity.

A schedule is called with the optimizer step and returns
`(should_prune, target_sparsity)`. `MagnitudePruning` recomputes its masks only at
steps where `should_prune` is true, so the schedule also sets how often masks move.
"""

from __future__ import annotations

import keras

from sparsekit._validation import check_float, check_int, invalid_argument


class PruningSchedule:
    """Base class of pruning schedules.

    Subclasses implement `sparsity(step)` and `should_prune(step)` on Python ints and
    `get_config()`. Calling the schedule returns both as a tuple.

    Call arguments:
        step: int. The optimizer step (number of updates applied so far).

    Returns:
        A tuple `(should_prune: bool, target_sparsity: float)`.
    """

    def __call__(self, step: int) -> tuple[bool, float]:
        step = _check_step(step)
        return self.should_prune(step), self.sparsity(step)

    def should_prune(self, step: int) -> bool:
        raise NotImplementedError

    def sparsity(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> PruningSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_step(step) -> int:
    try:
        as_int = int(step)
    except (TypeError, ValueError):
        raise invalid_argument("step", "an integer >= 0", step) from None
    if as_int != step or as_int < 0:
        raise invalid_argument("step", "an integer >= 0", step)
    return as_int


def _on_grid(step: int, begin_step: int, end_step: int, frequency: int) -> bool:
    """Every `frequency` steps from `begin_step`, plus `end_step` itself (-1: never
    ends), so the final target is always reached."""
    if step < begin_step or (end_step != -1 and step > end_step):
        return False
    return (step - begin_step) % frequency == 0 or step == end_step


@keras.saving.register_keras_serializable(package="sparsekit")
class PolynomialDecay(PruningSchedule):
    """Gradual pruning schedule of Zhu & Gupta (2017).

    The target sparsity rises from `initial_sparsity` to `final_sparsity` between
    `begin_step` (t0) and `end_step` (t_end), fast at first and slowly at the end:

        s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (t_end - t0)) ** power

    with t clipped to [t0, t_end]. Masks are recomputed every `frequency` steps
    inside [begin_step, end_step] and at `end_step`.

    Args:
        initial_sparsity: float in [0, 1). Sparsity at `begin_step`.
            Defaults to 0.
        final_sparsity: float in [initial_sparsity, 1). Sparsity from `end_step`
            on. Defaults to 0.8.
        begin_step: int >= 0. First step that prunes. Defaults to 0.
        end_step: int > begin_step. Step that reaches `final_sparsity`.
            Defaults to 1000.
        power: float > 0. Exponent of the decay (3 in the paper). Defaults to 3.
        frequency: int >= 1. Steps between mask updates (Zhu & Gupta's Δt).
            Defaults to 100.

    Example:

    >>> schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100,
    ...                            frequency=50)
    >>> should_prune, sparsity = schedule(50)  # 0.8 - 0.8 * 0.5**3
    >>> should_prune, round(sparsity, 6)
    (True, 0.7)
    """

    def __init__(
        self,
        initial_sparsity: float = 0.0,
        final_sparsity: float = 0.8,
        begin_step: int = 0,
        end_step: int = 1000,
        power: float = 3,
        frequency: int = 100,
    ):
        self.initial_sparsity = check_float(
            "initial_sparsity", initial_sparsity, low=0, high=1, high_inclusive=False
        )
        self.final_sparsity = check_float(
            "final_sparsity",
            final_sparsity,
            low=self.initial_sparsity,
            high=1,
            high_inclusive=False,
        )
        self.begin_step = check_int("begin_step", begin_step, low=0)
        self.end_step = check_int("end_step", end_step, low=self.begin_step + 1)
        self.power = check_float("power", power, low=0, low_inclusive=False)
        self.frequency = check_int("frequency", frequency, low=1)

    def should_prune(self, step: int) -> bool:
        return _on_grid(step, self.begin_step, self.end_step, self.frequency)

    def sparsity(self, step: int) -> float:
        span = self.end_step - self.begin_step
        progress = min(max(step - self.begin_step, 0), span) / span
        decay = (1.0 - progress) ** self.power
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (
            decay
        )

    def get_config(self) -> dict:
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "power": self.power,
            "frequency": self.frequency,
        }


@keras.saving.register_keras_serializable(package="sparsekit")
class ConstantSparsity(PruningSchedule):
    """Prunes to one fixed sparsity from `begin_step` on.

    s_t = target_sparsity; masks are recomputed every `frequency` steps from
    `begin_step` until `end_step` (and at `end_step`), or forever if
    `end_step=-1`. Recomputing keeps the pruned set: pruned weights are exactly zero,
    the smallest magnitudes, so they stay pruned.

    Args:
        target_sparsity: float in [0, 1). Fraction of weights set to zero.
        begin_step: int >= 0. First step that prunes. Defaults to 0.
        end_step: int. Last step that prunes, > begin_step, or -1 for no end.
            Defaults to -1.
        frequency: int >= 1. Steps between mask updates. Defaults to 100.

    Example:

    >>> schedule = ConstantSparsity(0.5, begin_step=10)
    >>> schedule(10), schedule(11)
    ((True, 0.5), (False, 0.5))
    """

    def __init__(
        self,
        target_sparsity: float,
        begin_step: int = 0,
        end_step: int = -1,
        frequency: int = 100,
    ):
        self.target_sparsity = check_float(
            "target_sparsity", target_sparsity, low=0, high=1, high_inclusive=False
        )
        self.begin_step = check_int("begin_step", begin_step, low=0)
        if end_step != -1:
            try:
                check_int("end_step", end_step, low=self.begin_step + 1)
            except ValueError:
                raise invalid_argument(
                    "end_step", f"-1 or an integer >= {self.begin_step + 1}", end_step
                ) from None
        self.end_step = int(end_step)
        self.frequency = check_int("frequency", frequency, low=1)

    def should_prune(self, step: int) -> bool:
        return _on_grid(step, self.begin_step, self.end_step, self.frequency)

    def sparsity(self, step: int) -> float:
        return self.target_sparsity

    def get_config(self) -> dict:
        return {
            "target_sparsity": self.target_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }
