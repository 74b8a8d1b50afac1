"""What the page says a model knows: training names, unseen names, and
whether its CLIP was pretrained, read from configs and checkpoint meta."""
import os

import pytest
from mmengine.config import Config

from mrovseg_mmseg.datasets.material_world import (MATERIAL_CLASSES,
                                                   SEEN_CLASSES,
                                                   UNSEEN_CLASSES)
from mrovseg_mmseg.datasets.synthetic_shapes import SHAPE_CLASSES
from mrovseg_mmseg.webui import knowledge as kn

CONFIGS = os.path.join(os.path.dirname(__file__), '..', '..', 'configs')
SHAPES = os.path.join(CONFIGS, 'mrovseg_tiny_shapes64.py')
ZERO_SHOT = os.path.join(CONFIGS, 'zero_shot_demo',
                         'mrovseg_tiny_materials64.py')
RANDOM_CLIP = os.path.join(CONFIGS, 'zero_shot_demo',
                           'mrovseg_tiny_materials64_random-clip.py')
VITB = os.path.join(CONFIGS, 'mrovseg_vitb_coco640.py')


def test_unseen_names_are_those_training_never_saw():
    # issue 22: the shapes demo given a picture of sand and two shapes
    typed = ['sand', 'blue square', 'yellow triangle', 'sky, clouds']
    assert kn.unseen_classes(typed, SHAPE_CLASSES) == ('sky, clouds', )
    assert kn.unseen_classes(MATERIAL_CLASSES, SEEN_CLASSES) == UNSEEN_CLASSES
    # every synonym must have been a training name; case and spaces aside
    train = ['sofa, couch', 'sky']
    assert kn.unseen_classes(['Sofa', ' couch ,  SOFA', 'sky, clouds', 'sea'],
                             train) == ('sky, clouds', 'sea')
    assert kn.unseen_classes(['sea'], None) == ()


@pytest.mark.parametrize(
    'config,pretrained,source',
    [(SHAPES, False, 'random weights (pretrained=None)'),
     (RANDOM_CLIP, False, 'random weights (pretrained=None)'),
     (ZERO_SHOT, True,
      'work_dirs/zero_shot_demo/clip/tiny_clip_materials.pth'),
     (VITB, True, 'openai')])
def test_clip_pretraining_is_read_from_the_config(config, pretrained,
                                                  source):
    assert kn.clip_origin(Config.fromfile(config)) == (pretrained, source)


def test_clip_pretraining_that_cannot_be_told_gives_no_verdict():
    cfg = Config.fromfile(SHAPES)
    cfg.load_from = 'other/iter_100.pth'
    assert kn.clip_origin(cfg) == (
        None, 'the checkpoint training started from, other/iter_100.pth')
    for tower in ('backbone', 'text_encoder'):
        cfg = Config.fromfile(SHAPES)
        cfg.model[tower].pretrained = 'openai'
        assert kn.clip_origin(cfg) == (
            None, 'pretrained weights for one tower only')
    cfg.model.backbone.pretrained = 'clip.pth'
    assert kn.clip_origin(cfg) == (
        True, 'clip.pth (image tower), openai (text tower)')


def test_the_checkpoints_training_config_decides():
    shapes, zero_shot = Config.fromfile(SHAPES), Config.fromfile(ZERO_SHOT)
    # tools/run_zero_shot_demo.sh gives the CLIP by --cfg-options; the
    # checkpoint records it
    trained = Config.fromfile(RANDOM_CLIP)
    trained.model.backbone.pretrained = '/tmp/run/clip.pth'
    trained.model.text_encoder.pretrained = '/tmp/run/clip.pth'
    meta = dict(
        cfg=trained.pretty_text, dataset_meta=dict(classes=SEEN_CLASSES))
    known = kn.model_knowledge(shapes, meta)
    assert known == kn.ModelKnowledge(SEEN_CLASSES, True, '/tmp/run/clip.pth')
    # served with the paper model's config, trained on a random CLIP
    meta = dict(cfg=Config.fromfile(RANDOM_CLIP).pretty_text)
    known = kn.model_knowledge(zero_shot, meta)
    assert known.clip_pretrained is False
    assert known.train_classes == SEEN_CLASSES  # the training set's metainfo
    # no record: the served config, its training dataset's classes
    assert kn.model_knowledge(shapes, {}) == kn.ModelKnowledge(
        SHAPE_CLASSES, False, 'random weights (pretrained=None)')
    assert kn.model_knowledge(shapes, dict(cfg='not python (')) == \
        kn.model_knowledge(shapes, None)


def test_page_text_warns_when_the_clip_was_never_pretrained():
    random = kn.ModelKnowledge(('grass', 'red disc'), False,
                               'random weights (pretrained=None)')
    text = kn.knowledge_text(random)
    assert text == (
        'Segmentation training saw 2 names: `grass`, `red disc`. **Only its '
        'training names mean anything:** this model\'s CLIP was never '
        'pretrained (its config sets `pretrained=None` for both towers), so '
        'a name segmentation training did not see gets an arbitrary text '
        'embedding, and the regions it is given are chance.')
    open_clip = kn.ModelKnowledge(SEEN_CLASSES, True, 'clip.pth')
    text = kn.knowledge_text(open_clip)
    assert 'Segmentation training saw 8 names: `grass`, `sand`,' in text
    assert 'Its CLIP was pretrained (`clip.pth`), so other names are open ' \
        'vocabulary' in text and 'Only its training' not in text
    assert 'recorded neither' in kn.knowledge_text(
        kn.ModelKnowledge(None, None, 'x'))
    assert 'cannot be told' in kn.knowledge_text(
        kn.ModelKnowledge(SEEN_CLASSES, None, 'x'))


def test_note_names_the_unseen_names_typed():
    random = kn.ModelKnowledge(SHAPE_CLASSES, False, 'random')
    typed = ['sand', 'blue square', 'yellow triangle', 'sky, clouds']
    assert kn.vocabulary_note_html(typed, random) == (
        '<div class="mrovseg-vocabulary warning">not seen in segmentation '
        'training: &#x27;sky, clouds&#x27;. This model&#x27;s CLIP was never '
        'pretrained: these names get arbitrary embeddings, and the regions '
        'given to them are chance.</div>')
    pretrained = kn.ModelKnowledge(SEEN_CLASSES, True, 'clip.pth')
    note = kn.vocabulary_note_html(MATERIAL_CLASSES, pretrained)
    assert note == (
        '<div class="mrovseg-vocabulary open">not seen in segmentation '
        'training: &#x27;water&#x27;, &#x27;asphalt&#x27;, &#x27;wood&#x27;, '
        '&#x27;moss&#x27;. They are named through the pretrained CLIP (open '
        'vocabulary).</div>')
    assert kn.vocabulary_note_html(SEEN_CLASSES[:3], pretrained) == ''
    assert kn.vocabulary_note_html(['sea', 'Sea'], pretrained) == ''
