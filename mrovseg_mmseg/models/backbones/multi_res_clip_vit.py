"""Frozen open_clip ViT seen at two resolutions (MROVSeg Sec. 3.3-3.4)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.clip_block import (check_block_supported, finish_block,
                                interpolate_pos_embed, project_qkv)
from ..utils.multi_res_features import (CLIPTail, MultiResFeatures,
                                        MultiResLayout)
from ..utils.open_clip_loader import build_open_clip
from .slicing import (SliceGrid, check_slice_ratio, cut_slices, global_view,
                      nominal_window, plan_slices, restore_slices)


@MODELS.register_module()
class MultiResCLIPViT(BaseModule):
    """One frozen CLIP ViT applied to a global view and to image slices.

    The image is seen once whole (resized with its aspect ratio kept and padded
    to ``clip_input_size``) and once as slices of ``slice_ratio * base_size``
    pixels. Slices keep their resolution (rounded to a whole number of
    patches), which is what makes p = 1.0 "the high-resolution image as CLIP
    input" and p = 0.25 the cheapest setting of Table 3; ``slice_input_size``
    resizes them to a fixed size instead. When slices and global view have
    the same size (p = 0.5 at 640 input with 320 px views) all views of all
    images go through CLIP as one batch; otherwise as one batch per size.
    ``max_views_per_pass`` splits the batches further to bound memory.

    Layer numbering: layer 0 is the stem (patch embedding + position embedding
    + ``ln_pre``), layer l the output of CLIP block l (1-based), which is also
    the input of block l + 1 (0-based index l).

    Args:
        model_name, pretrained, model_cfg, clip_cache_dir: which CLIP to load,
            see :func:`build_open_clip`.
        clip_input_size: side of the global view in pixels (320 at 640).
        slice_input_size: side every slice is resized to; None = the slice
            window itself, rounded to a multiple of the patch size.
        base_size: the input side ``slice_ratio`` refers to (training crop).
        slice_ratio: p in [0, 1]; 0 = global view only.
        fusion_layers: CLIP layers whose maps are returned.
        classifier_start_block: 0-based block whose input [CLS] token seeds the
            mask classifier; keys/values of it and every later block are
            returned. None = no classifier features.
        max_views_per_pass: views per CLIP forward (bounds memory on very
            large images); None = all views at once.
    """

    def __init__(self,
                 *,
                 model_name: Optional[str] = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 clip_cache_dir: Optional[str] = None,
                 clip_input_size: int = 320,
                 slice_input_size: Optional[int] = None,
                 base_size: int = 640,
                 slice_ratio: float = 0.5,
                 fusion_layers: Sequence[int] = (0, 3, 6, 9, 12),
                 classifier_start_block: Optional[int] = 9,
                 max_views_per_pass: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_slice_ratio(slice_ratio)
        clip = build_open_clip(model_name=model_name, pretrained=pretrained,
                               model_cfg=model_cfg, cache_dir=clip_cache_dir)
        self.visual = clip.visual
        self.register_buffer(
            'logit_scale',
            clip.logit_scale.detach().exp().clamp(max=100).clone())
        del clip
        self._check_visual()
        blocks = self.visual.transformer.resblocks
        self.num_layers = len(blocks)
        for index, block in enumerate(blocks):
            check_block_supported(block, index)
        self.fusion_layers = tuple(int(layer) for layer in fusion_layers)
        bad = [layer for layer in self.fusion_layers
               if not 0 <= layer <= self.num_layers]
        if bad or not self.fusion_layers:
            raise ValueError(
                f'fusion_layers={tuple(fusion_layers)}: each layer must lie in '
                f'[0, {self.num_layers}] for this {self.num_layers}-block CLIP '
                '(0 = stem).')
        if classifier_start_block is not None and not (
                0 <= classifier_start_block < self.num_layers):
            raise ValueError(
                f'classifier_start_block={classifier_start_block} is beyond '
                f'this CLIP: it must lie in [0, {self.num_layers - 1}].')
        self.classifier_start_block = classifier_start_block
        self.patch_size = self.visual.patch_size[0]
        if clip_input_size % self.patch_size:
            raise ValueError(
                f'clip_input_size={clip_input_size} must be a multiple of the '
                f'CLIP patch size {self.patch_size}.')
        if base_size <= 0:
            raise ValueError(f'base_size={base_size} must be positive.')
        if max_views_per_pass is not None and max_views_per_pass < 1:
            raise ValueError(
                f'max_views_per_pass={max_views_per_pass} must be >= 1.')
        if slice_input_size is not None and (
                slice_input_size <= 0 or slice_input_size % self.patch_size):
            raise ValueError(
                f'slice_input_size={slice_input_size} must be a positive '
                f'multiple of the CLIP patch size {self.patch_size}.')
        self.clip_input_size = clip_input_size
        self.slice_input_size = slice_input_size
        self.base_size = base_size
        self.slice_ratio = slice_ratio
        self.max_views_per_pass = max_views_per_pass
        self.token_grid = (clip_input_size // self.patch_size, ) * 2
        self.embed_dims = self.visual.conv1.out_channels
        self.num_heads = blocks[0].attn.num_heads
        for param in self.parameters():
            param.requires_grad = False
        self.visual.eval()

    def _check_visual(self) -> None:
        needed = ('conv1', 'class_embedding', 'positional_embedding', 'ln_pre',
                  'transformer', 'ln_post', 'proj')
        missing = [name for name in needed if not hasattr(self.visual, name)]
        if missing or getattr(self.visual, 'attn_pool', None) is not None:
            raise TypeError(
                f'{type(self.visual).__name__} is not a plain open_clip '
                f'VisionTransformer with a [CLS] token (missing {missing}); '
                'MROVSeg needs a CLIP ViT.')

    def train(self, mode: bool = True) -> 'MultiResCLIPViT':
        """CLIP stays in eval mode: it is frozen."""
        super().train(mode)
        self.visual.eval()
        return self

    # ---------------------------------------------------------------- stem
    def embed(self, views: Tensor) -> Tensor:
        """Patch + position embedding and ``ln_pre``: (V, 3, S, S) -> (V, 1+hw, C)."""
        visual = self.visual
        x = visual.conv1(views)
        grid = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)  # (V, C, h, w) -> (V, hw, C)
        cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1)
        pos = interpolate_pos_embed(visual.positional_embedding,
                                    visual.grid_size, grid)
        return visual.ln_pre(x + pos.to(x.dtype))

    def _needed_depth(self) -> int:
        """Number of blocks whose full output is required."""
        depth = max(self.fusion_layers)
        if self.classifier_start_block is not None:
            depth = max(depth, self.num_layers - 1,
                        self.classifier_start_block)
        return depth

    def _run_views(self, views: Tensor) -> Tuple[Dict[int, Tensor], List]:
        """CLIP on a batch of views: tokens at fusion/classifier layers + k/v."""
        blocks = self.visual.transformer.resblocks
        start = self.classifier_start_block
        keep = set(self.fusion_layers)
        if start is not None:
            keep.add(start)
        depth = self._needed_depth()
        x = self.embed(views)
        tokens = {0: x} if 0 in keep else {}
        kv = []
        for index in range(self.num_layers):
            want_kv = start is not None and index >= start
            if index >= depth and not want_kv:
                break
            q, k, v = project_qkv(blocks[index], x)
            if want_kv:
                kv.append((k, v))
            if index >= depth:
                continue
            attended = F.scaled_dot_product_attention(q, k, v)
            x = finish_block(blocks[index], x, attended)
            if index + 1 in keep:
                tokens[index + 1] = x
        return tokens, kv

    # ------------------------------------------------------------- forward
    @torch.no_grad()
    def forward(self, images: Tensor) -> MultiResFeatures:
        """Encode a batch (B, 3, H, W) of normalized images."""
        batch = images.shape[0]
        height, width = images.shape[-2:]
        global_views, covered = global_view(images, self.clip_input_size)
        grid = slice_size = None
        if self.slice_ratio > 0:
            slice_size = self.slice_size(
                nominal_window(self.slice_ratio, self.base_size))
            grid = plan_slices((height, width), slice_ratio=self.slice_ratio,
                               base_size=self.base_size,
                               tokens=slice_size // self.patch_size)
        if grid is None:
            global_tokens, global_kv = self._encode_in_chunks(global_views)
            slice_tokens, slice_kv = {}, []
        elif slice_size == self.clip_input_size:
            # one CLIP batch for all views: (B + B*S, 3, s, s)
            views = torch.cat(
                [global_views, cut_slices(images, grid, slice_size)])
            tokens, kv = self._encode_in_chunks(views)
            global_tokens = {k: v[:batch] for k, v in tokens.items()}
            slice_tokens = {k: v[batch:] for k, v in tokens.items()}
            global_kv = [(k[:batch], v[:batch]) for k, v in kv]
            slice_kv = [(k[batch:], v[batch:]) for k, v in kv]
        else:
            global_tokens, global_kv = self._encode_in_chunks(global_views)
            slice_tokens, slice_kv = self._encode_in_chunks(
                cut_slices(images, grid, slice_size))
        layout = self._layout((height, width), covered, grid)
        features = MultiResFeatures(
            global_maps=[], slice_maps=[], fusion_layers=self.fusion_layers,
            layout=layout)
        for layer in self.fusion_layers:
            features.global_maps.append(self._to_map(global_tokens[layer]))
            if grid is not None:
                features.slice_maps.append(
                    restore_slices(self._to_map(slice_tokens[layer]), grid,
                                   batch))
        if self.classifier_start_block is not None:
            start = self.classifier_start_block
            features.cls_token = global_tokens[start][:, 0]
            features.classifier_kv = [
                (self._join_keys(gk, sk, batch), self._join_keys(gv, sv, batch))
                for (gk, gv), (sk, sv) in zip(
                    global_kv, slice_kv or [(None, None)] * len(global_kv))
            ]
            features.clip_tail = self.clip_tail()
        return features

    def slice_size(self, window: int) -> int:
        """Side in pixels at which slices of ``window`` pixels enter CLIP."""
        if self.slice_input_size is not None:
            return self.slice_input_size
        return max(1, round(window / self.patch_size)) * self.patch_size

    def clip_tail(self) -> CLIPTail:
        """The frozen CLIP parts the mask classifier's queries go through."""
        blocks = self.visual.transformer.resblocks
        return CLIPTail(
            blocks=list(blocks)[self.classifier_start_block:],
            ln_post=self.visual.ln_post,
            proj=self.visual.proj,
            logit_scale=self.logit_scale)

    def _encode_in_chunks(self, views: Tensor) -> Tuple[Dict[int, Tensor],
                                                        List]:
        chunk = self.max_views_per_pass
        if chunk is None or views.shape[0] <= chunk:
            return self._run_views(views)
        parts = [self._run_views(part) for part in views.split(chunk)]
        tokens = {layer: torch.cat([p[0][layer] for p in parts])
                  for layer in parts[0][0]}
        kv = [(torch.cat([p[1][i][0] for p in parts]),
               torch.cat([p[1][i][1] for p in parts]))
              for i in range(len(parts[0][1]))]
        return tokens, kv

    def _layout(self, image_size: Tuple[int, int], covered: Tuple[int, int],
                grid: Optional[SliceGrid]) -> MultiResLayout:
        # input pixels per global token, per axis: the view shows the image
        # at covered / image_size of its size
        global_pixels = tuple(self.patch_size * size / shown
                              for size, shown in zip(image_size, covered))
        if grid is None:
            return MultiResLayout(image_size, self.token_grid, global_pixels)
        return MultiResLayout(
            image_size, self.token_grid, global_pixels,
            slice_grid=grid.token_canvas,
            slice_token_pixels=(grid.token_pixels, ) * 2,
            slice_token_grid=(grid.tokens, ) * 2,
            slice_offsets=(grid.token_offsets_y, grid.token_offsets_x))

    def _to_map(self, tokens: Tensor) -> Tensor:
        """(V, 1+hw, C) -> (V, C, h, w), dropping [CLS]."""
        views, length, channels = tokens.shape
        side = round((length - 1)**0.5)
        return tokens[:, 1:].transpose(1, 2).reshape(views, channels, side,
                                                     side)

    @staticmethod
    def _join_keys(global_x: Tensor, slice_x: Optional[Tensor],
                   batch: int) -> Tensor:
        """Global keys ([CLS] first) then the slices' patch keys in slice
        order: (B, heads, 1+hw+S*t*t, d)."""
        if slice_x is None:
            return global_x
        views, heads, length, dims = slice_x.shape
        # (B*S, heads, 1+tt, d) -> (B, S, heads, tt, d) -> (B, heads, S*tt, d)
        x = slice_x[:, :, 1:].reshape(batch, views // batch, heads,
                                      length - 1, dims)
        x = x.transpose(1, 2).reshape(batch, heads, -1, dims)
        return torch.cat([global_x, x], dim=2)
