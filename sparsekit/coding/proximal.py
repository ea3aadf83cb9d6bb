"""Placeholder: soft_threshold, ista, fista (to be implemented)."""

def soft_threshold(*args, **kwargs):
    raise NotImplementedError('soft_threshold')

def ista(*args, **kwargs):
    raise NotImplementedError('ista')

def fista(*args, **kwargs):
    raise NotImplementedError('fista')
