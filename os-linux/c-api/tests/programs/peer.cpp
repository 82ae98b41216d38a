// The C++ peer of tests/c_programs.rs: the same exchange as peer.c, in
// C++17 with RAII owners of the handles, and the MPMC channel shared by
// two threads through one handle (MPMC handles may be used concurrently).
// Compiled with -std=c++17 -Wall -Wextra -Werror -pedantic.
//
//   peer-cpp recv PREFIX COUNT   create everything, receive and check
//   peer-cpp send PREFIX COUNT   open everything, send; die holding the mutex

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "interlink.h"

namespace {

struct Quote {
    std::uint64_t seq;
    std::uint32_t a;
    std::uint32_t b;
};
static_assert(sizeof(Quote) == 16, "no padding");

constexpr std::int64_t kPatienceNs = 60LL * 1000 * 1000 * 1000;
constexpr std::uint32_t kCapacity = 256;
constexpr std::uint32_t kBytesCapacity = 4096;
constexpr std::uint64_t kRounds = 2000;
constexpr std::uint64_t kSentinel = UINT64_MAX;

// Throws with the code's name and the last create/open message.
void check(const char *what, int rc, int want = INTERLINK_OK) {
    if (rc != want) {
        throw std::runtime_error(std::string(what) + ": " + interlink_strerror(rc) + " (" +
                                 std::to_string(rc) + "): " + interlink_last_error());
    }
}

struct SpscClose {
    void operator()(interlink_spsc *p) const { interlink_spsc_close(p); }
};
struct BytesClose {
    void operator()(interlink_bytes *p) const { interlink_bytes_close(p); }
};
struct MpmcClose {
    void operator()(interlink_mpmc *p) const { interlink_mpmc_close(p); }
};
struct MutexClose {
    void operator()(interlink_mutex *p) const { interlink_mutex_close(p); }
};
using Spsc = std::unique_ptr<interlink_spsc, SpscClose>;
using Bytes = std::unique_ptr<interlink_bytes, BytesClose>;
using Mpmc = std::unique_ptr<interlink_mpmc, MpmcClose>;
using MutexHandle = std::unique_ptr<interlink_mutex, MutexClose>;

Quote quote_of(std::uint32_t i) {
    return Quote{(std::uint64_t(i) + 1) * 0x9E3779B97F4A7C15ULL, i, ~i};
}

std::uint64_t word_of(std::uint32_t i) { return (0xA5A5A5A5ULL << 32) | i; }

std::vector<std::uint8_t> message_of(std::uint32_t i, std::uint32_t &tag) {
    std::vector<std::uint8_t> m((std::size_t(i) * 37) % 301);
    for (std::size_t j = 0; j < m.size(); j++) m[j] = std::uint8_t(i * 7 + j);
    tag = i % 7;
    return m;
}

struct Names {
    std::string s, b, m, x;
    explicit Names(const std::string &prefix)
        : s(prefix + "-s"), b(prefix + "-b"), m(prefix + "-m"), x(prefix + "-x") {}
};

// Holds the lock for a scope; the data as a u64.
class Locked {
  public:
    explicit Locked(interlink_mutex *m, int want = INTERLINK_OK) : m_(m) {
        check("mutex lock", interlink_mutex_lock(m_, kPatienceNs), want);
    }
    ~Locked() {
        if (m_ != nullptr) interlink_mutex_unlock(m_);
    }
    Locked(const Locked &) = delete;
    Locked &operator=(const Locked &) = delete;
    std::uint64_t get() const {
        std::uint64_t n;
        std::memcpy(&n, interlink_mutex_data(m_), sizeof n);
        return n;
    }
    void set(std::uint64_t n) { std::memcpy(interlink_mutex_data(m_), &n, sizeof n); }
    // Leaves the lock held (the process is about to die).
    void leak() { m_ = nullptr; }

