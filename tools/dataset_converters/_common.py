"""Helpers shared by the dataset preparation scripts.

Every script raises :class:`PreparationError` with a message naming the file
(and the value) at fault; :func:`run` turns it into ``error: ...`` and exit
status 1 on the command line.
"""
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, List, Optional, Sequence, TypeVar

import numpy as np
from PIL import Image
from tqdm import tqdm

Item = TypeVar('Item')
Result = TypeVar('Result')
MAX_VALUES_SHOWN = 5


class PreparationError(Exception):
    """The input is not the expected official layout or content."""


def require_dir(path: Path, origin: str) -> Path:
    """``path`` if it is a folder, else an error naming it and its archive."""
    if not path.is_dir():
        raise PreparationError(f'missing folder {path} (expected from '
                               f'{origin})')
    return path


def require_file(path: Path, origin: str) -> Path:
    """``path`` if it is a file, else an error naming it and its archive."""
    if not path.is_file():
        raise PreparationError(f'missing file {path} (expected from '
                               f'{origin})')
    return path


def require_all(paths: Sequence[Path], what: str, origin: str) -> List[Path]:
    """``paths`` if all are files, else an error naming the first missing."""
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise PreparationError(
            f'missing {what} {missing[0]} ({len(missing)} of {len(paths)} '
            f'missing; expected from {origin})')
    return list(paths)


def paired_labels(image_dir: Path, label_dir: Path, *, origin: str,
                  label_origin: str) -> List[Path]:
    """The ``<stem>.png`` label of every ``<stem>.jpg`` image, all present."""
    require_dir(image_dir, origin)
    require_dir(label_dir, label_origin)
    images = sorted(image_dir.glob('*.jpg'))
    if not images:
        raise PreparationError(f'no .jpg image in {image_dir} (expected from '
                               f'{origin})')
    labels = [label_dir / f'{image.stem}.png' for image in images]
    missing = [path for path in labels if not path.is_file()]
    if missing:
        raise PreparationError(
            f'missing label file {missing[0]} for image '
            f'{image_dir / (missing[0].stem + ".jpg")} ({len(missing)} of '
            f'{len(labels)} missing; expected from {label_origin})')
    return labels


def read_id_list(path: Path, origin: str) -> List[str]:
    """The non-blank lines of a split file such as ``val.txt``."""
    require_file(path, origin)
    ids = [line.strip() for line in path.read_text().splitlines()]
    ids = [name for name in ids if name]
    if not ids:
        raise PreparationError(f'split file {path} lists no image')
    return ids


def read_image_array(path: Path, what: str = 'label map') -> np.ndarray:
    """Decode ``path`` with PIL, unchanged (palette PNGs give indices)."""
    if not path.is_file():
        raise PreparationError(f'missing {what} {path}')
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image)
    except Exception as err:
        raise PreparationError(f'cannot read {what} {path}: {err}') from err


def read_single_channel(path: Path) -> np.ndarray:
    """A one-channel integer label map, (H, W)."""
    labels = read_image_array(path)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise PreparationError(
            f'label map {path} has shape {labels.shape} and dtype '
            f'{labels.dtype}: expected one channel of integer class ids')
    return labels


def check_values(path: Path, labels: np.ndarray, valid: np.ndarray,
                 description: str) -> None:
    """Raise naming the values of ``labels`` not in ``valid``."""
    values = np.unique(labels)
    bad = values[~np.isin(values, valid)]
    if bad.size:
        shown = ', '.join(str(v) for v in bad[:MAX_VALUES_SHOWN].tolist())
        more = f' and {bad.size - MAX_VALUES_SHOWN} more' if (
            bad.size > MAX_VALUES_SHOWN) else ''
        raise PreparationError(f'label map {path} holds value {shown}{more}'
                               f' outside {description}')


def lookup_table(mapping: dict,
                 size: int,
                 default: int,
                 dtype=np.uint16) -> np.ndarray:
    """(size,) array: ``table[old] = mapping[old]``, ``default`` elsewhere."""
    table = np.full(size, default, dtype=dtype)
    for old, new in mapping.items():
        table[old] = new
    return table


def save_label(path: Path, labels: np.ndarray) -> None:
    """Write a uint8 PNG or uint16 TIFF label map, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels).save(path)


def map_with_progress(function: Callable[[Item], Result],
                      items: Sequence[Item],
                      *,
                      nproc: int = 1,
                      desc: str = '') -> List[Result]:
    """``[function(x) for x in items]`` with a progress bar, in parallel
    worker processes when ``nproc > 1``."""
    if nproc <= 1:
        return [function(item) for item in tqdm(items, desc=desc)]
    with Pool(nproc) as pool:
        return list(
            tqdm(
                pool.imap(function, items, chunksize=16),
                total=len(items),
                desc=desc))


def add_nproc_argument(parser) -> None:
    parser.add_argument(
        '--nproc', type=int, default=1, help='worker processes (default: 1)')


def run(main: Callable[[Optional[Sequence[str]]], int]) -> None:
    """Call ``main`` for the command line: errors become a short message."""
    try:
        status = main(None)
    except PreparationError as err:
        sys.exit(f'error: {err}')
    sys.exit(status)
