"""Mergeable profiles: exact PSI, bounded KS, streamed parquet, partitions, serialisation."""

import json

import numpy as np
import pandas as pd
import pytest

from shakeout import drift
from shakeout.drift import PSI, Chi2Test, KLDivergence, Profile, ProfileSpec, sample_parquet
from shakeout.drift.ks import ks_distance
from shakeout.drift.profile import sketch_ks
from shakeout.errors import NotFittedError, ValidationError


def _frames(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n),
                        "c": rng.choice(["x", "y", "z"], n)})
    cur = pd.DataFrame({"a": rng.normal(0.1, 1.1, n), "b": rng.exponential(1.2, size=n),
                        "c": rng.choice(["x", "y", "z", "new"], n, p=[0.3, 0.3, 0.3, 0.1])})
    cur.loc[::97, "a"] = np.nan
    return ref, cur


def _parts(spec, frame, size):
    return [spec.profile(frame.iloc[i:i + size]) for i in range(0, len(frame), size)]


def test_profile_psi_kl_chi2_equal_in_memory_exactly():
    ref, cur = _frames()
    spec = ProfileSpec().fit(ref)
    rp = Profile.merge_all(_parts(spec, ref, 3_000))
    cp = Profile.merge_all(_parts(spec, cur, 1_234))
    result = drift.run(rp, cp, tests=("psi", "kl", "ks"), categorical_tests=("psi", "chi2"))
    for col in ("a", "b", "c"):
        f = [x for x in result.select(group="psi") if x.feature == col][0]
        assert f.value == PSI().fit(ref[col]).compare(cur[col]).value  # bit for bit
    kl = [x for x in result.select(group="kl") if x.feature == "a"][0]
    assert kl.value == KLDivergence().fit(ref["a"]).compare(cur["a"]).value
    chi = result.select(group="chi2")[0]
    direct = Chi2Test().fit(ref["c"]).compare(cur["c"])
    assert chi.value == direct.value and chi.details["p_raw"] == direct.p_value
    psi_c = [x for x in result.select(group="psi") if x.feature == "c"][0]
    assert psi_c.details["unseen_categories"]["new"] > 0
    assert result.findings[-1].metric == "decision"


def test_sketch_ks_is_within_its_stated_bound():
    ref, cur = _frames(1)
    for sketch_bins in (20, 200, 1000):
        spec = ProfileSpec(sketch_bins=sketch_bins).fit(ref)
        rp, cp = spec.profile(ref), Profile.merge_all(_parts(spec, cur, 5_000))
        for col in ("a", "b"):
            d_grid, bound = sketch_ks(rp.columns[col], cp.columns[col])
            exact = ks_distance(np.sort(ref[col].dropna().to_numpy()),
                                np.sort(cur[col].dropna().to_numpy()))
            assert d_grid - 1e-12 <= exact <= d_grid + bound + 1e-12
            assert bound <= 1.5 / sketch_bins + 0.02  # about 1 / sketch_bins
    f = drift.run(rp, cp).select(group="ks")[0]
    assert f.details["sketch_bound"] > 0 and f.details["d_upper"] >= f.value


def test_merge_is_order_free_and_moments_exact():
    ref, cur = _frames(2, n=5_000)
    spec = ProfileSpec().fit(ref)
    parts = _parts(spec, cur, 700)
    forward = Profile.merge_all(parts).columns["a"]
    backward = Profile.merge_all(parts[::-1]).columns["a"]
    assert np.array_equal(forward.counts, backward.counts)
    x = cur["a"].dropna().to_numpy()
    assert forward.n == x.size and forward.mean == pytest.approx(x.mean(), rel=1e-12)
    assert forward.variance == pytest.approx(x.var(ddof=1), rel=1e-10)
    assert (forward.minimum, forward.maximum) == (x.min(), x.max())


def test_profiles_round_trip_through_json():
    ref, cur = _frames(3, n=2_000)
    spec = ProfileSpec().fit(ref)
    p = spec.profile(cur)
    back = Profile.from_dict(json.loads(json.dumps(p.to_dict())))
    merged = back.merge(spec.profile(cur))  # a deserialised profile merges with a live one
    assert merged.n_rows == 4_000
    assert np.array_equal(back.columns["c"].counts, p.columns["c"].counts)


def test_parquet_is_streamed_in_batches(tmp_path, monkeypatch):
    ref, cur = _frames(4, n=10_000)
    path = tmp_path / "cur.parquet"
    cur.to_parquet(path, row_group_size=1_000)
    spec = ProfileSpec().fit(ref)
    seen = []
    original = ProfileSpec.profile

    def spy(self, batch):
        seen.append(batch.num_rows)
        return original(self, batch)

    monkeypatch.setattr(ProfileSpec, "profile", spy)
    streamed = spec.profile_parquet(path, batch_size=1_000)
    assert max(seen) <= 1_000 and sum(seen) == 10_000
    whole = original(spec, cur)
    for col in ("a", "b", "c"):
        assert np.array_equal(streamed.columns[col].counts, whole.columns[col].counts)
    sample = sample_parquet(path, 500, seed=0, batch_size=1_000)
    assert len(sample) == 500 and set(sample.columns) == set(cur.columns)


def test_dask_partitions_are_profiled_where_they_live():
    dd = pytest.importorskip("dask.dataframe")
    ref, cur = _frames(5, n=4_000)
    spec = ProfileSpec().fit(ref)
    distributed = spec.profile_dask(dd.from_pandas(cur, npartitions=4))
    local = spec.profile(cur)
    for col in ("a", "b", "c"):
        assert np.array_equal(distributed.columns[col].counts, local.columns[col].counts)


def test_profile_errors():
    ref, cur = _frames(6, n=500)
    with pytest.raises(NotFittedError, match="fit"):
        ProfileSpec().profile(cur)
    spec = ProfileSpec().fit(ref)
    with pytest.raises(ValidationError, match="lacks columns"):
        spec.profile(cur.drop(columns=["a"]))
    other = ProfileSpec(n_bins=5).fit(ref)
    with pytest.raises(ValidationError, match="different ProfileSpecs"):
        spec.profile(cur).merge(other.profile(cur))
    with pytest.raises(ValidationError, match="tests must be one of"):
        drift.run(spec.profile(ref), spec.profile(cur), tests=("wasserstein",))
    with pytest.raises(ValidationError, match="does not exist"):
        spec.profile_parquet("/nonexistent.parquet")
