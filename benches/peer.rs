//! TenantPilot's engine as one peer of `make bench-peers` (the harness in `benches/peers/`):
//! the same no-op jobs, on the same PostgreSQL, measured the way the harness measures
//! graphile-worker. `peer --list` names the measurements; `peer <measurement>` runs one in a
//! fresh schema and prints one `RESULT {json}` line.
//!
//! A job is a run started through `engine::start` (the create-or-reuse path every start takes,
//! with its audit entry) and executed by the engine's workers. Its operation does nothing; it
//! lives here, not in the product.
//!
//! Knobs, as the harness's: `PEERS_N` (20000), `PEERS_ADDERS` (32), `PEERS_LATENCY_SAMPLES`
//! (200); the database is `TEST_POSTGRES_URL` (`scripts/with-postgres.sh` sets it).

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenantpilot_core::engine::{self, EngineHandle, EngineSettings, Operation, Operations, RunContext, Stop};
use tenantpilot_core::ids::{TenantId, WorkspaceId};
use tenantpilot_core::operations::{Initiator, OperationKind, RunOutcome, RunTarget};
use tenantpilot_core::store::{Backend, Db, NewRun, Store};
use tenantpilot_core::testing::TestDatabase;
use tokio::sync::mpsc;

/// The server binary's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PEER: &str = "tenantpilot";
const MEASUREMENTS: [&str; 5] = ["enqueue_seq", "enqueue_c32", "process_c8", "process_c32", "latency"];
/// How long a drain may take before the measurement gives up.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(240);

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn emit(result: serde_json::Value) {
    println!("RESULT {result}");
}

fn loadavg() -> Vec<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split(' ').take(3).filter_map(|value| value.parse().ok()).collect()
}

/// The no-op operation: it tells `done` when it ran, and succeeds.
struct NoOp {
    done: mpsc::UnboundedSender<Instant>,
}

#[async_trait::async_trait]
impl Operation for NoOp {
    fn kind(&self) -> OperationKind {
        OperationKind::Fetch
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, _run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let _ = self.done.send(Instant::now());
        Ok(RunOutcome::Succeeded)
    }
}

/// A fresh schema with one workspace and tenant to run jobs in.
struct Bench {
    db: TestDatabase,
    workspace: WorkspaceId,
    tenant: TenantId,
}

impl Bench {
    async fn new() -> Bench {
        let db = TestDatabase::new(Backend::Postgres).await;
        tenantpilot_core::seed::demo(&db.store).await.unwrap();
        let tenant = db.store.tenant_by_slug("contoso").await.unwrap().expect("demo tenant");
        Bench { db, workspace: tenant.workspace_id, tenant: tenant.id }
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    fn job(&self, n: usize) -> NewRun {
        NewRun {
            workspace_id: self.workspace,
            tenant_id: Some(self.tenant),
            kind: OperationKind::Fetch,
            target: Some(RunTarget { kind: "noop".into(), id: n.to_string() }),
            context: serde_json::Map::new(),
            initiator: Initiator::System,
            retry_of: None,
        }
    }

    /// The engine with `workers` lanes, all of which may run this one tenant's jobs. Runs the
    /// engine holds ahead of its lanes count in their tenant's limit, so the limit is twice the
    /// lanes (graphile-worker has no such limit).
    fn engine(&self, workers: usize) -> (EngineHandle, mpsc::UnboundedReceiver<Instant>) {
        let (done, ran) = mpsc::unbounded_channel();
        let operations = Operations::new(vec![Arc::new(NoOp { done })]);
        let settings = EngineSettings {
            workers,
            per_tenant_limit: 2 * workers as i64,
            retention: None,
            ..EngineSettings::default()
        };
        (EngineHandle::spawn(self.store().clone(), operations, settings, "peer"), ran)
    }

    async fn sql(&self, sql: &str) {
        let Db::Postgres(pool) = self.store().db() else { unreachable!("the peers share PostgreSQL") };
        sqlx::query(sql).execute(pool).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    async fn count(&self, sql: &str) -> i64 {
        let Db::Postgres(pool) = self.store().db() else { unreachable!("the peers share PostgreSQL") };
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    }

    /// `CHECKPOINT` before a timed phase, as the harness does for every peer.
    async fn checkpoint(&self) {
        self.sql("CHECKPOINT").await;
    }
}

/// `n` starts, `adders` at a time, each a new run.
async fn enqueue(metric: &str, adders: usize) {
    let n = knob("PEERS_N", 20_000);
    let bench = Arc::new(Bench::new().await);
    bench.checkpoint().await;
    let load_start = loadavg();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..adders {
        let (bench, next) = (bench.clone(), next.clone());
        lanes.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                engine::start(bench.store(), &bench.job(i)).await.unwrap();
            }
        });
    }
    while lanes.join_next().await.transpose().unwrap().is_some() {}
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let rows = bench.count("SELECT COUNT(*) FROM operation_runs WHERE status = 'queued'").await;
    emit(json!({
        "peer": PEER, "metric": metric,
        "config": format!("engine::start (run + audit entry), {adders} adder(s)"),
        "value": (n as f64 / (ms / 1e3)).round(), "unit": "jobs/s", "n": n, "ms": ms.round(), "rows_after": rows,
        "load_start": load_start,
    }));
    Arc::into_inner(bench).expect("adders done").db.drop_database().await;
}

