//! The layout's unit tests: header round trips and every mismatch, type ids, kinds.

use super::*;

#[repr(C, align(128))]
struct Buf([u8; 64]);

fn fields() -> HeaderFields {
    HeaderFields {
        kind: Kind::Spsc,
        element: Fingerprint::of::<u64>(),
        capacity: 16,
        creator_pid: 42,
        total_len: 0x1_0000_0200,
    }
}

#[test]
fn round_trip_and_every_mismatch() {
    let mut buf = Buf([0; 64]);
    let region = crate::Region::new(&mut buf.0);
    let h = region.as_ptr().cast::<Header>();
    let snap = Header::read(&region).unwrap();
    assert_eq!(
        snap.validate(Kind::Spsc, Fingerprint::of::<u64>()),
        Err(AttachError::NotReady { state: 0 })
    );
    // SAFETY: the buffer is ours, aligned and large enough.
    unsafe { Header::write_ready(h, &fields()) };
    let snap = Header::read(&region).unwrap();
    assert_eq!(snap.total_len, 0x1_0000_0200);
    assert_eq!(snap.creator_pid, 42);
    assert_eq!(snap.validate(Kind::Spsc, Fingerprint::of::<u64>()), Ok(()));
    assert!(matches!(
        snap.validate(Kind::Mpmc, Fingerprint::of::<u64>()),
        Err(AttachError::Kind { found: 1, .. })
    ));
    assert!(matches!(
        snap.validate(Kind::Spsc, Fingerprint::of::<u32>()),
        Err(AttachError::Element { .. })
    ));
    assert!(matches!(
        snap.validate(Kind::Spsc, Fingerprint::of::<f64>()),
        Err(AttachError::Element { .. })
    ));
    // Opting out compares size and alignment only.
    let layout_only = ElementCheck::LayoutOnly;
    assert_eq!(
        snap.validate_as(Kind::Spsc, Fingerprint::of::<f64>(), layout_only),
        Ok(())
    );
    assert!(matches!(
        snap.validate_as(Kind::Spsc, Fingerprint::of::<u32>(), layout_only),
        Err(AttachError::Element { .. })
    ));
    let mut bad = snap;
    bad.version = 99;
    assert_eq!(
        bad.validate(Kind::Spsc, Fingerprint::of::<u64>()),
        Err(AttachError::Version {
            expected: LAYOUT_VERSION,
            found: 99
        })
    );
    bad = snap;
    bad.magic = 0xdead_beef;
    assert_eq!(
        bad.validate(Kind::Spsc, Fingerprint::of::<u64>()),
        Err(AttachError::BadMagic { found: 0xdead_beef })
    );
    bad = snap;
    bad.state = 77;
    assert!(matches!(
        bad.validate(Kind::Spsc, Fingerprint::of::<u64>()),
        Err(AttachError::Corrupt {
            field: "state",
            value: 77
        })
    ));
}

#[test]
fn built_in_type_ids_are_distinct() {
    use crate::plain::Plain;
    let ids = [
        u8::TYPE_ID,
        u16::TYPE_ID,
        u32::TYPE_ID,
        u64::TYPE_ID,
        u128::TYPE_ID,
        i8::TYPE_ID,
        i16::TYPE_ID,
        i32::TYPE_ID,
        i64::TYPE_ID,
        i128::TYPE_ID,
        f32::TYPE_ID,
        f64::TYPE_ID,
        <[u8; 8]>::TYPE_ID,
        <[u8; 4]>::TYPE_ID,
        <[u32; 2]>::TYPE_ID,
        <[[u8; 4]; 2]>::TYPE_ID,
        <[[u8; 2]; 4]>::TYPE_ID,
    ];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(u64::TYPE_ID, type_id_of_name("u64"));
    // The value docs/shared-memory.md's header example shows.
    assert_eq!(u64::TYPE_ID, 0x4d35_d319_3e8d_66f2);
}

#[test]
fn kinds_round_trip() {
    for k in 1..=12 {
        assert_eq!(Kind::from_u32(k).unwrap() as u32, k);
    }
    assert_eq!(Kind::from_u32(0), None);
    assert_eq!(Kind::from_u32(13), None);
}
