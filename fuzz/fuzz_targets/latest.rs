//! The latest-value table, structure-aware: a table of 1 to 8 cells of
//! `[u64; 4]` made by `init` (or, for one input in 16, raw bytes
//! attached), one writer role (claimed, released, killed — cleanly or in
//! the middle of a write, leaving an odd sequence word and part of a new
//! value — and taken over), readers on writable and read-only handles —
//! driving `try_send`/`send` (indices in and out of range), `try_recv`,
//! `version`, `changed_since`, `recv` (since any version, zero or tiny
//! timeouts), `wake_readers`, `status`, re-attach — interleaved with a
//! hostile peer's writes to any shared word (header, writer word, event
//! word, every cell's sequence word, version words and value), now or
//! inside a wait or liveness check.
//!
//! Values are self-checking (`[cell, n, mix(cell, n), mix(n)]`). Until the
//! peer's first write, results are checked exactly against a model of the
//! cells: the value and version last written, `Empty` for a cell never
//! written, `Stalled { position }` for a cell a dead writer left mid-write
//! until the next writer writes it, versions counting the writes. After
//! peer writes, a value returned as good must still be one the writer
//! wrote whole (or a never-written zero), unless the peer wrote that cell's
//! value words, or forged the sequence word of a cell a dead writer left
//! torn; and every error must be typed, with sane fields.
//!
//! Input: byte 0 is the setup (`% 16 == 0`: attach raw bytes; else
//! `1 + (b >> 4) % 8` cells), then ops, one byte each (`% 16`) with their
//! arguments.
#![no_main]

use interlink_core::latest::{self, LatestTable, LatestWriter, READ_TRIES};
use interlink_core::sync::AtomicU32;
use interlink_core::{ElementCheck, Holder, RecvError, RingConfig, SendError};
use interlink_fuzz::{blocking, Hostile, Input, Mapping};
use libfuzzer_sys::fuzz_target;

type T = [u64; 4];

/// Where the cells start, and each cell's size (for `[u64; 4]`).
const CELLS: usize = 256;
const STRIDE: usize = 64;
/// In a cell: the sequence word, the version words, the value.
const SEQ: usize = 0;
const VER: usize = 8;
const VALUE: usize = 16;

fn mix(p: u64) -> u64 {
    let mut z = p.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn value(cell: u32, n: u64) -> T {
    let c = u64::from(cell);
    [c, n, mix(c << 40 ^ n), mix(n)]
}

/// A value the writer stored whole (or a cell never written).
fn whole(v: T) -> bool {
    v == [0; 4] || (v[0] < 1 << 16 && v == value(v[0] as u32, v[1]))
}

#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    /// The version words.
    version: u64,
    /// The value, if whole.
    value: Option<T>,
    /// A dead writer left it mid-write (odd sequence word).
    torn: bool,
}

struct State<'a> {
    table: LatestTable<'a, T>,
    ro: Option<LatestTable<'a, T>>,
    writer: Option<LatestWriter<'a, T>>,
    holder: u32,
    /// The writer was killed and nobody took over: the role word still
    /// names it.
    dead_writer: bool,
    cells: Vec<Cell>,
    n: u64,
    exact: bool,
}

fn cell_at(index: u32) -> usize {
    CELLS + STRIDE * index as usize
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let setup = input.byte();
    let raw = setup.is_multiple_of(16);
    let cells = 1 + u32::from(setup >> 4) % 8;
    let mapping = if raw {
        let len = 256 + input.below(16) * 64;
        let n = (input.byte() as usize * 4).min(len);
        let m = Mapping::new(len, 128);
        m.fill(input.bytes(n));
        m
    } else {
        Mapping::new(
            LatestTable::<T>::bytes_needed(cells).expect("cells"),
            LatestTable::<T>::region_align(),
        )
    };
    let hostile = Hostile::new(&mapping);
    let table = if raw {
        match LatestTable::<T>::attach(mapping.region()) {
            Ok(t) => t,
            Err(_) => return,
        }
    } else {
        LatestTable::<T>::init(mapping.region(), RingConfig::new(cells)).expect("init")
    };
    // SAFETY: the mapping outlives every handle (dropped after `st`);
    // nothing holds a reference to its bytes.
    let ro = unsafe {
        LatestTable::<T>::attach_read_only(mapping.base(), mapping.len(), ElementCheck::Exact)
    }
    .ok();
    let mut st = State {
        table,
        ro,
        writer: table.writer(Holder::fixed::<1>()).ok(),
        holder: 1,
        dead_writer: false,
        cells: vec![Cell::default(); table.cells() as usize],
        n: 1,
        exact: !raw,
    };
    while !input.is_done() {
        step(&mut st, &mut input, &hostile, &mapping);
    }
    drop(st);
}

/// Whether a good value read from `index` must be whole.
fn must_be_whole(st: &State<'_>, hostile: &Hostile, index: u32) -> bool {
    let at = cell_at(index);
    let torn = st.cells.get(index as usize).is_some_and(|c| c.torn);
    st.exact
        && !hostile.wrote_in(|o| o >= at + VALUE && o < at + STRIDE)
        && !(torn && hostile.wrote_in(|o| o == at + SEQ))
}

