"""What a drill declares in its ReportSpec beyond title and headline: how its curves are
drawn (a y = x reference, points sized by a count), which figures its summary states, and
its own words for a finding. The report reads them and names no drill."""

from __future__ import annotations

import re

import pytest

from shakeout.drills import Chart, ReportSpec
from shakeout.errors import ValidationError
from shakeout.report import charts
from shakeout.report.html import blocks
from shakeout.report.result import Finding
from shakeout.report.sections import Section


def _bins(rows=(3, 300, 3000)):
    return [Finding(name=f"b{i}", metric="accuracy", value=c, ci=(c - 0.1, min(c + 0.1, 1.0)),
                    group="reliability", severity=c, unit="mean confidence of the bin",
                    details={"rows": n}) for i, (c, n) in enumerate(zip((0.6, 0.8, 0.95), rows))]


def _section(spec, findings):
    return Section("t", spec, list(findings), [])


def test_a_declared_reference_and_weight_draw_the_diagonal_and_size_the_points():
    spec = ReportSpec(title="t", charts=(Chart("reliability", reference="perfect calibration",
                                               weight="rows"),))
    (block,) = blocks(_section(spec, _bins()))
    svg = block.charts[0]
    assert 'stroke-dasharray' in svg and "dashed line y = x: perfect calibration" in svg
    assert "point area grows with rows: 3 to 3,000" in svg
    radii = [float(r) for r in re.findall(r'<circle [^>]*r="([\d.]+)"', svg)]
    assert radii == sorted(radii) and radii[-1] > 3 * radii[0]  # 3 rows is a speck
    # both axes on one range of round ticks: the diagonal runs corner to corner
    line = re.search(r'<line x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)" '
                     r'stroke="#6b7280"', svg)
    x1, y1, x2, y2 = map(float, line.groups())
    assert (x1, y1, x2) == (charts.LEFT, charts.HEIGHT - charts.BOTTOM,
                            charts.WIDTH - charts.RIGHT) and y2 == charts.TOP


def test_without_a_declaration_the_curve_is_a_plain_line():
    (block,) = blocks(_section(ReportSpec(title="t"), _bins()))
    assert "stroke-dasharray" not in block.charts[0] and "point area" not in block.charts[0]
    assert set(re.findall(r'<circle [^>]*r="([\d.]+)"', block.charts[0])) == {"2.5"}


def test_a_long_axis_label_wraps_instead_of_being_cut():
    unit = "l2 radius, input units (Gaussian noise, sigma=0.25)"
    pts = [Finding(name=str(r), metric="certified_accuracy", value=1 - r, severity=r, unit=unit)
           for r in (0.0, 0.25, 0.5)]
    svg = charts.curve(pts, "certified accuracy")
    assert "…" not in svg and "sigma=0.25)</text>" in svg
    assert f'viewBox="0 0 {charts.WIDTH} {charts.HEIGHT + 12}"' in svg


def test_the_last_tick_label_stays_inside_the_chart():
    pts = [Finding(name=str(c), metric="accuracy", value=c, severity=c) for c in (0.55, 0.9936)]
    svg = charts.curve(pts, "accuracy")
    x = float(re.search(r'<text x="([\d.]+)" y="[\d.]+" class="xl">0\.994<', svg).group(1))
    assert x + 3 * len("0.994") <= charts.WIDTH


def _headline(metric, value, group):
    return Finding(name=f"{group}/{metric}", metric=metric, value=value, ci=(0.0, value + 0.01),
                   group=group)


def test_the_summary_states_the_worst_figure_of_each_declared_metric():
    found = [_headline("coverage", 0.99, "conformal"), _headline("risk", 0.0, "entropy"),
             _headline("risk", 0.0045, "margin")]
    plain = _section(ReportSpec(title="t", headline=("coverage", "risk")), found)
    assert plain.summary == "risk (entropy): 0 [0, 0.01]"  # the lowest figure: the best risk
    declared = _section(ReportSpec(title="t", headline=("coverage", "risk"),
                                   summary=(("coverage", "low"), ("risk", "high"))), found)
    assert declared.summary == ("coverage (conformal): 0.99 [0, 1]; "
                                "risk (margin): 0.0045 [0, 0.0145]")


def test_a_figure_not_measured_says_so_instead_of_nan():
    f = Finding(name="r", metric="risk", value=float("nan"), ci=(0.0, 1.0), status="warn",
                message="The threshold answers none of the 20 rows. Lower it.")
    section = Section("t", ReportSpec(title="t", headline=("risk",)), [f], [f])
    assert section.summary == "risk: not measured (The threshold answers none of the 20 rows)"


def test_a_summary_direction_must_be_low_or_high():
    with pytest.raises(ValidationError, match="worse 'low' or 'high', got 'min'"):
        ReportSpec(title="t", summary=(("coverage", "min"),))


def test_a_bar_chart_title_names_its_group_only_when_it_adds_something():
    """Not "feature sensitivity: feature sensitivity"."""
    import re

    from shakeout.report.html import render_html
    from shakeout.report.result import Finding, Manifest, Result

    def bars(group):
        return [Finding(name=f"stress/{group}/{c}", metric="feature_sensitivity", value=v,
                        drill="stress", group=group, feature=c, status="info")
                for c, v in (("a", 0.1), ("b", 0.3))]

    html = render_html(Result(title="t", findings=(*bars("feature_sensitivity"),
                                                   *bars("permutation")),
                              manifest=Manifest.collect(seed=0)))
    labels = re.findall(r'aria-label="([^"]*)"', html)
    assert "feature sensitivity" in labels and "permutation: feature sensitivity" in labels
    assert "feature sensitivity: feature sensitivity" not in labels
