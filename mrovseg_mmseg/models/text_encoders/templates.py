"""Prompt templates that turn a class name into CLIP text prompts.

A template is a ``str`` with exactly one ``{}`` where the class name goes.
Named sets:

- ``'vild'``: the 14 templates of ViLD (Gu et al., 2022), as used by SAN,
  FC-CLIP and MROVSeg (default).
- ``'imagenet'``: OpenAI's 80 ImageNet templates, taken from
  ``open_clip.zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES``.
- ``'single'``: ``'a photo of a {}.'``.
"""
from typing import Sequence, Tuple, Union

VILD_TEMPLATES: Tuple[str, ...] = (
    'a photo of a {}.',
    'This is a photo of a {}',
    'There is a {} in the scene',
    'There is the {} in the scene',
    'a photo of a {} in the scene',
    'a photo of a small {}.',
    'a photo of a medium {}.',
    'a photo of a large {}.',
    'This is a photo of a small {}.',
    'This is a photo of a medium {}.',
    'This is a photo of a large {}.',
    'There is a small {} in the scene.',
    'There is a medium {} in the scene.',
    'There is a large {} in the scene.',
)

SINGLE_TEMPLATES: Tuple[str, ...] = ('a photo of a {}.', )

TEMPLATE_SET_NAMES: Tuple[str, ...] = ('vild', 'imagenet', 'single')


def imagenet_templates() -> Tuple[str, ...]:
    """OpenAI's 80 ImageNet templates as ``'{}'`` strings.

    open_clip stores them as ``lambda c: f'... {c} ...'``; calling each with
    ``'{}'`` gives the format string.
    """
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES
    return tuple(template('{}') for template in OPENAI_IMAGENET_TEMPLATES)


def resolve_templates(templates: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """Return the templates of a named set, or check a user's templates.

    Args:
        templates: one of :data:`TEMPLATE_SET_NAMES`, or a non-empty sequence
            of strings each holding exactly one ``{}`` and no other braces.

    Returns:
        The templates as a tuple of format strings.

    Raises:
        ValueError: an unknown set name or a malformed template, naming it.
    """
    if isinstance(templates, str):
        if templates == 'vild':
            return VILD_TEMPLATES
        if templates == 'imagenet':
            return imagenet_templates()
        if templates == 'single':
            return SINGLE_TEMPLATES
        raise ValueError(
            f'templates={templates!r} is not a template set name '
            f'{TEMPLATE_SET_NAMES}; pass a single custom template as a list, '
            f'e.g. [{templates!r}].')
    if not isinstance(templates, Sequence) or len(templates) == 0:
        raise ValueError(f'templates={templates!r}: expected a set name '
                         f'{TEMPLATE_SET_NAMES} or a non-empty list of '
                         "strings with one '{}'.")
    for index, template in enumerate(templates):
        _check_template(template, index)
    return tuple(templates)


def _check_template(template: object, index: int) -> None:
    """Raise ValueError unless ``template`` is a str with exactly one '{}'."""
    if not isinstance(template, str):
        raise ValueError(f'template at index {index} is not a str: '
                         f'{template!r} ({type(template).__name__})')
    try:
        filled = template.format('\0')
    except (IndexError, KeyError, ValueError) as err:
        raise ValueError(f'template at index {index} ({template!r}) is not a '
                         f"format string with one '{{}}': {err}") from err
    if filled.count('\0') != 1 or template.count('{}') != 1:
        raise ValueError(f'template at index {index} ({template!r}) must '
                         "contain exactly one '{}' for the class name.")
