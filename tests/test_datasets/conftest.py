"""Load the preparation scripts of tools/dataset_converters as modules."""
import importlib.util
import sys
from pathlib import Path

import pytest

CONVERTERS = Path(
    __file__).resolve().parents[2] / 'tools' / 'dataset_converters'


def load_converter(name: str):
    """The script ``tools/dataset_converters/<name>.py`` as a module."""
    if str(CONVERTERS) not in sys.path:
        sys.path.insert(0, str(CONVERTERS))
    module_name = f'mrovseg_converter_{name}'
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            module_name, CONVERTERS / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
    return sys.modules[module_name]


@pytest.fixture(scope='session')
def converter():
    return load_converter


@pytest.fixture(scope='session')
def preparation_error():
    load_converter('coco_stuff164k')
    return sys.modules['_common'].PreparationError
