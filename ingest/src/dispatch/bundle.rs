//! Bundling cube references into manifests, with de-duplication (pure logic, no I/O).
//!
//! The [`Bundler`] receives SQS messages (receipt handle + parsed references) and decides:
//! - a reference already seen (same bucket + key + sequencer, or etag) is a duplicate;
//! - a message whose references are all duplicates of *submitted* bundles, or ignored (test
//!   events, other prefixes), can be deleted at once ([`Bundler::ack_now`]);
//! - every other message is attached to the pending bundle and deleted only after that
//!   bundle's job was submitted.
//!
//! A bundle is due when it holds `max_refs` cubes, or `min_refs` and the queue is drained, or
//! when its first cube arrived `window` ago. When a submission fails, [`Bundler::forget`]
//! removes its references from the de-duplication memory so the redelivered messages are
//! accepted again.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::event::{CubeRef, KeyFilter, ParsedMessage};

/// Bundle size and time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// Flush at this size once the queue is drained.
    pub min_refs: usize,
    /// Flush at this size.
    pub max_refs: usize,
    /// Flush this long after the first reference.
    pub window: Duration,
    /// De-duplication memory (entries).
    pub dedup_capacity: usize,
}

/// A bundle ready to become a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The references (unique by de-duplication key).
    pub refs: Vec<CubeRef>,
    /// Receipt handles of every message covered by this bundle.
    pub receipts: Vec<String>,
}

/// What [`Bundler::add`] did with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Added {
    /// New references.
    pub new: usize,
    /// Duplicates.
    pub duplicates: usize,
    /// Ignored records (test events, other prefixes or suffixes).
    pub ignored: usize,
}

/// A bounded FIFO set.
#[derive(Debug, Default)]
struct Seen {
    set: HashSet<String>,
    order: VecDeque<String>,
    cap: usize,
}

impl Seen {
    fn insert(&mut self, k: String) -> bool {
        if !self.set.insert(k.clone()) {
            return false;
        }
        self.order.push_back(k);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    fn remove(&mut self, k: &str) {
        if self.set.remove(k) {
            self.order.retain(|x| x != k);
        }
    }
}

/// The bundling state machine (see the module docs).
#[derive(Debug)]
pub struct Bundler {
    limits: BundleLimits,
    filter: KeyFilter,
    pending: BTreeMap<String, CubeRef>,
    pending_keys: HashSet<String>,
    receipts: Vec<String>,
    first_at: Option<Instant>,
    seen: Seen,
    ack_now: Vec<String>,
}

impl Bundler {
    /// An empty bundler.
    pub fn new(limits: BundleLimits, filter: KeyFilter) -> Self {
        Bundler {
            limits,
            filter,
            pending: BTreeMap::new(),
            pending_keys: HashSet::new(),
            receipts: Vec::new(),
            first_at: None,
            seen: Seen {
                cap: limits.dedup_capacity.max(limits.max_refs),
                ..Seen::default()
            },
            ack_now: Vec::new(),
        }
    }

    /// Take one message into account.
    pub fn add(&mut self, receipt: String, msg: ParsedMessage, now: Instant) -> Added {
        let mut added = Added {
            ignored: msg.ignored,
            ..Added::default()
        };
        let mut joins_pending = false;
        for r in msg.refs {
            if !self.filter.accepts(&r.key) {
                added.ignored += 1;
                continue;
            }
            let k = r.dedup_key();
            if self.seen.insert(k.clone()) {
                added.new += 1;
                joins_pending = true;
                self.pending_keys.insert(k.clone());
                self.pending.insert(k, r);
                self.first_at.get_or_insert(now);
            } else {
                added.duplicates += 1;
                // A duplicate of a reference still pending must wait for that bundle.
                joins_pending |= self.pending_keys.contains(&k);
            }
        }
        if joins_pending {
            self.receipts.push(receipt);
        } else {
            self.ack_now.push(receipt);
        }
        added
    }

    /// Receipts of messages that need no submission (delete them now).
    pub fn ack_now(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ack_now)
    }

    /// Pending references.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether the pending bundle should be flushed now.
    pub fn due(&self, now: Instant, queue_drained: bool) -> bool {
        let n = self.pending.len();
        n > 0
            && (n >= self.limits.max_refs
                || (queue_drained && n >= self.limits.min_refs)
                || self
                    .first_at
                    .is_some_and(|t| now.saturating_duration_since(t) >= self.limits.window))
    }

    /// How long until the window of the pending bundle closes (None when nothing is pending).
    pub fn time_left(&self, now: Instant) -> Option<Duration> {
        self.first_at.map(|t| {
            self.limits
                .window
                .saturating_sub(now.saturating_duration_since(t))
        })
    }

