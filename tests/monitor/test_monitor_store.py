"""History store: one transaction per window, resume after a crash, readable history."""

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from shakeout import monitor
from shakeout.errors import ValidationError
from shakeout.monitor import HistoryStore
from shakeout.report import Finding, Result


def _result(window, value):
    f = Finding(name=f"drift/psi/a@{window}", metric="psi", value=value, status="pass",
                drill="drift", group="psi", feature="a", window=window,
                details={"bands": {"warn": 0.1, "fail": 0.25}})
    return Result(title=window, findings=(f,))


def test_windows_round_trip_and_replace(store_url):
    store = HistoryStore(store_url)
    store.write("2024-01-01", _result("2024-01-01", 0.01))
    store.write("2024-01-02", _result("2024-01-02", 0.02))
    store.write("2024-01-02", _result("2024-01-02", 0.03))  # a re-run replaces the window
    again = HistoryStore(store_url)
    assert again.windows() == ["2024-01-01", "2024-01-02"]
    assert again.history()["value"].tolist() == [0.01, 0.03]
    assert [f.details["bands"] for f in again.findings()][0] == {"warn": 0.1, "fail": 0.25}
    assert HistoryStore(store_url, stream="other").windows() == []


def test_a_crash_mid_window_leaves_no_half_window(store_url, monkeypatch):
    store = HistoryStore(store_url)
    store.write("w1", _result("w1", 0.01))
    bad = Result(title="w2", findings=(Finding(name="x", metric="psi", value=0.1),
                                       Finding(name="y", metric="psi", value=0.2)))

    def explode(self):
        raise RuntimeError("power cut")

    monkeypatch.setattr(Finding, "to_dict", explode)
    with pytest.raises(RuntimeError, match="power cut"):
        store.write("w2", bad)
    monkeypatch.undo()
    assert store.windows() == ["w1"]
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from shakeout_findings")).scalar() == 1


def test_monitor_resumes_after_the_completed_windows(store_url):
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=500)})
    cur = pd.DataFrame({"a": rng.normal(size=1500)})
    url = store_url
    first = monitor.run(ref, cur.iloc[:800], every=500, store=url, multivariate=())
    assert first.manifest.parameters["windows_run"] == 2  # the second one holds 300 rows
    again = monitor.run(ref, cur, every=500, store=url, multivariate=())
    # the complete window is skipped; the partial latest one is run again, now full
    assert again.manifest.parameters["windows_run"] == 2
    assert again.manifest.parameters["windows_skipped"] == 1
    assert HistoryStore(url).windows() == ["rows 000000000-000000499",
                                           "rows 000000500-000000999",
                                           "rows 000001000-000001499"]
    assert HistoryStore(url).summary()["n_rows"].tolist() == [500, 500, 500]


def test_bad_urls_and_drivers():
    with pytest.raises(ValidationError, match="not a database URL"):
        HistoryStore("not a url")
    from shakeout.errors import MissingDependencyError

    try:
        import pg8000  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="pip install"):
            _ = HistoryStore("postgresql+pg8000://u@localhost/db").engine


def test_store_urls_that_cannot_work_are_one_clear_error(tmp_path, capsys):
    """Issue #9: an unknown dialect in a store URL exited 3 with an internal error."""
    from shakeout.cli import main

    with pytest.raises(ValidationError, match=r"'nosuchdb://x' names a database SQLAlchemy "
                                              r"does not know.*SQLite path"):
        HistoryStore("nosuchdb://x")
    with pytest.raises(ValidationError, match="does not know"):
        HistoryStore("postgresql+nosuchdriver://u@h/db")
    assert main(["monitor", "--store", "nosuchdb://x"]) == 2
    assert "nosuchdb" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to have a header" * 10)
    with pytest.raises(ValidationError, match="is not a SQLite database"):
        HistoryStore(f"sqlite:///{text}").windows()
    with pytest.raises(ValidationError, match="is a folder"):
        HistoryStore(f"sqlite:///{tmp_path}").windows()
    with pytest.raises(ValidationError, match="does not exist; create it"):
        HistoryStore(f"sqlite:///{tmp_path / 'no' / 'such' / 'h.db'}").windows()
