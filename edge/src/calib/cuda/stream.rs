//! The chunk pipeline: blocks in, chunks round-robin through the slots, blocks out in order.
//!
//! ## Invariants
//! - Chunks are submitted to slots `0, 1, …, n−1, 0, …` and retired first-in first-out, so
//!   when all `n` slots are busy the oldest chunk in flight is exactly the one on the slot to
//!   be reused: retiring it (waiting on its `done` event and copying its result out of pinned
//!   memory) is what frees the slot, and what makes writing its `host_in` safe.
//! - Each submitted block has a pending output (its whole `[out_lines, out_samples, grid]`
//!   array) and a count of chunks still in flight; blocks complete in submission order and
//!   are handed to the sink as soon as their last chunk is retired, so host memory holds the
//!   outputs of at most `n + 1` blocks (those with a chunk in flight, and the one being cut).
//! - Every public entry point drains the pipeline before returning, or on error synchronises
//!   every stream and forgets what was in flight, so the next call starts idle.

use std::collections::VecDeque;
use std::sync::mpsc::sync_channel;

use ndarray::Array3;

use super::geometry::Geometry;
use super::kernels::{BinDims, CalibrateDims};
use super::{CudaCalibrator, check_block, failed};
use crate::calib::{CalibratedBlock, CalibrationPlan};
use crate::cube::{CubeReader, LineBlock};
use crate::error::Result;
use crate::flatten::{BatchSink, Flattener};
use crate::process::{Progress, lines_per_block};

/// A chunk on the device.
#[derive(Debug)]
struct InFlight {
    slot: usize,
    /// Sequence number of its block.
    seq: u64,
    /// Where its output goes in the block's output, and how many values.
    offset: usize,
    len: usize,
}

/// A block whose chunks are not all back yet.
#[derive(Debug)]
struct PendingBlock {
    first_line: usize,
    out_lines: usize,
    data: Vec<f32>,
    chunks_left: usize,
}

/// Chunks in flight and blocks waiting for them.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    in_flight: VecDeque<InFlight>,
    pending: VecDeque<PendingBlock>,
    next_slot: usize,
    /// Sequence number of `pending.front()`.
    front_seq: u64,
}

impl Queue {
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.pending.is_empty()
    }
}

type Sink<'a> = dyn FnMut(CalibratedBlock) -> Result<()> + 'a;

impl CudaCalibrator {
    /// Calibrate a stream of blocks with the pipeline kept full across blocks: while the host
    /// reads and stages block i+1, the device computes block i and returns block i−1. `sink`
    /// receives the calibrated blocks in order. Returns the number of blocks.
    ///
    /// Stops at the first error (from `blocks`, the device or `sink`); blocks already handed
    /// to `sink` stay delivered.
    pub fn calibrate_stream<I, F>(
        &mut self,
        plan: &CalibrationPlan,
        blocks: I,
        mut sink: F,
    ) -> Result<u64>
    where
        I: IntoIterator<Item = Result<LineBlock>>,
        F: FnMut(CalibratedBlock) -> Result<()>,
    {
        let geometry = self.prepare(plan)?;
        let mut count = 0u64;
        let run = || -> Result<()> {
            for block in blocks {
                self.submit(plan, &geometry, &block?, &mut sink)?;
                count += 1;
            }
            self.drain(plan, &mut sink)
        };
        let result = run();
        if result.is_err() {
            self.abandon();
        }
        result.map(|()| count)
    }

    /// One block through the pipeline (its chunks overlap each other).
    pub(crate) fn calibrate_one(
        &mut self,
        plan: &CalibrationPlan,
        block: &LineBlock,
    ) -> Result<CalibratedBlock> {
        let geometry = self.prepare(plan)?;
        let mut out = None;
        let mut keep = |b: CalibratedBlock| {
            out = Some(b);
            Ok(())
        };
        let result = self
            .submit(plan, &geometry, block, &mut keep)
            .and_then(|()| self.drain(plan, &mut keep));
        if let Err(e) = result {
            self.abandon();
            return Err(e);
        }
        out.ok_or_else(|| failed(plan, "internal: the block produced no output"))
    }

