from .dependencies import check_mmcv_ops, check_versions, installed_versions

__all__ = ['check_mmcv_ops', 'check_versions', 'installed_versions']
