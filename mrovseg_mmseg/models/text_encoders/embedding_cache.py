"""On-disk cache of class embeddings, keyed by everything they depend on.

A cache entry is one ``<sha256>.pt`` file per (text tower, weights,
tokenizer, templates, vocabulary, open_clip version) combination; the hash is
taken over a JSON dump of those fields (see :func:`cache_key`). Files are
written atomically (temporary file in the same folder, then ``os.replace``),
so concurrent writers (e.g. DDP ranks) never leave a half-written entry, and
read with ``torch.load(weights_only=True)``.
"""
import hashlib
import json
import os
import tempfile
import warnings
from typing import Iterable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

# Bump when the way embeddings are computed changes, to invalidate old files.
CACHE_FORMAT_VERSION = 1


def cache_key(fields: dict) -> str:
    """SHA-256 hex digest of ``fields`` dumped as JSON with sorted keys."""
    text = json.dumps(fields, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def as_json_lists(classes: Sequence[Sequence[str]]) -> List[List[str]]:
    """Synonym tuples as lists, the form stored in keys and entries."""
    return [list(synonyms) for synonyms in classes]


def file_identity(path: str) -> dict:
    """Absolute path, size and modification time of a weights file."""
    stat = os.stat(path)
    return dict(
        path=os.path.abspath(path),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns)


def tensors_digest(named_tensors: Iterable[Tuple[str, Tensor]]) -> str:
    """SHA-256 hex digest of names, dtypes, shapes and bytes of tensors."""
    digest = hashlib.sha256()
    for name, tensor in named_tensors:
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)};'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def load_embeddings(path: str,
                    classes: Sequence[Sequence[str]]) -> Optional[Tensor]:
    """Read a cache entry; None if it is missing, unreadable or mismatched.

    Args:
        path: the entry file.
        classes: K synonym lists the entry must have been computed for.

    Returns:
        The (K, C) float32 embeddings on CPU, or None.
    """
    if not os.path.isfile(path):
        return None
    try:
        entry = torch.load(path, map_location='cpu', weights_only=True)
        embeddings = entry['embeddings']
        stored_classes = entry['classes']
    except Exception as err:  # corrupt or foreign file: recompute
        warnings.warn(f'Ignoring unreadable text embedding cache {path!r} '
                      f'({type(err).__name__}: {err}); recomputing it.')
        return None
    wanted = as_json_lists(classes)
    if stored_classes != wanted or embeddings.shape[0] != len(wanted):
        warnings.warn(f'Ignoring text embedding cache {path!r}: it holds '
                      'other classes than its key says; recomputing it.')
        return None
    return embeddings.float()


def save_embeddings(path: str, embeddings: Tensor,
                    classes: Sequence[Sequence[str]]) -> None:
    """Write a cache entry atomically.

    Args:
        path: the entry file; its folder is created if needed.
        embeddings: (K, C) class embeddings.
        classes: the K synonym lists they belong to.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    entry = dict(
        embeddings=embeddings.detach().float().cpu(),
        classes=as_json_lists(classes))
    handle, tmp_path = tempfile.mkstemp(
        dir=folder, prefix='.tmp_', suffix='.pt')
    try:
        with os.fdopen(handle, 'wb') as file:
            torch.save(entry, file)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def entry_path(cache_dir: str, fields: dict) -> str:
    """Path of the cache entry for ``fields`` under ``cache_dir``."""
    return os.path.join(cache_dir, f'{cache_key(fields)}.pt')
