//! The public API: append, batch, reserve, sync, reopen, iterate, truncate, lock, errors.
use crate::util::*;
use mmlog::{Error, Log, Options};

#[test]
fn append_sync_reopen_iterate_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = vec![];
    {
        let log = open(dir.path());
        for i in 0..3000u64 {
            let payload = format!("record {i} {}", "x".repeat((i % 97) as usize)).into_bytes();
            assert_eq!(log.append(&payload).unwrap(), i);
            expected.push((i, payload));
        }
        assert_eq!(read_all(&log), expected);
        log.sync().unwrap();
        assert!(log.stats().rotations > 0);
        log.close().unwrap();
    }
    let log = open(dir.path());
    assert_eq!(log.next_lsn(), 3000);
    assert_eq!(log.durable_lsn(), 3000);
    assert_eq!(read_all(&log), expected);
    for lsn in [0, 1, 777, 2999, 1500] {
        let r = log.iter_from(lsn).next().unwrap().unwrap();
        assert_eq!(r.lsn(), lsn);
        assert_eq!(r.payload(), &expected[lsn as usize].1[..]);
    }
    assert!(log.iter_from(3000).next().is_none());
    assert!(matches!(
        log.iter_from(3001).next(),
        Some(Err(Error::LsnOutOfRange { .. }))
    ));
}

#[test]
fn second_writer_is_locked_and_reader_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.append(b"a").unwrap();
    assert!(matches!(
        Log::open(dir.path(), small()),
        Err(Error::Locked { .. })
    ));
    let ro = Log::open(dir.path(), small().read_only(true)).unwrap();
    assert!(matches!(ro.append(b"x"), Err(Error::ReadOnly)));
    drop(ro);
    log.close().unwrap();
    Log::open(dir.path(), small()).unwrap();
}

#[test]
fn batch_reserve_truncate() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let r = log.append_batch(&[b"a", b"bb", b"ccc"]).unwrap();
    assert_eq!(r, 0..3);
    let mut res = log.reserve(4).unwrap();
    res.copy_from_slice(b"dddd");
    assert_eq!(res.commit().unwrap(), 3);
    let res = log.reserve(10).unwrap();
    drop(res);
    assert_eq!(log.append(b"e").unwrap(), 4);
    log.truncate_back(2).unwrap();
    assert_eq!(log.next_lsn(), 2);
    assert_eq!(log.append(b"C").unwrap(), 2);
    log.close().unwrap();
    let log = open(dir.path());
    let all: Vec<Vec<u8>> = read_all(&log).into_iter().map(|(_, p)| p).collect();
    assert_eq!(all, vec![b"a".to_vec(), b"bb".to_vec(), b"C".to_vec()]);
    assert!(matches!(
        log.append(&vec![0u8; 1 << 20]),
        Err(Error::RecordTooLarge { .. })
    ));
    let _ = Options::default();
}
