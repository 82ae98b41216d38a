//! Probing one object: copy its header and control block out with
//! `pread`, never mapping it, and judge the copy.

use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, SystemTime};

use interlink_core::layout::{state, Header, HeaderSnapshot, Kind, LAYOUT_VERSION, MAGIC};
use interlink_core::pool::Pool;
use interlink_core::{
    broadcast, bytes, fanout, latest, many_to_one, mpmc, spsc, AttachError, Region,
};

use super::{Object, Pid, Role, State, SubscriberLag, Summary, HEADER_LEN};
use crate::mapping::{pread_full, PrivateCopy};
use crate::shm::{self, Shm, ShmError, ShmName};

/// Opens `name` read-only and judges it.
///
/// Nothing of the object is mapped: the header and control block are
/// copied out with `pread` (see [`HEADER_LEN`]), so a peer that truncates
/// or resizes the object meanwhile, or flips its size between 0 and its
/// length, makes the verdict an error or a non-stale state, never a
/// `SIGBUS`. Something other than a regular file at the name (a FIFO, a
/// directory, a symlink) is [`ShmError::NotRegular`] at once, without
/// blocking.
pub fn probe(name: &str) -> Result<Object, ShmError> {
    if shm::building_pid(name).is_some() {
        return probe_unfinished(&ShmName::new(name)?, None);
    }
    let shm = Shm::open_read_only(name)?;
    let fd = std::os::fd::AsFd::as_fd(&shm);
    let st = crate::mapping::fd_stat(fd)?;
    let size = st.st_size.max(0) as u64;
    let modified = SystemTime::UNIX_EPOCH
        + Duration::new(
            st.st_mtime.max(0) as u64,
            st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
        );
    let object = |state| Object {
        name: shm.name().to_string(),
        size,
        age: SystemTime::now().duration_since(modified).ok(),
        state,
    };
    let (header, got, first) = read_header(fd)?;
    if got == 0 {
        return Ok(object(State::Foreign { reason: "empty" }));
    }
    let Some(header) = header else {
        // Shorter than a header: interlink's only if its magic says so.
        return Ok(object(match first {
            Some(MAGIC) => State::Corrupt {
                header: None,
                problem: format!("truncated: {got} bytes, shorter than a {HEADER_LEN}-byte header"),
            },
            _ => State::Foreign {
                reason: "shorter than a header",
            },
        }));
    };
    // A copy as long as the object and its header allow: the core's status
    // functions judge lengths on it just as on a mapping of the object.
    // Without interlink's magic only the header is looked at.
    let claimed = match header.magic {
        MAGIC => header.total_len.max(PrivateCopy::PREFIX as u64),
        _ => PrivateCopy::PREFIX as u64,
    };
    let len = usize::try_from(size.min(claimed)).unwrap_or(usize::MAX);
    let copy = match PrivateCopy::read(fd, len) {
        Ok(copy) => copy,
        Err(e) => {
            return Ok(object(State::Corrupt {
                header: Some(header),
                problem: format!("cannot be examined at {size} bytes: {e}"),
            }))
        }
    };
    if copy.copied() < len.min(PrivateCopy::PREFIX) {
        // It shrank between fstat and pread: resized under us. Judged not
        // stale, so gc and create leave it alone.
        return Ok(object(State::Corrupt {
            header: Some(header),
            problem: format!(
                "shrank from {size} bytes while being read (resized by another process)"
            ),
        }));
    }
    // Holders are judged by the object's presence locks first.
    let holders = crate::liveness::Judge::onlooker(fd).ok();
    Ok(object(crate::liveness::judging(holders, || {
        judge(header, copy.region(), size)
    })))
}

/// Reads the header with `pread`: the header (`None` if the object is
/// shorter than one), how many bytes of it there were, and the first word
/// if there were four.
fn read_header(
    fd: std::os::fd::BorrowedFd<'_>,
) -> Result<(Option<HeaderSnapshot>, usize, Option<u32>), ShmError> {
    // Aligned for the header's words.
    let mut buf = [0u32; HEADER_LEN / 4];
    // SAFETY: the array's bytes, as u8s: every bit pattern is valid.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), HEADER_LEN) };
    let got = pread_full(fd, bytes, 0)?;
    let first = bytes
        .first_chunk::<4>()
        .filter(|_| got >= 4)
        .map(|w| u32::from_le_bytes(*w));
    if got < HEADER_LEN {
        return Ok((None, got, first));
    }
    Ok((Header::read(&Region::new(bytes)).ok(), got, first))
}

