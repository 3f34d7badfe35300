"""Provenance: row hashes stable across csv, parquet and column order; one edit, one hash;
order-free batch hash; since() finds edits, additions and removals; wrong manifests refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shakeout.errors import ValidationError
from shakeout.poison.canonical import cell, encode_column
from shakeout.poison.provenance import (INLINE_ROWS, batch_hash, read_manifest, row_hashes,
                                        since, write_manifest)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Every kind a csv file loses: whole floats, float32, ints with gaps, bools, text that
    looks like numbers, timestamps (naive and zoned), dates, missing values."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "id": np.arange(n) + 1000,
        "x": rng.normal(size=n) * 10.0 ** rng.integers(-12, 12, n),
        "whole": rng.integers(-5, 5, n).astype(np.float64),
        "f32": rng.normal(size=n).astype(np.float32),
        "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),
        "flag": rng.random(n) < 0.5,
        "city": rng.choice(["Oslo", "Lima", "Pune", "NA", "01234", "true"], n),
        "when": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        "utc": pd.Timestamp("2024-03-01", tz="Europe/Paris")
        + pd.to_timedelta(rng.integers(0, 10**9, n), "ms"),
        "label": rng.integers(0, 3, n),
    })
    frame.loc[::7, "x"] = np.nan
    frame.loc[::11, "count"] = pd.NA
    frame.loc[::13, "city"] = None
    frame.loc[::17, "when"] = pd.NaT
    return frame


def test_same_rows_from_csv_parquet_and_another_column_order(table, tmp_path):
    table.to_csv(tmp_path / "t.csv", index=False)
    table.to_parquet(tmp_path / "t.parquet")
    from_frame = row_hashes(table)
    reordered = row_hashes(table[list(reversed(table.columns))])
    from_csv = row_hashes(tmp_path / "t.csv")
    from_parquet = row_hashes(tmp_path / "t.parquet")
    typed = pd.read_csv(tmp_path / "t.csv")
    assert not pd.api.types.is_datetime64_any_dtype(typed["when"])  # csv lost the types
    assert typed["count"].dtype != table["count"].dtype
    assert (from_frame == reordered).all()
    assert (from_frame == from_parquet).all()
    assert (from_frame == from_csv).all()
    assert from_frame.str.fullmatch("[0-9a-f]{32}").all() and from_frame.is_unique


def test_the_encoding_is_value_based(table):
    """1 and 1.0 agree, True and 1 do not, a zoned time is its UTC instant, mixed objects
    encode cell by cell like the typed columns."""
    same = [(pd.Series([1, 2]), pd.Series([1.0, 2.0])),
            (pd.Series([0.1], dtype=np.float32), pd.Series(["0.1"])),
            (pd.Series([pd.Timestamp("2024-01-01 01:00", tz="Europe/Paris")]),
             pd.Series(["2024-01-01T00:00:00Z"])),
            (pd.Series([np.nan, None]), pd.Series(["", "NaN"])),
            (pd.Series([-0.0]), pd.Series([0]))]
    for a, b in same:
        assert (encode_column(a) == encode_column(b)).all(), (a.tolist(), b.tolist())
    mixed = pd.Series([1, 1.5, "Oslo", None, True, pd.Timestamp("2024-01-01")], dtype=object)
    cells = encode_column(mixed)
    assert [c[0] for c in cells] == [1, 2, 6, 0, 3, 4]
    assert all((cells[i] == cell(v)).all() for i, v in enumerate(mixed))
    assert (encode_column(pd.Series([1.5, 2.5]))[1] == cell(2.5)).all()
    assert not (cell(True) == cell(1)).all() and not (cell("a") == cell("b")).all()
    assert not (cell(2**53 + 1) == cell(float(2**53 + 1))).all()  # ints stay exact


def test_one_changed_value_changes_exactly_that_row(table):
    before = row_hashes(table)
    for column in ("x", "flag", "city", "when", "label"):
        edited = table.copy()
        edited.loc[42, column] = table.loc[43, column]
        if edited.loc[42, column] == table.loc[42, column]:
            continue
        changed = np.flatnonzero((row_hashes(edited) != before).to_numpy())
        assert changed.tolist() == [42], column
    nudged = table.copy()
    nudged.loc[5, "x"] = np.nextafter(table.loc[5, "x"], np.inf)  # one ulp
    assert np.flatnonzero((row_hashes(nudged) != before).to_numpy()).tolist() == [5]


def test_renaming_a_column_changes_every_hash(table):
    renamed = table.rename(columns={"label": "target"})
    assert (row_hashes(renamed) != row_hashes(table)).all()


def test_batch_hash_is_independent_of_row_order_and_counts_repeats(table):
    h = row_hashes(table)
    shuffled = h.sample(frac=1.0, random_state=1)
    assert batch_hash(shuffled) == batch_hash(h)
    twice = pd.concat([h, h.iloc[:2]])
    assert batch_hash(twice) != batch_hash(pd.concat([h, h.iloc[2:4]])) != batch_hash(h)
    assert batch_hash(pd.concat([h, h.iloc[:1], h.iloc[:1]])) != batch_hash(h)  # no XOR cancel


def test_target_and_key(table):
    hashes = row_hashes(table, key="id", target="label")
    assert hashes.index.name == "id" and hashes.index.tolist() == table["id"].tolist()
    assert (hashes.to_numpy() == row_hashes(table).to_numpy()).all()
    X, y = table[["x", "whole"]].to_numpy(), table["label"].to_numpy()
    arrays = row_hashes((X, y), target="label")
    frame = row_hashes(pd.DataFrame(X, columns=["x0", "x1"]).assign(label=y))
    assert (arrays == frame).all()
    with pytest.raises(ValidationError, match="target column 'y' not found"):
        row_hashes(table, target="y")
    with pytest.raises(ValidationError, match=r"key column 'label' repeats ids"):
        row_hashes(table, key="label")
    with pytest.raises(ValidationError, match="'count' has 28 missing values"):
        row_hashes(table, key="count")


def _edited(table: pd.DataFrame) -> pd.DataFrame:
    """The old batch with row 10's label flipped, row 20 removed and one row added."""
    new = table.copy()
    new.loc[10, "label"] = (table.loc[10, "label"] + 1) % 3
    extra = table.iloc[[30]].assign(id=99999, x=0.5)
    return pd.concat([new.drop(index=20), extra], ignore_index=True)


