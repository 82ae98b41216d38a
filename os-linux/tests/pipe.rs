//! Pipes and FIFOs between real processes.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::Command;

use common::TempDir;
use interlink_linux::pipe::{self, pipe, Fifo, IoMode};
use interlink_linux::process::{fork, Exit};

/// The parent writes through a pipe; the forked child reads everything and
/// sees end-of-file exactly when the parent closes its end.
#[test]
fn pipe_carries_data_parent_to_child_until_eof() {
    let (reader, writer) = pipe(IoMode::Blocking).unwrap();
    let mut writer = Some(writer);
    let child = fork(|| {
        drop(writer.take()); // the child's copy, or it would never see EOF
        let mut got = Vec::new();
        if (&reader).read_to_end(&mut got).is_err() {
            return 2;
        }
        let expected: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        if got == expected {
            0
        } else {
            3
        }
    })
    .unwrap();
    drop(reader);
    let mut writer = writer.take().unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    // More than the default 64 KiB capacity: the writer must wait for the child.
    writer.write_all(&data).unwrap();
    drop(writer);
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// `ls DIR | wc -l` through the pipeline helper counts what the shell counts.
#[test]
fn ls_into_wc_matches_the_shell() {
    let dir = TempDir::new("pipeline");
    for i in 0..7 {
        std::fs::write(dir.join(&format!("file-{i}")), b"x").unwrap();
    }
    let mut ls = Command::new("ls");
    ls.arg(dir.path());
    let mut wc = Command::new("wc");
    wc.arg("-l");
    let (out, statuses) = pipe::pipeline_output([ls, wc]).unwrap();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    let shell = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("ls '{}' | wc -l", dir.path().display()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "7");
    assert_eq!(out, shell.stdout);

    // Three stages, and the helper's exit statuses are the children's.
    let mut printf = Command::new("printf");
    printf.arg("b\\na\\nb\\n");
    let mut sort = Command::new("sort");
    sort.arg("-u");
    let mut fail = Command::new("/bin/sh");
    fail.arg("-c").arg("cat; exit 3");
    let (out, statuses) = pipe::pipeline_output([printf, sort, fail]).unwrap();
    assert_eq!(out, b"a\nb\n");
    assert_eq!(statuses[2].code(), Some(3));
    assert!(pipe::pipeline_output([]).unwrap_err().is(libc::EINVAL));
    let missing = Command::new("/nonexistent/interlink-no-such-program");
    assert!(pipe::pipeline_output([missing])
        .unwrap_err()
        .is(libc::ENOENT));
}

/// Capacity: readable, settable up to pipe-max-size (1 MiB here), and the
/// bytes a non-blocking writer can put in are exactly the capacity.
#[test]
fn capacity_is_read_set_and_enforced() {
    let (reader, mut writer) = pipe(IoMode::NonBlocking).unwrap();
    assert_eq!(writer.capacity().unwrap(), 65536);
    assert_eq!(writer.set_capacity(100_000).unwrap(), 131072); // pages, power of two
    assert_eq!(reader.capacity().unwrap(), 131072);
    let chunk = [7u8; 4096];
    let mut written = 0;
    loop {
        match writer.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(written, 131072);
    // Shrinking below what the pipe holds is refused.
    assert!(writer.set_capacity(4096).unwrap_err().is(libc::EBUSY));

    let (_r, w) = pipe(IoMode::Blocking).unwrap();
    let max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(w.set_capacity(max).unwrap(), max);
    // Bad sizes are typed errors, never a panic.
    assert!(w.set_capacity(0).unwrap_err().is(libc::EINVAL));
    assert!(w.set_capacity(usize::MAX).unwrap_err().is(libc::EINVAL));
    // Root without CAP_SYS_RESOURCE gets EPERM; the message names the limit.
    let over = w.set_capacity(max * 2).unwrap_err();
    assert!(over.is(libc::EPERM), "{over}");
    assert!(over.to_string().contains("pipe-max-size"), "{over}");
}

/// A read end whose writers are gone gives EOF; a write end whose readers
/// are gone gives EPIPE (Rust ignores SIGPIPE); a descriptor that is not
/// open is EBADF.
#[test]
fn closed_peers_and_closed_descriptors_are_errors() {
    let (mut reader, writer) = pipe(IoMode::Blocking).unwrap();
    drop(writer);
    assert_eq!(reader.read(&mut [0u8; 8]).unwrap(), 0);
    let (reader, mut writer) = pipe(IoMode::Blocking).unwrap();
    drop(reader);
    assert_eq!(
        writer.write(b"x").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    // SAFETY: a descriptor number far above any this test opens; it is only
    // passed to fcntl, which reports EBADF.
    let closed = unsafe { BorrowedFd::borrow_raw(999_999) };
    assert!(pipe::capacity(closed).unwrap_err().is(libc::EBADF));
    assert!(pipe::set_capacity(closed, 4096)
        .unwrap_err()
        .is(libc::EBADF));
    // A regular file is not a pipe.
    let file = std::fs::File::open("/proc/self/status").unwrap();
    assert!(pipe::capacity(file.as_fd()).unwrap_err().is(libc::EBADF));
}

/// A FIFO between unrelated processes: a shell writes into it, we read;
/// then `cat` reads from it while we write.
#[test]
fn fifo_between_unrelated_processes() {
    let dir = TempDir::new("fifo");
    let fifo = Fifo::create(dir.join("f"), 0o600).unwrap();
    let mut writer = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "printf 'hello\\nworld\\n' > '{}'",
            fifo.path().display()
        ))
        .spawn()
        .unwrap();
    let mut got = String::new();
    fifo.reader(IoMode::Blocking)
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert!(writer.wait().unwrap().success());
    assert_eq!(got, "hello\nworld\n");

    // A fresh FIFO for each exchange: `cargo test` runs tests on threads and
    // other tests fork, so a child of theirs may still hold a copy of the
    // reader we opened above. On the same FIFO that stale reader would let
    // the blocking writer open below finish before `cat` opens, and `cat`
    // would then wait for a writer forever.
    let fifo2 = Fifo::create(dir.join("g"), 0o600).unwrap();
    let reader = Command::new("cat")
        .arg(fifo2.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = fifo2.writer(IoMode::Blocking).unwrap(); // waits for cat's open
    w.write_all(b"through the fifo\n").unwrap();
    drop(w);
    let out = reader.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"through the fifo\n");

    // A forked child that opens by path counts too.
    let fifo3 = Fifo::create(dir.join("h"), 0o600).unwrap();
    let path = fifo3.path().to_path_buf();
    let child = fork(|| match pipe::open_fifo_writer(&path, IoMode::Blocking) {
        Ok(mut w) => i32::from(w.write_all(b"from a child").is_err()),
        Err(_) => 2,
    })
    .unwrap();
    let mut got = Vec::new();
    pipe::open_fifo_reader(&path, IoMode::Blocking)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(got, b"from a child");

    let kept = dir.join("f");
    drop(fifo);
    assert!(!kept.exists(), "the FIFO is removed on drop");
}

/// Non-blocking FIFO opens never wait: a writer with no reader is ENXIO
/// with an op that says so; with a reader present, both sides work.
#[test]
fn nonblocking_fifo_semantics() {
    let dir = TempDir::new("fifo-nb");
    let fifo = Fifo::create(dir.join("f"), 0o600).unwrap();
    let e = fifo.writer(IoMode::NonBlocking).unwrap_err();
    assert!(e.is(libc::ENXIO));
    assert!(e.to_string().contains("no reader"), "{e}");

    let mut r = fifo.reader(IoMode::NonBlocking).unwrap();
    // No writer yet: end-of-file, not WouldBlock.
    assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
    let mut w = fifo.writer(IoMode::NonBlocking).unwrap();
    assert_eq!(
        r.read(&mut [0u8; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    w.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");

    // Bad input: an existing path, a missing FIFO, a NUL in the path.
    assert!(Fifo::create(fifo.path(), 0o600)
        .unwrap_err()
        .is(libc::EEXIST));
    let missing = dir.join("missing");
    assert!(pipe::open_fifo_reader(&missing, IoMode::NonBlocking)
        .unwrap_err()
        .is(libc::ENOENT));
    assert!(Fifo::create("/tmp/bad\0name", 0o600)
        .unwrap_err()
        .is(libc::EINVAL));
    assert!(pipe::unlink(&missing).unwrap_err().is(libc::ENOENT));
}
