//! System V segments and queues as `ipcs` lists them ([`sysv_list`]), and
//! removing those interlink created that nobody uses any more
//! ([`sysv_gc`]).
//!
//! The listing reads `/proc/sysvipc/shm` and `/proc/sysvipc/msg` (what
//! `ipcs` reads): every object the kernel shows this process, interlink's
//! or not. An object is interlink's when a record of its creation matches
//! it (see [`crate::sysv::MARK_DIR_PREFIX`]: same kind, id and key, owned
//! by the record's owner, and for a segment the kernel's creator pid).
//!
//! An interlink object is **stale** when its creator is dead (the pid is
//! gone, a zombie, or another process with a later start time) and:
//! - a segment has no attachment (`nattch` 0);
//! - a queue's last sender and last receiver are dead too (queues have no
//!   attach count: a process that only opened one leaves no trace, so a
//!   queue whose creator died and that a live process uses without having
//!   sent or received since cannot be told from an abandoned one).
//!
//! `gc` judges each object again with `IPC_STAT` just before `IPC_RMID`.
//! A process that attaches a segment between that look and the removal
//! keeps it until it detaches (the key finds nothing from then on), as a
//! process keeps a POSIX object that is unlinked while it maps it.

use std::collections::HashMap;
use std::fmt;

use super::Pid;
use crate::sysv::mark::{self, Mark};
use crate::sysv::{Key, Queue, Segment, SysvError, SysvKind};
use crate::OsError;

/// A System V object as `ipcs` shows it, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysvObject {
    /// Segment or queue.
    pub kind: SysvKind,
    /// Its key ([`Key::PRIVATE`] for private ones and segments marked for
    /// removal).
    pub key: Key,
    /// Its id.
    pub id: i32,
    /// The owner's uid.
    pub uid: u32,
    /// The owner's user name (the uid in digits if `/etc/passwd` has none).
    pub owner: String,
    /// Permission bits (a segment's with [`crate::sysv::SHM_DEST`] when
    /// marked for removal).
    pub mode: u32,
    /// A segment's size, or the bytes queued in a queue.
    pub bytes: u64,
    /// A segment's attachments (0 for a queue, which has none).
    pub attaches: u64,
    /// Messages queued (0 for a segment).
    pub messages: u64,
    /// The creator: the kernel's for a segment, the record's for an
    /// interlink queue (pid 0: unknown, a queue that is not interlink's).
    pub creator: Pid,
    /// The last pids that used it: a segment's last `shmat`/`shmdt`, a
    /// queue's last sender then last receiver (pid 0: none).
    pub last: Vec<Pid>,
    /// Whether interlink created it (a matching record).
    pub interlink: bool,
}

impl SysvObject {
    /// Whether `gc` removes it: interlink's (a matching record), its
    /// creator dead (gone, a zombie, or a later process with its pid), and
    /// unused: a segment with no attachment, a queue whose last sender and
    /// last receiver are dead too (queues have no attach count).
    pub fn is_stale(&self) -> bool {
        if !self.interlink || self.creator.alive {
            return false;
        }
        match self.kind {
            SysvKind::Segment => self.attaches == 0,
            SysvKind::Queue => self.last.iter().all(|p| !p.alive),
        }
    }
}

impl fmt::Display for SysvObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            SysvKind::Segment => "segment",
            SysvKind::Queue => "queue",
        };
        write!(f, "{what} id {} ({})", self.id, self.key)
    }
}

/// One table of `/proc/sysvipc/`: rows of named columns.
fn table(kind: SysvKind) -> Result<Vec<HashMap<String, String>>, SysvError> {
    let path = format!("/proc/sysvipc/{}", kind.tag());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        SysvError::Os(OsError::new("read", e.raw_os_error().unwrap_or(libc::EIO)).on(&path))
    })?;
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    Ok(lines
        .map(|line| {
            names
                .iter()
                .zip(line.split_whitespace())
                .map(|(n, v)| ((*n).to_owned(), v.to_owned()))
                .collect()
        })
        .collect())
}

/// User names by uid, from `/etc/passwd`.
fn user_names() -> HashMap<u32, String> {
    let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            Some((uid, name.to_owned()))
        })
        .collect()
}

/// The record that makes a listed object interlink's, if one does.
fn matching<'m>(marks: &'m [Mark], o: &SysvObject, cuid: u32, cpid: u32) -> Option<&'m Mark> {
    marks.iter().find(|m| {
        m.kind == o.kind
            && m.id == o.id
            && m.key == o.key.raw()
            && m.uid == cuid
            && (o.kind == SysvKind::Queue || m.creator == cpid)
    })
}

