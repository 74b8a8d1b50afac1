"""Text encoder: open_clip's zero-shot classifier is the oracle.

Tiny random CLIPs (``tests/conftest.py``) stand in for real weights.
"""
import os
import re

import open_clip
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

from mrovseg_mmseg.models.text_encoders import (OpenCLIPTextEncoder,
                                                resolve_templates)
from mrovseg_mmseg.models.text_encoders.templates import (SINGLE_TEMPLATES,
                                                          VILD_TEMPLATES)

NAMES = ('person', 'traffic light', 'sky-other-merged', 'potted plant',
         'a very long class name made of many words for a long prompt', 'tv')
ORACLE_TEMPLATES = dict(
    single=SINGLE_TEMPLATES,
    vild=VILD_TEMPLATES,
    imagenet=OPENAI_IMAGENET_TEMPLATES)
TOL = dict(rtol=0, atol=1e-5)


def oracle(reference, names, templates):
    """(K, C) open_clip zero-shot classifier weights."""
    weights = open_clip.build_zero_shot_classifier(
        reference,
        tokenizer=open_clip.get_tokenizer('ViT-B-16'),
        classnames=list(names),
        templates=templates,
        num_classes_per_batch=None)
    return weights.T  # (C, K) -> (K, C)


def count_encodes(encoder):
    """Wrap ``encoder.encode_prompts``; the returned list grows per call."""
    calls = []
    original = encoder.encode_prompts

    def wrapper(prompts):
        calls.append(len(prompts))
        return original(prompts)

    encoder.encode_prompts = wrapper
    return calls


def save_tiny_clip(path, cfg, seed):
    """Save a seeded random ``open_clip.CLIP(**cfg)``; return it in eval."""
    torch.manual_seed(seed)
    model = open_clip.CLIP(**cfg).eval()
    torch.save(model.state_dict(), path)
    return model


@pytest.fixture
def make_encoder(tiny_clip_cfg, tiny_clip_checkpoint):
    """Build an encoder on the shared tiny CLIP file."""

    def make(**kwargs):
        kwargs.setdefault('model_cfg', tiny_clip_cfg)
        kwargs.setdefault('pretrained', tiny_clip_checkpoint)
        return OpenCLIPTextEncoder(**kwargs)

    return make


@pytest.mark.parametrize('templates', ['single', 'vild', 'imagenet'])
def test_matches_zero_shot_classifier(make_encoder, tiny_clip_reference,
                                      templates):
    encoder = make_encoder(templates=templates, prompts_per_batch=5)
    embeddings = encoder(list(NAMES))
    expected = oracle(tiny_clip_reference, NAMES, ORACLE_TEMPLATES[templates])
    assert embeddings.shape == (len(NAMES), encoder.embed_dims) == (6, 32)
    assert embeddings.dtype == torch.float32
    torch.testing.assert_close(embeddings, expected, **TOL)


@pytest.mark.parametrize('pool_type', ['eos', 'first'])
def test_other_pool_types_match_open_clip(tiny_clip_cfg, tmp_path, pool_type):
    cfg = dict(
        tiny_clip_cfg,
        text_cfg=dict(
            tiny_clip_cfg['text_cfg'], pool_type=pool_type, eos_id=49407))
    reference = save_tiny_clip(tmp_path / 'clip.pt', cfg, seed=1)
    encoder = OpenCLIPTextEncoder(
        model_cfg=cfg, pretrained=str(tmp_path / 'clip.pt'))
    torch.testing.assert_close(
        encoder(list(NAMES)), oracle(reference, NAMES, VILD_TEMPLATES), **TOL)


def test_truncated_equals_full_context(make_encoder, tiny_clip_reference):
    encoder = make_encoder(prompts_per_batch=4)
    prompts = [t.format(name) for name in NAMES for t in VILD_TEMPLATES[:3]]
    lengths = []
    encoder.transformer.register_forward_pre_hook(
        lambda module, args: lengths.append(args[0].shape[1]))
    embeddings = encoder.encode_prompts(prompts)
    tokens = open_clip.tokenize(prompts)  # (P, 77)
    with torch.no_grad():
        full = tiny_clip_reference.encode_text(tokens, normalize=True)
    torch.testing.assert_close(embeddings, full, **TOL)
    longest = int(tokens.argmax(dim=-1).max()) + 1
    assert max(lengths) == longest < 77
    assert min(lengths) < longest, 'batches are not cut to their own length'


