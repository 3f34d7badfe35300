"""Finding and Result: the JSON schema round trip, inf and NaN, and reading files back."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from shakeout.errors import ValidationError
from shakeout.report import SCHEMA_VERSION, Finding, GateCondition, Manifest, Result


def _finding(**kw) -> Finding:
    base = dict(name="stress/noise/accuracy_drop@0.1", metric="accuracy_drop", value=0.04,
                ci=(0.01, 0.07), ci_level=0.95, p_value=0.003, status="fail", drill="stress",
                group="noise", severity=0.1, unit="sigma (x feature std)", effect="small",
                message="significant small degradation",
                details={"clean": 0.97, "test": "exact McNemar"})
    base.update(kw)
    return Finding(**base)


def _round_trip(result: Result) -> Result:
    text = json.dumps(result.to_dict(), allow_nan=False)  # strict JSON: no NaN/Infinity tokens
    return Result.from_dict(json.loads(text))


def test_finding_round_trip_is_exact():
    f = _finding()
    assert Finding.from_dict(json.loads(json.dumps(f.to_dict()))) == f


def test_infinite_values_survive_as_strings():
    f = _finding(value=math.inf, ci=(-math.inf, math.inf), p_value=None,
                 details={"ratio": np.float64(np.inf), "lower": -np.inf, "n": np.int64(3),
                          "curve": np.array([1.0, np.inf])})
    d = f.to_dict()
    assert d["value"] == "inf" and d["ci"] == ["-inf", "inf"]
    assert d["details"] == {"ratio": "inf", "lower": "-inf", "n": 3, "curve": [1.0, "inf"]}
    back = Finding.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert back.value == math.inf and back.ci == (-math.inf, math.inf)
    assert back == Finding.from_dict(d)


def test_nan_becomes_null_and_reads_back_as_nan():
    f = _finding(value=math.nan, ci=(0.0, 1.0), details={"bad": np.nan})
    d = f.to_dict()
    assert d["value"] is None and d["details"]["bad"] is None
    back = Finding.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert math.isnan(back.value)


def test_numpy_values_become_plain_python():
    f = _finding(value=np.float32(0.5), ci=(np.float64(0.25), np.float64(0.75)),
                 severity=np.float64(0.2), details={"arr": np.arange(3), "t": (1, 2)})
    d = f.to_dict()
    assert type(d["value"]) is float and d["ci"] == [0.25, 0.75]
    assert d["details"] == {"arr": [0, 1, 2], "t": [1, 2]}
    json.dumps(d, allow_nan=False)


def test_finding_status_is_checked():
    with pytest.raises(ValidationError, match=r"Finding 'x': status must be one of \('pass', "
                                              r"'warn', 'fail', 'info'\), got 'ok'"):
        Finding(name="x", metric="m", value=1.0, status="ok")


def test_result_round_trip_keeps_findings_manifest_and_version():
    manifest = Manifest.collect(seed=3, model="LogisticRegression", model_fingerprint="abc",
                                data="iris.csv", data_fingerprint="def", n_rows=150,
                                timings={"total_s": 1.23456789}, parameters={"grid": (0, 0.1)})
    r = Result(title="Stress test", findings=(_finding(), _finding(name="b", value=math.inf,
                                                                   status="warn")),
               manifest=manifest)
    back = _round_trip(r)
    assert back.findings == r.findings
    assert back.title == r.title and back.schema_version == SCHEMA_VERSION
    assert back.manifest.seed == 3 and back.manifest.n_rows == 150
    assert back.manifest.timings == {"total_s": 1.2346}
    assert back.manifest.parameters == {"grid": [0, 0.1]}
    assert back.manifest.versions["numpy"] == np.__version__
    assert back.status == "fail" and r.to_dict()["status"] == "fail"


def test_status_is_the_worst_finding():
    make = lambda *s: Result(title="t", findings=tuple(  # noqa: E731
        Finding(name=str(i), metric="m", value=0.0, status=x) for i, x in enumerate(s)))
    assert make().status == "info"
    assert make("info", "pass").status == "pass"
    assert make("pass", "warn", "info").status == "warn"
    assert make("warn", "fail", "pass").status == "fail"


def test_merge_prefixes_names_and_tags_subjects():
    a = Result(title="a", findings=(Finding(name="x", metric="m", value=1.0),))
    merged = Result.merge("both", [("m1", a), ("m2", a)])
    assert [f.name for f in merged.findings] == ["m1/x", "m2/x"]
    assert [f.subject for f in merged.findings] == ["m1", "m2"]
    assert merged.select(subject="m2")[0].name == "m2/x"


def test_select_matches_feature_severity_and_window_as_gates_do():
    fs = tuple(Finding(name=f"drift/psi/{x}@{w}", metric="psi", value=0.1, drill="drift",
                       feature=x, window=w, severity=s)
               for x, s in (("age", 0.1), ("income", 0.3)) for w in ("w1", "w2"))
    r = Result(title="t", findings=fs)
    assert [f.name for f in r.select(feature="age", window="w2")] == ["drift/psi/age@w2"]
    assert [f.name for f in r.select(severity=0.1 + 0.2, window="w1")] == ["drift/psi/income@w1"]
    assert r.select(drill="drift", metric="psi", group=None) == list(fs)
    gate = GateCondition(metric="psi", feature="income", severity=0.3, max=1.0)
    assert [f for f in fs if gate.matches(f)] == r.select(metric="psi", feature="income",
                                                         severity=0.3)


def test_load_reads_what_was_written(tmp_path):
    r = Result(title="t", findings=(_finding(),))
    path = tmp_path / "results.json"
    path.write_text(json.dumps(r.to_dict()))
    assert Result.load(path).findings == r.findings
    assert Result.load(str(path)).title == "t"


def test_load_missing_file(tmp_path):
    with pytest.raises(ValidationError, match=r"results file '.*nope.json' does not exist"):
        Result.load(tmp_path / "nope.json")


@pytest.mark.parametrize("content", [b"{not json", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"])
def test_load_not_json(tmp_path, content):
    path = tmp_path / "results.json"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=r"'.*results.json' is not valid JSON"):
        Result.load(path)


def test_load_a_folder(tmp_path):
    with pytest.raises(ValidationError, match=r"results file '.*' cannot be read"):
        Result.load(tmp_path)


def test_load_json_that_is_not_a_results_object(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(ValidationError, match=r"not a shakeout results file: expected a JSON "
                                              r"object with schema_version and findings, got "
                                              r"list"):
        Result.load(path)
    path.write_text(json.dumps({"schema_version": "1.0", "title": "t"}))
    with pytest.raises(ValidationError, match=r"not a shakeout results file: missing 'findings'"):
        Result.load(path)


def test_load_wrong_schema_major_version(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema_version": "2.0", "title": "future", "findings": []}))
    with pytest.raises(ValidationError, match=r"results schema 2.0 is not readable by this "
                                              r"shakeout \(schema 1.1\); re-run the drill"):
        Result.load(path)
    # a newer minor version of the same major schema is still readable
    path.write_text(json.dumps({"schema_version": "1.7", "title": "minor", "findings": []}))
    assert Result.load(path).schema_version == "1.7"


def test_merge_keeps_every_parts_manifest_and_reads_it_back():
    a = Result(title="a", findings=(Finding(name="x", metric="m", value=1.0),),
               manifest=Manifest(seed=1, model="logreg", timings={"total_s": 0.5}))
    b = Result(title="b", findings=(Finding(name="y", metric="m", value=2.0),),
               manifest=Manifest(seed=2, model="cnn", data="digits"))
    top = Manifest(seed=0, model="logreg, cnn")
    merged = Result.merge("both", [("tabular", a), ("images", b)], top)
    assert merged.manifest.seed == 0 and merged.manifest.model == "logreg, cnn"
    assert merged.manifest.parts == (("tabular", a.manifest), ("images", b.manifest))
    saved = merged.to_dict()["manifest"]["parts"]
    assert [(p["subject"], p["manifest"]["model"]) for p in saved] == [("tabular", "logreg"),
                                                                      ("images", "cnn")]
    back = _round_trip(merged)
    assert back.manifest == merged.manifest
    # without a manifest of its own the merge keeps the first part's, and still every part's
    first = Result.merge("both", [("tabular", a), ("images", b)]).manifest
    assert first.model == "logreg" and [s for s, _ in first.parts] == ["tabular", "images"]


def test_a_malformed_part_manifest_is_named(tmp_path):
    data = Result(title="t").to_dict()
    data["manifest"]["parts"] = [{"subject": "m1", "manifest": {"seed": "one"}}]
    with pytest.raises(ValidationError, match=r"manifest: part 'm1': seed must be an integer"):
        Result.from_dict(data)
    data["manifest"]["parts"] = {"m1": {}}
    with pytest.raises(ValidationError, match=r"manifest: parts must be a list of objects"):
        Result.from_dict(data)


_THREADS = """
import json, sys
from shakeout.report import Manifest, Result
from shakeout.report.html import render_html
before = Manifest.collect(seed=0)
assert "torch" not in sys.modules, "collecting a manifest imported torch"
import torch
torch.set_num_threads(1)
after = Manifest.collect(seed=0)
back = Result.from_dict(json.loads(json.dumps(Result(title="t", manifest=after).to_dict())))
print(before.torch_threads, after.torch_threads, back.manifest.torch_threads,
      "<th>torch threads</th><td>1</td>" in render_html(back))
"""


def test_the_manifest_records_torch_threads_only_when_torch_is_loaded():
    """Float sums change order with torch's thread count: the manifest says which it was,
    without importing torch for a drill that never used it."""
    import subprocess
    import sys

    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, "-c", _THREADS], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["None", "1", "1", "True"]


def test_a_manifest_with_torch_threads_that_are_not_a_count_is_refused():
    with pytest.raises(ValidationError, match="torch_threads must be an integer, got '4'"):
        Manifest.from_dict({"torch_threads": "4"})
