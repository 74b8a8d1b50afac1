from .image_io import (FailedInput, ImageLoadError, collect_inputs, load_image)
from .inferencer import (BatchInferenceError, ClassFound, OVSegInferencer,
                         OVSegResult)

__all__ = [
    'BatchInferenceError', 'ClassFound', 'FailedInput', 'ImageLoadError',
    'OVSegInferencer', 'OVSegResult', 'collect_inputs', 'load_image'
]
