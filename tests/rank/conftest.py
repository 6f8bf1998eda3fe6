"""Small hand-made papers for ranking tests: each test can see why a paper should win."""

from __future__ import annotations

from datetime import date

import pytest

from digest.domain import Paper
from digest.rank import RankOptions

LEXICAL = RankOptions(semantic=False)


def paper(pid: str, title: str, abstract: str = "", **kw: object) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, announced=date(2025, 5, 2), **kw)  # type: ignore[arg-type]


@pytest.fixture
def pool() -> list[Paper]:
    return [
        paper(
            "cl1",
            "Continual learning without catastrophic forgetting",
            "We study continual learning of neural networks across a stream of tasks and "
            "reduce catastrophic forgetting with replay buffers.",
            authors=("Ada Lovelace", "Bob Builder"),
            categories=("cs.LG",),
        ),
        paper(
            "cl2",
            "Replay methods for continual learning in vision",
            "Continual learning with rehearsal of stored examples; forgetting is measured on "
            "image classification benchmarks.",
            categories=("cs.CV", "cs.LG"),
        ),
        paper(
            "cl3",
            "A survey of lifelong and continual learning",
            "Continual learning, also called lifelong learning, trains a model on tasks that "
            "arrive one after another.",
            categories=("cs.LG",),
        ),
        paper(
            "sp1",
            "Speech recognition for low-resource languages",
            "Automatic speech recognition with self-supervised acoustic models for languages "
            "with little transcribed audio.",
            categories=("eess.AS", "cs.CL"),
            upvotes=40,
        ),
        paper(
            "gr1",
            "Graph neural networks for molecules",
            "Message passing graph neural networks predict molecular properties.",
            authors=("Jane Doe",),
            categories=("cs.LG", "q-bio.BM"),
        ),
        paper(
            "tr1",
            "A large language model that writes poems",
            "We fine-tune a large language model on poetry and evaluate it with human raters.",
            categories=("cs.CL",),
            upvotes=312,
            github_stars=900,
        ),
        paper(
            "md1",
            "Medical image segmentation with transformers",
            "Segmentation of tumours in medical images with a transformer encoder; "
            "continual learning across hospitals.",
            categories=("eess.IV", "cs.CV"),
        ),
    ]
