"""``shakeout scan``: the report, the quarantine file, the lineage manifest, ``--since``, and
one clear line with exit 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

FAST = "robust_z,iqr,confident_learning"


@pytest.fixture
def train(tmp_path, cancer):
    """Breast cancer (200 rows) with an id column and 10% of labels flipped, marked."""
    frame = cancer.iloc[:200].copy()
    rng = np.random.default_rng(0)
    flip = np.zeros(len(frame), bool)
    flip[rng.choice(len(frame), 20, replace=False)] = True
    frame["target"] = np.where(flip, 1 - frame["target"], frame["target"])
    frame.insert(0, "id", np.arange(len(frame)) + 100)
    frame["poisoned"] = flip
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    return path


def test_scan_writes_report_quarantine_and_manifest(cli, train, tmp_path):
    out, q = tmp_path / "rep", tmp_path / "q.parquet"
    code, err = cli("scan", train, "--target", "target", "--mask", "poisoned", "--key", "id",
                    "--scanners", FAST, "--budget", "0.1", "--quarantine", q, "--out", out,
                    "--quiet")
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    names = {f["name"] for f in results["findings"]}
    assert {"scan/confident_learning/precision@0.1", "scan/base_rate"} <= names
    precision = next(f for f in results["findings"]
                     if f["name"] == "scan/confident_learning/precision@0.1")
    assert precision["ci"][0] > 0.1 and precision["status"] == "pass"
    quarantined = pd.read_parquet(q)
    assert len(quarantined) == 20 and quarantined["row_id"].min() >= 100
    manifest = json.loads((tmp_path / "train.csv.manifest.json").read_text())
    assert manifest["scans"] == FAST.split(",") and manifest["thresholds"]["budget"] == 0.1
    assert "Lineage manifest written" in err


def test_since_lists_an_edited_row(cli, train, tmp_path):
    base = tmp_path / "base.json"
    assert cli("scan", train, "--target", "target", "--key", "id", "--scanners", "iqr",
               "--manifest", base, "--out", tmp_path / "r1", "--quiet")[0] == 0
    unchanged = cli("scan", train, "--target", "target", "--key", "id", "--scanners", "iqr",
                    "--since", base, "--manifest", tmp_path / "same.json",
                    "--out", tmp_path / "r0", "--quiet")
    assert unchanged[0] == 0, unchanged[1]
    frame = pd.read_csv(train)
    frame.loc[frame["id"] == 105, "target"] = 1 - frame.loc[frame["id"] == 105, "target"]
    frame.to_csv(train, index=False)
    code, err = cli("scan", train, "--target", "target", "--key", "id", "--scanners", "iqr",
                    "--since", base, "--out", tmp_path / "r2", "--quiet")
    assert code == 1, err  # an edit to an accepted row fails the scan
    found = {f["metric"]: f for f in json.loads((tmp_path / "r2" / "results.json")
                                                .read_text())["findings"]}
    assert found["rows_changed"]["value"] == 1 and found["rows_changed"]["status"] == "fail"
    assert found["rows_changed"]["details"]["rows"] == [105]


def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("args", "match"), [
    (lambda t, p: [_write(p, pd.DataFrame({"x": [], "y": []})), "--target", "y"],
     "no rows"),
    (lambda t, p: [_write(p, pd.DataFrame({"x": np.arange(20.0), "y": 1})), "--target", "y",
                   "--scanners", "knn_labels"], "the target has one class"),
    (lambda t, p: [t, "--scanners", "zscore"], "zscore"),
    (lambda t, p: [t, "--quarantine", p / "q.txt"], "must end in .csv or .parquet"),
    (lambda t, p: [t, "--mask", "nope"], "mask column 'nope' not found"),
])
def test_bad_input_exits_2_with_one_line(cli, train, tmp_path, args, match):
    code, err = cli("scan", *args(train, tmp_path), "--out", tmp_path / "rep", "--quiet")
    assert code == 2 and match in err and "Traceback" not in err


def test_a_manifest_of_another_data_set_exits_2(cli, train, tmp_path):
    other = _write(tmp_path, pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}), "other.csv")
    assert cli("scan", other, "--scanners", "iqr", "--out", tmp_path / "r0", "--quiet")[0] == 0
    code, err = cli("scan", train, "--scanners", "iqr", "--since",
                    tmp_path / "other.csv.manifest.json", "--out", tmp_path / "rep", "--quiet")
    assert code == 2 and "Traceback" not in err and "column" in err


def test_spectral_signatures_on_a_model_without_representations_exit_2(cli, train, tmp_path,
                                                                     monkeypatch):
    (tmp_path / "scan_test_model.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])\n")
    monkeypatch.chdir(tmp_path)
    code, err = cli("scan", train, "--target", "target", "--scanners", "spectral_signature",
                    "--model", "scan_test_model:model", "--out", tmp_path / "rep", "--quiet")
    assert code == 2 and "Traceback" not in err
    assert "'spectral_signature' needs a model with representations" in err
    assert "LogisticRegression has none" in err
