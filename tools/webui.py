"""Start the web demo: drop an image, type class names, see the segmentation.

    bash tools/run_demo.sh          # once: trains the demo model
    python tools/webui.py           # then open http://127.0.0.1:7860

Run with --help for the options; needs ``pip install -e .[webui]``.
"""
import sys

from mrovseg_mmseg.webui.cli import main

if __name__ == '__main__':
    sys.exit(main())
