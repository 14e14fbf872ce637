// Runs every measurement of every peer, each in its own process, RUNS times,
// interleaving the peers measurement by measurement so slow drifts in machine
// load hit all peers alike. Writes <out>/env.json, <out>/results.jsonl and
// <out>/log.txt.
//
// Usage: node driver.mjs --out DIR [--runs 2] [--peers graphile,tenantpilot] [--only REGEX]
//
// A peer is any command that, given a measurement name, prints one line
//   RESULT {"peer":..., "metric":..., "config":..., "value":..., "unit":...}
// and, given --list, prints its measurement names one per line. TenantPilot's is the release
// build of benches/peer.rs, which run.sh builds and names in TENANTPILOT_PEER.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DATABASE_URL, pkgVersion } from './lib/common.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NODE = process.execPath;
const PEERS = {
  graphile: { cmd: [NODE, path.join(HERE, 'bench-graphile.mjs')] },
  tenantpilot: { cmd: [process.env.TENANTPILOT_PEER ?? 'TENANTPILOT_PEER is not set'] },
};
const PHASES = ['enqueue', 'process', 'latency'];
const PER_MEASUREMENT_TIMEOUT_MS = 600_000;

function args() {
  const a = { runs: 2, peers: ['graphile', 'tenantpilot'], only: null, out: null };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--runs') a.runs = Number(v[++i]);
    else if (v[i] === '--peers') a.peers = v[++i].split(',').filter(Boolean);
    else if (v[i] === '--only') a.only = new RegExp(v[++i]);
    else if (v[i] === '--out') a.out = v[++i];
    else throw new Error(`unknown argument ${v[i]}`);
  }
  if (!a.out) throw new Error('--out DIR is required');
  for (const p of a.peers) if (!PEERS[p]) throw new Error(`unknown peer ${p}; known: ${Object.keys(PEERS).join(', ')}`);
  return a;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const sleepMs = (ms) => new Promise((r) => setTimeout(r, ms));

/** Mean number of runnable tasks (minus this reader) over ~1 s while no
 *  measurement is running: a direct sample of competing CPU demand, unlike the
 *  load average, which also remembers our own previous measurement. */
async function othersRunnable() {
  let sum = 0;
  const k = 10;
  for (let i = 0; i < k; i++) {
    const m = /procs_running (\d+)/.exec(readFileSync('/proc/stat', 'utf8'));
    sum += Math.max(0, Number(m?.[1] ?? 1) - 1);
    await sleepMs(100);
  }
  return Math.round((sum / k) * 10) / 10;
}

async function environment(peers) {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  const names = ['server_version', 'shared_buffers', 'synchronous_commit', 'fsync', 'full_page_writes',
    'wal_sync_method', 'commit_delay', 'max_connections', 'work_mem', 'max_wal_size', 'wal_level',
    'checkpoint_timeout', 'autovacuum'];
  const { rows } = await c.query(
    `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1) ORDER BY name`, [names]);
  await c.end();
  const versions = {};
  for (const p of ['graphile-worker', 'pg']) {
    try { versions[p] = pkgVersion(p); } catch { /* not installed */ }
  }
  if (process.env.TENANTPILOT_VERSION) versions.tenantpilot = process.env.TENANTPILOT_VERSION;
  return {
    started: new Date().toISOString(),
    database_url: DATABASE_URL.replace(/:[^:@/]*@/, ':***@'),
    pgoptions: process.env.PGOPTIONS ?? null,
    postgres: Object.fromEntries(rows.map((r) => [r.name, r.setting])),
    node: process.version,
    versions,
    peers,
    nproc: os.cpus().length,
    mem_gib: Math.round(os.totalmem() / 2 ** 30),
    loadavg_start: loadavg(),
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PEERS_'))),
  };
}

function listMeasurements(peer) {
  const [cmd, ...rest] = PEERS[peer].cmd;
  const r = spawnSync(cmd, [...rest, '--list'], { encoding: 'utf8', cwd: HERE });
  if (r.status !== 0) throw new Error(`${peer} --list failed: ${r.stderr}`);
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

const a = args();
mkdirSync(a.out, { recursive: true });
const resultsFile = path.join(a.out, 'results.jsonl');
const logFile = path.join(a.out, 'log.txt');
const env = await environment(a.peers);
writeFileSync(path.join(a.out, 'env.json'), JSON.stringify(env, null, 2) + '\n');
console.error(`postgres: ${JSON.stringify(env.postgres)}`);

const lists = Object.fromEntries(a.peers.map((p) => [p, listMeasurements(p)]));
// Order: phase, then measurement name, then peer (interleaved).
const plan = [];
for (const phase of PHASES) {
  const names = [...new Set(a.peers.flatMap((p) => lists[p]).filter((m) => m.startsWith(phase)))];
  for (const m of names) for (const p of a.peers) if (lists[p].includes(m) && (!a.only || a.only.test(m))) plan.push([p, m]);
}

for (let run = 1; run <= a.runs; run++) {
  for (const [peer, m] of plan) {
    const load = loadavg();
    const busy = await othersRunnable();
    const [cmd, ...rest] = PEERS[peer].cmd;
    const t0 = Date.now();
    const r = spawnSync(cmd, [...rest, m], {
      encoding: 'utf8', cwd: HERE, timeout: PER_MEASUREMENT_TIMEOUT_MS, maxBuffer: 64 * 2 ** 20,
    });
    const secs = (Date.now() - t0) / 1000;
    appendFileSync(logFile, `### run ${run} ${peer} ${m} load=${load.join(' ')} others_runnable=${busy} exit=${r.status} ${secs.toFixed(1)}s\n${r.stderr || ''}${r.error ? String(r.error) + '\n' : ''}`);
    const lines = (r.stdout || '').split('\n').filter((l) => l.startsWith('RESULT '));
    if (r.status !== 0 || lines.length === 0) {
      const rec = { run, peer_key: peer, measurement: m, error: `exit ${r.status ?? r.signal}`, load_before: load, others_runnable: busy };
      appendFileSync(resultsFile, JSON.stringify(rec) + '\n');
      console.error(`[run ${run}] ${peer} ${m}: FAILED (${rec.error}); see ${logFile}`);
      continue;
    }
    for (const l of lines) {
      const rec = { run, peer_key: peer, measurement: m, load_before: load, others_runnable: busy, secs, ...JSON.parse(l.slice(7)) };
      appendFileSync(resultsFile, JSON.stringify(rec) + '\n');
      const extra = rec.p99 != null ? ` p99 ${rec.p99}` : rec.errors ? ` (${rec.errors} errors)` : '';
      console.error(`[run ${run}] ${rec.peer} ${m} [${rec.config}]: ${rec.value} ${rec.unit}${extra}  (load ${load[0]}, others runnable ${busy}, ${secs.toFixed(0)} s)`);
    }
  }
}
