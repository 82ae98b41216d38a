//! Unix domain sockets: what `std::os::unix::net` lacks.
//!
//! Stream and datagram sockets, path and abstract addresses
//! (`std::os::linux::net::SocketAddrExt::from_abstract_name`) and
//! `socketpair` (`UnixStream::pair`, `UnixDatagram::pair`) are std's, as are
//! TCP and UDP; this module adds sequenced-packet sockets ([`SeqPacket`],
//! [`SeqPacketListener`]), descriptor passing over any Unix socket
//! ([`send_with_fds`], [`recv_with_fds`]), peer credentials
//! ([`peer_credentials`]) and a stream [`Listener`] that removes its socket
//! file when dropped.

use std::mem::{size_of, zeroed};
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};

use crate::error::{check, check_retry, OsError};
use crate::posix::set_nonblocking;

/// The most descriptors one message may carry (the kernel's `SCM_MAX_FD`).
pub const MAX_FDS: usize = 253;

/// A socket file that is removed when this guard is dropped.
#[derive(Debug)]
struct SocketPath(PathBuf);

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn io_error(op: &'static str, e: std::io::Error) -> OsError {
    OsError::new(op, e.raw_os_error().unwrap_or(libc::EIO))
}

/// A Unix stream listener bound to a filesystem path, which it removes
/// when dropped. Everything else is [`UnixListener`]'s, through `Deref`.
#[derive(Debug)]
pub struct Listener {
    listener: UnixListener,
    _path: SocketPath,
}

impl Listener {
    /// Binds and listens at `path`; an existing file there is `EADDRINUSE`.
    pub fn bind(path: impl AsRef<Path>) -> Result<Self, OsError> {
        let path = path.as_ref();
        let listener =
            UnixListener::bind(path).map_err(|e| io_error("bind", e).on(path.display()))?;
        Ok(Self {
            listener,
            _path: SocketPath(path.to_path_buf()),
        })
    }
}

impl Deref for Listener {
    type Target = UnixListener;
    fn deref(&self) -> &UnixListener {
        &self.listener
    }
}

/// A `sockaddr_un` for a std address (path or abstract name); an unnamed
/// address, or one too long for `sun_path`, is `EINVAL`.
fn sockaddr(
    op: &'static str,
    addr: &SocketAddr,
) -> Result<(libc::sockaddr_un, libc::socklen_t), OsError> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut sun: libc::sockaddr_un = unsafe { zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let (bytes, lead): (&[u8], usize) = match (addr.as_pathname(), addr.as_abstract_name()) {
        (Some(path), _) => (path.as_os_str().as_bytes(), 0),
        (None, Some(name)) => (name, 1),
        (None, None) => return Err(OsError::new(op, libc::EINVAL).on("an unnamed address")),
    };
    // A path needs room for its NUL; an abstract name starts with a NUL.
    if bytes.len() + 1 > sun.sun_path.len() {
        return Err(OsError::new(op, libc::EINVAL).on(format_args!("{addr:?} (too long)")));
    }
    for (dst, &src) in sun.sun_path[lead..].iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    let len = base + bytes.len() + 1;
    Ok((sun, len as libc::socklen_t))
}

