//! A throwaway Redis Cluster of three primaries on free loopback ports.
//!
//! Each node is a `redis-server` with cluster mode on and persistence off,
//! in its own temporary directory. The fixture checks that every port it
//! talks to is served by a process it started, so it never touches a
//! cluster or server that someone else runs.
//!
//! Every node runs under a small `sh` watchdog whose standard input is a pipe
//! from the test process. When the test process exits, even when it is
//! killed, the pipe closes and the watchdog stops the node and deletes its
//! directory. So [`RedisCluster::shared`], whose cluster lives in a static
//! and is never dropped, leaves nothing behind either.
//!
//! Set `JOBS_TEST_REDIS_SERVER` and `JOBS_TEST_REDIS_CLI` to use binaries
//! outside `PATH`.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The shell script that runs one node: it starts the `redis-server` binary
/// named by `$JOBS_NODE_BINARY` with the remaining arguments, waits for
/// end-of-file on standard input, then stops the server and deletes the
/// node's directory, passed as `$1`.
const WATCHDOG: &str = r#"dir=$1; shift
"$JOBS_NODE_BINARY" "$@" &
server=$!
read -r _ignored
kill "$server" 2>/dev/null
wait "$server"
rm -rf "$dir"
"#;

/// How long the cluster may take to start and agree on its slots. Creating
/// one took 2 to 4 s in runs on a 2-core machine, mostly `redis-cli` waiting
/// for the nodes to join.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running cluster of three primaries, with no replicas.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    next_prefix: AtomicU64,
}

#[derive(Debug)]
struct Node {
    port: u16,
    dir: PathBuf,
    watchdog: Child,
    /// Dropping this closes the watchdog's standard input, which stops the node.
    stdin: Option<ChildStdin>,
}

impl RedisCluster {
    /// Starts three nodes, joins them with `redis-cli --cluster create`, and
    /// waits until each reports `cluster_state:ok`.
    ///
    /// # Panics
    ///
    /// When `redis-server` or `redis-cli` is missing, or the cluster is not
    /// ready within 30 s.
    pub fn start() -> Self {
        check_binaries();
        let nodes: Vec<Node> = (0..3).map(|_| Node::start()).collect();
        let cluster = Self {
            nodes,
            next_prefix: AtomicU64::new(1),
        };
        for node in &cluster.nodes {
            node.wait_ready();
        }
        cluster.create();
        cluster.wait_for_state_ok();
        cluster
    }

