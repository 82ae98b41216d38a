//! Unix domain sockets between real processes: descriptor passing, peer
//! credentials, sequenced packets, listeners that clean up.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixStream};

use common::TempDir;
use interlink_linux::eventfd::{EventFd, Mode};
use interlink_linux::memfd::Memfd;
use interlink_linux::process::{self, fork, Exit};
use interlink_linux::shm::{MapOptions, Mapping};
use interlink_linux::socket::{self, Listener, SeqPacket, SeqPacketListener, MAX_FDS};

const MESSAGE: &[u8] = b"written by the sender before sending the fd";
const REPLY: &[u8] = b"and this by the receiver, through its own mapping";

/// Copies `len` bytes out of a mapping.
fn read_mapped(map: &Mapping, at: usize, len: usize) -> Vec<u8> {
    assert!(at + len <= map.len());
    // SAFETY: within the mapping; no other process writes these bytes now.
    unsafe { std::slice::from_raw_parts(map.as_ptr().add(at), len).to_vec() }
}

/// Copies `data` into a mapping.
fn write_mapped(map: &Mapping, at: usize, data: &[u8]) {
    assert!(at + data.len() <= map.len());
    // SAFETY: within the mapping, as asserted.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), map.as_ptr().add(at), data.len()) };
}

/// The sender writes into a memfd and sends the descriptor; the receiver
/// (a forked child that did not have it) maps it, reads the sender's
/// bytes, and writes a reply the sender sees.
#[test]
fn memfd_sent_over_a_unix_socket_is_mapped_by_the_receiver() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = fork(|| {
        let mut buf = [0u8; 16];
        let Ok((n, mut fds)) = socket::recv_with_fds(theirs.as_fd(), &mut buf, 4) else {
            return 2;
        };
        if &buf[..n] != b"memfd" || fds.len() != 1 {
            return 3;
        }
        let memfd = Memfd::from_fd(fds.pop().unwrap());
        let Ok(map) = memfd.map(&MapOptions::default()) else {
            return 4;
        };
        if read_mapped(&map, 0, MESSAGE.len()) != MESSAGE {
            return 5;
        }
        write_mapped(&map, 1024, REPLY);
        0
    })
    .unwrap();
    let fd = Memfd::create("interlink-test", 4096).unwrap().into_fd();
    // Written with write(2), not through a mapping: the receiver's mapping
    // must see the file's contents.
    let file = File::from(fd.try_clone().unwrap());
    file.write_all_at(MESSAGE, 0).unwrap();
    // The child's process cannot have this descriptor: it was created after fork.
    assert_eq!(
        socket::send_with_fds(ours.as_fd(), b"memfd", &[fd.as_fd()]).unwrap(),
        5
    );
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    let mut reply = vec![0u8; REPLY.len()];
    file.read_exact_at(&mut reply, 1024).unwrap();
    assert_eq!(reply, REPLY);
}

/// SO_PEERCRED names the process at the other end: for a connection
/// through a path listener and for a socketpair shared over fork.
#[test]
fn peer_credentials_match_the_peer() {
    let dir = TempDir::new("peercred");
    let path = dir.join("sock");
    let listener = Listener::bind(&path).unwrap();
    let parent = process::current_pid();
    let child = fork(|| {
        let Ok(mut stream) = UnixStream::connect(&path) else {
            return 2;
        };
        match socket::peer_credentials(stream.as_fd()) {
            Ok(c) if c.pid == parent => {}
            _ => return 3,
        }
        // Wait until the parent has looked, so our pid stays ours.
        let mut b = [0u8];
        i32::from(stream.read_exact(&mut b).is_err())
    })
    .unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    let cred = socket::peer_credentials(conn.as_fd()).unwrap();
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!((cred.pid, cred.uid, cred.gid), (child.pid(), uid, gid));
    conn.write_all(b"k").unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));

    let (a, _b) = UnixStream::pair().unwrap();
    assert_eq!(socket::peer_credentials(a.as_fd()).unwrap().pid, parent);
    // Not a socket: ENOTSOCK, typed.
    let (r, _w) = interlink_linux::pipe::pipe(interlink_linux::pipe::IoMode::Blocking).unwrap();
    assert!(socket::peer_credentials(r.as_fd())
        .unwrap_err()
        .is(libc::ENOTSOCK));
}

/// A listener removes its socket file when dropped; binding over an
/// existing file is refused.
#[test]
fn listener_path_is_removed_on_drop() {
    let dir = TempDir::new("listener");
    let path = dir.join("sock");
    let listener = Listener::bind(&path).unwrap();
    assert!(path.exists());
    assert!(Listener::bind(&path).unwrap_err().is(libc::EADDRINUSE));
    let _client = UnixStream::connect(&path).unwrap();
    drop(listener);
    assert!(!path.exists());

    let seq = SeqPacketListener::bind_path(&path).unwrap();
    assert!(path.exists());
    drop(seq);
    assert!(!path.exists());
}