  private:
    interlink_mutex *m_;
};

void increment(interlink_mutex *m) {
    for (std::uint64_t r = 0; r < kRounds; r++) {
        Locked l(m);
        l.set(l.get() + 1);
    }
}

void expect(bool ok, const char *what, std::uint32_t i) {
    if (!ok) throw std::runtime_error(std::string(what) + " #" + std::to_string(i) + ": wrong value");
}

int recv_all(const std::string &prefix, std::uint32_t count) {
    Names n(prefix);
    interlink_spsc *s = nullptr;
    interlink_bytes *b = nullptr;
    interlink_mpmc *mp = nullptr;
    interlink_mutex *mx = nullptr;
    check("create spsc", interlink_spsc_create(n.s.c_str(), kCapacity, sizeof(Quote),
                                               INTERLINK_ALIGNOF(Quote), INTERLINK_RECEIVER, &s));
    Spsc rx(s);
    check("create bytes",
          interlink_bytes_create(n.b.c_str(), kBytesCapacity, INTERLINK_RECEIVER, &b));
    Bytes brx(b);
    check("create mpmc", interlink_mpmc_create(n.m.c_str(), kCapacity, sizeof(std::uint64_t),
                                               INTERLINK_ALIGNOF(std::uint64_t), &mp));
    Mpmc mpmc(mp);
    check("create mutex", interlink_mutex_create(n.x.c_str(), sizeof(std::uint64_t),
                                                 INTERLINK_ALIGNOF(std::uint64_t), &mx));
    MutexHandle mutex(mx);

    increment(mutex.get());

    for (std::uint32_t i = 0; i < count; i++) {
        Quote q{}, w = quote_of(i);
        check("spsc recv", interlink_spsc_recv(rx.get(), &q, kPatienceNs));
        expect(q.seq == w.seq && q.a == w.a && q.b == w.b, "spsc", i);
    }
    std::vector<std::uint8_t> buf(512);
    for (std::uint32_t i = 0; i < count; i++) {
        std::uint32_t tag = 0, want_tag = 0;
        std::size_t len = 0;
        auto want = message_of(i, want_tag);
        check("bytes recv",
              interlink_bytes_recv(brx.get(), &tag, buf.data(), buf.size(), &len, kPatienceNs));
        expect(tag == want_tag && len == want.size() &&
                   std::memcmp(buf.data(), want.data(), len) == 0,
               "bytes", i);
    }
    // Two threads receive through the one MPMC handle; together they get
    // every value exactly once.
    std::vector<std::uint8_t> seen(count, 0);
    std::vector<std::uint64_t> got[2];
    std::string failure[2];
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; t++) {
            threads.emplace_back([&, t] {
                std::uint32_t share = count / 2 + (t == 0 ? count % 2 : 0);
                for (std::uint32_t i = 0; i < share; i++) {
                    std::uint64_t v = 0;
                    int rc = interlink_mpmc_recv(mpmc.get(), &v, kPatienceNs);
                    if (rc != INTERLINK_OK) {
                        failure[t] = interlink_strerror(rc);
                        return;
                    }
                    got[t].push_back(v);
                }
            });
        }
        for (auto &th : threads) th.join();
    }
    for (int t = 0; t < 2; t++) {
        if (!failure[t].empty()) throw std::runtime_error("mpmc recv: " + failure[t]);
        for (std::uint64_t v : got[t]) {
            std::uint32_t i = std::uint32_t(v);
            expect((v >> 32) == 0xA5A5A5A5ULL && i < count && !seen[i], "mpmc", i);
            seen[i] = 1;
        }
    }

    Quote q{};
    check("spsc sentinel", interlink_spsc_recv(rx.get(), &q, kPatienceNs));
    expect(q.seq == kSentinel, "sentinel", count);
    {
        Locked l(mutex.get(), INTERLINK_OWNER_DIED);
        expect(l.get() == 2 * kRounds + 1, "counter after the owner died", 0);
        check("consistent", interlink_mutex_consistent(mutex.get()));
    }
    Locked again(mutex.get());
    return 0;
}

int send_all(const std::string &prefix, std::uint32_t count) {
    Names n(prefix);
    interlink_spsc *s = nullptr;
    interlink_bytes *b = nullptr;
    interlink_mpmc *mp = nullptr;
    interlink_mutex *mx = nullptr;
    check("open spsc", interlink_spsc_open(n.s.c_str(), sizeof(Quote), INTERLINK_ALIGNOF(Quote),
                                           INTERLINK_SENDER, kPatienceNs, &s));
    Spsc tx(s);
    check("open bytes", interlink_bytes_open(n.b.c_str(), INTERLINK_SENDER, kPatienceNs, &b));
    Bytes btx(b);
    check("open mpmc", interlink_mpmc_open(n.m.c_str(), sizeof(std::uint64_t),
                                           INTERLINK_ALIGNOF(std::uint64_t), kPatienceNs, &mp));
    Mpmc mpmc(mp);
    check("open mutex", interlink_mutex_open(n.x.c_str(), sizeof(std::uint64_t),
                                             INTERLINK_ALIGNOF(std::uint64_t), kPatienceNs, &mx));
    MutexHandle mutex(mx);

    increment(mutex.get());

    for (std::uint32_t i = 0; i < count; i++) {
        Quote q = quote_of(i);
        check("spsc send", interlink_spsc_send(tx.get(), &q, kPatienceNs));
    }
    for (std::uint32_t i = 0; i < count; i++) {
        std::uint32_t tag = 0;
        auto m = message_of(i, tag);
        check("bytes send", interlink_bytes_send(btx.get(), tag, m.data(), m.size(), kPatienceNs));
    }
    // Two threads send through the one MPMC handle: even and odd values.
    std::string failure[2];
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; t++) {
            threads.emplace_back([&, t] {
                for (std::uint32_t i = std::uint32_t(t); i < count; i += 2) {
                    std::uint64_t v = word_of(i);
                    int rc = interlink_mpmc_send(mpmc.get(), &v, kPatienceNs);
                    if (rc != INTERLINK_OK) {
                        failure[t] = interlink_strerror(rc);
                        return;
                    }
                }
            });
        }
        for (auto &th : threads) th.join();
    }
    for (auto &f : failure)
        if (!f.empty()) throw std::runtime_error("mpmc send: " + f);

    // Take the lock, count once more, tell the receiver, die holding it.
    Locked l(mutex.get());
    l.set(l.get() + 1);
    l.leak();
    Quote sentinel{kSentinel, 0, 0};
    check("spsc sentinel", interlink_spsc_send(tx.get(), &sentinel, kPatienceNs));
    std::fflush(nullptr);
    _exit(0);
}

}  // namespace

int main(int argc, char **argv) {
    try {
        if (argc == 4 && std::string(argv[1]) == "recv")
            return recv_all(argv[2], std::uint32_t(std::strtoul(argv[3], nullptr, 10)));
        if (argc == 4 && std::string(argv[1]) == "send")
            return send_all(argv[2], std::uint32_t(std::strtoul(argv[3], nullptr, 10)));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "C++ peer: %s\n", e.what());
        return 2;
    }
    std::fprintf(stderr, "usage: %s recv|send PREFIX COUNT\n", argv[0]);
    return 64;
}
