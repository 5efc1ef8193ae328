//! Delete vectors: which rows of a segment are gone, and since which lsn.
//!
//! A vector is an immutable roaring bitmap shared with snapshots plus the
//! deletes applied since, each with its lsn. A snapshot at lsn `x` gets a
//! bitmap of exactly the deletes up to `x`; later deletes never reach it.

use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::Lsn;

/// Pending deletes are folded into the shared bitmap past this many.
const MAX_PENDING: usize = 1024;

#[derive(Clone, Debug, Default)]
pub struct DeleteVector {
    base: Arc<RoaringBitmap>,
    /// Every delete in `base` has an lsn at or below this.
    base_lsn: Lsn,
    pending: Vec<(Lsn, u32)>,
}

impl DeleteVector {
    pub fn from_bitmap(bitmap: RoaringBitmap, lsn: Lsn) -> Self {
        DeleteVector {
            base: Arc::new(bitmap),
            base_lsn: lsn,
            pending: Vec::new(),
        }
    }

    pub fn contains(&self, row: u32) -> bool {
        self.base.contains(row) || self.pending.iter().any(|&(_, r)| r == row)
    }

    pub fn len(&self) -> u64 {
        self.base.len() + self.pending.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the delete of `row` at `lsn` (lsns never decrease). `false` if already deleted.
    pub fn delete(&mut self, lsn: Lsn, row: u32) -> bool {
        if self.contains(row) {
            return false;
        }
        self.pending.push((lsn, row));
        if self.pending.len() > MAX_PENDING {
            self.fold(Lsn::MAX);
        }
        true
    }

    fn fold(&mut self, upto: Lsn) {
        let (now, later): (Vec<_>, Vec<_>) = self.pending.iter().partition(|&&(l, _)| l <= upto);
        if now.is_empty() {
            return;
        }
        let base = Arc::make_mut(&mut self.base);
        for (lsn, row) in now {
            base.insert(row);
            self.base_lsn = self.base_lsn.max(lsn);
        }
        self.pending = later;
    }

    /// The deletes up to `lsn`, or `None` if `lsn` predates what this vector
    /// still distinguishes (snapshots are taken at the newest lsn, so never).
    pub fn at(&mut self, lsn: Lsn) -> Option<Arc<RoaringBitmap>> {
        if lsn < self.base_lsn {
            return None;
        }
        // Deletes at or below a snapshot's lsn are final: fold them once and
        // share the bitmap with every snapshot until the next delete.
        self.fold(lsn);
        Some(Arc::clone(&self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_see_exactly_the_deletes_up_to_their_lsn() {
        let mut dv = DeleteVector::default();
        assert!(dv.delete(5, 10));
        assert!(!dv.delete(6, 10));
        let s5 = dv.at(5).unwrap();
        assert!(dv.delete(7, 11));
        assert!(dv.delete(8, 12));
        let s7 = dv.at(7).unwrap();
        assert_eq!(s5.iter().collect::<Vec<_>>(), vec![10]);
        assert_eq!(s7.iter().collect::<Vec<_>>(), vec![10, 11]);
        assert!(dv.at(6).is_none());
        let s8 = dv.at(8).unwrap();
        assert_eq!(s8.len(), 3);
        assert_eq!(s5.len(), 1, "older snapshots keep their view");
        for r in 100..3000 {
            dv.delete(9 + r as u64, r);
        }
        assert_eq!(dv.len(), 3 + 2900);
        assert_eq!(s8.len(), 3);
    }
}
