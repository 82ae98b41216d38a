/*
 * interlink.h: the C API of interlink (C99 and C++).
 *
 * Named channels and a robust mutex in POSIX shared memory, shared with
 * Rust programs that use interlink-linux (and with other C and C++
 * programs). Link with libinterlink_c.a (plus -lpthread -ldl -lm on older
 * glibc) or libinterlink_c.so; see docs/c-api.md.
 *
 * Conventions:
 *  - Every function returning int returns INTERLINK_OK (0) or a negative
 *    interlink_error; interlink_mutex_lock and _try_lock may also return
 *    INTERLINK_OWNER_DIED (1), with the lock held.
 *  - Handles are opaque; create/open store a new handle in *out (left
 *    untouched on failure); close frees it (close(NULL) does nothing).
 *  - Names are POSIX shm names: "/name", at most NAME_MAX bytes, no other '/'.
 *  - Timeouts are in nanoseconds; a negative timeout waits without limit.
 *  - Sending and receiving never allocate and never call back.
 *  - Threads: an SPSC, byte or mutex handle is used by one thread at a
 *    time; an MPMC handle may be used by any number of threads at once.
 *  - Elements (SPSC, MPMC) and mutex data are copied as bytes. elem_size
 *    is sizeof the C type and elem_align its alignment
 *    (INTERLINK_ALIGNOF(type)):
 *    a power of two up to 8 dividing the size. Supported sizes: 1 to 64,
 *    multiples of 8 up to 256, multiples of 64 up to 1024. The structure
 *    records the size and its shared alignment (the largest power of two
 *    up to 8 dividing the size), the same for 32- and 64-bit processes;
 *    opening checks those two only, not the Rust type id (see
 *    docs/c-api.md: Rust peers open C-created structures with
 *    ElementCheck::LayoutOnly).
 */
#ifndef INTERLINK_H
#define INTERLINK_H

#include <stddef.h>
#include <stdint.h>

/* The alignment of type T, for elem_align and data_align: alignof in
 * C++, _Alignof in C11, the offset of T after a char in C99. */
#if defined(__cplusplus)
#define INTERLINK_ALIGNOF(T) alignof(T)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define INTERLINK_ALIGNOF(T) _Alignof(T)
#else
#define INTERLINK_ALIGNOF(T) offsetof(struct { char c_; T t_; }, t_)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes. */
enum interlink_error {
    /* Success. */
    INTERLINK_OK = 0,
    /* Mutex: the lock is now yours, but its previous owner died holding
     * it and the data may be half-updated. Repair it, then call
     * interlink_mutex_consistent before unlocking (or the mutex becomes
     * not recoverable). */
    INTERLINK_OWNER_DIED = 1,
    /* A null pointer, an invalid name, an unsupported element size or
     * alignment, a capacity that cannot make a ring, or an operation the
     * handle's role does not allow (receiving on a sender). */
    INTERLINK_ERR_INVALID_ARGUMENT = -1,
    /* try_send: no room now. */
    INTERLINK_ERR_FULL = -2,
    /* try_recv: nothing to receive now. */
    INTERLINK_ERR_EMPTY = -3,
    /* The timeout passed: a blocking send, receive or lock, or an open
     * whose object did not appear (or was not published) in time. */
    INTERLINK_ERR_TIMED_OUT = -4,
    /* Byte channel: the message is larger than
     * interlink_bytes_max_payload and can never be sent. */
    INTERLINK_ERR_TOO_LARGE = -5,
    /* Byte channel: the buffer is shorter than the next message, which
     * stays in the channel; *len is set to the length needed. */
    INTERLINK_ERR_BUFFER_TOO_SMALL = -6,
    /* MPMC: another process claimed a slot and has not finished with it
     * (descheduled, or dead). */
    INTERLINK_ERR_STALLED = -7,
    /* SPSC or byte channel: the process holding the other role died (a
     * receiver first gets everything that was sent). */
    INTERLINK_ERR_PEER_DIED = -8,
    /* The shared memory holds values no honest peer writes. */
    INTERLINK_ERR_CORRUPT = -9,
    /* Create: an object in use already has this name. */
    INTERLINK_ERR_EXISTS = -10,
    /* Open: the object is another kind of structure, or has another
     * element size or alignment, layout version or size. */
    INTERLINK_ERR_INCOMPATIBLE = -11,
    /* Create or open: another live process holds the requested role. */
    INTERLINK_ERR_ROLE_TAKEN = -12,
    /* A system call failed (interlink_last_error says which). */
    INTERLINK_ERR_OS = -13,
    /* Mutex: a previous owner died and its successor unlocked without
     * marking the data consistent: the mutex is unusable. */
    INTERLINK_ERR_NOT_RECOVERABLE = -14,
    /* interlink_mutex_try_lock: someone else holds the lock. */
    INTERLINK_ERR_WOULD_BLOCK = -15,
    /* Mutex: this handle or the calling thread already holds the lock. */
    INTERLINK_ERR_DEADLOCK = -16,
    /* Mutex: a misbehaving peer kept rewriting the lock word; the lock
     * was not taken. */
    INTERLINK_ERR_CONTENDED = -17,
    /* Mutex: unlock or consistent on a handle that does not hold it. */
    INTERLINK_ERR_NOT_LOCKED = -18,
    /* Internal error (a caught Rust panic): a bug in interlink. */
    INTERLINK_ERR_INTERNAL = -19
};

