#!/usr/bin/env python3
"""NDVI of the `field` profile against `full`, and of `full` against the generator's expectation.

    ndvi_compare.py FULL.parquet FIELD.parquet plots.geojson expected_ndvi.csv CUBE_ID

Per plot: mean of per-pixel NDVI = (b0800 - b0680) / (b0800 + b0680) over the rows whose (x, y)
falls inside the plot polygon (ray casting). Per bin: each field row against the mean NDVI of the
full rows in its 4x4 bin. Reads Parquet with pyarrow, an implementation independent of ours.
"""
import csv
import json
import sys

import numpy as np
import pyarrow.parquet as pq


def ndvi(t):
    nir = t.column("b0800").to_numpy().astype(np.float64)
    red = t.column("b0680").to_numpy().astype(np.float64)
    return (nir - red) / (nir + red)


def inside(x, y, ring):
    """Vectorised even-odd point-in-polygon."""
    res = np.zeros(x.shape, dtype=bool)
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        cross = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        res ^= cross & (x < xi)
    return res


def per_plot(t, plots):
    x = t.column("x").to_numpy()
    y = t.column("y").to_numpy()
    v = ndvi(t)
    out = {}
    for pid, ring in plots.items():
        m = inside(x, y, ring)
        if m.any():
            out[pid] = float(v[m].mean())
    return out


def main():
    full_p, field_p, geojson, expected_csv, cube_id = sys.argv[1:6]
    full = pq.read_table(full_p, columns=["line", "sample", "x", "y", "b0680", "b0800"])
    field = pq.read_table(field_p, columns=["line", "sample", "x", "y", "b0680", "b0800"])
    gj = json.load(open(geojson))
    plots = {f["properties"]["plot_id"]: f["geometry"]["coordinates"][0] for f in gj["features"]}
    a, b = per_plot(full, plots), per_plot(field, plots)
    common = sorted(set(a) & set(b))
    mae_plot = np.mean([abs(a[p] - b[p]) for p in common])
    # per bin: field row (L, S) covers full lines kL..kL+k-1, samples kS..kS+k-1
    k = int(round((full.num_rows / field.num_rows) ** 0.5))
    fl = full.column("line").to_numpy() // k
    fs = full.column("sample").to_numpy() // k
    width = int(fs.max()) + 1
    key = fl.astype(np.int64) * width + fs
    sums = np.bincount(key, weights=ndvi(full))
    cnt = np.bincount(key)
    gkey = field.column("line").to_numpy().astype(np.int64) * width + field.column("sample").to_numpy()
    ref = sums[gkey] / cnt[gkey]
    mae_bin = float(np.nanmean(np.abs(ndvi(field) - ref)))
    exp = {r["plot_id"]: float(r["ndvi_mean"]) for r in csv.DictReader(open(expected_csv)) if r["cube_id"] == cube_id}
    ce = sorted(set(a) & set(exp))
    mae_exp = np.mean([abs(a[p] - exp[p]) for p in ce]) if ce else float("nan")
    print(f"NDVI MAE field vs full: per plot {mae_plot:.5f} ({len(common)} plots), per {k}x{k} bin {mae_bin:.5f}")
    print(f"NDVI MAE full vs generator expectation: {mae_exp:.5f} ({len(ce)} plots)")


if __name__ == "__main__":
    main()
