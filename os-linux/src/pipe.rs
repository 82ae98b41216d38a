//! Pipes and FIFOs: `pipe2`, the pipe capacity, named FIFOs with explicit
//! blocking semantics, and `cmd1 | cmd2 | ...` pipelines.
//!
//! Both ends are owned ([`Reader`], [`Writer`]): dropping the last writer
//! is what gives readers end-of-file, so an end that is not needed should be
//! dropped at once. Every descriptor is opened close-on-exec; a pipeline's
//! children receive theirs as stdin/stdout through `dup2`, which clears the
//! flag on the copy only.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::error::{check, check_retry, OsError};
use crate::posix::{c_path, set_nonblocking};

/// Whether an operation on a pipe or FIFO may put the caller to sleep (a
/// descriptor's `O_NONBLOCK`; not to be confused with the core's
/// [`Blocking`](interlink_core::Blocking) strategies of the rings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoMode {
    /// Calls wait: a read for data, a write for room, an open for the peer.
    Blocking,
    /// Calls return at once: `WouldBlock` instead of waiting, and a FIFO
    /// opened for writing without a reader fails ([`open_fifo_writer`]).
    NonBlocking,
}

impl IoMode {
    fn flag(self) -> libc::c_int {
        match self {
            IoMode::Blocking => 0,
            IoMode::NonBlocking => libc::O_NONBLOCK,
        }
    }
}

/// The read end of a pipe or FIFO.
#[derive(Debug)]
pub struct Reader(File);

/// The write end of a pipe or FIFO.
#[derive(Debug)]
pub struct Writer(File);

/// Creates a pipe (`pipe2` with `O_CLOEXEC`, plus `O_NONBLOCK` for
/// [`IoMode::NonBlocking`]) and returns its read and write ends.
pub fn pipe(mode: IoMode) -> Result<(Reader, Writer), OsError> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints for the kernel to fill.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | mode.flag()) };
    check(r, "pipe2")?;
    // SAFETY: pipe2 succeeded, so both descriptors are fresh and ours alone.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Reader(r.into()), Writer(w.into())))
}

/// The capacity of the pipe behind `fd` in bytes (`F_GETPIPE_SZ`).
pub fn capacity(fd: BorrowedFd<'_>) -> Result<usize, OsError> {
    // SAFETY: fcntl on a borrowed, open descriptor; no pointers involved.
    let n = check(
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) },
        "F_GETPIPE_SZ",
    )?;
    Ok(n as usize)
}

/// Asks for a capacity of at least `bytes` (`F_SETPIPE_SZ`) and returns the
/// capacity the kernel chose: `bytes` rounded up to a power-of-two number
/// of pages. More than `/proc/sys/fs/pipe-max-size` (1 MiB by default) is
/// `EPERM` without `CAP_SYS_RESOURCE`; less than the bytes already in the
/// pipe is `EBUSY`; zero is `EINVAL`.
pub fn set_capacity(fd: BorrowedFd<'_>, bytes: usize) -> Result<usize, OsError> {
    let subject = || format!("{bytes} bytes");
    if bytes == 0 {
        return Err(OsError::new("F_SETPIPE_SZ", libc::EINVAL).on(subject()));
    }
    let Ok(arg) = libc::c_int::try_from(bytes) else {
        return Err(OsError::new("F_SETPIPE_SZ", libc::EINVAL).on(subject()));
    };
    // SAFETY: fcntl on a borrowed, open descriptor with an integer argument.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, arg) };
    let n = check(n, "F_SETPIPE_SZ").map_err(|e| match e.errno {
        libc::EPERM => e.on(format_args!(
            "{} (over /proc/sys/fs/pipe-max-size)",
            subject()
        )),
        _ => e.on(subject()),
    })?;
    Ok(n as usize)
}

/// Turns `O_NONBLOCK` on or off for `fd`.
pub fn set_blocking(fd: BorrowedFd<'_>, mode: IoMode) -> Result<(), OsError> {
    set_nonblocking(fd, mode == IoMode::NonBlocking)
}

