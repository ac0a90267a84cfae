//! Outbox invariants, including recovery after simulated crashes (state left on disk by a
//! process that stopped between two steps).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::*;

fn payload(n: usize, tag: u8) -> Vec<u8> {
    (0..n).map(|i| tag.wrapping_add(i as u8)).collect()
}

fn stage(outbox: &Outbox, cube: &str, sizes: &[usize]) -> u64 {
    let stop = AtomicBool::new(false);
    let mut s = outbox.begin(cube, &format!("{cube}.h5")).expect("begin");
    for (i, &n) in sizes.iter().enumerate() {
        s.add(&payload(n, i as u8), &stop).expect("add");
    }
    s.commit("silver.v1:00", "cal+1", 10 * sizes.len() as u64)
        .expect("commit")
}

#[test]
fn committed_chunks_carry_their_headers_and_leave_only_on_ack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (outbox, rec) = Outbox::open(dir.path(), 1 << 20).expect("open");
    assert_eq!(rec, Recovery::default());
    let seq = stage(&outbox, "cube/1", &[100, 200, 50]);
    let pending = outbox.next_pending(&HashSet::new(), 10);
    assert_eq!(pending.len(), 3);
    assert_eq!(pending[1].meta.cube_id, "cube/1");
    assert_eq!(pending[1].meta.chunk_index, 1);
    assert_eq!(pending[1].meta.chunk_count, 3);
    assert_eq!(pending[1].meta.schema, "silver.v1:00");
    assert_eq!(pending[1].meta.calibration_version, "cal+1");
    assert_eq!(outbox.read(&pending[1]).expect("read"), payload(200, 1));
    let s = outbox.stats();
    assert_eq!(
        (s.chunks_pending, s.ready_bytes, s.staging_bytes),
        (3, 350, 0)
    );

    let skip: HashSet<_> = [pending[0].id].into_iter().collect();
    assert_eq!(outbox.next_pending(&skip, 10)[0].id.index, 1);
    assert_eq!(outbox.next_pending(&skip, 1).len(), 1);

    assert_eq!(outbox.ack(ChunkId { seq, index: 2 }).expect("ack"), None);
    assert_eq!(outbox.ack(ChunkId { seq, index: 0 }).expect("ack"), None);
    // A second ack of the same chunk is a no-op.
    assert_eq!(outbox.ack(ChunkId { seq, index: 0 }).expect("ack"), None);
    let drained = outbox.ack(ChunkId { seq, index: 1 }).expect("ack");
    assert_eq!(
        drained,
        Some(Drained {
            seq,
            cube_id: "cube/1".into(),
            source: "cube/1.h5".into()
        })
    );
    assert_eq!(outbox.stats().ready_bytes, 0);
    outbox.remove_drained(seq).expect("remove");
    assert_eq!(outbox.stats().cubes_ready, 0);
    assert!(
        std::fs::read_dir(dir.path().join("ready"))
            .expect("ls")
            .next()
            .is_none()
    );
}

#[test]
fn recovery_discards_staging_and_keeps_unacknowledged_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (outbox, _) = Outbox::open(dir.path(), 1 << 20).expect("open");
        let a = stage(&outbox, "a", &[10, 20, 30]);
        stage(&outbox, "b", &[40]);
        outbox.ack(ChunkId { seq: a, index: 1 }).expect("ack");
        // A crash in the middle of processing cube c: its staging directory stays behind.
        let stop = AtomicBool::new(false);
        let mut s = outbox.begin("c", "c.h5").expect("begin");
        s.add(&payload(70, 0), &stop).expect("add");
        std::mem::forget(s);
        // And a half-written temporary file in a ready cube.
        std::fs::write(
            dir.path()
                .join("ready/0000000000000001-a/000009.parquet.tmp"),
            b"x",
        )
        .expect("write");
    }
    let (outbox, rec) = Outbox::open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(rec.staging_discarded, 1);
    assert_eq!(rec.cubes_ready, 2);
    assert_eq!(rec.chunks_pending, 3);
    assert!(rec.quarantined.is_empty());
    let ids: Vec<_> = outbox
        .next_pending(&HashSet::new(), 10)
        .iter()
        .map(|c| (c.meta.cube_id.clone(), c.meta.chunk_index, c.bytes))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("a".to_owned(), 0, 10),
            ("a".to_owned(), 2, 30),
            ("b".to_owned(), 0, 40)
        ]
    );
    assert_eq!(outbox.stats().ready_bytes, 80);
    assert!(!dir.path().join("staging/c").exists());
    assert!(
        !dir.path()
            .join("ready/0000000000000001-a/000009.parquet.tmp")
            .exists()
    );
    // New commits continue the sequence after the recovered ones.
    assert_eq!(stage(&outbox, "d", &[1]), 3);
}

