"""Activity and kernel regularisers that push towards sparsity.

Plain L1 is `keras.regularizers.L1`; it is not duplicated here.
"""

from sparsekit.regularizers.group_lasso import GroupLasso
from sparsekit.regularizers.hoyer import Hoyer, HoyerSquare
from sparsekit.regularizers.kl_sparsity import KLSparsity

__all__ = ["KLSparsity", "Hoyer", "HoyerSquare", "GroupLasso"]
