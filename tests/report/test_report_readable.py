"""A report a person can read: names in words, a summary on top, the few findings that matter."""

from __future__ import annotations

import re

import pytest

from shakeout.report import Finding, Result, charts, render
from shakeout.report.markdown import level_table
from shakeout.report.readable import concerns, describe, figure

# one finding of each kind the drills write, named as they name them
DRILL_NAMES = [
    (Finding(name="digits CNN/stress/brightness/log_loss_drop@3", metric="log_loss_drop",
             value=0.4, drill="stress", subject="digits CNN", group="brightness", severity=3,
             unit="level (1-5)"), "log-loss rises under brightness, level 3"),
    (Finding(name="m/stress/gaussian_noise/accuracy@0.5", metric="accuracy", value=0.6,
             drill="stress", group="gaussian_noise", severity=0.5, unit="sigma (x feature std)"),
     "accuracy under gaussian noise, sigma 0.5"),
    (Finding(name="m/stress/scaling/robustness_score", metric="robustness_score", value=0.95,
             drill="stress", group="scaling"), "robustness score (scaling)"),
    (Finding(name="m/stress/feature_sensitivity/worst area", metric="feature_sensitivity",
             value=0.02, drill="stress", group="feature_sensitivity", feature="worst area"),
     "feature sensitivity on worst area"),
    (Finding(name="m/attack/ensemble/robust_accuracy@0.03", metric="robust_accuracy", value=0.9,
             drill="attack", group="ensemble", severity=0.03, unit="linf in input space"),
     "robust accuracy under ensemble, linf in input space = 0.03"),
    (Finding(name="m/attack/ensemble/class_robust_accuracy@0.03/3", metric="class_robust_accuracy",
             value=0.8, drill="attack", group="ensemble", feature="class 3", severity=0.03,
             unit="linf in input space"),
     "class robust accuracy on class 3 under ensemble, linf in input space = 0.03"),
    (Finding(name="w/drift/psi/x2@2026-02-23", metric="psi", value=0.25, drill="drift",
             group="psi", feature="x2", window="2026-02-23"), "PSI on x2, window 2026-02-23"),
    (Finding(name="w/drift/output/ks/p(1)@2026-02-23", metric="ks", value=0.11, drill="drift",
             group="output", feature="p(1)", window="2026-02-23"),
     "KS on p(1) (output), window 2026-02-23"),
    (Finding(name="w/drift/performance/degradation@2026-02-23", metric="degradation",
             value=0.04, drill="drift", group="performance", window="2026-02-23"),
     "degradation (performance), window 2026-02-23"),
    (Finding(name="w/drift/label/psi/label@w1", metric="psi", value=0.01, drill="drift",
             group="label", feature="label", window="w1"), "PSI on label, window w1"),
    (Finding(name="compare/accuracy_change", metric="accuracy_change", value=-0.02,
             drill="compare", group="versions"), "accuracy change (versions)"),
]


@pytest.mark.parametrize(("finding", "words"), DRILL_NAMES, ids=[w for _, w in DRILL_NAMES])
def test_describe_writes_each_drills_names_in_words(finding, words):
    assert describe(finding) == words


def stress_findings(subject: str = "digits CNN") -> list[Finding]:
    """One perturbation's metrics at several levels, and a milder second perturbation."""
    out = []
    for group, scale in (("gaussian_noise", 1.0), ("blur", 0.2)):
        for s in (1, 3, 5):
            acc = 0.97 - 0.07 * s * scale
            out.append(Finding(name=f"{subject}/stress/{group}/accuracy@{s}", metric="accuracy",
                               value=acc, ci=(acc - 0.04, acc + 0.04), drill="stress",
                               subject=subject, group=group, severity=s, unit="level (1-5)"))
            for metric, value, p in (("accuracy_drop", 0.97 - acc, 1e-4 / s),
                                     ("log_loss_drop", 0.5 * s * scale, 1e-3)):
                status = "fail" if value > 0.2 else ("warn" if value > 0.05 else "pass")
                out.append(Finding(
                    name=f"{subject}/stress/{group}/{metric}@{s}", metric=metric, value=value,
                    ci=(value - 0.03, value + 0.03), p_value=p, status=status, drill="stress",
                    subject=subject, group=group, severity=s, unit="level (1-5)",
                    effect="large" if value > 0.2 else "small",
                    details={"clean": 0.97, "perturbed": acc}))
    return out


