"""Build a frozen open_clip CLIP model from a name, a tag, a file or a config."""
import os
from typing import Optional

import torch.nn as nn


def _is_file(pretrained: Optional[str]) -> bool:
    return bool(pretrained) and (os.sep in pretrained or os.path.splitext(
        pretrained)[1] in ('.pt', '.pth', '.bin', '.safetensors'))


def build_open_clip(*,
                    model_name: Optional[str] = 'ViT-B-16',
                    pretrained: Optional[str] = 'openai',
                    model_cfg: Optional[dict] = None,
                    cache_dir: Optional[str] = None) -> nn.Module:
    """Create an open_clip ``CLIP`` model with frozen weights.

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
        model = open_clip.CLIP(**model_cfg)
        source = f'open_clip.CLIP(**{model_cfg})'
        if pretrained is not None:
            if not _is_file(pretrained) or not os.path.isfile(pretrained):
                raise FileNotFoundError(
                    f'pretrained={pretrained!r}: with model_cfg, pretrained '
                    'must be the path of an existing checkpoint file.')
            _load_file(model, pretrained, source)
    elif _is_file(pretrained):
        if not os.path.isfile(pretrained):
            raise FileNotFoundError(
                f'CLIP checkpoint file {pretrained!r} (model {model_name}) '
                'does not exist.')
        model = open_clip.create_model(model_name, pretrained=None)
        _load_file(model, pretrained, model_name)
    else:
        model = _create_tagged(open_clip, model_name, pretrained, cache_dir)
    model.eval()
    for param in model.parameters():
        param.requires_grad = False
    return model


def _load_file(model: nn.Module, path: str, source: str) -> None:
    """Load a local checkpoint with weights_only; report any key mismatch."""
    import open_clip
    try:
        incompatible = open_clip.load_checkpoint(
            model, path, strict=False, weights_only=True)
    except RuntimeError as err:
        raise ValueError(
            f'CLIP checkpoint {path!r} does not match the architecture '
            f'{source}: {err}') from err
    missing = list(getattr(incompatible, 'missing_keys', []))
    unexpected = list(getattr(incompatible, 'unexpected_keys', []))
    if missing or unexpected:
        raise ValueError(
            f'CLIP checkpoint {path!r} does not match the architecture '
            f'{source}: missing keys {missing[:10]}'
            f'{" ..." if len(missing) > 10 else ""}, unexpected keys '
            f'{unexpected[:10]}{" ..." if len(unexpected) > 10 else ""}')


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
                '-quickgelu', '') + "-quickgelu'), or put the file in "
            f'cache_dir={cache_dir!r}.') from err
