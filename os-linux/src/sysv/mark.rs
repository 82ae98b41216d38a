//! The marks interlink keeps for the System V objects it creates, so that
//! `gc` can tell them from every other program's objects.
//!
//! System V objects have no name and no room for a marker: a key is any
//! number (an `ftok` key or `IPC_PRIVATE` can be anyone's) and the mode
//! holds only the nine permission bits. So each object that this crate
//! *creates* ([`Segment::create`](super::Segment::create),
//! [`Queue::create`](super::Queue::create)) is recorded in a file
//! `/dev/shm/interlink-sysv.UID/shm-ID` or `.../msg-ID` (a per-user
//! directory, mode `0700`, on the same tmpfs that a reboot empties, as it
//! empties System V objects) holding the key, the creator's pid and its
//! start time (so a reused pid does not pass for the creator). The record
//! goes when this crate removes the object (`IPC_RMID`).
//!
//! A record counts only while it matches the object: the same id and key,
//! the owner (`cuid`) the directory's owner, and for a segment the
//! kernel's own creator pid. An object without a matching record is never
//! interlink's, whatever its key. A record that cannot be written (an
//! unwritable `/dev/shm`, or a directory at the path that is not this
//! user's own) leaves the object unmarked: `gc` then never removes it.
//! That is the safe direction.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use crate::liveness::{process_alive, start_time};

/// Where the per-user mark directories are: `MARK_DIR_PREFIX` + the uid.
pub const MARK_DIR_PREFIX: &str = "/dev/shm/interlink-sysv.";

/// The two kinds of System V object this crate handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SysvKind {
    /// A shared memory segment (`shmget`).
    Segment,
    /// A message queue (`msgget`).
    Queue,
}

impl SysvKind {
    /// `shm` or `msg`, as in `/proc/sysvipc/`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Segment => "shm",
            Self::Queue => "msg",
        }
    }
}

/// One object interlink recorded as its own creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) kind: SysvKind,
    pub(crate) id: i32,
    pub(crate) key: i32,
    pub(crate) creator: u32,
    /// The creator's start time when it recorded the mark, if known.
    pub(crate) start: Option<u64>,
    /// The owner of the directory the record is in.
    pub(crate) uid: u32,
}

impl Mark {
    /// Whether the recorded creator still lives: its pid is alive and, if
    /// both start times are known, it is the same process (a reused pid is
    /// another one).
    pub(crate) fn creator_alive(&self) -> bool {
        if !process_alive(self.creator) {
            return false;
        }
        match (self.start, start_time(self.creator)) {
            (Some(then), Some(now)) => then == now,
            _ => true,
        }
    }

    fn line(&self) -> String {
        let start = self.start.map_or("-".to_owned(), |t| t.to_string());
        format!(
            "key={:#010x} creator={} start={start}\n",
            self.key as u32, self.creator
        )
    }

    /// Removes this record (ignoring errors: the directory may be another
    /// user's).
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_file(dir_of(self.uid).join(file_name(self.kind, self.id)));
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn dir_of(uid: u32) -> PathBuf {
    PathBuf::from(format!("{MARK_DIR_PREFIX}{uid}"))
}

fn file_name(kind: SysvKind, id: i32) -> String {
    format!("{}-{id}", kind.tag())
}

/// Whether `path` is a real directory (not a symlink) owned by `uid` that
/// nobody else can write into.
fn trusted_dir(path: &std::path::Path, uid: u32) -> bool {
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.file_type().is_dir() && m.uid() == uid && m.mode() & 0o022 == 0)
}

/// Records `id` as created by this process; false if it could not be.
pub(crate) fn record(kind: SysvKind, id: i32, key: i32) -> bool {
    let uid = euid();
    let dir = dir_of(uid);
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    if !trusted_dir(&dir, uid) {
        return false;
    }
    let pid = std::process::id();
    let mark = Mark {
        kind,
        id,
        key,
        creator: pid,
        start: start_time(pid),
        uid,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(file_name(kind, id)));
    file.and_then(|mut f| f.write_all(mark.line().as_bytes()))
        .is_ok()
}

/// Removes this process's record of `id` after it removed the object, if
/// the record is still the one it wrote (same key, same creator).
pub(crate) fn forget(kind: SysvKind, id: i32, key: i32) {
    let uid = euid();
    let pid = std::process::id();
    if let Some(mark) = read_mark(uid, kind, id) {
        if mark.key == key && mark.creator == pid {
            mark.remove();
        }
    }
}

fn read_mark(uid: u32, kind: SysvKind, id: i32) -> Option<Mark> {
    let path = dir_of(uid).join(file_name(kind, id));
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.file_type().is_file() || meta.uid() != uid || meta.len() > 256 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    parse(&text, kind, id, uid)
}

fn parse(text: &str, kind: SysvKind, id: i32, uid: u32) -> Option<Mark> {
    let (mut key, mut creator, mut start) = (None, None, None);
    for field in text.split_whitespace() {
        let (name, value) = field.split_once('=')?;
        match name {
            "key" => {
                let hex = value.strip_prefix("0x")?;
                key = Some(u32::from_str_radix(hex, 16).ok()? as i32);
            }
            "creator" => creator = Some(value.parse().ok()?),
            "start" => start = Some(value.parse().ok()),
            _ => {}
        }
    }
    Some(Mark {
        kind,
        id,
        key: key?,
        creator: creator?,
        start: start?,
        uid,
    })
}

/// Every record readable here: from every mark directory that is owned by
/// the uid in its name and writable by nobody else.
pub(crate) fn marks() -> Vec<Mark> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return out;
    };
    let prefix = &MARK_DIR_PREFIX["/dev/shm/".len()..];
    for entry in dir.flatten() {
        let Some(uid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|u| u.parse::<u32>().ok())
        else {
            continue;
        };
        if !trusted_dir(&entry.path(), uid) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(entry.path()) else {
            continue;
        };
        for file in files.flatten() {
            let Some(name) = file.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some((tag, id)) = name.split_once('-') else {
                continue;
            };
            let kind = match tag {
                "shm" => SysvKind::Segment,
                "msg" => SysvKind::Queue,
                _ => continue,
            };
            let Ok(id) = id.parse::<i32>() else { continue };
            if let Some(mark) = read_mark(uid, kind, id) {
                out.push(mark);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_refuse_garbage() {
        let m = parse(
            "key=0x0000abcd creator=12 start=99\n",
            SysvKind::Queue,
            5,
            0,
        )
        .unwrap();
        assert_eq!((m.key, m.creator, m.start), (0xabcd, 12, Some(99)));
        assert_eq!(parse(&m.line(), SysvKind::Queue, 5, 0), Some(m));
        let no_start = parse("key=0x00000000 creator=3 start=-", SysvKind::Segment, 1, 0);
        assert_eq!(no_start.unwrap().start, None);
        assert_eq!(parse("creator=3 start=1", SysvKind::Segment, 1, 0), None);
        assert_eq!(parse("key=12 creator=3", SysvKind::Segment, 1, 0), None);
        assert_eq!(parse("nonsense", SysvKind::Segment, 1, 0), None);
    }
}
