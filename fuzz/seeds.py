#!/usr/bin/env python3
"""Writes the committed seeds of fuzz/corpus/TARGET/: valid operation
sequences (seed-*) that start a run deep in each target, and reproducers
of the holes of issue 13 (hole*). The byte formats are documented at the
top of each target (fuzz/fuzz_targets/*.rs) and in fuzz/README.md.

    python3 fuzz/seeds.py      # from the repository root or fuzz/
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def u16(n):
    return [n & 0xFF, n >> 8]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ---- spsc_attach: setup 0x31 = init, capacity 8 -----------------------
# Op bytes (op % 24): 0 claim producer(h) | 1 claim consumer(h) |
# 2/3 take over producer/consumer (h, alive) | 4/5 drop | 6/7 kill |
# 8 try_push | 9 try_pop | 10 push_slice(n) | 11 pop_into(n) |
# 12 write_chunk(n, how, k) | 13 read_chunk(n, how, k) | 14 send(b, t) |
# 15 recv(b, t) | 16 handle status | 17 status() | 18/19 peer write(off, v)
# | 20 queue peer write | 21 wakes | 22 re-attach | 23 replaced holders.
HEAD = 40  # pick byte for NAMED[10] = offset 256 (head)
TAIL = 32  # NAMED[8] = offset 128 (tail)
V_4000 = 6  # value byte: 0x4000_0000
spsc = [0x31,
        0, 1, 1, 2,                 # claim producer 1, consumer 2
        10, 5, 11, 3,               # push 5, pop 3
        12, 4, 0x40, 0,             # write_chunk(4), commit_all
        13, 3, 0x41, 0,             # read_chunk(3), get(0), release_all
        8, 9, 8, 8, 9,              # try_push/try_pop
        14, 0, 0, 15, 0, 0,         # send/recv, zero timeout
        14, 0x18, 2, 15, 0x1a, 3,   # send/recv, endless yields, tiny timeout
        10, 8, 11, 8, 10, 7, 11, 2, # around the wrap, full ring
        16, 17,                     # status of handles and of the ring
        6, 2, 3, 0,                 # producer killed, taken over by 3
        7, 3, 1, 0,                 # consumer killed, taken over by 1
        10, 3, 15, 0, 0, 21, 22,    # resume, wake, attach again
        4, 5, 0, 2, 1, 3, 10, 1, 11, 1, 17]
write("spsc_attach", "seed-ops", spsc)
# Hole 1: the head is written before the claim; then 50 into 8 slots, or
# a chunk of 40 (heap-buffer-overflow under ASan; with debug assertions,
# an overflow panic in Producer::free first).
write("spsc_attach", "hole1-push-slice", [0x31, 18, HEAD, V_4000, 0, 1, 10, 50])
write("spsc_attach", "hole1-write-chunk", [0x31, 18, HEAD, V_4000, 0, 1, 12, 40, 0x40, 0])
# ... or inside the take-over's liveness check (queued write).
write("spsc_attach", "hole1-during-takeover",
      [0x31, 0, 1, 10, 3, 6, 20, HEAD, V_4000, 2, 3, 0, 10, 50])
# The consumer side of the same move is checked (Corrupt): a deep seed.
write("spsc_attach", "seed-consumer-tail-written",
      [0x31, 18, TAIL, V_4000, 1, 2, 11, 50, 13, 40, 0x40, 0])

# ---- bytes_ring: setup 0x21 = init, 128 bytes ---------------------------
# Op bytes (op % 24): 0/1 claim producer/consumer(h) | 2/3 take over (h,
# alive) | 4/5 drop | 6/7 kill | 8 send(len) | 9 reserve(len, how, used) |
# 10 recv(buflen) | 11 peek(how, offset kind) | 12 drain(max, off) |
# 13 send_blocking(len, b, t) | 14 recv_blocking(buflen, b, t) |
# 15 handle status | 16 status() | 17/18 peer write | 19 queue | 20 wake |
# 21 re-attach | 22+ replaced holders.
byts = [0x21,
        0, 1, 1, 2,
        8, 10, 9, 20, 0, 20, 9, 30, 1, 12,   # send, reserve+commit (whole, part)
        10, 64, 11, 0, 1, 11, 5, 2,          # recv, peek (keep), peek+release
        12, 3, 4,                            # drain
        8, 40, 8, 40, 8, 40, 10, 64, 10, 64, # fill, wrap with padding
        8, 60, 10, 100, 8, 20, 12, 5, 0,
        13, 30, 0, 0, 14, 64, 0, 0,          # blocking, zero timeout
        13, 100, 0x18, 2, 14, 8, 0, 0,       # too large for buffer
        15, 16,
        9, 90, 2, 10,                        # reserve dropped (padding owed)
        4, 0, 3, 8, 10, 10, 64,              # drop publishes; new producer
        6, 2, 1, 0, 7, 3, 3, 0, 8, 5, 10, 64,
        20, 21, 16]
write("bytes_ring", "seed-ops", byts)
# Hole 2: RecordRef::read at an offset past the record.
write("bytes_ring", "hole2-read-offset", [0x21, 0, 1, 1, 2, 8, 10, 11, 0x05, 5])

# ---- mpmc_attach: setup 0x21 = init, capacity 8 -------------------------
# Op bytes (op % 18): 0 push(spins) | 1 pop(spins) | 2 push_slice(n) |
# 3 pop_into(n) | 4 send(b, t) | 5 recv(b, t) | 6 skip_stalled(which) |
# 7 abandon_push | 8 abandon_pop | 9 join(h, alive mask) |
# 10 leave(which..) | 11 users + status | 12 misc + wakes | 13/14 peer
# write | 15 queue | 16 re-attach | 17 burst(n).
mpmc = [0x21,
        0, 3, 0, 0, 1, 3, 2, 5, 3, 4, 4, 0, 0, 5, 0, 0,
        7, 0, 3, 1, 3, 1, 0,                 # hole: pop stalls
        5, 0x18, 2,                          # recv on the stall
        6, 0, 1, 3,                          # skip it, pop
        2, 6, 8, 17, 20, 6, 2,               # consumer dies; lap; skip
        17, 24, 3, 40,
        9, 1, 0xff, 9, 2, 0xff, 9, 3, 0x00, 11, 10, 0, 0, 11,
        12, 16, 11]
write("mpmc_attach", "seed-ops", mpmc)

# ---- sync_words: setup 0x31 = init, semaphore max 4; initial 2 -----------
# Every op: op byte (% 20), identity byte (% 3: tids 1..3; 15: bad id).
# 0 try_lock / 1,2 lock (timeout, poll, alive mask) | 3 unlock | 4 kill |
# 5 guard op (u32, kind) | 6 owner | 7 condvar wait(t) | 8 notify |
# 9 try_acquire | 10 acquire(t) | 11 post | 12 count | 13 prepare+wait |
# 14 notify | 15 wait_until(after, t) | 16/17 peer write | 18 queue |
# 19 attach again.
sync = [0x31, 2,
        0, 0, 0, 0, 0xff,                    # tid 1 try_lock
        5, 0, 9, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0,  # set 9, get
        0, 1, 0, 0, 0xff, 1, 1, 2, 0, 0xff,  # tid 2: would block, timed out
        7, 0, 0, 8, 1, 0,                    # condvar wait, notify
        6, 0, 3, 0,                          # owner; unlock
        0, 2, 0, 0, 0xff, 4, 2,              # tid 3 locks and dies
        1, 0, 2, 1, 0x00,                    # tid 1 takes over: owner died
        5, 0, 0, 0, 0, 0, 4, 3, 0,           # marks consistent, unlocks
        9, 0, 9, 0, 9, 0, 10, 0, 0, 10, 0, 2, 11, 0, 11, 0, 11, 0, 11, 0, 11, 0, 12, 0,
        13, 0, 0, 0, 14, 0, 14, 0, 15, 0, 2, 2, 14, 0, 15, 0, 0, 0,
        0, 1, 0, 0, 0xff, 4, 1, 1, 2, 2, 1, 0, 3, 2,  # dies; taken; not repaired
        0, 0, 0, 0, 0xff, 6, 0,              # not recoverable
        19, 0]
write("sync_words", "seed-ops", sync)

# ---- channel_probe ------------------------------------------------------
# flags (shape % 3, bit 2 raw, bit 3 flip, bit 4 1 ms, bit 5 no prefault),
# capacity exponent, size choice, type id, patches (count, then pick and
# value each), op count, then u16 counts for push_slice / pop_into.
for shape, name in [(0, "spsc"), (1, "bytes"), (2, "mpmc")]:
    write("channel_probe", f"seed-{name}", [shape, 3, 0, 0, 0, 9] + u16(20) + u16(20))
write("channel_probe", "seed-spsc-flip", [8, 3, 0, 0, 0, 9] + u16(4) + u16(4))
# Hole 1 through a named channel: the object's head is 0x4000_0000 when
# the opener's sender claims; push_slice of 1000 writes past the mapping.
write("channel_probe", "hole1-named-channel", [0, 3, 0, 0, 1, 60, V_4000, 1] + u16(1000) + u16(0))
