"""The demo: three-plus readers with clearly different interests and a bundled sample of
real arXiv papers, so `make demo` shows personalized digests offline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_PAPERS = "papers.jsonl"

DEMO_SUBSCRIBERS: list[dict[str, object]] = [
    {
        "email": "ada@example.org",
        "name": "Ada Lovelace",
        "timezone": "Europe/London",
        "topics": ["reasoning in large language models", "reinforcement learning for LLMs"],
        "exclude": ["medical"],
    },
    {
        "email": "grace@example.org",
        "name": "Grace Hopper",
        "timezone": "America/New_York",
        "topics": ["speech recognition", "audio and music generation"],
        "categories": ["cs.SD", "eess.AS"],
    },
    {
        "email": "alan@example.org",
        "name": "Alan Turing",
        "timezone": "Europe/Berlin",
        "topics": ["medical image segmentation", "radiology report generation"],
    },
    {
        "email": "marie@example.org",
        "name": "Marie Curie",
        "timezone": "Asia/Tokyo",
        "topics": ["3D scene reconstruction", "video generation with diffusion models"],
        "exclude": ["medical", "speech"],
    },
    {
        "email": "claude@example.org",
        "name": "Claude Shannon",
        "timezone": "UTC",
        "topics": ["jailbreak attacks on language models", "privacy and security of AI systems"],
    },
]


def sample_papers_path() -> Path:
    """The bundled sample: real papers of one arXiv announcement day (2025-05-30)."""
    return Path(str(resources.files("digest.sample_data").joinpath(SAMPLE_PAPERS)))
