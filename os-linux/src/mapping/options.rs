//! How to map: [`MapOptions`] (prefault, `mlock`, huge pages) and the
//! limits they meet.

/// The size of an explicit (hugetlb) huge page on x86-64 and aarch64 with
/// 4 KiB base pages; explicit huge-page mappings are rounded up to it.
pub const HUGE_PAGE: usize = 2 << 20;

/// Whether and how to back a mapping with huge pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HugePages {
    /// Base pages only.
    #[default]
    Off,
    /// Ask for transparent huge pages (`madvise(MADV_HUGEPAGE)`): a hint the
    /// kernel may ignore (for shared memory it honours it only when
    /// `/sys/kernel/mm/transparent_hugepage/shmem_enabled` allows).
    Transparent,
    /// Reserved huge pages (`MAP_HUGETLB`), anonymous mappings only; fails
    /// with [`ShmError::HugePages`](crate::shm::ShmError::HugePages) when none are reserved.
    Explicit,
    /// [`HugePages::Explicit`] when it can be had, else
    /// [`HugePages::Transparent`]; [`Mapping::huge_pages`](super::Mapping::huge_pages) says which.
    ExplicitOrTransparent,
}

/// How to map: the options a latency-critical program wants on its hot
/// memory. The default prefaults and does nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapOptions {
    /// Fault every page in at map time (`MAP_POPULATE`), so the hot path
    /// takes no page fault.
    pub prefault: bool,
    /// Lock the pages in RAM (`mlock`); past the `RLIMIT_MEMLOCK` limit this
    /// fails with [`ShmError::Memlock`](crate::shm::ShmError::Memlock), naming the limit.
    pub lock: bool,
    /// Huge pages; see [`HugePages`].
    pub huge_pages: HugePages,
}

impl Default for MapOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl MapOptions {
    /// Prefault, no `mlock`, no huge pages.
    pub const fn new() -> Self {
        Self {
            prefault: true,
            lock: false,
            huge_pages: HugePages::Off,
        }
    }

    /// The same options with prefaulting set to `yes`.
    pub const fn prefault(mut self, yes: bool) -> Self {
        self.prefault = yes;
        self
    }

    /// The same options with `mlock` set to `yes`.
    pub const fn lock(mut self, yes: bool) -> Self {
        self.lock = yes;
        self
    }

    /// The same options with `huge_pages`.
    pub const fn huge_pages(mut self, huge_pages: HugePages) -> Self {
        self.huge_pages = huge_pages;
        self
    }
}
/// The soft `RLIMIT_MEMLOCK`, in bytes (`u64::MAX` when unlimited or
/// unreadable).
pub fn memlock_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return u64::MAX;
    }
    // `rlim_t` is 32 bits in a 32-bit process.
    #[allow(clippy::useless_conversion)]
    u64::from(lim.rlim_cur)
}
