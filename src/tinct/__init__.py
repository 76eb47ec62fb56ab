"""tinct: line-art colorization."""

__version__ = "0.1.0"
