/*
 * The C peer of tests/c_programs.rs: exchanges with the Rust test process
 * through an SPSC channel, a byte channel, an MPMC channel and a robust
 * mutex (see the modes below); and "smoke" calls every function of the
 * header in one process. Compiled with -std=c99 -Wall -Wextra -Werror.
 *
 *   peer recv PREFIX COUNT   create everything, receive and check
 *   peer send PREFIX COUNT   open everything, send; die holding the mutex
 *   peer smoke PREFIX        every function, in this process
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interlink.h"

/* The element of the SPSC channel: 16 bytes, alignment 8 (Rust: Quote). */
typedef struct {
    uint64_t seq;
    uint32_t a;
    uint32_t b;
} quote;

#define PATIENCE_NS ((int64_t)60 * 1000 * 1000 * 1000)
#define CAPACITY 256u
#define BYTES_CAPACITY 4096u
#define ROUNDS 2000u
#define SENTINEL UINT64_MAX

static void die(const char *what, int code) {
    fprintf(stderr, "C peer: %s: %s (%d): %s\n", what, interlink_strerror(code), code,
            interlink_last_error());
    exit(2);
}

#define CHECK(what, call)                                                      \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != INTERLINK_OK) die(what, rc_);                               \
    } while (0)

static void expect(int ok, const char *what, uint32_t i) {
    if (!ok) {
        fprintf(stderr, "C peer: %s #%u: wrong value\n", what, (unsigned)i);
        exit(3);
    }
}

static quote quote_of(uint32_t i) {
    quote q;
    q.seq = ((uint64_t)i + 1) * UINT64_C(0x9E3779B97F4A7C15);
    q.a = i;
    q.b = ~i;
    return q;
}

static uint64_t word_of(uint32_t i) { return (UINT64_C(0xA5A5A5A5) << 32) | i; }

static size_t message_of(uint32_t i, uint32_t *tag, uint8_t *buf) {
    size_t len = ((size_t)i * 37) % 301, j;
    for (j = 0; j < len; j++) buf[j] = (uint8_t)(i * 7 + j);
    *tag = i % 7;
    return len;
}

static char *name_of(const char *prefix, const char *what) {
    static char names[4][256];
    static int next;
    char *n = names[next++ % 4];
    snprintf(n, 256, "%s-%s", prefix, what);
    return n;
}

static void increment(interlink_mutex *m, uint32_t rounds) {
    uint32_t r;
    for (r = 0; r < rounds; r++) {
        uint64_t n;
        CHECK("mutex lock", interlink_mutex_lock(m, PATIENCE_NS));
        memcpy(&n, interlink_mutex_data(m), sizeof n);
        n++;
        memcpy(interlink_mutex_data(m), &n, sizeof n);
        CHECK("mutex unlock", interlink_mutex_unlock(m));
    }
}

