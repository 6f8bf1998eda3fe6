"""A Celery pool process builds its runtime (templates compiled and checked) when it
starts, not in its first task; a runtime that cannot be built leaves a warning, not a dead
pool process, and the first task then fails with the reason as before."""

from __future__ import annotations

import logging

import pytest

from digest.pipeline import celery_app


def test_a_pool_process_builds_its_runtime_when_it_starts(digest_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", f"sqlite:///{digest_env['DIGEST_VAR_DIR']}/d.db")
    celery_app._runtime.cache_clear()
    celery_app._fresh_runtime()
    assert celery_app._runtime.cache_info().currsize == 1  # built, before any task
    built = celery_app._runtime()
    celery_app._fresh_runtime()  # a new process: its own runtime, not the parent's
    assert celery_app._runtime() is not built
    celery_app._runtime.cache_clear()


def test_a_runtime_that_cannot_be_built_is_left_to_the_first_task(
    digest_env, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_TOP_K", "many")  # a setting that does not parse
    celery_app._runtime.cache_clear()
    with caplog.at_level(logging.WARNING):
        celery_app._fresh_runtime()  # does not raise: the pool process lives
    assert "runtime is not ready" in caplog.text and "DIGEST_TOP_K" in caplog.text
    assert celery_app._runtime.cache_info().currsize == 0
    with pytest.raises(Exception, match="DIGEST_TOP_K"):
        celery_app._deliver_batch_task([1])
    celery_app._runtime.cache_clear()
