//! Creating a named channel: build under a private name, publish
//! atomically, replace a stale object (see the module docs, "Create and
//! open").

use std::marker::PhantomData;
use std::os::fd::AsFd;
use std::time::Duration;

use interlink_core::{ElementCheck, InitError, RingConfig};

use super::{Channel, ChannelError, ChannelOptions, Patience, Shape, User};
use crate::inspect;
use crate::liveness;
use crate::process;
use crate::shm::{self, Shm, ShmError, ShmName};

impl<S: Shape> Channel<S> {
    /// Creates the object `name` holding a new, published structure with
    /// `config` (this process's pid is recorded as the creator).
    ///
    /// The object is built under a private name and published at `name`
    /// in one atomic step (see the module docs, "Create and open"), so a
    /// creator killed at any point leaves no half-made object at `name`.
    /// If `name` is taken by a stale object (and
    /// [`ChannelOptions::replace_stale`]), it is replaced; of several
    /// processes creating one name at once, exactly one succeeds and the
    /// others get [`ChannelError::Exists`]. Names containing
    /// [`shm::BUILDING_MARKER`] are refused.
    pub fn create(
        name: &str,
        config: RingConfig,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        let shm_name = ShmName::new(name)?;
        if name.contains(shm::BUILDING_MARKER) {
            return Err(ShmError::Name {
                name: name.to_owned(),
                problem: "contains \".interlink-new.\", which marks objects being created",
            }
            .into());
        }
        let len = S::bytes_needed(config.capacity)?;
        if !options.shm.exclusive {
            // In place: open or create the name, resize and initialise it.
            // No atomic publication: see ShmOptions::exclusive.
            let shm = Shm::create_with(name, len, &options.shm)?;
            let mut channel = Self::init_in(&shm, &shm_name, len, config, options)?;
            if options.unlink_on_drop {
                channel.mapping.unlink_on_drop_of(&shm)?;
            }
            return Ok(channel);
        }
        // Refuse at once, before building a ring, when a live channel has
        // the name (the common case); everything else is decided when
        // publishing.
        Self::refuse_if_in_use(&shm_name, options)?;
        inspect::remove_unfinished_of(&shm_name);
        let building = shm::Building::create(&shm_name, len, &options.shm)?;
        let mut channel = Self::init_in(building.shm(), &shm_name, len, config, options)?;
        let (dev, ino) = building.shm().identity()?;
        // Dropping `building` on an error unlinks its private name; nothing
        // after a successful publish can fail.
        let shm = Self::publish(building, &shm_name, options)?;
        if options.unlink_on_drop {
            channel.mapping.set_unlink(crate::mapping::UnlinkOnDrop {
                name: shm_name,
                dev,
                ino,
            });
        }
        // Release the claim it was built under: the mapping keeps the open
        // file description (and a lock on it) alive after `shm` closes.
        shm::release_claim(std::os::fd::AsFd::as_fd(&shm));
        Ok(channel)
    }

    /// How long a creator waits for another process's claim on the object
    /// at its name (a creator finishing, a replacer or `gc` removing it):
    /// each holds it for microseconds to milliseconds.
    const CLAIM_WAIT: Duration = Duration::from_secs(2);

    /// How many times a creator frees a name and finds it taken again
    /// before it gives up.
    const PUBLISH_TRIES: u32 = 4;

