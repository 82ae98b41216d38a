//! An order gateway: several client processes send orders to one
//! matching-engine process through a named request–response channel
//! (`interlink_linux::channel::{Server, Client}`), and the engine answers
//! each order to the client that sent it: what it filled at once and what
//! rests in its book.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin order-gateway            # 4 clients × 10000 orders
//! cargo run --release -p interlink-examples --bin order-gateway -- run --clients 8 --orders 100000
//! # or as separate programs, by name:
//! order-gateway engine /orders --clients 2 &
//! order-gateway client /orders --orders 5000 & order-gateway client /orders --orders 5000
//! ```
//!
//! `run` (the default) starts the engine and the clients as processes of
//! this same program (`engine` and `client`), unrelated but for the name.
//! Each client keeps up to `--in-flight` orders outstanding (the engine
//! answers in order, the client matches answers by correlation id), checks
//! that every answer is for one of its own orders and adds up, and prints
//! its round-trip times; the engine prints each client it hears from
//! (`engine: new client PID.N`) and, once every client has said goodbye
//! or died, what it did for each.
//!
//! A client killed mid-run costs only itself: the engine drops an answer
//! to it (`PeerDied`), or notices it dead while idle, counts it as gone
//! and serves the others.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use interlink_examples::cli;
use interlink_linux::channel::{ChannelOptions, Client, ClientId, RecvError, SendError, Server};
use interlink_linux::{liveness, process};

const PROGRAM: &str = "order-gateway";
/// Request tags.
const NEW_ORDER: u32 = 1;
const GOODBYE: u32 = 2;
/// Response tags.
const ACK: u32 = 10;
const BYE: u32 = 11;
/// Bytes of the engine's request channel and of each client's response
/// channel.
const REQUEST_BYTES: u32 = 1 << 16;
const RESPONSE_BYTES: u32 = 1 << 14;
/// How long a client waits for one answer, and the engine for a client.
const WAIT: Duration = Duration::from_secs(10);
/// How often an idle engine looks for clients that died.
const SWEEP: Duration = Duration::from_millis(100);

/// Several client processes send orders to one matching engine, which
/// answers each.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    #[command(subcommand)]
    role: Option<Role>,
}

#[derive(Subcommand)]
enum Role {
    /// Starts an engine and CLIENTS client processes, and waits for them.
    Run {
        /// Client processes.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
        clients: u32,
        /// Orders each client sends.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
        orders: u32,
        /// Orders a client keeps outstanding.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
        in_flight: u32,
    },
    /// The matching engine: serves NAME until CLIENTS clients said goodbye
    /// (or died).
    Engine {
        /// The request channel's name (`/orders`).
        name: String,
        /// Clients to serve before exiting.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        clients: u32,
    },
    /// A client: sends ORDERS orders to the engine at NAME, checks every
    /// answer.
    Client {
        /// The engine's request channel.
        name: String,
        /// Orders to send.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
        orders: u32,
        /// Orders kept outstanding.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
        in_flight: u32,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || {
        match args.role.unwrap_or(Role::Run {
            clients: 4,
            orders: 10_000,
            in_flight: 8,
        }) {
            Role::Run {
                clients,
                orders,
                in_flight,
            } => run(clients, orders, in_flight),
            Role::Engine { name, clients } => engine(&name, clients),
            Role::Client {
                name,
                orders,
                in_flight,
            } => client(&name, orders, in_flight),
        }
    })
}

// ------------------------------------------------------------------ orders

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Buy,
    Sell,
}

/// An order on the wire: 20 bytes, little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Order {
    /// The client's number for it.
    id: u64,
    side: Side,
    /// Price in ticks.
    price: u32,
    quantity: u32,
}

impl Order {
    const BYTES: usize = 20;

    fn encode(&self) -> [u8; Self::BYTES] {
        let mut b = [0u8; Self::BYTES];
        b[..8].copy_from_slice(&self.id.to_le_bytes());
        b[8..12].copy_from_slice(&u32::from(self.side == Side::Sell).to_le_bytes());
        b[12..16].copy_from_slice(&self.price.to_le_bytes());
        b[16..20].copy_from_slice(&self.quantity.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let word = |at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
        Some(Self {
            id: u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            side: match word(8)? {
                0 => Side::Buy,
                1 => Side::Sell,
                _ => return None,
            },
            price: word(12)?,
            quantity: word(16)?,
        })
    }

    /// The `n`th order of the client `seed`: a few prices around 100, so
    /// that orders cross and rest.
    fn nth(seed: u32, n: u32) -> Self {
        let mut x = u64::from(seed) << 32 | u64::from(n);
        x = (x ^ (x >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        Self {
            id: u64::from(n),
            side: if x & 1 == 0 { Side::Buy } else { Side::Sell },
            price: 95 + (x >> 8) as u32 % 11,
            quantity: 1 + (x >> 24) as u32 % 100,
        }
    }
}

/// The engine's answer to an order: 32 bytes, little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ack {
    /// The order's id, echoed.
    order: u64,
    /// The client the engine took the order from (pid, connection).
    client: ClientId,
    /// Quantity filled at once, and what it cost (price × quantity).
    filled: u32,
    notional: u64,
    /// Quantity left resting in the book.
    resting: u32,
}

impl Ack {
    const BYTES: usize = 32;

    fn encode(&self) -> [u8; Self::BYTES] {
        let mut b = [0u8; Self::BYTES];
        b[..8].copy_from_slice(&self.order.to_le_bytes());
        b[8..12].copy_from_slice(&self.client.pid.to_le_bytes());
        b[12..16].copy_from_slice(&self.client.n.to_le_bytes());
        b[16..20].copy_from_slice(&self.filled.to_le_bytes());
        b[20..24].copy_from_slice(&self.resting.to_le_bytes());
        b[24..32].copy_from_slice(&self.notional.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let word = |at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
        Some(Self {
            order: u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            client: ClientId {
                pid: word(8)?,
                n: word(12)?,
            },
            filled: word(16)?,
            resting: word(20)?,
            notional: u64::from_le_bytes(b.get(24..32)?.try_into().ok()?),
        })
    }
}

// ------------------------------------------------------------------ engine

/// A price level's queue of resting orders: (client, order id, quantity).
type Level = VecDeque<(ClientId, u64, u32)>;

/// One instrument's book: price-time priority.
#[derive(Default)]
struct Book {
    bids: BTreeMap<u32, Level>,
    asks: BTreeMap<u32, Level>,
}

impl Book {
    /// Matches `order` against the other side, rests what is left: the
    /// quantity filled, its notional, and what rests.
    fn add(&mut self, from: ClientId, order: Order) -> (u32, u64, u32) {
        let mut left = order.quantity;
        let mut notional = 0u64;
        loop {
            if left == 0 {
                break;
            }
            let best = match order.side {
                Side::Buy => self.asks.first_entry().filter(|e| *e.key() <= order.price),
                Side::Sell => self.bids.last_entry().filter(|e| *e.key() >= order.price),
            };
            let Some(mut level) = best else { break };
            let price = *level.key();
            while left > 0 {
                let Some(front) = level.get_mut().front_mut() else {
                    break;
                };
                let take = left.min(front.2);
                front.2 -= take;
                left -= take;
                notional += u64::from(take) * u64::from(price);
                if front.2 == 0 {
                    level.get_mut().pop_front();
                }
            }
            if level.get().is_empty() {
                level.remove();
            }
        }
        if left > 0 {
            let side = match order.side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            side.entry(order.price)
                .or_default()
                .push_back((from, order.id, left));
        }
        (order.quantity - left, notional, left)
    }
}

/// What the engine did for one client.
#[derive(Default)]
struct ClientStats {
    orders: u64,
    filled: u64,
    rested: u64,
    /// Said goodbye, or found dead.
    gone: bool,
    died: bool,
}

/// Marks the clients found dead as gone; returns how many.
fn sweep(stats: &mut HashMap<ClientId, ClientStats>) -> u32 {
    let mut n = 0;
    for (id, s) in stats.iter_mut() {
        if !s.gone && !liveness::is_alive(id.pid) {
            s.gone = true;
            s.died = true;
            n += 1;
        }
    }
    n
}

fn engine(name: &str, clients: u32) -> cli::Result {
    let server = Server::create(name, REQUEST_BYTES, &ChannelOptions::new())?;
    let mut serving = server.serve()?;
    cli::waiting(PROGRAM, &format!("{clients} clients on {name}"), None);
    let mut book = Book::default();
    let mut stats: HashMap<ClientId, ClientStats> = HashMap::new();
    let mut gone = 0;
    let mut buf = [0u8; 64];
    let start = Instant::now();
    while gone < clients {
        let request = match serving.recv_timeout(&mut buf, SWEEP) {
            Ok(r) => r,
            Err(RecvError::TimedOut) => {
                // Unlinks dead clients' response channels.
                serving.forget_dead_clients();
                gone += sweep(&mut stats);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let body = &buf[..request.len];
        if !stats.contains_key(&request.client) {
            println!(
                "engine: new client {}.{}",
                request.client.pid, request.client.n
            );
        }
        let s = stats.entry(request.client).or_default();
        if s.gone {
            continue; // a dead client's last words
        }
        let answered = match request.tag {
            NEW_ORDER => {
                let Some(order) = Order::decode(body) else {
                    eprintln!(
                        "{PROGRAM}: engine: a malformed order from {:?}",
                        request.client
                    );
                    continue;
                };
                let (filled, notional, resting) = book.add(request.client, order);
                s.orders += 1;
                s.filled += u64::from(filled);
                s.rested += u64::from(resting);
                let ack = Ack {
                    order: order.id,
                    client: request.client,
                    filled,
                    notional,
                    resting,
                };
                serving.respond(&request, ACK, &ack.encode())
            }
            GOODBYE => {
                s.gone = true;
                gone += 1;
                serving.respond(&request, BYE, &[])
            }
            other => {
                eprintln!("{PROGRAM}: engine: unknown request tag {other}");
                Ok(())
            }
        };
        match answered {
            Ok(()) => {}
            // Forgotten by the server; its resting orders stay in the book.
            Err(SendError::PeerDied { .. }) => {
                if !s.gone {
                    s.gone = true;
                    s.died = true;
                    gone += 1;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let elapsed = start.elapsed();
    let mut ids: Vec<_> = stats.keys().copied().collect();
    ids.sort_by_key(|id| (id.pid, id.n));
    let total: u64 = stats.values().map(|s| s.orders).sum();
    for id in ids {
        let s = &stats[&id];
        println!(
            "engine: client {}.{}: {} orders, {} filled at once, {} rested{}",
            id.pid,
            id.n,
            s.orders,
            s.filled,
            s.rested,
            if s.died { " (died)" } else { "" }
        );
    }
    println!(
        "engine: {total} orders from {clients} clients in {elapsed:?} ({:.0} orders/s); book: {} bid and {} ask levels",
        total as f64 / elapsed.as_secs_f64().max(1e-9),
        book.bids.len(),
        book.asks.len(),
    );
    Ok(())
}

// ------------------------------------------------------------------ client

fn client(name: &str, orders: u32, in_flight: u32) -> cli::Result {
    let options = ChannelOptions::new().open_timeout(WAIT);
    let mut client = Client::connect(name, RESPONSE_BYTES, &options)?;
    let me = client.id();
    let seed = me.pid ^ me.n.rotate_left(16);
    let mut pending: VecDeque<(u64, Order, Instant)> = VecDeque::new();
    let mut times = Vec::with_capacity(orders as usize);
    let (mut filled, mut rested, mut notional) = (0u64, 0u64, 0u64);
    let mut buf = [0u8; 64];
    let start = Instant::now();
    let mut sent = 0;
    while sent < orders || !pending.is_empty() {
        if sent < orders && pending.len() < in_flight as usize {
            let order = Order::nth(seed, sent);
            let correlation = client.request(NEW_ORDER, &order.encode())?;
            pending.push_back((correlation, order, Instant::now()));
            sent += 1;
            continue;
        }
        let Some((correlation, order, at)) = pending.pop_front() else {
            break;
        };
        let (tag, len) = client.response(correlation, &mut buf, WAIT)?;
        times.push(at.elapsed());
        let ack = Ack::decode(&buf[..len]).filter(|_| tag == ACK);
        let Some(ack) = ack else {
            return Err(format!(
                "order {}: a malformed answer (tag {tag}, {len} bytes)",
                order.id
            )
            .into());
        };
        if ack.order != order.id || ack.client != me {
            return Err(format!(
                "order {} of client {}.{}: the answer is for order {} of client {}.{}",
                order.id, me.pid, me.n, ack.order, ack.client.pid, ack.client.n
            )
            .into());
        }
        if ack.filled + ack.resting != order.quantity {
            return Err(format!(
                "order {}: {} filled + {} resting is not its quantity {}",
                order.id, ack.filled, ack.resting, order.quantity
            )
            .into());
        }
        filled += u64::from(ack.filled);
        rested += u64::from(ack.resting);
        notional += ack.notional;
    }
    let elapsed = start.elapsed();
    let goodbye = client.request(GOODBYE, &[])?;
    let (tag, _) = client.response(goodbye, &mut buf, WAIT)?;
    if tag != BYE {
        return Err(format!("the engine answered goodbye with tag {tag}").into());
    }
    times.sort_unstable();
    let pct = |p: usize| times[(times.len() - 1) * p / 100];
    println!(
        "client {}.{}: {orders} orders, {orders} answers, all its own; {filled} filled \
         (notional {notional}), {rested} rested; {:.0} orders/s; round trip p50 {:?}, p99 {:?}, max {:?}",
        me.pid,
        me.n,
        f64::from(orders) / elapsed.as_secs_f64().max(1e-9),
        pct(50),
        pct(99),
        pct(100),
    );
    Ok(())
}

// ------------------------------------------------------------------ run

fn run(clients: u32, orders: u32, in_flight: u32) -> cli::Result {
    let name = format!("/interlink-order-gateway-{}", process::current_pid());
    let me = std::env::current_exe()?;
    let mut engine = Command::new(&me)
        .args(["engine", &name, "--clients", &clients.to_string()])
        .spawn()?;
    let mut children = Vec::new();
    for _ in 0..clients {
        let child = Command::new(&me)
            .args(["client", &name, "--orders", &orders.to_string()])
            .args(["--in-flight", &in_flight.to_string()])
            .spawn();
        match child {
            Ok(c) => children.push(c),
            Err(e) => {
                let _ = engine.kill();
                for c in &mut children {
                    let _ = c.kill();
                }
                return Err(e.into());
            }
        }
    }
    let mut failed = 0;
    for mut c in children {
        if !c.wait()?.success() {
            failed += 1;
        }
    }
    if failed > 0 {
        // The engine waits for goodbyes that will not all come.
        let _ = engine.kill();
        let _ = engine.wait();
        return Err(format!("{failed} of {clients} clients failed").into());
    }
    let status = engine.wait()?;
    if !status.success() {
        return Err(format!("the engine failed ({status})").into());
    }
    Ok(())
}
