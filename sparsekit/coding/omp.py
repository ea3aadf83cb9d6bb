"""Placeholder: omp (to be implemented)."""

def omp(*args, **kwargs):
    raise NotImplementedError('omp')
