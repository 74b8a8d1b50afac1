"""MROVSeg for MMSegmentation: open-vocabulary semantic segmentation with a
single frozen CLIP ViT seen at several resolutions.

Importing the package checks the OpenMMLab stack and registers every component
into mmseg's registries, so configs can name them with ``custom_imports``.
"""
from .utils.dependencies import (check_mmcv_ops, check_versions,
                                 installed_versions)
from .version import __version__

check_versions(installed_versions())
check_mmcv_ops()

from . import datasets, engine, evaluation, models, visualization, apis  # noqa: E402,F401,E501

__all__ = ['__version__']
