//! Sans-io framing for byte streams (pipes, FIFOs, stream sockets), where
//! the kernel may split one write across reads or merge several into one.
//!
//! A frame on a stream is a [`crate::frame`] header followed by its payload,
//! unpadded: the same bytes a byte-ring record holds, so
//! [`crate::bytes::RecordRef::frame`] can be written to a socket as it is,
//! and a decoded [`Frame`] can be sent into a ring with
//! [`crate::bytes::Producer::send`].
//!
//! [`encode`] writes a frame into a caller buffer ([`header`] gives just the
//! header, for vectored writes). A [`Decoder`] takes whatever the stream
//! delivered, in pieces of any size (one byte at a time included), and
//! yields whole frames; a frame that arrived whole in one piece is handed
//! out in place, others are assembled in the decoder's fixed `heapless`
//! buffer of `N` bytes, which is also the largest payload it accepts.
//!
//! ```
//! use interlink_core::codec::{encode, Decoder};
//!
//! let mut wire = [0u8; 64];
//! let n = encode(7, b"hello", &mut wire)?;
//! let mut decoder = Decoder::<256>::new();
//! let mut got = Vec::new();
//! for byte in wire[..n].chunks(1) {
//!     let mut input = byte;
//!     while let Some(frame) = decoder.decode(&mut input)? {
//!         got.push((frame.tag, frame.payload.to_vec()));
//!     }
//! }
//! assert_eq!(got, [(7, b"hello".to_vec())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors and recovery
//!
//! A header whose length exceeds the decoder's maximum is
//! [`DecodeError::TooLarge`]: the header itself checked out, so the stream
//! is still in step; the decoder discards that payload as it arrives and
//! carries on ([`Recovery::Continue`]). A header that fails its check is
//! [`DecodeError::BadHeader`]: the framing is lost and the stream should be
//! closed ([`Recovery::Close`]); the decoder refuses more input until
//! [`Decoder::reset`] or [`Decoder::resync`], which scans byte by byte for
//! the next valid header (for transports that can lose bytes; a valid-looking
//! header appears in random bytes with probability 2⁻³² per position).

use core::fmt;

use crate::foundation::frame::{FrameHeader, HeaderError, HEADER_LEN};

/// Why a frame could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The payload is longer than a frame's 32-bit length field can say.
    TooLarge {
        /// Payload bytes.
        len: usize,
    },
    /// The output buffer is too short for the frame.
    BufferTooSmall {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len } => write!(f, "payload of {len} bytes exceeds a frame's 4 GiB"),
            Self::BufferTooSmall { needed, available } => {
                write!(f, "frame needs {needed} bytes, the buffer has {available}")
            }
        }
    }
}

/// The header of a frame with `len` payload bytes tagged `tag`, for a
/// vectored write (header, then the payload from where it lies).
pub fn header(tag: u32, len: usize) -> Result<[u8; HEADER_LEN], EncodeError> {
    let len32 = u32::try_from(len).map_err(|_| EncodeError::TooLarge { len })?;
    Ok(FrameHeader::new(tag, len32).encode())
}

/// Writes one frame (header and `payload`) at the start of `out`; returns
/// its length, `16 + payload.len()`.
pub fn encode(tag: u32, payload: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    let head = header(tag, payload.len())?;
    let needed = HEADER_LEN + payload.len();
    let available = out.len();
    let Some(out) = out.get_mut(..needed) else {
        return Err(EncodeError::BufferTooSmall { needed, available });
    };
    out[..HEADER_LEN].copy_from_slice(&head);
    out[HEADER_LEN..].copy_from_slice(payload);
    Ok(needed)
}

/// A decoded frame: its tag and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The sender's message type.
    pub tag: u32,
    /// The payload: in place in the input, or in the decoder's buffer.
    pub payload: &'a [u8],
}

/// What a caller should do after a [`DecodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The stream is still in step; keep feeding the decoder.
    Continue,
    /// The framing is lost: close the stream (or [`Decoder::resync`]).
    Close,
}

