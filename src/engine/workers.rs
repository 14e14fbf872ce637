//! Workers claim queued runs and execute them; a reconciler deals with runs whose worker died;
//! a retention job prunes old completed runs. All run as tasks of one process and stop
//! together through [`EngineHandle::shutdown`].

use super::context::{RunSignals, Stop};
use super::{Operations, RunContext};
use crate::ids::RunId;
use crate::operations::{Counters, Failure, OperationKind, OperationRun, RunOutcome, RunStatus};
use crate::store::{Completion, Handed, Reconciled, RunChange, Store};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Worker tasks in this process; 0 runs none (another process does the work).
    pub workers: usize,
    /// Runs of one tenant running at once, across all processes.
    pub per_tenant_limit: i64,
    /// Pipeline runs of one workspace running at once, across all processes: one workspace's
    /// pipelines cannot take every worker from the others.
    pub pipelines_per_workspace: i64,
    /// A pipeline run still running this long after it started is cancelled.
    pub pipeline_max_duration: Duration,
    /// How often a running run proves its worker is alive.
    pub heartbeat: Duration,
    /// A running run without a heartbeat for this long has lost its worker.
    pub stale_after: Duration,
    /// Attempts a retry-safe run gets before a lost worker fails it.
    pub max_attempts: i64,
    /// How often progress is saved (and pushed to watchers) while a run works through items.
    pub progress_every: Duration,
    /// An idle worker looks for work at least this often, even without a notification.
    pub idle_poll: Duration,
    /// Completed runs older than this are pruned; `None` keeps them forever.
    pub retention: Option<chrono::Duration>,
    pub retention_every: Duration,
    /// How often this process looks for schedule slots that are due (each slot runs once,
    /// whichever process finds it first).
    pub schedule_tick: Duration,
    /// The time the scheduler reads: the wall clock, or (tests, rehearsals) a faster one.
    pub scheduler_clock: SchedulerClock,
    /// On shutdown, in-flight runs get this long to finish before they are released.
    pub shutdown_grace: Duration,
}

impl EngineSettings {
    /// Pipeline runs this process starts while others run: one worker fewer than it has, so
    /// the runs a pipeline starts and waits for always find a worker.
    fn pipeline_limit(&self) -> i64 {
        self.workers.saturating_sub(1) as i64
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            workers: 64,
            per_tenant_limit: 2,
            pipelines_per_workspace: 2,
            pipeline_max_duration: Duration::from_secs(6 * 60 * 60),
            heartbeat: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
            max_attempts: 3,
            progress_every: Duration::from_millis(250),
            idle_poll: Duration::from_secs(2),
            retention: Some(chrono::Duration::days(90)),
            retention_every: Duration::from_secs(3600),
            schedule_tick: Duration::from_secs(15),
            scheduler_clock: SchedulerClock::Wall,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The time the scheduler reads. `Scaled` runs `rate` times faster than the wall clock from
/// `origin` (a past instant), the same in every process given the same setting: a cadence of
/// minutes plays out in seconds, for tests and rehearsals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchedulerClock {
    #[default]
    Wall,
    Scaled {
        origin: DateTime<Utc>,
        rate: u32,
    },
}

impl SchedulerClock {
    pub fn now(&self) -> DateTime<Utc> {
        let wall = Utc::now();
        match *self {
            SchedulerClock::Wall => wall,
            SchedulerClock::Scaled { origin, rate } => origin + (wall - origin) * rate as i32,
        }
    }
}

impl std::str::FromStr for SchedulerClock {
    type Err = String;