/// Sequenced packets keep message boundaries across processes, through a
/// socketpair and through an abstract-namespace listener.
#[test]
fn seqpacket_preserves_message_boundaries() {
    let (ours, theirs) = SeqPacket::pair().unwrap();
    let child = fork(|| {
        let mut buf = [0u8; 64];
        for expected in [&b"one"[..], b"", b"three three"] {
            match theirs.recv(&mut buf) {
                Ok(n) if &buf[..n] == expected => {}
                _ => return 2,
            }
        }
        // Echo one back, then close: the parent sees 0.
        i32::from(theirs.send(b"bye").is_err())
    })
    .unwrap();
    drop(theirs); // or the parent itself would keep the peer open
    ours.send(b"one").unwrap();
    ours.send(b"").unwrap();
    ours.send(b"three three").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(ours.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"bye");
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(ours.recv(&mut buf).unwrap(), 0); // peer gone

    let name = format!("interlink-seq-{}", process::current_pid());
    let listener = SeqPacketListener::bind_abstract(name.as_bytes()).unwrap();
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let child = fork(|| {
        let Ok(s) = SeqPacket::connect(&addr) else {
            return 2;
        };
        i32::from(s.send(&[9u8; 300]).is_err())
    })
    .unwrap();
    let conn = listener.accept().unwrap();
    assert_eq!(
        socket::peer_credentials(conn.as_fd()).unwrap().pid,
        child.pid()
    );
    // A message longer than the buffer is an error, not a silent cut.
    let e = conn.recv(&mut [0u8; 100]).unwrap_err();
    assert!(e.is(libc::EMSGSIZE), "{e}");
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// Bad input to descriptor passing: no data, no descriptors, too many,
/// too little room to receive them, a non-socket. All typed, none panic.
#[test]
fn descriptor_passing_rejects_bad_input() {
    let (a, b) = UnixStream::pair().unwrap();
    let ev = EventFd::new(0, Mode::Counter).unwrap();
    let one = [ev.as_fd()];
    assert!(socket::send_with_fds(a.as_fd(), b"", &one)
        .unwrap_err()
        .is(libc::EINVAL));
    assert!(socket::send_with_fds(a.as_fd(), b"x", &[])
        .unwrap_err()
        .is(libc::EINVAL));
    let many = vec![ev.as_fd(); MAX_FDS + 1];
    assert!(socket::send_with_fds(a.as_fd(), b"x", &many)
        .unwrap_err()
        .is(libc::EINVAL));

    // Four descriptors into room for one (the kernel's minimum fits two):
    // the truncation is reported.
    let four = [ev.as_fd(); 4];
    socket::send_with_fds(a.as_fd(), b"4", &four).unwrap();
    let e = socket::recv_with_fds(b.as_fd(), &mut [0u8; 4], 1).unwrap_err();
    assert!(e.is(libc::EMSGSIZE), "{e}");

    // The descriptor received is the same eventfd: a write on one copy is
    // read from the other.
    socket::send_with_fds(a.as_fd(), b"e", &one).unwrap();
    let (n, mut fds) = socket::recv_with_fds(b.as_fd(), &mut [0u8; 4], 1).unwrap();
    assert_eq!((n, fds.len()), (1, 1));
    let copy = EventFd::from(fds.pop().unwrap());
    copy.write(5).unwrap();
    assert_eq!(ev.try_read().unwrap(), Some(5));

    // Data without descriptors arrives with none.
    (&a).write_all(b"plain").unwrap();
    let (n, fds) = socket::recv_with_fds(b.as_fd(), &mut [0u8; 8], 2).unwrap();
    assert_eq!((n, fds.len()), (5, 0));

    let (r, _w) = interlink_linux::pipe::pipe(interlink_linux::pipe::IoMode::Blocking).unwrap();
    assert!(socket::send_with_fds(r.as_fd(), b"x", &one)
        .unwrap_err()
        .is(libc::ENOTSOCK));
    // An unnamed address cannot be connected to.
    let unnamed = a.local_addr().unwrap();
    assert!(SeqPacket::connect(&unnamed).unwrap_err().is(libc::EINVAL));
    let missing = std::env::temp_dir().join("interlink-no-such-socket");
    assert!(SeqPacket::connect_path(missing)
        .unwrap_err()
        .is(libc::ENOENT));
}

/// std's datagram sockets serve as they are: an abstract address, and
/// descriptor passing through the shim's `send_with_fds`.
#[test]
fn datagram_on_an_abstract_address_carries_a_descriptor() {
    let name = format!("interlink-dgram-{}", process::current_pid());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let server = UnixDatagram::bind_addr(&addr).unwrap();
    let child = fork(|| {
        let (Ok(sock), Ok(ev)) = (UnixDatagram::unbound(), EventFd::new(0, Mode::Counter)) else {
            return 2;
        };
        if sock.connect_addr(&addr).is_err() || ev.write(41).is_err() {
            return 3;
        }
        i32::from(socket::send_with_fds(sock.as_fd(), b"ev", &[ev.as_fd()]).is_err())
    })
    .unwrap();
    let (n, mut fds) = socket::recv_with_fds(server.as_fd(), &mut [0u8; 8], 1).unwrap();
    assert_eq!((n, fds.len()), (2, 1));
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    // The child is gone; its eventfd lives on through the passed descriptor.
    assert_eq!(
        EventFd::from(fds.pop().unwrap()).try_read().unwrap(),
        Some(41)
    );
}
