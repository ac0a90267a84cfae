//! CUDA backend throughput against the device's theoretical peaks, and end to end against the
//! CPU backend.
//!
//! Prints three things:
//! 1. **Elementwise kernel** (flat field + gather + no-data flags) on one large chunk of a
//!    synthetic raw cube: effective bandwidth (bytes read + written / time, see
//!    `calib::cuda::KernelProfile`) as a fraction of `2 × memory clock × bus width / 8`
//!    (driver attributes `MEMORY_CLOCK_RATE`, `GLOBAL_MEMORY_BUS_WIDTH`). Also the copies.
//! 2. **GEMM** (cuBLAS sgemm, `[pixels, kept] · [kept, grid]`): achieved FLOP/s as a fraction
//!    of `SMs × FP32 lanes/SM × 2 × SM clock` (lanes per SM from the table in
//!    `calib::cuda::fp32_lanes_per_sm`).
//! 3. **End to end**: GB/s of raw cube (u16 bytes on disk) through read → calibrate → Parquet
//!    (`full` profile) on the same synthetic HDF5 cube, CPU (`process::run_blocks`) vs CUDA
//!    (`calib::cuda::run_blocks`, pipelined), and read → calibrate alone.
//!
//! Run: `cargo bench -p hsi-edge --features cuda --bench cuda -- [SIZE]` where SIZE is the
//! synthetic cube's size (`256MiB` by default; `1GB`, `2GiB`, …). Without a usable GPU it prints
//! `SKIPPED: …` and exits 0.

use std::path::Path;
use std::time::Instant;

use hsi_edge::calib::cuda::{self, CudaCalibrator, CudaOptions, DeviceInfo, KernelProfile};
use hsi_edge::calib::{CalibrationConfig, CalibrationPlan, Calibrator, CpuCalibrator};
use hsi_edge::flatten::{Flattener, ParquetFileSink, Pipeline, Profile};
use hsi_edge::process::{self, NoProgress};
use hsi_edge::synth::{self, SynthConfig};

