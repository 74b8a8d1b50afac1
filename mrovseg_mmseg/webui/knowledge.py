"""What a served model knows, as the page states it (no gradio here).

MROVSeg names a region by matching its CLIP features with the text
embeddings of the class names. Segmentation training fits everything around
the frozen CLIP on the training set's names only. A name it never saw is
still placed sensibly when the CLIP was pretrained on image-text pairs (open
vocabulary); with a CLIP that was never pretrained it gets an arbitrary
embedding, and whatever region it wins is chance.

*Training names* are the classes the checkpoint's training set had
(``meta['dataset_meta']['classes']``, which mmengine's runner saves), else
the classes of the config's training dataset.

*CLIP pretrained* is read from the config the model was trained with: the
one the checkpoint records (``meta['cfg']``, which mmengine's runner saves
with any ``--cfg-options``, such as the zero-shot demo's CLIP path), else the
served config. The CLIP counts as pretrained when both of its towers name
weights (``model.backbone.pretrained`` and ``model.text_encoder.pretrained``:
an open_clip tag such as ``'openai'``, or a file such as the one
``tools/pretrain_clip.py`` writes), and as never pretrained when neither does
and training did not start from another checkpoint (``load_from``). Anything
else (one tower only, or ``load_from``) cannot be told from the config: the
page then gives no warning but says so. The CLIP weights inside a checkpoint
say nothing either way: training saves the frozen CLIP, random or not.
"""
import html
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from mmengine.config import Config

from ..models.text_encoders.vocabulary import parse_vocabulary


@dataclass(frozen=True)
class ModelKnowledge:
    """What the page says about the served model.

    Attributes:
        train_classes: the names segmentation training saw; None when
            neither the checkpoint nor the config records them.
        clip_pretrained: True, False (never pretrained: only the training
            names mean anything), or None (cannot be told).
        clip_source: where the CLIP weights came from, as shown on the page.
    """
    train_classes: Optional[Tuple[str, ...]]
    clip_pretrained: Optional[bool]
    clip_source: str


def training_config(cfg: Config, meta: Optional[dict]) -> Config:
    """The config recorded in the checkpoint's meta, else ``cfg``."""
    text = (meta or {}).get('cfg')
    if isinstance(text, str) and text.strip():
        try:
            return Config.fromstring(text, '.py')
        except Exception:  # an unreadable record: fall back on the file
            pass
    return cfg


def clip_origin(cfg: Config) -> Tuple[Optional[bool], str]:
    """(pretrained, source) of a model config's CLIP; see the module doc."""
    model = cfg.get('model') or {}
    sources = [(model.get(part) or {}).get('pretrained')
               for part in ('backbone', 'text_encoder')]
    load_from = cfg.get('load_from')
    if all(sources):
        shown = sources[0] if sources[0] == sources[1] else (
            f'{sources[0]} (image tower), {sources[1]} (text tower)')
        return True, str(shown)
    if not any(sources) and not load_from:
        return False, 'random weights (pretrained=None)'
    if load_from:
        return None, f'the checkpoint training started from, {load_from}'
    return None, 'pretrained weights for one tower only'


def config_train_classes(cfg: Config) -> Optional[Tuple[str, ...]]:
    """The classes of the config's training dataset: its ``metainfo``,
    else its type's ``METAINFO``; None if neither names them."""
    from mmseg.registry import DATASETS
    dataset = ((cfg.get('train_dataloader') or {}).get('dataset') or {})
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None and isinstance(dataset.get('type'), str):
        dataset_class = DATASETS.get(dataset['type'])
        classes = getattr(dataset_class, 'METAINFO', {}).get('classes')
    return tuple(classes) if classes else None


def model_knowledge(cfg: Config, meta: Optional[dict]) -> ModelKnowledge:
    """What the page says about a model served with config ``cfg`` and the
    checkpoint meta ``meta`` (None or {} without a checkpoint)."""
    trained_with = training_config(cfg, meta)
    classes = ((meta or {}).get('dataset_meta') or {}).get('classes')
    if not classes:
        classes = config_train_classes(trained_with)
    pretrained, source = clip_origin(trained_with)
    return ModelKnowledge(
        train_classes=tuple(classes) if classes else None,
        clip_pretrained=pretrained,
        clip_source=source)


def _synonyms(name: str) -> Tuple[str, ...]:
    return tuple(' '.join(part.split()).casefold() for part in name.split(','))


def unseen_classes(classes: Sequence[str],
                   train_classes: Optional[Sequence[str]]) -> Tuple[str, ...]:
    """The names in ``classes`` segmentation training never saw.

    A class counts as seen when each of its synonyms is a synonym of a
    training class (case and spacing ignored): 'Sofa' was seen if training
    had 'sofa, couch'; 'sky, clouds' was not if it had 'sky' only. Without
    training classes nothing is called unseen.
    """
    if not train_classes:
        return ()
    known = {word for name in train_classes for word in _synonyms(name)}
    return tuple(name for name in classes if not set(_synonyms(name)) <= known)


NEVER_PRETRAINED = (
    '**Only its training names mean anything:** this model\'s CLIP was never '
    'pretrained (its config sets `pretrained=None` for both towers), so a '
    'name segmentation training did not see gets an arbitrary text '
    'embedding, and the regions it is given are chance.')
OPEN_VOCABULARY = (
    'Its CLIP was pretrained (`{source}`), so other names are open '
    'vocabulary: they are matched through what the CLIP learned, usually '
    'less reliably than the training names.')
UNKNOWN_CLIP = (
    'Whether its CLIP was pretrained cannot be told from the config (CLIP '
    'weights: {source}); with a CLIP that was never pretrained, only the '
    'training names mean anything.')


def knowledge_text(knowledge: ModelKnowledge) -> str:
    """The paragraph under the page's title (Markdown)."""
    if knowledge.train_classes:
        names = ', '.join(f'`{name}`' for name in knowledge.train_classes)
        seen = (f'Segmentation training saw {len(knowledge.train_classes)} '
                f'names: {names}.')
    else:
        seen = ('The names segmentation training saw are recorded neither '
                'in the checkpoint nor in the config.')
    template = {
        True: OPEN_VOCABULARY,
        False: NEVER_PRETRAINED,
        None: UNKNOWN_CLIP
    }[knowledge.clip_pretrained]
    return f'{seen} {template.format(source=knowledge.clip_source)}'


def vocabulary_note_html(classes: Sequence[str],
                         knowledge: ModelKnowledge) -> str:
    """The note under the class box: which names training never saw, and,
    for a CLIP never pretrained, that they mean nothing to the model.
    Empty when every name was seen (or the box cannot be read)."""
    try:
        parse_vocabulary(list(classes))
    except ValueError:  # the Segment button names the problem
        return ''
    unseen = unseen_classes(classes, knowledge.train_classes)
    if not unseen:
        return ''
    listed = ', '.join(repr(name) for name in unseen)
    text = f'not seen in segmentation training: {listed}.'
    if knowledge.clip_pretrained is False:
        kind = 'warning'
        text += (' This model\'s CLIP was never pretrained: these names get '
                 'arbitrary embeddings, and the regions given to them are '
                 'chance.')
    else:
        kind = 'open'
        text += (' They are named through the pretrained CLIP (open '
                 'vocabulary).' if knowledge.clip_pretrained else '')
    return (f'<div class="mrovseg-vocabulary {kind}">'
            f'{html.escape(text)}</div>')