    /// `ORIGIN*RATE`: an RFC 3339 instant and a whole factor, e.g. `2026-11-30T20:00:00Z*240`.
    fn from_str(text: &str) -> Result<SchedulerClock, String> {
        let wrong = || format!("`{text}` is not ORIGIN*RATE, like 2026-11-30T20:00:00Z*240");
        let (origin, rate) = text.split_once('*').ok_or_else(wrong)?;
        let origin = DateTime::parse_from_rfc3339(origin.trim()).map_err(|_| wrong())?.with_timezone(&Utc);
        let rate =
            rate.trim().parse::<u32>().ok().filter(|rate| (1..=100_000).contains(rate)).ok_or_else(wrong)?;
        Ok(SchedulerClock::Scaled { origin, rate })
    }
}

/// The running engine of this process.
pub struct EngineHandle {
    stop: watch::Sender<bool>,
    release: watch::Sender<bool>,
    workers: JoinSet<()>,
    background: JoinSet<()>,
    grace: Duration,
}

impl EngineHandle {
    /// Starts the workers, the reconciler, the scheduler and the retention job. `name` (e.g. host
    /// and pid) is what the runs this process claims record as their claimer; its logs name the
    /// lane too (`name/lane`).
    pub fn spawn(store: Store, operations: Operations, settings: EngineSettings, name: &str) -> EngineHandle {
        let (stop, _) = watch::channel(false);
        let (release, _) = watch::channel(false);
        let settings = Arc::new(settings);
        let mut workers = JoinSet::new();
        if settings.workers > 0 {
            let claimer = Claimer {
                name: name.to_string(),
                store: store.clone(),
                operations: operations.clone(),
                settings: settings.clone(),
                stop: stop.subscribe(),
                release: release.subscribe(),
            };
            workers.spawn(claimer.work());
        }
        let mut background = JoinSet::new();
        background.spawn(reconcile(store.clone(), operations, settings.clone(), stop.subscribe()));
        background.spawn(schedule(
            store.clone(),
            settings.schedule_tick,
            settings.scheduler_clock,
            stop.subscribe(),
        ));
        if let Some(retention) = settings.retention {
            background.spawn(prune(store, retention, settings.retention_every, stop.subscribe()));
        }
        EngineHandle { stop, release, workers, background, grace: settings.shutdown_grace }
    }

    /// Stops claiming, gives in-flight runs the grace period to finish, then asks them to
    /// release their runs to the queue at their next checkpoint. A run whose operation never
    /// reaches one is left to another process's reconciler.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.background.shutdown().await;
        if tokio::time::timeout(self.grace, join_all(&mut self.workers)).await.is_err() {
            let _ = self.release.send(true);
            tracing::info!("releasing runs still in flight");
            if tokio::time::timeout(self.grace, join_all(&mut self.workers)).await.is_err() {
                tracing::warn!("abandoning runs that did not stop; the reconciler will take them over");
                self.workers.shutdown().await;
            }
        }
    }
}

/// A task that must not outlive its owner.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn join_all(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

/// This process's workers: one task claims runs while a lane is free (`settings.workers` of
/// them) and executes each claimed run in a task of its own, on that lane. A worker is a task,
/// so a process runs many network-bound runs at once; one claimer means a change wakes one
/// claim, not one per worker. Stopped, it claims no more and waits for its runs (which stop at
/// their next checkpoint once released).
struct Claimer {
    name: String,
    store: Store,
    operations: Operations,
    settings: Arc<EngineSettings>,
    stop: watch::Receiver<bool>,
    release: watch::Receiver<bool>,
}

/// A lane its run has left, with how that run ended when the next claim is to save it.
struct Freed {
    lane: usize,
    finished: Option<Completion>,
    /// The run took less than [`QUICK_RUN`]: lanes like this one are worth holding runs for.
    quick: bool,
}

/// What woke a claimer that waited.
enum Woken {
    Stopped,
    Freed(Freed),
    Handed(Handed),
    Claimed(Claimed),
    MayClaim,
    Polled,
}

/// How many runs a claim asks for: for free lanes, and to hold ahead of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wanted {
    lanes: usize,
    ahead: usize,
}

impl Wanted {
    fn total(self) -> usize {
        self.lanes + self.ahead
    }
}

/// What a claim brought back: the runs, and how many it asked for.
struct Claimed {
    runs: Result<Vec<OperationRun>, crate::CoreError>,
    wanted: Wanted,
}