/* Which end of an SPSC or byte channel a handle is. */
enum interlink_role {
    /* The sending end (one live process at a time holds it). */
    INTERLINK_SENDER = 0,
    /* The receiving end (one live process at a time holds it). */
    INTERLINK_RECEIVER = 1
};

/* One end of a named SPSC channel of fixed-size elements. */
typedef struct interlink_spsc interlink_spsc;
/* One end of a named byte channel (tagged variable-length messages). */
typedef struct interlink_bytes interlink_bytes;
/* A handle on a named MPMC channel of fixed-size elements. */
typedef struct interlink_mpmc interlink_mpmc;
/* A robust mutex with a data block, in a named shared memory object. */
typedef struct interlink_mutex interlink_mutex;

/* ---- Errors ---------------------------------------------------------- */

/* A static, human-readable description of code (never NULL; unknown
 * codes get a generic text). */
const char *interlink_strerror(int code);

/* The message of the calling thread's last failed create, open or
 * unlink (never NULL; valid until that thread's next failure). */
const char *interlink_last_error(void);

/* Removes the name of a channel or mutex object (for example one a
 * killed creator left). Processes that have it open keep using it.
 * Returns INTERLINK_OK, INVALID_ARGUMENT or OS (ENOENT included). */
int interlink_unlink(const char *name);

/* ---- SPSC channel: one sender, one receiver, fixed-size elements ----- */

/* Creates the channel `name` with `capacity` slots (a power of two from
 * 1 to 2^31) for elements of elem_size bytes aligned to elem_align, and
 * returns the `role` end (enum interlink_role) in *out. The name is
 * published only once the channel is complete; a stale object of the name
 * (creator and holders dead) is replaced. Closing the creator's handle
 * unlinks the name. Errors: INVALID_ARGUMENT, EXISTS, OS. */
int interlink_spsc_create(const char *name, uint32_t capacity, size_t elem_size,
                          size_t elem_align, int role, interlink_spsc **out);

/* Opens the channel `name`, waiting up to open_timeout_ns for it to
 * appear, and claims the `role` end (taking it over from a dead holder).
 * Errors: INVALID_ARGUMENT, TIMED_OUT, INCOMPATIBLE, ROLE_TAKEN, OS. */
int interlink_spsc_open(const char *name, size_t elem_size, size_t elem_align,
                        int role, int64_t open_timeout_ns, interlink_spsc **out);

/* Sender: copies elem_size bytes from *elem into the channel if there is
 * room now (never waits, never checks the peer). Errors: FULL, CORRUPT,
 * INVALID_ARGUMENT. */
