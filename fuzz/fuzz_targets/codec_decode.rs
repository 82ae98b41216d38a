//! The stream decoder on arbitrary input, and on valid streams split
//! arbitrarily. On any input it must never panic or hang; on a stream of
//! encoded frames, however split, it must yield exactly those frames.
#![no_main]

use interlink_core::codec::{encode, DecodeError, Decoder, Recovery};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 512;

/// Feeds `bytes` in pieces whose lengths come from `splits`; returns the
/// frames decoded and whether an error asked to close.
fn feed(
    decoder: &mut Decoder<MAX>,
    bytes: &[u8],
    splits: &[u8],
) -> (Vec<(u32, Vec<u8>)>, Vec<DecodeError>) {
    let (mut frames, mut errors) = (Vec::new(), Vec::new());
    let mut rest = bytes;
    let mut i = 0;
    let max = decoder.max_payload() as usize;
    while !rest.is_empty() {
        let n = (splits.get(i).copied().unwrap_or(255) as usize + 1).min(rest.len());
        i += 1;
        let mut input = &rest[..n];
        rest = &rest[n..];
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(f)) => {
                    assert!(f.payload.len() <= max);
                    frames.push((f.tag, f.payload.to_vec()));
                }
                Ok(None) => break,
                Err(e) => {
                    errors.push(e);
                    if e.recovery() == Recovery::Close {
                        break;
                    }
                }
            }
        }
    }
    (frames, errors)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // Arbitrary bytes, arbitrary splits; sometimes resync after errors.
        let (bytes, splits) = rest.split_at(rest.len() / 2);
        let mut decoder = Decoder::<MAX>::new().with_max_payload(u32::from(mode));
        let (_, errors) = feed(&mut decoder, bytes, splits);
        if mode & 2 != 0 && !errors.is_empty() {
            decoder.resync();
            let _ = feed(&mut decoder, bytes, splits);
        }
        return;
    }
    // Frames described by the input (length byte, then payload), encoded,
    // split where the input says: every frame must come out, in order.
    let (desc, splits) = rest.split_at(rest.len() * 3 / 4);
    let mut frames = Vec::new();
    let mut d = desc;
    while let Some((&len, tail)) = d.split_first() {
        let len = (len as usize * 3).min(MAX).min(tail.len());
        frames.push((frames.len() as u32, tail[..len].to_vec()));
        d = &tail[len..];
    }
    let mut wire = Vec::new();
    for (tag, payload) in &frames {
        let mut buf = vec![0; 16 + payload.len()];
        assert_eq!(encode(*tag, payload, &mut buf), Ok(buf.len()));
        wire.extend_from_slice(&buf);
    }
    let mut decoder = Decoder::<MAX>::new();
    let (got, errors) = feed(&mut decoder, &wire, splits);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(got, frames);
    assert_eq!(decoder.buffered(), 0);
});
