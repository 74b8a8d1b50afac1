"""``python -m mrovseg_mmseg.webui``: start the web demo (see :mod:`.cli`)."""
import sys

from .cli import main

sys.exit(main())
