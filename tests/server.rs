//! The `echo_server` example against a hostile network (issue 12): each
//! test starts the real binary as a child process on a free port of
//! 127.0.0.1 (its own process, so tests run in parallel), waits until it
//! accepts, and kills it by PID when done (a guard, panics included).
//!
//! The binary is `target/<profile>/examples/echo_server`, which `cargo test`
//! builds. With a target filter (`cargo test --test server`) cargo builds
//! no example: build it first (`cargo build --example echo_server`, same
//! profile). A missing or stale binary fails the tests, it never skips them.
//!
//! Linux only where a test reads `/proc/PID/{status,stat,limits}` (threads,
//! memory, CPU time, descriptor limit) of the server.
//!
//! Not run in the qemu-user cross runs (`scripts/cross-test.sh`, armv7 and
//! s390x): they test the library's word size and byte order and build no
//! examples.
#![cfg(all(
    feature = "std",
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use sansws::adapter::std_net::{self, Error, Options, Stream, WebSocket};
use sansws::message::Message;
use sansws::wire::CloseCode;

// ---------------------------------------------------------------------------
// The server process

/// A running `echo_server`, killed (by PID) and reaped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<VecDeque<String>>>,
}

/// Lines of the server's output kept for a failure's message.
const LOG_LINES: usize = 200;

impl Server {
    fn start(args: &[&str]) -> Server {
        Self::spawn(Command::new(echo_server_bin()), args)
    }

    /// Started with its descriptor limit (soft and hard) lowered to
    /// `nofile`: `sh` sets it and `exec`s the server, which keeps the PID.
    fn start_with_nofile(nofile: u32, args: &[&str]) -> Server {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", r#"ulimit -n "$1" || exit 97; shift; exec "$@""#, "sh"])
            .arg(nofile.to_string())
            .arg(echo_server_bin());
        Self::spawn(cmd, args)
    }