/// Why the decoder yielded no frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A well-formed header announced a payload above the decoder's
    /// maximum. That frame is skipped; the decoder discards its payload as
    /// it arrives and then decodes the next one.
    TooLarge {
        /// The announced payload length.
        len: u32,
        /// The decoder's maximum.
        max: u32,
    },
    /// Sixteen bytes where a header belongs are not one. The decoder stops.
    BadHeader(HeaderError),
    /// The decoder stopped after a [`DecodeError::BadHeader`]; see
    /// [`Decoder::reset`] and [`Decoder::resync`].
    Closed,
}

impl DecodeError {
    /// Whether the stream can go on or must be closed.
    pub fn recovery(&self) -> Recovery {
        match self {
            Self::TooLarge { .. } => Recovery::Continue,
            Self::BadHeader(_) | Self::Closed => Recovery::Close,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "frame of {len} bytes exceeds the maximum of {max}; skipped"
                )
            }
            Self::BadHeader(e) => write!(f, "framing lost: {e}"),
            Self::Closed => f.write_str("decoder stopped after a bad header"),
        }
    }
}

/// Where the decoder is in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Collecting a header; `scanning` after [`Decoder::resync`].
    Header { scanning: bool },
    /// Collecting the payload of a frame.
    Payload { tag: u32, len: u32 },
    /// Discarding the payload of a frame it will not deliver.
    Skip { remaining: u32 },
    /// Stopped after a bad header.
    Closed,
}

/// An incremental frame decoder with a fixed buffer of `N` bytes: frames
/// with payloads up to `N` bytes (or the lower [`Decoder::with_max_payload`]).
///
/// Feed it with [`Decoder::decode`] until that returns `Ok(None)` (input
/// used up), then read more from the stream. It allocates nothing; its size
/// is about `N + 40` bytes.
#[derive(Clone, Debug)]
pub struct Decoder<const N: usize> {
    head: [u8; HEADER_LEN],
    head_len: usize,
    payload: heapless::Vec<u8, N>,
    state: State,
    max: u32,
}

impl<const N: usize> Default for Decoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Decoder<N> {
    /// A decoder for payloads up to `N` bytes.
    pub const fn new() -> Self {
        Self {
            head: [0; HEADER_LEN],
            head_len: 0,
            payload: heapless::Vec::new(),
            state: State::Header { scanning: false },
            max: if N > u32::MAX as usize {
                u32::MAX
            } else {
                N as u32
            },
        }
    }

    /// The same decoder with a lower maximum payload (at most `N`).
    pub const fn with_max_payload(mut self, max: u32) -> Self {
        if max < self.max {
            self.max = max;
        }
        self
    }

    /// The largest payload it accepts.
    pub const fn max_payload(&self) -> u32 {
        self.max
    }

    /// Forgets everything buffered and expects a header next (for a stream
    /// that restarts at a frame boundary, such as a reconnection).
    pub fn reset(&mut self) {
        self.head_len = 0;
        self.payload.clear();
        self.state = State::Header { scanning: false };
    }

    /// After a [`DecodeError::BadHeader`]: drops the first byte of the bad
    /// header and scans, a byte at a time, for the next sixteen bytes that
    /// form a valid header with an acceptable length, then decodes on from
    /// there. Bytes skipped are lost.
    pub fn resync(&mut self) {
        if self.state == State::Closed && self.head_len == HEADER_LEN {
            self.head.copy_within(1.., 0);
            self.head_len -= 1;
        } else {
            self.head_len = 0;
        }
        self.payload.clear();
        self.state = State::Header { scanning: true };
    }

    /// Bytes held that belong to a frame not yet complete.
    pub fn buffered(&self) -> usize {
        match self.state {
            State::Header { .. } => self.head_len,
            State::Payload { .. } => HEADER_LEN + self.payload.len(),
            State::Skip { .. } | State::Closed => 0,
        }
    }

