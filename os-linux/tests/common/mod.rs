//! Helpers shared by the kernel-IPC tests: unique names and directories
//! that are removed even when a test fails.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use interlink_linux::pipe::{self, Blocking, Reader, Writer};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A POSIX object name no other test or run uses: `/interlink-TAG-PID-N`.
pub fn unique_name(tag: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("/interlink-{tag}-{}-{n}", std::process::id())
}

/// A fresh directory under the system temp dir, removed with its contents
/// on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("interlink-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A one-byte notification from one process to another over a pipe. The
/// waiting side drops its write end first, so a peer that dies before
/// notifying gives end-of-file instead of a hang.
pub struct Gate {
    reader: Reader,
    writer: Option<Writer>,
}

impl Gate {
    pub fn new() -> Self {
        let (reader, writer) = pipe::pipe(Blocking::Yes).unwrap();
        Self {
            reader,
            writer: Some(writer),
        }
    }

    /// Notifies the waiting side.
    pub fn open(&self) {
        if let Some(w) = &self.writer {
            let _ = (&*w).write_all(b"!");
        }
    }

    /// Waits for the notification; `false` if every notifier is gone.
    pub fn wait(&mut self) -> bool {
        self.writer = None;
        let mut b = [0u8];
        (&self.reader).read_exact(&mut b).is_ok()
    }
}
