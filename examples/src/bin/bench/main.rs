//! Measures enqueue and processing throughput, enqueue-to-start latency and
//! worker memory on Redis, beside the ceiling of raw pipelined Redis commands
//! through the same client.
//!
//! ```text
//! cargo run --release -p examples --bin bench -- --jobs 100000 --concurrency 1,16,64
//! cargo run --release -p examples --bin bench -- --redis-url redis://127.0.0.1:6390/0 --json
//! cargo run --release -p examples --bin bench -- --figures process --concurrency 64
//! ```
//!
//! Without `--redis-url` it starts a throwaway `redis-server` on a free loopback
//! port. With one, it works under a fresh key prefix and deletes its keys
//! afterwards; it never flushes a database.

mod ceiling;
mod figure;
mod latency;
mod memory;
mod memory_queue;
mod rss;
mod server;
mod throughput;

use std::time::Duration;

use clap::Parser;
use figure::Figure;

/// The payload of the no-op job every figure uses.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Noop {
    n: u64,
    /// Enqueue time in nanoseconds since the Unix epoch, for the latency figure.
    #[serde(default)]
    sent_ns: u64,
}

#[jobs::job(name = "bench_noop")]
async fn bench_noop(noop: Noop) {
    if noop.sent_ns != 0 {
        latency::record(noop.sent_ns);
    }
}

/// Every figure the benchmark can measure, in the order it measures them.
const FIGURES: [&str; 8] = [
    "ceiling",
    "enqueue",
    "enqueue_batch",
    "process",
    "latency",
    "rss",
    "memory",
    "memory_queue",
];

/// Measures jobs/s and latency on Redis.
#[derive(Debug, Parser)]
struct Args {
    /// The Redis server; a throwaway one is started when omitted.
    #[arg(long)]
    redis_url: Option<String>,
    /// Jobs per throughput figure.
    #[arg(long, default_value_t = 100_000)]
    jobs: u64,
    /// Worker concurrency levels for the processing figure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Producer tasks of the single-call enqueue figure, comma-separated; each
    /// awaits one `enqueue` call at a time.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    producers: Vec<u64>,
    /// Jobs for the latency figure, enqueued one at a time on an idle queue.
    #[arg(long, default_value_t = 2_000)]
    latency_jobs: u64,
    /// The figures to measure, comma-separated: ceiling, enqueue, enqueue_batch,
    /// process, latency, rss, memory, memory_queue. All of them when omitted.
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(FIGURES))]
    figures: Vec<String>,
    /// Prints one JSON object per line per figure instead of a table.
    #[arg(long)]
    json: bool,
    /// Job counts of the peak-RSS figure, comma-separated; each runs a worker
    /// child process that drains that many jobs.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    rss_jobs: Vec<u64>,
    /// Jobs for the in-memory figures; defaults to `--jobs` times 10.
    #[arg(long)]
    memory_jobs: Option<u64>,
    /// Runs as the child process of the memory figure: processes this many jobs and prints peak RSS.
    #[arg(long, hide = true)]
    rss_child: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let server = match &args.redis_url {
        Some(_) => None,
        None => Some(server::ThrowawayRedis::start()?),
    };
    let url = args
        .redis_url
        .clone()
        .or_else(|| server.as_ref().map(|s| s.url()))
        .expect("a Redis URL");

    if let Some(jobs) = args.rss_child {
        rss::child(&url, jobs).await?;
        return Ok(());
    }

    let mut figures: Vec<Figure> = Vec::new();
    let mut report = |figure: Figure| {
        if args.json {
            println!("{}", figure.to_json());
        } else {
            eprintln!("{}", figure.to_row());
        }
        figures.push(figure);
    };

    let measured = |figure: &str| args.figures.is_empty() || args.figures.iter().any(|name| name == figure);
    if measured("ceiling") {
        report(ceiling::push(&url, args.jobs).await?);
        report(ceiling::pop(&url, args.jobs).await?);
    }
    if measured("enqueue") {
        for &producers in &args.producers {
            report(throughput::enqueue(&url, args.jobs, producers.max(1)).await?);
        }
    }
    if measured("enqueue_batch") {
        report(throughput::enqueue_batch(&url, args.jobs).await?);
    }
    if measured("process") {
        for &concurrency in &args.concurrency {
            report(throughput::process(&url, args.jobs, concurrency).await?);
        }
    }
    if measured("latency") {
        report(latency::measure(&url, args.latency_jobs, Duration::from_millis(2)).await?);
    }
    if measured("rss") {
        for &jobs in &args.rss_jobs {
            report(rss::measure(&url, jobs)?);
        }
    }
    let memory_jobs = args.memory_jobs.unwrap_or(args.jobs * 10);
    if measured("memory") {
        report(memory::measure(memory_jobs).map_err(|error| error.to_string())?);
    }
    if measured("memory_queue") {
        report(memory_queue::measure(memory_jobs).map_err(|error| error.to_string())?);
    }

    if !args.json {
        println!("{}", figure::table(&figures));
    }
    Ok(())
}
