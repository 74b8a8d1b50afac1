"""Frozen CLIP text tower that turns a vocabulary into class embeddings."""
import os
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple, Union

import open_clip
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.open_clip_loader import build_open_clip
from .embedding_cache import (CACHE_FORMAT_VERSION, as_json_lists, entry_path,
                              file_identity, load_embeddings, save_embeddings,
                              tensors_digest)
from .templates import resolve_templates
from .vocabulary import Synonyms, parse_vocabulary

# Pooling types whose pooled token depends only on the tokens up to it, so
# that, with the causal mask, cutting the padding off changes nothing.
TRUNCATABLE_POOL_TYPES = ('argmax', 'eos', 'first')


@MODELS.register_module()
class OpenCLIPTextEncoder(BaseModule):
    """Class embeddings from the text tower of a frozen open_clip CLIP.

    Embedding of class k with synonyms s_1..s_m and templates t_1..t_T:

        e(s, t) = normalize(text_tower(t.format(s)))
        e(s)    = normalize(mean_t e(s, t))
        e_k     = normalize(mean_s e(s))

    so every synonym weighs the same whatever its wording, and a class without
    synonyms gets exactly open_clip's ``build_zero_shot_classifier`` weight.

    Prompts are encoded in batches of ``prompts_per_batch`` (sorted by token
    length), each only up to its longest prompt: with CLIP's causal mask the
    pooled end-of-text feature does not depend on the padding after it.
    Encoding runs under ``torch.no_grad`` with autocast off (float32 for
    float32 weights) and never under ``inference_mode``, so the embeddings can
    enter autograd graphs (e.g. logits of trainable queries).

    Results are cached in memory per vocabulary (the last
    ``MEMORY_CACHE_SIZE`` vocabularies, keyed by the exact tuple of names) and,
    with ``cache_dir``, on disk keyed by the architecture, the weights (tag,
    file path + size + mtime, or a hash of the text-tower weights for random
    weights or after a state dict was loaded into this module), tokenizer,
    templates, parsed vocabulary and open_clip version. Returned tensors are
    shared with the cache: do not modify them in place.

    Only the text tower is kept (the visual tower is dropped). Its parameters
    never require grad and the module stays in eval mode under ``train()``.

    Supports open_clip ``CLIP`` models with a causal text transformer and
    ``argmax``, ``eos`` or ``first`` pooling (all OpenAI and LAION CLIPs);
    others (SigLIP, CoCa, Hugging Face text towers) raise ValueError.

    Args:
        model_name, pretrained, model_cfg, clip_cache_dir: which CLIP to load,
            see :func:`build_open_clip`.
        templates: a template set name (``'vild'``, ``'imagenet'``,
            ``'single'``) or a list of ``'{}'`` strings.
        cache_dir: folder of the on-disk embedding cache; None = memory only.
        prompts_per_batch: prompts per text-tower forward.
    """

    MEMORY_CACHE_SIZE = 8

    def __init__(self,
                 *,
                 model_name: Optional[str] = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 clip_cache_dir: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'vild',
                 cache_dir: Optional[str] = None,
                 prompts_per_batch: int = 256,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if (not isinstance(prompts_per_batch, int)
                or isinstance(prompts_per_batch, bool)
                or prompts_per_batch < 1):
            raise ValueError(f'prompts_per_batch={prompts_per_batch!r} must '
                             'be a positive int.')
        self.templates = resolve_templates(templates)
        clip = build_open_clip(
            model_name=model_name,
            pretrained=pretrained,
            model_cfg=model_cfg,
            cache_dir=clip_cache_dir)
        _check_text_tower(
            clip,
            model_name if model_cfg is None else f'model_cfg={model_cfg}')
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.register_buffer('attn_mask', clip.attn_mask, persistent=False)
        self.pool_type = clip.text_pool_type
        self.eos_id = clip.text_eos_id
        self.context_length = clip.context_length
        del clip  # frees the visual tower

        self.tokenizer = open_clip.get_tokenizer(
            model_name if model_cfg is None else '',
            context_length=self.context_length)
        self.prompts_per_batch = prompts_per_batch
        self.cache_dir = cache_dir
        self._architecture = model_name if model_cfg is None else model_cfg
        self._pretrained = pretrained
        self._weights_from_state_dict = False
        self._weights_id: Optional[dict] = None
        self._memory: 'OrderedDict[Tuple, Tensor]' = OrderedDict()
        for param in self.parameters():
            param.requires_grad = False
        self.eval()

    @property
    def embed_dims(self) -> int:
        """C, the dimension of the class embeddings."""
        if self.text_projection is None:
            return self.transformer.width
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection.out_features
        return self.text_projection.shape[1]

    def train(self, mode: bool = True) -> 'OpenCLIPTextEncoder':
        """Stay in eval mode whatever ``mode``: the tower is frozen."""
        return super().train(False)

    def set_templates(self, templates: Union[str, Sequence[str]]) -> None:
        """Use other prompt templates from now on (drops the memory cache)."""
        templates = resolve_templates(templates)
        if templates != self.templates:
            self.templates = templates
            self._memory.clear()

    def forward(self, class_names: Sequence[str]) -> Tensor:
        """Embed a vocabulary.

        Args:
            class_names: K class names; commas separate synonyms
                (``'sofa, couch'``), see :func:`parse_vocabulary`.

        Returns:
            (K, C) L2-normalized float32 class embeddings on this module's
            device.
        """
        classes = parse_vocabulary(class_names)
        device = self.positional_embedding.device
        key = tuple(class_names)
        embeddings = self._memory.get(key)
        if embeddings is None:
            # leave a caller's inference_mode: cached embeddings must stay
            # usable in autograd graphs (training after a validation run)
            with torch.inference_mode(False):
                embeddings = self._load_or_encode(classes)
        embeddings = embeddings.to(device)
        self._memory[key] = embeddings
        self._memory.move_to_end(key)
        while len(self._memory) > self.MEMORY_CACHE_SIZE:
            self._memory.popitem(last=False)
        return embeddings

    def encode_prompts(self, prompts: Sequence[str]) -> Tensor:
        """Encode P prompts into (P, C) L2-normalized float32 embeddings."""
        tokens = self.tokenizer(list(prompts))  # (P, context_length)
        pool_index = self._pool_index(tokens)  # (P, )
        device = self.positional_embedding.device
        embeddings = torch.empty(len(prompts), self.embed_dims, device=device)
        order = torch.argsort(pool_index, stable=True)  # shortest first
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            for batch in order.split(self.prompts_per_batch):
                embeddings[batch.to(device)] = self._encode_tokens(
                    tokens[batch].to(device), pool_index[batch].to(device))
        return embeddings

    def _encode_tokens(self, tokens: Tensor, pool_index: Tensor) -> Tensor:
        """Text tower on tokens cut after the last pooled position.

        Args:
            tokens: (n, context_length) token ids.
            pool_index: (n, ) position of the pooled token of each prompt.

        Returns:
            (n, C) L2-normalized float32 embeddings.
        """
        length = int(pool_index.max()) + 1
        tokens = tokens[:, :length]  # (n, context_length) -> (n, L)
        cast_dtype = self.transformer.get_cast_dtype()
        x = self.token_embedding(tokens).to(cast_dtype)  # (n, L, D)
        x = x + self.positional_embedding[:length].to(cast_dtype)
        causal = self.attn_mask[:length, :length].to(cast_dtype)  # (L, L)
        x = self.transformer(x, attn_mask=causal)
        x = self.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), pool_index]  # (n, D)
        if isinstance(self.text_projection, nn.Linear):
            x = self.text_projection(x)
        elif self.text_projection is not None:
            x = x @ self.text_projection  # (n, D) -> (n, C)
        return F.normalize(x.float(), dim=-1)

    def _pool_index(self, tokens: Tensor) -> Tensor:
        """(P, context_length) token ids -> (P, ) pooled positions."""
        if self.pool_type == 'argmax':  # end-of-text has the largest id
            return tokens.argmax(dim=-1)
        if self.pool_type == 'eos':
            return (tokens == self.eos_id).int().argmax(dim=-1)
        return torch.zeros(tokens.shape[0], dtype=torch.long)

    def _encode_vocabulary(self, classes: List[Synonyms]) -> Tensor:
        """K synonym lists -> (K, C) class embeddings (rule in class doc)."""
        synonyms = [synonym for names in classes for synonym in names]
        prompts = [
            template.format(synonym) for synonym in synonyms
            for template in self.templates
        ]
        embeddings = self.encode_prompts(prompts)  # (S * T, C)
        embeddings = embeddings.view(len(synonyms), len(self.templates),
                                     -1)  # (S * T, C) -> (S, T, C)
        embeddings = F.normalize(embeddings.mean(dim=1), dim=-1)  # (S, C)
        per_class = embeddings.split([len(names) for names in classes])
        embeddings = torch.stack([group.mean(dim=0) for group in per_class])
        return F.normalize(embeddings, dim=-1)  # (K, C)

    def _load_or_encode(self, classes: List[Synonyms]) -> Tensor:
        """Class embeddings from the disk cache, or encoded (and stored)."""
        if self.cache_dir is None:
            return self._encode_vocabulary(classes)
        path = entry_path(self.cache_dir, self._cache_fields(classes))
        embeddings = load_embeddings(path, classes)
        if embeddings is None:
            embeddings = self._encode_vocabulary(classes)
            save_embeddings(path, embeddings, classes)
        return embeddings

    def _cache_fields(self, classes: List[Synonyms]) -> dict:
        """Everything the embeddings of ``classes`` depend on."""
        if self._weights_id is None:
            self._weights_id = self._weights_identity()
        return dict(
            format=CACHE_FORMAT_VERSION,
            architecture=self._architecture,
            weights=self._weights_id,
            tokenizer=[type(self.tokenizer).__name__, self.context_length],
            templates=list(self.templates),
            classes=as_json_lists(classes),
            open_clip=open_clip.__version__)

    def _weights_identity(self) -> dict:
        """Tag, file identity, or hash of the text-tower weights."""
        pretrained = self._pretrained
        if pretrained is None or self._weights_from_state_dict:
            return dict(sha256=tensors_digest(self.state_dict().items()))
        if os.path.isfile(pretrained):
            return dict(file=file_identity(pretrained))
        return dict(tag=pretrained)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """After weights are loaded into this module, key caches by hash."""
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if any(name.startswith(prefix) for name in state_dict):
            self._weights_from_state_dict = True
            self._weights_id = None
            self._memory.clear()


def _check_text_tower(clip: nn.Module, source: str) -> None:
    """Raise ValueError unless ``clip`` has a truncatable causal text tower."""
    if not hasattr(clip, 'token_embedding'):
        raise ValueError(
            f'{source}: OpenCLIPTextEncoder needs an open_clip CLIP with its '
            f'own text transformer; {type(clip).__name__} models (SigLIP, '
            'CoCa, Hugging Face text towers) are not supported.')
    if clip.attn_mask is None:
        raise ValueError(f'{source}: the text transformer has no causal '
                         'mask, so prompts cannot be encoded truncated.')
    if clip.text_pool_type not in TRUNCATABLE_POOL_TYPES:
        raise ValueError(
            f'{source}: text_pool_type={clip.text_pool_type!r} is not '
            f'supported; expected one of {TRUNCATABLE_POOL_TYPES}.')
