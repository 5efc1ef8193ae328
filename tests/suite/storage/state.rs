//! The state machine: deterministic apply, segments sealed under stable
//! addresses, delete vectors by lsn, checkpoints and recovery, followers.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::Int64Type;
use floe_storage::follower::Follower;
use floe_storage::record::Ddl;
use floe_storage::state::SegmentKind;
use floe_storage::volume::Volume;
use floe_storage::writer::{VolumeWriter, WriterOptions};
use floe_storage::{ColumnDef, ColumnType, Record, RowAddr, Snapshot, TableDef, Txn, TxnOp};

fn table(id: u64, segment_rows: u32) -> TableDef {
    let mut def = TableDef::new(
        id,
        format!("db.t{id}"),
        vec![
            ColumnDef::new("id", ColumnType::Int64, false),
            ColumnDef::new("name", ColumnType::Utf8, true),
        ],
    );
    def.segment_rows = segment_rows;
    def
}

fn rows(def: &TableDef, ids: std::ops::Range<i64>) -> RecordBatch {
    RecordBatch::try_new(
        def.arrow_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids.clone())),
            Arc::new(StringArray::from_iter(
                ids.map(|i| (i % 7 != 0).then(|| format!("row {i}"))),
            )),
        ],
    )
    .unwrap()
}

fn insert(table: u64, rows: RecordBatch) -> Record {
    Record::Txn(Txn {
        ops: vec![TxnOp::Insert { table, rows }],
    })
}

/// Every live id of a table in a snapshot, in address order.
fn live_ids(snap: &Snapshot, table: u64) -> Vec<i64> {
    let t = &snap.tables[&table];
    let mut ids = Vec::new();
    for seg in &t.segments {
        let mut row = 0u32;
        for b in &seg.batches {
            for v in b.column(0).as_primitive::<Int64Type>().values() {
                if !seg.deletes.as_ref().is_some_and(|d| d.contains(row)) {
                    ids.push(*v);
                }
                row += 1;
            }
        }
    }
    ids
}

/// Content equality of two snapshots (segment kinds may differ: frozen vs sealed).
fn assert_same(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.lsn, b.lsn);
    assert_eq!(a.next_segment, b.next_segment);
    assert_eq!(a.meta, b.meta);
    assert_eq!(
        a.tables.keys().collect::<Vec<_>>(),
        b.tables.keys().collect::<Vec<_>>()
    );
    for (id, ta) in &a.tables {
        let tb = &b.tables[id];
        assert_eq!(ta.def, tb.def);
        let segs = |t: &floe_storage::state::TableSnapshot| {
            t.segments
                .iter()
                .map(|s| {
                    let data = concat_batches(&t.schema, &s.batches).unwrap();
                    let deletes: Vec<u32> = s
                        .deletes
                        .as_ref()
                        .map(|d| d.iter().collect())
                        .unwrap_or_default();
                    (s.id, s.rows, data, deletes)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(segs(ta), segs(tb), "table {id}");
    }
}

fn workload(w: &VolumeWriter) {
    let t1 = table(1, 1000);
    let t2 = table(2, 1 << 20);
    w.commit(&Record::Ddl(Ddl::CreateTable(t1.clone())))
        .unwrap();
    w.commit(&Record::Ddl(Ddl::CreateTable(t2.clone())))
        .unwrap();
    w.commit(&Record::Ddl(Ddl::SetMeta {
        key: "db/db".into(),
        value: Some(b"{}".to_vec()),
    }))
    .unwrap();
    // 2500 rows in uneven batches: the open segment freezes at 1000 rows and
    // an insert that straddles the boundary is split across segments.
    let mut next = 0;
    for n in [1, 10, 300, 1200, 89, 900] {
        let (_, ranges) = w.commit(&insert(1, rows(&t1, next..next + n))).unwrap();
        assert_eq!(ranges.iter().map(|r| r.count as i64).sum::<i64>(), n);
        next += n;
    }
    w.commit(&insert(2, rows(&t2, 0..10))).unwrap();
    // Delete every 10th row of table 1 by address, in one transaction with an update.
    let addrs: Vec<RowAddr> = (0..2500u32)
        .step_by(10)
        .map(|i| RowAddr {
            segment: 1 + if i < 1000 {
                0
            } else if i < 2000 {
                2
            } else {
                3
            },
            row: i % 1000,
        })
        .collect();
    w.commit(&Record::Txn(Txn {
        ops: vec![
            TxnOp::Delete {
                table: 1,
                rows: addrs,
            },
            TxnOp::Insert {
                table: 1,
                rows: rows(&t1, 5000..5001),
            },
        ],
    }))
    .unwrap();
}

#[test]
fn writer_state_equals_replay_and_replay_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let w = VolumeWriter::open(volume.clone(), WriterOptions::default()).unwrap();
    workload(&w);
    let snap = w.snapshot();
    // Segment ids: t1 open=1, t2 open=2, then t1 froze 1 (->3) and 3 (->4).
    let t1 = &snap.tables[&1];
    assert_eq!(
        t1.segments
            .iter()
            .map(|s| (s.id, s.kind, s.rows))
            .collect::<Vec<_>>(),
        vec![
            (1, SegmentKind::Frozen, 1000),
            (3, SegmentKind::Frozen, 1000),
            (4, SegmentKind::Open, 501),
        ]
    );
    let ids = live_ids(&snap, 1);
    assert_eq!(ids.len(), 2500 - 250 + 1);
    assert!(ids.iter().all(|i| i % 10 != 0 || *i == 5000));

    let replay1 = volume.load_state().unwrap().snapshot();
    let replay2 = volume.load_state().unwrap().snapshot();
    assert_same(&snap, &replay1);
    assert_same(&replay1, &replay2);

    // Sealing moves frozen segments to files under the same ids.
    assert_eq!(w.flush_frozen().unwrap(), 2);
    let sealed = w.snapshot();
    assert_eq!(sealed.tables[&1].segments[0].kind, SegmentKind::Sealed);
    assert_eq!(live_ids(&sealed, 1), ids);
    assert!(sealed.tables[&1].segments[0].zones.is_some());
    assert_same(&sealed, &volume.load_state().unwrap().snapshot());
    w.close();
}

#[test]
fn checkpoint_then_more_log_recovers_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let opts = WriterOptions {
        lease: Duration::from_millis(500),
        ..Default::default()
    };
    let w = VolumeWriter::open(volume.clone(), opts.clone()).unwrap();
    workload(&w);
    w.flush_frozen().unwrap();
    let t1 = table(1, 1000);
    w.checkpoint().unwrap();
    w.commit(&insert(1, rows(&t1, 9000..9600))).unwrap();
    w.commit(&Record::Txn(Txn {
        ops: vec![TxnOp::Delete {
            table: 1,
            rows: vec![RowAddr { segment: 4, row: 0 }],
        }],
    }))
    .unwrap();
    let cp2 = w.checkpoint().unwrap();
    w.commit(&Record::Ddl(Ddl::DropTable { table: 2 })).unwrap();
    w.commit(&insert(1, rows(&t1, 10_000..10_010))).unwrap();
    let expected = w.snapshot();
    w.close();

    let recovered = volume.load_state().unwrap().snapshot();
    assert_same(&expected, &recovered);
    assert_eq!(volume.checkpointed_state().unwrap().applied_lsn(), cp2);

    // A new writer continues from there, with the same addresses.
    let w2 = VolumeWriter::open(volume.clone(), opts).unwrap();
    let (lsn, ranges) = w2.commit(&insert(1, rows(&t1, 20_000..20_001))).unwrap();
    assert_eq!(lsn, expected.lsn + 1);
    let open = expected.tables[&1].segments.last().unwrap();
    assert_eq!(
        ranges[0].first,
        RowAddr {
            segment: open.id,
            row: open.rows
        }
    );
    w2.close();
}