    /// Take the pending bundle: at most `max_refs` references (the rest stay pending, with
    /// their messages: a message is acknowledged only with the last bundle it feeds).
    pub fn take(&mut self) -> Option<Bundle> {
        if self.pending.is_empty() {
            return None;
        }
        if self.pending.len() <= self.limits.max_refs {
            let refs: Vec<CubeRef> = std::mem::take(&mut self.pending).into_values().collect();
            self.pending_keys.clear();
            self.first_at = None;
            return Some(Bundle {
                refs,
                receipts: std::mem::take(&mut self.receipts),
            });
        }
        let keys: Vec<String> = self
            .pending
            .keys()
            .take(self.limits.max_refs)
            .cloned()
            .collect();
        let refs = keys
            .iter()
            .filter_map(|k| {
                self.pending_keys.remove(k);
                self.pending.remove(k)
            })
            .collect();
        Some(Bundle {
            refs,
            receipts: Vec::new(),
        })
    }

    /// A bundle's submission failed: forget its references, and everything still pending, so
    /// the redelivered messages count as new. None of those messages is deleted; SQS
    /// redelivers them after the visibility timeout (and moves them to the DLQ after
    /// `maxReceiveCount` receives).
    pub fn forget(&mut self, bundle: &Bundle) {
        for r in &bundle.refs {
            self.seen.remove(&r.dedup_key());
        }
        for k in std::mem::take(&mut self.pending).into_keys() {
            self.seen.remove(&k);
        }
        self.pending_keys.clear();
        self.receipts.clear();
        self.first_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BundleLimits {
        BundleLimits {
            min_refs: 2,
            max_refs: 3,
            window: Duration::from_secs(10),
            dedup_capacity: 100,
        }
    }

    fn filter() -> KeyFilter {
        KeyFilter {
            prefix: "raw_cubes/".into(),
            suffixes: vec![".h5".into()],
        }
    }

    fn msg(keys: &[(&str, &str)]) -> ParsedMessage {
        ParsedMessage {
            refs: keys
                .iter()
                .map(|(k, e)| CubeRef {
                    bucket: "raw".into(),
                    key: format!("raw_cubes/{k}.h5"),
                    etag: Some((*e).into()),
                    size: None,
                    sequencer: None,
                    event_time: None,
                })
                .collect(),
            ignored: 0,
        }
    }

    #[test]
    fn duplicates_of_pending_wait_and_of_submitted_ack_at_once() {
        let t0 = Instant::now();
        let mut b = Bundler::new(limits(), filter());
        assert_eq!(b.add("r1".into(), msg(&[("A", "e1")]), t0).new, 1);
        // Multipart upload: the same object twice, same etag.
        let d = b.add("r2".into(), msg(&[("A", "e1")]), t0);
        assert_eq!((d.new, d.duplicates), (0, 1));
        assert!(b.ack_now().is_empty(), "duplicate of a pending ref waits");
        assert!(!b.due(t0, false));
        assert!(!b.due(t0, true), "1 < min_refs");
        b.add("r3".into(), msg(&[("B", "e2")]), t0);
        assert!(b.due(t0, true));
        let bundle = b.take().unwrap();
        assert_eq!(bundle.refs.len(), 2);
        assert_eq!(bundle.receipts, ["r1", "r2", "r3"]);
        // Redelivery of A after its bundle was submitted: delete right away.
        let d = b.add("r4".into(), msg(&[("A", "e1")]), t0);
        assert_eq!(d.duplicates, 1);
        assert_eq!(b.ack_now(), ["r4"]);
        // A new version of A (new etag) is new work.
        assert_eq!(b.add("r5".into(), msg(&[("A", "e9")]), t0).new, 1);
    }

    #[test]
    fn window_and_max_flush_and_ignored_keys_ack() {
        let t0 = Instant::now();
        let mut b = Bundler::new(limits(), filter());
        let mut m = msg(&[("A", "1")]);
        m.refs[0].key = "other/A.h5".into();
        assert_eq!(b.add("x".into(), m, t0).ignored, 1);
        assert_eq!(b.ack_now(), ["x"]);
        b.add("r1".into(), msg(&[("A", "1")]), t0);
        assert!(!b.due(t0 + Duration::from_secs(9), false));
        assert_eq!(
            b.time_left(t0 + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert!(b.due(t0 + Duration::from_secs(10), false));
        b.add("r2".into(), msg(&[("B", "1"), ("C", "1"), ("D", "1")]), t0);
        assert!(b.due(t0, false), "4 >= max_refs");
        let first = b.take().unwrap();
        assert_eq!(first.refs.len(), 3);
        assert!(first.receipts.is_empty(), "r2 still feeds the next bundle");
        let second = b.take().unwrap();
        assert_eq!(second.refs.len(), 1);
        assert_eq!(second.receipts, ["r1", "r2"]);
        assert!(b.take().is_none());
    }

    #[test]
    fn a_failed_bundle_is_forgotten_so_redelivery_is_new() {
        let t0 = Instant::now();
        let mut b = Bundler::new(limits(), filter());
        b.add("r1".into(), msg(&[("A", "1")]), t0);
        let bundle = b.take().unwrap();
        b.forget(&bundle);
        assert_eq!(b.add("r1b".into(), msg(&[("A", "1")]), t0).new, 1);
    }
}
