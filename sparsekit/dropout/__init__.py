"""Dropout variants: DropConnect and targeted dropout."""

from sparsekit.dropout.dropconnect import DropConnectDense
from sparsekit.dropout.targeted import TargetedDropout

__all__ = ["DropConnectDense", "TargetedDropout"]
