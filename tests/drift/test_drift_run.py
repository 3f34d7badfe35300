"""drift.run / DriftSuite: mixed tables, bad input, outputs, labels, performance, decision."""

import numpy as np
import pandas as pd
import pytest

from shakeout import drift
from shakeout.drift import DecisionPolicy, DriftSuite
from shakeout.errors import NotFittedError, ValidationError


def _table(rng, n, shift=0.0, new_category=False):
    cats = ["x", "y", "z"] + (["w"] if new_category else [])
    return pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.normal(size=n),
                         "c": rng.choice(cats, n)})


def test_run_on_a_mixed_table():
    rng = np.random.default_rng(0)
    result = drift.run(_table(rng, 2000), _table(rng, 2000, shift=0.6, new_category=True), seed=0)
    groups = {(f.group, f.feature) for f in result.findings}
    assert {("psi", "a"), ("ks", "a"), ("kl", "a"), ("psi", "c"), ("chi2", "c"),
            ("mmd", None), ("decision", None)} <= groups
    assert ("ks", "c") not in groups  # KS is for numbers only
    failing = {f.feature for f in result.findings if f.status == "fail" and f.feature}
    assert failing == {"a", "c"}
    ks = result.select(group="ks")
    assert all(f.details["correction"] == "holm" for f in ks)
    assert result.findings[-1].metric == "decision"
    assert result.manifest.parameters["correction"] == "holm"


def test_correction_choices_change_p_values():
    rng = np.random.default_rng(1)
    ref, cur = _table(rng, 300), _table(rng, 300)
    raw = drift.run(ref, cur, correction="none", multivariate=()).select(group="ks")
    bonf = drift.run(ref, cur, correction="bonferroni", multivariate=()).select(group="ks")
    for r, b in zip(raw, bonf):
        assert b.p_value == pytest.approx(min(1.0, 2 * r.p_value))


def test_mismatched_columns_are_reported_not_crashed():
    rng = np.random.default_rng(2)
    ref = _table(rng, 500)
    cur = _table(rng, 500).drop(columns=["b"]).assign(extra=1.0)
    result = drift.run(ref, cur, multivariate=())
    schema = {f.metric: f for f in result.select(group="schema")}
    assert schema["missing_columns"].status == "fail" and "'b'" in schema["missing_columns"].message
    assert schema["extra_columns"].status == "warn" and "extra" in schema["extra_columns"].message
    with pytest.raises(ValidationError, match="shares no column"):
        drift.run(ref, pd.DataFrame({"q": [1.0, 2.0]}))


def test_all_nan_constant_and_short_columns_give_clear_warnings():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"ok": rng.normal(size=200), "empty": np.nan, "flat": 1.0})
    cur = pd.DataFrame({"ok": rng.normal(size=200), "empty": np.nan, "flat": 1.0})
    result = drift.run(ref, cur, tests=("psi", "ks", "kl"), multivariate=())
    errors = [f for f in result.findings if "error" in f.details]
    assert any("all NaN" in f.message and f.feature == "empty" for f in errors)
    assert all(f.status == "warn" and np.isnan(f.value) for f in errors)
    flat = [f for f in result.findings if f.feature == "flat" and "error" not in f.details]
    assert flat and all(f.status == "pass" for f in flat)
    short = drift.run(ref[["ok"]], cur[["ok"]].iloc[:1], tests=("anderson",), multivariate=())
    assert "needs at least 2" in short.select(group="anderson")[0].message


def test_categorical_override_and_n_bins_reach_the_tests():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"code": rng.integers(0, 3, 500)})
    result = drift.run(ref, ref, categorical=["code"], n_bins=5, multivariate=())
    psi = result.select(group="psi")[0]
    assert psi.details["binning"] == "categories" and psi.details["bins"][:3] == ["0", "1", "2"]
    numeric = drift.run(ref.astype(float), ref.astype(float), n_bins=5, multivariate=())
    assert numeric.select(group="psi")[0].details["n_bins"] == 5