int interlink_spsc_try_send(interlink_spsc *ch, const void *elem);

/* Sender: as try_send, waiting up to timeout_ns for room while the
 * receiver lives. Errors: TIMED_OUT, PEER_DIED, CORRUPT, INVALID_ARGUMENT. */
int interlink_spsc_send(interlink_spsc *ch, const void *elem, int64_t timeout_ns);

/* Receiver: copies the oldest element into *elem (elem_size bytes) if
 * one is ready (never waits, never checks the peer). Errors: EMPTY,
 * CORRUPT, INVALID_ARGUMENT. */
int interlink_spsc_try_recv(interlink_spsc *ch, void *elem);

/* Receiver: as try_recv, waiting up to timeout_ns; PEER_DIED once the
 * sender died and everything it sent was received. Errors: TIMED_OUT,
 * PEER_DIED, CORRUPT, INVALID_ARGUMENT. */
int interlink_spsc_recv(interlink_spsc *ch, void *elem, int64_t timeout_ns);

/* Releases the role, unmaps the channel and frees the handle. */
void interlink_spsc_close(interlink_spsc *ch);

/* ---- Byte channel: one sender, one receiver, tagged messages --------- */

/* Creates the byte channel `name` with `capacity` bytes of ring (a power
 * of two, at least 32) and returns the `role` end. As interlink_spsc_create. */
int interlink_bytes_create(const char *name, uint32_t capacity, int role,
                           interlink_bytes **out);

/* Opens the byte channel `name` and claims the `role` end. As
 * interlink_spsc_open. */
int interlink_bytes_open(const char *name, int role, int64_t open_timeout_ns,
                         interlink_bytes **out);

/* The largest payload one message may have (0 for NULL). */
uint32_t interlink_bytes_max_payload(const interlink_bytes *ch);

/* Sender: sends `len` bytes at `data` (NULL allowed when len is 0) with
 * `tag` if there is room now (never waits, never checks the peer).
 * Errors: FULL, TOO_LARGE, CORRUPT, INVALID_ARGUMENT. */
int interlink_bytes_try_send(interlink_bytes *ch, uint32_t tag, const void *data,
                             size_t len);

/* Sender: as try_send, waiting up to timeout_ns for room. Errors:
 * TIMED_OUT, TOO_LARGE, PEER_DIED, CORRUPT, INVALID_ARGUMENT. */
int interlink_bytes_send(interlink_bytes *ch, uint32_t tag, const void *data,
                         size_t len, int64_t timeout_ns);

/* Receiver: copies the next message into buf (cap bytes), its length into
 * *len and its tag into *tag (tag may be NULL) if one is ready (never
 * waits, never checks the peer). Errors: EMPTY, BUFFER_TOO_SMALL (*len =
 * length needed; the message stays), CORRUPT, INVALID_ARGUMENT. */
int interlink_bytes_try_recv(interlink_bytes *ch, uint32_t *tag, void *buf, size_t cap,
                             size_t *len);

/* Receiver: as try_recv, waiting up to timeout_ns. Errors: TIMED_OUT,
 * BUFFER_TOO_SMALL, PEER_DIED, CORRUPT, INVALID_ARGUMENT. */
int interlink_bytes_recv(interlink_bytes *ch, uint32_t *tag, void *buf, size_t cap,
                         size_t *len, int64_t timeout_ns);

/* Releases the role, unmaps the channel and frees the handle. */
void interlink_bytes_close(interlink_bytes *ch);

/* ---- MPMC channel: any number of senders and receivers --------------- */

/* Creates the MPMC channel `name` with `capacity` slots (a power of two
 * from 2 to 2^31) for elements of elem_size bytes aligned to elem_align. As
 * interlink_spsc_create, without roles. */
int interlink_mpmc_create(const char *name, uint32_t capacity, size_t elem_size,
                          size_t elem_align, interlink_mpmc **out);

