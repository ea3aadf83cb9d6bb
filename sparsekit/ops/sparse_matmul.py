"""Placeholder: sparse_dense_matmul (to be implemented)."""

def sparse_dense_matmul(*args, **kwargs):
    raise NotImplementedError('sparse_dense_matmul')
