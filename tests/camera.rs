//! The camera example (`examples/camera.rs`) as its viewers meet it: the
//! real binary as a child process on a free port, four viewers of its
//! 10-a-second JPEG broadcast, one of which stops reading with a
//! device-sized receive buffer, one that resets mid-stream, and a fifth
//! that comes while four watch. All in one run of ~35 s, the checks side
//! by side:
//!
//! - the three good viewers each get >= 80% of 10 frames a second, in every
//!   5 s of the run and while the stalled one is connected; every message a
//!   JPEG (FF D8 ... FF D9, >= 10 KB), and the frames change;
//! - the stalled viewer is disconnected by the server (its socket leaves
//!   ESTABLISHED in /proc/net/tcp) within 30 s of when it stopped reading;
//! - the server's VmRSS grows by at most 64 MB meanwhile;
//! - a viewer that resets (RST) frees its place at once and costs the
//!   others nothing;
//! - a fifth viewer while four watch is answered with HTTP 503 (or served),
//!   and once the stalled viewer is gone a new one is served again.
//!
//! `cargo test` builds the example first; to run this test alone:
//! `cargo build --example camera && cargo test --test camera -- --nocapture`
//! (`--nocapture` shows the figures).
//!
//! Not run in the qemu-user cross runs (`scripts/cross-test.sh`, armv7 and
//! s390x): they test the library's word size and byte order and build no
//! examples.
#![cfg(all(
    feature = "std",
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use sansws::adapter::std_net::{self, Options, Stream, WebSocket};
use sansws::message::Message;
use sansws::wire::CloseCode;
use socket2::{Domain, SockRef, Socket, Type};

const FPS: f64 = 10.0;
/// The share of the nominal rate every good viewer keeps.
const MIN_SHARE: f64 = 0.8;
/// The stalled viewer is gone within this long of when it stopped reading.
const DROP_WITHIN: Duration = Duration::from_secs(30);
const MAX_RSS_GROWTH_KB: u64 = 64 << 10;
/// The stalled viewer's receive buffer: a device has a few KB.
const DEVICE_RCVBUF: usize = 8 << 10;
/// How long the good viewers are measured (at least).
const WINDOW: Duration = Duration::from_secs(30);
const BUCKET: Duration = Duration::from_secs(5);

/// The example binary, built next to this test's executable
/// (`target/<profile>/examples/camera`).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir
        .join("examples")
        .join(format!("camera{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: build the example first (`cargo test` does; alone: \
         `cargo build --example camera`)",
        bin.display()
    );
    bin
}

/// The running example; killed (by its PID, through `Child`) when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(example_binary())
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the camera example");
        let stdout = child.stdout.take().expect("piped stdout");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = log.clone();
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line.clone());
                    log.lock().unwrap().push(line);
                }
            });
        }
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        // "camera on http://127.0.0.1:PORT/ (WebSocket at /ws)"
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the camera example prints its address");
        let addr = first
            .strip_prefix("camera on http://")
            .and_then(|s| s.split('/').next())
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"));
        server.addr = addr.parse().expect("a socket address");
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one viewer saw.
#[derive(Default)]
struct Seen {
    /// When each frame arrived.
    at: Vec<Instant>,
    min_len: usize,
    max_len: usize,
    /// Messages that were not a JPEG of >= 10 KB.
    bad: Vec<String>,
    distinct: HashSet<u64>,
    /// How the stream ended early, if it did.
    ended: Option<String>,
}

impl Seen {
    fn frames_between(&self, from: Instant, to: Instant) -> usize {
        self.at.iter().filter(|t| **t >= from && **t < to).count()
    }

    fn rate(&self, from: Instant, to: Instant) -> f64 {
        self.frames_between(from, to) as f64 / (to - from).as_secs_f64()
    }

    fn max_gap(&self, from: Instant, to: Instant) -> Duration {
        let mut last = from;
        let mut gap = Duration::ZERO;
        for t in self.at.iter().filter(|t| **t >= from && **t < to) {
            gap = gap.max(*t - last);
            last = *t;
        }
        gap.max(to.saturating_duration_since(last))
    }
}

fn check_jpeg(data: &[u8]) -> Result<(), String> {
    if data.len() < 10 << 10 {
        return Err(format!("{} bytes, under 10 KB", data.len()));
    }
    if !data.starts_with(&[0xFF, 0xD8]) || !data.ends_with(&[0xFF, 0xD9]) {
        return Err(format!(
            "not FF D8 ... FF D9: {:02X?} ... {:02X?}",
            &data[..2],
            &data[data.len() - 2..]
        ));
    }
    Ok(())
}

