//! Wake-ups without a mutex: waiters sleep on a futex word that each
//! notification bumps. Group commit wakes dozens of committers per sync; with
//! a mutex and condvar they would all fight for the lock on waking.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Event {
    word: AtomicU32,
    sleepers: AtomicU32,
}

impl Event {
    /// Read before checking the condition; pass to [`Event::wait`].
    pub fn token(&self) -> u32 {
        self.word.load(Ordering::SeqCst)
    }

    /// Sleeps unless a notification came after `token` was read. May return
    /// spuriously or after `timeout`: callers re-check their condition.
    pub fn wait(&self, token: u32, timeout: Option<Duration>) {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if self.word.load(Ordering::SeqCst) == token {
            sys::wait(&self.word, token, timeout);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn notify_all(&self) {
        self.word.fetch_add(1, Ordering::SeqCst);
        // A waiter not yet counted will see the new word and not sleep.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            sys::wake_all(&self.word);
        }
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let ts = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `word` is a live, aligned 32-bit atomic for the whole call;
        // FUTEX_WAIT only reads it and compares with `expected`; `ts_ptr` is
        // null or points at a timespec that outlives the call.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            );
        }
    }

    pub fn wake_all(word: &AtomicU32) {
        // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE does not
        // access memory beyond identifying the waiters on that address.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    /// Without futexes: a short nap; callers re-check their condition.
    pub fn wait(_word: &AtomicU32, _expected: u32, timeout: Option<Duration>) {
        std::thread::sleep(
            timeout
                .unwrap_or(Duration::from_micros(200))
                .min(Duration::from_micros(200)),
        );
    }

    pub fn wake_all(_word: &AtomicU32) {}
}