/* Opens the MPMC channel `name`, waiting up to open_timeout_ns. Errors:
 * INVALID_ARGUMENT, TIMED_OUT, INCOMPATIBLE, OS. */
int interlink_mpmc_open(const char *name, size_t elem_size, size_t elem_align,
                        int64_t open_timeout_ns, interlink_mpmc **out);

/* Copies elem_size bytes from *elem into the channel if there is room
 * now. Errors: FULL, STALLED, CORRUPT, INVALID_ARGUMENT. */
int interlink_mpmc_try_send(interlink_mpmc *ch, const void *elem);

/* As try_send, waiting up to timeout_ns for room. Errors: TIMED_OUT,
 * STALLED, CORRUPT, INVALID_ARGUMENT. */
int interlink_mpmc_send(interlink_mpmc *ch, const void *elem, int64_t timeout_ns);

/* Copies the oldest element into *elem if one is ready (each element
 * goes to exactly one receiver). Errors: EMPTY, STALLED, CORRUPT,
 * INVALID_ARGUMENT. */
int interlink_mpmc_try_recv(interlink_mpmc *ch, void *elem);

/* As try_recv, waiting up to timeout_ns. Errors: TIMED_OUT, STALLED,
 * CORRUPT, INVALID_ARGUMENT. */
int interlink_mpmc_recv(interlink_mpmc *ch, void *elem, int64_t timeout_ns);

/* Unmaps the channel and frees the handle (no thread may use it after). */
void interlink_mpmc_close(interlink_mpmc *ch);

/* ---- Robust mutex ---------------------------------------------------- */

/* Creates the shared memory object `name` holding an unlocked mutex and
 * data_size zero bytes of data aligned to data_align (the same size rules
 * as elements). The creator's close unlinks the name. Errors:
 * INVALID_ARGUMENT, EXISTS, OS. */
int interlink_mutex_create(const char *name, size_t data_size, size_t data_align,
                           interlink_mutex **out);

/* Opens the mutex `name`, waiting up to open_timeout_ns for it to be
 * created and initialised. Errors: INVALID_ARGUMENT, TIMED_OUT,
 * INCOMPATIBLE, OS. */
int interlink_mutex_open(const char *name, size_t data_size, size_t data_align,
                         int64_t open_timeout_ns, interlink_mutex **out);

/* Takes the lock, waiting up to timeout_ns; a waiter checks every 10 ms
 * whether the owner died and then takes the lock over. Returns OK,
 * OWNER_DIED (the lock is held: repair, then interlink_mutex_consistent),
 * or TIMED_OUT, NOT_RECOVERABLE, DEADLOCK, CONTENDED, INVALID_ARGUMENT. */
int interlink_mutex_lock(interlink_mutex *m, int64_t timeout_ns);

/* Takes the lock if it is free now (never asks whether a holder lives).
 * Returns OK, OWNER_DIED, or WOULD_BLOCK, NOT_RECOVERABLE, DEADLOCK,
 * CONTENDED, INVALID_ARGUMENT. */
int interlink_mutex_try_lock(interlink_mutex *m);

/* The mutex's data while this handle holds the lock, NULL otherwise.
 * Read and write it only while locked. */
void *interlink_mutex_data(interlink_mutex *m);

/* After OWNER_DIED: declares the data repaired, so that the mutex stays
 * usable. Does nothing otherwise. Errors: NOT_LOCKED, INVALID_ARGUMENT. */
int interlink_mutex_consistent(interlink_mutex *m);

/* Releases the lock (after OWNER_DIED without consistent, the mutex
 * becomes not recoverable). Errors: NOT_LOCKED, INVALID_ARGUMENT. */
int interlink_mutex_unlock(interlink_mutex *m);

/* Unlocks if held (as interlink_mutex_unlock), unmaps and frees the
 * handle. A process that dies holding the lock leaves it to the next
 * waiter with INTERLINK_OWNER_DIED. */
void interlink_mutex_close(interlink_mutex *m);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* INTERLINK_H */