/// A viewer with sansws's own client: reads frames until `stop()`, and
/// says on `ready` when the first one came.
fn watch(
    addr: SocketAddr,
    ready: mpsc::Sender<()>,
    stop: impl Fn() -> bool,
) -> (Seen, Option<WebSocket<Stream>>) {
    let mut seen = Seen {
        min_len: usize::MAX,
        ..Seen::default()
    };
    let opts = Options {
        read_timeout: Some(Duration::from_millis(300)),
        ..Options::default()
    };
    let mut ws = match std_net::connect_with(&format!("ws://{addr}/ws"), &opts) {
        Ok(ws) => ws,
        Err(e) => {
            seen.ended = Some(format!("connect: {e}"));
            let _ = ready.send(());
            return (seen, None);
        }
    };
    let mut ready = Some(ready);
    while !stop() {
        match ws.read() {
            Ok(Some(Message::Binary(data))) => {
                seen.at.push(Instant::now());
                seen.min_len = seen.min_len.min(data.len());
                seen.max_len = seen.max_len.max(data.len());
                if let Err(e) = check_jpeg(&data) {
                    seen.bad.push(e);
                }
                let mut h = DefaultHasher::new();
                data.hash(&mut h);
                seen.distinct.insert(h.finish());
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            Ok(Some(Message::Text(t))) => seen.bad.push(format!("a text message: {t:?}")),
            Ok(Some(_)) => {}
            Ok(None) => {
                seen.ended = Some(format!("closed by the server: {:?}", ws.end()));
                break;
            }
            Err(std_net::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                seen.ended = Some(format!("read: {e}"));
                break;
            }
        }
    }
    if let Some(r) = ready.take() {
        let _ = r.send(());
    }
    (seen, Some(ws))
}

/// A raw client: TCP (with `rcvbuf` set before connecting, so the window
/// the server sees is a device's), the upgrade request, and the response
/// head read byte by byte, so that nothing after it is read. Returns the
/// stream and the status code.
fn raw_upgrade(addr: SocketAddr, rcvbuf: Option<usize>) -> io::Result<(TcpStream, u16)> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size)?;
    }
    socket.connect_timeout(&addr.into(), Duration::from_secs(5))?;
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "closed before a response head: {:?}",
                    String::from_utf8_lossy(&head)
                ),
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad response head: {head:?}")))?;
    Ok((stream, status))
}

/// A viewer beyond the cap: 503 and then the end of the stream, or
/// served (101 and a frame's worth of bytes). Anything else is an error.
fn fifth_viewer(addr: SocketAddr) -> Result<String, String> {
    let (mut stream, status) = raw_upgrade(addr, None).map_err(|e| format!("fifth viewer: {e}"))?;
    let mut body = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    match status {
        503 => match stream.read_to_end(&mut body) {
            Ok(_) => Ok(format!(
                "503 {:?}, then closed",
                String::from_utf8_lossy(&body).trim()
            )),
            Err(e) => Err(format!("503, but the stream was not ended: {e}")),
        },
        101 => {
            let mut buf = vec![0u8; 10 << 10];
            stream
                .read_exact(&mut buf)
                .map_err(|e| format!("served (101), but no frame came: {e}"))?;
            Ok("served (101)".into())
        }
        s => Err(format!("fifth viewer answered with HTTP {s}")),
    }
}