fn listed(marks: &[Mark]) -> Result<Vec<(SysvObject, Option<Mark>)>, SysvError> {
    let names = user_names();
    let mut out = Vec::new();
    for kind in [SysvKind::Segment, SysvKind::Queue] {
        for row in table(kind)? {
            let num = |name: &str| row.get(name).and_then(|v| v.parse::<i64>().ok());
            let (Some(key), Some(id)) = (
                num("key"),
                num(match kind {
                    SysvKind::Segment => "shmid",
                    SysvKind::Queue => "msqid",
                }),
            ) else {
                continue;
            };
            let pid = |name: &str| Pid::check(num(name).unwrap_or(0).max(0) as u32);
            let uid = num("uid").unwrap_or(-1) as u32;
            let cuid = num("cuid").unwrap_or(-1) as u32;
            let mode = row
                .get("perms")
                .and_then(|p| u32::from_str_radix(p, 8).ok())
                .unwrap_or(0);
            let count = |name: &str| num(name).unwrap_or(0).max(0) as u64;
            let mut o = SysvObject {
                kind,
                key: Key::new(key as i32),
                id: id as i32,
                uid,
                owner: names.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
                mode,
                bytes: 0,
                attaches: 0,
                messages: 0,
                creator: Pid::check(0),
                last: Vec::new(),
                interlink: false,
            };
            match kind {
                SysvKind::Segment => {
                    o.bytes = count("size");
                    o.attaches = count("nattch");
                    o.creator = pid("cpid");
                    o.last = vec![pid("lpid")];
                }
                SysvKind::Queue => {
                    o.bytes = count("cbytes");
                    o.messages = count("qnum");
                    o.last = vec![pid("lspid"), pid("lrpid")];
                }
            }
            let mark = matching(marks, &o, cuid, o.creator.pid).cloned();
            if let Some(m) = &mark {
                o.interlink = true;
                o.creator = Pid {
                    pid: m.creator,
                    alive: m.creator_alive(),
                };
            }
            out.push((o, mark));
        }
    }
    out.sort_by_key(|(o, _)| (o.kind == SysvKind::Queue, o.id));
    Ok(out)
}

/// Every System V segment and queue this process can see, judged: what
/// `interlink-inspect ls` prints (filter with [`SysvObject::interlink`]).
pub fn sysv_list() -> Result<Vec<SysvObject>, SysvError> {
    Ok(listed(&mark::marks())?
        .into_iter()
        .map(|(o, _)| o)
        .collect())
}

/// A System V object `gc` removed, or tried to.
pub type SysvCollected = (SysvObject, Result<(), SysvError>);

/// Removes every stale interlink object ([`SysvObject::is_stale`]) that
/// `select` accepts, judging each again with `IPC_STAT` just before
/// `IPC_RMID`, and its record with it; drops records whose object is gone.
/// Never removes an object without a matching record: another program's.
pub fn sysv_gc(select: impl Fn(&SysvObject) -> bool) -> Result<Vec<SysvCollected>, SysvError> {
    let marks = mark::marks();
    let objects = listed(&marks)?;
    // A record no listed object matches describes nothing any more: its
    // object is gone, marked for removal, or its id now another's. (A
    // creator writes its record after creating the object, so a record
    // read here has its object listed, unless it was removed since.)
    for m in &marks {
        let seen = objects
            .iter()
            .any(|(o, found)| o.kind == m.kind && o.id == m.id && found.is_some());
        if !seen {
            m.remove();
        }
    }
    let mut done = Vec::new();
    for (object, mark) in objects {
        let Some(mark) = mark else { continue };
        if !object.is_stale() || !select(&object) {
            continue;
        }
        let removed = match object.kind {
            SysvKind::Segment => match Segment::stat_id(object.id) {
                Ok(s)
                    if s.key == object.key && s.creator_pid == mark.creator && s.attaches == 0 =>
                {
                    Segment::remove_id(object.id)
                }
                Ok(_) => continue,
                Err(e) => Err(e),
            },
            SysvKind::Queue => match Queue::stat_id(object.id) {
                Ok(s)
                    if s.key == object.key
                        && !Pid::check(s.last_sender).alive
                        && !Pid::check(s.last_receiver).alive =>
                {
                    Queue::remove_id(object.id)
                }
                Ok(_) => continue,
                Err(e) => Err(e),
            },
        };
        if removed.is_ok() {
            mark.remove();
        }
        done.push((object, removed));
    }
    Ok(done)
}
