"""``render`` writes all four files or none: a failed write leaves no set that looks complete."""

from __future__ import annotations

import pytest

from shakeout.errors import ValidationError
from shakeout.report import Finding, Result, render
from shakeout.report.render import FILES

RESULT = Result(title="t", findings=(Finding(name="a", metric="accuracy", value=0.9),))


@pytest.mark.parametrize("blocked", list(FILES.values()))
def test_a_file_that_cannot_be_written_leaves_none_of_this_report(tmp_path, blocked):
    out = tmp_path / "report"
    (out / blocked).mkdir(parents=True)  # a folder in the way, made after --out was checked
    with pytest.raises(ValidationError, match=rf"cannot write {blocked} in '{out}' \(Is a "
                                              r"directory\); nothing of this report was left "
                                              r"there\. Remove what is in the way"):
        render(RESULT, out)
    assert sorted(p.name for p in out.iterdir()) == [blocked]  # no partial set, no temporaries


def test_a_failed_write_removes_what_this_call_replaced(tmp_path):
    out = tmp_path / "report"
    render(RESULT, out)
    (out / "junit.xml").unlink()
    (out / "junit.xml").mkdir()
    with pytest.raises(ValidationError, match="cannot write junit.xml"):
        render(Result(title="newer", findings=RESULT.findings), out)
    # the older html/json/md are not left beside a missing junit.xml as if they were this run's
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml"]
