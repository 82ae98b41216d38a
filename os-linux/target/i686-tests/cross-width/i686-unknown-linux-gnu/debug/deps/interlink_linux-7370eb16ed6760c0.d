/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/interlink_linux-7370eb16ed6760c0.d: /work/main/os-linux/src/lib.rs /work/main/os-linux/src/channel/mod.rs /work/main/os-linux/src/channel/broadcast.rs /work/main/os-linux/src/channel/bytes.rs /work/main/os-linux/src/channel/create.rs /work/main/os-linux/src/channel/error.rs /work/main/os-linux/src/channel/fanout.rs /work/main/os-linux/src/channel/latest.rs /work/main/os-linux/src/channel/many_to_one.rs /work/main/os-linux/src/channel/mpmc.rs /work/main/os-linux/src/channel/object.rs /work/main/os-linux/src/channel/open.rs /work/main/os-linux/src/channel/options.rs /work/main/os-linux/src/channel/pool.rs /work/main/os-linux/src/channel/request.rs /work/main/os-linux/src/channel/sealed.rs /work/main/os-linux/src/channel/shape.rs /work/main/os-linux/src/channel/spsc.rs /work/main/os-linux/src/channel/waiting.rs /work/main/os-linux/src/clock.rs /work/main/os-linux/src/error/mod.rs /work/main/os-linux/src/error/shm.rs /work/main/os-linux/src/eventfd.rs /work/main/os-linux/src/futex.rs /work/main/os-linux/src/inspect/mod.rs /work/main/os-linux/src/inspect/collect.rs /work/main/os-linux/src/inspect/object.rs /work/main/os-linux/src/inspect/probing.rs /work/main/os-linux/src/inspect/sysv.rs /work/main/os-linux/src/liveness/mod.rs /work/main/os-linux/src/liveness/judge.rs /work/main/os-linux/src/liveness/presence.rs /work/main/os-linux/src/liveness/task.rs /work/main/os-linux/src/lock.rs /work/main/os-linux/src/mapping/mod.rs /work/main/os-linux/src/mapping/copy.rs /work/main/os-linux/src/mapping/fd.rs /work/main/os-linux/src/mapping/options.rs /work/main/os-linux/src/mapping/pages.rs /work/main/os-linux/src/mapping/read_only.rs /work/main/os-linux/src/mapping/writable.rs /work/main/os-linux/src/memfd.rs /work/main/os-linux/src/mq.rs /work/main/os-linux/src/pipe.rs /work/main/os-linux/src/posix.rs /work/main/os-linux/src/process.rs /work/main/os-linux/src/readiness.rs /work/main/os-linux/src/sem.rs /work/main/os-linux/src/shm/mod.rs /work/main/os-linux/src/shm/building.rs /work/main/os-linux/src/shm/claim.rs /work/main/os-linux/src/shm/object.rs /work/main/os-linux/src/shm_name.rs /work/main/os-linux/src/signal.rs /work/main/os-linux/src/socket.rs /work/main/os-linux/src/sysv/mod.rs /work/main/os-linux/src/sysv/error.rs /work/main/os-linux/src/sysv/key.rs /work/main/os-linux/src/sysv/mark.rs /work/main/os-linux/src/sysv/queue.rs /work/main/os-linux/src/sysv/segment.rs

