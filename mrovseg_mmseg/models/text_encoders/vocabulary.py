"""Class vocabularies: validation, synonyms and vocabulary files.

A vocabulary is a sequence of class names. A class name may list synonyms
separated by commas (``'sofa, couch'``); the text encoder averages them.
Whitespace around synonyms is dropped and runs of inner whitespace are
collapsed to one space. Two classes are duplicates when their synonym lists
are equal ignoring case (CLIP's tokenizer lower-cases, so ``'Sofa'`` and
``'sofa'`` would get the same embedding); one synonym shared by two different
classes is allowed.
"""
import os
from typing import Dict, Iterable, List, Sequence, Tuple

Synonyms = Tuple[str, ...]


def parse_vocabulary(class_names: Sequence[str]) -> List[Synonyms]:
    """Validate a vocabulary and split every class name into its synonyms.

    Args:
        class_names: K class names, e.g. ``['person', 'sofa, couch']``.

    Returns:
        K tuples of synonyms, e.g. ``[('person',), ('sofa', 'couch')]``.

    Raises:
        ValueError: empty vocabulary, non-str entry, blank name or synonym,
            or duplicate class, naming the value and its index.
    """
    if isinstance(class_names,
                  (str, bytes)) or not isinstance(class_names, Sequence):
        raise ValueError('the vocabulary must be a sequence of class names, '
                         f'got {type(class_names).__name__} {class_names!r}')
    return _parse_entries(
        ((f'class name at index {index}', name)
         for index, name in enumerate(class_names)),
        empty_message='the vocabulary is empty: give at least one class name')


def load_vocabulary_file(path: str) -> List[str]:
    """Read and validate a vocabulary file.

    Format: UTF-8 text (a byte-order mark is allowed), one class per line,
    synonyms separated by commas; blank lines are skipped and ``#`` starts a
    comment that runs to the end of the line.

    Args:
        path: the vocabulary file.

    Returns:
        The K class names (comments and surrounding whitespace removed), ready
        for :func:`parse_vocabulary` or the text encoder.

    Raises:
        ValueError: bytes that are not UTF-8, an empty vocabulary or a bad or
            duplicate class, naming the file and the line.
    """
    with open(path, 'rb') as file:
        data = file.read()
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        line = data.count(b'\n', 0, err.start) + 1
        raise ValueError(
            f'vocabulary file {os.fspath(path)!r} is not UTF-8: byte '
            f'{data[err.start:err.start + 1]!r} at offset {err.start} (line '
            f'{line}) cannot be decoded; save the file as UTF-8.') from err
    entries = []
    for number, line in enumerate(text.split('\n'), start=1):
        name = line.split('#', 1)[0].strip()
        if name:
            entries.append((f'{os.fspath(path)!r} line {number}', name))
    _parse_entries(
        entries,
        empty_message=f'vocabulary file {os.fspath(path)!r} holds no class '
        'name (only blank lines or comments)')
    return [name for _, name in entries]


def _parse_entries(entries: Iterable[Tuple[str, object]],
                   empty_message: str) -> List[Synonyms]:
    """Check (location, class name) pairs; return the synonyms per class."""
    parsed: List[Synonyms] = []
    seen: Dict[Synonyms, Tuple[str, str]] = {}
    for where, name in entries:
        if not isinstance(name, str):
            raise ValueError(f'{where} is not a str: {name!r} '
                             f'({type(name).__name__})')
        synonyms = tuple(' '.join(part.split()) for part in name.split(','))
        if not any(synonyms):
            raise ValueError(f'{where} is blank: {name!r}')
        if not all(synonyms):
            raise ValueError(f'{where} ({name!r}) has an empty synonym; '
                             "separate synonyms by single commas: 'a, b'")
        key = tuple(synonym.casefold() for synonym in synonyms)
        if key in seen:
            first_where, first_name = seen[key]
            raise ValueError(f'{where} ({name!r}) duplicates {first_where} '
                             f'({first_name!r})')
        seen[key] = (where, name)
        parsed.append(synonyms)
    if not parsed:
        raise ValueError(empty_message)
    return parsed