def test_needs_attention_groups_one_perturbation_into_one_row_with_its_worst_case(tmp_path):
    findings = stress_findings()
    rows = concerns([f for f in findings if f.status in ("warn", "fail")])
    assert [(c.worst.name, len(c.members)) for c in rows] == [
        ("digits CNN/stress/gaussian_noise/accuracy_drop@5", 6),
        ("digits CNN/stress/blur/log_loss_drop@5", 4)]
    assert rows[0].others == "6 findings: accuracy, log-loss; level 1 to 5"
    html = render(Result(title="t", findings=tuple(findings)), tmp_path)["html"].read_text()
    attention = html[html.index("<h3>Needs attention"):]
    attention = attention[:attention.index("</table>")]
    assert attention.count("<tr>") == 3  # a header and one row per perturbation, not seven
    assert ('<span title="digits CNN/stress/gaussian_noise/accuracy_drop@5">accuracy falls '
            'under gaussian noise, level 5</span>') in attention  # machine name kept as a tooltip
    assert "digits CNN/stress/blur/log_loss_drop@3</span>" not in attention


def test_many_groups_keep_a_few_rows_in_sight_and_the_rest_one_click_away(tmp_path):
    findings = [Finding(name=f"stress/p{i}/accuracy_drop@1", metric="accuracy_drop", value=0.1,
                        p_value=0.01 / (i + 1), status="warn", drill="stress", group=f"p{i}",
                        severity=1) for i in range(12)]
    html = render(Result(title="t", findings=tuple(findings)), tmp_path)["html"].read_text()
    attention = html[html.index("<h3>Needs attention"):html.index("All 12 findings")]
    in_sight, folded = attention.split("<details>", 1)
    assert in_sight.count("<tr>") == 1 + 8 and "4 more groups that need attention" in folded
    assert "under p11" in in_sight and "under p0," in folded  # smallest p-values first


def test_the_page_opens_with_one_sentence_per_model_and_drill_and_a_table_of_contents(tmp_path):
    drift = [Finding(name=f"w/drift/psi/x2@{w}", metric="psi", value=v, drill="drift",
                     subject="weekly LR", group="psi", feature="x2", window=w, status=s,
                     details={"bands": {"warn": 0.1, "fail": 0.25}})
             for w, v, s in (("2026-01-05", 0.01, "pass"), ("2026-01-12", 0.31, "fail"))]
    drift += [Finding(name="w/drift/decision@2026-01-12", metric="decision", value=2.0,
                      status="fail", drill="drift", subject="weekly LR", group="decision",
                      window="2026-01-12", message="Retrain now: performance degraded together "
                      "with data drift. Evidence: PSI 0.31 on 'x2'.")]
    result = Result(title="t", findings=tuple(stress_findings() + stress_findings("GBM") + drift))
    html = render(result, tmp_path)["html"].read_text()
    summary = html[html.index('<h2 id="summary">'):html.index("<nav")]
    sentences = re.findall(r"<li>(.*?)</li>", summary, flags=re.S)
    assert len(sentences) == 3
    assert ("accuracy falls from 0.97 to 0.62 [0.58, 0.66] under gaussian noise, level 5."
            in sentences[0])
    assert ("Retrain now: performance degraded together with data drift; worst: PSI on x2, "
            "window 2026-01-12: 0.31.") in sentences[2]
    assert '<span class="badge fail">fail</span>' in sentences[0]
    toc = html[html.index("<nav"):html.index("</nav>")]
    anchors = re.findall(r'href="#([^"]+)"', toc)
    assert anchors == ["s1-stress-test-digits-cnn", "s2-stress-test-gbm", "s3-drift-weekly-lr",
                       "manifest"]
    for anchor in anchors:
        assert f'id="{anchor}"' in html  # every link lands on a section


def test_figure_reads_a_drop_as_the_metric_falling_with_the_perturbed_interval():
    findings = stress_findings()
    drop = next(f for f in findings if f.name.endswith("gaussian_noise/accuracy_drop@5"))
    assert figure(drop, findings) == ("accuracy falls from 0.97 to 0.62 [0.58, 0.66] under "
                                      "gaussian noise, level 5")


def test_robustness_scores_say_what_above_one_means(tmp_path):
    score = Finding(name="s/robustness_score", metric="robustness_score", value=1.001,
                    ci=(0.988, 1.015), drill="stress", group="jpeg",
                    message="normalised area under the accuracy curve; 1 means no degradation")
    html = render(Result(title="t", findings=(score,)), tmp_path)["html"].read_text()
    assert "1 means no degradation" in html
    assert "above 1, it improved under the perturbation" in html
    assert "noise when the interval holds 1" in html