/// Reads the header of the object behind `fd` with `pread`, without
/// mapping it: `None` if the object is shorter than a header.
pub(crate) fn header_of(
    fd: std::os::fd::BorrowedFd<'_>,
) -> Result<Option<HeaderSnapshot>, ShmError> {
    read_header(fd).map(|(header, _, _)| header)
}

/// Judges a header (and, for kinds this build can read, what follows it).
/// `region` is a private copy of the object's start, of its length or the
/// header's, whichever is less (see [`probe`]); `size` the object's size.
fn judge(header: HeaderSnapshot, region: Region<'_>, size: u64) -> State {
    let owned = region;
    let region = &owned;
    if header.magic != MAGIC {
        return if header.magic == 0 && header.state == state::INITIALISING {
            State::Incomplete {
                state: header.state,
            }
        } else {
            State::Foreign {
                reason: "no interlink magic",
            }
        };
    }
    if header.version != LAYOUT_VERSION {
        return State::OtherVersion {
            version: header.version,
        };
    }
    let corrupt = |problem: String| State::Corrupt {
        header: Some(header),
        problem,
    };
    let Some(kind) = Kind::from_u32(header.kind) else {
        return corrupt(format!("unknown kind {}", header.kind));
    };
    let subscribers = subscriber_lags(kind, region);
    let checked = match kind {
        Kind::Spsc | Kind::Bytes => match kind {
            Kind::Spsc => spsc::status(region),
            _ => bytes::status(region),
        }
        .map(|s| {
            let roles = vec![
                Role {
                    role: "producer",
                    holder: Pid::check(s.producer),
                },
                Role {
                    role: "consumer",
                    holder: Pid::check(s.consumer),
                },
            ];
            (roles, false, s.fill(), None)
        }),
        Kind::ManyToOne => many_to_one::status(region).map(|s| {
            let consumer = Role {
                role: "consumer",
                holder: Pid::check(s.consumer),
            };
            (vec![consumer], false, s.fill(), Some(s.skipped))
        }),
        // A pool's users table, read from the copy (attached with the
        // geometry and type its header records); its fill is the blocks
        // held.
        Kind::Pool => Pool::probe(region)
            .and_then(|(_, block_size)| Pool::attach(owned, block_size, header.element.type_id))
            .map(|p| {
                let users = p.users();
                let roles = users.holders().map(|pid| Role {
                    role: "user",
                    holder: Pid::check(pid),
                });
                let held = p.blocks() - p.census().free;
                (roles.collect(), users.overflow, Some(held), None)
            }),
        Kind::Mpmc => mpmc::status(region).map(|s| {
            let users = s.users.holders().map(|pid| Role {
                role: "user",
                holder: Pid::check(pid),
            });
            (users.collect(), s.users.overflow, s.fill(), None)
        }),
        Kind::Broadcast | Kind::Latest => match kind {
            Kind::Broadcast => broadcast::status(region).map(|s| s.writer),
            _ => latest::status(region).map(|s| s.writer),
        }
        .map(|writer| {
            let roles = vec![Role {
                role: "writer",
                holder: Pid::check(writer),
            }];
            (roles, false, None, None)
        }),
        // The writer and every subscriber are roles (live subscribers
        // keep it in use); its fill is the slowest subscriber's lag.
        Kind::Fanout => fanout::status(region).map(|s| {
            let writer = Role {
                role: "writer",
                holder: Pid::check(s.writer),
            };
            let subscribers = s.occupied().map(|(_, e)| Role {
                role: "subscriber",
                holder: Pid::check(e.holder),
            });
            let roles = std::iter::once(writer).chain(subscribers).collect();
            (roles, false, Some(s.max_lag()), None)
        }),
        _ => header
            .validate(kind, header.element)
            .map(|()| (Vec::new(), false, None, None)),
    };
    match checked {
        Ok((roles, unrecorded_users, fill, skipped)) => {
            let mut problems = Vec::new();
            if matches!(
                kind,
                Kind::Spsc | Kind::Bytes | Kind::Mpmc | Kind::ManyToOne
            ) && fill.is_none()
            {
                problems.push("indices say more in the ring than its capacity".to_owned());
            }
            // Shorter: truncated; longer: grown by a peer. Either way
            // `Channel::open` refuses it.
            if header.total_len != size {
                problems.push(format!(
                    "records {} bytes, the object has {size}",
                    header.total_len,
                ));
            }
            State::Valid(Summary {
                header,
                kind,
                creator: Pid::check(header.creator_pid),
                roles,
                unrecorded_users,
                fill,
                skipped,
                problems,
                subscribers,
            })
        }
        Err(AttachError::NotReady { state }) => State::Incomplete { state },
        Err(e) => corrupt(e.to_string()),
    }
}

