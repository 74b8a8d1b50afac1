"""The text-embedding cache files: keys and safe reading."""
import os

import pytest
import torch

from mrovseg_mmseg.models.text_encoders.embedding_cache import (
    cache_key, load_embeddings, save_embeddings)


class RunsCodeWhenLoaded:
    """Unpickling this calls os.mkdir(path): a stand-in for any code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path, )


def test_cache_key_takes_values_json_cannot_dump():
    """A model_cfg from a Python config may hold any object: its repr keys
    it, and the order of the fields does not matter."""
    key = cache_key(dict(architecture=dict(dtype=torch.float16), n=1))
    assert key == cache_key(dict(n=1, architecture=dict(dtype=torch.float16)))
    assert key != cache_key(dict(architecture=dict(dtype=torch.float32), n=1))
    assert len(key) == 64 and int(key, 16) >= 0


def test_entry_round_trip(tmp_path):
    path = str(tmp_path / 'entry.pt')
    embeddings = torch.randn(2, 4)
    save_embeddings(path, embeddings, [('cat', ), ('sky', 'heaven')])
    loaded = load_embeddings(path, [('cat', ), ('sky', 'heaven')])
    torch.testing.assert_close(loaded, embeddings, rtol=0, atol=0)


def test_entry_that_runs_code_is_ignored_unloaded(tmp_path):
    marker = tmp_path / 'code_ran'
    path = str(tmp_path / 'entry.pt')
    torch.save(
        dict(embeddings=torch.zeros(1, 4), classes=[['cat']],
             extra=RunsCodeWhenLoaded(str(marker))), path)
    with pytest.warns(UserWarning, match='Ignoring unreadable text embedding'
                      ' cache'):
        assert load_embeddings(path, [('cat', )]) is None
    assert not marker.exists()
