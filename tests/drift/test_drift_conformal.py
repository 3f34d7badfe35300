"""Conformal coverage on labelled current windows (issue #11): sets calibrated on the holdout,
coverage and set size per window, the exchangeability test in the decision's family."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from shakeout import drift
from shakeout.errors import ValidationError

COLUMNS = ["a", "b", "c"]


def _rows(rng, n, flip=0.0):
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=COLUMNS)
    y = (X["a"] + 0.5 * X["b"] + rng.normal(0, 0.8, n) > 0).astype(int)
    flipped = rng.random(n) < flip  # concept drift: the inputs stay, the labels move
    return X, np.where(flipped, 1 - y, y)


@pytest.fixture(scope="module")
def setting():
    rng = np.random.default_rng(0)
    train, holdout = _rows(rng, 600), _rows(rng, 400)
    model = LogisticRegression().fit(*train)
    return model, train, holdout, rng


def _run(setting, current, **options):
    model, train, holdout, _ = setting
    return drift.run(train[0], current[0], model=model, y_reference=train[1],
                     y_current=current[1], holdout=holdout, conformal_alpha=0.1,
                     multivariate=(), **options)


def test_coverage_equals_a_hand_computed_split_conformal(setting):
    model, _, (X_h, y_h), rng = setting
    X, y = _rows(rng, 500)
    result = _run(setting, (X, y))
    cov = result.select(group="conformal", metric="coverage")[0]
    size = result.select(group="conformal", metric="set_size")[0]
    # LAC by hand: scores 1 - p(true class), the ceil((n+1)(1-alpha))-th smallest, sets p >= 1-q
    p_h = model.predict_proba(X_h)[np.arange(len(y_h)), y_h]
    k = math.ceil((len(y_h) + 1) * 0.9)
    q = np.sort(1 - p_h)[k - 1]
    proba = model.predict_proba(X)
    covered = int(np.sum(1 - proba[np.arange(len(y)), y] <= q))
    assert cov.drill == "drift" and cov.name == "drift/conformal/coverage"
    assert cov.value == covered / len(y)
    assert cov.p_value == pytest.approx(stats.betabinom.cdf(covered, len(y), k,
                                                            len(y_h) + 1 - k))
    assert size.value == pytest.approx(np.mean(np.sum(1 - proba <= q, axis=1)))
    assert cov.status == "pass"


def test_labels_that_moved_break_coverage_and_the_decision_says_so(setting):
    _, _, _, rng = setting
    result = _run(setting, _rows(rng, 800, flip=0.25))
    cov = result.select(group="conformal", metric="coverage")[0]
    assert cov.status == "fail" and cov.p_value < 1e-6
    decision = result.findings[-1]
    assert decision.details["action"] != "continue monitoring"
    assert any("conformal coverage" in e for e in decision.details["evidence"])


def test_unlabelled_windows_get_no_coverage(setting):
    model, train, holdout, rng = setting
    X, _ = _rows(rng, 300)
    result = drift.run(train[0], X, model=model, y_reference=train[1], holdout=holdout,
                       conformal_alpha=0.1, multivariate=())
    assert result.select(group="conformal") == []


def test_conformal_alpha_needs_a_model_and_a_holdout(setting):
    model, train, _, _ = setting
    with pytest.raises(ValidationError, match="pass model= and holdout="):
        drift.run(train[0], train[0], model=model, y_reference=train[1], conformal_alpha=0.1)
    with pytest.raises(ValidationError, match="conformal_alpha"):
        drift.DriftSuite(conformal_alpha=1.5)


def test_a_holdout_too_small_for_alpha_says_the_minimum(setting):
    model, train, (X_h, y_h), _ = setting
    with pytest.raises(ValidationError, match="19"):
        drift.run(train[0], train[0], model=model, y_reference=train[1],
                  holdout=(X_h[:10], y_h[:10]), conformal_alpha=0.05)


def test_the_cli_and_the_plan_set_it(setting, tmp_path, cli, monkeypatch):
    model, train, holdout, rng = setting
    X, y = _rows(rng, 800, flip=0.25)
    for name, (frame, labels) in {"ref": train, "hold": holdout, "cur": (X, y)}.items():
        frame.assign(y=labels).to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "conformal_model.py").write_text(
        "import pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        f"ref = pd.read_csv({str(tmp_path / 'ref.csv')!r})\n"
        "model = LogisticRegression().fit(ref.drop(columns='y'), ref['y'])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    base = ["drift", tmp_path / "ref.csv", tmp_path / "cur.csv", "--target", "y", "--model",
            "conformal_model:model", "--quiet", "--fail-on", "never", "--multivariate", "none"]
    code, err = cli(*base, "--conformal-alpha", "0.1", "--out", tmp_path / "o")
    assert code == 2 and "--holdout" in err
    code, _ = cli(*base, "--holdout", tmp_path / "hold.csv", "--conformal-alpha", "0.1",
                  "--out", tmp_path / "o")
    assert code == 0
    found = json.loads((tmp_path / "o" / "results.json").read_text())["findings"]
    (cov,) = [f for f in found if f["name"] == "drift/conformal/coverage"]
    assert cov["status"] == "fail" and cov["details"]["alpha"] == 0.1
    (tmp_path / "plan.yaml").write_text("drift:\n  conformal_alpha: 0.2\n")
    code, _ = cli(*base, "--holdout", tmp_path / "hold.csv", "--plan", tmp_path / "plan.yaml",
                  "--out", tmp_path / "p")
    found = json.loads((tmp_path / "p" / "results.json").read_text())["findings"]
    (cov,) = [f for f in found if f["name"] == "drift/conformal/coverage"]
    assert code == 0 and cov["details"]["alpha"] == 0.2


def test_the_coverage_test_alerts_through_the_decisions_family():
    """The exchangeability p-value is read at the policy's alpha (0.01), Holm-corrected with
    every other test the decision reads."""
    from shakeout.drift import decide
    from shakeout.report.result import Finding

    def coverage(p):
        return Finding(name="drift/conformal/coverage", metric="coverage", value=0.85,
                       p_value=p, drill="drift", group="conformal", details={"target": 0.9})

    ks = Finding(name="drift/ks/a", metric="ks", value=0.05, p_value=0.5, drill="drift",
                 group="ks", feature="a", effect="small")
    assert decide([coverage(0.004), ks]).details["action"] == "investigate first"
    assert decide([coverage(0.006), ks]).details["action"] == "continue monitoring"  # 2 x 0.006
