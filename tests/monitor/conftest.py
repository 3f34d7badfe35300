"""Store URLs to test against: SQLite always; a real PostgreSQL (or any SQLAlchemy database)
when ``SHAKEOUT_TEST_DATABASE_URL`` names one, e.g.
``postgresql+psycopg://shakeout:shakeout@localhost/shakeout``."""

import os

import pytest
import sqlalchemy as sa

EXTERNAL = os.environ.get("SHAKEOUT_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "external"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'h.db'}"
        return
    if not EXTERNAL:
        pytest.skip("set SHAKEOUT_TEST_DATABASE_URL to also test a server database")
    from shakeout.monitor.store import METADATA

    engine = sa.create_engine(EXTERNAL)
    METADATA.drop_all(engine)  # every test starts from an empty store
    engine.dispose()
    yield EXTERNAL