macro_rules! pipe_end {
    ($ty:ident) => {
        impl $ty {
            /// The pipe's capacity in bytes; see [`capacity`].
            pub fn capacity(&self) -> Result<usize, OsError> {
                capacity(self.as_fd())
            }

            /// Sets the pipe's capacity; see [`set_capacity`].
            pub fn set_capacity(&self, bytes: usize) -> Result<usize, OsError> {
                set_capacity(self.as_fd(), bytes)
            }

            /// Switches this end between blocking and non-blocking I/O.
            pub fn set_blocking(&self, mode: IoMode) -> Result<(), OsError> {
                set_blocking(self.as_fd(), mode)
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.0.as_raw_fd()
            }
        }

        impl From<$ty> for OwnedFd {
            fn from(end: $ty) -> OwnedFd {
                end.0.into()
            }
        }

        impl From<OwnedFd> for $ty {
            /// Adopts a descriptor; nothing checks that it is a pipe.
            fn from(fd: OwnedFd) -> $ty {
                $ty(fd.into())
            }
        }

        impl From<$ty> for Stdio {
            fn from(end: $ty) -> Stdio {
                Stdio::from(OwnedFd::from(end))
            }
        }
    };
}

pipe_end!(Reader);
pipe_end!(Writer);

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// Reading through a shared reference, like `&File`: the kernel orders
/// concurrent reads.
impl Read for &Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

/// Writing through a shared reference, like `&File`. Writes of at most
/// `PIPE_BUF` (4096) bytes are atomic: never interleaved with others.
impl Write for &Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A FIFO (named pipe) this value created; the path is removed on drop
/// unless [`Fifo::keep`] is called.
#[derive(Debug)]
pub struct Fifo {
    path: PathBuf,
    remove_on_drop: bool,
}

impl Fifo {
    /// Creates a FIFO at `path` with permission bits `mode` (minus the
    /// umask). An existing file at `path` is `EEXIST`.
    pub fn create(path: impl AsRef<Path>, mode: u32) -> Result<Self, OsError> {
        let path = path.as_ref();
        let c = c_path("mkfifo", path)?;
        // SAFETY: c is a NUL-terminated path.
        let r = unsafe { libc::mkfifo(c.as_ptr(), mode as libc::mode_t) };
        check(r, "mkfifo").map_err(|e| e.on(path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            remove_on_drop: true,
        })
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the FIFO in the filesystem when this value is dropped.
    pub fn keep(mut self) -> PathBuf {
        self.remove_on_drop = false;
        std::mem::take(&mut self.path)
    }

    /// Opens the read end; see [`open_fifo_reader`].
    pub fn reader(&self, mode: IoMode) -> Result<Reader, OsError> {
        open_fifo_reader(&self.path, mode)
    }

    /// Opens the write end; see [`open_fifo_writer`].
    pub fn writer(&self, mode: IoMode) -> Result<Writer, OsError> {
        open_fifo_writer(&self.path, mode)
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = unlink(&self.path);
        }
    }
}

/// Removes a FIFO (or any file) at `path`.
pub fn unlink(path: impl AsRef<Path>) -> Result<(), OsError> {
    let path = path.as_ref();
    let c = c_path("unlink", path)?;
    // SAFETY: c is a NUL-terminated path.
    check(unsafe { libc::unlink(c.as_ptr()) }, "unlink")
        .map(drop)
        .map_err(|e| e.on(path.display()))
}

fn open_fifo(op: &'static str, path: &Path, flags: libc::c_int) -> Result<OwnedFd, OsError> {
    let c = c_path(op, path)?;
    let fd = check_retry(op, || {
        // SAFETY: c is a NUL-terminated path; open takes no mode without O_CREAT.
        unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) }
    })
    .map_err(|e| e.on(path.display()))?;
    // SAFETY: open returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a FIFO's read end. [`IoMode::Blocking`] waits in `open` until a
/// writer opens the FIFO; [`IoMode::NonBlocking`] returns at once, and reads
/// return `WouldBlock` while writers exist but sent nothing, `Ok(0)` while
/// no writer has it open.
pub fn open_fifo_reader(path: impl AsRef<Path>, mode: IoMode) -> Result<Reader, OsError> {
    open_fifo(
        "open FIFO for reading",
        path.as_ref(),
        libc::O_RDONLY | mode.flag(),
    )
    .map(Reader::from)
}

