use super::*;

/// Every length and both offsets within a word, each way: the copy is
/// exact and touches nothing outside its range.
#[test]
fn byte_copies_are_exact_at_every_alignment() {
    let src: Vec<u8> = (0..96u32).map(|i| (i * 7 + 3) as u8).collect();
    for s in 0..9 {
        for d in 0..9 {
            for len in [0usize, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64] {
                let mut dst = [0u8; 96];
                // SAFETY: both runs lie inside their distinct arrays.
                unsafe {
                    copy_bytes_from_shared(src.as_ptr().add(s), dst.as_mut_ptr().add(d), len)
                };
                assert_eq!(&dst[d..d + len], &src[s..s + len]);
                assert!(dst[..d].iter().chain(&dst[d + len..]).all(|&b| b == 0));
                let mut dst = [0u8; 96];
                // SAFETY: as above.
                unsafe { copy_bytes_to_shared(src.as_ptr().add(s), dst.as_mut_ptr().add(d), len) };
                assert_eq!(&dst[d..d + len], &src[s..s + len]);
                assert!(dst[..d].iter().chain(&dst[d + len..]).all(|&b| b == 0));
            }
        }
    }
}

/// Word-granular copies: exact for every offset and length, and a
/// write leaves the bytes around its range as they were.
#[test]
fn word_copies_are_exact_and_keep_their_neighbours() {
    let src: Vec<u8> = (0..80u32).map(|i| (i * 5 + 1) as u8).collect();
    for at in 0..9 {
        for len in [0usize, 1, 3, 7, 8, 9, 16, 17, 23, 40] {
            // Fresh, word-aligned shared memory for every case.
            let mut shared = [0x5a5a_5a5a_5a5a_5a5au64; 10];
            let base = shared.as_mut_ptr().cast::<u8>();
            // SAFETY: at + len <= 49 < 80 bytes of `shared`; `src` is
            // distinct.
            unsafe { write_units::<Word>(src.as_ptr(), base.add(at), len) };
            let mut out = [0u8; 64];
            // SAFETY: as above.
            unsafe { read_units::<Word>(base.add(at), out.as_mut_ptr(), len) };
            assert_eq!(&out[..len], &src[..len], "at {at} len {len}");
            // SAFETY: reading the array as bytes.
            let bytes = unsafe { core::slice::from_raw_parts(base, 80) };
            assert!(bytes[..at].iter().all(|&b| b == 0x5a));
            assert!(bytes[at + len..].iter().all(|&b| b == 0x5a));
        }
    }
}

#[test]
fn elements_of_every_alignment_round_trip() {
    fn check<T: Plain + PartialEq + core::fmt::Debug>(values: &[T]) {
        // Shared memory is reached through raw pointers with write
        // permission, as a mapping is (an atomic needs it even to load).
        let mut shared = values.to_vec();
        let mut out = values.to_vec();
        let (n, p) = (values.len(), shared.as_mut_ptr());
        for i in 0..n {
            // SAFETY: an element of a live vector.
            unsafe { store(p.add(i), values[0]) };
        }
        assert!(shared.iter().all(|v| *v == values[0]));
        let p = shared.as_mut_ptr();
        // SAFETY: equal-length distinct vectors.
        unsafe { copy_to_shared(values.as_ptr(), p, n) };
        // SAFETY: as above.
        unsafe { copy_from_shared(p, out.as_mut_ptr(), n) };
        assert_eq!(out, values);
        // SAFETY: an element of a live vector.
        let last = unsafe { load(p.add(n - 1)) };
        assert_eq!(last, values[n - 1]);
    }
    check(&[1u8, 2, 3]);
    check(&[1u16, 0xfffe, 3]);
    check(&[1u32, 0xdead_beef]);
    check(&[1u64, u64::MAX, 7]);
    check(&[[1u8; 3], [2; 3]]);
    check(&[[1u16; 5], [9; 5]]);
    check(&[u128::MAX, 5]);
}

/// Another thread writes the shared bytes while this one copies them
/// out: a race on the data, which the atomic copy makes defined (Miri
/// checks); the values are junk, but each copy unit is one the writer
/// wrote.
#[test]
fn concurrent_writes_yield_junk_values_not_a_data_race() {
    use std::sync::atomic::AtomicU64;
    let shared: Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
    let rounds = if cfg!(miri) { 50 } else { 20_000 };
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..rounds as u64 {
                let v = u64::from(i as u8) * 0x0101_0101_0101_0101;
                // SAFETY: the vector outlives the scope; these are
                // atomic writes, as a peer's are to us.
                unsafe {
                    copy_to_shared(
                        &[v; 4] as *const u64,
                        shared.as_ptr().cast::<u64>().cast_mut(),
                        4,
                    )
                };
            }
        });
        for _ in 0..rounds {
            let mut out = [0u64; 4];
            // SAFETY: as above.
            unsafe { copy_from_shared(shared.as_ptr().cast::<u64>(), out.as_mut_ptr(), 4) };
            // The copy's unit for a u64 is its alignment: the whole word on
            // 64-bit targets, each half on i686 (align 4), where a word
            // may mix two writes but each half is one.
            let unit = core::mem::align_of::<u64>();
            for w in out {
                for half in w.to_le_bytes().chunks(unit) {
                    assert!(half.iter().all(|&b| b == half[0]), "{w:#x}");
                }
            }
        }
    });
}