static int recv_all(const char *prefix, uint32_t count) {
    interlink_spsc *rx;
    interlink_bytes *brx;
    interlink_mpmc *mp;
    interlink_mutex *m;
    uint8_t *seen = calloc(count, 1);
    uint8_t buf[512], want[512];
    uint32_t i;
    quote q;
    uint64_t n;
    int rc;

    CHECK("create spsc", interlink_spsc_create(name_of(prefix, "s"), CAPACITY, sizeof(quote),
                                               INTERLINK_ALIGNOF(quote), INTERLINK_RECEIVER, &rx));
    CHECK("create bytes", interlink_bytes_create(name_of(prefix, "b"), BYTES_CAPACITY,
                                                 INTERLINK_RECEIVER, &brx));
    CHECK("create mpmc", interlink_mpmc_create(name_of(prefix, "m"), CAPACITY, sizeof(uint64_t),
                                               INTERLINK_ALIGNOF(uint64_t), &mp));
    CHECK("create mutex",
          interlink_mutex_create(name_of(prefix, "x"), sizeof(uint64_t), INTERLINK_ALIGNOF(uint64_t), &m));

    increment(m, ROUNDS);

    for (i = 0; i < count; i++) {
        quote w = quote_of(i);
        CHECK("spsc recv", interlink_spsc_recv(rx, &q, PATIENCE_NS));
        expect(q.seq == w.seq && q.a == w.a && q.b == w.b, "spsc", i);
    }
    for (i = 0; i < count; i++) {
        uint32_t tag, want_tag;
        size_t len, want_len = message_of(i, &want_tag, want);
        CHECK("bytes recv", interlink_bytes_recv(brx, &tag, buf, sizeof buf, &len, PATIENCE_NS));
        expect(tag == want_tag && len == want_len && memcmp(buf, want, len) == 0, "bytes", i);
    }
    for (i = 0; i < count; i++) {
        uint64_t v;
        CHECK("mpmc recv", interlink_mpmc_recv(mp, &v, PATIENCE_NS));
        expect((v >> 32) == UINT64_C(0xA5A5A5A5) && (uint32_t)v < count && !seen[(uint32_t)v],
               "mpmc", i);
        seen[(uint32_t)v] = 1;
    }
    free(seen);

    /* The sentinel: the other side's owner of the mutex has died. */
    CHECK("spsc sentinel", interlink_spsc_recv(rx, &q, PATIENCE_NS));
    expect(q.seq == SENTINEL, "sentinel", count);
    rc = interlink_mutex_lock(m, PATIENCE_NS);
    if (rc != INTERLINK_OWNER_DIED) die("lock after the owner died: expected OWNER_DIED", rc);
    memcpy(&n, interlink_mutex_data(m), sizeof n);
    expect(n == 2 * ROUNDS + 1, "counter after the owner died", 0);
    CHECK("consistent", interlink_mutex_consistent(m));
    CHECK("unlock", interlink_mutex_unlock(m));
    CHECK("lock again", interlink_mutex_lock(m, PATIENCE_NS));
    CHECK("unlock again", interlink_mutex_unlock(m));

    interlink_spsc_close(rx);
    interlink_bytes_close(brx);
    interlink_mpmc_close(mp);
    interlink_mutex_close(m);
    return 0;
}

static int send_all(const char *prefix, uint32_t count) {
    interlink_spsc *tx;
    interlink_bytes *btx;
    interlink_mpmc *mp;
    interlink_mutex *m;
    uint8_t buf[512];
    uint32_t i;
    quote q;
    uint64_t n;

    CHECK("open spsc", interlink_spsc_open(name_of(prefix, "s"), sizeof(quote), INTERLINK_ALIGNOF(quote),
                                           INTERLINK_SENDER, PATIENCE_NS, &tx));
    CHECK("open bytes",
          interlink_bytes_open(name_of(prefix, "b"), INTERLINK_SENDER, PATIENCE_NS, &btx));
    CHECK("open mpmc", interlink_mpmc_open(name_of(prefix, "m"), sizeof(uint64_t),
                                           INTERLINK_ALIGNOF(uint64_t), PATIENCE_NS, &mp));
    CHECK("open mutex", interlink_mutex_open(name_of(prefix, "x"), sizeof(uint64_t),
                                             INTERLINK_ALIGNOF(uint64_t), PATIENCE_NS, &m));

    increment(m, ROUNDS);

    for (i = 0; i < count; i++) {
        q = quote_of(i);
        CHECK("spsc send", interlink_spsc_send(tx, &q, PATIENCE_NS));
    }
    for (i = 0; i < count; i++) {
        uint32_t tag;
        size_t len = message_of(i, &tag, buf);
        CHECK("bytes send", interlink_bytes_send(btx, tag, buf, len, PATIENCE_NS));
    }
    for (i = 0; i < count; i++) {
        uint64_t v = word_of(i);
        CHECK("mpmc send", interlink_mpmc_send(mp, &v, PATIENCE_NS));
    }

    /* Take the lock, count once more, tell the receiver, and die holding it. */
    CHECK("lock before dying", interlink_mutex_lock(m, PATIENCE_NS));
    memcpy(&n, interlink_mutex_data(m), sizeof n);
    n++;
    memcpy(interlink_mutex_data(m), &n, sizeof n);
    q.seq = SENTINEL;
    CHECK("spsc sentinel", interlink_spsc_send(tx, &q, PATIENCE_NS));
    _exit(0);
}

/* Every function of the header, in one process, with the error paths a
 * caller can reach. */