/// A claimer's lanes between runs.
struct Lanes {
    free: Vec<usize>,
    /// Lanes starts took while offered, each waiting for what the start hands over.
    promised: Vec<usize>,
    /// How the runs that freed lanes ended, for the next claim to save.
    finished: Vec<Completion>,
    /// Whether a claim may find work: at first, after a change, a freed slot, or a while.
    look: bool,
    /// Runs claimed ahead of a free lane, oldest first, each with when it was claimed: a lane
    /// that frees takes the next at once instead of waiting for a claim's commit.
    ahead: VecDeque<(OperationRun, Instant)>,
    /// Runs to keep claimed ahead: as many lanes as quick runs freed during the last claim, so
    /// only lanes that turn over about as fast as a claim commits get them. A held run shows as
    /// running before a lane starts it; behind quick runs that is a moment, behind long ones
    /// (a wave of captures ending at once) it would be seconds, then a release back to queued.
    ahead_target: usize,
    /// Lanes freed by quick runs since the claim in flight was sent.
    turnover: usize,
}

impl Lanes {
    fn freed(&mut self, free: Freed) {
        self.free.push(free.lane);
        self.finished.extend(free.finished);
        self.turnover += usize::from(free.quick);
        self.look = true;
    }

    /// The promised lane a start's handover is for, with the run it is to execute, if any.
    fn handed(&mut self, handover: Handed) -> Option<(usize, OperationRun)> {
        let lane = self.promised.pop().expect("every handover has its promised lane");
        match handover {
            Handed::Run(run) => Some((lane, *run)),
            Handed::Unused => {
                self.freed(Freed { lane, finished: None, quick: false });
                None
            }
        }
    }

    /// Takes what a claim brought back: its runs wait for lanes (the next free ones take them),
    /// and the quick turnover while it committed sets how many to hold from now on.
    fn claimed(&mut self, Claimed { runs, wanted }: Claimed, now: Instant) {
        if let Ok(runs) = runs {
            self.look |= wanted.total() > 0 && runs.len() == wanted.total();
            self.ahead.extend(runs.into_iter().map(|run| (run, now)));
        }
        self.ahead_target = self.turnover.min(CLAIMS_AT_ONCE);
    }

    /// Pairs free lanes with runs claimed ahead.
    fn next_runs(&mut self) -> Vec<(usize, OperationRun)> {
        let mut next = Vec::new();
        while !self.free.is_empty() {
            let Some((run, _)) = self.ahead.pop_front() else { break };
            let lane = self.free.pop().expect("a free lane");
            next.push((lane, run));
        }
        next
    }

    /// Runs to claim now: for the free lanes that no held run will take, and to hold ahead
    /// (up to the target, less those held beyond the free lanes).
    fn wanted(&self) -> Wanted {
        if !self.look {
            return Wanted { lanes: 0, ahead: 0 };
        }
        let (free, held) = (self.free.len(), self.ahead.len());
        let lanes = free.saturating_sub(held).min(CLAIMS_AT_ONCE);
        let ahead = self.ahead_target.saturating_sub(held.saturating_sub(free)).min(CLAIMS_AT_ONCE);
        Wanted { lanes, ahead }
    }

    /// Runs claimed ahead that no lane took within `AHEAD_TTL`: back to the queue, where any
    /// process's free lane may take them (they hold their tenants' slots meanwhile).
    fn overdue(&mut self, now: Instant) -> Vec<RunId> {
        let mut overdue = Vec::new();
        while self.ahead.front().is_some_and(|(_, claimed)| now.duration_since(*claimed) >= AHEAD_TTL) {
            overdue.extend(self.ahead.pop_front().map(|(run, _)| run.id));
        }
        overdue
    }
}

