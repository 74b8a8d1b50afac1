"""Turning the user's inputs (paths, folders, globs, arrays) into RGB images.

Every image becomes (H, W, 3) uint8 RGB in its displayed orientation:

- files are decoded with PIL and turned upright with
  ``ImageOps.exif_transpose`` (EXIF-rotated JPEGs);
- grayscale is replicated to three channels, alpha is dropped (the colour
  under transparent pixels is kept), palette, CMYK and 1-bit images are
  converted;
- 16-bit images are scaled to 8 bits (``value / 257``, so 65535 -> 255);
  PIL already reduces 16-bit colour PNGs to 8 bits per channel;
- float images are read as [0, 1] when their maximum is at most 1, else as
  [0, 255], and clipped.

Problems raise :class:`ImageLoadError` naming the item, so a batch can report
them and carry on with the other items.
"""
import glob
import os
from dataclasses import dataclass
from typing import List, Sequence, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = ('.bmp', '.gif', '.jpeg', '.jpg', '.png', '.tif', '.tiff',
                    '.webp')
GLOB_CHARS = '*?['

ImageInput = Union[str, os.PathLike, np.ndarray]


class ImageLoadError(ValueError):
    """An input item that is missing, unreadable or not an image."""


@dataclass(frozen=True)
class FailedInput:
    """An input item that could not be processed and why."""
    source: str
    error: str


@dataclass(frozen=True, eq=False)
class ArrayInput:
    """An in-memory image and the name it is reported under."""
    source: str
    array: np.ndarray


InputItem = Union[str, ArrayInput, FailedInput]


def collect_inputs(
        inputs: Union[ImageInput, Sequence[ImageInput]]) -> List[InputItem]:
    """Expand inputs into image files, arrays and failed items, in order.

    Args:
        inputs: an image path, a folder (its image files, sorted, not
            recursive), a glob pattern (``'photos/*.jpg'``), an (H, W) or
            (H, W, C) array, or a list of these. Items already returned by
            this function are passed through.

    Returns:
        File paths (each once, however often named), :class:`ArrayInput`
        (named ``'<array i>'``) and :class:`FailedInput` for paths that do
        not exist, folders that cannot be listed or hold no image, and
        patterns that match nothing.
    """
    if isinstance(inputs,
                  (str, os.PathLike, np.ndarray, ArrayInput, FailedInput)):
        inputs = [inputs]
    items: List[InputItem] = []
    seen = set()
    for index, item in enumerate(inputs):
        if isinstance(item, (ArrayInput, FailedInput)):
            items.append(item)
        elif isinstance(item, np.ndarray):
            items.append(ArrayInput(f'<array {index}>', item))
        elif isinstance(item, (str, os.PathLike)):
            for path in _expand_path(os.fspath(item)):
                key = path if isinstance(path, FailedInput) else (
                    os.path.normcase(os.path.abspath(path)))
                if key not in seen:
                    seen.add(key)
                    items.append(path)
        else:
            items.append(
                FailedInput(
                    f'<input {index}>',
                    f'input {index} is a {type(item).__name__}; expected an '
                    'image path, a folder, a glob pattern or a numpy array'))
    return items


def _expand_path(path: str) -> List[InputItem]:
    if os.path.isdir(path):
        return _list_folder(path)
    if os.path.exists(path):
        return [path]
    if any(char in path for char in GLOB_CHARS):
        matches = sorted(glob.glob(path))
        if not matches:
            return [FailedInput(path, f'no file matches the pattern {path!r}')]
        return [item for match in matches for item in _expand_path(match)]
    return [FailedInput(path, f'image {path!r} does not exist')]


def _list_folder(folder: str) -> List[InputItem]:
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry in entries
                           if entry.is_file() and os.path.splitext(entry.name)
                           [1].lower() in IMAGE_EXTENSIONS)
    except OSError as err:
        return [
            FailedInput(
                folder,
                f'cannot read folder {folder!r}: {err.strerror or err}')
        ]
    if not names:
        return [
            FailedInput(
                folder, f'folder {folder!r} holds no image file '
                f'({", ".join(IMAGE_EXTENSIONS)})')
        ]
    return [os.path.join(folder, name) for name in names]


def load_image(item: Union[str, ArrayInput]) -> np.ndarray:
    """Read one item as an upright (H, W, 3) uint8 RGB image (module doc).

    Raises:
        ImageLoadError: naming the item.
    """
    if isinstance(item, ArrayInput):
        return array_to_rgb(item.array, item.source)
    try:
        with Image.open(item) as image:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            return _pil_to_rgb(image, item)
    except ImageLoadError:
        raise
    except FileNotFoundError as err:
        raise ImageLoadError(f'image {item!r} does not exist') from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(
            f'cannot decode {item!r}: not an image file PIL recognises '
            '(corrupt or another format)') from err
    except Image.DecompressionBombError as err:
        raise ImageLoadError(
            f'{item!r} is too large for PIL ({err}); raise '
            'PIL.Image.MAX_IMAGE_PIXELS if you trust the file') from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(
            f'cannot read image {item!r}: {err or type(err).__name__} '
            '(truncated or corrupt file?)') from err


def _pil_to_rgb(image: Image.Image, source: str) -> np.ndarray:
    if image.mode.startswith('I') or image.mode == 'F':
        return array_to_rgb(
            np.asarray(image), source, sixteen_bit=image.mode.startswith('I'))
    if image.mode != 'RGB':
        image = image.convert('RGB')
    return np.asarray(image)  # (H, W, 3) uint8


def array_to_rgb(array: np.ndarray,
                 source: str,
                 sixteen_bit: bool = False) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array -> (H, W, 3) uint8.

    Arrays are RGB(A). uint16 (and, with ``sixteen_bit``, other integer)
    values are scaled by 1/257; other integers must lie in [0, 255].

    Raises:
        ImageLoadError: naming ``source`` for other shapes or dtypes.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[..., :3]
    elif array.ndim != 2:
        raise ImageLoadError(
            f'{source}: image array of shape {array.shape}; expected (H, W) '
            'or (H, W, C) with C in 1, 3, 4')
    if min(array.shape[:2]) == 0:
        raise ImageLoadError(f'{source}: empty image of shape {array.shape}')
    if array.dtype == np.uint8:
        rgb = array
    elif array.dtype == np.uint16 or (sixteen_bit and np.issubdtype(
            array.dtype, np.integer)):
        rgb = np.clip(np.rint(array / 257.0), 0, 255).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ImageLoadError(
                f'{source}: {array.dtype} values outside [0, 255]; pass uint8 '
                'or uint16 images')
        rgb = array.astype(np.uint8) * (255 if array.dtype == bool else 1)
    elif np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if np.nanmax(array) <= 1 else 1.0
        rgb = np.clip(np.nan_to_num(array) * scale, 0, 255).round()
        rgb = rgb.astype(np.uint8)
    else:
        raise ImageLoadError(f'{source}: unsupported dtype {array.dtype}')
    if rgb.ndim == 2 or rgb.shape[2] == 1:
        rgb = np.repeat(rgb.reshape(*rgb.shape[:2], 1), 3, axis=2)
    return np.ascontiguousarray(rgb)
