"""symhard: hard function families for symmetric networks.

The package builds the function families that no correlational statistical-query
learner (gradient descent included) learns with few queries, certifies their lower
bounds exactly where the mathematics allows, and trains invariant learners on them.
"""

from symhard._validation import InvalidParameterError, LimitExceededError

__version__ = "0.1.0"

__all__ = ["InvalidParameterError", "LimitExceededError", "__version__"]
