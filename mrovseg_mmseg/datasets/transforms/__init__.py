"""Data transforms registered into mmseg's ``TRANSFORMS``."""
from .loading import LoadAnnotations16, LoadImageChecked
from .check_labels import CheckLabels

__all__ = ['LoadAnnotations16', 'LoadImageChecked', 'CheckLabels']