    /// [`ChannelError::Exists`] when `name` holds a valid channel that is
    /// not stale or any object while `replace_stale` is off;
    /// [`ShmError::NotRegular`] for something that is not a regular file.
    fn refuse_if_in_use(name: &ShmName, options: &ChannelOptions) -> Result<(), ChannelError> {
        let exists = |why: String| ChannelError::Exists {
            name: name.to_string(),
            why,
        };
        // Something other than a regular file is refused with the error
        // that names it ([`ShmError::NotRegular`]).
        match Shm::open_read_only(name.as_str()) {
            Err(e) if e.is(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        match inspect::probe(name.as_str()) {
            Ok(object) if !options.replace_stale => Err(exists(object.state.to_string())),
            Ok(object)
                if matches!(object.state, inspect::State::Valid(_)) && !object.is_stale() =>
            {
                Err(exists(object.state.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// Publishes `building` at `name`, replacing a stale object there.
    fn publish(
        mut building: shm::Building,
        name: &ShmName,
        options: &ChannelOptions,
    ) -> Result<Shm, ChannelError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match building.publish() {
                Ok(()) => return Ok(building.into_shm()),
                Err(e) if e.is(libc::EEXIST) && tries < Self::PUBLISH_TRIES => {
                    Self::replace_if_stale(name, options)?;
                }
                Err(e) if e.is(libc::EEXIST) => {
                    return Err(ChannelError::Exists {
                        name: name.to_string(),
                        why: format!("taken again each of the {tries} times it was freed"),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes the object at `name` if it is stale, or abandoned before
    /// its header was written (empty or all zero, unmodified for
    /// [`inspect::INCOMPLETE_GRACE`]), with the claim-and-recheck protocol
    /// of [`inspect::reclaim`]: `Ok` when the name was freed (by us or by
    /// another process), [`ChannelError::Exists`] when the object there
    /// stays.
    fn replace_if_stale(name: &ShmName, options: &ChannelOptions) -> Result<(), ChannelError> {
        let exists = |why: String| ChannelError::Exists {
            name: name.to_string(),
            why,
        };
        if !options.replace_stale {
            let why = inspect::probe(name.as_str())
                .map_or_else(|e| e.to_string(), |o| o.state.to_string());
            return Err(exists(why));
        }
        let abandoned = |object: &inspect::Object, shm: &Shm| {
            object.is_stale()
                || (object.age.is_some_and(|a| a >= inspect::INCOMPLETE_GRACE)
                    && !matches!(object.state, inspect::State::Valid(_))
                    && inspect::is_blank(shm).unwrap_or(false))
        };
        match inspect::reclaim(name, Self::CLAIM_WAIT, abandoned)? {
            inspect::Reclaimed::Unlinked(_, removed) => removed.map_err(ChannelError::from),
            inspect::Reclaimed::Moved => Ok(()),
            inspect::Reclaimed::Kept(object) => Err(exists(match object.state {
                inspect::State::Foreign { .. } => format!(
                    "{}; an object without a header is replaced only once unmodified for {:?}",
                    object.state,
                    inspect::INCOMPLETE_GRACE
                ),
                state => state.to_string(),
            })),
            inspect::Reclaimed::NotRegular => Err(exists("not a regular file".to_owned())),
            inspect::Reclaimed::Claimed => Err(exists(
                "another process is creating, replacing or removing it".to_owned(),
            )),
        }
    }

    /// Maps `shm` (which will be published as `name`) and initialises the
    /// structure in it, recording this process as its creator.
    fn init_in(
        shm: &Shm,
        name: &ShmName,
        len: usize,
        config: RingConfig,
        options: &ChannelOptions,
    ) -> Result<Self, ChannelError> {
        let mapping = shm.map(&options.map)?;
        let presence = liveness::Presence::take(shm.as_fd()).ok();
        let config = config.with_creator_pid(process::current_pid());
        // The object may be longer than asked (explicit huge pages); the
        // structure takes the front.
        let mut region = mapping.region();
        S::init(region.take(len, 1).map_err(InitError::from)?, config)?;
        let user = User::join::<S>(mapping.region(), ElementCheck::Exact, presence.as_ref());
        Ok(Self {
            name: name.clone(),
            mapping,
            element_check: ElementCheck::Exact,
            capacity: config.capacity,
            creator: true,
            patience: Patience::of(options.waiting, options.peer_check, presence.as_ref()),
            user,
            presence,
            _shape: PhantomData,
        })
    }
}