static int smoke(const char *prefix) {
    interlink_spsc *tx, *rx, *none = NULL;
    interlink_bytes *btx, *brx;
    interlink_mpmc *mp;
    interlink_mutex *m, *m2;
    uint8_t buf[64];
    uint32_t tag;
    size_t len;
    quote q = quote_of(7), r;
    uint64_t v = 42, w = 0;
    int code;

    for (code = -19; code <= 1; code++)
        if (interlink_strerror(code) == NULL || interlink_strerror(code)[0] == '\0') return 10;
    if (strcmp(interlink_strerror(12345), "unknown interlink error code") != 0) return 11;

    /* Argument checks. */
    if (interlink_spsc_create(name_of(prefix, "s"), 8, 3, 2, INTERLINK_SENDER, &none) !=
        INTERLINK_ERR_INVALID_ARGUMENT)
        return 12;
    if (strstr(interlink_last_error(), "alignment") == NULL) return 13;
    if (interlink_spsc_create(name_of(prefix, "s"), 8, 2000, 8, INTERLINK_SENDER, &none) !=
        INTERLINK_ERR_INVALID_ARGUMENT)
        return 14;
    if (interlink_spsc_create(NULL, 8, 16, 8, INTERLINK_SENDER, &none) !=
        INTERLINK_ERR_INVALID_ARGUMENT)
        return 15;
    if (none != NULL) return 16;
    if (interlink_spsc_open("/interlink-c-smoke-missing", 16, 8, INTERLINK_SENDER, 1000000, &none) !=
        INTERLINK_ERR_TIMED_OUT)
        return 17;

    /* SPSC: both ends here. */
    CHECK("spsc create", interlink_spsc_create(name_of(prefix, "s"), 2, sizeof q, INTERLINK_ALIGNOF(quote),
                                               INTERLINK_SENDER, &tx));
    if (interlink_spsc_create(name_of(prefix, "s"), 2, sizeof q, INTERLINK_ALIGNOF(quote), INTERLINK_SENDER,
                              &none) != INTERLINK_ERR_EXISTS)
        return 20;
    if (interlink_spsc_open(name_of(prefix, "s"), 8, 8, INTERLINK_RECEIVER, 0, &none) !=
        INTERLINK_ERR_INCOMPATIBLE)
        return 21;
    if (interlink_spsc_open(name_of(prefix, "s"), sizeof q, INTERLINK_ALIGNOF(quote), INTERLINK_SENDER, 0,
                            &none) != INTERLINK_ERR_ROLE_TAKEN)
        return 22;
    CHECK("spsc open", interlink_spsc_open(name_of(prefix, "s"), sizeof q, INTERLINK_ALIGNOF(quote),
                                           INTERLINK_RECEIVER, 0, &rx));
    if (interlink_spsc_try_recv(rx, &r) != INTERLINK_ERR_EMPTY) return 23;
    if (interlink_spsc_recv(rx, &r, 1000) != INTERLINK_ERR_TIMED_OUT) return 24;
    if (interlink_spsc_try_recv(tx, &r) != INTERLINK_ERR_INVALID_ARGUMENT) return 25;
    if (interlink_spsc_try_send(tx, NULL) != INTERLINK_ERR_INVALID_ARGUMENT) return 26;
    CHECK("spsc try_send", interlink_spsc_try_send(tx, &q));
    CHECK("spsc send", interlink_spsc_send(tx, &q, 0));
    if (interlink_spsc_try_send(tx, &q) != INTERLINK_ERR_FULL) return 27;
    if (interlink_spsc_send(tx, &q, 1000) != INTERLINK_ERR_TIMED_OUT) return 28;
    CHECK("spsc try_recv", interlink_spsc_try_recv(rx, &r));
    if (r.seq != q.seq || r.a != q.a || r.b != q.b) return 29;
    CHECK("spsc recv", interlink_spsc_recv(rx, &r, -1));
    interlink_spsc_close(rx);
    interlink_spsc_close(tx);
    interlink_spsc_close(NULL);

    /* Byte channel. */
    CHECK("bytes create",
          interlink_bytes_create(name_of(prefix, "b"), 64, INTERLINK_RECEIVER, &brx));
    CHECK("bytes open", interlink_bytes_open(name_of(prefix, "b"), INTERLINK_SENDER, 0, &btx));
    if (interlink_bytes_max_payload(btx) == 0 || interlink_bytes_max_payload(NULL) != 0) return 30;
    if (interlink_bytes_try_send(btx, 1, buf, interlink_bytes_max_payload(btx) + 1) !=
        INTERLINK_ERR_TOO_LARGE)
        return 31;
    if (interlink_bytes_try_recv(brx, &tag, buf, sizeof buf, &len) != INTERLINK_ERR_EMPTY)
        return 32;
    memset(buf, 0x5A, sizeof buf);
    CHECK("bytes try_send", interlink_bytes_try_send(btx, 9, buf, 20));
    CHECK("bytes send empty", interlink_bytes_send(btx, 10, NULL, 0, -1));
    if (interlink_bytes_try_recv(brx, &tag, buf, 4, &len) != INTERLINK_ERR_BUFFER_TOO_SMALL ||
        len != 20)
        return 33;
    CHECK("bytes try_recv", interlink_bytes_try_recv(brx, &tag, buf, sizeof buf, &len));
    if (tag != 9 || len != 20 || buf[19] != 0x5A) return 34;
    CHECK("bytes recv", interlink_bytes_recv(brx, NULL, NULL, 0, &len, 0));
    if (len != 0) return 35;
    if (interlink_bytes_recv(brx, &tag, buf, sizeof buf, &len, 1000) != INTERLINK_ERR_TIMED_OUT)
        return 36;
    interlink_bytes_close(btx);
    interlink_bytes_close(brx);

    /* MPMC. */
    CHECK("mpmc create",
          interlink_mpmc_create(name_of(prefix, "m"), 2, sizeof v, INTERLINK_ALIGNOF(uint64_t), &mp));
    if (interlink_mpmc_try_recv(mp, &w) != INTERLINK_ERR_EMPTY) return 40;
    CHECK("mpmc try_send", interlink_mpmc_try_send(mp, &v));
    CHECK("mpmc send", interlink_mpmc_send(mp, &v, 0));
    if (interlink_mpmc_try_send(mp, &v) != INTERLINK_ERR_FULL) return 41;
    CHECK("mpmc try_recv", interlink_mpmc_try_recv(mp, &w));
    CHECK("mpmc recv", interlink_mpmc_recv(mp, &w, -1));
    if (w != 42) return 42;
    if (interlink_mpmc_recv(mp, &w, 1000) != INTERLINK_ERR_TIMED_OUT) return 43;
    interlink_mpmc_close(mp);

    /* Mutex: two handles in one process. */
    CHECK("mutex create",
          interlink_mutex_create(name_of(prefix, "x"), sizeof v, INTERLINK_ALIGNOF(uint64_t), &m));
    CHECK("mutex open",
          interlink_mutex_open(name_of(prefix, "x"), sizeof v, INTERLINK_ALIGNOF(uint64_t), 0, &m2));
    if (interlink_mutex_data(m) != NULL) return 50;
    if (interlink_mutex_unlock(m) != INTERLINK_ERR_NOT_LOCKED) return 51;
    if (interlink_mutex_consistent(m) != INTERLINK_ERR_NOT_LOCKED) return 52;
    CHECK("mutex try_lock", interlink_mutex_try_lock(m));
    if (interlink_mutex_lock(m, 0) != INTERLINK_ERR_DEADLOCK) return 53;
    /* Another handle, the same thread: the lock word names this thread. */
    if (interlink_mutex_try_lock(m2) != INTERLINK_ERR_DEADLOCK) return 54;
    memcpy(interlink_mutex_data(m), &v, sizeof v);
    CHECK("mutex consistent (no-op)", interlink_mutex_consistent(m));
    CHECK("mutex unlock", interlink_mutex_unlock(m));
    CHECK("mutex lock", interlink_mutex_lock(m2, -1));
    memcpy(&w, interlink_mutex_data(m2), sizeof w);
    if (w != 42) return 55;
    interlink_mutex_close(m2); /* unlocks */
    CHECK("mutex lock after close", interlink_mutex_lock(m, 0));
    CHECK("mutex unlock", interlink_mutex_unlock(m));
    interlink_mutex_close(m);

    /* Unlink: the names are gone (the creators' closes unlinked them). */
    if (interlink_unlink(name_of(prefix, "x")) != INTERLINK_ERR_OS) return 60;
    if (interlink_unlink("no slash") != INTERLINK_ERR_INVALID_ARGUMENT) return 61;
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "smoke") == 0) return smoke(argv[2]);
    if (argc == 4 && strcmp(argv[1], "recv") == 0)
        return recv_all(argv[2], (uint32_t)strtoul(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "send") == 0)
        return send_all(argv[2], (uint32_t)strtoul(argv[3], NULL, 10));
    fprintf(stderr, "usage: %s recv|send PREFIX COUNT | smoke PREFIX\n", argv[0]);
    return 64;
}
