"""Backend-portable compute kernels behind the layers."""

from sparsekit.ops.sparse_matmul import sparse_dense_matmul
from sparsekit.ops.topk import topk_mask

__all__ = ["topk_mask", "sparse_dense_matmul"]
