"""A web page to try a model: drop an image, type class names, see the result.

Start it with ``python tools/webui.py`` or ``python -m mrovseg_mmseg.webui``
(see :mod:`.cli`). :mod:`.page` and :mod:`.segmenter` hold what the page
computes and need no gradio; :mod:`.app` lays the page out with gradio, the
``webui`` extra.
"""
