"""Placeholder: DropConnectDense (to be implemented)."""

class DropConnectDense:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('DropConnectDense')
