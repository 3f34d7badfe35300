"""Profiles under a data engineer's abuse: odd partitions, untidy parquet folders, ties."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shakeout import drift
from shakeout.drift import PSI, JSDivergence, KLDivergence, Profile, ProfileSpec, sample_parquet
from shakeout.drift.ks import ks_distance
from shakeout.drift.profile import sketch_ks
from shakeout.errors import ValidationError


def _frame(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(shift, 1, n), "k": rng.poisson(2 + shift, n).astype(float),
                         "c": rng.choice(["x", "y", "z"], n)})


def _same(p, q):
    return p.n_rows == q.n_rows and all(
        np.array_equal(p.columns[c].counts, q.columns[c].counts)
        and p.columns[c].unseen == q.columns[c].unseen for c in p.columns)


def test_uneven_partitions_with_empty_and_all_nan_ones_merge_exactly():
    ref, cur = _frame(3_000, 0), _frame(3_000, 1, shift=0.3)
    cur.loc[500:899, "a"] = np.nan  # a partition where "a" is only NaN
    cur.loc[::7, "c"] = "new"  # a category unseen in the reference
    spec = ProfileSpec(sketch_bins=50).fit(ref)
    cuts = [0, 0, 3, 500, 900, 900, 1_700, 2_999, 3_000, 3_000]  # empty slices included
    parts = [spec.profile(cur.iloc[a:b]) for a, b in zip(cuts, cuts[1:])]
    parts.append(spec.profile(pa.Table.from_pandas(cur.iloc[:0], preserve_index=False)))
    merged = Profile.merge_all(parts)
    assert _same(merged, spec.profile(cur))
    assert _same(merged, Profile.merge_all(parts[::-1]))
    tree = (parts[0] + parts[1]) + (parts[2] + (parts[3] + parts[4])) + Profile.merge_all(
        parts[5:])
    assert _same(merged, tree)
    tests = ("psi", "kl", "js")
    result = drift.run(spec.profile(ref), merged, tests=tests, categorical_tests=tests)
    for cls in (PSI, KLDivergence, JSDivergence):
        for col in ("a", "k", "c"):
            (f,) = [x for x in result.findings if x.group == cls.group and x.feature == col]
            assert f.value == cls().fit(ref[col]).compare(cur[col]).value


def test_profiles_of_no_rows_are_refused_by_compare():
    ref = _frame(500, 0)
    spec = ProfileSpec().fit(ref)
    empty = spec.profile(ref.iloc[:0])
    assert empty.n_rows == 0 and _same(empty + spec.profile(ref), spec.profile(ref))
    assert _same(spec.profile_batches(iter([])), empty)  # an empty Spark partition
    with pytest.raises(ValidationError, match="current profile has no rows"):
        drift.run(spec.profile(ref), empty)


def test_a_reference_column_without_values_gives_a_ks_warning_not_a_crash():
    ref = _frame(500, 0)
    spec = ProfileSpec().fit(ref)
    old = spec.profile(ref.assign(a=np.nan))  # last week's window: the column was empty
    result = drift.run(old, spec.profile(ref), tests=("ks", "psi"))
    (ks,) = [f for f in result.findings if f.group == "ks" and f.feature == "a"]
    assert ks.status == "warn" and "reference column 'a' has no values" in ks.message


def test_json_round_trip_then_merge_and_compare():
    ref, cur = _frame(1_000, 0), _frame(1_000, 1)
    spec = ProfileSpec().fit(ref)
    shipped = [json.dumps(spec.profile(cur.iloc[i:i + 300]).to_dict(), allow_nan=False)
               for i in range(0, 1_000, 300)]
    merged = Profile.merge_all(Profile.from_dict(json.loads(s)) for s in shipped)
    assert _same(merged, spec.profile(cur))
    assert drift.run(spec.profile(ref), merged).findings[-1].metric == "decision"
    with pytest.raises(ValidationError, match="different ProfileSpecs"):
        merged.merge(ProfileSpec(sketch_bins=500).fit(ref).profile(cur))


def test_sketch_ks_is_exact_where_the_reference_has_ties():
    ref, cur = _frame(4_000, 0), _frame(4_000, 1, shift=0.2)
    cur.loc[:999, "a"] = 7.0  # a constant partition
    mixed = np.where(np.arange(4_000) % 2 == 0, 0.0, ref["a"].abs())  # half an atom at 0
    ref, cur = ref.assign(m=mixed), cur.assign(m=np.where(np.arange(4_000) % 3 == 0, 0.0,
                                                           cur["a"].abs()))
    spec = ProfileSpec(sketch_bins=200).fit(ref)
    rp = spec.profile(ref)
    cp = Profile.merge_all(spec.profile(cur.iloc[i:i + 700]) for i in range(0, 4_000, 700))
    for col in ("a", "k", "m"):
        d, bound = sketch_ks(rp.columns[col], cp.columns[col], spec.sketches_[col].edges)
        exact = ks_distance(np.sort(ref[col].to_numpy()), np.sort(cur[col].to_numpy()))
        assert d - 1e-12 <= exact <= d + bound + 1e-12
        assert bound <= 2 / 200, (col, bound)  # about 1 / sketch_bins, ties or not
    (ks,) = [f for f in drift.run(rp, cp, tests=("ks",)).findings if f.feature == "k"]
    assert ks.details["sketch_bound"] <= 1 / 200  # was 0.27, the share of k == 1


def _write(folder, name, table):
    import pyarrow.parquet as pq

    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    pq.write_table(table, path)


def test_untidy_parquet_folder_works_or_names_the_file(tmp_path):
    ref, cur = _frame(400, 0), _frame(300, 1)
    spec = ProfileSpec().fit(ref)
    _write(tmp_path, "p0.parquet", cur.iloc[:100])
    _write(tmp_path, "p1.parquet", cur.iloc[100:200][["c", "k", "a"]].assign(extra=1))
    _write(tmp_path, "p2.parquet", cur.iloc[200:].astype({"k": "int64"}))
    _write(tmp_path, "p3.parquet", cur.iloc[:0])  # zero rows
    _write(tmp_path, "_temporary/0/p0.parquet", cur)  # an unfinished Spark write
    _write(tmp_path, ".p0.parquet.crc/x.parquet", cur)
    assert _same(spec.profile_parquet(tmp_path, batch_size=64), spec.profile(cur))
    assert len(sample_parquet(tmp_path, 1_000)) == 300
    _write(tmp_path, "day=2/p9.parquet", cur.iloc[:50].astype({"k": str}).assign(k="n/a"))
    with pytest.raises(ValidationError, match=r"day=2.p9\.parquet: .*column 'k' is numeric"):
        spec.profile_parquet(tmp_path)
    (tmp_path / "day=2" / "p9.parquet").write_text("not parquet")
    with pytest.raises(ValidationError, match=r"day=2.p9\.parquet: not a readable parquet"):
        spec.profile_parquet(tmp_path)
    with pytest.raises(ValidationError, match=r"day=2.p9\.parquet: not a readable parquet"):
        sample_parquet(tmp_path)


def test_parquet_of_no_rows_and_bad_sizes_are_refused(tmp_path):
    ref = _frame(400, 0)
    spec = ProfileSpec().fit(ref)
    _write(tmp_path, "p0.parquet", ref.iloc[:0])
    with pytest.raises(ValidationError, match="holds no rows"):
        spec.profile_parquet(tmp_path)
    _write(tmp_path, "p1.parquet", ref)
    for bad in (0, -5, 2.5):
        with pytest.raises(ValidationError, match="n_rows"):
            sample_parquet(tmp_path, bad)
    with pytest.raises(ValidationError, match="batch_size"):
        spec.profile_parquet(tmp_path, batch_size=0)


def test_sample_parquet_is_seeded_and_uniform(tmp_path):
    _write(tmp_path, "p0.parquet", pd.DataFrame({"i": np.arange(300)}))
    _write(tmp_path, "p1.parquet", pd.DataFrame({"i": np.arange(300, 1_000)}))
    first = sample_parquet(tmp_path, 40, seed=5, batch_size=128)
    assert first.equals(sample_parquet(tmp_path, 40, seed=5, batch_size=128))
    assert set(first["i"]) == set(sample_parquet(tmp_path, 40, seed=5, batch_size=999)["i"])
    means = [sample_parquet(tmp_path, 40, seed=s, batch_size=128)["i"].mean() for s in range(60)]
    # the mean of 60 sample means has sd 289 / sqrt(40 * 60) = 5.9 around 499.5
    assert abs(np.mean(means) - 499.5) < 25


def test_missing_values_are_counted_once_when_empty_string_is_a_category():
    spec = ProfileSpec().fit(pd.DataFrame({"c": ["a", "", "b"]}))
    p = spec.profile(pd.DataFrame({"c": pd.Series(["", None, np.nan, "a"], dtype=object)}))
    assert p.columns["c"].counts.tolist() == [1, 1, 0, 0, 2]
