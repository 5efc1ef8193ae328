//! One writer per volume: a second is refused; a takeover fences the first.

use std::time::{Duration, Instant};

use floe_storage::Error;
use floe_storage::lease::{Acquire, Lease};
use floe_storage::log::{LogWriter, LogWriterOptions, Tailer, read_log};
use floe_storage::volume::Volume;

use crate::support::{check_payload, payload};

#[test]
fn second_writer_is_refused_and_a_forced_takeover_fences_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let store = volume.store().clone();
    let a_lease =
        Lease::acquire(store.clone(), "a", Duration::from_secs(5), Acquire::IfFree).unwrap();
    let a = LogWriter::open(&volume.log_dir(), a_lease, LogWriterOptions::default()).unwrap();
    for i in 0..10 {
        a.append(7, &payload(1, i)).unwrap();
    }

    match Lease::acquire(store.clone(), "b", Duration::from_secs(5), Acquire::IfFree) {
        Err(Error::LeaseHeld { holder, epoch, .. }) => {
            assert_eq!((holder.as_str(), epoch), ("a", 1))
        }
        other => panic!("second writer was not refused: {other:?}"),
    }

    let b_lease =
        Lease::acquire(store.clone(), "b", Duration::from_secs(5), Acquire::Force).unwrap();
    assert_eq!(b_lease.epoch(), 2);
    let b = LogWriter::open(&volume.log_dir(), b_lease, LogWriterOptions::default()).unwrap();

    match a.append(7, &payload(1, 10)) {
        Err(Error::Fenced { epoch: 1, by: 2 }) => {}
        other => panic!("deposed writer acknowledged: {other:?}"),
    }
    assert!(a.append(7, &payload(1, 11)).is_err(), "a stays stopped");
    for i in 0..5 {
        assert_eq!(b.append(7, &payload(2, i)).unwrap(), 11 + i as u64);
    }
    b.close();

    // The log holds a's ten records, then b's five: nothing of a's refused appends.
    let mut who = Vec::new();
    read_log(&volume.log_dir(), 1, |r| {
        who.push(check_payload(&r.payload).unwrap());
        Ok(())
    })
    .unwrap();
    let expected: Vec<_> = (0..10)
        .map(|i| (1, i))
        .chain((0..5).map(|i| (2, i)))
        .collect();
    assert_eq!(who, expected);

    // A follower sees the same.
    let mut tail = Tailer::open(&volume.log_dir(), 1).unwrap();
    let mut followed = Vec::new();
    while let Some(r) = tail.next(Duration::from_millis(200)).unwrap() {
        followed.push(check_payload(&r.payload).unwrap());
    }
    assert_eq!(followed, expected);
}

#[test]
fn takeover_after_expiry_fences_a_writer_that_stopped_renewing() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let store = volume.store().clone();
    let lease_for = Duration::from_millis(400);
    let a_lease = Lease::acquire(store.clone(), "a", lease_for, Acquire::IfFree).unwrap();
    let a = LogWriter::open(
        &volume.log_dir(),
        a_lease.clone(),
        LogWriterOptions::default(),
    )
    .unwrap();
    a.append(7, &payload(1, 0)).unwrap();

    // While a renews, waiting does not help b.
    std::thread::sleep(lease_for * 2);
    assert!(Lease::acquire(store.clone(), "b", lease_for, Acquire::IfFree).is_err());

    // a is cut off: it stops renewing, and stops acknowledging on its own.
    a_lease.pause_renewal();
    let started = Instant::now();
    let b_lease = Lease::acquire(
        store.clone(),
        "b",
        lease_for,
        Acquire::WaitForExpiry(Duration::from_secs(10)),
    )
    .unwrap();
    assert!(
        started.elapsed() >= lease_for / 4,
        "b waited for the lease to expire"
    );
    let b = LogWriter::open(&volume.log_dir(), b_lease, LogWriterOptions::default()).unwrap();
    match a.append(7, &payload(1, 1)) {
        Err(Error::Fenced { .. } | Error::LeaseLapsed { .. }) => {}
        other => panic!("deposed writer acknowledged: {other:?}"),
    }
    assert_eq!(b.append(7, &payload(2, 0)).unwrap(), 2);
}

#[test]
fn a_writer_whose_lease_lapsed_refuses_to_acknowledge() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let lease_for = Duration::from_millis(300);
    let lease = Lease::acquire(volume.store().clone(), "a", lease_for, Acquire::IfFree).unwrap();
    let a = LogWriter::open(
        &volume.log_dir(),
        lease.clone(),
        LogWriterOptions::default(),
    )
    .unwrap();
    a.append(7, &payload(1, 0)).unwrap();
    lease.pause_renewal();
    std::thread::sleep(lease_for);
    assert!(matches!(
        a.append(7, &payload(1, 1)),
        Err(Error::LeaseLapsed { epoch: 1 })
    ));
}
