"""digest: the day's trending research papers, ranked for each reader, in their inbox."""

__version__ = "0.1.0"
