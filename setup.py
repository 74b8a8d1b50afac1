"""Packaging for mrovseg_mmseg (OpenMMLab layout: requirements/*.txt)."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    text = (HERE / 'mrovseg_mmseg' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


def parse_requirements(name: str) -> list:
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [line.strip() for line in lines
            if line.strip() and not line.startswith('#')]


setup(
    name='mrovseg_mmseg',
    version=read_version(),
    description='MROVSeg: multi-resolution open-vocabulary semantic '
    'segmentation with a single frozen CLIP ViT, as an MMSegmentation plugin',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.9',
    install_requires=parse_requirements('runtime.txt'),
    extras_require={
        'mim': parse_requirements('mminstall.txt'),
        'tests': parse_requirements('tests.txt'),
        'optional': parse_requirements('optional.txt'),
        'webui': parse_requirements('webui.txt'),
    },
    zip_safe=False,
)
