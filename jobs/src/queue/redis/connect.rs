//! Opening the connection: URL checks, password masking, the first contact
//! with the server and the eviction-policy check.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, RedisError};
use tracing::{debug, warn};

use super::connection::Connection;
use crate::config::ConfigError;

/// The URL schemes `connect` accepts. `redis+unix` is the redis crate's
/// other spelling of `unix`.
const SCHEMES: [&str; 4] = ["redis", "rediss", "unix", "redis+unix"];

/// Replaces the password in a Redis URL with `***`: the one in
/// `user:password@` or `:password@`, and the `pass` query parameter of
/// `unix://` URLs. Works on malformed URLs too, so error messages can show
/// any URL the user gave.
pub(super) fn mask_password(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |index| index + 3);
    let mut masked = match url[authority_start..].rfind('@') {
        Some(at) => {
            let at = authority_start + at;
            let user_info = &url[authority_start..at];
            match user_info.find(':') {
                Some(colon) => format!("{}***{}", &url[..authority_start + colon + 1], &url[at..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    mask_query_password(&mut masked);
    masked
}

/// Masks the values of the `pass` and `password` query parameters.
fn mask_query_password(url: &mut String) {
    let Some(query_start) = url.find('?') else {
        return;
    };
    let query_end = url[query_start..]
        .find('#')
        .map_or(url.len(), |index| query_start + index);
    let query: Vec<String> = url[query_start + 1..query_end]
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name == "pass" || name == "password" => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    url.replace_range(query_start + 1..query_end, &query.join("&"));
}

/// Parses `url` into a client, or explains what is wrong with it.
pub(super) fn client(url: &str, masked: &str) -> Result<Client, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidRedisUrl {
        url: masked.to_owned(),
        reason,
    };
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(invalid(
            "it has no scheme; start it with redis://, rediss:// or unix://".to_owned(),
        ));
    };
    if !SCHEMES.contains(&scheme) {
        return Err(invalid(format!(
            "the scheme `{scheme}` is not supported; use redis://, rediss:// or unix://"
        )));
    }
    Client::open(url).map_err(|error| invalid(invalid_url_reason(scheme, &error)))
}

fn invalid_url_reason(scheme: &str, error: &RedisError) -> String {
    let text = error.to_string();
    // The redis crate formats its own errors as "description - Kind: detail".
    let description = text.split(" - ").next().unwrap_or(&text);
    if scheme == "rediss" && description.contains("TLS") {
        return "rediss:// needs TLS support, which this build lacks; enable the \
                `tokio-rustls-comp` or `tokio-native-tls-comp` feature of the `redis` crate"
            .to_owned();
    }
    match description {
        "Redis URL did not parse" => "it does not parse as a URL; check the host and port, and percent-encode \
             special characters in the user name and password"
            .to_owned(),
        "Missing hostname" => "it has no host name".to_owned(),
        "Invalid database number" => "the database number is not an integer".to_owned(),
        _ => text,
    }
}

/// Settings for the first contact and for the connection kept afterwards.
pub(super) struct Timeouts {
    /// Bound on each connection attempt and on the first contact as a whole.
    pub(super) connect: Duration,
    /// Bound on each command, including any wait for a reconnection.
    pub(super) response: Duration,
}

/// Connects, checks that the server replies to PING, and warns when its
/// eviction policy could delete job keys.
pub(super) async fn open(client: Client, masked: &str, timeouts: &Timeouts) -> Result<Connection, ConfigError> {
    let unreachable = |reason: String| ConfigError::RedisUnreachable {
        url: masked.to_owned(),
        reason,
    };

    // One direct attempt first: the connection manager retries a refused
    // connection several times before it reports anything, and then reports
    // only its last error.
    let mut probe = within(timeouts.connect, probe(&client, timeouts))
        .await
        .map_err(unreachable)?;
    warn_unless_noeviction(&mut probe, masked).await;
    drop(probe);

    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.response));
    let manager = within(timeouts.connect, ConnectionManager::new_with_config(client, config))
        .await
        .map_err(unreachable)?;
    let mut connection = Connection::single(manager, timeouts.response);
    redis::cmd("PING")
        .query_async::<()>(&mut connection)
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    debug!(url = masked, "connected to Redis");
    Ok(connection)
}

