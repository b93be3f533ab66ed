//! Opening the connection: URL checks, password masking, the first contact
//! with the server or cluster and the eviction-policy check.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ErrorKind, RedisError};
use tracing::{debug, warn};

use super::connection::Connection;
use super::keys::Keys;
use super::{RedisJobQueue, RedisQueueOptions, check_prefix};
use crate::config::ConfigError;

/// The URL schemes `connect` accepts. `redis+unix` is the redis crate's
/// other spelling of `unix`.
const SCHEMES: [&str; 4] = ["redis", "rediss", "unix", "redis+unix"];

/// Replaces the password in a Redis URL with `***`: the one in
/// `user:password@` or `:password@`, and the `pass` query parameter of
/// `unix://` URLs. Works on malformed URLs too, so error messages can show
/// any URL the user gave.
pub(crate) fn mask_password(url: &str) -> String {
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
    let failed = |error: ContactError| error.into_config_error(masked);

    // One direct attempt first: the connection manager retries a refused
    // connection several times before it reports anything, and then reports
    // only its last error.
    let mut probe = within(timeouts.connect, probe(&client, timeouts))
        .await
        .map_err(failed)?;
    warn_unless_noeviction(&mut probe, masked).await;
    drop(probe);

    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.response));
    let manager = within(timeouts.connect, ConnectionManager::new_with_config(client, config))
        .await
        .map_err(failed)?;
    let mut connection = Connection::single(manager, timeouts.response);
    redis::cmd("PING")
        .query_async::<()>(&mut connection)
        .await
        .map_err(|error| failed(ContactError::Redis(error)))?;
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

/// Why the first contact with a server failed.
enum ContactError {
    /// The client or the server reported an error.
    Redis(RedisError),
    /// No answer came within the connect timeout.
    TimedOut(Duration),
}

impl ContactError {
    /// Turns the failure into the configuration error that says what to fix.
    fn into_config_error(self, masked: &str) -> ConfigError {
        let url = masked.to_owned();
        let error = match self {
            ContactError::Redis(error) => error,
            ContactError::TimedOut(timeout) => {
                return ConfigError::RedisUnreachable {
                    url,
                    reason: format!("no answer within {timeout:?}"),
                };
            }
        };
        match error.kind() {
            ErrorKind::AuthenticationFailed => ConfigError::RedisAuthFailed {
                url,
                reason: "the server rejected the user name or password".to_owned(),
            },
            ErrorKind::Extension if matches!(error.code(), Some("NOAUTH")) => ConfigError::RedisAuthFailed {
                url,
                reason: "the server requires a password, and the URL gives none".to_owned(),
            },
            ErrorKind::Extension if matches!(error.code(), Some("WRONGPASS")) => ConfigError::RedisAuthFailed {
                url,
                reason: "the server rejected the user name or password".to_owned(),
            },
            // The reply did not parse as RESP, the Redis protocol. The parser's
            // own message lists byte values and spans several lines, so it is
            // left out.
            ErrorKind::Parse => ConfigError::NotRedis { url },
            _ if is_select_rejected(&error) => match database_number(masked) {
                Some(database) => ConfigError::RedisDatabaseInvalid { url, database },
                None => ConfigError::RedisUnreachable {
                    url,
                    reason: error.to_string(),
                },
            },
            _ => ConfigError::RedisUnreachable {
                url,
                reason: error.to_string(),
            },
        }
    }
}

/// Returns whether the server rejected the SELECT that the client sends for a
/// URL with a database number. The redis crate (1.8) gives this failure no
/// error kind of its own, only this description.
fn is_select_rejected(error: &RedisError) -> bool {
    error.to_string().starts_with("Redis server refused to switch database")
}

/// Reads the database number from a URL, such as 99 from `redis://host/99`.
fn database_number(url: &str) -> Option<i64> {
    use redis::IntoConnectionInfo;
    url.into_connection_info().ok().map(|info| info.redis_settings().db())
}

/// Runs `future` for at most `timeout`.
async fn within<T>(timeout: Duration, future: impl Future<Output = Result<T, RedisError>>) -> Result<T, ContactError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(ContactError::Redis(error)),
        Err(_) => Err(ContactError::TimedOut(timeout)),
    }
}

/// Warns when `maxmemory-policy` lets Redis evict keys, because an evicted
/// job hash or list loses jobs.
async fn warn_unless_noeviction(connection: &mut MultiplexedConnection, masked: &str) {
    let reply = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query_async::<HashMap<String, String>>(connection)
        .await
        .map_err(|error| error.to_string());
    check_eviction_policy(reply, masked);
}

