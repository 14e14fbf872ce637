// graphile-worker measurements. Usage: node bench-graphile.mjs <measurement>|--list
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import {
  ADDERS, BULK_BATCH, CompletionClock, DATABASE_URL, DRAIN_TIMEOUT_MS,
  LATENCY_SAMPLES, N, checkpoint, pkgVersion, dropSchema, emit, loadNow, makePool, now, q, round,
  runConcurrent, sleep, summarize, vacuumAnalyzeSchema, waitFor,
} from './lib/common.mjs';

const VERSION = pkgVersion('graphile-worker');
const SCHEMA = 'graphile_worker';
const PEER = 'graphile-worker';
const TASK = 'noop';

// Silence the library's info logging so stdout only carries RESULT lines.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`[gw ${level}] ${message}\n`);
});

async function freshUtils(poolMax) {
  await dropSchema(SCHEMA);
  const pgPool = makePool(poolMax);
  const utils = await makeWorkerUtils({ pgPool, logger });
  await utils.migrate();
  return { utils, pgPool, close: async () => { await utils.release(); await pgPool.end(); } };
}

async function jobCount() {
  const { rows } = await q(`SELECT count(*)::int AS n FROM ${SCHEMA}.jobs`);
  return rows[0].n;
}

async function prequeue(utils, n) {
  for (let i = 0; i < n; i += BULK_BATCH) {
    const specs = [];
    for (let j = i; j < Math.min(n, i + BULK_BATCH); j++) specs.push({ identifier: TASK, payload: { i: j } });
    await utils.addJobs(specs);
  }
}

function startRunner({ concurrency, taskList, worker = {} }) {
  return run({
    noHandleSignals: true,
    logger,
    taskList,
    preset: {
      worker: {
        connectionString: DATABASE_URL,
        concurrentJobs: concurrency,
        maxPoolSize: concurrency + 2, // the library's own recommendation
        ...worker,
      },
    },
  });
}

// ---- enqueue ---------------------------------------------------------------
async function enqueue(mode) {
  const adders = mode === 'seq' ? 1 : ADDERS;
  const { utils, close } = await freshUtils(adders + 2);
  await checkpoint();
  const load_start = loadNow();
  const ms = await runConcurrent(N, adders, (i) => utils.addJob(TASK, { i }));
  const count = await jobCount();
  await close();
  emit({
    peer: PEER, version: VERSION, metric: `enqueue_${mode}`, config: `addJob, ${adders} adder(s)`,
    value: round(N / (ms / 1000)), unit: 'jobs/s', n: N, ms: round(ms), rows_after: count, load_start,
  });
}

// ---- processing --------------------------------------------------------------
async function processing(concurrency, batched) {
  const { utils, close } = await freshUtils(4);
  await prequeue(utils, N);
  await close();
  await vacuumAnalyzeSchema(SCHEMA);
  await checkpoint();
  const clock = new CompletionClock(N);
  const load_start = loadNow();
  const tStart = now();
  const worker = batched ? { localQueue: { size: 50 }, completeJobBatchDelay: 0 } : {};
  const runner = await startRunner({
    concurrency,
    worker,
    taskList: { [TASK]: async () => { clock.mark(); } },
  });
  const timeout = sleep(DRAIN_TIMEOUT_MS).then(() => 'timeout');
  const outcome = await Promise.race([clock.done.then(() => 'done'), timeout]);
  const drained = await waitFor(async () => (await jobCount()) === 0, 30000, 10);
  const tDrained = now();
  await runner.stop();
  emit({
    peer: PEER, version: VERSION, metric: `process_c${concurrency}`,
    config: batched ? 'localQueue.size=50, completeJobBatchDelay=0' : 'default (1 job per fetch)',
    value: round(clock.rate()), unit: 'jobs/s', n: clock.count, outcome, drained,
    wall_rate: round(clock.count / ((tDrained - tStart) / 1000)),
    span_ms: round(clock.last - clock.first), load_start,
  });
}

// ---- latency ---------------------------------------------------------------
async function latency() {
  const { utils, close } = await freshUtils(2);
  let waiter = null;
  const runner = await startRunner({
    concurrency: 1,
    taskList: { [TASK]: async () => { const t = now(); waiter?.(t); } },
  });
  await sleep(500); // let the pool LISTEN and go idle
  const load_start = loadNow();
  const e2e = [];
  const add = [];
  for (let s = 0; s < LATENCY_SAMPLES; s++) {
    await sleep(20 + Math.random() * 30); // worker is idle-waiting now
    const started = new Promise((r) => (waiter = r));
    const t0 = now();
    await utils.addJob(TASK, { s });
    const tAdded = now();
    const t1 = await Promise.race([started, sleep(10000).then(() => null)]);
    if (t1 === null) throw new Error(`sample ${s} not picked up within 10 s`);
    e2e.push(t1 - t0);
    add.push(tAdded - t0);
  }
  await runner.stop();
  await close();
  const st = summarize(e2e);
  emit({
    peer: PEER, version: VERSION, metric: 'latency', config: 'LISTEN/NOTIFY (built in), concurrency 1',
    value: st.p50, p99: st.p99, unit: 'ms', e2e: st, add_call: summarize(add), load_start,
  });
}

const MEASUREMENTS = {
  enqueue_seq: () => enqueue('seq'),
  enqueue_c32: () => enqueue('c32'),
  process_c8: () => processing(8, false),
  process_c32: () => processing(32, false),
  process_batched_c32: () => processing(32, true),
  latency: () => latency(),
};

const which = process.argv[2];
if (which === '--list' || !which) {
  console.log(Object.keys(MEASUREMENTS).join('\n'));
} else if (!MEASUREMENTS[which]) {
  console.error(`unknown measurement ${which}; one of: ${Object.keys(MEASUREMENTS).join(', ')}`);
  process.exit(2);
} else {
  try {
    await MEASUREMENTS[which]();
    process.exit(0);
  } catch (e) {
    console.error(e);
    process.exit(1);
  }
}
