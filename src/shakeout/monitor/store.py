"""The history store: every window's findings, in SQLite by default or any SQLAlchemy database.

Each window is written in one transaction (its row and all its findings, replacing an
earlier run of the same window), so a crash loses no completed window and leaves no half
window behind; a monitor that restarts skips the windows already stored.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from shakeout.errors import MissingDependencyError, ValidationError
from shakeout.report.result import Finding, Manifest, Result

DEFAULT_URL = "sqlite:///shakeout-history.db"
DRIVER_PACKAGES = {"MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary",
                   "psycopg": "'psycopg[binary]'"}
"""pip package of a database driver whose module name differs from it."""
METADATA = sa.MetaData()
WINDOWS = sa.Table(
    "shakeout_windows", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(200), nullable=False),
    sa.Column("window", sa.String(100), nullable=False),
    sa.Column("start", sa.String(40)), sa.Column("end", sa.String(40)),
    sa.Column("n_rows", sa.Integer), sa.Column("status", sa.String(10)),
    sa.Column("action", sa.String(40)), sa.Column("created", sa.String(40)),
    sa.Column("manifest", sa.Text),
    sa.UniqueConstraint("stream", "window", name="uq_shakeout_window"),
)
FINDINGS = sa.Table(
    "shakeout_findings", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("window_id", sa.Integer, sa.ForeignKey("shakeout_windows.id"),
              nullable=False, index=True),
    sa.Column("name", sa.String(300)), sa.Column("drill", sa.String(40)),
    sa.Column("group", sa.String(80)), sa.Column("metric", sa.String(80)),
    sa.Column("feature", sa.String(200)), sa.Column("value", sa.Float),
    sa.Column("p_value", sa.Float), sa.Column("status", sa.String(10)),
    sa.Column("effect", sa.String(20)), sa.Column("finding", sa.Text),
)


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


class HistoryStore:
    """Windows and their findings, keyed by ``stream`` (one monitored data set per stream).

    Parameters
    ----------
    url : str, default="sqlite:///shakeout-history.db"
        SQLAlchemy database URL, e.g. ``postgresql+psycopg://user@host/db``.
    stream : str, default="default"
        Name of the monitored data set; one store can hold many.

    Examples
    --------
    >>> from shakeout.report import Finding, Result
    >>> store = HistoryStore("sqlite://")  # in memory
    >>> f = Finding(name="drift/psi/a@2024-01-01", metric="psi", value=0.3, status="fail",
    ...             drill="drift", group="psi", feature="a", window="2024-01-01")
    >>> store.write("2024-01-01", Result(title="w", findings=(f,)))
    >>> store.windows(), store.history()["value"].tolist()
    (['2024-01-01'], [0.3])
    """

    def __init__(self, url: str = DEFAULT_URL, *, stream: str = "default"):
        try:
            sa.engine.make_url(url).get_dialect()
        except sa.exc.NoSuchModuleError:
            raise ValidationError(
                f"HistoryStore: {url!r} names a database SQLAlchemy does not know "
                f"({url.split(':')[0]!r}); use a SQLite path such as '{DEFAULT_URL}', or "
                "the URL of an installed SQLAlchemy dialect, e.g. "
                "'postgresql+psycopg://user@host/db'."
            ) from None
        except sa.exc.ArgumentError:
            raise ValidationError(
                f"HistoryStore: {url!r} is not a database URL; use e.g. "
                f"'{DEFAULT_URL}' or 'postgresql+psycopg://user@host/db'."
            ) from None
        if not stream:
            raise ValidationError("HistoryStore: stream must be a non-empty name.")
        self.url = url
        self.stream = stream

    def exists(self) -> bool:
        """False for a SQLite file that is not there yet (reading would create it empty)."""
        url = sa.engine.make_url(self.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return True
        return Path(url.database).expanduser().exists()

    @property
    def engine(self) -> sa.Engine:
        """The engine, created (with the tables) on first use."""
        if getattr(self, "engine_", None) is None:
            try:
                engine = sa.create_engine(self.url)
            except ModuleNotFoundError as exc:
                package = DRIVER_PACKAGES.get(exc.name, exc.name)
                raise MissingDependencyError(
                    f"HistoryStore: the database driver {exc.name!r} for {self.url.split(':')[0]!r}"
                    f" is not installed: pip install {package}."
                ) from None
            try:
                METADATA.create_all(engine)
            except sa.exc.SQLAlchemyError as exc:
                engine.dispose()
                raise ValidationError(self._unreachable(exc)) from None
            self.engine_ = engine
        return self.engine_

    def _unreachable(self, exc: Exception) -> str:
        """Why the store cannot be opened, and what to check."""
        url = sa.engine.make_url(self.url)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(url.database).expanduser().absolute()
            if not path.parent.is_dir():
                return (f"HistoryStore: cannot create {url.database!r}: the folder "
                        f"{str(path.parent)!r} does not exist; create it or choose another "
                        "path.")
            if path.is_dir():
                return (f"HistoryStore: {url.database!r} is a folder; give the path of a "
                        "database file in it, e.g. 'sqlite:///drift/history.db'.")
            if path.is_file() and "not a database" in reason:
                return (f"HistoryStore: {url.database!r} is not a SQLite database ({reason}); "
                        "give a new path (the store is created there) or an existing "
                        "shakeout history database.")
            return (f"HistoryStore: cannot open {url.database!r} ({reason}); choose a path "
                    "you can write to.")
        return (f"HistoryStore: cannot open the store {self._safe_url()!r} ({reason}). Check "
                "the URL, that the server is running and reachable, and the credentials.")

    def write(self, window: str, result: Result, *, start: str | None = None,
              end: str | None = None) -> None:
        """Store one window's findings in a single transaction (replacing that window)."""
        decision = next((f for f in result.findings if f.metric == "decision"), None)
        row = {"stream": self.stream, "window": str(window), "start": start, "end": end,
               "n_rows": result.manifest.n_rows, "status": result.status,
               "action": None if decision is None else decision.details.get("action"),
               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "manifest": json.dumps(result.manifest.to_dict(), default=str)}
        with self.engine.begin() as conn:
            old = sa.select(WINDOWS.c.id).where(WINDOWS.c.stream == self.stream,
                                                WINDOWS.c.window == str(window))
            old_ids = [r[0] for r in conn.execute(old)]
            if old_ids:
                conn.execute(FINDINGS.delete().where(FINDINGS.c.window_id.in_(old_ids)))
                conn.execute(WINDOWS.delete().where(WINDOWS.c.id.in_(old_ids)))
            window_id = conn.execute(WINDOWS.insert().values(**row)).inserted_primary_key[0]
            rows = [{"window_id": window_id, "name": f.name, "drill": f.drill, "group": f.group,
                     "metric": f.metric, "feature": f.feature, "value": _number(f.value),
                     "p_value": _number(f.p_value), "status": f.status, "effect": f.effect,
                     "finding": json.dumps(f.to_dict())} for f in result.findings]
            if rows:
                conn.execute(FINDINGS.insert(), rows)

    def windows(self) -> list[str]:
        """Labels of the completed windows of this stream, in the order they were written."""
        query = (sa.select(WINDOWS.c.window).where(WINDOWS.c.stream == self.stream)
                 .order_by(WINDOWS.c.id))
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def findings(self) -> list[Finding]:
        """Every stored finding of this stream, window by window."""
        query = (sa.select(FINDINGS.c.finding).join(WINDOWS)
                 .where(WINDOWS.c.stream == self.stream)
                 .order_by(WINDOWS.c.window, FINDINGS.c.id))
        with self.engine.connect() as conn:
            return [Finding.from_dict(json.loads(r[0])) for r in conn.execute(query)]

    def history(self) -> pd.DataFrame:
        """One row per stored finding: window, group, metric, feature, value, p-value, status."""
        cols = [WINDOWS.c.window, WINDOWS.c.start, WINDOWS.c.end, FINDINGS.c.group,
                FINDINGS.c.metric, FINDINGS.c.feature, FINDINGS.c.value, FINDINGS.c.p_value,
                FINDINGS.c.status, FINDINGS.c.effect]
        query = (sa.select(*cols).join(WINDOWS).where(WINDOWS.c.stream == self.stream)
                 .order_by(WINDOWS.c.window, FINDINGS.c.id))
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(query).fetchall(), columns=[c.name for c in cols])

    def summary(self) -> pd.DataFrame:
        """One row per window: rows, worst status and the decided action."""
        cols = [WINDOWS.c.window, WINDOWS.c.n_rows, WINDOWS.c.status, WINDOWS.c.action]
        query = (sa.select(*cols).where(WINDOWS.c.stream == self.stream)
                 .order_by(WINDOWS.c.window))
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(query).fetchall(), columns=[c.name for c in cols])

    def result(self, title: str | None = None) -> Result:
        """Every stored window as one Result, for a report over time."""
        findings = self.findings()
        manifest = Manifest.collect(data=f"history of {self.stream!r}",
                                    parameters={"store": self._safe_url(),
                                                "stream": self.stream,
                                                "windows": len(self.windows())})
        return Result(title=title or f"Drift monitor: {self.stream}", findings=tuple(findings),
                      manifest=manifest)

    def _safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"HistoryStore({self._safe_url()!r}, stream={self.stream!r})"
