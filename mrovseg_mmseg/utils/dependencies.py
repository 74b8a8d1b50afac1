"""Import-time check that the OpenMMLab stack fits this plugin."""
from typing import Dict, Optional, Tuple

from packaging.version import Version

# Inclusive minimum, exclusive maximum, as mmsegmentation 1.2.2 requires.
REQUIRED_VERSIONS: Dict[str, Tuple[str, str]] = {
    'mmcv': ('2.0.0rc4', '2.2.0'),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmsegmentation': ('1.2.2', '1.3.0'),
}

SETUP_HINT = ('Run `bash tools/setup_env.sh` (it builds mmcv with compiled ops '
              'for the installed torch) or see the README\'s install section.')


def installed_versions() -> Dict[str, Optional[str]]:
    """Versions of mmcv, mmengine and mmsegmentation; None where missing."""
    from importlib import metadata
    versions = {}
    for package in REQUIRED_VERSIONS:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    if versions['mmcv'] is None:
        try:
            versions['mmcv-lite'] = metadata.version('mmcv-lite')
        except metadata.PackageNotFoundError:
            pass
    return versions


def check_versions(installed: Dict[str, Optional[str]]) -> None:
    """Raise ImportError naming every package whose version does not fit.

    Args:
        installed: package name -> installed version (None when missing);
            an ``mmcv-lite`` entry marks mmcv installed without compiled ops.
    """
    problems = []
    for package, (minimum, maximum) in REQUIRED_VERSIONS.items():
        required = f'>={minimum}, <{maximum}'
        version = installed.get(package)
        if version is None:
            lite = installed.get('mmcv-lite') if package == 'mmcv' else None
            found = f'mmcv-lite {lite}' if lite else 'not installed'
            problems.append(f'{package}: {found}, required {required}')
        elif not Version(minimum) <= Version(version) < Version(maximum):
            problems.append(f'{package}: installed {version}, '
                            f'required {required}')
    if problems:
        raise ImportError(
            'mrovseg_mmseg cannot run with the installed OpenMMLab packages:\n  '
            + '\n  '.join(problems) +
            '\nmmcv must be the full package with its compiled ops '
            '(mmcv.ops), not mmcv-lite. ' + SETUP_HINT)


def check_mmcv_ops() -> None:
    """Raise ImportError when mmcv lacks its compiled extension."""
    try:
        import mmcv.ops  # noqa: F401
    except (ImportError, OSError) as err:
        raise ImportError(
            f'mmcv is installed but its compiled ops do not load ({err}). '
            'mmsegmentation imports mmcv.ops, so mmcv must be built with ops '
            'for the installed torch. ' + SETUP_HINT) from err