fn socket(kind: libc::c_int) -> Result<OwnedFd, OsError> {
    // SAFETY: socket has no pointer arguments.
    let fd = check(
        unsafe { libc::socket(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0) },
        "socket",
    )?;
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A connected `SOCK_SEQPACKET` Unix socket: reliable, ordered, and
/// message-preserving — each `send` arrives as exactly one `recv`.
#[derive(Debug)]
pub struct SeqPacket(OwnedFd);

impl SeqPacket {
    /// Two connected sockets (`socketpair`), e.g. to share with a child.
    pub fn pair() -> Result<(Self, Self), OsError> {
        let mut fds = [0 as RawFd; 2];
        let kind = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
        // SAFETY: fds is a valid array of two ints for the kernel to fill.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) };
        check(r, "socketpair")?;
        // SAFETY: socketpair succeeded: two fresh descriptors, ours alone.
        Ok(unsafe {
            (
                Self(OwnedFd::from_raw_fd(fds[0])),
                Self(OwnedFd::from_raw_fd(fds[1])),
            )
        })
    }

    /// Connects to a listener's path or abstract address.
    pub fn connect(addr: &SocketAddr) -> Result<Self, OsError> {
        let (sun, len) = sockaddr("connect", addr)?;
        let fd = socket(libc::SOCK_SEQPACKET)?;
        check_retry("connect", || {
            // SAFETY: sun is a valid sockaddr_un of `len` bytes.
            unsafe { libc::connect(fd.as_raw_fd(), (&raw const sun).cast(), len) }
        })
        .map_err(|e| e.on(format_args!("{addr:?}")))?;
        Ok(Self(fd))
    }

    /// Connects to the listener at a filesystem path.
    pub fn connect_path(path: impl AsRef<Path>) -> Result<Self, OsError> {
        let path = path.as_ref();
        let addr = SocketAddr::from_pathname(path)
            .map_err(|e| io_error("connect", e).on(path.display()))?;
        Self::connect(&addr)
    }

    /// Sends one message; with non-blocking I/O, `EAGAIN` means the peer's
    /// queue is full.
    pub fn send(&self, message: &[u8]) -> Result<usize, OsError> {
        let (fd, ptr, len) = (self.0.as_raw_fd(), message.as_ptr().cast(), message.len());
        check_retry("send", || {
            // SAFETY: message is valid for reads of its length.
            unsafe { libc::send(fd, ptr, len, libc::MSG_NOSIGNAL) }
        })
        .map(|n| n as usize)
    }

    /// Receives one message into `buf` and returns its length; `Ok(0)` is
    /// the peer's orderly shutdown (or an empty message). A message longer
    /// than `buf` is `EMSGSIZE` — its tail is lost, never silently cut.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize, OsError> {
        let (fd, ptr, len) = (self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
        let n = check_retry("recv", || {
            // SAFETY: buf is valid for writes of its length; MSG_TRUNC makes
            // the kernel report the message's full length, not write more.
            unsafe { libc::recv(fd, ptr, len, libc::MSG_TRUNC) }
        })? as usize;
        if n > buf.len() {
            return Err(OsError::new("recv", libc::EMSGSIZE)
                .on(format_args!("a {n}-byte message into {} bytes", buf.len())));
        }
        Ok(n)
    }

    /// Switches between blocking and non-blocking I/O.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<(), OsError> {
        set_nonblocking(self.as_fd(), nonblocking)
    }
}

impl AsFd for SeqPacket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for SeqPacket {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl From<SeqPacket> for OwnedFd {
    fn from(s: SeqPacket) -> OwnedFd {
        s.0
    }
}

impl From<OwnedFd> for SeqPacket {
    /// Adopts a descriptor; nothing checks that it is a seqpacket socket.
    fn from(fd: OwnedFd) -> SeqPacket {
        SeqPacket(fd)
    }
}

/// A listening `SOCK_SEQPACKET` socket. One bound to a path removes the
/// socket file when dropped; abstract addresses vanish with the socket.
#[derive(Debug)]
pub struct SeqPacketListener {
    fd: OwnedFd,
    _path: Option<SocketPath>,
}

impl SeqPacketListener {
    /// Binds to `addr` and listens (backlog 128).
    pub fn bind(addr: &SocketAddr) -> Result<Self, OsError> {
        let (sun, len) = sockaddr("bind", addr)?;
        let fd = socket(libc::SOCK_SEQPACKET)?;
        // SAFETY: sun is a valid sockaddr_un of `len` bytes.
        let r = unsafe { libc::bind(fd.as_raw_fd(), (&raw const sun).cast(), len) };
        check(r, "bind").map_err(|e| e.on(format_args!("{addr:?}")))?;
        let path = addr.as_pathname().map(|p| SocketPath(p.to_path_buf()));
        // SAFETY: listen on our own socket.
        check(unsafe { libc::listen(fd.as_raw_fd(), 128) }, "listen")?;
        Ok(Self { fd, _path: path })
    }

    /// Binds to a filesystem path; see [`SeqPacketListener::bind`].
    pub fn bind_path(path: impl AsRef<Path>) -> Result<Self, OsError> {
        let path = path.as_ref();
        let addr =
            SocketAddr::from_pathname(path).map_err(|e| io_error("bind", e).on(path.display()))?;
        Self::bind(&addr)
    }

    /// Binds to a name in the abstract namespace (no file; Linux only).
    pub fn bind_abstract(name: &[u8]) -> Result<Self, OsError> {
        let addr = SocketAddr::from_abstract_name(name).map_err(|e| io_error("bind", e))?;
        Self::bind(&addr)
    }

