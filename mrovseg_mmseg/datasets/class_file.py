"""Class files: a dataset's class names, one per line.

Line N names class id N - 1 of the label maps, so a class file has no blank
lines and no comments: either would shift every later class by one id. A
class may list synonyms separated by commas (``sofa, couch``); the text
encoder averages them. Surrounding whitespace is dropped. A class file is
also a valid ``tools/infer.py --classes-file``.

A dataset reads one when its config gives the path as the classes:
``metainfo=dict(classes='data/my_dataset/classes.txt')`` (mmengine's own
convention for metainfo read from a file, here checked).
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import mmengine.fileio as fileio


def read_class_file(path: str,
                    backend_args: Optional[dict] = None) -> List[str]:
    """The K class names of a class file; name k is class id k.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not UTF-8, no class, a blank line, a ``#``, an empty
            synonym or a class named twice (case and spacing ignored), with
            the file, the line and the fix.
    """
    where = f'class file {path}'
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'{where} ({osp.abspath(path)}) does not exist: the dataset\'s '
            'metainfo classes name a text file with one class per line; a '
            'relative path starts in the current folder '
            f'({osp.abspath(".")})') from err
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        line = data.count(b'\n', 0, err.start) + 1
        raise ValueError(
            f'{where} line {line} is not UTF-8 (byte '
            f'{data[err.start:err.start + 1]!r}): save the file as UTF-8'
        ) from err
    lines = text.split('\n')
    if lines[-1] == '':
        lines.pop()  # the final line break
    names: List[str] = []
    seen: Dict[Tuple[str, ...], int] = {}
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        _check_line(where, number, name)
        key = tuple(' '.join(part.split()).casefold()
                    for part in name.split(','))
        if key in seen:
            first = seen[key]
            raise ValueError(
                f'{where} line {number} ({name!r}) names the class of line '
                f'{first} ({names[first - 1]!r}) again (case and spacing '
                'are ignored: the text encoder sees one class): name each '
                f'class once; if they are one class, delete line {number} '
                f'and relabel its pixels (id {number - 1}) with id '
                f'{first - 1}')
        seen[key] = number
        names.append(name)
    if not names:
        raise ValueError(f'{where} names no class: write one class name per '
                         'line, the name of class id 0 first')
    return names


def _check_line(where: str, number: int, name: str) -> None:
    if not name:
        raise ValueError(
            f'{where} line {number} is blank: line N names class id N-1, '
            'so a blank line shifts every class after it; delete the line, '
            f'or write the name of class id {number - 1} there')
    if '#' in name:
        raise ValueError(
            f'{where} line {number} ({name!r}) holds a "#": a class file '
            'has no comments (line N names class id N-1, and tools/infer.py'
            ' reads "#" as the start of a comment); remove the "#" text')
    if not all(part.strip() for part in name.split(',')):
        raise ValueError(
            f'{where} line {number} ({name!r}) has an empty synonym: '
            "separate the synonyms of a class by single commas, 'sofa, "
            "couch'")