def test_model_outputs_labels_and_performance():
    from shakeout.demo.models import breast_cancer_gbm

    t = breast_cancer_gbm()
    X_cur, y_cur = t.X_test.copy(), t.y_test.copy()
    cols = list(X_cur.columns[:10])
    X_cur[cols] = X_cur[cols] * 1.6  # a large covariate shift on the most used features
    result = drift.run(t.X_test, X_cur, model=t.model, y_reference=t.y_test, y_current=y_cur,
                       multivariate=())
    groups = {f.group for f in result.findings}
    assert {"output", "label", "performance", "concept", "decision"} <= groups
    assert {f.feature for f in result.select(group="output")} == {"p(1)", "predicted class"}
    perf = result.select(group="performance", metric="degradation")[0]
    assert perf.ci is not None and perf.details["metric"] == "accuracy"
    decision = result.findings[-1]
    assert decision.details["labels"] is True
    assert decision.details["action"] in ("retrain now", "investigate first")


def test_holdout_baseline_removes_the_optimism_of_training_data():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.5, random_state=0)
    X_hold, X_cur, y_hold, y_cur = train_test_split(X_rest, y_rest, test_size=0.5,
                                                    random_state=0)
    tree = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)  # 100% on its data
    options = dict(model=tree, y_reference=y_train, y_current=y_cur.to_numpy(),
                   multivariate=(), tests=("psi",))
    naive = drift.run(X_train, X_cur, **options)
    drop = naive.select(group="performance", metric="degradation")[0]
    assert drop.details["baseline"] == "reference" and drop.status == "fail"
    assert "training data" in naive.findings[-1].message  # the decision names the likely cause
    fair = drift.run(X_train, X_cur, holdout=(X_hold, y_hold.to_numpy()), **options)
    drop = fair.select(group="performance", metric="degradation")[0]
    assert drop.details["baseline"] == "holdout" and drop.status != "fail"
    assert "holdout" in drop.message
    with pytest.raises(ValidationError, match="pair"):
        drift.run(X_train, X_cur, holdout=X_hold, **options)
    with pytest.raises(ValidationError, match="holdout lacks the model's columns"):
        drift.run(X_train, X_cur, holdout=(X_hold.iloc[:, :3], y_hold.to_numpy()), **options)


def test_decision_matrix():
    from shakeout.drift import decide
    from shakeout.report import Finding

    def perf(value, lo):
        return Finding(name="p", metric="degradation", value=value, ci=(lo, value + 0.02),
                       drill="drift", group="performance", message="perf")

    psi = Finding(name="psi", metric="psi", value=0.3, drill="drift", group="psi", feature="a")
    calm = Finding(name="psi", metric="psi", value=0.01, drill="drift", group="psi", feature="a")
    assert decide([psi, perf(0.10, 0.05)]).details["action"] == "retrain now"
    assert decide([psi, perf(0.0, -0.02)]).details["action"] == "investigate first"
    deg = decide([calm, perf(0.10, 0.05)])
    assert deg.details["action"] == "investigate first" and "concept drift" in deg.message
    policy = DecisionPolicy(on_degradation_without_drift="retrain now")
    assert decide([calm, perf(0.10, 0.05)], policy=policy).details["action"] == "retrain now"
    assert decide([calm, perf(0.0, -0.01)]).details["action"] == "continue monitoring"
    minor = Finding(name="psi", metric="psi", value=0.15, drill="drift", group="psi", feature="a")
    assert decide([minor]).details["action"] == "investigate first"
    # importance: drift on an unimportant feature does not alert
    assert decide([psi], importance={"a": 0.01, "b": 0.99}).details["action"] == (
        "continue monitoring")
    labels = Finding(name="l", metric="chi2", value=30.0, drill="drift", group="label",
                     status="fail", message="Label mix moved.")
    shifted = decide([calm, labels])
    assert shifted.details["action"] == "investigate first" and ".." not in shifted.message
    kl_cat = Finding(name="kl", metric="kl", value=0.5, drill="drift", group="kl", feature="c",
                     details={"binning": "categories"})
    assert decide([kl_cat]).details["action"] == "continue monitoring"  # KL alerts are continuous


