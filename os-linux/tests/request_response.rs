//! Request–response between processes by name: many clients, one server;
//! a client killed mid-call; a server killed mid-call and restarted.

mod common;

use std::time::Duration;

use common::unique_name;
use interlink_linux::channel::{
    ByteChannel, CallError, ChannelOptions, Client, RecvError, SendError, Server,
};
use interlink_linux::process::{fork, Exit};

const PER_CLIENT: u32 = if cfg!(debug_assertions) {
    2_000
} else {
    10_000
};

/// The server's answer to `body` from client `pid`: the body reversed, then
/// the pid (so an answer delivered to the wrong client fails its check).
fn answer(body: &[u8], pid: u32, out: &mut Vec<u8>) {
    out.clear();
    out.extend(body.iter().rev());
    out.extend_from_slice(&pid.to_le_bytes());
}

/// A client process: `count` calls with up to four in flight, each answer
/// checked; exit code 0 or the step that failed.
fn client(name: &str, count: u32) -> i32 {
    let Ok(mut c) = Client::connect(name, 1 << 14, &ChannelOptions::new()) else {
        return 2;
    };
    let pid = c.id().pid;
    let mut in_flight = std::collections::VecDeque::new();
    let mut expected = Vec::new();
    let mut buf = [0u8; 256];
    let mut sent = 0;
    let mut done = 0;
    while done < count {
        if sent < count && in_flight.len() < 4 {
            let body: Vec<u8> = (0..(sent % 50) as u8).map(|b| b ^ sent as u8).collect();
            match c.request(sent, &body) {
                Ok(corr) => in_flight.push_back((corr, sent, body)),
                Err(_) => return 3,
            }
            sent += 1;
            continue;
        }
        let Some((corr, tag, body)) = in_flight.pop_front() else {
            return 4;
        };
        match c.response(corr, &mut buf, Duration::from_secs(30)) {
            Ok((t, len)) => {
                answer(&body, pid, &mut expected);
                if t != tag + 1 || buf[..len] != expected[..] {
                    return 5;
                }
            }
            Err(_) => return 6,
        }
        done += 1;
    }
    0
}

/// Eight client processes, each with four calls in flight: every answer
/// reaches the client that asked, matched by its correlation id.
#[test]
fn eight_clients_every_answer_to_the_right_client() {
    const CLIENTS: u32 = 8;
    let name = unique_name("rr-eight");
    let server = Server::create(&name, 1 << 16, &ChannelOptions::new()).unwrap();
    let mut serving = server.serve().unwrap();
    let children: Vec<_> = (0..CLIENTS)
        .map(|_| fork(|| client(&name, PER_CLIENT)).unwrap())
        .collect();
    let mut buf = [0u8; 256];
    let mut out = Vec::new();
    for _ in 0..CLIENTS * PER_CLIENT {
        let request = serving
            .recv_timeout(&mut buf, Duration::from_secs(30))
            .unwrap();
        answer(&buf[..request.len], request.client.pid, &mut out);
        serving.respond(&request, request.tag + 1, &out).unwrap();
    }
    assert_eq!(serving.clients(), CLIENTS as usize);
    for child in children {
        assert_eq!(child.wait().unwrap(), Exit::Code(0));
    }
    // Their processes are gone (without unlinking, as after a crash): the
    // server reclaims their channels.
    assert_eq!(serving.forget_dead_clients(), CLIENTS as usize);
    assert_eq!(serving.clients(), 0);
}

/// A client killed after sending its request: the response finds it dead,
/// the server forgets it and removes its response channel's name.
#[test]
fn a_client_killed_mid_call_is_forgotten_and_reclaimed() {
    let name = unique_name("rr-client");
    let server = Server::create(&name, 1 << 12, &ChannelOptions::new()).unwrap();
    let mut serving = server.serve().unwrap();
    let child = fork(|| {
        let Ok(mut c) = Client::connect(&name, 1 << 12, &ChannelOptions::new()) else {
            return 2;
        };
        if c.request(7, b"are you there").is_err() {
            return 3;
        }
        // SAFETY: raising SIGKILL on ourselves; nothing runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
        4
    })
    .unwrap();
    let mut buf = [0u8; 64];
    let request = serving
        .recv_timeout(&mut buf, Duration::from_secs(30))
        .unwrap();
    assert_eq!(&buf[..request.len], b"are you there");
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    assert_eq!(
        serving.respond(&request, 8, b"yes"),
        Err(SendError::PeerDied {
            holder: request.client.pid
        })
    );
    assert_eq!(serving.clients(), 0);
    let response = format!("{name}.resp.{}.{}", request.client.pid, request.client.n);
    let quick = ChannelOptions::new().open_timeout(Duration::from_millis(50));
    assert!(ByteChannel::open(&response, &quick).is_err(), "name left");
}

