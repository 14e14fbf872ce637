// Prints one markdown table of medians from <dir>/results.jsonl (written by driver.mjs), then
// TenantPilot ÷ graphile-worker for each measurement both ran, beside the goal.
// Usage: node report.mjs DIR [DIR ...]   (several dirs are pooled, e.g. to merge sessions)
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const dirs = process.argv.slice(2);
if (!dirs.length) {
  console.error('usage: node report.mjs RESULTS_DIR [...]');
  process.exit(2);
}

const recs = [];
dirs.forEach((d, di) => {
  const f = path.join(d, 'results.jsonl');
  if (!existsSync(f)) return;
  for (const l of readFileSync(f, 'utf8').split('\n')) if (l.trim()) recs.push({ ...JSON.parse(l), _order: di * 1000 + (JSON.parse(l).run ?? 0) });
});

const median = (xs) => {
  const s = xs.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x) => {
  if (x == null) return '–';
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return String(Math.round(x * 10) / 10);
};

const LABEL = {
  enqueue_seq: 'enqueue, 1 adder (jobs/s)',
  enqueue_c32: 'enqueue, 32 concurrent adders (jobs/s)',
  process_c8: 'drain pre-queued no-op, conc. 8 (jobs/s)',
  process_c32: 'drain pre-queued no-op, conc. 32 (jobs/s)',
  process_batched_c32: 'drain, batched fetch, conc. 32 (jobs/s)',
  latency: 'add→handler start p50 / p99 (ms)',
};

const groups = new Map();
for (const r of recs) {
  const key = `${r.measurement}\u0000${r.peer ?? r.peer_key}\u0000${r.config ?? ''}`;
  if (!groups.has(key)) groups.set(key, { measurement: r.measurement, peer: r.peer ?? r.peer_key, config: r.config ?? '', runs: [] });
  groups.get(key).runs.push(r);
}

const ORDER = Object.keys(LABEL);
const rank = (m) => (ORDER.indexOf(m) === -1 ? ORDER.length : ORDER.indexOf(m));
const PEER_ORDER = ['graphile-worker', 'tenantpilot'];
const prank = (p) => (PEER_ORDER.indexOf(p) === -1 ? PEER_ORDER.length : PEER_ORDER.indexOf(p));
const sortedGroups = [...groups.values()].sort((a, b) =>
  rank(a.measurement) - rank(b.measurement) || prank(a.peer) - prank(b.peer));
const rows = [];
for (const g of sortedGroups) {
  const ok = g.runs.filter((r) => !r.error);
  const isLat = g.measurement.startsWith('latency');
  const perRun = g.runs
    .sort((x, y) => x._order - y._order)
    .map((r) => (r.error ? 'ERR' : isLat ? `${fmt(r.value)}/${fmt(r.p99)}` : fmt(r.value)));
  const med = isLat
    ? `${fmt(median(ok.map((r) => r.value)))} / ${fmt(median(ok.map((r) => r.p99)))}`
    : fmt(median(ok.map((r) => r.value)));
  const load = median(g.runs.map((r) => r.load_before?.[0]));
  const busy = median(g.runs.map((r) => r.others_runnable));
  rows.push([LABEL[g.measurement] ?? g.measurement, g.peer, g.config, perRun.join(', '), `**${med}**`, `${fmt(load)} / ${fmt(busy)}`]);
}

const header = ['measurement', 'peer', 'config', `per run`, 'median', 'load1 / busy'];
const out = [
  `| ${header.join(' | ')} |`,
  `| ${header.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');

let envLine = '';
const envs = dirs.map((d) => path.join(d, 'env.json')).filter(existsSync).map((f) => JSON.parse(readFileSync(f, 'utf8')));
if (envs.length) {
  const e = envs[0];
  e.versions = Object.assign({}, ...envs.map((x) => x.versions));
  const p = e.postgres;
  envLine = `PostgreSQL ${p.server_version}; shared_buffers=${p.shared_buffers}, synchronous_commit=${p.synchronous_commit}` +
    `${e.pgoptions ? ` (PGOPTIONS=${e.pgoptions})` : ''}, fsync=${p.fsync}, wal_sync_method=${p.wal_sync_method}; ` +
    `N=${e.env?.PEERS_N ?? 20000}; node ${e.node}; ${Object.entries(e.versions).map(([k, v]) => `${k} ${v}`).join(', ')}; ${e.nproc} cores\n\n`;
}
const note = '\nper run: values in run order; latency cells are p50/p99. load1: median 1-min load average before the measurement; ' +
  'busy: median count of other runnable tasks sampled for 1 s before it (2 cores; - when not recorded).\n';

// TenantPilot ÷ graphile-worker, measurement by measurement, from the medians of the same run.
const GOALS = { process_c32: (r) => (r >= 2 ? 'met (≥ 2×)' : 'not met (≥ 2×)'), latency: (r) => (r <= 0.5 ? 'met (≤ ½)' : 'not met (≤ ½)') };
const medianOf = (peer, measurement, field) =>
  median(recs.filter((r) => !r.error && (r.peer ?? r.peer_key) === peer && r.measurement === measurement).map((r) => r[field]));
const ratioRows = [];
for (const m of ORDER) {
  const fields = m.startsWith('latency') ? [['value', 'p50'], ['p99', 'p99']] : [['value', '']];
  for (const [field, which] of fields) {
    const ours = medianOf('tenantpilot', m, field);
    const theirs = medianOf('graphile-worker', m, field);
    if (ours == null || theirs == null) continue;
    const ratio = ours / theirs;
    const goal = which !== 'p99' && GOALS[m] ? GOALS[m](ratio) : '';
    ratioRows.push(`| ${LABEL[m]}${which ? ` ${which}` : ''} | ${fmt(ours)} | ${fmt(theirs)} | **${ratio.toFixed(2)}×** | ${goal} |`);
  }
}
const ratios = ratioRows.length
  ? ['\n| measurement | TenantPilot | graphile-worker | TenantPilot ÷ graphile-worker | goal |', '| --- | --- | --- | --- | --- |', ...ratioRows].join('\n') + '\n'
  : '';
const text = `${envLine}${out}\n${note}${ratios}`;
process.stdout.write(text);
writeFileSync(path.join(dirs[0], 'summary.md'), text);