def test_synonyms_average_their_embeddings(make_encoder, tiny_clip_reference):
    encoder = make_encoder(templates='vild')
    embeddings = encoder(['sofa, couch', 'tv'])
    sofa, couch = oracle(tiny_clip_reference, ['sofa', 'couch'],
                         VILD_TEMPLATES)
    torch.testing.assert_close(embeddings[0],
                               F.normalize((sofa + couch) / 2, dim=0), **TOL)
    torch.testing.assert_close(
        embeddings[1],
        oracle(tiny_clip_reference, ['tv'], VILD_TEMPLATES)[0], **TOL)


def test_memory_cache(make_encoder):
    encoder = make_encoder(templates='single')
    calls = count_encodes(encoder)
    first = encoder(list(NAMES))
    assert encoder(list(NAMES)) is first
    assert len(calls) == 1
    other = encoder(['cat', 'dog'])
    assert len(calls) == 2 and other.shape == (2, 32)
    assert encoder(list(NAMES)) is first and len(calls) == 2
    encoder.set_templates('vild')
    assert not torch.equal(encoder(list(NAMES)), first)
    assert len(calls) == 3


def test_disk_cache_reused_by_fresh_instance(make_encoder, tmp_path):
    cache = tmp_path / 'cache'
    first = make_encoder(cache_dir=str(cache))(list(NAMES))
    assert len(os.listdir(cache)) == 1

    fresh = make_encoder(cache_dir=str(cache))
    calls = count_encodes(fresh)
    torch.testing.assert_close(fresh(list(NAMES)), first, rtol=0, atol=0)
    assert calls == []

    other_templates = make_encoder(cache_dir=str(cache), templates='single')
    calls = count_encodes(other_templates)
    other_templates(list(NAMES))
    other_templates(list(NAMES[:-1]))
    assert len(calls) == 2
    files = os.listdir(cache)
    assert len(files) == 3 and all(name.endswith('.pt') for name in files)
    assert not any(name.startswith('.tmp') for name in files)


def test_disk_cache_keyed_by_random_weights(tiny_clip_cfg, tmp_path):

    def make(seed):
        torch.manual_seed(seed)
        return OpenCLIPTextEncoder(
            model_cfg=tiny_clip_cfg, pretrained=None, cache_dir=str(tmp_path))

    first = make(seed=0)(['cat'])
    same = make(seed=0)
    calls = count_encodes(same)
    torch.testing.assert_close(same(['cat']), first, rtol=0, atol=0)
    assert calls == []
    other = make(seed=1)
    calls = count_encodes(other)
    assert not torch.allclose(other(['cat']), first)
    assert len(calls) == 1


def test_loaded_state_dict_invalidates_caches(make_encoder, tiny_clip_cfg,
                                              tmp_path):
    encoder = make_encoder(cache_dir=str(tmp_path / 'cache'))
    before = encoder(['cat'])
    other = save_tiny_clip(tmp_path / 'other.pt', tiny_clip_cfg, seed=2)
    expected = oracle(other, ['cat'], VILD_TEMPLATES)
    parent = nn.ModuleDict(dict(text_encoder=encoder))
    parent.load_state_dict({
        f'text_encoder.{name}': value
        for name, value in other.state_dict().items()
        if not name.startswith('visual.') and name != 'logit_scale'
    })
    after = encoder(['cat'])
    assert not torch.allclose(after, before)
    torch.testing.assert_close(after, expected, **TOL)


def test_frozen_text_tower_only(make_encoder, tiny_clip_reference):
    encoder = make_encoder()
    names = [name for name, _ in encoder.named_parameters()]
    assert names and not any(name.startswith('visual') for name in names)
    text_params = sum(
        param.numel()
        for name, param in tiny_clip_reference.named_parameters()
        if not name.startswith('visual.') and name != 'logit_scale')
    assert sum(param.numel() for param in encoder.parameters()) == text_params
    assert not any(param.requires_grad for param in encoder.parameters())

    parent = nn.ModuleDict(dict(text_encoder=encoder, head=nn.Linear(2, 2)))
    parent.train()
    assert parent['head'].training
    assert not any(module.training for module in encoder.modules())

    queries = torch.randn(3, encoder.embed_dims, requires_grad=True)
    (queries @ encoder(['cat', 'dog']).T).sum().backward()
    assert torch.isfinite(queries.grad).all()