@pytest.mark.parametrize("inline", [True, False])
def test_since_with_a_key_finds_the_edited_added_and_removed_rows(table, tmp_path, inline,
                                                                  monkeypatch):
    if not inline:
        monkeypatch.setattr("shakeout.poison.provenance.INLINE_ROWS", 10)
    table.to_parquet(tmp_path / "old.parquet")
    path = write_manifest(None, tmp_path / "old.parquet", key="id", target="label",
                          scans=["iqr"], thresholds={"budget": np.float32(0.05)})
    body = json.loads(path.read_text())
    assert ("inline" in body) == inline and ("row_file" in body) != inline
    assert body["rows"] == len(table) and body["sources"][0]["rows"] == len(table)
    assert body["scans"] == ["iqr"] and body["thresholds"] == {"budget": float(np.float32(0.05))}
    new = _edited(table)
    new.to_csv(tmp_path / "new.csv", index=False)
    diff = since(path, tmp_path / "new.csv")
    assert diff.changed == (1010,) and diff.removed == (1020,) and diff.added == (99999,)
    statuses = {f.metric: (f.value, f.status) for f in diff.findings()}
    assert statuses == {"rows_changed": (1.0, "fail"), "rows_removed": (1.0, "warn"),
                        "rows_added": (1.0, "info")}
    assert since(path, table).result().status == "pass"


def test_since_without_a_key_shows_an_edit_as_removed_plus_added(table, tmp_path):
    path = write_manifest(tmp_path / "m.json", [_write(table, tmp_path / "old.csv")])
    diff = since(path, _edited(table))
    assert diff.changed == ()
    assert diff.removed == (10, 20)  # positions in the old batch
    assert diff.added == (10, len(table) - 1)  # positions in the new data
    assert {f.metric: f.status for f in diff.findings()}["rows_removed"] == "fail"
    repeated = pd.concat([table, table.iloc[[3]]], ignore_index=True)
    assert since(path, repeated).added == (len(table),)
    assert since(path, table.iloc[::-1]).added == ()


def _write(frame: pd.DataFrame, path):
    frame.to_csv(path, index=False)
    return path


def test_a_manifest_of_another_data_set_is_refused(table, tmp_path):
    with pytest.raises(ValidationError, match="scans and thresholds must be plain JSON values"):
        write_manifest(tmp_path / "m.json", _write(table, tmp_path / "old.csv"),
                       thresholds={"cut": object()})
    path = write_manifest(tmp_path / "m.json", _write(table, tmp_path / "old.csv"), key="id")
    with pytest.raises(ValidationError, match=r"columns missing \['city'\], extra \['town'\]"):
        since(path, table.rename(columns={"city": "town"}))
    with pytest.raises(ValidationError, match=r"kind of columns changed: x \(number -> text\)"):
        since(path, table.assign(x="v"))
    with pytest.raises(ValidationError, match="written with key 'id', so rows cannot be matched "
                                              "by 'label'"):
        since(path, table, key="label")
    (tmp_path / "results.json").write_text('{"kind": "results", "findings": []}')
    with pytest.raises(ValidationError, match="is not a shakeout lineage manifest"):
        since(tmp_path / "results.json", table)


def test_an_edited_baseline_is_refused(table, tmp_path, monkeypatch):
    monkeypatch.setattr("shakeout.poison.provenance.INLINE_ROWS", 10)
    path = write_manifest(tmp_path / "m.json", _write(table, tmp_path / "old.csv"))
    rows = tmp_path / read_manifest(path).row_file
    frame = pd.read_parquet(rows)
    frame.loc[0, "row_hash"] = "0" * 32  # hide an edit by rewriting the baseline
    frame.to_parquet(rows)
    with pytest.raises(ValidationError, match="no longer give its batch hash"):
        since(path, table)


def test_a_folder_of_parquet_files_lists_each_source(table, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    table.iloc[:100].to_parquet(folder / "a.parquet")
    table.iloc[100:].to_parquet(folder / "b.parquet")
    manifest = read_manifest(write_manifest(None, folder, key="id"))
    assert manifest.path == folder / "_manifest.json"
    assert [(s.path, s.rows) for s in manifest.sources] == [("a.parquet", 100),
                                                           ("b.parquet", len(table) - 100)]
    assert all(len(s.sha256) == 64 for s in manifest.sources)
    assert manifest.batch_hash == batch_hash(row_hashes(table))
    assert len(table) <= INLINE_ROWS and since(manifest, folder).added == ()
