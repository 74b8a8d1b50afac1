"""Build a frozen open_clip CLIP model from a name, a tag, a file or a config."""
import logging
import os
import zipfile
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log

# Non-weight entries of OpenAI's state dicts, deleted by OpenAI's build_model
# and by open_clip's load_state_dict before loading.
OPENAI_ENTRIES = ('input_resolution', 'context_length', 'vocab_size')


def _is_file(pretrained: Optional[str]) -> bool:
    return bool(pretrained) and (os.sep in pretrained or os.path.splitext(
        pretrained)[1] in ('.pt', '.pth', '.bin', '.safetensors'))


def build_open_clip(*,
                    model_name: Optional[str] = 'ViT-B-16',
                    pretrained: Optional[str] = 'openai',
                    model_cfg: Optional[dict] = None,
                    cache_dir: Optional[str] = None) -> nn.Module:
    """Create an open_clip ``CLIP`` model with frozen weights.

    OpenAI trained its CLIPs with QuickGELU; open_clip's plain names
    (``ViT-B-16``) use GELU, and weights loaded into the wrong activation give
    wrong features without any error. A tag trained with QuickGELU (every
    ``openai`` tag) is therefore built with it. So is a local file recognised
    as OpenAI's (see :func:`_load_file`): the architecture is rebuilt with
    QuickGELU, the weights moved into it and a warning logged, so that one
    config works with ``pretrained='openai'`` and with OpenAI's downloaded
    file alike; the file's format shows how its weights were trained, and
    refusing it would only make the user rename the model in two places.
    Other files carry no such mark and load into the architecture as named:
    OpenAI's weights re-saved by open_clip need the ``-quickgelu`` name.

    Args:
        model_name: open_clip architecture name (``ViT-B-16``, ``ViT-L-14``,
            ``ViT-B-16-quickgelu`` ...). Ignored when ``model_cfg`` is given.
        pretrained: an open_clip pretrained tag (``openai``, ``laion2b_s34b_b88k``
            ...), a path to a local checkpoint file, or None for random weights.
        model_cfg: keyword arguments of ``open_clip.CLIP`` (``embed_dim``,
            ``vision_cfg``, ``text_cfg``, ``quick_gelu``) to build an
            architecture that has no open_clip name, e.g. tiny test models.
        cache_dir: where open_clip looks for (and downloads) tagged weights.

    Returns:
        The CLIP model in eval mode with ``requires_grad=False`` everywhere.
    """
    import open_clip
    if model_cfg is not None:
        source = f'open_clip.CLIP(**{model_cfg})'
        if pretrained is not None and (not _is_file(pretrained)
                                       or not os.path.isfile(pretrained)):
            raise FileNotFoundError(
                f'pretrained={pretrained!r}: with model_cfg, pretrained '
                'must be the path of an existing checkpoint file.')
    elif _is_file(pretrained):
        source = model_name
        if not os.path.isfile(pretrained):
            raise FileNotFoundError(
                f'CLIP checkpoint file {pretrained!r} (model {model_name}) '
                'does not exist.')
    else:
        return _frozen(
            _create_tagged(open_clip, model_name, pretrained, cache_dir))
    model = _create(open_clip, model_name, model_cfg, quick_gelu=False)
    if (pretrained is not None and _load_file(model, pretrained, source)
            and not _uses_quick_gelu(model)):
        direct = ('quick_gelu=True in model_cfg' if model_cfg is not None
                  else f"model_name='{model_name}-quickgelu'")
        print_log(
            f'CLIP checkpoint {pretrained!r} holds OpenAI\'s weights, which '
            f'were trained with QuickGELU; {source} uses GELU, so it is built '
            f'with QuickGELU instead ({direct} builds it directly).',
            logger='current', level=logging.WARNING)
        quick = _create(open_clip, model_name, model_cfg, quick_gelu=True)
        quick.load_state_dict(model.state_dict())
        model = quick
    return _frozen(model)


def _create(open_clip, model_name: Optional[str], model_cfg: Optional[dict],
            quick_gelu: bool) -> nn.Module:
    """A randomly initialized CLIP, with QuickGELU forced if asked."""
    if model_cfg is not None:
        if quick_gelu:
            model_cfg = dict(model_cfg, quick_gelu=True)
        return open_clip.CLIP(**model_cfg)
    return open_clip.create_model(
        model_name, pretrained=None, force_quick_gelu=quick_gelu)


def _uses_quick_gelu(model: nn.Module) -> bool:
    from open_clip.transformer import QuickGELU
    return any(isinstance(module, QuickGELU) for module in model.modules())


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for param in model.parameters():
        param.requires_grad = False
    return model


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive: a zip whose top folder holds ``constants.pkl``,
    the record ``torch.load`` itself looks for before refusing the file."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(
            name.count('/') == 1 and name.endswith('/constants.pkl')
            for name in archive.namelist())


