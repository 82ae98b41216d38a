use super::*;
use crate::foundation::holder::Holder;
use crate::foundation::layout::ElementCheck;
use crate::test_util::{AlignedBuf, Rng, TestWait};

fn table_buf<T: Plain>(cells: u32) -> AlignedBuf {
    AlignedBuf::new(LatestTable::<T>::bytes_needed(cells).unwrap())
}

fn word(buf: &AlignedBuf, offset: usize) -> &AtomicU32 {
    // SAFETY: a 4-aligned word inside the buffer, which outlives the
    // borrow; all access is atomic.
    unsafe { &*buf.ptr().add(offset).cast::<AtomicU32>() }
}

#[test]
fn sizes_and_attach_checks() {
    assert_eq!(LatestTable::<u64>::bytes_needed(1), Ok(256 + 64));
    assert_eq!(LatestTable::<u64>::bytes_needed(4), Ok(256 + 256));
    assert!(LatestTable::<u64>::bytes_needed(0).is_err());
    assert!(LatestTable::<u64>::bytes_needed(MAX_CELLS + 1).is_err());
    let buf = table_buf::<u64>(4);
    LatestTable::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    let t = LatestTable::<u64>::attach(buf.region()).unwrap();
    assert_eq!(t.cells(), 4);
    let st = status(&buf.region()).unwrap();
    assert_eq!((st.writer, st.header.capacity), (0, 4));
    let _w = t.writer(Holder::fixed::<33>()).unwrap();
    assert_eq!(status(&buf.region()).unwrap().writer, 33);
    let big = table_buf::<[u64; 9]>(3);
    LatestTable::<[u64; 9]>::init(big.region(), RingConfig::new(3)).unwrap();
    assert_eq!(
        status(&big.region()).unwrap().header.total_len,
        256 + 3 * 128
    );
    assert!(matches!(
        LatestTable::<u32>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    // Same size and alignment, another type: refused unless opted out.
    assert!(matches!(
        LatestTable::<f64>::attach(buf.region()),
        Err(AttachError::Element { .. })
    ));
    assert!(LatestTable::<f64>::attach_with(buf.region(), ElementCheck::LayoutOnly).is_ok());
}

#[test]
fn values_versions_and_errors() {
    let buf = table_buf::<[u32; 3]>(3);
    let t = LatestTable::<[u32; 3]>::init(buf.region(), RingConfig::new(3)).unwrap();
    let mut w = t.writer(Holder::fixed::<1>()).unwrap();
    assert_eq!(
        t.writer(Holder::fixed::<2>()).unwrap_err(),
        RoleError::Taken { holder: 1 }
    );
    assert_eq!(t.try_recv(0), Err(RecvError::Empty));
    assert_eq!(t.version(0), Ok(0));
    assert_eq!(t.try_recv(3), Err(RecvError::BufferTooSmall { needed: 4 }));
    assert_eq!(
        w.try_send(3, [0; 3]),
        Err(SendError::TooLarge { len: 3, max: 3 })
    );
    assert_eq!(w.try_send(1, [1, 2, 3]), Ok(1));
    assert_eq!(w.try_send(1, [4, 5, 6]), Ok(2));
    assert_eq!(w.try_send(2, [7, 8, 9]), Ok(1));
    assert_eq!(t.try_recv(1), Ok(([4, 5, 6], 2)));
    assert_eq!(t.try_recv(2), Ok(([7, 8, 9], 1)));
    assert_eq!(t.try_recv(0), Err(RecvError::Empty));
    assert_eq!(t.changed_since(1, 1), Ok(true));
    assert_eq!(t.changed_since(1, 2), Ok(false));
    let b = Blocking::new(TestWait::default());
    assert_eq!(
        t.recv(1, 2, &b, Some(Duration::from_millis(2))),
        Err(RecvError::TimedOut)
    );
    assert_eq!(t.recv(1, 1, &b, None), Ok(([4, 5, 6], 2)));
    // A writer that died mid-write leaves the cell odd: Stalled until the
    // next writer writes it.
    drop(w);
    let seq = word(
        &buf,
        LatestTable::<[u32; 3]>::CELLS + LatestTable::<[u32; 3]>::STRIDE,
    );
    seq.store(seq.load(Ordering::Relaxed) | 1, Ordering::Relaxed);
    assert_eq!(t.try_recv(1), Err(RecvError::Stalled { position: 1 }));
    let mut w = t.take_over_writer(Holder::fixed::<5>(), |_| false).unwrap();
    assert_eq!(w.try_send(1, [0, 0, 1]), Ok(3));
    assert_eq!(t.try_recv(1), Ok(([0, 0, 1], 3)));
}

#[test]
fn a_read_only_handle_reads_and_never_writes() {
    let buf = table_buf::<u64>(2);
    let t = LatestTable::<u64>::init(buf.region(), RingConfig::new(2)).unwrap();
    let mut w = t.writer(Holder::fixed::<1>()).unwrap();
    // SAFETY: the buffer outlives the handle; reached through raw pointers.
    let ro = unsafe {
        LatestTable::<u64>::attach_read_only(buf.ptr(), buf.region().len(), ElementCheck::Exact)
    }
    .unwrap();
    assert_eq!(
        ro.writer(Holder::fixed::<3>()).unwrap_err(),
        RoleError::Taken { holder: 0 }
    );
    w.try_send(0, 42).unwrap();
    let snapshot = |buf: &AlignedBuf| -> Vec<u8> {
        (0..buf.region().len())
            // SAFETY: inside the buffer; no thread writes meanwhile.
            .map(|i| unsafe { buf.ptr().add(i).read() })
            .collect()
    };
    let before = snapshot(&buf);
    let b = Blocking::new(TestWait::default());
    assert_eq!(ro.try_recv(0), Ok((42, 1)));
    assert_eq!(
        ro.recv(0, 1, &b, Some(Duration::from_millis(3))),
        Err(RecvError::TimedOut)
    );
    assert_eq!(before, snapshot(&buf), "a read-only reader wrote");
}

/// Hostile words: any sequence, version or value bits read as a value, a
/// typed error, never a panic; the writer recovers every cell.
#[test]
fn hostile_words_give_values_or_typed_errors() {
    let buf = table_buf::<u64>(4);
    let t = LatestTable::<u64>::init(buf.region(), RingConfig::new(4)).unwrap();
    let mut rng = Rng::new(5);
    type L = LatestTable<'static, u64>;
    for _ in 0..200 {
        for _ in 0..4 {
            // A control word of a cell, or the writer's or event word.
            // (The values are scribbled on outside Miri only: its weak
            // memory emulation cannot mix a 4-byte store with the byte
            // units it copies values in.)
            let cell = L::CELLS + rng.below(4) as usize * L::STRIDE;
            let at = match rng.below(if cfg!(miri) { 6 } else { 8 }) {
                4 => WRITER_OFFSET,
                5 => WAKE_OFFSET,
                6 | 7 => cell + L::VALUE + 4 * rng.below(2) as usize,
                w => cell + 4 * w as usize,
            };
            let v = [0, 1, u32::MAX, u32::MAX - 1, 0x8000_0000][rng.below(5) as usize];
            word(&buf, at).store(v, Ordering::Relaxed);
        }
        for i in 0..5 {
            let _ = t.try_recv(i);
            let _ = t.version(i);
        }
        if let Ok(mut w) = t.take_over_writer(Holder::fixed::<7>(), |_| false) {
            for i in 0..4 {
                let v = w.try_send(i, i as u64 + 100).unwrap();
                assert_eq!(t.try_recv(i), Ok((i as u64 + 100, v)));
            }
        }
    }
}

/// Threads: a writer storing values whose words all agree, readers that
/// never see words that disagree (a torn value), versions that never go
/// back.
#[test]
fn readers_never_see_a_torn_value() {
    let buf = table_buf::<[u64; 8]>(2);
    let t = LatestTable::<[u64; 8]>::init(buf.region(), RingConfig::new(2)).unwrap();
    let mut w = t.writer(Holder::fixed::<1>()).unwrap();
    let writes: u64 = if cfg!(miri) { 100 } else { 200_000 };
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let done = &done;
            s.spawn(move || {
                let mut last = [0u64; 2];
                let mut reads = 0u64;
                while !done.load(std::sync::atomic::Ordering::Acquire) || reads < 10 {
                    for i in 0..2u32 {
                        match t.try_recv(i) {
                            Ok((v, ver)) => {
                                assert!(v.iter().all(|&x| x == v[0]), "torn {v:?}");
                                assert_eq!(v[0], ver + i as u64 * 1_000_000_000);
                                assert!(ver >= last[i as usize]);
                                last[i as usize] = ver;
                            }
                            Err(RecvError::Empty) | Err(RecvError::Stalled { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    reads += 1;
                }
            });
        }
        for n in 1..=writes {
            for i in 0..2u32 {
                let v = n + i as u64 * 1_000_000_000;
                assert_eq!(w.try_send(i, [v; 8]), Ok(n));
            }
        }
        done.store(true, std::sync::atomic::Ordering::Release);
    });
}

#[test]
#[cfg_attr(miri, ignore)] // threads parked on a condvar: slow under Miri
fn a_waiting_reader_is_woken_by_send() {
    let buf = table_buf::<u64>(1);
    let t = LatestTable::<u64>::init(buf.region(), RingConfig::new(1)).unwrap();
    let mut w = t.writer(Holder::fixed::<1>()).unwrap();
    let b = Blocking::parking(TestWait::default());
    std::thread::scope(|s| {
        let b = &b;
        let h = s.spawn(move || t.recv(0, 0, b, None));
        std::thread::sleep(Duration::from_millis(20));
        w.send(0, 77, b, None).unwrap();
        assert_eq!(h.join().unwrap(), Ok((77, 1)));
    });
}