/// A fan-out ring's occupied subscriber entries and their lag; empty for
/// other kinds.
fn subscriber_lags(kind: Kind, region: &Region<'_>) -> Vec<SubscriberLag> {
    if kind != Kind::Fanout {
        return Vec::new();
    }
    fanout::status(region).map_or_else(
        |_| Vec::new(),
        |s| {
            s.occupied()
                .map(|(i, e)| SubscriberLag {
                    index: i as u32,
                    holder: Pid::check(e.holder),
                    lag: e.lag,
                })
                .collect()
        },
    )
}

/// Judges an object under a private name (see [`shm::building_pid`]);
/// `claimed`: whether its claim lock is held, `None` to ask the kernel.
pub(super) fn probe_unfinished(name: &ShmName, claimed: Option<bool>) -> Result<Object, ShmError> {
    let Some(pid) = shm::building_pid(name.as_str()) else {
        return Err(crate::OsError::new("probe", libc::EINVAL).on(name).into());
    };
    let Some(shm) = Shm::open_regular(name, false)? else {
        return Ok(Object {
            name: name.to_string(),
            size: 0,
            age: None,
            state: State::Foreign {
                reason: "not a regular file",
            },
        });
    };
    let claimed = match claimed {
        Some(c) => c,
        None => shm::is_claimed(shm.as_fd())?,
    };
    Ok(Object {
        name: name.to_string(),
        size: shm.stat()?.st_size.max(0) as u64,
        age: age_of(&shm)?,
        state: State::Unfinished {
            creator: Pid::check(pid),
            claimed,
        },
    })
}

/// Time since the object was last modified, if the clock allows.
fn age_of(shm: &Shm) -> Result<Option<Duration>, ShmError> {
    let st = shm.stat()?;
    let modified = SystemTime::UNIX_EPOCH
        + Duration::new(
            st.st_mtime.max(0) as u64,
            st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
        );
    Ok(SystemTime::now().duration_since(modified).ok())
}

/// Whether the object has no header at all: empty, or its first
/// [`HEADER_LEN`] bytes (all it has, if fewer) zero but for the state word
/// (`UNINIT` or `INITIALISING`) — what a creator of an older version left
/// when killed while sizing, reserving or prefaulting. Read with `pread`:
/// no mapping, so a peer truncating the object cannot fault us.
pub(crate) fn is_blank(shm: &Shm) -> Result<bool, ShmError> {
    let mut buf = [0u8; HEADER_LEN];
    let n = loop {
        // SAFETY: reads at most buf.len() bytes into buf from an open
        // descriptor.
        let r = unsafe {
            libc::pread(
                shm.as_fd().as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
            )
        };
        match crate::error::check(r, "pread") {
            Ok(n) => break n as usize,
            Err(e) if e.is(libc::EINTR) => continue,
            Err(e) => return Err(e.on(shm.name()).into()),
        }
    };
    let state_word = 12..16;
    let state = buf[state_word.clone()].try_into().map(u32::from_ne_bytes);
    let rest_zero = buf[..n.min(HEADER_LEN)]
        .iter()
        .enumerate()
        .all(|(i, &b)| state_word.contains(&i) || b == 0);
    Ok(rest_zero && matches!(state, Ok(state::UNINIT | state::INITIALISING)))
}