/// The state and queues of the TCP socket `local` -> `remote`, from
/// /proc/net/tcp: (state, bytes unsent or unacked, bytes unread); `None`
/// once it is gone.
fn tcp_socket(local: SocketAddr, remote: SocketAddr) -> Option<(u8, u64, u64)> {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(a) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(a.ip().octets()),
            a.port()
        ),
        SocketAddr::V6(_) => unreachable!("IPv4 only"),
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[1] != local || f[2] != remote {
            return None;
        }
        let state = u8::from_str_radix(f[3], 16).ok()?;
        let (tx, rx) = f[4].split_once(':')?;
        Some((
            state,
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

const TCP_ESTABLISHED: u8 = 1;

#[test]
fn slow_viewer_reset_viewer_and_a_fifth_do_not_disturb_the_others() {
    let mut server = Server::start();
    let addr = server.addr;
    let mut failures: Vec<String> = Vec::new();
    let mut report: Vec<String> = Vec::new();

    // Three good viewers and one that will reset: four at once.
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let good: Vec<_> = (0..3)
        .map(|_| {
            let (stop, ready) = (stop.clone(), ready_tx.clone());
            thread::spawn(move || {
                let (seen, ws) = watch(addr, ready, || stop.load(Ordering::Relaxed));
                if let Some(mut ws) = ws {
                    let _ = ws.close(CloseCode::NORMAL, "done");
                }
                seen
            })
        })
        .collect();
    let reset_at = Instant::now() + Duration::from_secs(3);
    let resetter = {
        let ready = ready_tx.clone();
        thread::spawn(move || {
            let (seen, ws) = watch(addr, ready, || Instant::now() >= reset_at);
            // RST: linger 0, then close without a close frame.
            let ws = ws.expect("the resetting viewer connected");
            let port = ws.get_ref().tcp().local_addr().unwrap();
            SockRef::from(ws.get_ref().tcp())
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(ws);
            (seen, port, Instant::now())
        })
    };
    for _ in 0..4 {
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("each viewer gets a first frame within 10 s");
    }
    let start = Instant::now();
    let rss_base = server.rss_kb();
    let mut rss_max = rss_base;

    // A fifth while four watch.
    match fifth_viewer(addr) {
        Ok(r) => report.push(format!(
            "fifth viewer (4 watching: 3 good + resetting): {r}"
        )),
        Err(e) => failures.push(e),
    }

    // The resetting viewer goes; its place is free at once: the stalled
    // viewer takes it (retrying a 503 for up to 3 s).
    let (reset_seen, reset_port, reset_time) = resetter.join().unwrap();
    if reset_seen.at.is_empty() || reset_seen.ended.is_some() {
        failures.push(format!(
            "the resetting viewer saw {} frames before its reset, ended: {:?}",
            reset_seen.at.len(),
            reset_seen.ended
        ));
    }
    let (stalled, stalled_port, stopped_reading) = loop {
        match raw_upgrade(addr, Some(DEVICE_RCVBUF)) {
            Ok((s, 101)) => {
                let port = s.local_addr().unwrap();
                break (s, port, Instant::now());
            }
            Ok((_, 503)) if reset_time.elapsed() < Duration::from_secs(3) => {
                thread::sleep(Duration::from_millis(20));
            }
            Ok((_, status)) => panic!(
                "the stalled viewer was answered {status} {:.1} s after the reset\n{}",
                reset_time.elapsed().as_secs_f64(),
                server.log()
            ),
            Err(e) => panic!("the stalled viewer: {e}\n{}", server.log()),
        }
    };
    report.push(format!(
        "reset viewer {reset_port} ({} frames) replaced by the stalled viewer {:.0} ms after its RST",
        reset_seen.at.len(),
        (stopped_reading - reset_time).as_secs_f64() * 1e3
    ));
    let rcvbuf = SockRef::from(&stalled).recv_buffer_size().unwrap();
    // And a fifth again, the four now with the stalled one.
    match fifth_viewer(addr) {
        Ok(r) => report.push(format!("fifth viewer (4 watching: 3 good + stalled): {r}")),
        Err(e) => failures.push(e),
    }

    // The stalled viewer never reads again: wait for the server to end it.
    let mut dropped_after = None;
    let mut seen_established = false;
    let mut server_queue_max = 0;
    let mut client_unread_max = 0;
    while stopped_reading.elapsed() < DROP_WITHIN + Duration::from_secs(5) {
        match tcp_socket(addr, stalled_port) {
            Some((TCP_ESTABLISHED, tx, _)) => {
                seen_established = true;
                server_queue_max = server_queue_max.max(tx);
            }
            _ if !seen_established => panic!(
                "the server's socket to the stalled viewer {stalled_port} is not in /proc/net/tcp"
            ),
            _ => {
                dropped_after = Some(stopped_reading.elapsed());
                break;
            }
        }
        if let Some((_, _, rx)) = tcp_socket(stalled_port, addr) {
            client_unread_max = client_unread_max.max(rx);
        }
        rss_max = rss_max.max(server.rss_kb());
        thread::sleep(Duration::from_millis(100));
    }
    let stall_end = Instant::now();
    report.push(format!(
        "stalled viewer {stalled_port} (SO_RCVBUF {rcvbuf} B): the server held up to {server_queue_max} B \
         unsent for it, its kernel {client_unread_max} B unread"
    ));
    match dropped_after {
        Some(d) if d <= DROP_WITHIN => report.push(format!(
            "stalled viewer disconnected by the server {:.1} s after it stopped reading",
            d.as_secs_f64()
        )),
        Some(d) => failures.push(format!(
            "the stalled viewer was disconnected only {:.1} s after it stopped reading (limit {} s)",
            d.as_secs_f64(),
            DROP_WITHIN.as_secs()
        )),
        None => failures.push(format!(
            "the stalled viewer was still connected {} s after it stopped reading",
            (DROP_WITHIN + Duration::from_secs(5)).as_secs()
        )),
    }
    drop(stalled);

    // Its place is free again: a new viewer is served.
    if dropped_after.is_some() {
        let (tx, rx) = mpsc::channel();
        let t0 = Instant::now();
        let newcomer = thread::spawn(move || {
            watch(addr, tx, {
                let deadline = Instant::now() + Duration::from_secs(3);
                move || Instant::now() >= deadline
            })
        });
        let got = rx.recv_timeout(Duration::from_secs(5)).is_ok();
        let (seen, _) = newcomer.join().unwrap();
        if got && !seen.at.is_empty() {
            report.push(format!(
                "a new viewer after the drop: served, first frame in {:.0} ms",
                (seen.at[0] - t0).as_secs_f64() * 1e3
            ));
        } else {
            failures.push(format!(
                "a new viewer after the stalled one was dropped was not served: {:?}",
                seen.ended
            ));
        }
    }

    // The good viewers run at least WINDOW in all.
    while start.elapsed() < WINDOW {
        rss_max = rss_max.max(server.rss_kb());
        thread::sleep(Duration::from_millis(200));
    }
    let end = Instant::now();
    rss_max = rss_max.max(server.rss_kb());
    stop.store(true, Ordering::Relaxed);
    let good: Vec<Seen> = good.into_iter().map(|h| h.join().unwrap()).collect();

    let min_frames_per_bucket = (FPS * BUCKET.as_secs_f64() * MIN_SHARE).ceil() as usize;
    for (i, seen) in good.iter().enumerate() {
        let name = format!("good viewer {}", i + 1);
        let rate = seen.rate(start, end);
        let stall_rate = seen.rate(stopped_reading, stall_end);
        let buckets: Vec<usize> = (0..)
            .map(|k| start + BUCKET * k)
            .take_while(|b| *b + BUCKET <= end)
            .map(|b| seen.frames_between(b, b + BUCKET))
            .collect();
        report.push(format!(
            "{name}: {:.2}/s over {:.1} s, {stall_rate:.2}/s while the stalled viewer was connected, \
             per 5 s {buckets:?}, longest gap {} ms, {} frames of {}..{} B, {} distinct",
            rate,
            (end - start).as_secs_f64(),
            seen.max_gap(start, end).as_millis(),
            seen.at.len(),
            seen.min_len,
            seen.max_len,
            seen.distinct.len(),
        ));
        if rate < FPS * MIN_SHARE {
            failures.push(format!("{name}: {rate:.2} frames/s over the run"));
        }
        if stall_rate < FPS * MIN_SHARE {
            failures.push(format!(
                "{name}: {stall_rate:.2} frames/s while the stalled viewer was connected"
            ));
        }
        if buckets.iter().any(|n| *n < min_frames_per_bucket) {
            failures.push(format!(
                "{name}: fewer than {min_frames_per_bucket} frames in some 5 s: {buckets:?}"
            ));
        }
        if !seen.bad.is_empty() {
            failures.push(format!(
                "{name}: {} bad messages, e.g. {}",
                seen.bad.len(),
                seen.bad[0]
            ));
        }
        if seen.distinct.len() < 10 {
            failures.push(format!(
                "{name}: only {} distinct frames",
                seen.distinct.len()
            ));
        }
        if let Some(e) = &seen.ended {
            failures.push(format!("{name} ended early: {e}"));
        }
    }
    let growth = rss_max.saturating_sub(rss_base);
    report.push(format!(
        "server VmRSS {rss_base} kB at the start, at most {rss_max} kB: +{growth} kB"
    ));
    if growth > MAX_RSS_GROWTH_KB {
        failures.push(format!(
            "the server's VmRSS grew by {growth} kB (limit {MAX_RSS_GROWTH_KB} kB)"
        ));
    }
    if !server.alive() {
        failures.push("the server died".into());
    }
    // Let the server log the goodbyes.
    thread::sleep(Duration::from_millis(200));
    let port = format!(":{} ", stalled_port.port());
    for line in server.log.lock().unwrap().iter() {
        if line.contains(&port) && line.contains("gone") {
            report.push(format!("server: {line}"));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n\nserver log:\n{}",
        failures.join("\n"),
        server.log()
    );
}
