
from .synthetic_shapes import SyntheticShapesDataset  # noqa: F401