impl Claimer {
    async fn work(mut self) {
        let mut changes = self.store.events().subscribe();
        let (lane_free, mut freed) = tokio::sync::mpsc::unbounded_channel::<Freed>();
        let (handing, mut handed) = tokio::sync::mpsc::unbounded_channel::<Handed>();
        let mut lanes = Lanes {
            free: (0..self.settings.workers).rev().collect(),
            promised: Vec::new(),
            finished: Vec::new(),
            look: true,
            ahead: VecDeque::new(),
            ahead_target: 0,
            turnover: 0,
        };
        let mut running = JoinSet::new();
        // One claim at a time, in a task of its own: lanes keep taking runs claimed ahead
        // while it commits.
        let mut claiming: Option<JoinHandle<Claimed>> = None;
        while !*self.stop.borrow() {
            while let Ok(free) = freed.try_recv() {
                lanes.freed(free);
            }
            while let Ok(handover) = handed.try_recv() {
                if let Some((lane, run)) = lanes.handed(handover) {
                    self.execute_on(&mut running, &lane_free, lane, run);
                }
            }
            for (lane, run) in lanes.next_runs() {
                self.execute_on(&mut running, &lane_free, lane, run);
            }
            self.release(lanes.overdue(Instant::now())).await;
            // Every lane free at this moment claims in the same transaction, which also saves
            // how the runs they left ended.
            let wanted = lanes.wanted();
            if claiming.is_none() && (wanted.total() > 0 || !lanes.finished.is_empty()) {
                let finished = std::mem::take(&mut lanes.finished);
                claiming = Some(tokio::spawn(self.claim(finished, wanted)));
                lanes.look = false;
                lanes.turnover = 0;
            }
            // Reap the runs that ended, so the set holds only those in flight.
            while running.try_join_next().is_some() {}
            // Nothing to claim: the free lanes wait for a change, offered meanwhile to the
            // starts that make runs; the busy ones wait to end.
            let idle = claiming.is_none() && lanes.ahead.is_empty();
            if idle {
                self.store.offer_idle_lanes(
                    &self.name,
                    self.settings.per_tenant_limit,
                    lanes.free.len(),
                    handing.clone(),
                );
            }
            let woken = tokio::select! {
                _ = self.stop.changed() => Woken::Stopped,
                Some(free) = freed.recv() => Woken::Freed(free),
                Some(handover) = handed.recv() => Woken::Handed(handover),
                claimed = async { claiming.as_mut().expect("a claim in flight").await }, if claiming.is_some() => {
                    Woken::Claimed(claimed.unwrap_or_else(|error| Claimed {
                        runs: Err(crate::CoreError::internal(error)),
                        wanted: Wanted { lanes: 0, ahead: 0 },
                    }))
                }
                () = claimable(&mut changes), if !lanes.free.is_empty() => Woken::MayClaim,
                () = tokio::time::sleep(self.settings.idle_poll.min(AHEAD_TTL)),
                    if !lanes.free.is_empty() || !lanes.ahead.is_empty() => Woken::Polled,
            };
            if idle {
                let taken = self.store.withdraw_idle_lanes(&self.name);
                let kept = lanes.free.len() - taken;
                lanes.promised.extend(lanes.free.drain(kept..));
            }
            match woken {
                Woken::Stopped => {}
                Woken::Freed(free) => lanes.freed(free),
                Woken::Handed(handover) => {
                    if let Some((lane, run)) = lanes.handed(handover) {
                        self.execute_on(&mut running, &lane_free, lane, run);
                    }
                }
                Woken::Claimed(claimed) => {
                    claiming = None;
                    lanes.claimed(claimed, Instant::now());
                }
                Woken::MayClaim => lanes.look = true,
                Woken::Polled => lanes.look |= !lanes.free.is_empty(),
            }
        }
        // Runs claimed, handed over or held ahead as the engine stopped go back to the queue
        // for another process.
        if let Some(claim) = claiming.take() {
            if let Ok(Claimed { runs: Ok(runs), .. }) = claim.await {
                lanes.ahead.extend(runs.into_iter().map(|run| (run, Instant::now())));
            }
        }
        let held: Vec<RunId> = lanes.ahead.drain(..).map(|(run, _)| run.id).collect();
        self.release(held).await;
        for _ in 0..lanes.promised.len() {
            match tokio::time::timeout(self.settings.shutdown_grace, handed.recv()).await {
                Ok(Some(Handed::Run(run))) => self.release(vec![run.id]).await,
                Ok(Some(Handed::Unused)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        join_all(&mut running).await;
        // The runs that ended while the engine stopped.
        while let Ok(free) = freed.try_recv() {
            lanes.freed(free);
        }
        if !lanes.finished.is_empty() {
            let _ = self.claim(std::mem::take(&mut lanes.finished), Wanted { lanes: 0, ahead: 0 }).await;
        }
    }

    /// Puts runs this claimer holds but will not execute back in the queue.
    async fn release(&self, runs: Vec<RunId>) {
        for run in runs {
            if let Err(error) = self.store.release_run(run).await {
                tracing::warn!(error = %error.detail(), %run, "cannot release a run to the queue");
            }
        }
    }

    /// Saves `finished` and claims up to `wanted` runs in one transaction. When that fails, the
    /// endings are saved one by one, so none waits on claims that cannot be made.
    fn claim(
        &self,
        finished: Vec<Completion>,
        wanted: Wanted,
    ) -> impl std::future::Future<Output = Claimed> + Send + 'static {
        let (store, name, settings) = (self.store.clone(), self.name.clone(), self.settings.clone());
        async move {
            let runs = store
                .complete_and_claim(
                    &finished,
                    &name,
                    wanted.lanes,
                    wanted.ahead,
                    settings.per_tenant_limit,
                    settings.pipeline_limit(),
                    settings.pipelines_per_workspace,
                )
                .await;
            if let Err(error) = &runs {
                tracing::warn!(error = %error.detail(), "cannot claim runs");
                for completion in finished {
                    let ended = Ended {
                        id: completion.id,
                        result: Ok(completion.outcome),
                        counters: completion.counters,
                    };
                    ended.save(&store).await;
                }
            }
            Claimed { runs, wanted }
        }
    }

    /// Executes `run` on `lane`, which is free again (`lane_free`) once the run has ended.
    fn execute_on(
        &self,
        running: &mut JoinSet<()>,
        lane_free: &tokio::sync::mpsc::UnboundedSender<Freed>,
        lane: usize,
        run: OperationRun,
    ) {
        let worker = format!("{}/{lane}", self.name);
        let (store, lane_free) = (self.store.clone(), lane_free.clone());
        let execution = self.execution(run, worker);
        running.spawn(async move {
            let started = Instant::now();
            let ended = execution.await;
            let quick = started.elapsed() < QUICK_RUN;
            let finished = ended.saved_by_claim(&store).await;
            let _ = lane_free.send(Freed { lane, finished, quick });
        });
    }

    /// Executes `run` on `worker`'s lane, as its operation says.
    fn execution(
        &self,
        run: OperationRun,
        worker: String,
    ) -> impl std::future::Future<Output = Ended> + Send + 'static {
        let (store, operation) = (self.store.clone(), self.operations.get(run.kind).cloned());
        let pace = Pace { heartbeat: self.settings.heartbeat, progress_every: self.settings.progress_every };
        let release = self.release.clone();
        async move {
            let Some(operation) = operation else {
                tracing::error!(run = %run.id, kind = %run.kind, "no operation of this kind is known to this version");
                let stop =
                    Stop::failed("ops.unknown_type", "unknown_error", "This kind of operation is not known.");
                return Ended { id: run.id, result: Err(stop), counters: run.counters };
            };
            execute(&store, operation, run, &worker, pace, Some(release)).await
        }
    }
}

/// Runs one claim takes on at most for free lanes, and as many again to hold ahead: the lanes
/// free at that moment claim in one transaction.
const CLAIMS_AT_ONCE: usize = 32;

/// Runs shorter than this free their lanes fast enough to hold runs ahead for them: a run
/// held behind them waits about this long at most, under the live feed's 250 ms window.
const QUICK_RUN: Duration = Duration::from_millis(100);

/// A run claimed ahead goes back to the queue when no lane of this process took it within this
/// long (long runs keep every lane busy); its heartbeat is not due before `stale_after`.
const AHEAD_TTL: Duration = Duration::from_secs(2);

/// How often a run beats and saves progress.
#[derive(Clone, Copy)]
struct Pace {
    heartbeat: Duration,
    progress_every: Duration,
}

/// Executes a run that a request claimed for itself (`engine::start_now`) and waits
/// for, as a worker would: with heartbeats, and in a task of its own, so a client that goes
/// away does not cut it short. Returns the run as it ended.
pub async fn run_now(
    store: &Store,
    operation: Arc<dyn super::Operation>,
    run: OperationRun,
) -> Result<OperationRun, crate::CoreError> {
    let id = run.id;
    let defaults = EngineSettings::default();
    let pace = Pace { heartbeat: defaults.heartbeat, progress_every: defaults.progress_every };
    let task_store = store.clone();
    let executing = tokio::spawn(async move {
        execute(&task_store, operation, run, "request", pace, None).await.save(&task_store).await
    });
    if let Err(error) = executing.await {
        tracing::error!(%error, run = %id, "a run executed for a request did not finish");
    }
    store.operation_run(id).await?.ok_or(crate::CoreError::NotFound)
}

/// Runs `operation` on `run` and says how it ended. `release` tells it to give the run back
/// to the queue (a worker shutting down).
async fn execute(
    store: &Store,
    operation: Arc<dyn super::Operation>,
    run: OperationRun,
    worker: &str,
    pace: Pace,
    release: Option<watch::Receiver<bool>>,
) -> Ended {
    let id = run.id;
    let span = tracing::info_span!("run", %id, kind = %run.kind, worker);
    tracing::info!(parent: &span, attempt = run.attempt, "run started");
    let signals = Arc::new(RunSignals::default());
    let mut context = RunContext::new(run, store.clone(), signals.clone(), pace.progress_every);
    // Beside the operation; aborted with it, also when the caller itself is dropped.
    let _beating = AbortOnDrop(tokio::spawn(heartbeat(store.clone(), id, signals.clone(), pace.heartbeat)));
    let _releasing =
        release.map(|release| AbortOnDrop(tokio::spawn(watch_release(release, signals.clone()))));
    // In a task of its own, so that a panic fails the run instead of killing the worker.
    let mut executing = AbortOnDrop(tokio::spawn(
        async move { operation.execute(&mut context).await }.instrument(span.clone()),
    ));
    let result = match (&mut executing.0).await {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(parent: &span, %error, "operation panicked");
            Err(Stop::failed("ops.internal", "unknown_error", "An internal error stopped this operation."))
        }
    };
    let counters = signals.counters();
    let ended = match &result {
        Ok(outcome) => outcome.as_str(),
        Err(Stop::Cancelled) => "cancelled",
        Err(Stop::Released) => "released",
        Err(Stop::Failed(_)) => "failed",
    };
    tracing::info!(parent: &span, ended, ?counters, "run ended");
    Ended { id, result, counters }
}

