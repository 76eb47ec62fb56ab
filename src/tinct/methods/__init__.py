"""Colorization methods, one file per paper.

``METHODS`` maps the ``method`` field of a checkpoint's ``config.json`` to the class that
loads it (``from_pretrained(folder)``). Methods register here as they are implemented.
"""

from tinct.methods.guiding_painter import GuidingPainter
from tinct.methods.point_hints import PointHints
from tinct.methods.scft import SCFT

METHODS: dict = {"guiding_painter": GuidingPainter, "point_hints": PointHints, "scft": SCFT}