def _load_file(model: nn.Module, path: str, source: str) -> bool:
    """Load a local checkpoint; report any key mismatch.

    State dicts are read with ``weights_only``. OpenAI's released files
    (``ViT-B-16.pt`` ...) are TorchScript archives, which ``torch.load``
    refuses with ``weights_only``; they are read with ``torch.jit.load``, as
    open_clip's ``load_openai_model`` does, and only their weights are used.

    Returns:
        Whether the file holds OpenAI's weights: its state dict has the three
        entries of ``OPENAI_ENTRIES``, which OpenAI's archives keep, and so
        does a state dict saved from one (``torch.jit.load(f).state_dict()``).
    """
    import open_clip
    try:
        if _is_torchscript(path):
            state_dict = torch.jit.load(path, map_location='cpu').state_dict()
            incompatible = model.load_state_dict(state_dict, strict=False)
        else:
            incompatible = open_clip.load_checkpoint(
                model, path, strict=False, weights_only=True)
    except RuntimeError as err:
        raise ValueError(
            f'CLIP checkpoint {path!r} does not match the architecture '
            f'{source}: {err}') from err
    missing = list(getattr(incompatible, 'missing_keys', []))
    unexpected = list(getattr(incompatible, 'unexpected_keys', []))
    openai = set(OPENAI_ENTRIES) <= set(unexpected)
    if openai:
        unexpected = [key for key in unexpected if key not in OPENAI_ENTRIES]
    if missing or unexpected:
        raise ValueError(
            f'CLIP checkpoint {path!r} does not match the architecture '
            f'{source}: missing keys {missing[:10]}'
            f'{" ..." if len(missing) > 10 else ""}, unexpected keys '
            f'{unexpected[:10]}{" ..." if len(unexpected) > 10 else ""}')
    return openai


def _create_tagged(open_clip, model_name: str, pretrained: Optional[str],
                   cache_dir: Optional[str]) -> nn.Module:
    """``open_clip.create_model`` with an actionable error when offline."""
    if model_name not in open_clip.list_models():
        raise ValueError(f'model_name={model_name!r} is not an open_clip '
                         'architecture; see open_clip.list_models().')
    if pretrained is None:
        return open_clip.create_model(model_name, pretrained=None)
    tags = [tag for name, tag in open_clip.list_pretrained()
            if name == model_name]
    if pretrained not in tags:
        raise ValueError(
            f'pretrained={pretrained!r} is not an open_clip tag of '
            f'{model_name} (known tags: {tags}); pass a tag or a file path.')
    # Tags trained with QuickGELU (all 'openai' ones) under a plain name such
    # as 'ViT-B-16' would otherwise get GELU layers and only a warning.
    quick_gelu = bool(
        open_clip.get_pretrained_cfg(model_name, pretrained).get('quick_gelu'))
    try:
        return open_clip.create_model(
            model_name,
            pretrained=pretrained,
            force_quick_gelu=quick_gelu,
            cache_dir=cache_dir,
            require_pretrained=True,
            weights_only=True)
    except Exception as err:  # network and hub errors come in many types
        url = open_clip.get_pretrained_url(model_name, pretrained)
        raise RuntimeError(
            f'Could not obtain the CLIP weights {model_name}/{pretrained} '
            f'({type(err).__name__}: {err}). Without network access, download '
            f'them on another machine ({url or "see open_clip.list_pretrained()"}'
            f') and set pretrained="/path/to/checkpoint" in the config (for '
            "OpenAI weights use model_name='" + model_name.replace(
                '-quickgelu', '') + "-quickgelu'), or "
            + _cache_location(open_clip, model_name, pretrained, cache_dir)
            + '.') from err


def _cache_location(open_clip, model_name: str, pretrained: str,
                    cache_dir: Optional[str]) -> str:
    """Where ``open_clip.create_model`` looks for already downloaded weights
    of a tag, as the end of a sentence ("or ...")."""
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    hf_hub = cfg.get('hf_hub', '')
    try:
        from open_clip.pretrained import has_hf_hub
        use_hub = bool(hf_hub) and has_hf_hub()
    except ImportError:
        use_hub = False
    how = ("clip_cache_dir in the config's backbone and text encoder"
           if cache_dir else None)
    if use_hub:
        from huggingface_hub.constants import HF_HUB_CACHE
        repo_id, filename = os.path.split(hf_hub)
        folder = os.path.join(cache_dir or HF_HUB_CACHE,
                              'models--' + repo_id.replace('/', '--'))
        files = filename or 'open_clip_model.safetensors or ' \
            'open_clip_pytorch_model.bin'
        return (f'copy the folder {folder} (Hugging Face repository {repo_id}'
                f', {files}) from a machine where the download worked to the '
                'same place on this one: open_clip looks there before '
                'downloading (the folder above it is set by '
                f'{how or "HF_HUB_CACHE or HF_HOME"})')
    url = cfg.get('url', '')
    folder = cache_dir or os.path.expanduser(os.path.join('~', '.cache',
                                                          'clip'))
    return (f'put the downloaded {os.path.basename(url) or "file"} in '
            f'{folder}: open_clip looks there before downloading (the folder '
            f'is set by {how or "clip_cache_dir in the config"})')