    fn spawn(mut cmd: Command, args: &[&str]) -> Server {
        let mut child = cmd
            .arg("127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start echo_server");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        // Both pipes are read to their end (the server's exit), so its
        // logging can never block on a full pipe.
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for (pipe, tx) in [
            (Box::new(out) as Box<dyn Read + Send>, Some(tx)),
            (Box::new(err), None),
        ] {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut r = BufReader::new(pipe);
                let mut line = Vec::new();
                while matches!(r.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    if let Some(tx) = &tx {
                        let _ = tx.send(text.clone());
                    }
                    let mut log = log.lock().unwrap();
                    if log.len() == LOG_LINES {
                        log.pop_front();
                    }
                    log.push_back(text);
                    line.clear();
                }
            });
        }
        // "echo server on ws://127.0.0.1:PORT/ ..." comes once it listens.
        let first = rx.recv_timeout(Duration::from_secs(20));
        let addr = first.as_ref().ok().and_then(|l| {
            let rest = l.strip_prefix("echo server on ws://")?;
            rest[..rest.find('/')?].parse::<SocketAddr>().ok()
        });
        let mut server = Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            log,
        };
        match addr {
            Some(a) => server.addr = a,
            None => panic!(
                "echo_server did not start (first line {first:?}, status {:?}):\n{}",
                server.child.try_wait(),
                server.log_tail()
            ),
        }
        // The line comes after `bind`, which listens: it accepts from now
        // on. (Not checked with a connection of our own: that would take
        // one of the server's connection slots for a moment.)
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self) -> String {
        format!("ws://{}/echo", self.addr)
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let lines: Vec<&str> = log.iter().map(String::as_str).collect();
        lines.join("\n")
    }

    fn log_contains(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Panics if the process has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("echo_server exited: {status}\n{}", self.log_tail());
        }
    }

    /// A field of `/proc/PID/status` (its first number: `Threads`, `VmRSS`
    /// in KiB).
    fn status(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/PID/status (this test needs Linux)");
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// What a connection costs the server, counted: a thread each for
    /// `echo_server`; for `echo_server_async`, whose connections are tasks
    /// on a fixed pool of threads, its open descriptors (a socket each).
    /// Either way it must come back to where it was once they are gone.
    fn threads(&self) -> u64 {
        if by_task() {
            let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
                .expect("/proc/PID/fd (this test needs Linux)");
            return fds.count() as u64;
        }
        self.status("Threads")
    }

    fn rss_kib(&self) -> u64 {
        self.status("VmRSS")
    }

    /// User plus system CPU time so far (`/proc/PID/stat` fields 14 and 15,
    /// in clock ticks of 1/100 s: Linux's fixed `USER_HZ`).
    fn cpu_time(&self) -> Duration {
        let text = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("/proc/PID/stat (this test needs Linux)");
        // After the command name, which may contain spaces, in parentheses.
        let fields: Vec<&str> = text[text.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    /// Waits (at most `limit`) until the thread count satisfies `ok`.
    fn wait_threads(&self, limit: Duration, what: &str, ok: impl Fn(u64) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            let n = self.threads();
            if ok(n) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "server threads: {n} after {limit:?}, expected {what}\n{}",
                self.log_tail()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A new client completes its handshake and one echo; returns how
    /// long that took.
    fn assert_serves(&mut self) -> Duration {
        self.assert_running();
        let start = Instant::now();
        let mut ws = client(&self.url())
            .unwrap_or_else(|e| panic!("a new client is not served: {e}\n{}", self.log_tail()));
        echo(&mut ws, "still there?");
        let took = start.elapsed();
        let _ = ws.close(CloseCode::NORMAL, "");
        took
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `Child::kill` signals this PID (SIGKILL); `wait` reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "--- echo_server {} output (last {LOG_LINES} lines) ---\n{}",
                self.addr,
                self.log_tail()
            );
        }
    }
}

/// `target/<profile>/examples/echo_server`, next to this test's
/// `target/<profile>/deps/`. Fails if it is missing or older than a source
/// it was built from (cargo's dep-info beside it lists them), so the tests
/// never run an old server.
/// The server under test serves connections as tasks, not threads.
fn by_task() -> bool {
    std::env::var("SANSWS_ECHO_SERVER").is_ok_and(|n| n.ends_with("_async"))
}

fn echo_server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in target/<profile>/deps/");
    let examples = profile.join("examples");
    // The same contract, the same tests: `echo_server` (threads) by
    // default, `SANSWS_ECHO_SERVER=echo_server_async` (tokio; with
    // `--features tokio`) for the other.
    let name = std::env::var("SANSWS_ECHO_SERVER").unwrap_or_else(|_| "echo_server".into());
    let bin = examples.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let build_hint = "`cargo test` builds the examples; with a target filter \
        (`cargo test --test server`) build it first: `cargo build --example echo_server` \
        (with --release if the tests run with it; `--features tokio --example \
        echo_server_async` for SANSWS_ECHO_SERVER=echo_server_async)";
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{} is missing ({e}): {build_hint}", bin.display()));
    if let Ok(deps) = std::fs::read_to_string(examples.join(format!("{name}.d"))) {
        // "target: src1 src2 ...", spaces in paths escaped with '\'.
        let deps = deps.replace("\\ ", "\u{0}");
        let sources = deps.split_once(": ").map_or("", |(_, s)| s);
        for src in sources.split_whitespace() {
            let src = PathBuf::from(src.replace('\u{0}', " "));
            let changed = std::fs::metadata(&src).and_then(|m| m.modified());
            if changed.is_ok_and(|t: SystemTime| t > built) {
                panic!(
                    "{} is older than {}: {build_hint}",
                    bin.display(),
                    src.display()
                );
            }
        }
    }
    bin
}

// ---------------------------------------------------------------------------
// Clients

/// Timeouts on every wait, so a broken server fails a test instead of
/// hanging it.
fn client_opts() -> Options {
    Options {
        read_timeout: Some(Duration::from_secs(20)),
        write_timeout: Some(Duration::from_secs(20)),
        handshake_timeout: Some(Duration::from_secs(20)),
        connect_timeout: Some(Duration::from_secs(10)),
        ..Options::default()
    }
}

fn client(url: &str) -> Result<WebSocket<Stream>, Error> {
    std_net::connect_with(url, &client_opts())
}

fn echo(ws: &mut WebSocket<Stream>, text: &str) {
    ws.send_text(text).expect("send");
    loop {
        match ws.read().expect("read the echo") {
            Some(Message::Text(t)) => {
                assert_eq!(t, text, "echo");
                return;
            }
            Some(m) if !m.is_data() => {}
            other => panic!("expected the echo of {text:?}, got {other:?}"),
        }
    }
}

/// A TCP connection that sends nothing.
fn idle(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect")
}