fn main() {
    if let Err(e) = run() {
        eprintln!("cuda bench failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> hsi_edge::Result<()> {
    // `cargo bench` passes `--bench`; the first argument that is not a flag is the size.
    let size = match std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        Some(text) => SynthConfig::parse_size(&text)?,
        None => 256 << 20,
    };
    let probe = match CudaCalibrator::new() {
        Ok(c) => c,
        Err(e) => {
            println!("SKIPPED: no CUDA device ({e})");
            return Ok(());
        }
    };
    let dev = probe.info().clone();
    drop(probe);
    print_device(&dev);

    let dir = tempfile::tempdir().map_err(|e| hsi_edge::Error::io("tempdir", e))?;
    let cfg = SynthConfig {
        n_cubes: 1,
        ..SynthConfig::with_target_bytes(size)
    };
    let spectra = hsi_edge::testdata::usgs_spectra()?;
    let started = Instant::now();
    let trial = synth::generate(&cfg, &spectra, dir.path())?;
    let cube = trial
        .cubes
        .first()
        .ok_or_else(|| hsi_edge::Error::missing(dir.path(), "cube", "synth wrote none"))?;
    println!(
        "synthetic cube: {} lines × {} samples × 224 bands, u16 ({:.0} MB), made in {:.1} s\n",
        cfg.lines,
        cfg.samples,
        (cfg.lines * cfg.samples * 224 * 2) as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    kernels(&dev, cube)?;
    end_to_end(cube, dir.path())?;
    Ok(())
}

fn print_device(d: &DeviceInfo) {
    println!("device: {}", d.describe());
    println!(
        "  {} SMs at {:.0} MHz, memory {:.0} MHz × {} bit, {:.1} GiB",
        d.multiprocessors,
        f64::from(d.clock_khz) / 1e3,
        f64::from(d.memory_clock_khz) / 1e3,
        d.memory_bus_bits,
        d.total_memory_bytes as f64 / f64::from(1u32 << 30)
    );
    println!(
        "  peak memory bandwidth {:.1} GB/s; peak FP32 {}\n",
        d.peak_bandwidth() / 1e9,
        d.peak_fp32_flops()
            .map(|f| format!("{:.1} TFLOP/s", f / 1e12))
            .unwrap_or_else(|| "unknown (compute capability not in the table)".into())
    );
}

/// Profile each device step on one large chunk (up to 1 GiB of f32 input) of the cube.
fn kernels(dev: &DeviceInfo, cube: &Path) -> hsi_edge::Result<()> {
    let mut reader = hsi_edge::read::open(cube)?;
    let info = reader.info().clone();
    let line_bytes = info.shape.samples * info.shape.bands * 4;
    let lines = ((1usize << 30) / line_bytes).clamp(1, info.shape.lines);
    let block = reader.read_block(0, lines)?;
    for k in [1, 4] {
        let plan = CalibrationPlan::build(
            &info,
            &CalibrationConfig {
                binning: k,
                ..CalibrationConfig::default()
            },
        )?;
        // One chunk = the whole block; the lines must be a multiple of k.
        let block = hsi_edge::cube::LineBlock {
            first_line: 0,
            data: block
                .data
                .slice(ndarray::s![..(lines / k).max(1) * k, .., ..])
                .to_owned(),
        };
        for pack_u16 in [true, false] {
            let mut gpu = CudaCalibrator::with_options(CudaOptions {
                chunk_bytes: usize::MAX / 2,
                pack_u16,
                ..CudaOptions::default()
            })?;
            let p = gpu.profile(&plan, &block, 20)?;
            print_profile(dev, k, &p);
        }
    }
    Ok(())
}

fn print_profile(d: &DeviceInfo, k: usize, p: &KernelProfile) {
    println!(
        "k={k}, {:?} input: {} pixels × {} bands → {} kept → {} grid bands, {} GEMM rows",
        p.input, p.pixels, p.bands, p.kept, p.grid, p.rows
    );
    let bw = p.calibrate_bandwidth();
    println!(
        "  calibrate kernel  {:8.3} ms  {:7.1} GB/s  {:5.1}% of peak bandwidth ({:.0} MB moved)",
        p.calibrate_ms,
        bw / 1e9,
        100.0 * bw / d.peak_bandwidth(),
        p.calibrate_bytes() / 1e6
    );
    if let Some(ms) = p.bin_ms {
        println!("  bin kernel        {ms:8.3} ms");
    }
    let rate = p.gemm_rate();
    let peak = d
        .peak_fp32_flops()
        .map(|f| format!("{:5.1}% of FP32 peak", 100.0 * rate / f))
        .unwrap_or_default();
    println!(
        "  GEMM (sgemm)      {:8.3} ms  {:7.2} TFLOP/s  {peak} ({:.1} GFLOP)",
        p.gemm_ms,
        rate / 1e12,
        p.gemm_flops() / 1e9
    );
    println!("  mask kernel       {:8.3} ms", p.mask_ms);
    println!(
        "  copy in           {:8.3} ms  {:7.1} GB/s    copy out {:8.3} ms  {:7.1} GB/s\n",
        p.copy_in_ms,
        p.copy_in_bandwidth() / 1e9,
        p.copy_out_ms,
        p.copy_out_bandwidth() / 1e9
    );
}

/// Which calibrator a run uses (opened before the clock starts).
enum Backend<'a> {
    Cpu(&'a mut CpuCalibrator),
    Cuda(&'a mut CudaCalibrator),
}

/// GB/s of raw cube through read → calibrate (→ Parquet when `parquet`).
fn throughput(
    cube: &Path,
    out: &Path,
    backend: Backend<'_>,
    parquet: bool,
) -> hsi_edge::Result<f64> {
    let started = Instant::now();
    let mut reader = hsi_edge::read::open(cube)?;
    let info = reader.info().clone();
    let profile = Profile::full();
    let plan = CalibrationPlan::build(&info, &profile.apply(&CalibrationConfig::default()))?;
    let step = process::lines_per_block(info.shape.samples, info.shape.bands, plan.binning);
    if parquet {
        let flattener = Flattener::new(&info.header, &plan, Pipeline::Edge, None);
        let path = out.join(format!("{}.parquet", info.header.cube_id));
        let mut sink = ParquetFileSink::create(
            &path,
            flattener.schema().clone(),
            &plan.grid_nm,
            &profile.encoding,
            &info.header.cube_id,
        )?;
        match backend {
            Backend::Cpu(cpu) => process::run_blocks(
                reader.as_mut(),
                &plan,
                cpu,
                &flattener,
                &mut sink,
                &mut NoProgress,
            )?,
            Backend::Cuda(gpu) => cuda::run_blocks(
                reader.as_mut(),
                &plan,
                gpu,
                &flattener,
                &mut sink,
                &mut NoProgress,
            )?,
        };
        sink.finish()?;
    } else {
        let mut checksum = 0.0f64;
        let lines = info.shape.lines;
        let blocks = (0..lines)
            .step_by(step)
            .map(|first| reader.read_block(first, step.min(lines - first)));
        match backend {
            Backend::Cpu(cpu) => {
                for block in blocks {
                    let out = cpu.calibrate(&plan, &block?)?;
                    checksum += f64::from(out.data.iter().next().copied().unwrap_or(0.0));
                }
            }
            Backend::Cuda(gpu) => {
                gpu.calibrate_stream(&plan, blocks, |out| {
                    checksum += f64::from(out.data.iter().next().copied().unwrap_or(0.0));
                    Ok(())
                })?;
            }
        }
        std::hint::black_box(checksum);
    }
    Ok(info.raw_bytes as f64 / 1e9 / started.elapsed().as_secs_f64())
}

fn end_to_end(cube: &Path, dir: &Path) -> hsi_edge::Result<()> {
    println!(
        "end to end, GB/s of raw u16 cube (block pipeline, {} threads available):",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut cpu_calibrator = CpuCalibrator::new();
    let mut gpu_calibrator = CudaCalibrator::new()?;
    for (label, parquet) in [
        ("read → calibrate", false),
        ("read → calibrate → Parquet", true),
    ] {
        let cpu = throughput(
            cube,
            &dir.join("cpu"),
            Backend::Cpu(&mut cpu_calibrator),
            parquet,
        )?;
        let gpu = throughput(
            cube,
            &dir.join("cuda"),
            Backend::Cuda(&mut gpu_calibrator),
            parquet,
        )?;
        println!(
            "  {label:28}  cpu {cpu:6.2} GB/s   cuda {gpu:6.2} GB/s   ({:.1}×)",
            gpu / cpu.max(1e-12)
        );
    }
    Ok(())
}