def test_psi_and_kl_alert_beyond_chance_only_when_asked():
    from shakeout.drift import PSI, KLDivergence, decide

    rng = np.random.default_rng(4)
    small = PSI().fit(pd.Series(rng.normal(size=300), name="a")).compare(
        pd.Series(rng.normal(size=60), name="a"))
    assert small.value <= small.details["chance_p95"]  # 0.1-ish PSI from 60 rows is noise
    beyond = DecisionPolicy(beyond_chance=True)
    assert decide([small], policy=beyond).details["action"] == "continue monitoring"
    shifted = PSI().fit(pd.Series(rng.normal(size=300), name="a")).compare(
        pd.Series(rng.normal(1.0, 1.0, size=60), name="a"))
    assert decide([shifted], policy=beyond).details["action"] == "retrain now"
    if small.value > 0.1:
        assert decide([small]).details["action"] != "continue monitoring"  # the framework
    kl = KLDivergence().fit(pd.Series(rng.normal(size=300), name="a")).compare(
        pd.Series(rng.normal(size=60), name="a"))
    assert kl.value <= kl.details["chance_p95"]
    assert decide([kl], policy=beyond).details["action"] == "continue monitoring"


def test_ks_alert_is_bonferroni_at_one_percent_and_ignores_negligible():
    from shakeout.drift import decide
    from shakeout.report import Finding

    def ks(p, effect, name):
        return Finding(name=name, metric="ks", value=0.2, p_value=p, effect=effect,
                       drill="drift", group="ks", feature=name)

    # Bonferroni over 2 features: 0.004 * 2 = 0.008 < 0.01 alerts, 0.006 * 2 = 0.012 does not.
    assert decide([ks(0.004, "large", "a"), ks(0.5, "large", "b")]).details["action"] == (
        "investigate first")
    assert decide([ks(0.006, "large", "a"), ks(0.5, "large", "b")]).details["action"] == (
        "continue monitoring")
    assert decide([ks(1e-12, "negligible", "a")]).details["action"] == "continue monitoring"
    strict = DecisionPolicy(ignore_negligible=False)
    assert decide([ks(1e-12, "negligible", "a")], policy=strict).details["action"] == (
        "investigate first")


def test_suite_verbs_and_errors():
    with pytest.raises(NotFittedError, match=r"call fit\(reference\)"):
        DriftSuite().run(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValidationError, match="tests must be one of"):
        DriftSuite(tests=("sturges",))
    with pytest.raises(ValidationError, match="categorical_tests must be one of"):
        DriftSuite(categorical_tests=("ks",))
    with pytest.raises(ValidationError, match="y_current must have one label per row"):
        DriftSuite(multivariate=()).fit(pd.DataFrame({"a": np.arange(20.0)})).run(
            pd.DataFrame({"a": [1.0, 2.0]}), y=[1])


def test_same_seed_same_numbers_and_windows():
    rng = np.random.default_rng(5)
    ref, cur = _table(rng, 400), _table(rng, 400, shift=0.2)
    a = drift.run(ref, cur, seed=3, window="2024-01-01")
    b = drift.run(ref, cur, seed=3, window="2024-01-01")
    assert [(f.name, f.value, f.p_value) for f in a.findings] == [
        (f.name, f.value, f.p_value) for f in b.findings]
    assert all(f.window == "2024-01-01" and f.name.endswith("@2024-01-01") for f in a.findings)


def test_performance_scores_text_labels_through_the_models_classes():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    from shakeout.drift.performance import score
    from shakeout.models import wrap

    X, y = load_iris(return_X_y=True)
    fitted = LogisticRegression(max_iter=1000).fit(X, y)
    as_text = y.astype(str)  # a csv can read the labels back as text
    got = score(wrap(fitted), X, as_text).value
    assert got == pytest.approx(accuracy_score(y, fitted.predict(X)))


def test_columns_current_lacks_are_never_no_drift():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame = load_iris(as_frame=True).frame
    X, y = frame.drop(columns=["target"]), frame["target"]
    model = LogisticRegression(max_iter=1000).fit(X, y)
    blind = drift.run(X, X.drop(columns=["petal width (cm)"]), model=model, seed=0)
    decision = blind.select(metric="decision")[0]
    assert decision.details["action"] == "retrain now"  # the model cannot run: decisive
    assert "could not be tested" in decision.message
    with_extra = X.assign(extra=np.linspace(0, 1, len(X)))
    unused = drift.run(with_extra, X, seed=0).select(metric="decision")[0]
    assert unused.details["action"] == "investigate first"
    assert "lacks reference columns" in unused.message