def _onsets() -> list[Finding]:
    # strongest evidence first, as the monitor orders them; a later first window leads
    return [Finding(name=f"w/drift/onset/{m}/{feat}", metric="onset", value=0.0, status=s,
                    drill="drift", group="onset", feature=feat,
                    details={"first_window": first, "latest_window": "w6", "windows": n,
                             "series_group": m, "series_metric": m, "first_value": 0.3,
                             "latest_value": 0.4, "decisive_window": decisive})
            for m, feat, first, n, s, decisive in (("psi", "x2", "w5", 2, "fail", "w5"),
                                                   ("ks", "p(1)", "w4", 3, "warn", None))]


def test_onset_table_shows_when_evidence_became_decisive_in_the_given_order(tmp_path):
    html = render(Result(title="t", findings=tuple(_onsets())), tmp_path)["html"].read_text()
    table = html[html.index("Where and when drift began"):]
    table = table[:table.index("</table>")]
    assert "strongest evidence first" in table and "<th>decisive since</th>" in table
    rows = re.findall(r"<tr><td>(.*?)</tr>", table, flags=re.S)
    assert rows[0].startswith("psi</td><td>x2</td>")  # the order given, not by first window
    assert "<td>w5</td><td>w5</td>" in rows[0]
    assert "<td>w4</td><td></td>" in rows[1]  # never decisive: blank, not "None"


def test_p_values_at_the_bootstrap_floor_are_marked_with_one_note(tmp_path):
    findings = [Finding(name=f"stress/noise/macro_f1_drop@{s}", metric="macro_f1_drop",
                        value=0.1 * s, ci=(0.05 * s, 0.15 * s), p_value=0.005994, status="fail",
                        drill="stress", group="noise", severity=s, details={"p_at_floor": True})
                for s in (1, 2)]
    findings.append(Finding(name="other/x", metric="accuracy_drop", value=0.3, p_value=0.001,
                            status="fail", drill="other", group="g", severity=1))
    paths = render(Result(title="t", findings=tuple(findings)), tmp_path)
    html = paths["html"].read_text()
    stress = html[html.index('id="s1-stress-test"'):html.index('id="s2-other"')]
    other = html[html.index('id="s2-other"'):]
    assert '<td class="num">0.005994*</td>' in stress
    assert stress.count("sit at the bootstrap floor 1/(B+1)") == 2  # attention and full list
    assert "raise n_bootstrap" in stress.lower() or "Raise n_bootstrap" in stress
    assert "bootstrap floor" not in other and "0.001*" not in other
    md = paths["md"].read_text()
    assert "| 0.005994* |" in md and md.count("sit at the bootstrap floor") == 1


def test_summary_md_has_the_metric_per_perturbation_and_level(tmp_path):
    md = render(Result(title="t", findings=tuple(stress_findings())), tmp_path)["md"].read_text()
    assert "| perturbation | severity | accuracy |" in md
    assert "| gaussian_noise | level 5 | 0.62 [0.58, 0.66] |" in md
    assert "| blur | level 1 | 0.956 [0.916, 0.996] |" in md
    assert md.splitlines()[4].startswith("- **Stress test — digits CNN** (fail): accuracy falls")
    assert level_table([f for f in stress_findings() if f.severity == 1]) == []  # one level


def test_chart_ticks_are_round_numbers_and_charts_scale_to_the_page():
    pts = [Finding(name=str(s), metric="accuracy", value=0.968 - 0.09 * s, ci=None, severity=s)
           for s in (0.0, 0.5, 1.0)]
    svg = charts.curve(pts, "accuracy")
    ticks = re.findall(r'class="yl">([^<]+)</text>', svg)
    assert ticks == ["0.85", "0.90", "0.95", "1.00"]
    assert 'width="100%"' in svg and 'viewBox="0 0 320 190"' in svg


def test_long_feature_names_are_cut_with_the_full_name_as_a_tooltip():
    long = "mean concave points of the worst cell nucleus"
    svg = charts.bars([Finding(name=n, metric="m", value=v, feature=n)
                       for n, v in ((long, 0.3), ("age", 0.1))], "m")
    assert f"<title>{long}</title>" in svg
    label = re.search(r'class="yl"><title>[^<]*</title>([^<]+)</text>', svg).group(1)
    assert len(label) == 24 and label.endswith("…")


def test_an_all_zero_chart_is_not_drawn_and_the_report_says_why(tmp_path):
    sanity = [Finding(name=f"attack/sanity/{c}", metric="sanity", value=0.0, status="pass",
                      drill="attack", group="sanity", feature=c)
              for c in ("monotone", "unbounded", "black_box_stronger")]
    html = render(Result(title="t", findings=tuple(sanity)), tmp_path)["html"].read_text()
    assert "<svg" not in html
    assert "sanity is not charted: all 3 values are 0 or missing." in html