    /// Consumes bytes from the front of `input` until one frame is whole,
    /// and returns it; `Ok(None)` when `input` is used up first (the part
    /// of a frame it held is kept for the next call). On an error, `input`
    /// has been advanced past the bytes that caused it.
    ///
    /// A frame whose header and payload both lie in `input` is returned in
    /// place, without a copy.
    pub fn decode<'s, 'i: 's>(
        &'s mut self,
        input: &mut &'i [u8],
    ) -> Result<Option<Frame<'s>>, DecodeError> {
        loop {
            match self.state {
                State::Closed => return Err(DecodeError::Closed),
                State::Skip { remaining } => {
                    let n = take(input, remaining as usize).len() as u32;
                    if n < remaining {
                        self.state = State::Skip {
                            remaining: remaining - n,
                        };
                        return Ok(None);
                    }
                    self.state = State::Header { scanning: false };
                }
                State::Header { scanning } => {
                    let part = take(input, HEADER_LEN - self.head_len);
                    self.head[self.head_len..self.head_len + part.len()].copy_from_slice(part);
                    self.head_len += part.len();
                    if self.head_len < HEADER_LEN {
                        return Ok(None);
                    }
                    let header = match FrameHeader::decode(&self.head) {
                        Ok(h) if !scanning || (!h.is_pad() && h.len <= self.max) => h,
                        Err(e) if !scanning => {
                            self.state = State::Closed;
                            return Err(DecodeError::BadHeader(e));
                        }
                        // Scanning: not a header we would accept; slide on.
                        _ => {
                            self.head.copy_within(1.., 0);
                            self.head_len -= 1;
                            continue;
                        }
                    };
                    self.head_len = 0;
                    if header.len > self.max || header.is_pad() {
                        self.state = State::Skip {
                            remaining: header.len,
                        };
                        if header.is_pad() {
                            // A ring's padding record, forwarded as is: not
                            // a message; skip it quietly.
                            continue;
                        }
                        return Err(DecodeError::TooLarge {
                            len: header.len,
                            max: self.max,
                        });
                    }
                    let len = header.len as usize;
                    if input.len() >= len {
                        // Whole in the input: hand it out in place.
                        self.state = State::Header { scanning: false };
                        return Ok(Some(Frame {
                            tag: header.tag,
                            payload: take(input, len),
                        }));
                    }
                    self.payload.clear();
                    self.state = State::Payload {
                        tag: header.tag,
                        len: header.len,
                    };
                }
                State::Payload { tag, len } => {
                    let part = take(input, len as usize - self.payload.len());
                    // Cannot fail: len <= max <= N.
                    let _ = self.payload.extend_from_slice(part);
                    if self.payload.len() < len as usize {
                        return Ok(None);
                    }
                    self.state = State::Header { scanning: false };
                    return Ok(Some(Frame {
                        tag,
                        payload: &self.payload,
                    }));
                }
            }
        }
    }
}

