"""The MROVSeg segmentor: frozen multi-resolution CLIP + adapter + head."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from ..decode_heads.mrovseg_head import HeadOutput
from ..text_encoders.vocabulary import parse_vocabulary

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
        test_cfg: ``output_logits`` (store the K-class score map in
            ``seg_logits``; memory grows with K x H x W) and ``row_chunk``
            (image rows scored at once when turning masks into labels).
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
        features = self.extract_feat(inputs)
        adapter = self.neck(features)
        return self.decode_head.loss(features, adapter,
                                     self.text_embeds('train'), data_samples)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        """Final-stage class logits (B, N, K+1) and mask logits (B, N, h, w)."""
        output = self._run(inputs, 'test')[-1]
        return output.cls_logits, output.mask_logits

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Class scores (B, K, H, W) at the input size."""
        output = self._run(inputs, 'test')[-1]
        masks = F.interpolate(output.mask_logits, size=inputs.shape[-2:],
                              mode='bilinear', align_corners=False)
        return self.decode_head.semantic_scores(output.cls_logits, masks)

    # --------------------------------------------------------------- predict
    def predict(self, inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        if data_samples is None:
            data_samples = [None] * inputs.shape[0]
        output = self._run(inputs, 'test')[-1]
        return self.postprocess_masks(output, inputs.shape[-2:], data_samples)

    def postprocess_masks(self, output: HeadOutput, input_size,
                          data_samples: SampleList) -> SampleList:
        """Per image: masks to the original size, then Eq. 9 and argmax."""
        from mmseg.structures import SegDataSample
        results = []
        for index, sample in enumerate(data_samples):
            if sample is None:
                sample = SegDataSample()
                sample.set_metainfo(dict(ori_shape=tuple(input_size),
                                         img_shape=tuple(input_size)))
            meta = sample.metainfo
            masks = output.mask_logits[index:index + 1]
            masks = F.interpolate(masks, size=tuple(input_size),
                                  mode='bilinear', align_corners=False)
            pad = meta.get('img_padding_size', meta.get('padding_size'))
            if pad is not None:
                left, right, top, bottom = pad
                masks = masks[..., top:masks.shape[-2] - bottom,
                              left:masks.shape[-1] - right]
            if meta.get('flip', False):
                dims = (3, ) if meta['flip_direction'] == 'horizontal' else (2, )
                masks = masks.flip(dims)
            ori_shape = tuple(meta.get('ori_shape', masks.shape[-2:]))[:2]
            if tuple(masks.shape[-2:]) != ori_shape:
                masks = F.interpolate(masks, size=ori_shape, mode='bilinear',
                                      align_corners=False)
            labels, scores = self._label_map(output.cls_logits[index:index + 1],
                                             masks)
            sample.set_data(dict(pred_sem_seg=PixelData(data=labels)))
            if scores is not None:
                sample.set_data(dict(seg_logits=PixelData(data=scores)))
            results.append(sample)
        return results

    def _label_map(self, cls_logits: Tensor, masks: Tensor):
        """Argmax of Eq. 9 in row chunks; (1, H, W) labels (+ scores)."""
        keep_scores = self.test_cfg.get('output_logits', False)
        row_chunk = self.test_cfg.get('row_chunk', 256)
        probs = F.softmax(cls_logits, dim=-1)[0, :, :-1]  # (N, K)
        labels, scores = [], []
        for rows in masks[0].split(row_chunk, dim=1):  # (N, r, W)
            chunk = torch.einsum('nk,nhw->khw', probs, rows.sigmoid())
            labels.append(chunk.argmax(dim=0))
            if keep_scores:
                scores.append(chunk)
        label_map = torch.cat(labels, dim=0)[None]
        return label_map, (torch.cat(scores, dim=1) if keep_scores else None)
