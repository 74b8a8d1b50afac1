"""Data transforms registered into mmseg's ``TRANSFORMS``."""
from .loading import LoadAnnotations16, LoadImageChecked

__all__ = ['LoadAnnotations16', 'LoadImageChecked']
