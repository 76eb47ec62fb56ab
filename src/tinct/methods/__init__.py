"""Colorization methods, one file per paper.

``METHODS`` maps the ``method`` field of a checkpoint's ``config.json`` to the class that
loads it (``from_pretrained(folder)``). Methods register here as they are implemented.
"""

METHODS: dict = {}
