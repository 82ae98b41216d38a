//! Listing every object under `/dev/shm`, and removing stale ones without
//! ever removing another object ([`gc`], and `reclaim`, which `create`
//! uses to replace a stale name).

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::probing::probe_unfinished;
use super::{probe, Object};
use crate::shm::{self, Shm, ShmError, ShmName, SHM_DIR};

/// A name under `/dev/shm` and how probing it went.
pub type Listed = (String, Result<Object, ShmError>);

/// Every object under `/dev/shm` (regular files with UTF-8 names), probed,
/// sorted by name. Foreign objects are included: filter with
/// [`Object::is_interlink`].
pub fn list() -> Result<Vec<Listed>, ShmError> {
    let dir = std::fs::read_dir(SHM_DIR).map_err(|e| io_error("opendir", e))?;
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| io_error("readdir", e))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let Some(file) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !is_file {
            continue;
        }
        let name = format!("/{file}");
        let probed = probe(&name);
        out.push((name, probed));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn io_error(op: &'static str, e: std::io::Error) -> ShmError {
    crate::OsError::new(op, e.raw_os_error().unwrap_or(0))
        .on(SHM_DIR)
        .into()
}

/// An object `gc` removed, or tried to.
pub type Collected = (Object, Result<(), ShmError>);

/// Removes every stale object (see [`Object::is_stale`]) whose name
/// `select` accepts (`|_| true`: all), judging each again just before
/// removing it. Returns the objects removed, or the error for those that
/// could not be.
///
/// Stale objects include what a creator killed inside
/// [`crate::channel::Channel::create`] left: the object it was building
/// under its private name ([`State::Unfinished`](super::State::Unfinished)), once no process holds
/// its claim lock and its creator is dead (or it was last modified
/// [`INCOMPLETE_GRACE`](super::INCOMPLETE_GRACE) ago). An object *at a name* that has no header at
/// all (empty, or all zero) is not recognisably interlink's — this
/// version's creators never leave one there, but other programs (and
/// older versions) may — so `gc` keeps it: `create` of that name replaces
/// it once it has been left unmodified for [`INCOMPLETE_GRACE`](super::INCOMPLETE_GRACE), and
/// `interlink-inspect rm --force` removes it.
///
/// Each removal follows the protocol `create` uses to replace a stale
/// object (see the [`crate::channel`] module docs): the name is unlinked only while `gc` holds
/// the object's claim lock and the name still denotes the object judged,
/// so a `gc` racing creators never removes a newer object.
pub fn gc(select: impl Fn(&str) -> bool) -> Result<Vec<Collected>, ShmError> {
    let mut done = Vec::new();
    for (name, probed) in list()? {
        if !select(&name) {
            continue;
        }
        let Ok(object) = probed else { continue };
        if !object.is_stale() {
            continue;
        }
        let Ok(shm_name) = ShmName::new(&name) else {
            continue;
        };
        match reclaim(&shm_name, Duration::ZERO, |again, _| again.is_stale()) {
            Ok(Reclaimed::Unlinked(again, removed)) => done.push((again, removed)),
            Ok(_) => {}
            Err(e) => done.push((object, Err(e))),
        }
    }
    Ok(done)
}

/// Removes the abandoned objects that creators of `name` (or of names
/// `name` begins with: long names are cut in private names) were
/// building when they died; errors are ignored.
/// [`Channel::create`](crate::channel::Channel::create) calls it so that a
/// creator that is killed and restarted in a loop does not fill `/dev/shm`.
pub(crate) fn remove_unfinished_of(name: &ShmName) {
    let Ok(dir) = std::fs::read_dir(SHM_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let Some(file) = entry.file_name().to_str().map(|f| format!("/{f}")) else {
            continue;
        };
        let Some(at) = file.rfind(shm::BUILDING_MARKER) else {
            continue;
        };
        if shm::building_pid(&file).is_none() || !name.as_str().starts_with(&file[..at]) {
            continue;
        }
        if let Ok(private) = ShmName::new(&file) {
            let _ = reclaim(&private, Duration::ZERO, |o, _| o.is_stale());
        }
    }
}

/// What [`reclaim`] did with a name.
#[derive(Debug)]
pub(crate) enum Reclaimed {
    /// The object was judged replaceable and its name unlinked (or the
    /// error unlinking it).
    Unlinked(Object, Result<(), ShmError>),
    /// The object was judged and kept.
    Kept(Object),
    /// Kept: not a regular file (a FIFO, a directory, ...).
    NotRegular,
    /// Kept: another process held its claim lock for the whole wait (it is
    /// creating, replacing or removing it).
    Claimed,
    /// The name is gone, or denotes another object than the one opened:
    /// someone else removed or replaced it meanwhile.
    Moved,
}