/// Opens a FIFO's write end. [`IoMode::Blocking`] waits in `open` until a
/// reader opens the FIFO. [`IoMode::NonBlocking`] never waits: with no reader it
/// fails with `ENXIO` (op `"open FIFO for writing: no reader"`), and
/// writes to a full FIFO return `WouldBlock`.
pub fn open_fifo_writer(path: impl AsRef<Path>, mode: IoMode) -> Result<Writer, OsError> {
    open_fifo(
        "open FIFO for writing",
        path.as_ref(),
        libc::O_WRONLY | mode.flag(),
    )
    .map(Writer::from)
    .map_err(|mut e| {
        if e.is(libc::ENXIO) {
            e.op = "open FIFO for writing: no reader";
        }
        e
    })
}

/// Running children joined stdout-to-stdin by pipes. Dropping it kills and
/// reaps the children still running; [`Pipeline::wait`] reaps them all.
#[derive(Debug)]
pub struct Pipeline {
    children: Vec<Child>,
}

/// Spawns `commands` as a pipeline, like a shell's `cmd1 | cmd2 | ...`:
/// each command's stdout becomes the next one's stdin through a pipe. The
/// first command's stdin and the last one's stdout are whatever they were
/// configured with (inherited by default). Commands are taken by value
/// because a `Command` keeps the descriptors it was given until dropped,
/// and a pipe reader sees end-of-file only when every writer copy is gone.
pub fn spawn_pipeline(commands: impl IntoIterator<Item = Command>) -> Result<Pipeline, OsError> {
    let mut pipeline = Pipeline {
        children: Vec::new(),
    };
    let mut commands = commands.into_iter().peekable();
    let mut next_stdin: Option<Reader> = None;
    while let Some(mut command) = commands.next() {
        if let Some(reader) = next_stdin.take() {
            command.stdin(reader);
        }
        if commands.peek().is_some() {
            let (reader, writer) = pipe(IoMode::Blocking)?;
            command.stdout(writer);
            next_stdin = Some(reader);
        }
        let child = command.spawn().map_err(|e| {
            OsError::new("spawn", e.raw_os_error().unwrap_or(libc::EIO))
                .on(format_args!("{:?}", command.get_program()))
        })?;
        pipeline.children.push(child);
        // `command` drops here, closing the parent's copies of its pipe ends.
    }
    if pipeline.children.is_empty() {
        return Err(OsError::new("spawn", libc::EINVAL).on("an empty pipeline"));
    }
    Ok(pipeline)
}

/// Runs `commands` as a pipeline and collects the last command's stdout
/// (its stdout is set to a pipe) and every command's exit status.
pub fn pipeline_output(
    commands: impl IntoIterator<Item = Command>,
) -> Result<(Vec<u8>, Vec<ExitStatus>), OsError> {
    let mut commands: Vec<Command> = commands.into_iter().collect();
    let (mut reader, writer) = pipe(IoMode::Blocking)?;
    match commands.last_mut() {
        Some(last) => last.stdout(writer),
        None => return Err(OsError::new("spawn", libc::EINVAL).on("an empty pipeline")),
    };
    let pipeline = spawn_pipeline(commands)?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).map_err(|e| {
        OsError::new("read", e.raw_os_error().unwrap_or(libc::EIO)).on("pipeline output")
    })?;
    Ok((out, pipeline.wait()?))
}

impl Pipeline {
    /// The children's pids, first command first.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Waits for every child and returns their exit statuses in order.
    pub fn wait(mut self) -> Result<Vec<ExitStatus>, OsError> {
        let mut statuses = Vec::with_capacity(self.children.len());
        for child in &mut self.children {
            let status = child.wait().map_err(|e| {
                OsError::new("waitpid", e.raw_os_error().unwrap_or(libc::ECHILD)).on(child.id())
            })?;
            statuses.push(status);
        }
        self.children.clear();
        Ok(statuses)
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for child in &mut self.children {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}
