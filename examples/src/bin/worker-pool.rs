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
//! One anonymous shared mapping, inherited over `fork`, holds the ring and
//! two of interlink's futex semaphores — the textbook bounded buffer:
//! `slots` counts free places (starts at the capacity), `items` counts jobs
//! (starts at 0). A producer takes a slot, pushes, posts an item; a worker
//! takes an item (parking on the shared futex while there is none), pops,
//! posts a slot. A post makes a syscall only when someone sleeps. Job 0 is
//! the stop signal: the parent sends one per worker once every producer is
//! done. Each worker reports its count, sum and CPU time through a second
//! small ring, and the parent checks that every job was done exactly once
//! (count and sum).

use std::time::{Duration, Instant};

use interlink_core::mpmc::{MpmcRing, PopError, PushError};
use interlink_core::semaphore::Semaphore;
use interlink_core::{Region, RingConfig};
use interlink_linux::process::{fork, Child};
use interlink_linux::shm::Mapping;
use interlink_linux::Futex;

const CAPACITY: u32 = 256;
/// No wait lasts longer: a peer that vanished makes the others give up.
const PATIENCE: Duration = Duration::from_secs(10);

/// What a worker reports: [worker id, jobs done, sum of jobs, CPU µs].
type Report = [u64; 4];

/// Everything the processes share, placed in one mapping.
#[derive(Clone, Copy)]
struct Pool<'m> {
    jobs: MpmcRing<'m, u64>,
    slots: Semaphore<'m>,
    items: Semaphore<'m>,
    reports: MpmcRing<'m, Report>,
}

impl<'m> Pool<'m> {
    /// Bytes for a pool whose report ring holds `workers` reports; the
    /// report ring's capacity.
    fn size(workers: u32) -> Result<(usize, u32), Box<dyn std::error::Error>> {
        let report_capacity = workers.next_power_of_two().max(2);
        let bytes = MpmcRing::<u64>::bytes_needed(CAPACITY)?
            + 2 * (Semaphore::BYTES + Semaphore::ALIGN)
            + MpmcRing::<Report>::bytes_needed(report_capacity)?
            + 2 * MpmcRing::<Report>::region_align();
        Ok((bytes, report_capacity))
    }

    /// Carves the structures out of `region` one after another.
    fn init(
        mut region: Region<'m>,
        report_capacity: u32,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let mut part = |bytes: usize, align: usize| region.take(bytes, align);
        let jobs = MpmcRing::init(
            part(
                MpmcRing::<u64>::bytes_needed(CAPACITY)?,
                MpmcRing::<u64>::region_align(),
            )?,
            RingConfig::new(CAPACITY),
        )?;
        let slots = Semaphore::init(
            part(Semaphore::BYTES, Semaphore::ALIGN)?,
            CAPACITY,
            CAPACITY,
        )?;
        let items = Semaphore::init(part(Semaphore::BYTES, Semaphore::ALIGN)?, 0, CAPACITY)?;
        let reports = MpmcRing::init(
            part(
                MpmcRing::<Report>::bytes_needed(report_capacity)?,
                MpmcRing::<Report>::region_align(),
            )?,
            RingConfig::new(report_capacity),
        )?;
        Ok(Self {
            jobs,
            slots,
            items,
            reports,
        })
    }

    /// Producer side: waits for a free slot, pushes, announces the item.
    fn submit(&self, job: u64) -> Result<(), String> {
        self.slots
            .acquire(&Futex, Some(PATIENCE))
            .map_err(|_| "no free slot: workers gone?")?;
        // A slot is ours, but the ring position we claim may still be in
        // another worker's hands for a moment (`Stalled`): try again.
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.jobs.try_push(job) {
                Ok(()) => break,
                Err(PushError::Full | PushError::Stalled { .. }) if Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => return Err(format!("push: {e:?}")),
            }
        }
        self.items.post(&Futex).map_err(|e| e.to_string())
    }

    /// Worker side: sleeps until there is an item, pops it, frees its slot.
    fn take(&self) -> Result<u64, String> {
        // The idle wait: a futex sleep in the kernel, no CPU used.
        self.items
            .acquire(&Futex, Some(PATIENCE))
            .map_err(|_| "no job: producers gone?")?;
        let deadline = Instant::now() + PATIENCE;
        let job = loop {
            match self.jobs.try_pop() {
                Ok(job) => break job,
                // Our item's producer may not have finished publishing it.
                Err(PopError::Empty | PopError::Stalled { .. }) if Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => return Err(format!("pop: {e:?}")),
            }
        };
        self.slots.post(&Futex).map_err(|e| e.to_string())?;
        Ok(job)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("usage: worker-pool [PRODUCERS WORKERS JOBS [IDLE_MS]]: {e}"))?;
    let (producers, workers, jobs, idle_ms) = match args.as_slice() {
        [] => (4, 3, 5000, 100),
        [p, w, j] => (*p, *w, *j, 100),
        [p, w, j, i] => (*p, *w, *j, *i),
        _ => return Err("usage: worker-pool [PRODUCERS WORKERS JOBS [IDLE_MS]]".into()),
    };
    if !(1..=64).contains(&producers)
        || !(1..=64).contains(&workers)
        || !(1..1 << 32).contains(&jobs)
        || idle_ms > 5000
    {
        return Err(
            "1 to 64 producers and workers, 1 to 2^32 - 1 jobs each, idle up to 5000 ms".into(),
        );
    }

    let (bytes, report_capacity) = Pool::size(workers as u32)?;
    let map = Mapping::anonymous(bytes)?;
    let pool = Pool::init(map.region(), report_capacity)?;

    let start = Instant::now();
    let worker_children = (0..workers)
        .map(|id| fork(move || worker(pool, id)))
        .collect::<Result<Vec<_>, _>>()?;
    // The workers are parked on `items` now; let them sleep a while.
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
    while let Ok([id, count, worker_sum, us]) = pool.reports.try_pop() {
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
    i32::from(pool.reports.try_push(report).is_err())
}

/// Waits for every child; the first failure is an error (the rest are
/// killed and reaped when their `Child` guards drop).
fn wait_all(children: Vec<Child>, what: &str) -> Result<(), String> {
    for child in children {
        let (pid, exit) = (child.pid(), child.wait().map_err(|e| e.to_string())?);
        if !exit.success() {
            return Err(format!("{what} {pid} failed: {exit:?}"));
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