    /// Cut `block` into chunks and put each on the next slot, retiring the oldest chunk first
    /// when every slot is busy.
    fn submit(
        &mut self,
        plan: &CalibrationPlan,
        g: &Geometry,
        block: &LineBlock,
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        let raw = check_block(plan, block)?;
        let lines = block.data.dim().0;
        let out_lines = plan.out_lines_for(lines);
        let line_values = g.samples * g.bands;
        let out_line_values = g.out_samples * g.grid;
        let chunks = lines.div_ceil(g.chunk_lines);
        let seq = self.queue.front_seq + self.queue.pending.len() as u64;
        self.queue.pending.push_back(PendingBlock {
            first_line: block.first_line / g.k,
            out_lines,
            data: vec![0.0; out_lines * out_line_values],
            chunks_left: chunks,
        });
        for c in 0..chunks {
            let first = c * g.chunk_lines;
            let count = g.chunk_lines.min(lines - first);
            let slot = self.queue.next_slot;
            if self.queue.in_flight.len() >= self.slots.len() {
                self.retire(plan, sink)?;
            }
            if self.queue.in_flight.iter().any(|f| f.slot == slot) {
                return Err(failed(plan, "internal: the next slot is still busy"));
            }
            let values = raw
                .get(first * line_values..(first + count) * line_values)
                .ok_or_else(|| failed(plan, "internal: chunk outside the block"))?;
            let len = self.enqueue(plan, g, slot, values, count)?;
            self.queue.in_flight.push_back(InFlight {
                slot,
                seq,
                offset: (first / g.k) * out_line_values,
                len,
            });
            self.queue.next_slot = (slot + 1) % self.slots.len();
        }
        Ok(())
    }

    /// Stage `values` (`lines` lines) on `slot` and queue the chunk's work on its stream.
    /// Returns the number of output values.
    fn enqueue(
        &mut self,
        plan: &CalibrationPlan,
        g: &Geometry,
        slot: usize,
        values: &[f32],
        lines: usize,
    ) -> Result<usize> {
        let pack = self.options.pack_u16;
        let CudaCalibrator {
            slots,
            kernels,
            constants,
            ..
        } = self;
        let consts = constants
            .as_ref()
            .ok_or_else(|| failed(plan, "internal: constants not uploaded"))?;
        let s = slots
            .get_mut(slot)
            .ok_or_else(|| failed(plan, "internal: no such slot"))?;
        let n = g.counts(lines).map_err(|e| failed(plan, e))?;
        let need = g.counts(g.chunk_lines).map_err(|e| failed(plan, e))?;
        s.reserve(need).map_err(|e| failed(plan, e))?;
        let kind = s.stage(values, pack).map_err(|e| failed(plan, e))?;
        let mut steps = || -> Result<(), String> {
            s.copy_in(kind, n.raw)?;
            s.run_calibrate(kernels, consts, calibrate_dims(plan, g, n.pixels), kind)?;
            if g.k > 1 {
                s.run_bin(kernels, bin_dims(g, lines, n.bins))?;
            }
            s.run_gemm(consts, g, n.rows)?;
            s.run_mask(kernels, g, n.rows)?;
            s.copy_out(n.out)
        };
        steps().map_err(|e| failed(plan, e))?;
        Ok(n.out)
    }

