//! System V keys: how unrelated processes find the same object
//! ([`Key`]: `ftok`, an explicit number, or `IPC_PRIVATE`).

use std::ffi::CString;
use std::fmt;
use std::path::Path;

use super::SysvError;
use crate::error::OsError;

/// The key an object is created or found by (`key_t`).
///
/// - [`Key::PRIVATE`] (`IPC_PRIVATE`, 0): always a new object that no key
///   finds; share its id instead (over a socket, a file, `fork`).
/// - [`Key::from_path`] (`ftok`): derived from an existing file's inode and
///   device and an 8-bit project id, as legacy programs do. Two paths can
///   give the same key (only the inode's low 16 bits and the device's low
///   8 bits are used), and a file that is deleted and recreated gives
///   another one.
/// - [`Key::new`]: an explicit number agreed between the programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(i32);

impl Key {
    /// `IPC_PRIVATE`: a new object reachable only through its id.
    pub const PRIVATE: Key = Key(libc::IPC_PRIVATE);

    /// An explicit key (0 is [`Key::PRIVATE`]).
    pub const fn new(key: i32) -> Self {
        Self(key)
    }

    /// `ftok(path, project)`: the key legacy programs derive from a file
    /// that exists and a project id (its low 8 bits are used; 0 is refused
    /// by convention, as `ftok`'s manual says its effect is unspecified).
    pub fn from_path(path: impl AsRef<Path>, project: u8) -> Result<Self, SysvError> {
        let path = path.as_ref();
        let shown = path.display();
        if project == 0 {
            return Err(OsError::new("ftok", libc::EINVAL)
                .on(format_args!("{shown} (project id 0)"))
                .into());
        }
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| OsError::new("ftok", libc::EINVAL).on(&shown))?;
        // SAFETY: c is a NUL-terminated path; ftok only stats it.
        let key = unsafe { libc::ftok(c.as_ptr(), libc::c_int::from(project)) };
        if key == -1 {
            return Err(OsError::last("ftok").on(shown).into());
        }
        Ok(Self(key))
    }

    /// The raw `key_t`.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// Whether this is [`Key::PRIVATE`].
    pub const fn is_private(self) -> bool {
        self.0 == libc::IPC_PRIVATE
    }
}

impl fmt::Display for Key {
    /// `key 0x0000abcd` as `ipcs` prints keys, or `IPC_PRIVATE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_private() {
            f.write_str("IPC_PRIVATE")
        } else {
            write!(f, "key {:#010x}", self.0 as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftok_needs_an_existing_file_and_a_project() {
        let a = Key::from_path("/", b'I').unwrap();
        assert_eq!(a, Key::from_path("/", b'I').unwrap());
        assert_ne!(a, Key::from_path("/", b'J').unwrap());
        let missing = Key::from_path("/no/such/file", b'I').unwrap_err();
        assert!(missing.is(libc::ENOENT), "{missing}");
        assert!(missing.to_string().contains("ftok /no/such/file"));
        assert!(Key::from_path("/", 0).unwrap_err().is(libc::EINVAL));
    }

    #[test]
    fn keys_print_as_ipcs_does() {
        assert_eq!(Key::new(0xabcd).to_string(), "key 0x0000abcd");
        assert_eq!(Key::PRIVATE.to_string(), "IPC_PRIVATE");
        assert!(Key::new(0).is_private());
    }
}