/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/libinterlink_linux-7370eb16ed6760c0.rlib: /work/main/os-linux/src/lib.rs /work/main/os-linux/src/channel/mod.rs /work/main/os-linux/src/channel/broadcast.rs /work/main/os-linux/src/channel/bytes.rs /work/main/os-linux/src/channel/create.rs /work/main/os-linux/src/channel/error.rs /work/main/os-linux/src/channel/fanout.rs /work/main/os-linux/src/channel/latest.rs /work/main/os-linux/src/channel/many_to_one.rs /work/main/os-linux/src/channel/mpmc.rs /work/main/os-linux/src/channel/object.rs /work/main/os-linux/src/channel/open.rs /work/main/os-linux/src/channel/options.rs /work/main/os-linux/src/channel/pool.rs /work/main/os-linux/src/channel/request.rs /work/main/os-linux/src/channel/sealed.rs /work/main/os-linux/src/channel/shape.rs /work/main/os-linux/src/channel/spsc.rs /work/main/os-linux/src/channel/waiting.rs /work/main/os-linux/src/clock.rs /work/main/os-linux/src/error/mod.rs /work/main/os-linux/src/error/shm.rs /work/main/os-linux/src/eventfd.rs /work/main/os-linux/src/futex.rs /work/main/os-linux/src/inspect/mod.rs /work/main/os-linux/src/inspect/collect.rs /work/main/os-linux/src/inspect/object.rs /work/main/os-linux/src/inspect/probing.rs /work/main/os-linux/src/inspect/sysv.rs /work/main/os-linux/src/liveness/mod.rs /work/main/os-linux/src/liveness/judge.rs /work/main/os-linux/src/liveness/presence.rs /work/main/os-linux/src/liveness/task.rs /work/main/os-linux/src/lock.rs /work/main/os-linux/src/mapping/mod.rs /work/main/os-linux/src/mapping/copy.rs /work/main/os-linux/src/mapping/fd.rs /work/main/os-linux/src/mapping/options.rs /work/main/os-linux/src/mapping/pages.rs /work/main/os-linux/src/mapping/read_only.rs /work/main/os-linux/src/mapping/writable.rs /work/main/os-linux/src/memfd.rs /work/main/os-linux/src/mq.rs /work/main/os-linux/src/pipe.rs /work/main/os-linux/src/posix.rs /work/main/os-linux/src/process.rs /work/main/os-linux/src/readiness.rs /work/main/os-linux/src/sem.rs /work/main/os-linux/src/shm/mod.rs /work/main/os-linux/src/shm/building.rs /work/main/os-linux/src/shm/claim.rs /work/main/os-linux/src/shm/object.rs /work/main/os-linux/src/shm_name.rs /work/main/os-linux/src/signal.rs /work/main/os-linux/src/socket.rs /work/main/os-linux/src/sysv/mod.rs /work/main/os-linux/src/sysv/error.rs /work/main/os-linux/src/sysv/key.rs /work/main/os-linux/src/sysv/mark.rs /work/main/os-linux/src/sysv/queue.rs /work/main/os-linux/src/sysv/segment.rs

/work/main/os-linux/target/i686-tests/cross-width/i686-unknown-linux-gnu/debug/deps/libinterlink_linux-7370eb16ed6760c0.rmeta: /work/main/os-linux/src/lib.rs /work/main/os-linux/src/channel/mod.rs /work/main/os-linux/src/channel/broadcast.rs /work/main/os-linux/src/channel/bytes.rs /work/main/os-linux/src/channel/create.rs /work/main/os-linux/src/channel/error.rs /work/main/os-linux/src/channel/fanout.rs /work/main/os-linux/src/channel/latest.rs /work/main/os-linux/src/channel/many_to_one.rs /work/main/os-linux/src/channel/mpmc.rs /work/main/os-linux/src/channel/object.rs /work/main/os-linux/src/channel/open.rs /work/main/os-linux/src/channel/options.rs /work/main/os-linux/src/channel/pool.rs /work/main/os-linux/src/channel/request.rs /work/main/os-linux/src/channel/sealed.rs /work/main/os-linux/src/channel/shape.rs /work/main/os-linux/src/channel/spsc.rs /work/main/os-linux/src/channel/waiting.rs /work/main/os-linux/src/clock.rs /work/main/os-linux/src/error/mod.rs /work/main/os-linux/src/error/shm.rs /work/main/os-linux/src/eventfd.rs /work/main/os-linux/src/futex.rs /work/main/os-linux/src/inspect/mod.rs /work/main/os-linux/src/inspect/collect.rs /work/main/os-linux/src/inspect/object.rs /work/main/os-linux/src/inspect/probing.rs /work/main/os-linux/src/inspect/sysv.rs /work/main/os-linux/src/liveness/mod.rs /work/main/os-linux/src/liveness/judge.rs /work/main/os-linux/src/liveness/presence.rs /work/main/os-linux/src/liveness/task.rs /work/main/os-linux/src/lock.rs /work/main/os-linux/src/mapping/mod.rs /work/main/os-linux/src/mapping/copy.rs /work/main/os-linux/src/mapping/fd.rs /work/main/os-linux/src/mapping/options.rs /work/main/os-linux/src/mapping/pages.rs /work/main/os-linux/src/mapping/read_only.rs /work/main/os-linux/src/mapping/writable.rs /work/main/os-linux/src/memfd.rs /work/main/os-linux/src/mq.rs /work/main/os-linux/src/pipe.rs /work/main/os-linux/src/posix.rs /work/main/os-linux/src/process.rs /work/main/os-linux/src/readiness.rs /work/main/os-linux/src/sem.rs /work/main/os-linux/src/shm/mod.rs /work/main/os-linux/src/shm/building.rs /work/main/os-linux/src/shm/claim.rs /work/main/os-linux/src/shm/object.rs /work/main/os-linux/src/shm_name.rs /work/main/os-linux/src/signal.rs /work/main/os-linux/src/socket.rs /work/main/os-linux/src/sysv/mod.rs /work/main/os-linux/src/sysv/error.rs /work/main/os-linux/src/sysv/key.rs /work/main/os-linux/src/sysv/mark.rs /work/main/os-linux/src/sysv/queue.rs /work/main/os-linux/src/sysv/segment.rs

