// Shared helpers for the peer job-queue benchmarks (from the team's peers harness).
//
// Every measurement runs in its own Node process (spawned by driver.mjs) and
// reports exactly one line on stdout that starts with "RESULT " followed by a
// JSON object. Anything else a library prints goes to stderr / the log file.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import pg from 'pg';

// The server TenantPilot's tests use (scripts/with-postgres.sh sets it): both peers on one PostgreSQL.
export const DATABASE_URL = process.env.TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

export function envInt(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${v}`);
  return n;
}

/** Number of jobs for the throughput measurements. */
export const N = envInt('PEERS_N', 20000);
/** Concurrent adders for the concurrent-enqueue measurement. */
export const ADDERS = envInt('PEERS_ADDERS', 32);
/** Samples for the LISTEN/NOTIFY wake-up latency measurement. */
export const LATENCY_SAMPLES = envInt('PEERS_LATENCY_SAMPLES', 200);
/** Batch size used for bulk enqueue / pre-queueing. */
export const BULK_BATCH = envInt('PEERS_BULK_BATCH', 1000);
/** Upper bound for any single drain, so a stuck worker cannot hang a run. */
export const DRAIN_TIMEOUT_MS = envInt('PEERS_DRAIN_TIMEOUT_MS', 240000);

export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function makePool(max) {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max });
  pool.on('error', (e) => process.stderr.write(`pool error: ${e.message}\n`));
  pool.on('connect', (client) =>
    client.on('error', (e) => process.stderr.write(`client error: ${e.message}\n`)),
  );
  return pool;
}

/** Run one statement on a short-lived connection. */
export async function q(text, params) {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}

export async function dropSchema(schema) {
  // Drops everything the peer installed, so each measurement starts clean.
  await q(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

export async function vacuumAnalyzeSchema(schema) {
  const { rows } = await q(
    `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = $1`,
    [schema],
  );
  for (const r of rows) await q(`VACUUM (ANALYZE) ${r.t}`);
}

export async function checkpoint() {
  // Flush dirty buffers before a timed phase so a background checkpoint is
  // less likely to land in the middle of it. Needs superuser or pg_checkpoint.
  try {
    await q('CHECKPOINT');
  } catch (e) {
    process.stderr.write(`checkpoint skipped: ${e.message}\n`);
  }
}

/** Run `total` calls of fn(i) with `concurrency` async loops. Returns ms. */
export async function runConcurrent(total, concurrency, fn) {
  let next = 0;
  const t0 = now();
  const loops = [];
  for (let w = 0; w < concurrency; w++) {
    loops.push(
      (async () => {
        for (;;) {
          const i = next++;
          if (i >= total) return;
          await fn(i);
        }
      })(),
    );
  }
  await Promise.all(loops);
  return now() - t0;
}

export async function waitFor(pred, timeoutMs, stepMs = 20) {
  const t0 = now();
  for (;;) {
    if (await pred()) return true;
    if (now() - t0 > timeoutMs) return false;
    await sleep(stepMs);
  }
}

export function percentile(sorted, p) {
  if (!sorted.length) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const r3 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);
  return {
    n: s.length,
    p50: r3(percentile(s, 50)),
    p90: r3(percentile(s, 90)),
    p99: r3(percentile(s, 99)),
    min: r3(s[0]),
    max: r3(s[s.length - 1]),
    mean: r3(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

function loadavg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return os.loadavg().map((x) => Math.round(x * 100) / 100);
  }
}

/** Print the one RESULT line for this process. */
export function emit(obj) {
  const line = { ...obj, load_end: loadavg(), ts: new Date().toISOString() };
  process.stdout.write(`RESULT ${JSON.stringify(line)}\n`);
}

export const loadNow = loadavg;

/** Record completion timestamps and turn them into a throughput figure. */
export class CompletionClock {
  constructor(expected) {
    this.expected = expected;
    this.count = 0;
    this.first = null;
    this.last = null;
    this.startedAt = null;
    this._done = null;
    this.done = new Promise((r) => (this._done = r));
  }
  mark(k = 1) {
    const t = now();
    if (this.first === null) this.first = t;
    this.last = t;
    this.count += k;
    if (this.count >= this.expected) this._done();
  }
  /** jobs/s from first to last completion (the first completion opens the window). */
  rate() {
    if (this.count < 2 || this.last === this.first) return null;
    return (this.count - 1) / ((this.last - this.first) / 1000);
  }
}

export function parseArgs() {
  const [, , measurement, ...rest] = process.argv;
  if (!measurement) {
    process.stderr.write('usage: node <bench>.mjs <measurement>|--list\n');
    process.exit(2);
  }
  return { measurement, rest };
}

export function round(x, d = 1) {
  if (x == null) return null;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Installed version of an npm package (reads node_modules/<pkg>/package.json). */
export function pkgVersion(name) {
  const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}
