"""The MROVSeg segmentor: frozen multi-resolution CLIP + adapter + head."""
import dataclasses
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from ..decode_heads.mrovseg_head import HeadOutput
from ..text_encoders.vocabulary import parse_vocabulary
from ..utils.resampling import resize_region

VOCABULARY_MODES = ('train', 'test')


@MODELS.register_module()
class MROVSeg(BaseSegmentor):
    """Open-vocabulary segmentor with one frozen CLIP seen at two resolutions.

    The vocabulary is not part of the weights: the training and test
    vocabularies are set from the datasets' ``classes`` by
    ``VocabularyHook``, from the ``vocabulary`` argument, or at any time with
    :meth:`set_vocabulary`; their text embeddings are computed once per
    vocabulary by the text encoder.

    Args:
        backbone: :class:`MultiResCLIPViT` config.
        text_encoder: :class:`OpenCLIPTextEncoder` config (same CLIP).
        neck: :class:`MultiResAdapter` config.
        decode_head: :class:`MROVSegHead` config.
        vocabulary: class names for both modes, or a dict with ``train`` and/or
            ``test`` lists; None = set later.
        train_cfg: ``cut_padding`` (default True: each training image is
            seen without the data preprocessor's padding, as in testing, at
            the cost of one pass per padding in a batch; see :meth:`loss`).
        test_cfg: ``output_logits`` (store the K-class score map in
            ``seg_logits``; memory grows with K x H x W) and
            ``pixels_per_chunk`` (output pixels scored at once when turning
            masks into labels, default 16384: small enough for the scores to
            stay in the CPU cache between the product and the argmax).
    """

    def __init__(self,
                 *,
                 backbone: dict,
                 text_encoder: dict,
                 neck: dict,
                 decode_head: dict,
                 vocabulary: Optional[Union[Sequence[str], Dict]] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.text_encoder = MODELS.build(text_encoder)
        self.neck = MODELS.build(neck)
        self.decode_head = MODELS.build(decode_head)
        if self.neck.num_queries != self.decode_head.num_queries:
            raise ValueError(
                f'neck.num_queries={self.neck.num_queries} and '
                f'decode_head.num_queries={self.decode_head.num_queries} must '
                'be equal: the head predicts one mask per adapter query.')
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}
        self._vocabulary: Dict[str, Optional[List[str]]] = dict(train=None,
                                                                test=None)
        if isinstance(vocabulary, dict):
            for mode, names in vocabulary.items():
                self.set_vocabulary(names, mode=mode)
        elif vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ------------------------------------------------------------ vocabulary
    def set_vocabulary(self, class_names: Sequence[str],
                       mode: str = 'both') -> None:
        """Use ``class_names`` for training, testing or both.

        Names may carry comma-separated synonyms ("sofa, couch").
        """
        if mode not in VOCABULARY_MODES + ('both', ):
            raise ValueError(f"mode={mode!r}: use 'train', 'test' or 'both'.")
        parse_vocabulary(class_names)
        modes = VOCABULARY_MODES if mode == 'both' else (mode, )
        for name in modes:
            self._vocabulary[name] = list(class_names)

    def vocabulary(self, mode: str = 'test') -> List[str]:
        names = self._vocabulary[mode]
        if names is None:
            raise RuntimeError(
                f'MROVSeg has no {mode} vocabulary: add VocabularyHook to '
                "custom_hooks (it reads the dataset's classes), pass "
                'vocabulary=... in the model config, or call '
                'model.set_vocabulary([...]).')
        return names

    def text_embeds(self, mode: str) -> Tensor:
        """(K, D) normalized class embeddings of the ``mode`` vocabulary."""
        return self.text_encoder(self.vocabulary(mode))

    # -------------------------------------------------------------- features
    def extract_feat(self, inputs: Tensor):
        return self.backbone(inputs)

    def _run(self, inputs: Tensor, mode: str,
             with_intermediate: bool = False) -> List[HeadOutput]:
        features = self.extract_feat(inputs)
        adapter = self.neck(features)
        return self.decode_head(features, adapter, self.text_embeds(mode),
                                with_intermediate=with_intermediate)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses of a training batch, its padding treated as at test time.

        The data preprocessor pads every training crop to one size. As in
        :meth:`predict`, the padding is cut off before the model sees an
        image: images that share one padding go through the model together,
        each seeing its own global view and slice canvas, whose padding the
        adapter and the classifier mask out. The losses are those of the
        whole batch (one matching and one normalization over all images).
        ``train_cfg.cut_padding=False`` keeps the batch whole instead (one
        pass, padding seen as image).
        """
        text_embeds = self.text_embeds('train')
        cut_padding = self.train_cfg.get('cut_padding', True)
        if cut_padding:
            parts = group_by_padding(inputs, data_samples)
        else:
            parts = [(list(range(inputs.shape[0])), inputs)]
        groups = []
        for indices, images in parts:
            features = self.extract_feat(images)
            adapter = self.neck(features)
            outputs = self.decode_head(features, adapter, text_embeds,
                                       with_intermediate=True)
            samples = [data_samples[i] for i in indices]
            if cut_padding:
                samples = [unpadded(sample) for sample in samples]
            groups.append((outputs, samples))
        return self.decode_head.loss_from_outputs(
            groups, stage_names=[f'd{b}.' for b in adapter.intermediate_blocks]
            + [''])

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        """Final-stage class logits (B, N, K+1) and mask logits (B, N, h, w).

        The mask logits cover the slice canvas, which may reach past the
        image; :meth:`predict_masks` also says which part shows it.
        """
        output = self._run(inputs, 'test')[-1]
        return output.cls_logits, output.mask_logits

    def predict_masks(self, inputs: Tensor) -> HeadOutput:
        """Final-stage output for the test vocabulary, with the region of
        the mask logits that shows the input."""
        return self._run(inputs, 'test')[-1]

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Class scores (B, K, H, W) at the input size."""
        output = self._run(inputs, 'test')[-1]
        masks = resize_region(output.mask_logits, output.mask_region,
                              inputs.shape[-2:])
        return self.decode_head.semantic_scores(output.cls_logits, masks)

    # --------------------------------------------------------------- predict
    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Label maps at each image's original size, under ``inference_mode``.

        The preprocessor's padding is cut off first; images of a batch that
        are padded differently go through the model in separate passes, so
        each is predicted as if it were alone.

        The text encoder leaves inference mode to compute class embeddings,
        so the ones it caches here stay usable when training resumes.
        """
        if data_samples is None:
            data_samples = [None] * inputs.shape[0]
        results = [None] * inputs.shape[0]
        with torch.inference_mode():
            for indices, images in group_by_padding(inputs, data_samples):
                output = self._run(images, 'test')[-1]
                # under autocast the network's output is half precision; the
                # masks are resized and scored in float32 all the same
                output = dataclasses.replace(
                    output, cls_logits=output.cls_logits.float(),
                    mask_logits=output.mask_logits.float())
                with torch.autocast(images.device.type, enabled=False):
                    samples = self.postprocess_masks(
                        output, images.shape[-2:],
                        [data_samples[i] for i in indices],
                        padding_cropped=True)
                for index, sample in zip(indices, samples):
                    results[index] = sample
        return results

    @staticmethod
    def crop_padding(inputs: Tensor,
                     data_samples: OptSampleList) -> Tuple[Tensor, bool]:
        """Drop the data preprocessor's padding from a test batch.

        Padding added by ``SegDataPreProcessor(test_cfg=...)`` is not image:
        cut off, it is seen by the model as padding of the global view and
        of the slice canvas, which are masked out. Returns the inputs and
        whether they were cropped (all images must share one padding).
        """
        pads = {
            _padding(sample.metainfo) if sample is not None else None
            for sample in data_samples
        }
        if len(pads) != 1 or None in pads or not any(next(iter(pads))):
            return inputs, False
        left, right, top, bottom = next(iter(pads))
        height, width = inputs.shape[-2:]
        return inputs[..., top:height - bottom, left:width - right], True

    def postprocess_masks(self,
                          output: HeadOutput,
                          input_size,
                          data_samples: SampleList,
                          padding_cropped: bool = False) -> SampleList:
        """Per image: masks to the original size, then Eq. 9 and argmax.

        Args:
            padding_cropped: the inputs were cut to the images already
                (:meth:`crop_padding`), the padding in the metainfo is gone.
        """
        from mmseg.structures import SegDataSample
        results = []
        for index, sample in enumerate(data_samples):
            if sample is None:
                sample = SegDataSample()
                sample.set_metainfo(dict(ori_shape=tuple(input_size),
                                         img_shape=tuple(input_size)))
            meta = (without_padding(sample.metainfo)
                    if padding_cropped else sample.metainfo)
            masks = self.restore_masks(output.mask_logits[index:index + 1],
                                       input_size, meta, output.mask_region)
            ori_shape = tuple(
                sample.metainfo.get('ori_shape', masks.shape[-2:]))[:2]
            labels, scores = self._label_map(
                output.cls_logits[index:index + 1], masks, ori_shape)
            sample.set_data(dict(pred_sem_seg=PixelData(data=labels)))
            if scores is not None:
                sample.set_data(dict(seg_logits=PixelData(data=scores)))
            results.append(sample)
        return results

    @staticmethod
    def restore_masks(mask_logits: Tensor,
                      input_size,
                      meta: dict,
                      region: Optional[Tuple[float, float]] = None) -> Tensor:
        """Mask logits of one image at its input size, padding and flip undone.

        Args:
            mask_logits: (1, N, h, w) logits at the head's resolution.
            input_size: (H_in, W_in) of the (padded) network input.
            meta: the image's metainfo (``img_padding_size`` or
                ``padding_size``, ``flip``, ``flip_direction``).
            region: (rows, cols) of ``mask_logits`` that show the network
                input (``HeadOutput.mask_region``); the rest is the padding
                of the slice canvas or of the global view. None = all.

        Returns:
            (1, N, H', W') logits on the un-padded, un-flipped input.
        """
        if region is None:
            region = mask_logits.shape[-2:]
        masks = resize_region(mask_logits, region, tuple(input_size))
        pad = _padding(meta)
        if pad is not None:
            left, right, top, bottom = pad
            masks = masks[..., top:masks.shape[-2] - bottom,
                          left:masks.shape[-1] - right]
        if meta.get('flip', False):
            dims = (3, ) if meta['flip_direction'] == 'horizontal' else (2, )
            masks = masks.flip(dims)
        return masks

    def _label_map(self, cls_logits: Tensor, masks: Tensor,
                   out_size: Tuple[int, int]):
        """Argmax of Eq. 9 at ``out_size`` in row chunks; (1, H, W) labels
        (+ (K, H, W) scores with ``output_logits``)."""
        keep_scores = self.test_cfg.get('output_logits', False)
        pixels = self.test_cfg.get('pixels_per_chunk', 2**14)
        rows = max(1, pixels // out_size[1])
        labels, scores = [], []
        for _, chunk in score_rows(cls_logits, masks, out_size, rows):
            labels.append(chunk.argmax(dim=-1))
            if keep_scores:
                scores.append(chunk.permute(2, 0, 1))  # (r, W, K) -> (K, r, W)
        label_map = torch.cat(labels, dim=0)[None]
        return label_map, (torch.cat(scores, dim=1) if keep_scores else None)


def group_by_padding(inputs: Tensor,
                     data_samples: Sequence) -> List[Tuple[List[int], Tensor]]:
    """Split a padded batch into images that share one padding.

    Args:
        inputs: (B, 3, H, W) batch padded by the data preprocessor.
        data_samples: B samples (or None) whose metainfo gives the padding.

    Returns:
        Per padding, in order of first appearance: the batch indices and
        their inputs with that padding cut off, (b, 3, H - top - bottom,
        W - left - right).
    """
    groups: Dict[Tuple[int, int, int, int], List[int]] = {}
    for index, sample in enumerate(data_samples):
        pad = _padding(sample.metainfo) if sample is not None else None
        groups.setdefault(pad or (0, 0, 0, 0), []).append(index)
    height, width = inputs.shape[-2:]
    result = []
    for (left, right, top, bottom), indices in groups.items():
        images = inputs if len(indices) == inputs.shape[0] else inputs[indices]
        result.append(
            (indices, images[..., top:height - bottom, left:width - right]))
    return result


def unpadded(sample):
    """A training sample whose label map has the preprocessor's padding cut
    off, the shape of the image its inputs were cut to."""
    from mmseg.structures import SegDataSample
    pad = _padding(sample.metainfo)
    if pad is None or not any(pad):
        return sample
    left, right, top, bottom = pad
    seg = sample.gt_sem_seg.data
    height, width = seg.shape[-2:]
    result = SegDataSample(metainfo=without_padding(sample.metainfo))
    result.gt_sem_seg = PixelData(
        data=seg[..., top:height - bottom, left:width - right])
    return result


def without_padding(meta: dict) -> dict:
    """A copy of an image's metainfo without the preprocessor's padding."""
    return {key: value for key, value in meta.items()
            if key not in ('img_padding_size', 'padding_size')}


def _padding(meta: dict) -> Optional[Tuple[int, int, int, int]]:
    """(left, right, top, bottom) padding of the data preprocessor, or None."""
    pad = meta.get('img_padding_size', meta.get('padding_size'))
    return None if pad is None else tuple(int(p) for p in pad)


def score_rows(cls_logits: Tensor,
               masks: Tensor,
               out_size: Tuple[int, int],
               row_chunk: int,
               resize_pixels: int = 2**18) -> Iterator[Tuple[int, Tensor]]:
    """Eq. 9 class scores at ``out_size``, a band of rows at a time.

    The masks are resized to ``out_size`` band by band (bilinear, as
    ``F.interpolate(..., align_corners=False)``), so no (N, H, W) or
    (K, H, W) tensor of the full output is ever formed. Masks are resized
    about ``resize_pixels`` output pixels at a time (fewer, larger calls);
    the scores are computed and yielded ``row_chunk`` rows at a time (small
    enough to stay in the CPU cache until the caller has used them).

    Args:
        cls_logits: (1, N, K + 1) class logits, last = no object.
        masks: (1, N, h, w) mask logits.
        out_size: (H, W) of the scores.
        row_chunk: rows per yielded band.
        resize_pixels: output pixels per mask-resize call (rounded to whole
            multiples of ``row_chunk`` rows).

    Yields:
        (first row, (r, W, K) scores) for consecutive bands of r rows. The
        class axis is last: the product runs as (r*W, N) @ (N, K), which BLAS
        does near its peak, and a per-pixel max or argmax reads contiguous
        memory.
    """
    probs = F.softmax(cls_logits, dim=-1)[0, :, :-1].contiguous()  # (N, K)
    num_masks = masks.shape[1]
    height, width = out_size
    resize_chunk = row_chunk * max(1, resize_pixels // (row_chunk * width))
    resize_chunk = min(resize_chunk, height)
    # one buffer for the resized masks of every resize band
    buffer = masks.new_empty(num_masks * resize_chunk * width)
    for band_start in range(0, height, resize_chunk):
        band_stop = min(band_start + resize_chunk, height)
        band = buffer[:num_masks * (band_stop - band_start) * width].view(
            num_masks, band_stop - band_start, width)  # (N, R, W)
        resize_rows(masks[0], out_size, band_start, band_stop,
                    out=band).sigmoid_()
        # (N, R, W) -> (N, R*W): a band of r rows is a run of r*W columns
        flat = band.flatten(1)
        for start in range(band_start, band_stop, row_chunk):
            stop = min(start + row_chunk, band_stop)
            columns = flat[:, (start - band_start) * width:(stop - band_start) *
                           width]
            # (N, r*W) -> (r*W, N); (r*W, N) @ (N, K) -> (r*W, K)
            scores = columns.t() @ probs
            yield start, scores.view(stop - start, width, -1)


def resize_rows(maps: Tensor,
                out_size: Tuple[int, int],
                start: int,
                stop: int,
                out: Optional[Tensor] = None) -> Tensor:
    """Rows [start, stop) of a bilinear resize of (C, h, w) maps to out_size.

    Same sampling as ``F.interpolate(maps[None], out_size, mode='bilinear',
    align_corners=False)[0, :, start:stop]``, without forming the rest.

    Args:
        out: optional (C, stop - start, W) tensor to write the rows into.

    Returns:
        (C, stop - start, W): ``out``, or a new tensor.
    """
    if out is None:
        out = maps.new_empty(maps.shape[0], stop - start, out_size[1])
    height, width = maps.shape[-2:]
    if (height, width) == tuple(out_size):
        return out.copy_(maps[:, start:stop])
    scale = torch.tensor(float(height)) / out_size[0]  # float32, as torch
    dst = torch.arange(start, stop, dtype=torch.float32)
    src = ((dst + 0.5) * scale - 0.5).clamp(min=0)  # (r, ) source rows
    top = src.long().clamp(max=height - 1)
    bottom = (top + 1).clamp(max=height - 1)
    weight = (src - top).clamp(0, 1)
    first, last = int(top[0]), int(bottom[-1]) + 1
    # only the source rows this band reads, resized along the width
    band = F.interpolate(maps[:, first:last], size=out_size[1], mode='linear',
                         align_corners=False)  # (C, s, w) -> (C, s, W)
    # runs of output rows that read the same two source rows: one lerp each
    tops, lengths = torch.unique_consecutive(top, return_counts=True)
    row = 0
    for source, length in zip(tops.tolist(), lengths.tolist()):
        pair = band[:, [source - first, int(bottom[row]) - first]]  # (C, 2, W)
        torch.lerp(pair[:, :1], pair[:, 1:],
                   weight[row:row + length, None].to(band),
                   out=out[:, row:row + length])
        row += length
    return out  # (C, r, W)
