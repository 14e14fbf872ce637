//! Password hashing with argon2id (PHC strings). Hashing runs on a blocking thread: it is
//! deliberately slow and must not stall the async runtime. At most one hash per core runs at a
//! time, a bounded queue waits behind them, and beyond the queue an attempt is turned away at
//! once: a flood of sign-ins costs the server a busy answer, not its memory or its threads.

use crate::CoreError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};
use tokio::sync::Semaphore;

/// Waiting attempts per core: a hash takes some tens of milliseconds, so the last in a full
/// queue waits well under a second.
const QUEUE_PER_CORE: usize = 16;

/// What a busy answer asks the client to wait.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Admission to hashing: `running` at once, `capacity` in all (running and waiting).
pub struct Gate {
    running: Semaphore,
    admitted: AtomicUsize,
    capacity: usize,
}

/// Gives back a place in the gate however the work ends (done, failed, or its caller gone).
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub fn new(running: usize, queue: usize) -> Gate {
        let running = running.max(1);
        Gate { running: Semaphore::new(running), admitted: AtomicUsize::new(0), capacity: running + queue }
    }

    /// Runs `work` on a blocking thread once a core is free, or refuses at once with
    /// `CoreError::Busy` when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CoreError> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(CoreError::Busy { retry_after_secs: BUSY_RETRY_AFTER_SECS });
        }
        let _place = Place(&self.admitted);
        let _core = self.running.acquire().await.map_err(CoreError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(CoreError::internal)
    }
}

static GATE: LazyLock<Gate> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Gate::new(cores, cores * QUEUE_PER_CORE)
});

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub async fn hash(password: String) -> Result<String, CoreError> {
    GATE.run(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| CoreError::broken(format!("password hashing failed: {error}")))
    })
    .await?
}

/// Checks `password` against a stored hash. With no stored hash (unknown account) it checks
/// against a dummy one, so both cases take the same time.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, CoreError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let known = stored.is_some();
    let stored = match stored {
        Some(stored) => stored,
        None => match DUMMY.get() {
            Some(dummy) => dummy.clone(),
            None => {
                let dummy = hash("not a real password".to_string()).await?;
                DUMMY.get_or_init(|| dummy).clone()
            }
        },
    };
    GATE.run(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash is not a valid PHC string");
            return false;
        };
        let matches = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
        known && matches
    })
    .await
}

/// A random password for the demo accounts, printed once on the first run.
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery".into(), Some(stored.clone())).await.unwrap());
        assert!(!verify("wrong".into(), Some(stored)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let gate = std::sync::Arc::new(Gate::new(1, 2));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = std::sync::Arc::new(std::sync::Mutex::new(hold));
        // One running (held until released) and two waiting fill the gate.
        let mut held = Vec::new();
        for _ in 0..3 {
            let (gate, hold) = (gate.clone(), hold.clone());
            held.push(tokio::spawn(async move {
                gate.run(move || hold.lock().map(|hold| hold.recv().is_ok()).unwrap_or(false)).await
            }));
        }
        while gate.admitted.load(Ordering::Acquire) < 3 {
            tokio::task::yield_now().await;
        }
        let refused = gate.run(|| true).await;
        assert_eq!(refused, Err(CoreError::Busy { retry_after_secs: BUSY_RETRY_AFTER_SECS }));
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for work in held {
            assert_eq!(work.await.unwrap(), Ok(true));
        }
        // Places are given back: the gate admits again.
        assert_eq!(gate.run(|| 7).await, Ok(7));
        assert_eq!(gate.admitted.load(Ordering::Acquire), 0);
    }

    #[test]
    fn generated_passwords_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }
}