#[test]
fn follower_converges_and_sees_whole_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let w = VolumeWriter::open(volume.clone(), WriterOptions::default()).unwrap();
    let mut f = Follower::open(&volume).unwrap();
    workload(&w);
    w.flush_frozen().unwrap();
    w.checkpoint().unwrap();
    // A follower that joins after the checkpoint starts from it.
    let mut late = Follower::open(&volume).unwrap();
    let t1 = table(1, 1000);
    for i in 0..20 {
        w.commit(&insert(
            1,
            rows(&t1, 100_000 + i * 100..100_000 + i * 100 + 100),
        ))
        .unwrap();
    }
    let target = w.with_state(|s| s.applied_lsn());
    assert!(f.catch_up(target, Duration::from_secs(10)).unwrap());
    assert!(late.catch_up(target, Duration::from_secs(10)).unwrap());
    let expected = w.snapshot();
    assert_same(&expected, &f.snapshot());
    assert_same(&expected, &late.snapshot());
    // Each applied transaction is whole: live rows come in hundreds.
    assert_eq!(
        live_ids(&f.snapshot(), 1)
            .iter()
            .filter(|i| **i >= 100_000)
            .count(),
        2000
    );
    assert_eq!(
        f.state().table(1).unwrap().live_rows(),
        expected.tables[&1].live_rows()
    );
    w.close();
}

#[test]
fn checkpoints_remove_the_log_and_files_nobody_needs() {
    use floe_storage::log::{LogWriterOptions, list_files};
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let opts = WriterOptions {
        log: LogWriterOptions {
            rollover_bytes: 8 << 10,
        },
        ..Default::default()
    };
    let w = VolumeWriter::open(volume.clone(), opts).unwrap();
    let t1 = table(1, 1000);
    w.commit(&Record::Ddl(Ddl::CreateTable(t1.clone())))
        .unwrap();
    let mut next = 0;
    let mut fill = |w: &VolumeWriter| {
        for _ in 0..40 {
            w.commit(&insert(1, rows(&t1, next..next + 50))).unwrap();
            next += 50;
        }
    };
    fill(&w);
    let files_before = list_files(&volume.log_dir()).unwrap().len();
    assert!(files_before > 3, "{files_before} log files");
    let cp1 = w.checkpoint().unwrap();
    fill(&w);
    let cp2 = w.checkpoint().unwrap();
    fill(&w);
    w.checkpoint().unwrap();
    // Only the log after the oldest kept checkpoint (cp2) remains.
    let files = list_files(&volume.log_dir()).unwrap();
    assert!(
        files[0].start <= cp2 + 1 && files[0].start > cp1,
        "log starts at {}",
        files[0].start
    );
    let manifests = floe_storage::checkpoint::list(volume.store().as_ref()).unwrap();
    assert_eq!(manifests.len(), 2);
    // Superseded open-segment images are gone; what remains still recovers.
    let images = volume
        .store()
        .list("segments/0000000001")
        .unwrap()
        .iter()
        .filter(|n| n.ends_with(".open"))
        .count();
    assert!(images <= 2, "{images} open images kept");
    let expected = w.snapshot();
    w.close();
    assert_same(&expected, &volume.load_state().unwrap().snapshot());
    assert_eq!(live_ids(&expected, 1).len(), 6000);
}
