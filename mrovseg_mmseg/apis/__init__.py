from .image_io import (FailedInput, ImageLoadError, collect_inputs, load_image)
from .inferencer import (BatchInferenceError, ClassFound, OVSegInferencer,
                         OVSegResult)
from .proposals import Proposal

__all__ = [
    'BatchInferenceError', 'ClassFound', 'FailedInput', 'ImageLoadError',
    'OVSegInferencer', 'OVSegResult', 'Proposal', 'collect_inputs',
    'load_image'
]
