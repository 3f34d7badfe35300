"""The user journey of the certify and uncertainty commands, checked against independent
computations: the demo CNN saved as TorchScript and its images as .npz, a scikit-learn model
pickled, each command run as a user would, and each headline number of results.json
recomputed here by hand (scipy's beta quantiles, a plain loop for the ECE, a count for
conformal coverage)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import beta, norm


def _findings(out, metric, group=None):
    data = json.loads((out / "results.json").read_text())
    return [f for f in data["findings"]
            if f["metric"] == metric and (group is None or f["group"] == group)], data


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """The demo CNN (two epochs) traced to TorchScript, and 30 of its test images."""
    torch = pytest.importorskip("torch")
    from shakeout.demo.models import digits_cnn

    folder = tmp_path_factory.mktemp("journey")
    cnn = digits_cnn(epochs=2)
    torch.jit.trace(cnn.model, torch.from_numpy(cnn.X_test[:2])).save(folder / "cnn.pt")
    np.savez(folder / "test.npz", X=cnn.X_test[:30], y=cnn.y_test[:30])
    return folder


def test_certify_from_the_cli_matches_the_radii_and_bounds_it_reports(cli, traced):
    out = traced / "certify"
    code, err = cli("certify", traced / "cnn.pt", traced / "test.npz", "--sigma", 0.25,
                    "--n0", 50, "--n", 300, "--radii", "0,0.1,0.25", "--no-sanity", "--quiet",
                    "--out", out)
    assert code == 0, err
    (abstain,), data = _findings(out, "abstention_rate")
    rows = abstain["details"]["inputs"]
    label, p_lower, radius = (np.asarray(rows[k], float) for k in ("label", "p_lower", "radius"))
    prediction = np.array([-1 if p is None else p for p in rows["prediction"]])
    answered = prediction >= 0
    # abstain exactly where the one-sided Clopper-Pearson bound is at most 1/2
    assert np.array_equal(answered, p_lower > 0.5)
    assert abstain["value"] == pytest.approx(np.mean(~answered))
    # each bound is beta.ppf(alpha, k, n - k + 1) for a whole count k of n = 300 passes
    n, alpha = 300, 0.001
    k = np.arange(1, n + 1)
    table = np.r_[0.0, beta.ppf(alpha, k, n - k + 1)]  # k = 0: the bound is 0
    nearest = np.abs(p_lower[:, None] - table[None, :]).min(axis=1)
    assert nearest.max() < 1e-12
    # radius = sigma * Phi^-1(pA_lower) (Cohen et al. 2019), 0 where it abstains
    assert np.allclose(radius[answered], 0.25 * norm.ppf(p_lower[answered]))
    curve, _ = _findings(out, "certified_accuracy")
    assert [f["severity"] for f in curve] == [0.0, 0.1, 0.25]
    for f in curve:  # certified accuracy recounted from the per-input radii, exact interval
        hits = int(np.sum((prediction == label) & (radius >= f["severity"])))
        assert f["value"] == hits / len(label)
        low = beta.ppf(0.025, hits, len(label) - hits + 1) if hits else 0.0
        assert f["ci"][0] == pytest.approx(low, abs=1e-12)
    (median,), _ = _findings(out, "median_certified_radius")
    assert median["value"] == pytest.approx(np.median(np.where(prediction == label, radius, 0)))


def _ece_loop(confidence, correct, n_bins=15):
    """Expected calibration error over equal-width bins (Naeini et al. 2015), one row at a
    time: the written-out definition, nothing vectorised."""
    total = 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        rows = [i for i, c in enumerate(confidence) if low < c <= high or (b == 0 and c == 0)]
        if rows:
            accuracy = sum(correct[i] for i in rows) / len(rows)
            mean_confidence = sum(confidence[i] for i in rows) / len(rows)
            total += len(rows) / len(confidence) * abs(accuracy - mean_confidence)
    return total


def test_uncertainty_from_the_cli_matches_hand_computations(cli, tmp_path):
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    clf = LogisticRegression(max_iter=2_000).fit(X[:800], y[:800])
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.savez(tmp_path / "cal.npz", X=X[800:1300], y=y[800:1300])
    np.savez(tmp_path / "test.npz", X=X[1300:], y=y[1300:])
    out = tmp_path / "out"
    code, err = cli("uncertainty", tmp_path / "clf.joblib", tmp_path / "test.npz",
                    "--calibration", tmp_path / "cal.npz", "--alpha", 0.05, "--trust-pickle",
                    "--quiet", "--out", out)
    assert code == 0, err
    proba, labels = clf.predict_proba(X[1300:]), y[1300:]
    cal, cal_labels = clf.predict_proba(X[800:1300]), y[800:1300]
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == labels

    (ece,), _ = _findings(out, "ece", "calibration")
    assert ece["value"] == pytest.approx(_ece_loop(list(confidence), list(correct)), abs=1e-12)

    # temperature: the minimiser of the calibration rows' negative log-likelihood
    def nll(t):
        z = np.log(cal) / t
        z -= z.max(axis=1, keepdims=True)
        return -np.mean(z[np.arange(len(z)), cal_labels] - np.log(np.exp(z).sum(axis=1)))

    temperature = minimize_scalar(nll, bounds=(0.05, 20), method="bounded",
                                  options={"xatol": 1e-9}).x
    (scaled,), _ = _findings(out, "ece", "temperature_scaled")
    assert scaled["details"]["temperature"] == pytest.approx(temperature, rel=1e-4)

    # conformal LAC sets: the ceil((n+1)(1-alpha))-th smallest calibration score, counted
    scores = np.sort(1 - cal[np.arange(len(cal)), cal_labels])
    threshold = scores[math.ceil((len(scores) + 1) * 0.95) - 1]
    sets = 1 - proba <= threshold
    (coverage,), _ = _findings(out, "coverage", "conformal")
    (size,), _ = _findings(out, "set_size", "conformal")
    assert coverage["value"] == pytest.approx(np.mean(sets[np.arange(len(sets)), labels]))
    assert size["value"] == pytest.approx(sets.sum(axis=1).mean())

    # the guaranteed-risk threshold: its test risk counted, its calibration bound from scipy
    (risk,), _ = _findings(out, "guaranteed_risk", "selective/max_probability")
    d = risk["details"]
    answered = confidence >= d["threshold"]
    assert risk["value"] == pytest.approx(np.mean(~correct[answered]))
    on_cal = cal.max(axis=1) >= d["threshold"]
    k = int(np.sum(on_cal & (cal.argmax(axis=1) != cal_labels)))
    m = int(on_cal.sum())
    levels = math.ceil(math.log2(len(cal)))  # Geifman & El-Yaniv 2017: delta split over the search
    assert d["bound"] == pytest.approx(beta.ppf(1 - 0.05 / levels, k + 1, m - k), rel=1e-9)
    assert d["bound"] <= 0.05


def test_mc_dropout_on_a_traced_model_is_refused_not_silently_constant(traced):
    from shakeout.errors import ValidationError
    from shakeout.models import load_model
    from shakeout.uncertainty import mc_dropout

    X = np.load(traced / "test.npz")["X"]
    with pytest.raises(ValidationError, match="frozen by torch.jit.trace"):
        mc_dropout(load_model(str(traced / "cnn.pt")), X, n=10, seed=0)
