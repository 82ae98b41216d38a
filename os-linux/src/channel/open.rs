//! Opening a named channel: wait for its creator, validate from a private
//! copy, check the size, then map (see the module docs, "Create and
//! open" and "Hostile names, truncation and sealed channels").

use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use interlink_core::AttachError;

use super::{Channel, ChannelError, ChannelOptions, Patience, Pending, Shape, User};
use crate::inspect;
use crate::liveness;
use crate::mapping::{fd_len, PrivateCopy};
use crate::shm::{Mapping, Shm, ShmError, ShmName};

impl<S: Shape> Channel<S> {
    /// Opens the object `name`, waiting up to `options.open_timeout` for a
    /// creator to make and publish it, and validates it against `S`: its
    /// element type must be `S`'s (size, alignment and
    /// [`Plain::TYPE_ID`](interlink_core::Plain::TYPE_ID)), else
    /// [`ChannelError::Attach`] with [`AttachError::Element`], unless
    /// `options.element_check` opts out
    /// ([`ElementCheck::LayoutOnly`](interlink_core::ElementCheck::LayoutOnly)).
    pub fn open(name: &str, options: &ChannelOptions) -> Result<Self, ChannelError> {
        let shm_name = ShmName::new(name)?;
        let start = Instant::now();
        let mut pause = Duration::from_micros(100);
        loop {
            let pending = match Self::try_open(&shm_name, options)? {
                Ok(channel) => return Ok(channel),
                Err(pending) => pending,
            };
            let waited = start.elapsed();
            if waited >= options.open_timeout {
                return Err(ChannelError::Timeout {
                    name: name.to_owned(),
                    waited,
                    pending,
                });
            }
            std::thread::sleep(pause.min(options.open_timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// One attempt: the channel, or what is still pending, or an error
    /// that waiting will not cure.
    fn try_open(
        name: &ShmName,
        options: &ChannelOptions,
    ) -> Result<Result<Self, Pending>, ChannelError> {
        let shm = match Shm::open(name.as_str()) {
            Ok(shm) => shm,
            Err(e) if e.is(libc::ENOENT) => return Ok(Err(Pending::Missing)),
            Err(e) => return Err(e.into()),
        };
        let (mapping, capacity) = match Self::map_checked(shm.as_fd(), name, options)? {
            Ok(mapped) => mapped,
            Err(pending) => return Ok(Err(pending)),
        };
        Ok(Ok(Self::opened(
            mapping,
            shm.as_fd(),
            name.clone(),
            capacity,
            options,
        )))
    }

    /// Validates the structure behind `fd` and maps it: reads the header
    /// and control block with `pread` into a private copy and validates
    /// them there (kind, version, element, capacity, length), checks with
    /// `fstat` that the object has exactly the length the structure takes,
    /// and only then maps that length (and prefaults it if asked). Nothing
    /// of the object is mapped before its size is validated, and nothing
    /// mapped is touched here, so a peer resizing the object meanwhile
    /// causes an error, not a `SIGBUS` in this call.
    pub(super) fn map_checked(
        fd: BorrowedFd<'_>,
        name: &ShmName,
        options: &ChannelOptions,
    ) -> Result<Result<(Mapping, u32), Pending>, ChannelError> {
        let size = fd_len(fd)?;
        let header = match size {
            0 => return Ok(Err(Pending::Empty)),
            size if size < inspect::HEADER_LEN => None,
            _ => inspect::header_of(fd)?,
        };
        let Some(header) = header else {
            return Err(ChannelError::Truncated {
                name: name.to_string(),
                size,
            });
        };
        // A copy as long as the object, but no longer than the header's
        // capacity says the structure is (or the control block, if the
        // capacity is no capacity): attach judges it as it would the object.
        let copy_len = match S::bytes_needed(header.capacity) {
            Ok(needed) => needed.min(size),
            Err(_) => size.min(PrivateCopy::PREFIX),
        };
        let copy = PrivateCopy::read(fd, copy_len)?;
        let capacity = match S::attach(copy.region(), options.element_check) {
            Ok(capacity) => capacity,
            Err(AttachError::NotReady { state }) => return Ok(Err(Pending::NotReady { state })),
            Err(error) => {
                return Err(ChannelError::Attach {
                    name: name.to_string(),
                    error,
                })
            }
        };
        // attach checked the recorded length against this capacity.
        let needed = S::bytes_needed(capacity)?;
        // A hugetlbfs file (a huge-page pool's memfd) holds whole huge
        // pages: the structure takes the front.
        let needed = match super::pool::hugetlb_page_size(fd) {
            Some(page) => needed.checked_next_multiple_of(page).unwrap_or(needed),
            None => needed,
        };
        // Larger than the structure (a peer grew it), or resized since the
        // first look: refused before mapping.
        let now = fd_len(fd)?;
        if size != needed || now != needed {
            return Err(ChannelError::WrongSize {
                name: name.to_string(),
                size: if size != needed { size } else { now } as u64,
                needed: needed as u64,
            });
        }
        // Exactly the validated length, whatever the object's size now.
        let mapping = Mapping::from_fd(fd, needed, &options.map).map_err(|e| match e {
            ShmError::Os(os) => ShmError::Os(os.on(name)),
            other => other,
        })?;
        Ok(Ok((mapping, capacity)))
    }

    /// A channel this process opened (not created) over `mapping` of the
    /// object behind `fd` (on which it takes its presence lock).
    pub(super) fn opened(
        mapping: Mapping,
        fd: BorrowedFd<'_>,
        name: ShmName,
        capacity: u32,
        options: &ChannelOptions,
    ) -> Self {
        let presence = liveness::Presence::take(fd).ok();
        Self {
            user: User::join::<S>(mapping.region(), options.element_check, presence.as_ref()),
            mapping,
            name,
            element_check: options.element_check,
            capacity,
            creator: false,
            patience: Patience::of(options.waiting, options.peer_check, presence.as_ref()),
            presence,
            _shape: PhantomData,
        }
    }
}