    /// Waits for and accepts one connection.
    pub fn accept(&self) -> Result<SeqPacket, OsError> {
        let (listener, null) = (self.fd.as_raw_fd(), std::ptr::null_mut());
        let fd = check_retry("accept4", || {
            // SAFETY: null address pointers: the peer's address is not wanted.
            unsafe { libc::accept4(listener, null, null.cast(), libc::SOCK_CLOEXEC) }
        })?;
        // SAFETY: accept4 returned a fresh descriptor nothing else owns.
        Ok(SeqPacket(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

impl AsFd for SeqPacketListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A zeroed control buffer with room for one `SCM_RIGHTS` header carrying
/// `fds` descriptors, in `u64`s so that it is aligned for `cmsghdr`.
fn control_buffer(fds: usize) -> ControlBuffer {
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE((fds * size_of::<RawFd>()) as u32) } as usize;
    ControlBuffer {
        words: vec![0u64; space.div_ceil(8)],
        space,
    }
}

/// Room for one `SCM_RIGHTS` message: 8-aligned words, of which `space`
/// bytes (`CMSG_SPACE`) are the control data. The kernel must be told
/// exactly `space`: a 32-bit process on a 64-bit kernel (the compat
/// layer) reads any bytes past it as a further, zero-length and so
/// invalid, header (`EINVAL`).
struct ControlBuffer {
    words: Vec<u64>,
    space: usize,
}

/// A `msghdr` for one buffer and a control buffer; it points into both,
/// so use it while they live.
fn message_header(iov: &mut libc::iovec, control: &mut ControlBuffer) -> libc::msghdr {
    // SAFETY: msghdr is plain data; all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.words.as_mut_ptr().cast();
    msg.msg_controllen = control.space.min(size_of_val(&control.words[..])) as _;
    msg
}

/// Sends `data` (at least one byte) with the descriptors `fds` (1 to
/// [`MAX_FDS`]) attached as `SCM_RIGHTS` over any connected Unix socket.
/// The receiver gets new descriptors for the same open files.
pub fn send_with_fds(
    socket: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<usize, OsError> {
    if data.is_empty() {
        return Err(
            OsError::new("sendmsg", libc::EINVAL).on("no data byte to carry the descriptors")
        );
    }
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(OsError::new("sendmsg", libc::EINVAL)
            .on(format_args!("{} descriptors (1 to {MAX_FDS})", fds.len())));
    }
    let payload = (fds.len() * size_of::<RawFd>()) as u32;
    let mut control = control_buffer(fds.len());
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    let msg = message_header(&mut iov, &mut control);
    // SAFETY: msg_control points at zeroed, aligned bytes, enough for one
    // header with `payload` bytes (control_buffer), so CMSG_FIRSTHDR is non-null and
    // CMSG_DATA has room for every descriptor.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload) as _;
        let out = libc::CMSG_DATA(cmsg).cast::<RawFd>();
        for (i, fd) in fds.iter().enumerate() {
            out.add(i).write_unaligned(fd.as_raw_fd());
        }
    }
    check_retry("sendmsg", || {
        // SAFETY: msg points at live iovec and control buffers.
        unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) }
    })
    .map(|n| n as usize)
}

/// Receives data into `buf` and up to `max_fds` descriptors sent with
/// [`send_with_fds`] (opened close-on-exec). Returns the byte count and
/// the descriptors. If more descriptors came than `max_fds` allows, the
/// kernel drops the rest: that is `EMSGSIZE` (and the received ones are
/// closed), never a silent loss.
pub fn recv_with_fds(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
) -> Result<(usize, Vec<OwnedFd>), OsError> {
    let max_fds = max_fds.clamp(1, MAX_FDS);
    let mut control = control_buffer(max_fds);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut msg = message_header(&mut iov, &mut control);
    let n = check_retry("recvmsg", || {
        // SAFETY: msg points at live iovec and control buffers of the sizes given.
        unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) }
    })? as usize;
    let mut fds = Vec::new();
    // SAFETY: the kernel filled msg_control with well-formed headers up to
    // msg_controllen; CMSG_NXTHDR stops at its end. SCM_RIGHTS payloads are
    // descriptors the kernel just installed for us, so adopting them is sound.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..bytes / size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(OsError::new("recvmsg", libc::EMSGSIZE)
            .on(format_args!("more than {max_fds} descriptors")));
    }
    Ok((n, fds))
}

/// Who is at the other end of a connected Unix socket, as the kernel
/// recorded it at `connect`/`socketpair` time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCredentials {
    /// The peer's process id.
    pub pid: u32,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

/// The peer's credentials (`SO_PEERCRED`).
pub fn peer_credentials(socket: BorrowedFd<'_>) -> Result<PeerCredentials, OsError> {
    // SAFETY: ucred is plain data; all zeroes is a valid value.
    let mut cred: libc::ucred = unsafe { zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    let (fd, out) = (socket.as_raw_fd(), (&raw mut cred).cast());
    // SAFETY: cred and len are valid out-pointers of the advertised size.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, out, &mut len) };
    check(r, "getsockopt SO_PEERCRED")?;
    Ok(PeerCredentials {
        pid: cred.pid as u32,
        uid: cred.uid,
        gid: cred.gid,
    })
}