/// The server asks a client's liveness at its first response and then at
/// most once per peer check: a client dead before its first response is
/// `PeerDied` at once; one that dies after a response, with room left in
/// its channel, is `PeerDied` once a peer check has passed (the bound the
/// server documents).
#[test]
fn a_dead_client_is_noticed_within_one_peer_check() {
    let name = unique_name("rr-bound");
    let options = ChannelOptions::new().peer_check(Duration::from_millis(20));
    let server = Server::create(&name, 1 << 12, &options).unwrap();
    let mut serving = server.serve().unwrap();
    let child = fork(|| {
        let Ok(mut c) = Client::connect(&name, 1 << 12, &ChannelOptions::new()) else {
            return 2;
        };
        if c.request(7, b"once").is_err() {
            return 3;
        }
        // SAFETY: raising SIGKILL on ourselves; nothing runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
        4
    })
    .unwrap();
    let mut buf = [0u8; 64];
    let request = serving
        .recv_timeout(&mut buf, Duration::from_secs(30))
        .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    // The first response checks: dead.
    assert!(matches!(
        serving.respond(&request, 8, b"a"),
        Err(SendError::PeerDied { .. })
    ));
    assert_eq!(serving.clients(), 0);
    // Another client: alive at its first response, then killed.
    let child = fork(|| {
        let Ok(mut c) = Client::connect(&name, 1 << 12, &ChannelOptions::new()) else {
            return 2;
        };
        if c.request(9, b"twice").is_err() {
            return 3;
        }
        let mut b = [0u8; 16];
        if c.response(1, &mut b, Duration::from_secs(30)).is_err() {
            return 5;
        }
        // SAFETY: raising SIGKILL on ourselves; nothing runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
        4
    })
    .unwrap();
    let request = serving
        .recv_timeout(&mut buf, Duration::from_secs(30))
        .unwrap();
    assert_eq!(serving.respond(&request, 10, b"first"), Ok(()));
    assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    // Past one peer check since the last look: the next response looks.
    std::thread::sleep(Duration::from_millis(40));
    assert!(matches!(
        serving.respond(&request, 11, b"second"),
        Err(SendError::PeerDied { .. })
    ));
    assert_eq!(serving.clients(), 0);
}

/// A server killed while a client waits: the call ends with `PeerDied`; a
/// restarted server takes the name over and a new connection is served.
#[test]
fn a_dead_server_is_reported_and_a_restarted_one_takes_over() {
    let name = unique_name("rr-server");
    let serve = |answers: u32| {
        let name = name.clone();
        fork(move || {
            let Ok(server) = Server::create(&name, 1 << 12, &ChannelOptions::new()) else {
                return 2;
            };
            let Ok(mut serving) = server.serve() else {
                return 3;
            };
            let mut buf = [0u8; 64];
            for _ in 0..answers {
                let Ok(request) = serving.recv(&mut buf) else {
                    return 4;
                };
                let body = buf[..request.len].to_vec();
                if serving.respond(&request, 1, &body).is_err() {
                    return 5;
                }
            }
            // Then hang, holding the receiver, until killed.
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .unwrap()
    };
    let first = serve(1);
    let options = ChannelOptions::new().open_timeout(Duration::from_secs(10));
    let mut client = Client::connect(&name, 1 << 12, &options).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        client.call(9, b"ping", &mut buf, Duration::from_secs(30)),
        Ok((1, 4))
    );
    first.signal(libc::SIGKILL).unwrap();
    assert_eq!(first.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    let r = client.call(9, b"anyone?", &mut buf, Duration::from_secs(30));
    assert!(
        matches!(r, Err(CallError::Recv(RecvError::PeerDied { .. }))),
        "{r:?}"
    );
    drop(client);
    // A restarted server replaces the stale object at the name.
    let second = serve(1);
    let mut client = Client::connect(&name, 1 << 12, &options).unwrap();
    // It may still be creating: retry until it is (the old object may be
    // the one opened, its server dead).
    let mut answered = None;
    for _ in 0..100 {
        match client.call(9, b"again", &mut buf, Duration::from_secs(30)) {
            Ok(r) => {
                answered = Some(r);
                break;
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                client = Client::connect(&name, 1 << 12, &options).unwrap();
            }
        }
    }
    assert_eq!(answered, Some((1, 5)));
    second.signal(libc::SIGKILL).unwrap();
    let _ = second.wait();
}