    /// Wait for the oldest chunk, copy its output into its block, and hand over every block
    /// that is complete.
    fn retire(&mut self, plan: &CalibrationPlan, sink: &mut Sink<'_>) -> Result<()> {
        let Some(chunk) = self.queue.in_flight.pop_front() else {
            return Ok(());
        };
        let slot = self
            .slots
            .get(chunk.slot)
            .ok_or_else(|| failed(plan, "internal: no such slot"))?;
        let values = slot.output(chunk.len).map_err(|e| failed(plan, e))?;
        let index =
            usize::try_from(chunk.seq.wrapping_sub(self.queue.front_seq)).unwrap_or(usize::MAX);
        let block = self
            .queue
            .pending
            .get_mut(index)
            .ok_or_else(|| failed(plan, "internal: chunk of an unknown block"))?;
        block
            .data
            .get_mut(chunk.offset..chunk.offset + chunk.len)
            .ok_or_else(|| failed(plan, "internal: chunk outside its block"))?
            .copy_from_slice(values);
        block.chunks_left = block.chunks_left.saturating_sub(1);
        while self
            .queue
            .pending
            .front()
            .is_some_and(|b| b.chunks_left == 0)
        {
            let Some(done) = self.queue.pending.pop_front() else {
                break;
            };
            self.queue.front_seq += 1;
            let data = Array3::from_shape_vec(
                (done.out_lines, plan.out_samples, plan.grid_nm.len()),
                done.data,
            )
            .map_err(|e| failed(plan, format!("internal shape error: {e}")))?;
            sink(CalibratedBlock {
                first_line: done.first_line,
                data,
            })?;
        }
        Ok(())
    }

    /// Retire everything in flight.
    fn drain(&mut self, plan: &CalibrationPlan, sink: &mut Sink<'_>) -> Result<()> {
        while !self.queue.in_flight.is_empty() {
            self.retire(plan, sink)?;
        }
        if self.queue.pending.is_empty() {
            Ok(())
        } else {
            Err(failed(plan, "internal: blocks left without chunks"))
        }
    }
}

pub(crate) fn calibrate_dims(plan: &CalibrationPlan, g: &Geometry, pixels: usize) -> CalibrateDims {
    let fill = plan.ignore_value();
    CalibrateDims {
        per_sample: i32::from(plan.radiometric().per_sample()),
        pixels: pixels as i64,
        samples: g.samples as i32,
        bands: g.bands as i32,
        kept: g.kept as i32,
        has_fill: i32::from(fill.is_some()),
        fill: fill.unwrap_or(0.0),
    }
}

pub(crate) fn bin_dims(g: &Geometry, lines: usize, bins: usize) -> BinDims {
    BinDims {
        lines: lines as i32,
        samples: g.samples as i32,
        kept: g.kept as i32,
        k: g.k as i32,
        out_samples: g.out_samples as i32,
        bins: bins as i64,
    }
}

/// [`process::run_blocks`](crate::process::run_blocks) with the CUDA pipeline kept full
/// across blocks: a reader thread reads block i+1 while this thread stages block i for the
/// device and flattens and writes the blocks that come back. Returns the rows written.
pub fn run_blocks(
    reader: &mut dyn CubeReader,
    plan: &CalibrationPlan,
    cuda: &mut CudaCalibrator,
    flattener: &Flattener,
    sink: &mut dyn BatchSink,
    progress: &mut dyn Progress,
) -> Result<u64> {
    let info = reader.info();
    let total = info.shape.lines;
    let step = lines_per_block(info.shape.samples, info.shape.bands, plan.binning);
    progress.begin(&info.header.cube_id, total as u64);
    let k = plan.binning.max(1);
    let (tx, rx) = sync_channel::<Result<LineBlock>>(1);
    let rows = std::thread::scope(|scope| -> Result<u64> {
        scope.spawn(move || crate::process::read_ahead(reader, step, tx));
        let mut rows = 0u64;
        cuda.calibrate_stream(plan, rx, |calibrated| {
            let first = calibrated.first_line * k;
            let lines = (calibrated.data.dim().0 * k).min(total.saturating_sub(first));
            if let Some(batch) = flattener.flatten(&calibrated)? {
                rows += batch.num_rows() as u64;
                sink.write(&batch)?;
            }
            progress.advance(lines as u64);
            Ok(())
        })?;
        Ok(rows)
    })?;
    progress.end();
    Ok(rows)
}
