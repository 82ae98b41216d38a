//! Building an object under a private name and publishing it atomically
//! ([`Building`]), and recognising such private names ([`building_pid`]).

use std::ffi::CString;
use std::os::fd::AsFd;

use super::claim::try_claim;
use super::{check_len, unlink, Shm, ShmError, ShmName, ShmOptions, NAME_MAX};
use crate::error::{check, OsError};
use crate::shm_name::name_identity;

/// What the name of an object still being built by a creator contains:
/// `/STEM.interlink-new.PID.N` (see [`crate::channel`], "Create and
/// open"). Channel names may not contain it.
pub const BUILDING_MARKER: &str = ".interlink-new.";

/// Whether `name` is the private name of an object a creator is building,
/// and if so the pid of the process building it.
pub fn building_pid(name: &str) -> Option<u32> {
    let at = name.rfind(BUILDING_MARKER)?;
    let (pid, n) = name[at + BUILDING_MARKER.len()..].split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// `/STEM.interlink-new.PID.N` for `target`: its name, cut (at a character
/// boundary) so that the whole fits [`NAME_MAX`].
fn building_name(target: &ShmName, pid: u32, n: u32) -> Result<ShmName, ShmError> {
    let suffix = format!("{BUILDING_MARKER}{pid}.{n}");
    let mut stem = &target.as_str()[1..];
    let room = NAME_MAX - suffix.len();
    if stem.len() > room {
        let mut cut = room;
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        stem = &stem[..cut];
    }
    ShmName::new(&format!("/{stem}{suffix}"))
}

/// An object being created under a private name in the same directory
/// (`/STEM.interlink-new.PID.N`), claimed ([`CLAIM_BYTE`](super::CLAIM_BYTE)) by its creator
/// from the moment it exists, until [`Building::publish`] moves it to its
/// real name with `renameat2(RENAME_NOREPLACE)` — atomically, and only if
/// no object has that name. A creator that dies at any instruction leaves
/// either nothing at the real name or a whole, published object; what it
/// was building stays under the private name, recognisable by
/// [`building_pid`] and unclaimed once its creator is dead, for `gc` (and
/// the next `create`) to remove. Dropped unpublished, it unlinks its
/// private name.
#[derive(Debug)]
pub(crate) struct Building {
    shm: Shm,
    target: ShmName,
    private: PrivateName,
}

/// Unlinks a [`Building`]'s private name on drop, unless published (or
/// the name no longer denotes the object).
#[derive(Debug)]
struct PrivateName {
    name: ShmName,
    identity: (u64, u64),
    armed: bool,
}

impl Drop for PrivateName {
    fn drop(&mut self) {
        if self.armed && name_identity(&self.name) == Some(self.identity) {
            let _ = unlink(self.name.as_str());
        }
    }
}

impl Building {
    /// Creates the private object for `target` with `len` bytes (mode and
    /// reservation from `options`; always exclusive), claimed.
    pub(crate) fn create(
        target: &ShmName,
        len: usize,
        options: &ShmOptions,
    ) -> Result<Self, ShmError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        const TRIES: u32 = 16;
        check_len(len)?;
        let pid = crate::process::current_pid();
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
        let mut tries = 0;
        let building = loop {
            tries += 1;
            let name = building_name(target, pid, NEXT.fetch_add(1, Ordering::Relaxed))?;
            let shm = match Shm::open_raw(name.clone(), flags, options.mode) {
                // A name left by a process with our pid (before us, or in
                // another pid namespace): take the next.
                Err(e) if e.is(libc::EEXIST) && tries < TRIES => continue,
                other => other?,
            };
            let identity = shm.identity()?;
            let building = Self {
                shm,
                target: target.clone(),
                private: PrivateName {
                    name,
                    identity,
                    armed: true,
                },
            };
            // Claimed until the creator releases it (`release_claim`) or
            // dies: the guard is forgotten. (Closing the descriptor would
            // not release it while the object is mapped: the mapping keeps
            // the open file description alive.)
            let claimed = try_claim(building.shm.fd.as_fd())?;
            let got = claimed.is_some();
            std::mem::forget(claimed);
            // A gc that judged it abandoned in the instant before we claimed
            // it (our pid looked dead from its pid namespace) may have
            // unlinked it: then start over.
            if got && name_identity(&building.private.name) == Some(identity) {
                break building;
            }
            if tries >= TRIES {
                return Err(OsError::new("claim", libc::EBUSY)
                    .on(&building.private.name)
                    .into());
            }
        };
        building.shm.set_size(len, options.reserve)?;
        Ok(building)
    }

    /// The object being built (under its private name until published).
    pub(crate) fn shm(&self) -> &Shm {
        &self.shm
    }

    /// Moves the object to its real name, atomically, if no object has
    /// that name (an error with `EEXIST` if one has: the object stays
    /// private, to try again). Once published, [`Building::into_shm`]
    /// gives it under its real name, still claimed: call
    /// [`release_claim`](super::release_claim) when done with it.
    pub(crate) fn publish(&mut self) -> Result<(), ShmError> {
        if self.private.armed {
            self.rename()?;
            self.private.armed = false;
            self.shm.name = self.target.clone();
        }
        Ok(())
    }

    /// The object: under its real name once published; unpublished, its
    /// private name is unlinked now.
    pub(crate) fn into_shm(self) -> Shm {
        self.shm
    }

    fn rename(&self) -> Result<(), ShmError> {
        let c = |n: &ShmName| {
            CString::new(n.path().into_os_string().into_encoded_bytes())
                .map_err(|_| OsError::new("renameat2", libc::EINVAL).on(n))
        };
        let (from, to) = (c(&self.private.name)?, c(&self.target)?);
        // SAFETY: two valid C strings; renameat2 has no other preconditions.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        let renamed = match check(r, "renameat2(RENAME_NOREPLACE)") {
            Ok(_) => Ok(()),
            // A filesystem or kernel without RENAME_NOREPLACE: link(2)
            // never replaces either; then drop the private name.
            Err(e) if e.is(libc::EINVAL) || e.is(libc::ENOSYS) => {
                // SAFETY: as above.
                check(unsafe { libc::link(from.as_ptr(), to.as_ptr()) }, "link").map(|_| {
                    let _ = unlink(self.private.name.as_str());
                })
            }
            Err(e) => Err(e),
        };
        renamed.map(drop).map_err(|e| {
            e.on(format_args!("{} to {}", self.private.name, self.target))
                .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_names_are_parsed_strictly() {
        assert_eq!(building_pid("/a.interlink-new.12.3"), Some(12));
        assert_eq!(
            building_pid("/a.interlink-new.interlink-new.12.3"),
            Some(12)
        );
        for not in [
            "/a",
            "/a.interlink-new.12",
            "/a.interlink-new.12.",
            "/a.interlink-new..3",
            "/a.interlink-new.x.3",
            "/a.interlink-new.12.3.4",
            "/a.interlink-new.99999999999.3",
        ] {
            assert_eq!(building_pid(not), None, "{not}");
        }
    }
}
