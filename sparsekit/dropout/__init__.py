"""Dropout variants: DropConnect and targeted dropout."""

from sparsekit.dropout.dropconnect import DropConnectDense
from sparsekit.dropout.targeted import TargetedDropoutDense
from sparsekit.dropout.targeted_activation import TargetedActivationDropout

__all__ = [
    "DropConnectDense",
    "TargetedActivationDropout",
    "TargetedDropoutDense",
]

_RENAMED = {
    "TargetedDropout": (
        "sparsekit.dropout.TargetedDropout is gone: it ranked each sample's "
        "activations, which is not Gomez et al.'s targeted dropout. "
        "Use TargetedDropoutDense(units, rate, target_rate, variant='weight'|'unit') "
        "for the paper's method (weights ranked per output column, candidates "
        "pruned at inference), or TargetedActivationDropout(rate, target_rate) for "
        "the old per-sample activation behaviour."
    )
}


def __getattr__(name: str):
    if name in _RENAMED:
        raise AttributeError(_RENAMED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