/// Stores a word directly: a dying writer's own stores, not the peer's.
fn store(mapping: &Mapping, offset: usize, v: u32) {
    assert!(offset % 4 == 0 && offset + 4 <= mapping.len());
    // SAFETY: inside the mapping and 4-aligned; the table accesses these
    // words only atomically.
    unsafe {
        (*mapping.base().add(offset).cast::<AtomicU32>())
            .store(v, std::sync::atomic::Ordering::Relaxed)
    };
}

fn load(mapping: &Mapping, offset: usize) -> u32 {
    assert!(offset % 4 == 0 && offset + 4 <= mapping.len());
    // SAFETY: as in `store`.
    unsafe {
        (*mapping.base().add(offset).cast::<AtomicU32>()).load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn named(st: &State<'_>) -> Vec<usize> {
    let mut v = vec![8, 12, 16, 20, 24, 28, 32, 36, 64, 128];
    for i in 0..st.cells.len() as u32 {
        let at = cell_at(i);
        v.extend([
            at + SEQ,
            at + VER,
            at + VER + 4,
            at + VALUE,
            at + VALUE + 12,
        ]);
    }
    v
}

fn step(st: &mut State<'_>, input: &mut Input<'_>, hostile: &Hostile, mapping: &Mapping) {
    let cells = st.cells.len() as u32;
    let op = input.byte() % 16;
    match op {
        // Write a cell (sometimes beyond the table).
        0 | 1 => {
            let index = input.below(cells as usize + 2) as u32;
            let b = (op == 1).then(|| blocking(input, hostile));
            let timeout = Hostile::timeout(input);
            let t = st.exact && !hostile.wrote();
            let v = value(index, st.n);
            st.n += 1;
            let Some(w) = st.writer.as_mut() else {
                return;
            };
            let r = match &b {
                None => w.try_send(index, v),
                Some(b) => w.send(index, v, b, Some(timeout)),
            };
            let t = t && !hostile.wrote();
            match r {
                Ok(version) => {
                    assert!(index < cells);
                    assert!(version >= 1);
                    let c = &mut st.cells[index as usize];
                    if t {
                        assert_eq!(version, c.version + 1);
                    }
                    *c = Cell {
                        version,
                        value: Some(v),
                        torn: false,
                    };
                }
                Err(SendError::TooLarge { len, max }) => {
                    assert!(index >= cells && len == index as usize && max == cells);
                }
                Err(e) => panic!("latest send: {e:?}"),
            }
        }
        // Read.
        2..=4 => {
            let index = input.below(cells as usize + 2) as u32;
            let handle = if input.byte() & 1 == 0 {
                st.table
            } else {
                st.ro.unwrap_or(st.table)
            };
            let t = st.exact && !hostile.wrote();
            let model = st.cells.get(index as usize).copied();
            let r = match op {
                2 => handle.try_recv(index),
                3 => match handle.version(index) {
                    Ok(v) => {
                        let since = v.saturating_sub(u64::from(input.byte() % 3));
                        let changed = handle.changed_since(index, since);
                        if t {
                            assert_eq!(changed, Ok(v > since));
                        }
                        check(st, hostile, index, model, t, Err(RecvError::Empty), v);
                        return;
                    }
                    Err(e) => Err(e),
                },
                _ => {
                    let since = match input.byte() % 3 {
                        0 => 0,
                        1 => model.map_or(0, |c| c.version),
                        _ => u64::from(input.u32()),
                    };
                    let b = blocking(input, hostile);
                    let timeout = Hostile::timeout(input);
                    let r = handle.recv(index, since, &b, Some(timeout));
                    let t = t && !hostile.wrote();
                    if let Ok((_, v)) = r {
                        assert!(v > since);
                    }
                    if t && r == Err(RecvError::TimedOut) {
                        let c = model.expect("in range");
                        assert!(!c.torn && c.version <= since, "timed out with news");
                    }
                    if r == Err(RecvError::TimedOut) {
                        return;
                    }
                    r
                }
            };
            check(st, hostile, index, model, t, r, 0);
        }
        // Kill the writer in the middle of a write: the sequence word made
        // odd, then some of the value's words, maybe the version.
        5 => {
            let Some(w) = st.writer.take() else {
                return;
            };
            std::mem::forget(w);
            st.dead_writer = true;
            let index = input.below(cells as usize) as u32;
            let at = cell_at(index);
            let steps = input.byte();
            if steps == 0 {
                return;
            }
            let seq = load(mapping, at + SEQ) | 1;
            store(mapping, at + SEQ, seq);
            let v = value(index, st.n);
            st.n += 1;
            let words: Vec<u32> = v
                .iter()
                .flat_map(|x| [*x as u32, (*x >> 32) as u32])
                .collect();
            let k = (steps as usize >> 1) % 9;
            for (j, w) in words.iter().take(k).enumerate() {
                store(mapping, at + VALUE + 4 * j, *w);
            }
            let c = &mut st.cells[index as usize];
            if steps & 1 == 1 {
                let version = c.version.wrapping_add(1).max(1);
                store(mapping, at + VER, version as u32);
                store(mapping, at + VER + 4, (version >> 32) as u32);
                c.version = version;
            }
            c.torn = true;
            c.value = None;
        }
        // Take over a dead writer (a queued peer write lands in the
        // liveness check), or try to steal it from a live one.
        6 => {
            let kill = input.byte() & 1 == 0;
            if kill {
                if let Some(w) = st.writer.take() {
                    std::mem::forget(w);
                    st.dead_writer = true;
                }
            }
            let had = st.writer.is_some();
            let t = st.exact && !hostile.wrote();
            let h = 4 + input.below(3) as u32;
            let r = st
                .table
                .take_over_writer(Holder::new(h).expect("nonzero"), |_| {
                    hostile.during();
                    !kill
                });
            let t = t && !hostile.wrote();
            match r {
                Ok(w) => {
                    assert!(!had || hostile.wrote(), "two writers");
                    st.writer = Some(w);
                    st.holder = h;
                    st.dead_writer = false;
                }
                Err(e) => assert!(!t || had || !kill, "honest take-over failed: {e}"),
            }
        }
        // Release or claim the writer; a read-only handle never writes.
        7 => {
            if st.writer.take().is_none() {
                let h = 1 + input.below(3) as u32;
                let t = st.exact && !hostile.wrote();
                match st.table.writer(Holder::new(h).expect("nonzero")) {
                    Ok(w) => {
                        assert!(!t || !st.dead_writer, "claimed a dead writer's role");
                        st.writer = Some(w);
                        st.holder = h;
                        st.dead_writer = false;
                    }
                    Err(e) => assert!(!t || st.dead_writer, "honest claim failed: {e}"),
                }
            }
            if let Some(ro) = st.ro {
                assert!(ro.writer(Holder::fixed::<9>()).is_err());
                assert!(ro
                    .take_over_writer(Holder::fixed::<9>(), |_| false)
                    .is_err());
            }
        }
        // Peer writes: named words now or queued, or any word of a cell.
        8 => hostile.write_from(input, &named(st), cells),
        9 => hostile.queue_from(input, &named(st), cells),
        10 => {
            let o = cell_at(input.below(cells as usize) as u32) + 4 * input.below(STRIDE / 4);
            hostile.write(o, input.value(cells));
        }
        // Re-attach.
        11 => {
            let t = st.exact && !hostile.wrote();
            let r = if input.byte() & 1 == 0 {
                LatestTable::<T>::attach(mapping.region())
            } else {
                LatestTable::<T>::attach_with(mapping.region(), ElementCheck::LayoutOnly)
            };
            match r {
                Ok(table) => {
                    assert_eq!(table.cells(), cells);
                    st.table = table;
                }
                Err(e) => assert!(!t, "honest attach failed: {e}"),
            }
        }
        // Status.
        12 => {
            let t = st.exact && !hostile.wrote();
            match latest::status(&mapping.region()) {
                Ok(s) => {
                    if t {
                        assert_eq!(s.header.capacity, cells);
                        let w = if st.writer.is_some() || st.dead_writer {
                            st.holder
                        } else {
                            0
                        };
                        assert_eq!(s.writer, w);
                    }
                }
                Err(e) => assert!(!t, "honest status failed: {e}"),
            }
        }
        // Wake the readers.
        _ => {
            if let Some(w) = &st.writer {
                w.wake_readers(hostile);
            }
        }
    }
}

/// Checks a read of `index`: `r` (or, for `version`, `ver`).
fn check(
    st: &State<'_>,
    hostile: &Hostile,
    index: u32,
    model: Option<Cell>,
    t: bool,
    r: Result<(T, u64), RecvError>,
    ver: u64,
) {
    let cells = st.cells.len() as u32;
    let t = t && !hostile.wrote();
    match r {
        Ok((v, version)) => {
            assert!(index < cells && version >= 1);
            if must_be_whole(st, hostile, index) {
                assert!(whole(v), "torn value {v:?}");
            }
            if t {
                let c = model.expect("in range");
                assert!(!c.torn, "read a cell left mid-write");
                assert_eq!(Some(v), c.value);
                assert_eq!(version, c.version);
            }
        }
        // `version` succeeded with `ver`.
        Err(RecvError::Empty) if ver > 0 || model.is_some_and(|c| c.version == 0) => {
            assert!(index < cells);
            if t {
                let c = model.expect("in range");
                assert!(!c.torn);
                assert_eq!(ver, c.version);
            }
        }
        Err(RecvError::Empty) => {
            assert!(index < cells);
            assert!(!t, "empty, but written");
        }
        Err(RecvError::Stalled { position }) => {
            assert_eq!(position, index);
            assert!(index < cells);
            if t {
                assert!(model.expect("in range").torn, "stalled on a whole cell");
            }
        }
        Err(RecvError::BufferTooSmall { needed }) => {
            assert!(index >= cells && needed == index as usize + 1);
        }
        Err(e) => panic!("latest read: {e:?} (after {READ_TRIES} tries)"),
    }
}
