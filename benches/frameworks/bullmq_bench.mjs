// BullMQ against one server: how fast jobs go in and how fast a Worker gets them done.
//
//   node benches/frameworks/bullmq_bench.mjs --port P --jobs N [--concurrency 50] [--chunk 500]
//                                            [--inflight 50] [--timeout 120]
//
// Three phases on a fresh queue each, printed as one line of key=value fields:
//   addbulk  queue.addBulk in chunks of --chunk, no worker running          (add_bulk=jobs/s)
//   drain    a Worker (--concurrency) completes the jobs left by addbulk     (drain=jobs/s)
//   e2e      a Worker runs while queue.add is called with --inflight adds outstanding;
//            first add to last `completed` event                             (add=jobs/s, e2e=jobs/s)
// The processor returns at once, jobs are removed on completion (removeOnComplete), so every
// job is one addJob script, one moveToActive and one moveToFinished (EVALSHA) on the server.
// Every phase checks that each job completed exactly once and that the queue ends empty;
// otherwise it prints error=... and exits 1.
import { Queue, Worker } from 'bullmq';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const port = Number(args.port);
const jobs = Number(args.jobs ?? 20000);
const concurrency = Number(args.concurrency ?? 50);
const chunk = Number(args.chunk ?? 500);
const inflight = Number(args.inflight ?? 50);
const timeoutS = Number(args.timeout ?? 120);
if (!port) {
  console.error('usage: bullmq_bench.mjs --port P --jobs N');
  process.exit(2);
}

const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const out = {};
const fail = (msg) => {
  console.log(`error=${JSON.stringify(msg)}`);
  process.exit(1);
};
setTimeout(() => fail(`timeout after ${timeoutS}s in ${phase}`), timeoutS * 1000).unref();
let phase = 'setup';

const now = () => Number(process.hrtime.bigint()) / 1e9;
const jobOpts = { removeOnComplete: true, removeOnFail: false };

// A Worker counting completions; resolves `done` when `n` distinct jobs completed.
function startWorker(name, n) {
  const seen = new Set();
  let failed = 0;
  let resolve;
  const done = new Promise((r) => (resolve = r));
  let last = 0;
  const worker = new Worker(name, async () => 1, { connection, concurrency });
  worker.on('completed', (job) => {
    if (seen.has(job.id)) fail(`${phase}: job ${job.id} completed twice`);
    seen.add(job.id);
    if (seen.size === n) {
      last = now();
      resolve();
    }
  });
  worker.on('failed', (job, err) => {
    failed++;
    fail(`${phase}: job ${job?.id} failed: ${err?.message}`);
  });
  worker.on('error', (err) => fail(`${phase}: worker error: ${err?.message}`));
  return { worker, done, lastAt: () => last, failed: () => failed };
}

async function checkEmpty(queue) {
  const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'paused');
  const left = Object.entries(c).filter(([, v]) => v !== 0);
  if (left.length) fail(`${phase}: queue not empty at the end: ${JSON.stringify(c)}`);
}

const payload = { to: 'someone@example.com', body: 'x'.repeat(64) };
const stamp = `${process.pid}-${Date.now()}`;

// Phase 1 and 2: addBulk with no worker, then a worker drains the backlog.
{
  phase = 'addbulk';
  const name = `bench-bulk-${stamp}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const t0 = now();
  for (let i = 0; i < jobs; i += chunk) {
    const batch = [];
    for (let j = i; j < Math.min(jobs, i + chunk); j++) batch.push({ name: 'mail', data: { ...payload, n: j }, opts: jobOpts });
    await queue.addBulk(batch);
  }
  const t1 = now();
  out.add_bulk = Math.round(jobs / (t1 - t0));
  const waiting = await queue.getWaitingCount();
  if (waiting !== jobs) fail(`addbulk: ${waiting} jobs waiting, expected ${jobs}`);

  phase = 'drain';
  const t2 = now();
  const w = startWorker(name, jobs);
  await w.done;
  out.drain = Math.round(jobs / (w.lastAt() - t2));
  await w.worker.close();
  await checkEmpty(queue);
  await queue.obliterate({ force: true });
  await queue.close();
}

// Phase 3: worker running, producer adding one job per call with `inflight` calls outstanding.
{
  phase = 'e2e';
  const name = `bench-e2e-${stamp}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const w = startWorker(name, jobs);
  await w.worker.waitUntilReady();
  const t0 = now();
  let next = 0;
  const producer = async () => {
    while (next < jobs) {
      const n = next++;
      await queue.add('mail', { ...payload, n }, jobOpts);
    }
  };
  await Promise.all(Array.from({ length: inflight }, producer));
  const t1 = now();
  out.add = Math.round(jobs / (t1 - t0));
  await w.done;
  out.e2e = Math.round(jobs / (w.lastAt() - t0));
  await w.worker.close();
  await checkEmpty(queue);
  await queue.obliterate({ force: true });
  await queue.close();
}

console.log(Object.entries(out).map(([k, v]) => `${k}=${v}`).join(' '));
process.exit(0);