/// Logs a warning for any eviction policy but `noeviction`. Managed Redis
/// services often disable CONFIG, so a failed CONFIG GET is only logged at
/// debug level.
fn check_eviction_policy(reply: Result<HashMap<String, String>, String>, masked: &str) {
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

impl RedisJobQueue {
    /// Connects to a Redis Cluster through one or more of its nodes (`redis://`
    /// or `rediss://` URLs, with the same user name and password), reads the
    /// slot map, and checks that the node serving the queue's keys replies to
    /// PING.
    ///
    /// The prefix must contain a hash tag, such as `{jobs}`: Redis then hashes
    /// only the text between the braces, so every key of the queue lands in one
    /// slot, and the Lua scripts, which touch several keys, can run. Each
    /// command has the same response timeout as on a single server. Logs a
    /// warning when the `maxmemory-policy` of the node serving the queue is not
    /// `noeviction`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidPrefix`] for a prefix without a hash tag or one
    /// that [`connect`](RedisJobQueue::connect) rejects,
    /// [`ConfigError::InvalidRedisUrl`] for an empty list, a malformed URL, a
    /// `unix://` URL or nodes with different credentials,
    /// [`ConfigError::RedisAuthFailed`] when a node rejects the credentials,
    /// [`ConfigError::NotRedis`] when a node replies with something other
    /// than the Redis protocol, and [`ConfigError::RedisUnreachable`] when no
    /// node replies within the connect timeout. Errors show URLs with their
    /// passwords replaced by `***`.
    pub async fn connect_cluster(urls: &[impl AsRef<str>], options: RedisQueueOptions) -> Result<Self, ConfigError> {
        check_prefix(&options.prefix)?;
        check_cluster_prefix(&options.prefix)?;
        let masked_urls: Vec<String> = urls.iter().map(|url| mask_password(url.as_ref())).collect();
        let masked_url = masked_urls.join(",");
        let client = cluster_client(urls, &masked_urls, &options)?;
        let timeouts = Timeouts {
            connect: options.connect_timeout,
            response: options.response_timeout,
        };
        let slot_key = Keys::new(&options.prefix).ready;
        let connection = open_cluster(&client, &masked_url, &timeouts, &slot_key).await?;
        let wake = super::wake::WakeSource::Cluster(Box::new(client));
        Ok(Self::from_connection(connection, wake, masked_url, &options))
    }
}

/// Returns the hash tag of a key prefix as Redis Cluster finds it: the text
/// between the first `{` and the first `}` after it, when that text is not
/// empty. Every key that starts with such a prefix hashes to the tag's slot.
pub(super) fn hash_tag(prefix: &str) -> Option<&str> {
    let open = prefix.find('{')?;
    let length = prefix[open + 1..].find('}')?;
    let tag = &prefix[open + 1..open + 1 + length];
    (!tag.is_empty()).then_some(tag)
}

/// Rejects a prefix without a hash tag, because the queue's keys would then
/// spread over several slots and every multi-key script would fail with
/// CROSSSLOT.
fn check_cluster_prefix(prefix: &str) -> Result<(), ConfigError> {
    if hash_tag(prefix).is_some() {
        return Ok(());
    }
    let suggestion = if prefix.contains(['{', '}']) {
        "{jobs}".to_owned()
    } else {
        format!("{{{prefix}}}")
    };
    Err(ConfigError::InvalidPrefix {
        value: prefix.to_owned(),
        reason: format!(
            "on Redis Cluster the prefix needs a hash tag, a non-empty name in braces, so that all the \
             queue's keys hash to one slot; write it as `{suggestion}`"
        ),
    })
}

/// Checks each seed URL and builds the cluster client.
fn cluster_client(
    urls: &[impl AsRef<str>],
    masked_urls: &[String],
    options: &RedisQueueOptions,
) -> Result<ClusterClient, ConfigError> {
    if urls.is_empty() {
        return Err(ConfigError::InvalidRedisUrl {
            url: String::new(),
            reason: "no cluster node is given; list one or more node URLs, separated by commas in REDIS_URL".to_owned(),
        });
    }
    let mut nodes: Vec<ConnectionInfo> = Vec::with_capacity(urls.len());
    for (url, masked) in urls.iter().zip(masked_urls) {
        let info = client(url.as_ref().trim(), masked)?.get_connection_info().clone();
        if matches!(info.addr(), ConnectionAddr::Unix(_)) {
            return Err(ConfigError::InvalidRedisUrl {
                url: masked.clone(),
                reason: "Redis Cluster nodes announce TCP addresses, so a cluster is reached with redis:// or \
                         rediss:// and not through a Unix socket"
                    .to_owned(),
            });
        }
        nodes.push(info);
    }
    ClusterClient::builder(nodes)
        .connection_timeout(options.connect_timeout)
        .response_timeout(options.response_timeout)
        // A retry after a dropped connection could run a script twice, for
        // example store one enqueued job under two ids.
        .retries(0)
        .build()
        .map_err(|error| ConfigError::InvalidRedisUrl {
            url: masked_urls.join(","),
            reason: error.to_string(),
        })
}

/// Connects to the cluster, then checks that the node serving `slot_key`
/// replies to PING and warns when its eviction policy could delete job keys.
async fn open_cluster(
    client: &ClusterClient,
    masked: &str,
    timeouts: &Timeouts,
    slot_key: &str,
) -> Result<Connection, ConfigError> {
    let failed = |error: ContactError| error.into_config_error(masked);

    let mut cluster = within(timeouts.connect, client.get_async_connection())
        .await
        .map_err(failed)?;
    let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
        slot_key,
        SlotAddr::Master,
    )));
    within(
        timeouts.connect,
        cluster.route_command(redis::cmd("PING"), node.clone()),
    )
    .await
    .map_err(failed)?;

    let policy = match within(
        timeouts.connect,
        cluster.route_command(redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy").to_owned(), node),
    )
    .await
    {
        Ok(reply) => redis::from_redis_value::<HashMap<String, String>>(reply).map_err(|error| error.to_string()),
        Err(ContactError::Redis(error)) => Err(error.to_string()),
        Err(ContactError::TimedOut(timeout)) => Err(format!("no answer within {timeout:?}")),
    };
    check_eviction_policy(policy, masked);

    debug!(url = masked, "connected to Redis Cluster");
    Ok(Connection::cluster(cluster, timeouts.response))
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
    fn hash_tag_found_as_redis_does() {
        assert_eq!(hash_tag("{jobs}"), Some("jobs"));
        assert_eq!(hash_tag("app:{jobs}:v2"), Some("jobs"));
        assert_eq!(hash_tag("{a}{b}"), Some("a"));
        assert_eq!(hash_tag("{{x}"), Some("{x"));
        for prefix in ["jobs", "{}jobs", "{jobs", "jobs}", "}{jobs"] {
            assert_eq!(hash_tag(prefix), None, "{prefix}");
        }
    }

    #[test]
    fn cluster_prefix_without_tag_rejected() {
        let error = check_cluster_prefix("myapp:jobs").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"myapp:jobs\""), "{text}");
        assert!(text.contains("hash tag"), "{text}");
        assert!(text.contains("`{myapp:jobs}`"), "{text}");

        let text = check_cluster_prefix("{}jobs").unwrap_err().to_string();
        assert!(text.contains("`{jobs}`"), "{text}");

        assert!(check_cluster_prefix("{jobs}").is_ok());
    }

    fn cluster_url_reason(urls: &[&str]) -> String {
        let masked: Vec<String> = urls.iter().map(|url| mask_password(url)).collect();
        match cluster_client(urls, &masked, &RedisQueueOptions::default()) {
            Err(ConfigError::InvalidRedisUrl { url, reason }) => {
                assert!(!url.contains("s3cret"), "{url}");
                reason
            }
            other => panic!("expected InvalidRedisUrl for {urls:?}, got {other:?}"),
        }
    }

    #[test]
    fn cluster_urls_checked() {
        let empty: [&str; 0] = [];
        assert!(cluster_url_reason(&empty).contains("no cluster node"));
        assert!(cluster_url_reason(&["unix:///run/redis.sock"]).contains("Unix socket"));
        assert!(cluster_url_reason(&["redis://127.0.0.1:7000", "127.0.0.1:7001"]).contains("no scheme"));
        let reason = cluster_url_reason(&["redis://:s3cret@127.0.0.1:7000", "redis://:other@127.0.0.1:7001"]);
        assert!(reason.contains("password"), "{reason}");

        let urls = ["redis://127.0.0.1:7000", " redis://127.0.0.1:7001"];
        let masked: Vec<String> = urls.iter().map(|url| mask_password(url)).collect();
        assert!(cluster_client(&urls, &masked, &RedisQueueOptions::default()).is_ok());
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