def test_registry_build(tiny_clip_cfg, tiny_clip_checkpoint):
    from mmseg.registry import MODELS
    encoder = MODELS.build(
        dict(
            type='OpenCLIPTextEncoder',
            model_cfg=tiny_clip_cfg,
            pretrained=tiny_clip_checkpoint,
            templates='single'))
    assert isinstance(encoder, OpenCLIPTextEncoder)
    assert encoder(['cat']).shape == (1, 32)


@pytest.mark.parametrize('names,pattern', [
    ([], 'empty'),
    (['cat', 'dog', 'cat'], r"index 2 \('cat'\) duplicates .*index 0"),
    (['cat', ' '], r"index 1 is blank: ' '"),
])
def test_bad_vocabulary(make_encoder, names, pattern):
    encoder = make_encoder(templates='single')
    with pytest.raises(ValueError, match=pattern):
        encoder(names)


def test_unsupported_text_tower(tiny_clip_cfg):
    cfg = dict(
        tiny_clip_cfg,
        text_cfg=dict(tiny_clip_cfg['text_cfg'], pool_type='last'))
    with pytest.raises(ValueError, match="text_pool_type='last'"):
        OpenCLIPTextEncoder(model_cfg=cfg, pretrained=None)


def test_template_sets():
    assert resolve_templates('vild') == VILD_TEMPLATES
    assert len(VILD_TEMPLATES) == 14
    assert resolve_templates('single') == ('a photo of a {}.', )
    imagenet = resolve_templates('imagenet')
    assert len(imagenet) == 80
    assert [t.format('cat') for t in imagenet
            ] == [t('cat') for t in OPENAI_IMAGENET_TEMPLATES]
    assert resolve_templates(['{} here', 'a {}.']) == ('{} here', 'a {}.')


@pytest.mark.parametrize('templates,pattern', [
    ('a photo of a {}.', 'not a template set name'),
    ([], 'non-empty'),
    (['a photo'], r"index 0 \('a photo'\) must contain exactly one"),
    (['ok {}', '{} and {}'], 'index 1'),
    (['ok {}', '{name}'], 'index 1'),
    ([3], 'index 0 is not a str'),
])
def test_bad_templates(templates, pattern):
    with pytest.raises(ValueError, match=pattern):
        resolve_templates(templates)


@pytest.mark.parametrize('tag,quick_gelu', [('openai', True),
                                            ('laion2b_s34b_b88k', False)])
def test_tagged_weights_get_their_activation(monkeypatch, tiny_clip_cfg, tag,
                                             quick_gelu):
    """OpenAI tags under 'ViT-B-16' must be built with QuickGELU."""
    from mrovseg_mmseg.models.utils.open_clip_loader import build_open_clip
    requests = []

    def fake_create_model(model_name, **kwargs):
        requests.append(kwargs)
        return open_clip.CLIP(**tiny_clip_cfg)

    monkeypatch.setattr(open_clip, 'create_model', fake_create_model)
    build_open_clip(model_name='ViT-B-16', pretrained=tag)
    assert requests[0]['force_quick_gelu'] is quick_gelu


def test_one_prompt_per_batch_matches_and_bad_batch_sizes_are_refused(
        make_encoder, tiny_clip_reference):
    encoder = make_encoder(templates='single', prompts_per_batch=1)
    torch.testing.assert_close(
        encoder(list(NAMES)),
        oracle(tiny_clip_reference, NAMES, ORACLE_TEMPLATES['single']),
        **TOL)
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match=re.escape(
                f'prompts_per_batch={bad!r} must be a positive int.')):
            make_encoder(prompts_per_batch=bad)


def test_cache_of_a_file_encoder_is_keyed_without_hashing_weights(
        make_encoder, monkeypatch, tmp_path):
    """A checkpoint file is known by its path, size and time; only weights
    loaded from a state dict are hashed."""
    from mrovseg_mmseg.models.text_encoders import open_clip_text_encoder

    def no_hashing(named_tensors):
        raise AssertionError('the weights were hashed')

    monkeypatch.setattr(open_clip_text_encoder, 'tensors_digest', no_hashing)
    encoder = make_encoder(cache_dir=str(tmp_path))
    first = encoder(['cat'])
    again = make_encoder(cache_dir=str(tmp_path))
    calls = count_encodes(again)
    torch.testing.assert_close(again(['cat']), first, rtol=0, atol=0)
    assert calls == []
