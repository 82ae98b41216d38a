//! The frame header shared by the byte ring ([`crate::bytes`]) and the
//! stream codec ([`crate::codec`]).
//!
//! A frame is a 16-byte header followed by its payload. In a byte ring each
//! record is one frame padded to a multiple of [`RECORD_ALIGN`]; on a byte
//! stream frames follow each other unpadded. The header bytes are the same
//! in both, so a record peeked from a ring can be written to a socket as it
//! is ([`crate::bytes::RecordRef::frame`]).
//!
//! # Wire format (little-endian)
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | `len`: payload bytes |
//! | 4 | 4 | `tag`: the caller's message type |
//! | 8 | 4 | `flags`: [`FLAG_PAD`]; every other bit reserved, zero |
//! | 12 | 4 | `check`: [`FrameHeader::check`] of the first 12 bytes |
//!
//! The check makes a torn, shifted or foreign header fail to decode (all
//! zeroes included), which lets a stream decoder notice lost framing and a
//! ring consumer notice a scribbling peer. It is not a checksum of the
//! payload.

use core::fmt;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 16;

/// Records in a byte ring start at multiples of this; the payload, 16 bytes
/// in, is as aligned as the record.
pub const RECORD_ALIGN: usize = 8;

/// Flag bit: a padding record that fills a ring up to its end. The
/// consumer skips it; it never appears on a stream.
pub const FLAG_PAD: u32 = 1;

/// Every flag bit this version knows; a header with another bit set fails
/// to decode.
pub const KNOWN_FLAGS: u32 = FLAG_PAD;

/// Mixed into every check so that sixteen zero bytes are not a valid header.
const CHECK_SEED: u32 = u32::from_le_bytes(*b"ILFR");

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct FrameHeader {
    /// Payload bytes that follow the header.
    pub len: u32,
    /// The caller's message type.
    pub tag: u32,
    /// Flag bits ([`FLAG_PAD`] or none).
    pub flags: u32,
}

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(core::mem::size_of::<FrameHeader>(), 12);
    const_assert_eq!(core::mem::offset_of!(FrameHeader, len), 0);
    const_assert_eq!(core::mem::offset_of!(FrameHeader, tag), 4);
    const_assert_eq!(core::mem::offset_of!(FrameHeader, flags), 8);
};

/// Why sixteen bytes are not a frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The check word does not match the other twelve bytes: not a header,
    /// or a damaged one.
    Check {
        /// The check word found.
        found: u32,
        /// The check the other bytes call for.
        expected: u32,
    },
    /// A flag bit this version does not know is set.
    Flags {
        /// The flags word found.
        flags: u32,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Check { found, expected } => write!(
                f,
                "frame header check {found:#010x} does not match {expected:#010x}"
            ),
            Self::Flags { flags } => write!(f, "frame header has unknown flags {flags:#x}"),
        }
    }
}

impl FrameHeader {
    /// A data frame's header.
    pub const fn new(tag: u32, len: u32) -> Self {
        Self { len, tag, flags: 0 }
    }

    /// The check word of a header: a 64-bit multiply-fold of its fields.
    /// Any single changed field changes it; a random 16 bytes pass with
    /// probability 2⁻³².
    pub const fn check(&self) -> u32 {
        let words = self.len as u64 | (self.tag as u64) << 32;
        let h = (words ^ (self.flags as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_mul(0xd6e8_feb8_6659_fd93);
        let h = h ^ (h >> 29);
        (h >> 32) as u32 ^ h as u32 ^ CHECK_SEED
    }

    /// The header's sixteen wire bytes.
    pub const fn encode(&self) -> [u8; HEADER_LEN] {
        let (l, t, f, c) = (
            self.len.to_le_bytes(),
            self.tag.to_le_bytes(),
            self.flags.to_le_bytes(),
            self.check().to_le_bytes(),
        );
        [
            l[0], l[1], l[2], l[3], t[0], t[1], t[2], t[3], f[0], f[1], f[2], f[3], c[0], c[1],
            c[2], c[3],
        ]
    }

    /// Decodes sixteen wire bytes, checking the check word and the flags.
    /// The length is not bounded here: each reader bounds it by what it can
    /// hold.
    pub const fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, HeaderError> {
        let header = Self {
            len: le_word(bytes, 0),
            tag: le_word(bytes, 4),
            flags: le_word(bytes, 8),
        };
        let (found, expected) = (le_word(bytes, 12), header.check());
        if found != expected {
            return Err(HeaderError::Check { found, expected });
        }
        if header.flags & !KNOWN_FLAGS != 0 {
            return Err(HeaderError::Flags {
                flags: header.flags,
            });
        }
        Ok(header)
    }

    /// Whether this is a ring's padding record.
    pub const fn is_pad(&self) -> bool {
        self.flags & FLAG_PAD != 0
    }
}

/// The little-endian word at `at` in a header.
const fn le_word(bytes: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Bytes a ring record with `payload` bytes occupies: header and payload
/// rounded up to [`RECORD_ALIGN`]; `None` if that overflows `u32`.
pub const fn record_len(payload: u32) -> Option<u32> {
    match payload.checked_add(HEADER_LEN as u32 + RECORD_ALIGN as u32 - 1) {
        Some(n) => Some(n & !(RECORD_ALIGN as u32 - 1)),
        None => None,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        for (tag, len) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (0x1234, 65536)] {
            let h = FrameHeader::new(tag, len);
            let bytes = h.encode();
            assert_eq!(&bytes[..4], &len.to_le_bytes());
            assert_eq!(&bytes[4..8], &tag.to_le_bytes());
            assert_eq!(FrameHeader::decode(&bytes), Ok(h));
            // Every single-bit flip of the first 12 bytes is caught.
            for bit in 0..96 {
                let mut bad = bytes;
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(FrameHeader::decode(&bad).is_err(), "bit {bit}");
            }
        }
        assert!(matches!(
            FrameHeader::decode(&[0; HEADER_LEN]),
            Err(HeaderError::Check { .. })
        ));
        let odd = FrameHeader {
            len: 0,
            tag: 0,
            flags: 2,
        };
        assert_eq!(
            FrameHeader::decode(&odd.encode()),
            Err(HeaderError::Flags { flags: 2 })
        );
        let pad = FrameHeader {
            len: 8,
            tag: 0,
            flags: FLAG_PAD,
        };
        assert!(FrameHeader::decode(&pad.encode()).unwrap().is_pad());
    }

    #[test]
    fn record_lengths() {
        assert_eq!(record_len(0), Some(16));
        assert_eq!(record_len(1), Some(24));
        assert_eq!(record_len(8), Some(24));
        assert_eq!(record_len(9), Some(32));
        assert_eq!(record_len(u32::MAX - 23), Some(u32::MAX - 7));
        assert_eq!(record_len(u32::MAX - 22), None);
    }
}