const UPGRADE: &[u8] = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A WebSocket handshake by hand, on a raw socket: returns the socket and
/// any bytes read past the 101's head.
fn raw_upgrade(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut s = idle(addr);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(UPGRADE).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("read the 101");
        assert!(
            n > 0,
            "closed during the handshake: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    };
    assert!(
        got.starts_with(b"HTTP/1.1 101 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    (s, got.split_off(end))
}

/// A client frame's header (FIN set, masked with `mask`).
fn client_head(opcode: u8, len: u64, mask: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0x80 | opcode];
    match len {
        0..=125 => h.push(0x80 | len as u8),
        126..=0xffff => {
            h.push(0x80 | 126);
            h.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            h.push(0x80 | 127);
            h.extend_from_slice(&len.to_be_bytes());
        }
    }
    h.extend_from_slice(&mask);
    h
}

/// Reads until EOF (or a reset, or `limit`): what came, and whether the
/// server closed the connection within `limit`.
fn read_to_end_within(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, false);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if is_reset(&e) => return (got, true),
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// An HTTP response's head and body, checked for a well-formed head with a
/// `Content-Length` matching the body.
fn parse_response(bytes: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete HTTP head in {text:?}"));
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
    assert_eq!(body.len(), len, "body length in {text:?}");
    (head.to_owned(), body.to_owned())
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn an_idle_connection_does_not_delay_another_clients_handshake() {
    let mut server = Server::start(&[]);
    let base = server.threads();
    let _idle = idle(server.addr);
    // The server has it (its thread waits for a request) ...
    server.wait_threads(Duration::from_secs(5), "one more", |n| n > base);
    // ... and serves the next client meanwhile.
    let start = Instant::now();
    let mut ws = client(&server.url()).expect("handshake");
    let handshake = start.elapsed();
    echo(&mut ws, "hello");
    println!("handshake behind an idle connection: {handshake:?}");
    assert!(handshake < Duration::from_secs(1), "{handshake:?}");
    server.assert_running();
}

#[test]
fn with_300_idle_connections_open_a_new_client_is_served_within_2s() {
    let mut server = Server::start(&[]);
    let base = server.threads();
    let idle: Vec<TcpStream> = (0..300).map(|_| idle(server.addr)).collect();
    // All 300 accepted, each holding a thread in its handshake (which times
    // out after 10 s: well after this test is done).
    server.wait_threads(Duration::from_secs(5), "300 more", |n| n >= base + 300);
    let start = Instant::now();
    let mut ws = client(&server.url()).expect("handshake");
    echo(&mut ws, "hello");
    let took = start.elapsed();
    println!("handshake and echo with 300 idle connections open: {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    server.assert_running();
    drop(idle);
}

#[test]
fn a_slowloris_request_is_closed_within_30s() {
    let mut server = Server::start(&[]);
    let mut s = idle(server.addr);
    // A head that never ends: one byte a second, headers after headers.
    let head = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    let pad = b"X-Slow: aaaaaaaa\r\n";
    let bytes = head.iter().chain(pad.iter().cycle());
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut closed = false;
    for &b in bytes.take(35) {
        if let Err(e) = s.write_all(&[b]) {
            assert!(is_reset(&e), "write: {e}");
            closed = true;
            break;
        }
        let (got, eof) = read_to_end_within(&mut s, Duration::from_secs(1));
        answer.extend_from_slice(&got);
        if eof {
            closed = true;
            break;
        }
    }
    let took = start.elapsed();
    println!(
        "slowloris closed after {took:?} (answer {:?})",
        String::from_utf8_lossy(&answer)
    );
    assert!(closed, "the slowloris connection is open after {took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    server.assert_serves();
}

#[test]
fn two_hundred_concurrent_clients_echo_20_messages_each() {
    const CLIENTS: usize = 200;
    const ECHOES: usize = 20;
    let mut server = Server::start(&[]);
    let url = server.url();
    // All connect at once, then echo once all are connected (or given up).
    let start_line = Arc::new(std::sync::Barrier::new(CLIENTS));
    let connected = Arc::new((Mutex::new(0usize), Condvar::new()));
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    for i in 0..CLIENTS {
        let (url, tx) = (url.clone(), tx.clone());
        let (start_line, connected) = (Arc::clone(&start_line), Arc::clone(&connected));
        thread::Builder::new()
            // 512 KiB: a debug build makes the permessage-deflate
            // compressor (miniz_oxide's, some 200 KiB) on the stack first.
            .stack_size(512 << 10)
            .spawn(move || {
                start_line.wait();
                let ws = client(&url);
                {
                    let (n, cv) = &*connected;
                    *n.lock().unwrap() += 1;
                    cv.notify_all();
                    let all =
                        cv.wait_timeout_while(n.lock().unwrap(), Duration::from_secs(30), |n| {
                            *n < CLIENTS
                        });
                    drop(all);
                }
                let r = ws
                    .map_err(|e| format!("client {i}: connect: {e}"))
                    .and_then(|mut ws| {
                        for j in 0..ECHOES {
                            let text = format!("client {i} message {j}");
                            ws.send_text(&text)
                                .map_err(|e| format!("client {i}: send {j}: {e}"))?;
                            match ws.read() {
                                Ok(Some(Message::Text(t))) if t == text => {}
                                other => return Err(format!("client {i}: echo {j}: {other:?}")),
                            }
                        }
                        ws.close(CloseCode::NORMAL, "")
                            .map_err(|e| format!("client {i}: close: {e}"))?;
                        Ok(())
                    });
                let _ = tx.send(r);
            })
            .expect("spawn a client thread");
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut failures = Vec::new();
    for _ in 0..CLIENTS {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => panic!("clients still running after 90 s ({e}); failures: {failures:?}"),
        }
    }
    println!("{CLIENTS} clients x {ECHOES} echoes: {:?}", start.elapsed());
    assert!(
        failures.is_empty(),
        "{} failed: {failures:#?}",
        failures.len()
    );
    server.assert_running();
}

#[test]
fn clients_vanishing_mid_message_leave_threads_and_memory_as_they_were() {
    const CLIENTS: usize = 50;
    const ANNOUNCED: u64 = 64 << 10;
    let mut server = Server::start(&[]);
    let base = server.threads();

    // 50 clients each announce a 64 KiB binary frame and send half of it;
    // then half of them close (FIN) and half reset (RST: closed with the
    // pong to their ping unread).
    let vanish = |server: &Server| {
        let payload = vec![0x5a; (ANNOUNCED / 2) as usize];
        let mut socks = Vec::new();
        for i in 0..CLIENTS {
            let (mut s, _) = raw_upgrade(server.addr);
            let mask = [1, 2, 3, i as u8];
            let mut bytes = client_head(0x9, 4, mask);
            bytes.extend(b"ping".iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
            bytes.extend(client_head(0x2, ANNOUNCED, mask));
            bytes.extend_from_slice(&payload);
            s.write_all(&bytes).unwrap();
            socks.push(s);
        }
        // Every one of them is mid-message on its own thread.
        server.wait_threads(Duration::from_secs(10), "50 more", |n| {
            n >= base + CLIENTS as u64
        });
        let rss_busy = server.rss_kib();
        for (i, mut s) in socks.into_iter().enumerate() {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut pong = [0u8; 6];
            if i % 2 == 0 {
                // Wait until the pong has arrived, and leave it unread:
                // closing then sends a reset.
                let n = s.peek(&mut pong).expect("the pong");
                assert!(n > 0, "closed before the pong");
            } else {
                // Read it: closing then sends a FIN.
                s.read_exact(&mut pong).expect("the pong");
                assert_eq!(pong, *b"\x8a\x04ping", "the pong");
            }
            drop(s);
        }
        // The server sees EOF or the reset at once.
        let took = server.wait_threads(Duration::from_secs(10), "back to the start", |n| n <= base);
        (rss_busy, took)
    };

    // The first rounds warm the allocator (its arenas and caches stay
    // with the process: on a thread pool, one arena per worker thread,
    // each warmed by the connections it happened to run, and what a round
    // frees may stay in an arena as free space). That slack is bounded by
    // one busy round; a leak is not: it grows with every round. So after
    // two warm rounds, four more must not add more than one round's worth.
    const WARM: usize = 2;
    const MEASURED: usize = 4;
    let mut rss_first_busy = 0;
    for _ in 0..WARM {
        rss_first_busy = rss_first_busy.max(vanish(&server).0);
    }
    let rss_before = server.rss_kib();
    let mut busy = Vec::new();
    let mut took = Duration::ZERO;
    for _ in 0..MEASURED {
        let (rss_busy, t) = vanish(&server);
        busy.push(rss_busy);
        took = took.max(t);
    }
    let threads = server.threads();
    let rss_after = server.rss_kib();
    println!(
        "vanishing clients: threads {base} -> {} -> {threads} (back in {took:?} at most); \
         VmRSS KiB: warm rounds busy {rss_first_busy}, before {rss_before}, \
         busy {busy:?}, after {rss_after}",
        base + CLIENTS as u64
    );
    assert_eq!(threads, base, "threads left behind");
    // 50 connections hold a half-full 64 KiB message each: 3.7 MiB
    // measured when the threaded server leaked them, 1.5 MiB busy on the
    // tokio server. Four rounds of such a leak are 6 MiB or more; the
    // allocator's slack stays under 2 MiB.
    let tolerance = 2 << 10;
    assert!(
        rss_after <= rss_before + tolerance,
        "VmRSS grew from {rss_before} KiB to {rss_after} KiB over {MEASURED} rounds"
    );
    server.assert_serves();
}

#[test]
fn out_of_descriptors_the_server_idles_then_serves_again() {
    const NOFILE: u32 = 32;
    const WAITING: usize = 3 * NOFILE as usize;
    let mut server = Server::start_with_nofile(NOFILE, &[]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().nth(3),
        Some(NOFILE.to_string().as_str()),
        "{line}"
    );

    // More clients wait than the server has descriptors for; those it
    // accepted send nothing (their handshakes time out after 10 s, long
    // after the measurement).
    let waiting: Vec<TcpStream> = (0..WAITING).map(|_| idle(server.addr)).collect();
    let start = Instant::now();
    while !server.log_contains("Too many open files") {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the server never ran out of descriptors:\n{}",
            server.log_tail()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let threads = server.threads();

    // Out of descriptors, with connections waiting: no spinning.
    let window = Duration::from_secs(3);
    let (cpu0, t0) = (server.cpu_time(), Instant::now());
    thread::sleep(window);
    let (cpu, wall) = (server.cpu_time() - cpu0, t0.elapsed());
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "out of descriptors ({NOFILE}, {WAITING} clients, {threads} threads): \
         CPU {cpu:?} in {wall:?} = {:.1}% of a core",
        share * 100.0
    );
    assert!(share < 0.10, "{:.1}% of a core", share * 100.0);

    // Once they leave, a new client is served.
    drop(waiting);
    let start = Instant::now();
    let took = server.assert_serves();
    println!(
        "served again {:?} after the waiting clients left (handshake and echo {took:?})",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_peer_silent_after_its_handshake_is_dropped_within_60s() {
    let mut server = Server::start(&[]);
    let (mut s, early) = raw_upgrade(server.addr);
    let start = Instant::now();
    // It reads (the kernel acknowledges), but never answers a ping.
    let (mut got, closed) = read_to_end_within(&mut s, Duration::from_secs(60));
    let took = start.elapsed();
    got.splice(0..0, early);
    // The server's frames (unmasked, control frames: 2-byte headers).
    let mut pings = 0;
    let mut close = None;
    let mut at = 0;
    while at + 2 <= got.len() {
        let (op, len) = (got[at] & 0x0f, usize::from(got[at + 1] & 0x7f));
        match op {
            0x9 => pings += 1,
            0x8 => close = Some(got[at + 2..(at + 2 + len).min(got.len())].to_vec()),
            _ => panic!("unexpected frame {op:#x} from the server"),
        }
        at += 2 + len;
    }
    println!("silent peer: {pings} ping(s), close {close:?}, dropped after {took:?}");
    assert!(closed, "a silent peer is still connected after {took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(pings >= 1, "dropped without a ping");
    server.assert_serves();
}

#[test]
fn garbage_is_answered_400_or_closed_and_the_server_goes_on() {
    let mut server = Server::start(&[]);
    // A TLS ClientHello's start, binary zeros, a broken header line, bytes
    // from a fixed pseudo-random sequence, and 256 KiB of them.
    let mut x = 0x2545_f491_u32;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "TLS ClientHello",
            [&[0x16, 3, 1, 0, 0xa5, 1, 0, 0, 0xa1, 3, 3][..], &noise(160)].concat(),
        ),
        ("zeros", vec![0; 64]),
        (
            "broken header",
            b"GET / HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n".to_vec(),
        ),
        ("noise", noise(1000)),
        ("256 KiB of noise", noise(256 << 10)),
    ];
    for (what, bytes) in cases {
        let mut s = idle(server.addr);
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        // The server may answer and close before it has read everything.
        if let Err(e) = s.write_all(&bytes) {
            assert!(is_reset(&e), "{what}: write: {e}");
        }
        let (answer, closed) = read_to_end_within(&mut s, Duration::from_secs(10));
        let text = String::from_utf8_lossy(&answer);
        println!("{what}: closed {closed}, answer {:?}", text.lines().next());
        assert!(closed, "{what}: still open after 10 s");
        if !answer.is_empty() {
            let (head, _) = parse_response(&answer);
            assert!(head.starts_with("HTTP/1.1 400 "), "{what}: {head:?}");
        }
        server.assert_serves();
    }
}

#[test]
fn over_the_connection_cap_a_client_gets_503_and_the_others_are_undisturbed() {
    const CAP: usize = 4;
    let mut server = Server::start(&["--max-connections", &CAP.to_string()]);
    let base = server.threads();
    let mut served: Vec<_> = (0..CAP)
        .map(|i| {
            let mut ws = client(&server.url()).expect("under the cap");
            echo(&mut ws, &format!("client {i}"));
            ws
        })
        .collect();

    // One more is answered at once, before it has sent its request ...
    let start = Instant::now();
    let mut s = idle(server.addr);
    let (answer, closed) = read_to_end_within(&mut s, Duration::from_secs(5));
    let took = start.elapsed();
    assert!(closed, "the refused connection is still open");
    let (head, body) = parse_response(&answer);
    println!("over the cap, answered in {took:?}: {head:?} {body:?}");
    assert!(
        head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{head:?}"
    );
    assert!(head.lines().any(|l| l == "Retry-After: 5"), "{head:?}");
    assert!(head.lines().any(|l| l == "Connection: close"), "{head:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // ... and a WebSocket client sees the status.
    match client(&server.url()) {
        Err(Error::HttpStatus { status: 503, .. }) => {}
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    // Refusals run on no thread of their own.
    for _ in 0..50 {
        let mut s = idle(server.addr);
        s.write_all(UPGRADE).unwrap();
        let (answer, closed) = read_to_end_within(&mut s, Duration::from_secs(5));
        assert!(closed && answer.starts_with(b"HTTP/1.1 503 "), "{answer:?}");
    }
    if by_task() {
        // Counted in descriptors: the last refused socket is closed just
        // after its FIN, which the client may have seen first.
        server.wait_threads(Duration::from_secs(2), "the served ones'", |n| {
            n == base + CAP as u64
        });
    }
    assert_eq!(
        server.threads(),
        base + CAP as u64,
        "threads while refusing"
    );

    // The served ones never noticed.
    for (i, ws) in served.iter_mut().enumerate() {
        echo(ws, &format!("client {i} again"));
    }
    // One leaves: its slot is free for the next client.
    served
        .pop()
        .unwrap()
        .close(CloseCode::NORMAL, "bye")
        .unwrap();
    let start = Instant::now();
    let mut ws = loop {
        match client(&server.url()) {
            Ok(ws) => break ws,
            Err(Error::HttpStatus { status: 503, .. }) => {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "the slot was not freed"
                );
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    };
    println!("a slot came free {:?} after a close", start.elapsed());
    echo(&mut ws, "in the freed slot");
    server.assert_running();
}

/// The server's write timeout (10 s) holds for one `write` call: a call
/// that moved some bytes before it timed out starts the next one afresh.
/// On loopback the kernel makes room in a full receive queue now and then
/// (it packs its buffers), so the drop comes after two or three timeouts:
/// about 30 s measured. 60 s is the bound.
#[test]
fn a_client_that_never_reads_is_dropped_within_60s() {
    let mut server = Server::start(&[]);
    let (mut s, _) = raw_upgrade(server.addr);
    // Binary messages without end, never reading the echoes: the server's
    // sends block once the socket buffers are full, until its write timeout.
    let mut frame = client_head(0x2, 64 << 10, [9, 8, 7, 6]);
    frame.resize(frame.len() + (64 << 10), 0x33);
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let start = Instant::now();
    let mut at = 0;
    let mut sent = 0u64;
    let mut stalled = None;
    let dropped = loop {
        if start.elapsed() > Duration::from_secs(70) {
            break None;
        }
        match s.write(&frame[at..]) {
            Ok(n) => {
                sent += n as u64;
                at = (at + n) % frame.len();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                stalled.get_or_insert(start.elapsed());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                assert!(is_reset(&e), "write: {e}");
                break Some(start.elapsed());
            }
        }
    };
    println!(
        "non-reading client: {} MiB sent, stalled after {stalled:?}, dropped after {dropped:?}",
        sent >> 20
    );
    let dropped = dropped.expect("a client that never reads is still connected after 70 s");
    assert!(dropped < Duration::from_secs(60), "{dropped:?}");
    let _ = s.shutdown(Shutdown::Both);
    server.assert_serves();
}
