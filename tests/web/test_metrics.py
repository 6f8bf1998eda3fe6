"""``/metrics``: off unless configured, a bearer token when one is set, an exposition that
parses and says what the ledger holds (a ledger built with known counts, on SQLite and
PostgreSQL), read at scrape time and cached a few seconds, and a GET that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text, update
from starlette.testclient import TestClient

from digest.db import Database, editions, subscribers
from digest.db.models import DeliveryRow
from digest.db.sources import record_source_run, save_source_config
from digest.deliver.transports import MemoryTransport
from digest.errors import ConfigError
from digest.metrics import SnapshotCache, bearer_ok
from digest.pipeline.runtime import Runtime
from digest.schedule import EditionSlot
from digest.settings import Settings
from digest.subscriber_spec import validate_spec
from digest.web.app import create_app
from digest.web.ratelimit import MemoryRateLimiter
from tests.web.conftest import BASE, Clock, Harness

TOKEN = "scrape-token-0123456789abcdef"
PLANNED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
# The newest edition: 10 readers; states and, for the sent rows, seconds after planning.
NEWEST = {
    "sent": [0.5, 3, 3, 40, 400, 4000],  # six sent, with known latencies
    "skipped": 1,
    "failed": 1,
    "retry": 1,
    "pending": 1,
}


def make_harness(db_url: str, tmp_path, **env: str) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {
            "DIGEST_DATABASE_URL": db_url,
            "DIGEST_VAR_DIR": str(tmp_path / "var"),
            "DIGEST_SECRET_KEY": "web-test-secret-0123456789",
            "DIGEST_BASE_URL": BASE,
            "DIGEST_FROM": "Paper Digest <digest@digest.test>",
            **env,
        }
    )
    db = Database(db_url)
    db.upgrade()
    outbox = MemoryTransport()
    clock = Clock()
    rt = Runtime.from_settings(settings, db=db, transport_factory=lambda: outbox, clock=clock)
    limiter = MemoryRateLimiter(clock=lambda: clock().timestamp())
    with TestClient(create_app(rt, limiter=limiter), base_url=BASE) as client:
        yield Harness(rt, client, outbox, clock, limiter)
    db.dispose()


@pytest.fixture
def with_token(db_url: str, tmp_path) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    yield from make_harness(db_url, tmp_path, DIGEST_METRICS_TOKEN=TOKEN)


def build_ledger(h: Harness) -> None:
    """Two editions: yesterday's, 3 readers all sent; the newest as in NEWEST. Two readers
    unsubscribed, one paused; one source whose last run counted papers."""
    with h.rt.db.session() as session:
        readers = [
            subscribers.add_subscriber(
                session, validate_spec({"email": f"r{n}@example.org"}), PLANNED
            )
            for n in range(10)
        ]
        old = editions.get_or_create_edition(
            session,
            EditionSlot("daily:2026-11-30", "daily", date(2026, 11, 30)),
            PLANNED - timedelta(days=1),
        )
        newest = editions.get_or_create_edition(
            session, EditionSlot("daily:2026-12-01", "daily", date(2026, 12, 1)), PLANNED
        )
        editions.ensure_deliveries(session, [(r.id, old.id) for r in readers[:3]], PLANNED)
        editions.ensure_deliveries(session, [(r.id, newest.id) for r in readers], PLANNED)
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.edition_id == old.id)
            .values(status="sent", sent_at=PLANNED + timedelta(seconds=1))
        )
        ids = iter(sorted(r.id for r in readers))
        for seconds in NEWEST["sent"]:  # type: ignore[union-attr]
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.edition_id == newest.id, DeliveryRow.subscriber_id == next(ids))
                .values(status="sent", sent_at=PLANNED + timedelta(seconds=seconds))
            )
        for state in ("skipped", "failed", "retry"):  # "pending": the one left
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.edition_id == newest.id, DeliveryRow.subscriber_id == next(ids))
                .values(status=state)
            )
        for reader in readers[:2]:
            reader.status = "unsubscribed"
        readers[2].status = "paused"
        save_source_config(
            session, name="arxiv", kind="arxiv_feed", options={}, origin="cli", now=PLANNED
        )
        record_source_run(
            session,
            "arxiv",
            now=PLANNED - timedelta(hours=10),
            status="ok",
            counts={"new": 42, "updated": 3, "unchanged": 100, "rejected": 1},
        )


def scrape(h: Harness, token: str | None = TOKEN) -> dict[tuple[str, tuple], float]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = h.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    samples: dict[tuple[str, tuple], float] = {}  # type: ignore[type-arg]
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_match_a_ledger_of_known_counts(with_token: Harness) -> None:
    h = with_token
    build_ledger(h)
    before = h.snapshot()
    got = scrape(h)
    assert h.snapshot() == before  # a scrape changes nothing

    assert got[("digest_subscribers", (("status", "active"),))] == 7
    assert got[("digest_subscribers", (("status", "unsubscribed"),))] == 2
    assert got[("digest_subscribers", (("status", "paused"),))] == 1
    assert got[("digest_editions", ())] == 2

    def deliveries(state: str) -> float:
        return got[("digest_deliveries", (("state", state),))]

    assert (deliveries("sent"), deliveries("skipped"), deliveries("failed")) == (9, 1, 1)
    assert (deliveries("retry"), deliveries("pending"), deliveries("sending")) == (1, 1, 0)

    def of(edition: str, state: str) -> float:
        return got[("digest_edition_deliveries", (("edition", edition), ("state", state)))]

    assert of("daily:2026-12-01", "sent") == 6 and of("daily:2026-12-01", "pending") == 1
    assert of("daily:2026-11-30", "sent") == 3 and of("daily:2026-11-30", "retry") == 0
    created = ("digest_edition_created_timestamp_seconds", (("edition", "daily:2026-12-01"),))
    assert got[created] == PLANNED.timestamp()

    # The histogram of the newest edition's sent rows: 0.5, 3, 3, 40, 400, 4000 seconds.
    def bucket(le: str) -> float:
        labels = (("edition", "daily:2026-12-01"), ("le", le))
        return got[("digest_send_latency_seconds_bucket", labels)]

    assert [bucket(le) for le in ("1.0", "5.0", "60.0", "600.0", "3600.0", "7200.0", "+Inf")] == [
        1, 3, 4, 5, 5, 6, 6,
    ]  # fmt: skip
    edition = (("edition", "daily:2026-12-01"),)
    assert got[("digest_send_latency_seconds_count", edition)] == 6
    assert got[("digest_send_latency_seconds_sum", edition)] == pytest.approx(4446.5, abs=0.01)

    assert got[("digest_source_last_run_papers", (("outcome", "new"), ("source", "arxiv")))] == 42
    rejected = ("digest_source_last_run_papers", (("outcome", "rejected"), ("source", "arxiv")))
    assert got[rejected] == 1
    success = ("digest_source_last_success_timestamp_seconds", (("source", "arxiv"),))
    assert got[success] == (PLANNED - timedelta(hours=10)).timestamp()
    assert not any(name.startswith("digest_source_last_failure") for name, _ in got)


def test_metrics_need_the_bearer_token(with_token: Harness) -> None:
    h = with_token
    assert h.client.get("/metrics").status_code == 401
    wrong = h.client.get("/metrics", headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    basic = h.client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert (
        h.client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405
    )
    assert scrape(h)[("digest_editions", ())] == 0  # an empty database is fine too


def test_metrics_are_off_unless_configured(harness: Harness) -> None:
    assert harness.client.get("/metrics").status_code == 404


def test_metrics_without_a_token_when_asked_for(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for h in make_harness(db_url, tmp_path, DIGEST_METRICS="1"):
        build_ledger(h)
        assert scrape(h, token=None)[("digest_editions", ())] == 2


def test_scrapes_within_a_few_seconds_read_the_database_once() -> None:
    reads: list[int] = []
    now = [100.0]

    def read():  # type: ignore[no-untyped-def]
        reads.append(1)
        return len(reads)

    cache = SnapshotCache(read, seconds=5, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert [cache.get() for _ in range(50)] == [1] * 50
    now[0] += 4.9
    assert cache.get() == 1
    now[0] += 0.2
    assert cache.get() == 2 and len(reads) == 2


def test_bearer_header_checks() -> None:
    assert bearer_ok(f"Bearer {TOKEN}", TOKEN) and bearer_ok(f"bearer  {TOKEN}", TOKEN)
    assert not bearer_ok(None, TOKEN) and not bearer_ok(TOKEN, TOKEN)
    assert not bearer_ok(f"Bearer {TOKEN}x", TOKEN)
    assert bearer_ok(None, "")  # no token configured: DIGEST_METRICS=1 serves anyone


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIGEST_METRICS": "maybe"}, "DIGEST_METRICS: expected 1/0"),
        ({"DIGEST_METRICS_TOKEN": "short"}, "DIGEST_METRICS_TOKEN: must be at least 16"),
        ({"DIGEST_METRICS_TOKEN": "has a space in it, long"}, "DIGEST_METRICS_TOKEN: use visible"),
    ],
)
def test_bad_metrics_settings_name_the_variable(tmp_path, env, message) -> None:  # type: ignore[no-untyped-def]
    base = {"DIGEST_VAR_DIR": str(tmp_path), "DIGEST_SECRET_KEY": "web-test-secret-0123456789"}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(base | env)


def test_a_scrape_without_the_database_is_one_503(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for h in make_harness(sqlite_url, tmp_path, DIGEST_METRICS_TOKEN=TOKEN):
        with h.rt.db.engine.begin() as conn:
            conn.execute(text("DROP TABLE sent_papers"))
            conn.execute(text("DROP TABLE deliveries"))  # the ledger's table is gone
        response = h.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (response.status_code, response.text) == (503, "database unreachable\n")