/// Removes `name` if `replaceable` says so of the object it denotes, in a
/// way that never removes another object: opens it (non-blocking, regular
/// files only), takes its claim lock ([`shm::CLAIM_BYTE`], waiting at most
/// `wait` while another process holds it), checks that the name still
/// denotes the object opened (device and inode), judges it (the
/// [`probe`] of the name, or for a private name the claim just taken),
/// checks the name again, and only then unlinks it. Two processes that
/// judged the same object stale thus take turns: the second finds the name
/// gone or denoting the first one's new object, and removes nothing.
/// Only processes that claim before unlinking are excluded this way: a
/// creator's own `Drop` and a hostile `shm_unlink` are not.
pub(crate) fn reclaim(
    name: &ShmName,
    wait: Duration,
    replaceable: impl Fn(&Object, &Shm) -> bool,
) -> Result<Reclaimed, ShmError> {
    let shm = match Shm::open_regular(name, true) {
        Ok(Some(shm)) => shm,
        Ok(None) => return Ok(Reclaimed::NotRegular),
        Err(e) if e.is(libc::ENOENT) => return Ok(Reclaimed::Moved),
        Err(e) => return Err(e),
    };
    let ours = shm.identity()?;
    let deadline = Instant::now() + wait;
    let _claim = loop {
        if let Some(claim) = shm::try_claim(shm.as_fd())? {
            break claim;
        }
        if Instant::now() >= deadline {
            return Ok(Reclaimed::Claimed);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let denotes = || shm::name_identity(name) == Some(ours);
    if !denotes() {
        return Ok(Reclaimed::Moved);
    }
    let object = if shm::building_pid(name.as_str()).is_some() {
        // We hold the claim: its creator does not.
        probe_unfinished(name, Some(false))
    } else {
        probe(name.as_str())
    };
    let object = match object {
        Ok(object) => object,
        Err(e) if e.is(libc::ENOENT) => return Ok(Reclaimed::Moved),
        Err(e) => return Err(e),
    };
    if !replaceable(&object, &shm) {
        return Ok(Reclaimed::Kept(object));
    }
    if !denotes() {
        return Ok(Reclaimed::Moved);
    }
    match shm::unlink(name.as_str()) {
        Err(e) if e.is(libc::ENOENT) => Ok(Reclaimed::Moved),
        removed => Ok(Reclaimed::Unlinked(object, removed)),
    }
}

#[cfg(test)]
mod unfinished_tests {
    use super::super::State;
    use super::*;
    use crate::process;

    /// The private names building `target` now.
    fn private_names(target: &str) -> Vec<String> {
        std::fs::read_dir(SHM_DIR)
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(|f| format!("/{f}")))
            .filter(|n| n.starts_with(target) && shm::building_pid(n).is_some())
            .collect()
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn an_object_being_built_is_kept_while_its_creator_lives_and_collected_after() {
        let target = ShmName::new(&format!("/il-unfinished-{}", process::current_pid())).unwrap();
        let len = 1 << 16;
        let child = process::fork(|| {
            let Ok(building) = shm::Building::create(&target, len, &shm::ShmOptions::new()) else {
                return 1;
            };
            let _keep = building;
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .unwrap();
        let only_ours = |n: &str| n.starts_with(target.as_str());
        // Wait (bounded) until it exists and is claimed.
        let start = Instant::now();
        let name = loop {
            let claimed = private_names(target.as_str()).into_iter().find(|n| {
                matches!(
                    probe(n).map(|o| o.state),
                    Ok(State::Unfinished { claimed: true, .. })
                )
            });
            if let Some(n) = claimed {
                break n;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "never built");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(shm::building_pid(&name), Some(child.pid()));
        let object = probe(&name).unwrap();
        assert_eq!(object.size, len as u64);
        assert!(!object.is_stale(), "{object:?}");
        assert!(object.state.to_string().contains("being created by"));
        assert!(gc(only_ours).unwrap().is_empty());

        child.signal(libc::SIGKILL).unwrap();
        child.wait().unwrap();
        let object = probe(&name).unwrap();
        assert!(
            matches!(object.state, State::Unfinished { claimed: false, creator } if !creator.alive),
            "{object:?}"
        );
        assert!(object.is_stale());
        let collected = gc(only_ours).unwrap();
        assert_eq!(collected.len(), 1, "{collected:?}");
        assert_eq!(collected[0].0.name, name);
        assert!(collected[0].1.is_ok());
        assert!(private_names(target.as_str()).is_empty());
    }
}
