"""Progress bars show on a terminal only: a log file or a CI job gets no bar and no blank lines."""

from shakeout._progress import progress


def test_no_bar_and_no_blank_line_off_a_terminal(capsys, monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    assert list(progress(range(3), total=3, description="x", quiet=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_a_terminal_sees_the_bar(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws as on a terminal
    list(progress(range(3), total=3, description="counting", quiet=False))
    assert "counting" in capsys.readouterr().err
