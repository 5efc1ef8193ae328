//! Damaged bytes on the volume give an error naming the file and offset,
//! never a panic; a torn log tail recovers to the last whole record.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use floe_storage::lease::{Acquire, Lease};
use floe_storage::log::{self, LogWriter, LogWriterOptions, read_log};
use floe_storage::record::Ddl;
use floe_storage::segment::{SealedSegment, sealed_key, write_segment};
use floe_storage::volume::Volume;
use floe_storage::writer::{VolumeWriter, WriterOptions};
use floe_storage::{ColumnDef, ColumnType, Error, Record, TableDef, Txn, TxnOp};

use crate::support::{check_payload, payload};

fn lease(volume: &Volume) -> Arc<Lease> {
    Lease::acquire(
        volume.store().clone(),
        "test",
        Duration::from_secs(5),
        Acquire::Force,
    )
    .unwrap()
}

/// A volume with `n` payload records in one log file; returns the file and each record's offset.
fn log_with_records(n: u32) -> (tempfile::TempDir, Volume, PathBuf, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let w = LogWriter::open(
        &volume.log_dir(),
        lease(&volume),
        LogWriterOptions::default(),
    )
    .unwrap();
    for i in 0..n {
        w.append(7, &payload(1, i)).unwrap();
    }
    w.close();
    let files = log::list_files(&volume.log_dir()).unwrap();
    let file = files.last().unwrap().path.clone();
    let mut offsets = Vec::new();
    let mut at = 32u64;
    for i in 0..n {
        offsets.push(at);
        at += 17 + payload(1, i).len() as u64;
    }
    assert_eq!(fs::metadata(&file).unwrap().len(), at);
    (dir, volume, file, offsets)
}

fn flip(path: &Path, at: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at as usize] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

fn assert_corrupt(err: Error, path: &Path, offset: u64) {
    match err {
        Error::Corrupt {
            path: p, offset: o, ..
        } => {
            assert_eq!(
                (p.as_path(), o),
                (path, offset),
                "error names the wrong place"
            );
        }
        other => panic!("expected a corruption error, got {other}"),
    }
}

#[test]
fn flipped_byte_in_the_middle_of_the_log_is_named() {
    let (_dir, volume, file, offsets) = log_with_records(100);
    // Damage the payload of record 40: later records are intact, so it is corruption.
    flip(&file, offsets[40] + 20);
    let err = read_log(&volume.log_dir(), 1, |_| Ok(())).unwrap_err();
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
    assert_corrupt(err, &file, offsets[40]);
    // Also a damaged length field, and opening for writing refuses too.
    let (_dir2, volume2, file2, offsets2) = log_with_records(50);
    flip(&file2, offsets2[10] + 2);
    assert_corrupt(
        read_log(&volume2.log_dir(), 1, |_| Ok(())).unwrap_err(),
        &file2,
        offsets2[10],
    );
    let err = LogWriter::open(
        &volume2.log_dir(),
        lease(&volume2),
        LogWriterOptions::default(),
    )
    .unwrap_err();
    assert_corrupt(err, &file2, offsets2[10]);
}

#[test]
fn damaged_log_header_is_named() {
    let (_dir, volume, file, _) = log_with_records(5);
    flip(&file, 3);
    assert_corrupt(
        read_log(&volume.log_dir(), 1, |_| Ok(())).unwrap_err(),
        &file,
        0,
    );
}

#[test]
fn torn_tail_recovers_to_the_last_whole_record() {
    let (_dir, volume, file, offsets) = log_with_records(100);
    // Cut record 99 (the last) in half, as a crash mid-write would.
    let f = OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(offsets[99] + 9).unwrap();
    drop(f);
    let end = read_log(&volume.log_dir(), 1, |r| {
        assert!(check_payload(&r.payload).is_some());
        Ok(())
    })
    .unwrap();
    assert_eq!(end.last_lsn, 99);
    assert_eq!(end.torn.as_ref().unwrap().valid_len, offsets[99]);

    // A flipped byte in the very last record is a torn tail as well: nothing follows it.
    let (_dir2, volume2, file2, offsets2) = log_with_records(10);
    flip(&file2, offsets2[9] + 18);
    assert_eq!(
        read_log(&volume2.log_dir(), 1, |_| Ok(()))
            .unwrap()
            .last_lsn,
        9
    );

    // The next writer cuts the tail and continues right after the last record.
    let w = LogWriter::open(
        &volume.log_dir(),
        lease(&volume),
        LogWriterOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::metadata(&file).unwrap().len(), offsets[99]);
    assert_eq!(w.append(7, &payload(2, 0)).unwrap(), 100);
    w.close();
    let mut lsns = Vec::new();
    let end = read_log(&volume.log_dir(), 1, |r| {
        lsns.push(r.lsn);
        Ok(())
    })
    .unwrap();
    assert_eq!(lsns, (1..=100).collect::<Vec<_>>());
    assert!(end.torn.is_none());
}

fn schema_and_rows(n: i64) -> (TableDef, RecordBatch) {
    let def = TableDef::new(
        1,
        "db.t",
        vec![
            ColumnDef::new("id", ColumnType::Int64, false),
            ColumnDef::new("name", ColumnType::Utf8, true),
        ],
    );
    let batch = RecordBatch::try_new(
        def.arrow_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("name-{i}")),
            )),
        ],
    )
    .unwrap();
    (def, batch)
}

#[test]
fn flipped_byte_in_a_segment_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let (def, batch) = schema_and_rows(50_000);
    let key = sealed_key(1, 1);
    let store = volume.store().as_ref();
    write_segment(store, &key, 1, 1, &def.arrow_schema(), &[batch]).unwrap();
    let seg = SealedSegment::open(store, &key, &def.arrow_schema()).unwrap();
    assert_eq!(seg.rows, 50_000);
    let path = store.locate(&key);
    let len = fs::metadata(&path).unwrap().len();
    for at in [100u64, 300_000, len - 20, len - 3] {
        let (_d, volume) = {
            let d = tempfile::tempdir().unwrap();
            let v = Volume::open(d.path()).unwrap();
            (d, v)
        };
        let store = volume.store().as_ref();
        fs::create_dir_all(store.locate(&key).parent().unwrap()).unwrap();
        fs::copy(&path, store.locate(&key)).unwrap();
        flip(&store.locate(&key), at);
        let err = SealedSegment::open(store, &key, &def.arrow_schema()).unwrap_err();
        let Error::Corrupt {
            path: p, offset, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(p, &store.locate(&key));
        if at < 300_001 {
            assert_eq!(*offset, at / 65536 * 65536, "{err}");
        }
    }
}

#[test]
fn flipped_byte_in_a_manifest_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let (def, batch) = schema_and_rows(1000);
    let w = VolumeWriter::open(volume.clone(), WriterOptions::default()).unwrap();
    w.commit(&Record::Ddl(Ddl::CreateTable(def))).unwrap();
    w.commit(&Record::Txn(Txn {
        ops: vec![TxnOp::Insert {
            table: 1,
            rows: batch,
        }],
    }))
    .unwrap();
    let lsn = w.checkpoint().unwrap();
    w.close();
    let manifest = dir.path().join(format!("manifests/{lsn:020}.manifest"));
    assert!(volume.load_state().is_ok());
    flip(&manifest, 10);
    let err = volume.load_state().unwrap_err();
    assert_corrupt(err, &manifest, 0);
}
