// The BullMQ side of examples/peers/run.sh.
//
//   node peer.mjs REDIS_URL enqueue|enqueue_bulk|process JOBS [CONCURRENCY]
//
// Prints one line: `bullmq <figure> <concurrency> <jobs> <jobs per second>`.
// CONCURRENCY is the number of concurrent add() loops for `enqueue` and the
// worker concurrency for `process`. `process` first fills the queue with addBulk and then times a worker with
// a no-op processor until every job has completed. Queue and worker options
// are BullMQ's defaults.

import { Queue, Worker } from "bullmq";

const usage = "usage: node peer.mjs REDIS_URL enqueue|enqueue_bulk|process JOBS [CONCURRENCY]";
const [url, figure, jobsText, concurrencyText = "1"] = process.argv.slice(2);
if (!url || !figure || !jobsText) {
  console.error(usage);
  process.exit(2);
}
const jobs = Number.parseInt(jobsText, 10);
const concurrency = Number.parseInt(concurrencyText, 10);
const { hostname, port } = new URL(url);
const connection = { host: hostname, port: Number(port) };
const name = `bullmq-peer-${figure}-${concurrency}-${process.pid}`;
const queue = new Queue(name, { connection });

async function fill() {
  for (let next = 0; next < jobs; next += 1000) {
    const end = Math.min(next + 1000, jobs);
    const batch = [];
    for (let n = next; n < end; n++) {
      batch.push({ name: "noop", data: { n } });
    }
    await queue.addBulk(batch);
  }
}

// Single-call enqueue: CONCURRENCY loops each await one add() at a time.
async function enqueue() {
  const started = performance.now();
  const producers = [];
  for (let producer = 0; producer < concurrency; producer++) {
    const share = Math.floor(jobs / concurrency) + (producer < jobs % concurrency ? 1 : 0);
    producers.push(
      (async () => {
        for (let n = 0; n < share; n++) {
          await queue.add("noop", { n });
        }
      })(),
    );
  }
  await Promise.all(producers);
  return performance.now() - started;
}

async function processAll() {
  await fill();
  let completed = 0;
  let started;
  const finished = new Promise((resolve) => {
    const worker = new Worker(name, async () => {}, { connection, concurrency, autorun: false });
    worker.on("completed", () => {
      completed += 1;
      if (completed === jobs) {
        resolve(worker);
      }
    });
    worker.on("failed", (job, error) => console.error(`job ${job?.id} failed: ${error}`));
    started = performance.now();
    worker.run();
  });
  const worker = await finished;
  const elapsed = performance.now() - started;
  await worker.close();
  return elapsed;
}

async function main() {
  await queue.waitUntilReady();
  let elapsed;
  if (figure === "enqueue") {
    elapsed = await enqueue();
  } else if (figure === "enqueue_bulk") {
    const started = performance.now();
    await fill();
    elapsed = performance.now() - started;
  } else if (figure === "process") {
    elapsed = await processAll();
  } else {
    throw new Error(`unknown figure \`${figure}\`; ${usage}`);
  }
  console.log(`bullmq ${figure} ${concurrency} ${jobs} ${Math.round((jobs * 1000) / elapsed)}`);
  await queue.obliterate({ force: true });
  await queue.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