/// Splits up to `n` bytes off the front of `input`.
fn take<'i>(input: &mut &'i [u8], n: usize) -> &'i [u8] {
    let (front, rest) = input.split_at(n.min(input.len()));
    *input = rest;
    front
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::foundation::frame::FLAG_PAD;
    use crate::test_util::Rng;

    fn stream(frames: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, payload) in frames {
            let mut buf = vec![0; HEADER_LEN + payload.len()];
            assert_eq!(encode(*tag, payload, &mut buf), Ok(buf.len()));
            out.extend_from_slice(&buf);
        }
        out
    }

    /// Feeds `bytes` in pieces whose sizes `split` picks; collects frames
    /// and errors.
    fn feed<const N: usize>(
        decoder: &mut Decoder<N>,
        bytes: &[u8],
        mut split: impl FnMut() -> usize,
    ) -> (Vec<(u32, Vec<u8>)>, Vec<DecodeError>) {
        let (mut frames, mut errors) = (Vec::new(), Vec::new());
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = split().clamp(1, rest.len());
            let mut input = &rest[..n];
            rest = &rest[n..];
            loop {
                match decoder.decode(&mut input) {
                    Ok(Some(f)) => frames.push((f.tag, f.payload.to_vec())),
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

    fn random_frames(rng: &mut Rng, count: usize, max: u64) -> Vec<(u32, Vec<u8>)> {
        (0..count)
            .map(|i| {
                let len = rng.below(max + 1) as usize;
                (i as u32, (0..len).map(|_| rng.next() as u8).collect())
            })
            .collect()
    }

    #[test]
    fn any_split_yields_every_frame() {
        let mut rng = Rng::new(11);
        let frames = random_frames(&mut rng, if cfg!(miri) { 20 } else { 300 }, 300);
        let bytes = stream(&frames);
        for max_piece in [1, 2, 7, 16, 17, 100, 5000] {
            let mut d = Decoder::<300>::new();
            let (got, errors) = feed(&mut d, &bytes, || rng.below(max_piece) as usize + 1);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(got, frames, "pieces up to {max_piece}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn whole_frames_are_handed_out_in_place() {
        let bytes = stream(&[(1, b"abc".to_vec()), (2, vec![])]);
        let mut d = Decoder::<8>::new();
        let mut input = &bytes[..];
        let f = d.decode(&mut input).unwrap().unwrap();
        assert_eq!((f.tag, f.payload), (1, &b"abc"[..]));
        assert_eq!(f.payload.as_ptr(), bytes[HEADER_LEN..].as_ptr());
        let f = d.decode(&mut input).unwrap().unwrap();
        assert_eq!((f.tag, f.payload), (2, &[][..]));
        assert_eq!(d.decode(&mut input), Ok(None));
    }

    #[test]
    fn oversized_frames_are_skipped_in_step() {
        let frames = [
            (1, vec![1; 10]),
            (2, vec![2; 11]),
            (3, vec![3; 3]),
            (4, vec![4; 40]),
        ];
        let bytes = stream(&frames);
        for piece in [1, 5, 1000] {
            let mut d = Decoder::<64>::new().with_max_payload(10);
            assert_eq!(d.max_payload(), 10);
            let (got, errors) = feed(&mut d, &bytes, || piece);
            assert_eq!(got, [frames[0].clone(), frames[2].clone()]);
            assert_eq!(
                errors,
                [
                    DecodeError::TooLarge { len: 11, max: 10 },
                    DecodeError::TooLarge { len: 40, max: 10 }
                ]
            );
            assert!(errors.iter().all(|e| e.recovery() == Recovery::Continue));
        }
    }

    #[test]
    fn a_bad_header_closes_and_resync_finds_the_next_frame() {
        let mut bytes = stream(&[(1, b"one".to_vec())]);
        bytes.extend_from_slice(&[0xa5; 21]); // garbage
        bytes.extend_from_slice(&stream(&[(2, b"two".to_vec()), (3, b"3".to_vec())]));
        let mut d = Decoder::<16>::new();
        let (got, errors) = feed(&mut d, &bytes, || 1000);
        assert_eq!(got, [(1, b"one".to_vec())]);
        assert!(matches!(
            errors[0],
            DecodeError::BadHeader(HeaderError::Check { .. })
        ));
        assert_eq!(errors[0].recovery(), Recovery::Close);
        let mut input = &b"more"[..];
        assert_eq!(d.decode(&mut input), Err(DecodeError::Closed));
        // Resync: scan from the byte after the bad header's first.
        let mut d = Decoder::<16>::new();
        let (_, errors) = feed(&mut d, &bytes[..19 + 16], || 1);
        assert_eq!(errors.len(), 1);
        d.resync();
        let (got, errors) = feed(&mut d, &bytes[19 + 16..], || 3);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(got, [(2, b"two".to_vec()), (3, b"3".to_vec())]);
        d.reset();
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn ring_padding_is_skipped_quietly() {
        let pad = FrameHeader {
            len: 5,
            tag: 0,
            flags: FLAG_PAD,
        };
        let mut bytes = pad.encode().to_vec();
        bytes.extend_from_slice(&[9; 5]);
        bytes.extend_from_slice(&stream(&[(4, b"x".to_vec())]));
        let mut d = Decoder::<8>::new();
        let (got, errors) = feed(&mut d, &bytes, || 2);
        assert!(errors.is_empty());
        assert_eq!(got, [(4, b"x".to_vec())]);
    }

    #[test]
    fn encode_errors() {
        let mut small = [0u8; 18];
        assert_eq!(
            encode(1, b"abc", &mut small),
            Err(EncodeError::BufferTooSmall {
                needed: 19,
                available: 18
            })
        );
        assert_eq!(header(1, 3).unwrap(), FrameHeader::new(1, 3).encode());
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            header(1, 1 << 32),
            Err(EncodeError::TooLarge { len: 1 << 32 })
        );
    }
}
