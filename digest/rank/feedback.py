"""Feedback events -> labels, and the per-reader model learned from them.

A reader's latest vote on a paper wins (👍 then 👎 means 👎); a click counts as a weaker
👍 unless the paper was voted down. Positive papers also act as liked seeds (see the
ranker), and once a reader has ``min_feedback`` positives a logistic regression is fitted
for them alone, in the style of Scholar Inbox: positives against their 👎 papers and the
rest of the candidate pool (unlabelled papers, mostly not for them, weighted low). Its
probability joins the blend as the ``learned`` signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from digest.domain import FeedbackEvent

CLICK_WEIGHT = 0.5
BACKGROUND_WEIGHT = 0.2


@dataclass(frozen=True)
class Labels:
    positive: dict[str, float]  # paper id -> sample weight (1 for 👍, CLICK_WEIGHT for a click)
    negative: tuple[str, ...]


def labels(events: Sequence[FeedbackEvent]) -> Labels:
    """Collapse a reader's events into positive and negative papers."""
    if not events:  # most readers
        return Labels({}, ())
    ordered = sorted(
        enumerate(events), key=lambda item: (item[1].at is None, item[1].at or 0, item[0])
    )
    vote: dict[str, str] = {}
    clicked: dict[str, None] = {}  # in event order: a set's order changes with the hash seed
    for _, event in ordered:
        if event.kind in ("up", "down"):
            vote[event.paper_id] = event.kind
        elif event.kind == "click":
            clicked[event.paper_id] = None
    positive = {pid: 1.0 for pid, v in vote.items() if v == "up"}
    for pid in clicked:
        if pid not in vote:
            positive[pid] = CLICK_WEIGHT
    negative = tuple(pid for pid, v in vote.items() if v == "down")
    return Labels(positive, negative)


def fit_and_score(
    positive: sparse.csr_matrix | np.ndarray,
    positive_weight: np.ndarray,
    negative: sparse.csr_matrix | np.ndarray,
    pool: sparse.csr_matrix | np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    c: float = 1.0,
) -> np.ndarray:
    """Fit one reader's model and return P(liked) for every pool paper.

    ``exclude`` marks pool rows that are themselves positives (they are not background).
    """
    background = pool if exclude is None or not exclude.any() else pool[~exclude]
    stack = sparse.vstack if sparse.issparse(pool) else np.vstack
    x = stack([positive, negative, background])
    y = np.r_[np.ones(positive.shape[0]), np.zeros(negative.shape[0] + background.shape[0])]
    w = np.r_[
        positive_weight,
        np.ones(negative.shape[0]),
        np.full(background.shape[0], BACKGROUND_WEIGHT),
    ]
    # Lazy: scikit-learn (0.6 s to import) only in a process that fits a reader's model.
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=200)
    model.fit(x, y, sample_weight=w)
    liked: np.ndarray = model.predict_proba(pool)[:, 1].astype(np.float32)
    return liked
