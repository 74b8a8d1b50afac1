"""Importing the plugin registers its components; the version check works."""
import pytest

import mrovseg_mmseg
from mrovseg_mmseg.utils import check_versions, installed_versions


def test_import_registers_components():
    from mmseg.registry import MODELS
    for name in ('MultiResCLIPViT', 'MultiGrainedMaskClassifier',
                 'OpenCLIPTextEncoder'):
        assert MODELS.get(name) is not None, f'{name} is not registered'


def test_version_string():
    assert mrovseg_mmseg.__version__.count('.') == 2


def test_installed_stack_passes_the_check():
    check_versions(installed_versions())


def test_wrong_mmcv_version_is_named():
    installed = dict(installed_versions(), mmcv='2.2.0')
    with pytest.raises(ImportError) as err:
        check_versions(installed)
    message = str(err.value)
    assert 'mmcv: installed 2.2.0, required >=2.0.0rc4, <2.2.0' in message
    assert 'compiled ops' in message


def test_old_mmengine_and_missing_mmseg_are_named():
    installed = dict(installed_versions(), mmengine='0.7.0')
    installed['mmsegmentation'] = None
    with pytest.raises(ImportError) as err:
        check_versions(installed)
    assert 'mmengine: installed 0.7.0, required >=0.10.0, <1.0.0' in str(
        err.value)
    assert 'mmsegmentation: not installed' in str(err.value)


def test_mmcv_lite_is_reported_as_lacking_ops():
    installed = dict(installed_versions(), mmcv=None)
    installed['mmcv-lite'] = '2.1.0'
    with pytest.raises(ImportError, match='mmcv: mmcv-lite 2.1.0'):
        check_versions(installed)
