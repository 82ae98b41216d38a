//! What `fifo-writer` and `fifo-reader` agree on: how the writer says that
//! the stream is complete, and how either side finds or makes the FIFO.
//!
//! A FIFO's end of file only says that every writer has closed it — after
//! its last line, or killed halfway. So the writer ends the stream with an
//! end line naming how many lines it sent, and the reader counts: end of
//! file without that line, or with another count, is a cut stream, and
//! the reader exits non-zero.

use interlink_linux::pipe::Fifo;
use std::os::unix::fs::FileTypeExt;

/// The writer's last line: `END_PREFIX` followed by the number of lines
/// it sent before it.
pub const END_PREFIX: &str = "end of stream: lines sent = ";

/// The end line for a stream of `lines` lines.
pub fn end_line(lines: u64) -> String {
    format!("{END_PREFIX}{lines}")
}

/// The count in an end line, or `None` if `line` is a data line.
pub fn parse_end_line(line: &str) -> Option<Option<u64>> {
    line.strip_prefix(END_PREFIX).map(|n| n.parse().ok())
}

/// Creates a FIFO at `path` (mode 0600), or finds the one the peer made:
/// `Some` if this call created it (its drop removes the path), `None` if a
/// FIFO was there already. Anything else at `path` is an error.
pub fn create_or_find(path: &str) -> crate::cli::Result<Option<Fifo>> {
    match Fifo::create(path, 0o600) {
        Ok(fifo) => Ok(Some(fifo)),
        Err(e) if e.is(libc::EEXIST) => {
            let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
            if meta.file_type().is_fifo() {
                Ok(None)
            } else {
                Err(
                    format!("{path} exists and is not a FIFO; remove it or choose another path")
                        .into(),
                )
            }
        }
        Err(e) => Err(e.into()),
    }
}
