"""Build (or reuse) an mmcv wheel with compiled ops for the installed torch.

mmsegmentation 1.x imports ``mmcv.ops``, so it needs the full mmcv package with
its C++/CUDA extension, not ``mmcv-lite``. OpenMMLab publishes no mmcv wheel for
recent torch releases, and mmcv 2.1.0's ``setup.py`` hard-codes ``-std=c++17``
while torch >= 2.10 headers refuse anything below C++20. This script:

1. looks for a wheel in the cache, keyed by mmcv, torch, CUDA and Python versions;
2. otherwise downloads mmcv's source release from PyPI (sha256 checked), raises the
   C++ standard only if the installed torch's headers require it, compiles the
   ops (CUDA ops too when a GPU and the CUDA toolkit are present, or when
   ``FORCE_CUDA=1``), and stores the wheel in the cache;
3. prints the path of the wheel on the last line of its output.

Usage::

    python tools/install/build_mmcv.py --cache-dir ~/.cache/mrovseg_mmseg/wheels
"""
import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

PYPI_SIMPLE = 'https://pypi.org/simple/mmcv/'
LOG_PREFIX = '[mmcv build]'


def log(msg: str) -> None:
    print(f'{LOG_PREFIX} {msg}', file=sys.stderr, flush=True)


def torch_facts() -> dict:
    """Versions and include path of the installed torch."""
    import torch
    from torch.utils import cpp_extension
    return dict(
        torch=torch.__version__,
        cuda=torch.version.cuda,
        gpu=torch.cuda.is_available(),
        cuda_home=cpp_extension.CUDA_HOME,
        include=cpp_extension.include_paths()[0])


def required_cxx_standard(torch_include: str) -> int:
    """The C++ standard torch's ATen headers demand (17 if they state none)."""
    aten = Path(torch_include) / 'ATen' / 'ATen.h'
    match = re.search(r'__cplusplus\s*<\s*(\d{4})\d\dL', aten.read_text())
    year = int(match.group(1)) if match else 2017
    return {2014: 14, 2017: 17, 2020: 20, 2023: 23}.get(year, 17)


def use_cuda_ops(facts: dict) -> bool:
    """CUDA ops are built for a CUDA torch with a GPU and toolkit, or on demand."""
    if os.environ.get('FORCE_CUDA') == '1':
        return True
    return bool(facts['cuda'] and facts['gpu'] and facts['cuda_home'])


def cache_key(mmcv_version: str, facts: dict, with_cuda: bool) -> str:
    torch_version = facts['torch'].replace('+', '_')
    device = f"cuda{facts['cuda']}" if with_cuda else 'cpu'
    python = f'cp{sys.version_info.major}{sys.version_info.minor}'
    plat = sysconfig.get_platform().replace('-', '_')
    return f'mmcv-{mmcv_version}_torch-{torch_version}_{device}_{python}_{plat}'


