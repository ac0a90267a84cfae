#!/usr/bin/env python3
"""The baseline a user would write instead of hsi-edge: h5py + NumPy + pyarrow.

It does the same steps as `hsi-edge process --profile full` on a DESIGN §4 HDF5 cube:
read line blocks, flat field against dark/white with the panel reflectance, drop the default bad
bands, resample with a Gaussian matrix to a 10 nm grid (one matmul per block), and write Parquet
with the same columns and the same encodings (BYTE_STREAM_SPLIT + ZSTD 1 on band columns).

    python baseline_numpy.py CUBE.h5 OUT.parquet [--lines-per-block N]

Prints one JSON line: raw bytes, rows, seconds, GB/s, and seconds per stage (`gemm` is the
resampling matrix product alone: a floor for any implementation using the same dense product at
this BLAS's speed).
"""
import argparse
import json
import time

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BAD_RANGES = [(1340.0, 1460.0), (1790.0, 1960.0)]
DROP_ABOVE = 2450.0
STEP = 10.0


def attr_str(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def resampling_matrix(wl, fwhm_in, grid):
    """Gaussian response of each grid band (FWHM = grid step) at the input centres."""
    sigma = STEP / 2.3548200450309493
    d = (wl[:, None] - grid[None, :]) / sigma
    m = np.exp(-0.5 * d * d)
    m[np.abs(d) > 3.0] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        m /= m.sum(axis=0, keepdims=True)
    return m.astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cube")
    ap.add_argument("out")
    ap.add_argument("--lines-per-block", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    f = h5py.File(a.cube, "r")
    ds = f["/cube"]
    lines, samples, bands = ds.shape
    wl = f["/wavelength_nm"][:].astype(np.float32)
    fwhm = f["/fwhm_nm"][:].astype(np.float32)
    dark = f["/dark"][:].astype(np.float32)
    white = f["/white"][:].astype(np.float32)
    panel = f["/panel_reflectance"][:] if "panel_reflectance" in f else np.full(bands, float(f.attrs["panel_reflectance"]))
    panel = np.asarray(panel, dtype=np.float32)
    factor = panel[None, :] / (white - dark)
    keep = np.ones(bands, dtype=bool)
    for lo, hi in BAD_RANGES:
        keep &= ~((wl >= lo) & (wl <= hi))
    keep &= wl <= DROP_ABOVE
    kept = np.nonzero(keep)[0]
    lo = np.ceil(wl[kept].min() / STEP) * STEP
    hi = np.floor(wl[kept].max() / STEP) * STEP
    grid = np.arange(lo, hi + STEP / 2, STEP, dtype=np.float32)
    for blo, bhi in BAD_RANGES:  # no output band centred in a dropped range
        grid = grid[~((grid >= blo) & (grid <= bhi))]
    m = resampling_matrix(wl[kept], fwhm[kept], grid)
    good = np.isfinite(m).all(axis=0) & (m.sum(axis=0) > 0)
    grid, m = grid[good], m[:, good]

    gt = [float(v) for v in f.attrs["geotransform"]]
    cube_id = attr_str(f, "cube_id")
    ids = {k: attr_str(f, k) for k in ("farm_id", "field_id", "sensor_id")}
    t_us = int(np.datetime64(attr_str(f, "acquisition_time").replace("Z", "")).astype("datetime64[us]").astype(np.int64))
    names = [f"b{int(round(g)):04d}" for g in grid]
    schema = pa.schema(
        [("cube_id", pa.string()), ("farm_id", pa.string()), ("field_id", pa.string()), ("sensor_id", pa.string()),
         ("acquisition_time", pa.timestamp("us", tz="UTC")), ("line", pa.int32()), ("sample", pa.int32()),
         ("x", pa.float64()), ("y", pa.float64()), ("pipeline", pa.string()), ("calibration_version", pa.string())]
        + [(n, pa.float32()) for n in names])
    writer = pq.ParquetWriter(a.out, schema, compression="zstd", compression_level=1,
                              use_dictionary=[c for c in schema.names if not c.startswith("b")],
                              use_byte_stream_split=names, write_statistics=True)
    step = a.lines_per_block or max(1, (32 << 20) // (samples * bands * 4))
    rows = 0
    st = {"read": 0.0, "radiometric": 0.0, "gemm": 0.0, "arrow": 0.0, "encode": 0.0}
    clock = time.perf_counter
    for first in range(0, lines, step):
        t = clock()
        dn = ds[first:first + step].astype(np.float32)
        st["read"] += clock() - t
        t = clock()
        n_lines = dn.shape[0]
        refl = (dn - dark[None]) * factor[None]
        px = refl[:, :, kept].reshape(-1, len(kept))
        st["radiometric"] += clock() - t
        t = clock()
        out = px @ m
        st["gemm"] += clock() - t
        t = clock()
        n = out.shape[0]
        li = np.repeat(np.arange(first, first + n_lines, dtype=np.int32), samples)
        si = np.tile(np.arange(samples, dtype=np.int32), n_lines)
        x = gt[0] + (si + 0.5) * gt[1] + (li + 0.5) * gt[2]
        y = gt[3] + (si + 0.5) * gt[4] + (li + 0.5) * gt[5]
        cols = [pa.array([cube_id] * n), pa.array([ids["farm_id"]] * n), pa.array([ids["field_id"]] * n),
                pa.array([ids["sensor_id"]] * n), pa.array(np.full(n, t_us), pa.timestamp("us", tz="UTC")),
                pa.array(li), pa.array(si), pa.array(x), pa.array(y), pa.array(["edge"] * n),
                pa.array(["baseline"] * n)]
        cols += [pa.array(np.ascontiguousarray(out[:, j])) for j in range(out.shape[1])]
        table = pa.Table.from_arrays(cols, schema=schema)
        st["arrow"] += clock() - t
        t = clock()
        writer.write_table(table, row_group_size=65536)
        st["encode"] += clock() - t
        rows += n
    t = clock()
    writer.close()
    st["encode"] += clock() - t
    secs = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    raw = lines * samples * bands * 2
    print(json.dumps({"impl": "numpy", "raw_bytes": raw, "rows": rows, "bands": len(names), "seconds": secs,
                      "raw_gb_per_s": raw / 1e9 / secs, "cpu_seconds": cpu,
                      "raw_gb_per_cpu_s": raw / 1e9 / cpu, "stage_seconds": st}))


if __name__ == "__main__":
    main()
