"""Local CLIP files: OpenAI's weights are built with QuickGELU, the
activation OpenAI trained with; other files keep the named activation."""
import os
import re

import open_clip
import pytest
import torch
import torch.nn as nn
from open_clip.transformer import QuickGELU

from mrovseg_mmseg.models.utils import open_clip_loader
from mrovseg_mmseg.models.utils.open_clip_loader import build_open_clip

# OpenAI's state dicts hold these next to the weights
OPENAI_ENTRIES = dict(input_resolution=32, context_length=77, vocab_size=49408)


def activations(model: nn.Module) -> set:
    """Types of the MLP activations of both towers."""
    return {type(block.mlp.gelu)
            for tower in (model.visual.transformer, model.transformer)
            for block in tower.resblocks}


class OpenAIStyle(nn.Module):
    """A CLIP whose state dict has OpenAI's keys and non-weight entries."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        for name, child in clip.named_children():
            self.add_module(name, child)
        for name, param in clip.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, value in OPENAI_ENTRIES.items():
            self.register_buffer(name, torch.tensor(value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.logit_scale.exp()


@pytest.fixture(scope='module')
def tiny_gelu_clip(tiny_clip_cfg):
    torch.manual_seed(1)
    return open_clip.CLIP(**tiny_clip_cfg).eval()


@pytest.fixture(scope='module')
def openai_archive(tiny_gelu_clip, tmp_path_factory):
    """The tiny CLIP's weights as OpenAI ships them: a TorchScript archive."""
    path = tmp_path_factory.mktemp('openai') / 'ViT-tiny.pt'
    archive = torch.jit.trace(OpenAIStyle(tiny_gelu_clip), torch.ones(1))
    torch.jit.save(archive, str(path))
    return str(path)


@pytest.fixture(scope='module')
def openai_state_dict(openai_archive, tmp_path_factory):
    """A state dict saved from OpenAI's archive."""
    path = tmp_path_factory.mktemp('openai_sd') / 'ViT-tiny.pth'
    torch.save(torch.jit.load(openai_archive).state_dict(), path)
    return str(path)


def assert_same_weights(model, reference):
    expected = reference.state_dict()
    loaded = model.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize('file', ['openai_archive', 'openai_state_dict'])
def test_openai_weights_get_quick_gelu(request, tiny_clip_cfg, tiny_gelu_clip,
                                       file):
    path = request.getfixturevalue(file)
    model = build_open_clip(model_cfg=tiny_clip_cfg, pretrained=path)
    assert activations(model) == {QuickGELU}
    assert_same_weights(model, tiny_gelu_clip)
    reference = open_clip.CLIP(**tiny_clip_cfg, quick_gelu=True).eval()
    reference.load_state_dict(tiny_gelu_clip.state_dict())
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(2, 3, 32, 32, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_image(image),
                                   reference.encode_image(image))


def test_named_architecture_is_rebuilt_with_quick_gelu(monkeypatch,
                                                       tiny_clip_cfg,
                                                       tiny_gelu_clip,
                                                       openai_archive):
    """model_name='ViT-B-16' with OpenAI's file: the QuickGELU variant, and
    a warning that names the file and the architecture to use."""
    requests, messages = [], []

    def fake_create_model(model_name, **kwargs):
        requests.append((model_name, kwargs['force_quick_gelu']))
        return open_clip.CLIP(**tiny_clip_cfg,
                              quick_gelu=kwargs['force_quick_gelu'])

    monkeypatch.setattr(open_clip, 'create_model', fake_create_model)
    monkeypatch.setattr(open_clip_loader, 'print_log',
                        lambda message, **kwargs: messages.append(message))
    model = build_open_clip(model_name='ViT-B-16', pretrained=openai_archive)
    assert requests == [('ViT-B-16', False), ('ViT-B-16', True)]
    assert len(messages) == 1
    assert openai_archive in messages[0]
    assert "model_name='ViT-B-16-quickgelu'" in messages[0]
    assert activations(model) == {QuickGELU}
    assert_same_weights(model, tiny_gelu_clip)


def test_quick_gelu_architecture_is_built_once(tiny_clip_cfg, tiny_gelu_clip,
                                               openai_archive):
    cfg = dict(tiny_clip_cfg, quick_gelu=True)
    model = build_open_clip(model_cfg=cfg, pretrained=openai_archive)
    assert activations(model) == {QuickGELU}
    assert_same_weights(model, tiny_gelu_clip)


def test_open_clip_state_dict_keeps_gelu(tiny_clip_cfg, tiny_clip_checkpoint,
                                         tiny_clip_reference):
    model = build_open_clip(model_cfg=tiny_clip_cfg,
                            pretrained=tiny_clip_checkpoint)
    assert activations(model) == {nn.GELU}
    assert_same_weights(model, tiny_clip_reference)


def test_archive_of_another_model_is_refused(tiny_clip_cfg, openai_archive):
    cfg = dict(tiny_clip_cfg, embed_dim=16)
    with pytest.raises(ValueError, match='ViT-tiny.pt'):
        build_open_clip(model_cfg=cfg, pretrained=openai_archive)


@pytest.mark.parametrize('tag,quick_gelu', [('openai', True),
                                            ('laion2b_s34b_b88k', False)])
def test_tag_goes_to_open_clip_with_its_activation_and_safe_loading(
        monkeypatch, tmp_path, tag, quick_gelu):
    requests, model = [], nn.Linear(2, 2)

    def fake_create_model(model_name, **kwargs):
        requests.append((model_name, kwargs))
        return model

    monkeypatch.setattr(open_clip, 'create_model', fake_create_model)
    built = build_open_clip(model_name='ViT-B-16', pretrained=tag,
                            cache_dir=str(tmp_path))
    assert built is model and not model.weight.requires_grad
    assert requests == [('ViT-B-16',
                         dict(pretrained=tag, force_quick_gelu=quick_gelu,
                              cache_dir=str(tmp_path),
                              require_pretrained=True, weights_only=True))]


def test_download_folder_of_a_tag_without_url():
    """A tag whose config has no url (and no usable hub): the file is
    named generically, the folder is open_clip's default."""

    class NoUrl:

        @staticmethod
        def get_pretrained_cfg(model_name, tag):
            return {}

    where = open_clip_loader._cache_location(NoUrl, 'ViT-X', 'tag', None)
    assert where == (
        'put the downloaded file in ' +
        os.path.expanduser(os.path.join('~', '.cache', 'clip')) +
        ': open_clip looks there before downloading (the folder is set by '
        'clip_cache_dir in the config)')


def test_missing_and_unexpected_keys_are_named(tiny_clip_cfg, tmp_path,
                                                tiny_clip_checkpoint):
    state = torch.load(tiny_clip_checkpoint, weights_only=True)
    state.pop('ln_final.weight')
    state['extra.weight'] = torch.zeros(2)
    path = str(tmp_path / 'edited.pt')
    torch.save(state, path)
    with pytest.raises(ValueError, match=re.escape(
            f'CLIP checkpoint {path!r} does not match the architecture '
            "open_clip.CLIP(**") + r'.*' + re.escape(
            "): missing keys ['ln_final.weight'], unexpected keys "
            "['extra.weight']")):
        build_open_clip(model_cfg=tiny_clip_cfg, pretrained=path)


def test_default_is_openais_vit_b_16(monkeypatch):
    requests = []

    def fake_create_model(model_name, **kwargs):
        requests.append((model_name, kwargs['pretrained']))
        return nn.Linear(2, 2)

    monkeypatch.setattr(open_clip, 'create_model', fake_create_model)
    build_open_clip()
    assert requests == [('ViT-B-16', 'openai')]