#[test]
fn a_cube_acked_before_a_crash_is_reported_drained() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (outbox, _) = Outbox::open(dir.path(), 1 << 20).expect("open");
        let a = stage(&outbox, "a", &[10]);
        // Crash after the ack, before the state store recorded the cube as sent.
        assert!(
            outbox
                .ack(ChunkId { seq: a, index: 0 })
                .expect("ack")
                .is_some()
        );
    }
    let (outbox, rec) = Outbox::open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!((rec.cubes_ready, rec.chunks_pending), (1, 0));
    let d = outbox.drained();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].source, "a.h5");
    outbox.remove_drained(d[0].seq).expect("remove");
    assert!(outbox.drained().is_empty());
}

#[test]
fn damaged_payloads_are_quarantined_not_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (outbox, _) = Outbox::open(dir.path(), 1 << 20).expect("open");
        stage(&outbox, "short", &[10, 10]);
        stage(&outbox, "flipped", &[10]);
    }
    // A truncated payload is found by recovery.
    std::fs::write(
        dir.path()
            .join("ready/0000000000000001-short/000001.parquet"),
        b"abc",
    )
    .expect("truncate");
    // A flipped byte (same size) is found before sending.
    let flipped = dir
        .path()
        .join("ready/0000000000000002-flipped/000000.parquet");
    let mut bytes = std::fs::read(&flipped).expect("read");
    bytes[3] ^= 0xff;
    std::fs::write(&flipped, bytes).expect("write");

    let (outbox, rec) = Outbox::open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(rec.quarantined.len(), 1, "{rec:?}");
    assert!(
        rec.quarantined[0]
            .1
            .contains("3 bytes, the manifest says 10")
    );
    assert!(
        dir.path()
            .join("quarantine/0000000000000001-short")
            .is_dir()
    );
    let p = outbox.next_pending(&HashSet::new(), 10);
    assert_eq!(p.len(), 1);
    let e = outbox.read(&p[0]).expect_err("checksum");
    assert!(e.to_string().contains("CRC-32C"), "{e}");
    outbox
        .quarantine(p[0].id.seq, "checksum")
        .expect("quarantine");
    assert_eq!(outbox.stats().chunks_pending, 0);
    assert!(
        dir.path()
            .join("quarantine/0000000000000002-flipped")
            .is_dir()
    );
}

#[test]
fn a_full_outbox_pauses_staging_until_acks_free_space() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (outbox, _) = Outbox::open(dir.path(), 250).expect("open");
    let outbox = Arc::new(outbox);
    let first = stage(&outbox, "a", &[100, 100]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (outbox, stop) = (outbox.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut s = outbox.begin("b", "b.h5").expect("begin");
            s.add(&payload(40, 0), &stop).expect("fits");
            // 200 ready + 40 staged + 40 > 250: waits for an ack.
            s.add(&payload(40, 1), &stop).expect("after ack");
            s.commit("s", "v", 2).expect("commit")
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !outbox.stats().backpressure {
        assert!(std::time::Instant::now() < deadline, "writer never paused");
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = outbox.stats();
    assert_eq!(
        (s.ready_bytes, s.staging_bytes, s.backpressure_waits),
        (200, 40, 1)
    );
    assert!(!writer.is_finished());
    outbox
        .ack(ChunkId {
            seq: first,
            index: 0,
        })
        .expect("ack");
    let seq = writer.join().expect("writer");
    assert_eq!(seq, first + 1);
    let s = outbox.stats();
    assert_eq!(
        (s.ready_bytes, s.staging_bytes, s.backpressure),
        (180, 0, false)
    );
    assert_eq!(s.chunks_pending, 3, "nothing was dropped to make room");
}

#[test]
fn shutdown_interrupts_a_paused_cube_and_gives_its_space_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (outbox, _) = Outbox::open(dir.path(), 100).expect("open");
    stage(&outbox, "a", &[100]);
    let stop = AtomicBool::new(true);
    assert!(matches!(
        outbox.wait_below_cap(&stop),
        Err(crate::runtime::error::Error::Shutdown)
    ));
    let mut s = outbox.begin("b", "b.h5").expect("begin");
    assert!(s.add(&payload(10, 0), &stop).is_err());
    drop(s);
    assert_eq!(outbox.stats().staging_bytes, 0);
    assert!(!dir.path().join("staging/b").exists());
}

#[test]
fn a_cube_larger_than_the_cap_still_completes_when_nothing_else_can_drain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (outbox, _) = Outbox::open(dir.path(), 50).expect("open");
    let seq = stage(&outbox, "big", &[40, 40, 40]);
    assert_eq!(outbox.stats().ready_bytes, 120);
    assert_eq!(outbox.next_pending(&HashSet::new(), 10)[0].id.seq, seq);
}