async fn probe(client: &Client, timeouts: &Timeouts) -> Result<MultiplexedConnection, RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.response));
    let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
    redis::cmd("PING").query_async::<()>(&mut connection).await?;
    Ok(connection)
}

/// Runs `future` for at most `timeout`, turning either failure into a reason.
async fn within<T>(timeout: Duration, future: impl Future<Output = Result<T, RedisError>>) -> Result<T, String> {
    match tokio::time::timeout(timeout, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Warns when `maxmemory-policy` lets Redis evict keys, because an evicted
/// job hash or list loses jobs. Managed Redis services often disable CONFIG,
/// so a failed CONFIG GET is only logged at debug level.
async fn warn_unless_noeviction(connection: &mut MultiplexedConnection, masked: &str) {
    let reply = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async::<HashMap<String, String>>(connection)
        .await;
    match reply {
        Ok(settings) => match settings.get("maxmemory-policy") {
            Some(policy) if policy != "noeviction" => warn!(
                url = masked,
                policy = policy.as_str(),
                "Redis maxmemory-policy is not noeviction, so Redis may delete job keys when \
                 memory runs out; set it to noeviction"
            ),
            _ => {}
        },
        Err(error) => debug!(url = masked, %error, "cannot read Redis maxmemory-policy"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_masked_with_user() {
        assert_eq!(
            mask_password("redis://alice:s3cret@cache.internal:6379/2"),
            "redis://alice:***@cache.internal:6379/2"
        );
    }

    #[test]
    fn password_masked_without_user() {
        assert_eq!(
            mask_password("rediss://:s3cret@cache.internal:6380"),
            "rediss://:***@cache.internal:6380"
        );
    }

    #[test]
    fn password_with_reserved_characters_masked() {
        assert_eq!(
            mask_password("redis://:p@ss/w:rd@host:6379/0"),
            "redis://:***@host:6379/0"
        );
    }

    #[test]
    fn url_without_password_unchanged() {
        for url in [
            "redis://localhost:6379/0",
            "redis://alice@localhost",
            "unix:///run/redis.sock?db=1",
        ] {
            assert_eq!(mask_password(url), url);
        }
    }

    #[test]
    fn unix_pass_parameter_masked() {
        assert_eq!(
            mask_password("unix:///run/redis.sock?db=1&pass=s3cret&user=bob"),
            "unix:///run/redis.sock?db=1&pass=***&user=bob"
        );
    }

    #[test]
    fn malformed_url_still_masked() {
        assert_eq!(mask_password("redis//:s3cret@host"), "redis//:***@host");
        assert_eq!(mask_password("alice:s3cret@host:99999"), "alice:***@host:99999");
    }

    fn reason(url: &str) -> String {
        match client(url, &mask_password(url)) {
            Err(ConfigError::InvalidRedisUrl { url: shown, reason }) => {
                assert!(!shown.contains("s3cret"), "{shown}");
                reason
            }
            other => panic!("expected InvalidRedisUrl for {url}, got {other:?}"),
        }
    }

    #[test]
    fn missing_scheme_rejected() {
        assert!(reason("localhost:6379").contains("no scheme"));
    }

    #[test]
    fn unknown_scheme_rejected() {
        assert!(reason("http://:s3cret@localhost").contains("`http`"));
    }

    #[test]
    fn bad_port_rejected() {
        let reason = reason("redis://:s3cret@localhost:notaport");
        assert!(reason.contains("does not parse"), "{reason}");
    }

    #[test]
    fn bad_database_rejected() {
        let reason = reason("redis://localhost:6379/zero");
        assert!(reason.contains("database"), "{reason}");
    }

    #[test]
    fn tls_without_feature_explained() {
        let reason = reason("rediss://:s3cret@localhost:6380");
        assert!(reason.contains("TLS"), "{reason}");
    }

    #[test]
    fn valid_urls_accepted() {
        for url in [
            "redis://localhost",
            "redis://:pw@127.0.0.1:6379/3",
            "unix:///run/redis.sock",
        ] {
            assert!(client(url, url).is_ok(), "{url}");
        }
    }
}
