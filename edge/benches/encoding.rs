//! Parquet encodings for Silver band columns, measured on real calibrated data.
//!
//! Synthesises a 256×256-pixel field-trial cube from the USGS spectra (with shot noise),
//! calibrates it with the CPU path, then writes the same record batches with each candidate
//! encoding into memory and prints bytes per pixel, the ratio to the raw u16 cube, and the
//! encode rate. Files are written by hsi-edge's `SilverWriter` (each BYTE_STREAM_SPLIT stream a
//! ZSTD block of its own); rows marked "ArrowWriter" by the `parquet` crate's writer (one ZSTD
//! block per page), for comparison. `cargo bench -p hsi-edge --bench encoding`. Figures: docs/benchmarks.md.

use std::time::Instant;

use arrow_array::RecordBatch;
use hsi_edge::calib::{CalibrationConfig, CalibrationPlan, CpuCalibrator};
use hsi_edge::flatten::encoding::quantize_mantissa;
use hsi_edge::flatten::{
    BandEncoding, BatchSink, EncodingOptions, Flattener, Pipeline, SilverWriter,
};
use hsi_edge::process::{NoProgress, run_blocks};
use hsi_edge::read;
use hsi_edge::synth::{self, SynthConfig};
use parquet::arrow::ArrowWriter;

struct Collect(Vec<RecordBatch>);
impl BatchSink for Collect {
    fn write(&mut self, batch: &RecordBatch) -> hsi_edge::Result<()> {
        self.0.push(batch.clone());
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let cfg = SynthConfig {
        lines: 256,
        samples: 256,
        n_cubes: 1,
        ..SynthConfig::default()
    };
    let trial = synth::generate(&cfg, &hsi_edge::testdata::usgs_spectra()?, dir.path())?;
    let mut reader = read::open(&trial.cubes[0])?;
    let info = reader.info().clone();
    let plan = CalibrationPlan::build(&info, &CalibrationConfig::default())?;
    let flattener = Flattener::new(&info.header, &plan, Pipeline::Edge, None);
    let mut sink = Collect(Vec::new());
    run_blocks(
        reader.as_mut(),
        &plan,
        &mut CpuCalibrator::default(),
        &flattener,
        &mut sink,
        &mut NoProgress,
    )?;
    let batches = sink.0;
    let pixels: usize = batches.iter().map(|b| b.num_rows()).sum();
    let raw = info.raw_bytes as f64;
    println!(
        "{} pixels x {} grid bands (raw cube {:.1} MB, {} bands u16)",
        pixels,
        plan.grid_nm.len(),
        raw / 1e6,
        info.shape.bands
    );
    println!(
        "{:<36} {:>10} {:>9} {:>11}",
        "encoding", "bytes/px", "raw/pq", "encode MB/s"
    );
    let cases: Vec<(&str, BandEncoding, i32, Option<u8>)> = vec![
        ("plain, uncompressed", BandEncoding::Plain, 0, None),
        ("plain + zstd(1)", BandEncoding::Plain, 1, None),
        ("dictionary + zstd(1)", BandEncoding::Dictionary, 1, None),
        (
            "bss + zstd(1), ArrowWriter",
            BandEncoding::ByteStreamSplit,
            1,
            None,
        ),
        (
            "byte_stream_split + zstd(1)",
            BandEncoding::ByteStreamSplit,
            1,
            None,
        ),
        (
            "bss + zstd(-50), Huffman literals",
            BandEncoding::ByteStreamSplit,
            -50,
            None,
        ),
        (
            "byte_stream_split + zstd(3)",
            BandEncoding::ByteStreamSplit,
            3,
            None,
        ),
        (
            "byte_stream_split + zstd(9)",
            BandEncoding::ByteStreamSplit,
            9,
            None,
        ),
        (
            "plain + zstd(3), 10-bit mantissa",
            BandEncoding::Plain,
            3,
            Some(10),
        ),
        (
            "bss + zstd(1), 10-bit mantissa",
            BandEncoding::ByteStreamSplit,
            1,
            Some(10),
        ),
        (
            "bss + zstd(3), 10-bit mantissa",
            BandEncoding::ByteStreamSplit,
            3,
            Some(10),
        ),
        (
            "bss + zstd(3), 7-bit mantissa",
            BandEncoding::ByteStreamSplit,
            3,
            Some(7),
        ),
    ];
    for (name, bands, zstd_level, bits) in cases {
        let input: Vec<RecordBatch> = match bits {
            None => batches.clone(),
            Some(b) => batches
                .iter()
                .map(|batch| quantized(batch, b))
                .collect::<Result<_, _>>()?,
        };
        let opts = EncodingOptions {
            bands,
            zstd_level,
            mantissa_bits: bits,
            ..EncodingOptions::default()
        };
        let mut best = f64::MAX;
        let mut size = 0usize;
        for _ in 0..3 {
            let t = Instant::now();
            let mut buf = Vec::new();
            let props = opts.writer_properties(&plan.grid_nm);
            if name.ends_with("ArrowWriter") {
                let mut w =
                    ArrowWriter::try_new(&mut buf, flattener.schema().clone(), Some(props))?;
                for b in &input {
                    w.write(b)?;
                }
                w.close()?;
            } else {
                let mut w = SilverWriter::try_new(&mut buf, flattener.schema().clone(), props)?;
                for b in &input {
                    w.write(b)?;
                }
                w.finish()?;
            }
            best = best.min(t.elapsed().as_secs_f64());
            size = buf.len();
        }
        let f32_bytes = (pixels * plan.grid_nm.len() * 4) as f64;
        println!(
            "{:<36} {:>10.1} {:>8.2}x {:>11.0}",
            name,
            size as f64 / pixels as f64,
            raw / size as f64,
            f32_bytes / 1e6 / best
        );
    }
    Ok(())
}

fn quantized(b: &RecordBatch, bits: u8) -> Result<RecordBatch, Box<dyn std::error::Error>> {
    use arrow_array::{Array, ArrayRef, Float32Array};
    use std::sync::Arc;
    let cols: Vec<ArrayRef> = b
        .columns()
        .iter()
        .map(|c| match c.as_any().downcast_ref::<Float32Array>() {
            Some(f) => Arc::new(
                f.unary::<_, arrow_array::types::Float32Type>(|v| quantize_mantissa(v, bits)),
            ) as ArrayRef,
            None => c.clone(),
        })
        .collect();
    Ok(RecordBatch::try_new(b.schema(), cols)?)
}
