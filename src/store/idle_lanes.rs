//! Lanes of this process's engine that wait for work. A start that makes a new run while one
//! waits claims the run for it in the start's own write (on PostgreSQL, one statement that
//! also reads the active run) and hands it over: one commit from start to execution, instead
//! of the start's and then a claim's.

use crate::ids::RunId;
use crate::operations::OperationRun;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// What became of a lane a start took: its run, or nothing (the start made no run, the run's
/// tenant was at its limit, or the start failed), so the engine has the lane back either way.
#[derive(Debug)]
pub enum Handed {
    Run(Box<OperationRun>),
    Unused,
}

/// A claimer's free lanes, as it offered them while it waits.
#[derive(Debug)]
struct Offer {
    claimer: String,
    per_tenant_limit: i64,
    free: usize,
    taken: usize,
    deliver: mpsc::UnboundedSender<Handed>,
}

#[derive(Debug, Default)]
pub(super) struct IdleLanes {
    offers: Mutex<Vec<Offer>>,
}

/// A lane a start took: claimed for `claimer` within `per_tenant_limit` running runs of the
/// run's tenant. Dropped without handing a run over, it goes back as [`Handed::Unused`].
#[derive(Debug)]
pub(super) struct Lane {
    pub claimer: String,
    pub per_tenant_limit: i64,
    deliver: Option<mpsc::UnboundedSender<Handed>>,
}

impl Lane {
    /// Hands `run` (claimed for this lane and committed) over; its id comes back when the
    /// engine has stopped listening.
    pub(super) fn hand(mut self, run: OperationRun) -> Result<(), RunId> {
        let deliver = self.deliver.take().expect("a lane is handed over once");
        let id = run.id;
        deliver.send(Handed::Run(Box::new(run))).map_err(|_| id)
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        if let Some(deliver) = self.deliver.take() {
            let _ = deliver.send(Handed::Unused);
        }
    }
}

impl IdleLanes {
    fn offers(&self) -> std::sync::MutexGuard<'_, Vec<Offer>> {
        self.offers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn offer(
        &self,
        claimer: &str,
        per_tenant_limit: i64,
        free: usize,
        deliver: mpsc::UnboundedSender<Handed>,
    ) {
        let mut offers = self.offers();
        offers.retain(|offer| offer.claimer != claimer);
        if free > 0 {
            let claimer = claimer.to_string();
            offers.push(Offer { claimer, per_tenant_limit, free, taken: 0, deliver });
        }
    }

    /// Ends `claimer`'s offer; how many of its lanes starts took (each will be [`Handed`] back).
    pub(super) fn withdraw(&self, claimer: &str) -> usize {
        let mut offers = self.offers();
        let Some(at) = offers.iter().position(|offer| offer.claimer == claimer) else { return 0 };
        offers.swap_remove(at).taken
    }

    pub(super) fn take(&self) -> Option<Lane> {
        let mut offers = self.offers();
        let offer = offers.iter_mut().find(|offer| offer.free > offer.taken)?;
        offer.taken += 1;
        Some(Lane {
            claimer: offer.claimer.clone(),
            per_tenant_limit: offer.per_tenant_limit,
            deliver: Some(offer.deliver.clone()),
        })
    }
}
