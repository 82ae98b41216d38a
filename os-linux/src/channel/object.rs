//! The [`Channel`] itself: a named shared object mapped into this
//! process, what it records about its users, and what every shape's
//! channel can tell.

use std::marker::PhantomData;

use interlink_core::mpmc::UserSlot;
use interlink_core::{AttachError, ElementCheck, Holder, Region};

use super::{ChannelError, Patience, Shape};
use interlink_core::wait::wait_set::Source;

use crate::error::OsError;
use crate::liveness;
use crate::process;
use crate::readiness::Readiness;
use crate::shm::{self, Mapping, ShmError, ShmName};

/// A named shared object holding one structure of shape `S`, mapped into
/// this process. Handles borrow it; the creator's unlinks the name on drop
/// (see the module docs for the lifecycle). For a shape without roles
/// (MPMC), it is recorded as a user of the structure while it lives.
#[derive(Debug)]
pub struct Channel<S> {
    pub(super) mapping: Mapping,
    pub(super) name: ShmName,
    /// How the element type was checked on opening, and is again when
    /// a handle attaches.
    pub(super) element_check: ElementCheck,
    pub(super) capacity: u32,
    pub(super) creator: bool,
    pub(super) patience: Patience,
    pub(super) user: Option<User>,
    /// This process's presence lock in the object (see
    /// [`crate::liveness::Presence`]); `None` if `/proc` could not reopen
    /// it (holders are then judged by the process rule alone).
    pub(super) presence: Option<liveness::Presence>,
    pub(super) _shape: PhantomData<S>,
}

/// Where a [`Channel`] recorded its process as a user ([`Shape::join`]),
/// and how to undo it on drop.
#[derive(Debug)]
pub(crate) struct User {
    pub(super) slot: UserSlot,
    pub(super) holder: Holder,
    pub(super) leave: fn(Region<'_>, ElementCheck, UserSlot, Holder),
}

impl User {
    /// Records this process as a user of the structure in `region`; the
    /// words of users that died are judged by `presence`'s object.
    pub(super) fn join<S: Shape>(
        region: Region<'_>,
        element_check: ElementCheck,
        presence: Option<&liveness::Presence>,
    ) -> Option<Self> {
        let holder = process::holder();
        let judge = presence.map(liveness::Presence::judge);
        liveness::judging(judge, || S::join(region, element_check, holder)).map(|slot| Self {
            slot,
            holder,
            leave: S::leave,
        })
    }
}

impl<S> Drop for Channel<S> {
    fn drop(&mut self) {
        // A forked child that inherited the channel is not the user
        // recorded: leaving would free its parent's word.
        if let Some(user) = self.user.take().filter(|u| u.holder == process::holder()) {
            (user.leave)(
                self.mapping.region(),
                self.element_check,
                user.slot,
                user.holder,
            );
        }
    }
}

impl<S: Shape> Channel<S> {
    /// The channel's name.
    pub fn name(&self) -> &ShmName {
        &self.name
    }

    /// The structure's capacity (elements).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Whether this process created the channel.
    pub fn is_creator(&self) -> bool {
        self.creator
    }

    /// Where this channel recorded its process as a user of the structure
    /// (MPMC; see [`Shape::join`]), or `None` where nothing was recorded.
    pub fn user_slot(&self) -> Option<UserSlot> {
        self.user.as_ref().map(|u| u.slot)
    }

    /// Whether dropping this channel unlinks its name.
    pub fn unlinks_on_drop(&self) -> bool {
        self.mapping.unlinks().is_some()
    }

    /// Leaves the name in place when this channel drops (the object then
    /// lives until [`remove`] or `interlink-inspect rm`/`gc`).
    pub fn keep_name(&mut self) {
        self.mapping.keep_name();
    }

    /// The mapping (for its options: huge pages, locked).
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The readiness of `end` (an end of this channel, or a wait-set source
    /// of its ring) as a pollable descriptor: see [`Readiness`]. Fails when
    /// the end's event word is not in this channel's mapping, or when the
    /// object cannot be mapped again (a channel whose presence lock could
    /// not be taken, or this process's copy of a channel inherited over
    /// `fork`).
    pub fn readiness(&self, end: &dyn Source) -> Result<Readiness, OsError> {
        let base = self.mapping.as_ptr() as usize;
        let word = end.event_word() as *const _ as usize;
        let offset = word.wrapping_sub(base);
        let object = self
            .mapping
            .held_fd()
            .or_else(|| self.presence.as_ref().map(|p| p.fd()))
            .ok_or_else(|| {
                OsError::new("readiness", libc::EBADF)
                    .on(format_args!("{}: no descriptor", self.name))
            })?;
        Readiness::new(object, self.mapping.len(), offset)
    }

    /// Whether the holder recorded as `pid` in this object (creator, role,
    /// users word) lives: by its presence lock in the object, else by the
    /// process rule (see [`crate::liveness`]). What take-over, blocked
    /// calls and the users table ask.
    pub fn holder_alive(&self, pid: u32) -> bool {
        match &self.presence {
            Some(presence) => presence.holder_alive(pid),
            None => liveness::process_alive(pid),
        }
    }
    /// The structure, attached with `attach` (a ring's own `attach_with`).
    pub(super) fn attached<'s, R>(
        &'s self,
        attach: impl FnOnce(Region<'s>, ElementCheck) -> Result<R, AttachError>,
    ) -> Result<R, ChannelError> {
        attach(self.mapping.region(), self.element_check).map_err(|error| ChannelError::Attach {
            name: self.name.to_string(),
            error,
        })
    }
}

/// Removes the channel object `name` (`shm_unlink`); processes that have it
/// mapped keep using it.
pub fn remove(name: &str) -> Result<(), ShmError> {
    shm::unlink(name)
}
