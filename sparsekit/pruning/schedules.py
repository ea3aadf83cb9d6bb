"""Placeholder: PolynomialDecay, ConstantSparsity (to be implemented)."""

class PolynomialDecay:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('PolynomialDecay')

class ConstantSparsity:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('ConstantSparsity')
