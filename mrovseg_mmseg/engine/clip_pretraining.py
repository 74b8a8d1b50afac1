"""Contrastive pretraining of a small open_clip CLIP on a generated world.

The model is an ordinary ``open_clip.CLIP`` trained with open_clip's own
``ClipLoss`` on image-caption pairs of a generated world (the material world
of the zero-shot demo or the detail-twin world of the resolution claim,
:data:`WORLDS`); the result is saved as an open_clip checkpoint file
(``{'state_dict': ...}``) that MROVSeg loads through
``pretrained='path/to/file'`` like released CLIP weights.
"""
import math
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from mrovseg_mmseg.datasets.detail_twin_world import (TWIN_CLASSES,
                                                      WORLD_VERSION,
                                                      twin_caption_pair,
                                                      twin_probe_views,
                                                      world_streams)
from mrovseg_mmseg.datasets.material_world import (MATERIAL_CLASSES,
                                                   caption_pair, downsample,
                                                   material_texture)

# OpenAI CLIP's normalization, in 0-255 pixel units (as MROVSeg's
# data preprocessor applies it).
PIXEL_MEAN = (122.7709383, 116.7460125, 104.09373615)
PIXEL_STD = (68.5005327, 66.6321579, 70.32316305)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) normalized float."""
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    mean = torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def make_pairs(count: int, view_size: int, seed: int, world: str = 'material'):
    """``count`` pretraining pairs: (N, S, S, 3) uint8 views and captions."""
    spec = WORLDS[world]
    rng = spec.pair_rng(seed)
    views, captions = [], []
    for _ in range(count):
        view, text = spec.caption_pair(rng, view_size)
        views.append(view)
        captions.append(text)
    return np.stack(views), captions


def material_probe(view_size: int, per_class: int, seed: int):
    """Held-out single-material views at both scales, with their labels.

    Half of each class's views are full-resolution patches, half are patches
    at twice the size resized down, as in :func:`caption_pair`.
    """
    rng = np.random.default_rng(seed)
    views, labels = [], []
    for label, name in enumerate(MATERIAL_CLASSES):
        for index in range(per_class):
            if index % 2:
                view = downsample(
                    material_texture(rng, name, (2 * view_size, ) * 2),
                    view_size)
            else:
                view = material_texture(rng, name, (view_size, view_size))
            views.append(view)
            labels.append(label)
    return np.stack(views), np.asarray(labels)


@dataclass(frozen=True)
class PretrainingWorld:
    """What pretraining needs of a generated world.

    Attributes:
        classes: the names the zero-shot check classifies among.
        caption_pair: (rng, view_size) -> ((S, S, 3) uint8 view, caption).
        probe_views: (view_size, per_class, seed) -> (N, S, S, 3) uint8
            held-out views and their (N, ) class indices.
        pair_rng: pretraining seed -> the generator of the pairs.
        template: the zero-shot check's prompt.
    """
    classes: Tuple[str, ...]
    caption_pair: Callable
    probe_views: Callable
    pair_rng: Callable[[int], np.random.Generator]
    template: str = 'a photo of a {}.'
    version: Optional[str] = None


def _twin_probe(view_size: int, per_class: int, seed: int):
    return twin_probe_views(
        np.random.default_rng(world_streams(seed)['probe']), view_size,
        per_class)


WORLDS = {
    'material':
    PretrainingWorld(MATERIAL_CLASSES, caption_pair,
                     lambda size, count, seed: material_probe(
                         size, count, seed + 1), np.random.default_rng),
    # the pairs' stream is the world's own 'pretrain' child: never the
    # stream of a segmentation scene
    'twins':
    PretrainingWorld(TWIN_CLASSES, twin_caption_pair, _twin_probe,
                     lambda seed: np.random.default_rng(
                         world_streams(seed)['pretrain']),
                     'a photo of {}.', WORLD_VERSION),
}


@torch.no_grad()
def zero_shot_accuracy(model,
                       tokenizer,
                       views: np.ndarray,
                       labels: np.ndarray,
                       template: str = 'a photo of a {}.',
                       classes: Sequence[str] = MATERIAL_CLASSES
                       ) -> Dict[str, float]:
    """Per-class zero-shot classification accuracy (%) of ``model``."""
    was_training = model.training
    model.eval()
    text = F.normalize(
        model.encode_text(
            tokenizer([template.format(name) for name in classes])),
        dim=-1)
    image = F.normalize(model.encode_image(to_tensor(views)), dim=-1)
    predicted = (image @ text.t()).argmax(dim=1).numpy()
    model.train(was_training)
    return {
        name: float(100 * (predicted[labels == index] == index).mean())
        for index, name in enumerate(classes)
    }


def _learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * progress))


def _save(payload: dict, path: str) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file + rename)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    partial = f'{path}.tmp{os.getpid()}'
    torch.save(payload, partial)
    os.replace(partial, path)


def pretrain_clip(model_cfg: dict,
                  out: str,
                  *,
                  iters: int = 800,
                  batch_size: int = 256,
                  lr: float = 2e-3,
                  weight_decay: float = 0.1,
                  warmup: int = 100,
                  pool_size: int = 20000,
                  seed: int = 0,
                  save_interval: int = 250,
                  world: str = 'material',
                  world_seed: Optional[int] = None,
                  log: Callable[[str], None] = print) -> dict:
    """Train ``open_clip.CLIP(**model_cfg)`` and save it to ``out``.

    ``world`` names the generated world of the pairs (:data:`WORLDS`);
    ``world_seed`` seeds its pairs and held-out views (default: ``seed``).

    A resumable state (model, optimizer, step) is written next to ``out`` every
    ``save_interval`` steps and removed at the end; a run killed part way
    continues from it when started again with the same settings.

    Returns:
        The saved checkpoint: ``state_dict``, ``model_cfg``, the settings and
        the zero-shot accuracy per material on held-out views.
    """
    import open_clip
    if world not in WORLDS:
        raise ValueError(f'world={world!r}: choose one of {sorted(WORLDS)}.')
    spec = WORLDS[world]
    world_seed = seed if world_seed is None else world_seed
    settings = dict(iters=iters, batch_size=batch_size, lr=lr,
                    weight_decay=weight_decay, warmup=warmup,
                    pool_size=pool_size, seed=seed)
    if world != 'material':
        # a resume state of another version of the world is refused
        settings.update(world=world, world_seed=world_seed,
                        world_version=spec.version)
    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_cfg)
    tokenizer = open_clip.get_tokenizer(
        'ViT-B-16', context_length=model.context_length)
    view_size = model.visual.image_size[0]
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=lr, weight_decay=weight_decay)
    resume_path = f'{out}.resume'
    step = 0
    if osp.exists(resume_path):
        state = torch.load(resume_path, map_location='cpu', weights_only=True)
        if state['settings'] != settings or state['model_cfg'] != model_cfg:
            raise ValueError(
                f'{resume_path} was written with other settings '
                f"({state['settings']}); delete it to start again.")
        model.load_state_dict(state['state_dict'])
        optimizer.load_state_dict(state['optimizer'])
        step = state['step']
        log(f'[pretrain_clip] resuming from step {step} ({resume_path})')
    started = time.time()
    views, captions = make_pairs(pool_size, view_size, world_seed, world)
    tokens = tokenizer(captions)  # (pool, context_length)
    log(f'[pretrain_clip] {pool_size} pairs made in '
        f'{time.time() - started:.0f} s; e.g. {captions[0]!r}')
    probe_views, probe_labels = spec.probe_views(view_size, 40, world_seed)
    loss_fn = open_clip.ClipLoss()
    model.train()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(step):
        torch.randint(pool_size, (batch_size, ), generator=generator)
        torch.rand(batch_size, generator=generator)
    while step < iters:
        picked = torch.randint(pool_size, (batch_size, ), generator=generator)
        flip = torch.rand(batch_size, generator=generator) < 0.5
        images = to_tensor(views[picked.numpy()])
        images[flip] = images[flip].flip(-1)
        for group in optimizer.param_groups:
            group['lr'] = _learning_rate(step, iters, lr, warmup)
        image_features = F.normalize(model.encode_image(images), dim=-1)
        text_features = F.normalize(model.encode_text(tokens[picked]), dim=-1)
        loss = loss_fn(image_features, text_features, model.logit_scale.exp())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        if step % 50 == 0 or step == iters:
            log(f'[pretrain_clip] step {step}/{iters} loss {loss.item():.3f} '
                f'({time.time() - started:.0f} s)')
        if step % save_interval == 0 and step < iters:
            _save(
                dict(state_dict=model.state_dict(),
                     optimizer=optimizer.state_dict(), step=step,
                     settings=settings, model_cfg=model_cfg), resume_path)
    accuracy = zero_shot_accuracy(model, tokenizer, probe_views, probe_labels,
                                  spec.template, spec.classes)
    checkpoint = dict(
        state_dict=model.state_dict(),
        model_cfg=model_cfg,
        settings=settings,
        zero_shot_accuracy=accuracy)
    _save(checkpoint, out)
    if osp.exists(resume_path):
        os.remove(resume_path)
    return checkpoint


def format_accuracy(accuracy: Dict[str, float],
                    unseen: Optional[Sequence[str]] = ()) -> str:
    """One line per material: name, accuracy, and whether it is unseen."""
    lines = []
    for name, value in accuracy.items():
        mark = '  (unseen in segmentation training)' if name in unseen else ''
        lines.append(f'  {name:<10} {value:6.1f}%{mark}')
    mean = sum(accuracy.values()) / len(accuracy)
    lines.append(f'  {"mean":<10} {mean:6.1f}%')
    return '\n'.join(lines)