/// `n` queued runs drained by an engine of `workers` lanes: jobs per second from the first
/// handler to the last, and from the engine's start to every run completed in the database.
async fn process(workers: usize) {
    let n = knob("PEERS_N", 20_000);
    let bench = Bench::new().await;
    // Queued as `engine::start` leaves them, in bulk (as the harness pre-queues every peer's).
    bench
        .sql(&format!(
            "INSERT INTO operation_runs (workspace_id, tenant_id, kind, status, outcome, identity, target_kind, \
             target_id, context, initiator, created_at) \
             SELECT {}, {}, 'assignments.fetch', 'queued', 'pending', 'peer-' || i, 'noop', i::text, '{{}}', \
             '{{\"kind\":\"system\"}}', now() + make_interval(secs => i / 1e6) FROM generate_series(1, {n}) AS i",
            bench.workspace, bench.tenant
        ))
        .await;
    bench.sql("VACUUM ANALYZE operation_runs").await;
    bench.checkpoint().await;
    let load_start = loadavg();
    let started = Instant::now();
    let (engine, mut ran) = bench.engine(workers);
    let (mut first, mut last, mut count) = (None, started, 0usize);
    let deadline = tokio::time::sleep(DRAIN_TIMEOUT);
    tokio::pin!(deadline);
    while count < n {
        tokio::select! {
            at = ran.recv() => {
                let at = at.expect("the engine is running");
                first.get_or_insert(at);
                last = at;
                count += 1;
            }
            () = &mut deadline => break,
        }
    }
    let outcome = if count == n { "done" } else { "timeout" };
    let mut open = i64::MAX;
    for _ in 0..3_000 {
        open = bench.count("SELECT COUNT(*) FROM operation_runs WHERE status <> 'completed'").await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained = started.elapsed();
    engine.shutdown().await;
    let span = last.duration_since(first.unwrap_or(started)).as_secs_f64();
    emit(json!({
        "peer": PEER, "metric": format!("process_c{workers}"),
        "config": format!("{workers} workers, free lanes claim together"),
        "value": (count as f64 / span.max(1e-9)).round(), "unit": "jobs/s", "n": count, "outcome": outcome,
        "drained": open == 0, "wall_rate": (count as f64 / drained.as_secs_f64()).round(),
        "span_ms": (span * 1e3).round(), "load_start": load_start,
    }));
    bench.db.drop_database().await;
}

/// One job started while the engine (one worker) idles: from the start call to the handler.
async fn latency() {
    let samples = knob("PEERS_LATENCY_SAMPLES", 200);
    let bench = Bench::new().await;
    let (engine, mut ran) = bench.engine(1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let load_start = loadavg();
    let (mut to_handler, mut start_call) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    // 20–50 ms between samples (xorshift), as the harness spaces every peer's.
    let mut jitter = 0x2545_f491_4f6c_dd1d_u64;
    for sample in 0..samples {
        jitter ^= jitter << 13;
        jitter ^= jitter >> 7;
        jitter ^= jitter << 17;
        tokio::time::sleep(Duration::from_millis(20 + jitter % 30)).await;
        let t0 = Instant::now();
        engine::start(bench.store(), &bench.job(sample)).await.unwrap();
        let started = t0.elapsed();
        let at = tokio::time::timeout(Duration::from_secs(10), ran.recv())
            .await
            .unwrap_or_else(|_| panic!("sample {sample} not picked up within 10 s"))
            .expect("the engine is running");
        to_handler.push(at.duration_since(t0).as_secs_f64() * 1e3);
        start_call.push(started.as_secs_f64() * 1e3);
    }
    engine.shutdown().await;
    let (e2e, add) = (summary(&mut to_handler), summary(&mut start_call));
    emit(json!({
        "peer": PEER, "metric": "latency", "config": "in-process wake-up, 1 worker",
        "value": e2e["p50"], "p99": e2e["p99"], "unit": "ms", "e2e": e2e, "add_call": add, "load_start": load_start,
    }));
    bench.db.drop_database().await;
}

/// p50/p90/p99 as the harness computes them (nearest rank).
fn summary(samples: &mut [f64]) -> serde_json::Value {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| {
        let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        (samples[rank.clamp(1, samples.len()) - 1] * 1e3).round() / 1e3
    };
    json!({ "n": samples.len(), "p50": at(50.0), "p90": at(90.0), "p99": at(99.0) })
}

#[tokio::main]
async fn main() {
    // `cargo bench` adds `--bench`; the harness passes the measurement alone.
    let which = std::env::args().skip(1).find(|arg| arg != "--bench");
    match which.as_deref() {
        None | Some("--list") => println!("{}", MEASUREMENTS.join("\n")),
        Some("enqueue_seq") => enqueue("enqueue_seq", 1).await,
        Some("enqueue_c32") => enqueue("enqueue_c32", knob("PEERS_ADDERS", 32)).await,
        Some("process_c8") => process(8).await,
        Some("process_c32") => process(32).await,
        Some("latency") => latency().await,
        Some(other) => {
            eprintln!("unknown measurement {other}; one of: {}", MEASUREMENTS.join(", "));
            std::process::exit(2);
        }
    }
}
