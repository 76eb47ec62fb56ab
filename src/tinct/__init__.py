"""tinct: line-art colorization.

``tinct.Colorizer`` (:mod:`tinct.colorizer`) is the entry point for colorizing: it is
imported on first use, so that ``import tinct`` (and ``tinct --help``) stays light.
"""

__version__ = "0.1.0"

__all__ = ["Colorizer", "__version__"]


def __getattr__(name: str):
    if name == "Colorizer":
        from tinct.colorizer import Colorizer

        return Colorizer
    raise AttributeError(f"module 'tinct' has no attribute {name!r}")
