"""Placeholder: TargetedDropout (to be implemented)."""

class TargetedDropout:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('TargetedDropout')
