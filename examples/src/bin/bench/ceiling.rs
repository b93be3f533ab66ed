//! The Redis ceiling: the same number of ids pushed and popped with raw
//! pipelined commands through the same client, and no job semantics.

use std::time::Instant;

use redis::AsyncCommands;

use crate::figure::Figure;
use crate::throughput::{PIPELINE, delete_prefix, fresh_prefix};

async fn connect(url: &str) -> Result<redis::aio::ConnectionManager, redis::RedisError> {
    redis::Client::open(url)?.get_connection_manager().await
}

/// Pushes `jobs` ids onto a list, `PIPELINE` commands per round trip.
pub(crate) async fn push(url: &str, jobs: u64) -> Result<Figure, Box<dyn std::error::Error>> {
    let mut connection = connect(url).await?;
    let key = format!("{}:ready", fresh_prefix("ceiling"));
    let started = Instant::now();
    fill(&mut connection, &key, jobs).await?;
    let elapsed = started.elapsed();
    let _: () = connection.del(&key).await?;
    Ok(Figure {
        figure: "ceiling",
        operation: Some("push"),
        jobs,
        jobs_per_s: Some(jobs as f64 / elapsed.as_secs_f64()),
        ..Figure::default()
    })
}

/// Pops `jobs` ids from a pre-filled list, `PIPELINE` commands per round trip.
pub(crate) async fn pop(url: &str, jobs: u64) -> Result<Figure, Box<dyn std::error::Error>> {
    let mut connection = connect(url).await?;
    let prefix = fresh_prefix("ceiling");
    let key = format!("{prefix}:ready");
    fill(&mut connection, &key, jobs).await?;
    let started = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let batch = left.min(PIPELINE);
        let mut pipe = redis::pipe();
        for _ in 0..batch {
            pipe.cmd("RPOP").arg(&key);
        }
        let _: Vec<Option<String>> = pipe.query_async(&mut connection).await?;
        left -= batch;
    }
    let elapsed = started.elapsed();
    delete_prefix(url, &prefix).await?;
    Ok(Figure {
        figure: "ceiling",
        operation: Some("pop"),
        jobs,
        jobs_per_s: Some(jobs as f64 / elapsed.as_secs_f64()),
        ..Figure::default()
    })
}

async fn fill(connection: &mut redis::aio::ConnectionManager, key: &str, jobs: u64) -> redis::RedisResult<()> {
    let mut next = 0;
    while next < jobs {
        let end = (next + PIPELINE).min(jobs);
        let mut pipe = redis::pipe();
        for id in next..end {
            pipe.cmd("LPUSH").arg(key).arg(id).ignore();
        }
        let () = pipe.query_async(connection).await?;
        next = end;
    }
    Ok(())
}
