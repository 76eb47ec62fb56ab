"""Colorization methods, one file per paper, all following the contract of :mod:`tinct.methods.base`.

``METHODS`` maps the ``method`` field of a checkpoint's ``config.json`` to the class that
loads it. Adding a method = its file + one entry here (+ at most one evaluation protocol and
one app mode for a new kind of guidance). :func:`load_model` is the one loader for shipped
names, checkpoint folders and ``baseline:NAME``.
"""

from tinct.methods.cwr import CWR
from tinct.methods.edge_enhance import EdgeEnhance
from tinct.methods.guiding_painter import GuidingPainter
from tinct.methods.point_hints import PointHints
from tinct.methods.pretrained import find_model, load_model, shipped_models
from tinct.methods.rasc import RASC
from tinct.methods.scft import SCFT

METHODS: dict = {"guiding_painter": GuidingPainter, "point_hints": PointHints, "scft": SCFT, "cwr": CWR,
                 "rasc": RASC, "edge_enhance": EdgeEnhance}

__all__ = ["METHODS", "find_model", "load_model", "shipped_models"]