/work/main/os-linux/src/lib.rs:
/work/main/os-linux/src/channel/mod.rs:
/work/main/os-linux/src/channel/broadcast.rs:
/work/main/os-linux/src/channel/bytes.rs:
/work/main/os-linux/src/channel/create.rs:
/work/main/os-linux/src/channel/error.rs:
/work/main/os-linux/src/channel/fanout.rs:
/work/main/os-linux/src/channel/latest.rs:
/work/main/os-linux/src/channel/many_to_one.rs:
/work/main/os-linux/src/channel/mpmc.rs:
/work/main/os-linux/src/channel/object.rs:
/work/main/os-linux/src/channel/open.rs:
/work/main/os-linux/src/channel/options.rs:
/work/main/os-linux/src/channel/pool.rs:
/work/main/os-linux/src/channel/request.rs:
/work/main/os-linux/src/channel/sealed.rs:
/work/main/os-linux/src/channel/shape.rs:
/work/main/os-linux/src/channel/spsc.rs:
/work/main/os-linux/src/channel/waiting.rs:
/work/main/os-linux/src/clock.rs:
/work/main/os-linux/src/error/mod.rs:
/work/main/os-linux/src/error/shm.rs:
/work/main/os-linux/src/eventfd.rs:
/work/main/os-linux/src/futex.rs:
/work/main/os-linux/src/inspect/mod.rs:
/work/main/os-linux/src/inspect/collect.rs:
/work/main/os-linux/src/inspect/object.rs:
/work/main/os-linux/src/inspect/probing.rs:
/work/main/os-linux/src/inspect/sysv.rs:
/work/main/os-linux/src/liveness/mod.rs:
/work/main/os-linux/src/liveness/judge.rs:
/work/main/os-linux/src/liveness/presence.rs:
/work/main/os-linux/src/liveness/task.rs:
/work/main/os-linux/src/lock.rs:
/work/main/os-linux/src/mapping/mod.rs:
/work/main/os-linux/src/mapping/copy.rs:
/work/main/os-linux/src/mapping/fd.rs:
/work/main/os-linux/src/mapping/options.rs:
/work/main/os-linux/src/mapping/pages.rs:
/work/main/os-linux/src/mapping/read_only.rs:
/work/main/os-linux/src/mapping/writable.rs:
/work/main/os-linux/src/memfd.rs:
/work/main/os-linux/src/mq.rs:
/work/main/os-linux/src/pipe.rs:
/work/main/os-linux/src/posix.rs:
/work/main/os-linux/src/process.rs:
/work/main/os-linux/src/readiness.rs:
/work/main/os-linux/src/sem.rs:
/work/main/os-linux/src/shm/mod.rs:
/work/main/os-linux/src/shm/building.rs:
/work/main/os-linux/src/shm/claim.rs:
/work/main/os-linux/src/shm/object.rs:
/work/main/os-linux/src/shm_name.rs:
/work/main/os-linux/src/signal.rs:
/work/main/os-linux/src/socket.rs:
/work/main/os-linux/src/sysv/mod.rs:
/work/main/os-linux/src/sysv/error.rs:
/work/main/os-linux/src/sysv/key.rs:
/work/main/os-linux/src/sysv/mark.rs:
/work/main/os-linux/src/sysv/queue.rs:
/work/main/os-linux/src/sysv/segment.rs:
