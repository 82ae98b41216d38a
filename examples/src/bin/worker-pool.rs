//! Many producer processes feed a pool of worker processes through one MPMC
//! ring in shared memory; idle workers sleep on a futex, not in a spin.
//!
//! ```text
//! cargo run --release -p interlink-examples --bin worker-pool -- [PRODUCERS WORKERS JOBS [IDLE_MS]]
//! ```
//!
//! Defaults: 4 producers of 5000 jobs each, 3 workers, and a 100 ms pause
//! before the producers start, during which every worker is parked.
//!
//! One anonymous shared mapping, inherited over `fork`, holds the job ring
//! and a small ring for the workers' reports. Producers `send` (waiting
//! while the ring is full) and workers `recv` (waiting while it is empty)
//! with the core's `Blocking` strategy on the shared futex: spin briefly,
//! yield a few times, then park on the ring's event word until a send
//! wakes it (all parked workers wake and re-check; one gets the job). A
//! send makes a wake-up syscall only when someone sleeps. Job 0
//! is the stop signal: the parent sends one per worker once every producer
//! is done. Each worker reports its count, sum and CPU time, and the parent
//! checks that every job was done exactly once (count and sum).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_examples::cli;

use interlink_core::mpmc::MpmcRing;
use interlink_core::{Blocking, RecvError, Region, RingConfig, SendError};
use interlink_linux::process::{fork, Child};
use interlink_linux::shm::Mapping;
use interlink_linux::Futex;

const CAPACITY: u32 = 256;
/// No wait lasts longer: a peer that vanished makes the others give up.
const PATIENCE: Duration = Duration::from_secs(10);
/// Spin 128 times, yield 8 times, then park on the shared futex.
const WAITING: Blocking<Futex> = Blocking::new(Futex);

/// What a worker reports: [worker id, jobs done, sum of jobs, CPU µs].
type Report = [u64; 4];

/// Everything the processes share, placed in one mapping.
#[derive(Clone, Copy)]
struct Pool<'m> {
    jobs: MpmcRing<'m, u64>,
    reports: MpmcRing<'m, Report>,
}

impl<'m> Pool<'m> {
    /// Bytes for a pool whose report ring holds `workers` reports; the
    /// report ring's capacity.
    fn size(workers: u32) -> cli::Result<(usize, u32)> {
        let report_capacity = workers.next_power_of_two().max(2);
        let bytes = MpmcRing::<u64>::bytes_needed(CAPACITY)?
            + MpmcRing::<Report>::bytes_needed(report_capacity)?
            + MpmcRing::<Report>::region_align();
        Ok((bytes, report_capacity))
    }

    /// Carves the two rings out of `region`, one after the other.
    fn init(mut region: Region<'m>, report_capacity: u32) -> cli::Result<Self> {
        let jobs_region = region.take(
            MpmcRing::<u64>::bytes_needed(CAPACITY)?,
            MpmcRing::<u64>::region_align(),
        )?;
        let reports_region = region.take(
            MpmcRing::<Report>::bytes_needed(report_capacity)?,
            MpmcRing::<Report>::region_align(),
        )?;
        Ok(Self {
            jobs: MpmcRing::init(jobs_region, RingConfig::new(CAPACITY))?,
            reports: MpmcRing::init(reports_region, RingConfig::new(report_capacity))?,
        })
    }

    /// Producer side: sends a job, waiting while the ring is full.
    fn submit(&self, job: u64) -> Result<(), SendError> {
        self.jobs.send(job, &WAITING, Some(PATIENCE))
    }

    /// Worker side: takes a job. The idle wait ends parked on the ring's
    /// futex word: a sleep in the kernel, no CPU used, until a send.
    fn take(&self) -> Result<u64, RecvError> {
        self.jobs.recv(&WAITING, Some(PATIENCE))
    }
}

const PROGRAM: &str = "worker-pool";

/// Producer processes feed worker processes through one MPMC ring in
/// shared memory; the parent checks that every job was done exactly once.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// Producer processes (1 to 64).
    #[arg(default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    producers: u64,
    /// Worker processes (1 to 64).
    #[arg(default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: u64,
    /// Jobs per producer (1 to 4294967295).
    #[arg(default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..1 << 32))]
    jobs: u64,
    /// Milliseconds the workers sit parked before the producers start (0
    /// to 5000).
    #[arg(default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=5000))]
    idle_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::run(PROGRAM, || {
        run(args.producers, args.workers, args.jobs, args.idle_ms)
    })
}

fn run(producers: u64, workers: u64, jobs: u64, idle_ms: u64) -> cli::Result {
    let (bytes, report_capacity) = Pool::size(workers as u32)?;
    let map = Mapping::anonymous(bytes)?;
    let pool = Pool::init(map.region(), report_capacity)?;

    let start = Instant::now();
    let worker_children = (0..workers)
        .map(|id| fork(move || worker(pool, id)))
        .collect::<Result<Vec<_>, _>>()?;
    // The workers are parked on `items` now; let them sleep a while.
    if idle_ms > 0 {
        eprintln!("{PROGRAM}: {workers} workers wait for jobs; producers start in {idle_ms} ms");
    }
    std::thread::sleep(Duration::from_millis(idle_ms));
    let producer_children = (1..=producers)
        .map(|p| {
            fork(move || {
                // Job = producer number in the high half, 1..=jobs in the low.
                for seq in 1..=jobs {
                    if let Err(e) = pool.submit(p << 32 | seq) {
                        eprintln!("producer {p}: {e}");
                        return 1;
                    }
                }
                0
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    wait_all(producer_children, "producer")?;
    for _ in 0..workers {
        pool.submit(0)?; // one stop signal per worker
    }
    wait_all(worker_children, "worker")?;

    let (mut done, mut sum, mut cpu_us) = (0, 0u64, 0);
    while let Ok([id, count, worker_sum, us]) = pool.reports.try_recv() {
        println!("worker {id}: {count} jobs, {:.1} ms CPU", us as f64 / 1e3);
        (done, sum, cpu_us) = (done + count, sum.wrapping_add(worker_sum), cpu_us + us);
    }
    // Each producer p sent p<<32 + 1 ..= p<<32 + jobs.
    let expected_sum = (1..=producers).fold(0u64, |s, p| {
        s.wrapping_add((p << 32).wrapping_mul(jobs))
            .wrapping_add(jobs * (jobs + 1) / 2)
    });
    let total = producers * jobs;
    println!(
        "{total} jobs from {producers} producers done by {workers} workers in {:?} \
         (workers' CPU {:.1} ms in all, idle {idle_ms} ms parked)",
        start.elapsed(),
        cpu_us as f64 / 1e3
    );
    if done != total || sum != expected_sum {
        return Err(
            format!("{done} jobs done, sum {sum:#x}; expected {total}, {expected_sum:#x}").into(),
        );
    }
    println!("every job done exactly once: count and sum match");
    Ok(())
}

/// A worker's life: take jobs until a stop signal, then report.
fn worker(pool: Pool<'_>, id: u64) -> i32 {
    let (mut count, mut sum) = (0u64, 0u64);
    loop {
        match pool.take() {
            Ok(0) => break,
            Ok(job) => (count, sum) = (count + 1, sum.wrapping_add(job)),
            Err(e) => {
                eprintln!("worker {id}: {e}");
                return 1;
            }
        }
    }
    let report = [id, count, sum, cpu_time_us()];
    i32::from(pool.reports.try_send(report).is_err())
}

/// Waits for every child; the first failure is an error (the rest are
/// killed and reaped when their `Child` guards drop).
fn wait_all(children: Vec<Child>, what: &str) -> Result<(), String> {
    for child in children {
        let (pid, exit) = (child.pid(), child.wait().map_err(|e| e.to_string())?);
        if !exit.success() {
            return Err(format!("{what} {pid} {}", cli::exit_text(exit)));
        }
    }
    Ok(())
}

/// CPU time this process has used, in microseconds.
fn cpu_time_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; the clock exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}