def download_sdist(version: str, dest: Path) -> Path:
    """Download ``mmcv-<version>.tar.gz`` from PyPI and check its sha256."""
    local = os.environ.get('MMCV_SDIST')
    if local:
        log(f'using local source archive MMCV_SDIST={local}')
        return Path(local)
    filename = f'mmcv-{version}.tar.gz'
    request = urllib.request.Request(
        PYPI_SIMPLE, headers={'Accept': 'application/vnd.pypi.simple.v1+json'})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            index = json.load(response)
    except OSError as err:
        raise SystemExit(
            f'{LOG_PREFIX} cannot reach {PYPI_SIMPLE} ({err}). Download '
            f'{filename} by hand and set MMCV_SDIST=/path/to/{filename}.')
    entry = next((f for f in index['files'] if f['filename'] == filename),
                 None)
    if entry is None:
        raise SystemExit(f'{LOG_PREFIX} PyPI lists no {filename}')
    target = dest / filename
    log(f'downloading {filename} from PyPI')
    urllib.request.urlretrieve(entry['url'], target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != entry['hashes']['sha256']:
        raise SystemExit(f'{LOG_PREFIX} sha256 mismatch for {filename}: got '
                         f"{digest}, PyPI says {entry['hashes']['sha256']}")
    return target


def patch_cxx_standard(setup_py: Path, standard: int) -> None:
    """Replace mmcv's hard-coded ``-std=c++17`` with the standard torch needs."""
    text = setup_py.read_text()
    patched = text.replace("'-std=c++17'", f"'-std=c++{standard}'")
    patched = patched.replace("'/std:c++17'", f"'/std:c++{standard}'")
    if patched == text:
        raise SystemExit(f'{LOG_PREFIX} found no -std=c++17 in {setup_py}; '
                         'this mmcv release needs a different fix')
    setup_py.write_text(patched)


def run_build(source: Path, out_dir: Path, with_cuda: bool) -> Path:
    """Compile the wheel, condensing the compiler log into progress lines."""
    env = dict(os.environ, MMCV_WITH_OPS='1',
               MAX_JOBS=os.environ.get('MAX_JOBS', str(os.cpu_count() or 1)))
    env['FORCE_CUDA'] = '1' if with_cuda else '0'
    command = [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
               '--no-build-isolation', '-v', '-w', str(out_dir), str(source)]
    log_file = out_dir / 'build.log'
    progress = re.compile(r'^\[(\d+)/(\d+)\].*?([\w.]+\.(?:cpp|cu|o))')
    started = time.time()
    with open(log_file, 'w') as log_handle:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log_handle.write(line)
            match = progress.match(line.strip())
            if match:
                done, total, name = match.groups()
                minutes = (time.time() - started) / 60
                log(f'[{done}/{total}] {minutes:4.1f} min  {name}')
        code = proc.wait()
    if code != 0:
        tail = ''.join(log_file.read_text().splitlines(True)[-40:])
        raise SystemExit(f'{tail}\n{LOG_PREFIX} build failed (exit {code}); '
                         f'full log: {log_file}')
    wheels = list(out_dir.glob('mmcv-*.whl'))
    if len(wheels) != 1:
        raise SystemExit(f'{LOG_PREFIX} expected one wheel in {out_dir}, '
                         f'found {wheels}')
    return wheels[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--version', default='2.1.0', help='mmcv version')
    parser.add_argument('--cache-dir', required=True, type=Path,
                        help='folder holding built wheels, one per cache key')
    args = parser.parse_args()

    facts = torch_facts()
    with_cuda = use_cuda_ops(facts)
    key = cache_key(args.version, facts, with_cuda)
    slot = args.cache_dir / key
    cached = sorted(slot.glob('mmcv-*.whl')) if slot.is_dir() else []
    if cached:
        log(f'reusing cached wheel {cached[-1]}')
        print(cached[-1])
        return

    standard = required_cxx_standard(facts['include'])
    device = f"CUDA {facts['cuda']} + CPU" if with_cuda else 'CPU'
    log(f'no cached wheel for {key}; building mmcv {args.version} with '
        f'compiled {device} ops from source.')
    log('mmsegmentation needs mmcv.ops and no prebuilt wheel matches torch '
        f"{facts['torch']}; this takes about 13 minutes on 2 CPU cores and "
        'happens once per machine.')
    with tempfile.TemporaryDirectory(prefix='mmcv-build-') as tmp:
        tmp = Path(tmp)
        archive = download_sdist(args.version, tmp)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter='data')
        source = tmp / f'mmcv-{args.version}'
        if standard > 17:
            log(f"torch {facts['torch']} headers require C++{standard}; "
                f"raising mmcv's -std=c++17 to -std=c++{standard}")
            patch_cxx_standard(source / 'setup.py', standard)
        out_dir = tmp / 'dist'
        out_dir.mkdir()
        wheel = run_build(source, out_dir, with_cuda)
        slot.mkdir(parents=True, exist_ok=True)
        partial = slot / (wheel.name + '.partial')
        shutil.copy2(wheel, partial)
        partial.rename(slot / wheel.name)
        shutil.copy2(out_dir / 'build.log', slot / 'build.log')
    log(f'built and cached {slot / wheel.name} on {platform.node()}')
    print(slot / wheel.name)


if __name__ == '__main__':
    main()
