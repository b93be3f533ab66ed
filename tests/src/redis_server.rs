//! A throwaway `redis-server` on a free loopback port, killed on drop.
//!
//! Tests never touch a server they did not start: each `RedisServer` runs in
//! its own temporary directory, with persistence off unless the test requests
//! it. Set `JOBS_TEST_REDIS_SERVER` to the path of a `redis-server` binary to
//! use one outside `PATH`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` process owned by a test.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// The arguments after the defaults, given again at each restart.
    extra: Vec<String>,
}

/// The persistence settings of [`RedisServer::start_persistent`].
const APPEND_ONLY: [&str; 4] = ["--appendonly", "yes", "--appendfsync", "always"];

impl RedisServer {
    /// Starts a server on a free port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When `redis-server` is missing or does not start within 10 s.
    pub fn start() -> Self {
        Self::start_with_args(&[])
    }

    /// Starts a server that writes every change to its append-only file in
    /// the test directory before it replies (`--appendonly yes --appendfsync
    /// always`), so a restart, even after SIGKILL, keeps every acknowledged write.
    pub fn start_persistent() -> Self {
        Self::start_with_args(&APPEND_ONLY)
    }

    /// Starts a server with extra command-line arguments, such as
    /// `["--maxmemory-policy", "allkeys-lru"]`. They override the defaults.
    pub fn start_with_args(extra: &[&str]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("jobs-test-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the Redis test directory");
        let extra: Vec<String> = extra.iter().map(|arg| arg.to_string()).collect();
        let child = Self::spawn(port, &dir, &extra);
        let server = Self {
            child,
            port,
            dir,
            extra,
        };
        server.wait_ready();
        server
    }

    fn spawn(port: u16, dir: &PathBuf, extra: &[String]) -> Child {
        let binary = std::env::var("JOBS_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let port_text = port.to_string();
        let mut args = vec![
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
        ];
        args.extend(extra.iter().map(String::as_str));
        Command::new(&binary)
            .args(&args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("failed to start `{binary}`: {error}; install it with `apt-get install redis-server`")
            })
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                if stream.write_all(b"PING\r\n").is_ok() {
                    let mut reply = [0u8; 7];
                    if stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n" {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING within 10 s", self.port);
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database 0.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server with SIGKILL, if it is running, and starts it again on
    /// the same port with the same arguments. A server from
    /// [`RedisServer::start_persistent`] comes back with its data; any other
    /// comes back empty.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port, &self.dir, &self.extra);
        self.wait_ready();
    }

    /// Kills the server with SIGKILL; it stays down until [`RedisServer::restart`].
    pub fn kill(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server process with SIGSTOP. Connections stay open, but the
    /// server sends no reply until [`RedisServer::resume`].
    pub fn pause(&mut self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again with SIGCONT. Does nothing to a running one.
    pub fn resume(&mut self) {
        self.signal("-CONT");
    }

    fn signal(&mut self, signal: &str) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|error| panic!("failed to run `kill {signal}`: {error}"));
        assert!(status.success(), "`kill {signal}` on redis-server failed: {status}");
    }

    /// Reads the memory that Redis holds for data and itself: `used_memory`
    /// from `INFO memory` (the bytes its allocator handed out, which excludes
    /// the Lua interpreter) less `mem_clients_normal`, the input and output
    /// buffers of client connections. Client buffers grow and shrink with
    /// traffic, so leaving them out keeps a before-and-after comparison to
    /// what the data costs.
    pub fn used_memory_without_clients(&self) -> u64 {
        let info = self.command("INFO memory");
        let field = |name: &str| -> u64 {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in INFO memory: {info}"))
        };
        field("used_memory").saturating_sub(field("mem_clients_normal"))
    }

    /// Sends one inline command and returns the raw reply, for fixture checks
    /// that should not depend on the client under test.
    fn command(&self, command: &str) -> String {
        use std::io::{BufRead, BufReader, Read, Write};

        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the test Redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set a read timeout");
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("send a command to the test Redis");
        let mut reader = BufReader::new(stream);
        let mut header = String::new();
        reader.read_line(&mut header).expect("read the reply header");
        let Some(length) = header.strip_prefix('$') else {
            return header;
        };
        let length: usize = length.trim().parse().expect("a bulk string length");
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("read the reply");
        String::from_utf8_lossy(&body).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago. Another process could take it before
/// the server binds it; on a test machine that race is rare.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("bind a free loopback port")
}