    /// Returns the cluster shared by every test of this test binary, started on first use.
    ///
    /// Tests that share it must keep their keys apart, for example with
    /// [`RedisCluster::unique_prefix`].
    pub fn shared() -> &'static RedisCluster {
        static SHARED: OnceLock<RedisCluster> = OnceLock::new();
        SHARED.get_or_init(RedisCluster::start)
    }

    /// Returns a hash-tagged key prefix, `{t-<n>}`, that no earlier call on
    /// this cluster returned.
    pub fn unique_prefix(&self) -> String {
        format!("{{t-{}}}", self.next_prefix.fetch_add(1, Ordering::Relaxed))
    }

    /// Returns the URL of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect()
    }

    /// Returns the port of every node on 127.0.0.1.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|node| node.port).collect()
    }

    /// Runs `redis-cli` against the node on `port` with `args`, returning its
    /// output with `--raw` formatting.
    ///
    /// # Panics
    ///
    /// When `port` is not a node of this cluster or `redis-cli` fails to run.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        assert!(
            self.ports().contains(&port),
            "port {port} is not a node of this cluster"
        );
        let output = redis_cli(port, args);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Returns the slot Redis Cluster assigns to `key`.
    pub fn slot_of(&self, key: &str) -> u16 {
        let reply = self.cli(self.nodes[0].port, &["CLUSTER", "KEYSLOT", key]);
        reply
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CLUSTER KEYSLOT returned {reply:?}"))
    }

    /// Returns the port of the primary that serves `slot`, according to the
    /// first node's slot map.
    pub fn port_serving(&self, slot: u16) -> u16 {
        self.primaries()
            .into_iter()
            .find(|primary| primary.slots.iter().any(|range| range.contains(&slot)))
            .map(|primary| primary.port)
            .unwrap_or_else(|| panic!("no node serves slot {slot}"))
    }

    /// Moves `slot`, with its keys, to the node on `to_port`, the way
    /// `redis-cli --cluster reshard` moves a slot, then assigns the slot to
    /// that node on every node.
    pub fn move_slot(&self, slot: u16, to_port: u16) {
        let primaries = self.primaries();
        let id_of = |port: u16| {
            primaries
                .iter()
                .find(|primary| primary.port == port)
                .map(|primary| primary.id.clone())
                .unwrap_or_else(|| panic!("port {port} is not a primary of this cluster"))
        };
        let from_port = self.port_serving(slot);
        let (from_id, to_id) = (id_of(from_port), id_of(to_port));
        let slot_text = slot.to_string();
        let to_port_text = to_port.to_string();

        self.expect_ok(to_port, &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &from_id]);
        self.expect_ok(from_port, &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &to_id]);
        loop {
            let keys = self.cli(from_port, &["CLUSTER", "GETKEYSINSLOT", &slot_text, "100"]);
            let keys: Vec<&str> = keys.lines().filter(|key| !key.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let mut migrate = vec!["MIGRATE", "127.0.0.1", &to_port_text, "", "0", "5000", "KEYS"];
            migrate.extend(keys);
            self.expect_ok(from_port, &migrate);
        }
        for port in self.ports() {
            self.expect_ok(port, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &to_id]);
        }
    }

    fn expect_ok(&self, port: u16, args: &[&str]) {
        let reply = self.cli(port, args);
        assert_eq!(reply.trim(), "OK", "`{}` on port {port}", args.join(" "));
    }

    /// Reads the primaries and their slot ranges from `CLUSTER NODES` on the first node.
    fn primaries(&self) -> Vec<Primary> {
        let table = self.cli(self.nodes[0].port, &["CLUSTER", "NODES"]);
        table.lines().filter_map(Primary::parse).collect()
    }

    fn create(&self) {
        let addresses: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let output = Command::new(cli_binary())
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("failed to run `redis-cli --cluster create`: {error}"));
        assert!(
            output.status.success(),
            "`redis-cli --cluster create` failed with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }

    fn wait_for_state_ok(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        for node in &self.nodes {
            loop {
                let info = self.cli(node.port, &["CLUSTER", "INFO"]);
                if info.lines().any(|line| line.trim() == "cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster node on port {} did not report cluster_state:ok within {START_TIMEOUT:?}:\n{info}",
                    node.port
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// One line of `CLUSTER NODES` for a primary: `<id> <ip:port@bus> <flags>
/// <primary> <ping> <pong> <epoch> <link> <slot> <slot>...`, where a slot is a
/// number, a `first-last` range, or a `[...]` migration note.
struct Primary {
    id: String,
    port: u16,
    slots: Vec<std::ops::RangeInclusive<u16>>,
}

impl Primary {
    fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 || !fields[2].split(',').any(|flag| flag == "master") {
            return None;
        }
        let address = fields[1].split('@').next()?;
        let port = address.rsplit(':').next()?.parse().ok()?;
        let slots = fields[8..]
            .iter()
            .filter(|slot| !slot.starts_with('['))
            .filter_map(|slot| match slot.split_once('-') {
                Some((first, last)) => Some(first.parse().ok()?..=last.parse().ok()?),
                None => slot.parse().ok().map(|single| single..=single),
            })
            .collect();
        Some(Self {
            id: fields[0].to_owned(),
            port,
            slots,
        })
    }
}

impl Node {
    fn start() -> Self {
        let port = free_port();
        let bus_port = free_port();
        let dir = std::env::temp_dir().join(format!("jobs-test-cluster-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the cluster node directory");

        let port_text = port.to_string();
        let bus_port_text = bus_port.to_string();
        let config_file = format!("nodes-{port}.conf");
        let dir_text = dir.to_string_lossy().into_owned();
        let server_args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &config_file,
            "--cluster-port",
            &bus_port_text,
            "--port",
            &port_text,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            "node.log",
        ];
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(&dir_text)
            .args(server_args)
            .env("JOBS_NODE_BINARY", server_binary())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start `sh` for a cluster node: {error}"));
        let stdin = watchdog.stdin.take();
        Self {
            port,
            dir,
            watchdog,
            stdin,
        }
    }

    /// Waits until the node replies to PING, then checks by its working
    /// directory that the process on the port is this node.
    fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let output = redis_cli(self.port, &["PING"]);
            if output.status.success() && output.stdout.starts_with(b"PONG") {
                break;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the cluster node on port {} did not answer PING within {START_TIMEOUT:?}; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        let output = redis_cli(self.port, &["CONFIG", "GET", "dir"]);
        let reply = String::from_utf8_lossy(&output.stdout);
        let served_dir = reply.lines().nth(1).unwrap_or_default();
        assert!(
            same_path(Path::new(served_dir), &self.dir),
            "port {} is served by a Redis in {served_dir:?}, not by the node started in {:?}; another process took the port",
            self.port,
            self.dir
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_else(|error| format!("(no log: {error})"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Closing standard input makes the watchdog stop the server, wait for
        // it and delete the directory.
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.watchdog.wait();
    }
}

/// Fails early, with the package to install, when a binary is missing,
/// because a node whose server cannot start would only show as a timeout.
fn check_binaries() {
    for (binary, package) in [(server_binary(), "redis-server"), (cli_binary(), "redis-tools")] {
        if let Err(error) = Command::new(&binary).arg("--version").output() {
            panic!("failed to run `{binary}`: {error}; install it with `apt-get install {package}`");
        }
    }
}

fn server_binary() -> String {
    std::env::var("JOBS_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

fn cli_binary() -> String {
    std::env::var("JOBS_TEST_REDIS_CLI").unwrap_or_else(|_| "redis-cli".to_owned())
}

fn redis_cli(port: u16, args: &[&str]) -> Output {
    Command::new(cli_binary())
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--raw"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("failed to run `redis-cli`: {error}; install it with `apt-get install redis-tools`")
        })
}

fn same_path(left: &Path, right: &Path) -> bool {
    match (left.canonicalize(), right.canonicalize()) {
        (Ok(left), Ok(right)) => left == right,
        _ => false,
    }
}

/// Returns a port that was free a moment ago. Another process could take it
/// before the node binds it, and `Node::wait_ready` then fails instead of
/// using that process.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("bind a free loopback port")
}