/// How an executed run ended, not yet saved.
struct Ended {
    id: RunId,
    result: Result<RunOutcome, Stop>,
    counters: Counters,
}

impl Ended {
    /// An outcome (or a cancel) is left for the lane's next claim to save; a failure (which
    /// adds to the run's failures) or a release is saved now.
    async fn saved_by_claim(self, store: &Store) -> Option<Completion> {
        let outcome = match self.result {
            Ok(outcome) => outcome,
            Err(Stop::Cancelled) => RunOutcome::Cancelled,
            Err(Stop::Released | Stop::Failed(_)) => {
                self.save(store).await;
                return None;
            }
        };
        Some(Completion { id: self.id, outcome, counters: self.counters })
    }

    async fn save(self, store: &Store) {
        let Ended { id, result, counters } = self;
        let saved = match result {
            Ok(outcome) => store.complete_run(id, outcome, counters).await.map(drop),
            Err(Stop::Cancelled) => store.complete_run(id, RunOutcome::Cancelled, counters).await.map(drop),
            Err(Stop::Released) => store.release_run(id).await.map(drop),
            Err(Stop::Failed(failure)) => match store.add_run_failure(id, &failure).await {
                Ok(()) => store.complete_run(id, RunOutcome::Failed, counters).await.map(drop),
                Err(error) => Err(error),
            },
        };
        if let Err(error) = saved {
            // The run stays running without heartbeats; the reconciler completes it.
            tracing::error!(error = %error.detail(), run = %id, "cannot save the end of a run");
        }
    }
}

/// Waits for a change that may make a run claimable: a run queued, or one completing (which
/// frees a slot of its tenant's limit).
async fn claimable(changes: &mut broadcast::Receiver<RunChange>) {
    loop {
        match changes.recv().await {
            Ok(change) if change.status != RunStatus::Running => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// Proves the worker is alive while the operation is busy inside one long item, and hears a
/// cancel even when the operation saves no progress.
async fn heartbeat(store: Store, id: RunId, signals: Arc<RunSignals>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match store.heartbeat_run(id, signals.counters()).await {
            Ok(true) => signals.cancel_requested.store(true, Ordering::Relaxed),
            Ok(false) => {}
            Err(error) => tracing::warn!(error = %error.detail(), run = %id, "heartbeat failed"),
        }
    }
}

async fn watch_release(mut release: watch::Receiver<bool>, signals: Arc<RunSignals>) {
    if release.wait_for(|release| *release).await.is_ok() {
        signals.release.store(true, Ordering::Relaxed);
    }
}

/// Completes or requeues runs whose worker stopped beating.
async fn reconcile(
    store: Store,
    operations: Operations,
    settings: Arc<EngineSettings>,
    mut stop: watch::Receiver<bool>,
) {
    let every = (settings.stale_after / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        let Ok(stale_after) = chrono::Duration::from_std(settings.stale_after) else { return };
        let retry = |run: &OperationRun| {
            run.attempt < settings.max_attempts && operations.get(run.kind).is_some_and(|op| op.retry_safe())
        };
        match store.reconcile_stale_runs(Utc::now() - stale_after, retry).await {
            Ok(reconciled) => {
                for (run, what) in reconciled {
                    match what {
                        Reconciled::Requeued => tracing::warn!(%run, "requeued a run whose worker stopped"),
                        Reconciled::Failed => {
                            tracing::warn!(%run, "failed a run whose worker stopped (ops.stale)")
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(error = %error.detail(), "cannot reconcile stale runs"),
        }
        cancel_overdue_pipelines(&store, settings.pipeline_max_duration).await;
    }
}

/// Cancels pipeline runs that have run longer than `max`, saying so in their failures.
async fn cancel_overdue_pipelines(store: &Store, max: Duration) {
    let Ok(max_chrono) = chrono::Duration::from_std(max) else { return };
    let now = Utc::now();
    let failure = Failure {
        code: "ops.max_duration".into(),
        reason_code: "ops.max_duration".into(),
        message: format!(
            "Cancelled after running {} minutes, the most a pipeline run may take \
             (setting TENANTPILOT_PIPELINE_MAX_MINUTES)",
            max.as_secs().div_ceil(60)
        ),
        at: now,
    };
    match store.cancel_overdue_runs(OperationKind::Pipeline, now - max_chrono, &failure).await {
        Ok(cancelled) => {
            for run in cancelled {
                tracing::warn!(%run, "cancelled a pipeline run that ran longer than its maximum");
            }
        }
        Err(error) => tracing::warn!(error = %error.detail(), "cannot cancel overdue pipeline runs"),
    }
}

/// Starts what schedules have due, every `every`.
async fn schedule(store: Store, every: Duration, clock: SchedulerClock, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = crate::schedules::fire_due(&store, clock.now()).await {
            tracing::warn!(error = %error.detail(), "cannot fire due schedules");
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Deletes completed runs older than `retention`, in batches.
async fn prune(store: Store, retention: chrono::Duration, every: Duration, mut stop: watch::Receiver<bool>) {
    const BATCH: i64 = 1000;
    loop {
        let before = Utc::now() - retention;
        let mut pruned = 0;
        loop {
            match store.prune_completed_runs(before, BATCH).await {
                Ok(deleted) => {
                    pruned += deleted;
                    if deleted < BATCH as u64 {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error.detail(), "cannot prune old runs");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, "pruned completed runs past retention");
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkspaceId;
    use crate::operations::Initiator;

    fn claimed(id: i64) -> OperationRun {
        OperationRun {
            id: RunId(id),
            workspace_id: WorkspaceId(1),
            tenant_id: None,
            kind: OperationKind::Fetch,
            status: RunStatus::Running,
            outcome: RunOutcome::Pending,
            identity: format!("run-{id}"),
            target: None,
            context: serde_json::Map::new(),
            counters: Counters::default(),
            failures: Vec::new(),
            initiator: Initiator::System,
            attempt: 1,
            created_at: Utc::now(),
            started_at: Some(Utc::now()),
            completed_at: None,
            heartbeat_at: Some(Utc::now()),
            cancel_requested: false,
            retry_of: None,
        }
    }

    fn lanes(free: &[usize], ahead: &[i64], at: Instant) -> Lanes {
        Lanes {
            free: free.to_vec(),
            promised: Vec::new(),
            finished: Vec::new(),
            look: true,
            ahead: ahead.iter().map(|&id| (claimed(id), at)).collect(),
            ahead_target: 0,
            turnover: 0,
        }
    }

    #[test]
    fn a_lane_that_frees_takes_the_oldest_run_claimed_ahead_without_a_claim() {
        let mut lanes = lanes(&[], &[7, 8], Instant::now());
        assert!(lanes.next_runs().is_empty(), "no lane is free");
        lanes.freed(Freed { lane: 3, finished: None, quick: true });
        let next: Vec<(usize, RunId)> =
            lanes.next_runs().into_iter().map(|(lane, run)| (lane, run.id)).collect();
        assert_eq!(next, [(3, RunId(7))]);
        assert_eq!(lanes.ahead.len(), 1);
        assert_eq!(lanes.turnover, 1, "a lane a quick run freed counts towards what to hold ahead");
    }

    #[test]
    fn only_lanes_that_quick_runs_free_have_runs_held_for_them() {
        let now = Instant::now();
        let mut lanes = lanes(&[], &[], now);
        let nothing = || Claimed { runs: Ok(Vec::new()), wanted: Wanted { lanes: 0, ahead: 0 } };
        for lane in 0..32 {
            lanes.freed(Freed { lane, finished: None, quick: false });
        }
        lanes.claimed(nothing(), now);
        assert_eq!(lanes.wanted(), Wanted { lanes: 32, ahead: 0 }, "a wave of long runs ending at once");
        lanes.free.clear();
        lanes.turnover = 0;
        for lane in 0..3 {
            lanes.freed(Freed { lane, finished: None, quick: lane > 0 });
        }
        lanes.claimed(nothing(), now);
        assert_eq!(lanes.wanted(), Wanted { lanes: 3, ahead: 2 }, "two quick runs ended during the claim");
    }

    #[test]
    fn a_claim_asks_for_the_free_lanes_and_what_to_hold_ahead_less_what_is_held() {
        let mut lanes = lanes(&[0, 1, 2], &[7], Instant::now());
        assert_eq!(lanes.wanted(), Wanted { lanes: 2, ahead: 0 }, "three free lanes, one run held");
        lanes.ahead_target = 4;
        assert_eq!(lanes.wanted(), Wanted { lanes: 2, ahead: 4 });
        lanes.free.clear();
        assert_eq!(lanes.wanted(), Wanted { lanes: 0, ahead: 3 }, "the run held counts towards the target");
        lanes.free = (0..200).collect();
        let most = Wanted { lanes: CLAIMS_AT_ONCE, ahead: 4 };
        assert_eq!(lanes.wanted(), most, "one claim takes a bounded batch");
        lanes.look = false;
        assert_eq!(lanes.wanted().total(), 0, "nothing to find until something changes");
    }

    #[test]
    fn runs_claimed_ahead_that_no_lane_takes_in_time_go_back() {
        let now = Instant::now();
        let mut lanes = lanes(&[], &[7, 8], now - AHEAD_TTL);
        lanes.ahead.push_back((claimed(9), now));
        assert_eq!(lanes.overdue(now), [RunId(7), RunId(8)]);
        assert_eq!(lanes.ahead.iter().map(|(run, _)| run.id).collect::<Vec<_>>(), [RunId(9)]);
    }
}
