//! The servers under test: how each is built and started, its process
//! (killed by PID when dropped, and on Ctrl-C), and what /proc says about
//! it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use crate::client::Res;

/// How a server's binary is built.
pub enum Bin {
    /// An example of the sansws crate (`cargo build --release --features
    /// tokio --example`: both echo servers built alike).
    Example(&'static str),
    /// A binary of this workspace (`cargo build --release --bin`).
    Peer(&'static str),
}

/// A server under test. Each is started as `BINARY 127.0.0.1:0 ARGS...` and
/// must print its address (`127.0.0.1:PORT`) somewhere in its first line.
pub struct ServerDef {
    pub name: &'static str,
    pub bin: Bin,
    pub args: &'static [&'static str],
}

/// Every server, in table order. A server with the same contract is one
/// more line here.
pub const SERVERS: &[ServerDef] = &[
    ServerDef {
        name: "sansws",
        bin: Bin::Example("echo_server"),
        args: &["--max-connections", "100000"],
    },
    ServerDef {
        name: "sansws-async",
        bin: Bin::Example("echo_server_async"),
        args: &["--max-connections", "100000"],
    },
    ServerDef {
        name: "tokio-tungstenite",
        bin: Bin::Peer("peer-tungstenite"),
        args: &[],
    },
    ServerDef {
        name: "fastwebsockets",
        bin: Bin::Peer("peer-fastwebsockets"),
        args: &[],
    },
    ServerDef {
        name: "tokio-websockets",
        bin: Bin::Peer("peer-tokio-websockets"),
        args: &[],
    },
];

/// This workspace (benches/load) and the sansws crate's root.
fn load_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn crate_dir() -> PathBuf {
    let dir = load_dir().join("../..");
    dir.canonicalize().unwrap_or(dir)
}

impl ServerDef {
    /// Where its binary is: sansws examples under the crate's target
    /// directory, peers next to this executable.
    pub fn path(&self) -> PathBuf {
        match self.bin {
            Bin::Example(name) => std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| crate_dir().join("target"), PathBuf::from)
                .join("release/examples")
                .join(name),
            Bin::Peer(name) => std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| load_dir().join("target/release"))
                .join(name),
        }
    }

    /// `cargo build --release` of its binary (a no-op when it is fresh).
    pub fn build(&self) -> Res<()> {
        let (manifest, kind, name, features) = match self.bin {
            Bin::Example(name) => (crate_dir().join("Cargo.toml"), "--example", name, "tokio"),
            Bin::Peer(name) => (load_dir().join("Cargo.toml"), "--bin", name, ""),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!(
            "building {}: cargo build --release --features '{features}' {kind} {name} --manifest-path {}",
            self.name,
            manifest.display()
        );
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--quiet",
                "--features",
                features,
                kind,
                name,
                "--manifest-path",
            ])
            .arg(&manifest)
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("running cargo: {e}"))?;
        if !status.success() {
            return Err(format!("building {} failed ({status})", self.name));
        }
        if !self.path().exists() {
            return Err(format!(
                "{} not found after building",
                self.path().display()
            ));
        }
        Ok(())
    }
}

/// PIDs of the servers this process started and has not reaped yet, for
/// the Ctrl-C handler.
static PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Kills (SIGKILL) every server still running; for the Ctrl-C handler.
pub fn kill_all() {
    for &pid in PIDS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        // SAFETY: kill(2) on a PID of a child this process started and has
        // not reaped (so the PID cannot have been reused).
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

/// A running server; killed (by its PID) and reaped when dropped.
pub struct Running {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        PIDS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&p| p != self.pid);
    }
}

/// The first `127.0.0.1:PORT` in a line.
fn parse_addr(line: &str) -> Option<SocketAddr> {
    let at = line.find("127.0.0.1:")?;
    let rest = &line[at + "127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    format!("127.0.0.1:{digits}").parse().ok()
}

/// Starts a server on 127.0.0.1, port 0, and learns its address from its
/// first line. Its later output is read and dropped (a server that logs
/// every connection would otherwise block on a full pipe); its stderr is
/// this process's. It inherits this process's RLIMIT_NOFILE.
pub fn start(def: &ServerDef) -> Res<Running> {
    let child = Command::new(def.path())
        .arg("127.0.0.1:0")
        .args(def.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", def.path().display()))?;
    let pid = child.id();
    PIDS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    let mut running = Running {
        child,
        pid,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let stdout = running.child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut first = String::new();
        let _ = lines.read_line(&mut first);
        let _ = tx.send(first);
        // LOAD_SERVER_LOG=path keeps it there instead, to see why a
        // server closed connections.
        let mut log = std::env::var_os("LOAD_SERVER_LOG").and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        let mut sink = Vec::with_capacity(1 << 16);
        while lines.read_until(b'\n', &mut sink).is_ok_and(|n| n > 0) {
            if let Some(f) = log.as_mut() {
                let _ = std::io::Write::write_all(f, &sink);
            }
            sink.clear();
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| format!("{}: no first line within 10 s", def.name))?;
    running.addr = parse_addr(&first)
        .filter(|a| a.port() != 0)
        .ok_or_else(|| {
            format!(
                "{}: no 127.0.0.1:PORT in its first line {first:?}",
                def.name
            )
        })?;
    Ok(running)
}

/// utime + stime of a process, in seconds (/proc/PID/stat).
pub fn cpu_secs(pid: &str) -> Res<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = &stat[stat.rfind(')').ok_or("bad /proc stat")? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or("bad /proc stat")
    };
    // utime is field 14, stime field 15.
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    Ok(total as f64 / hz as f64)
}

/// VmRSS (bytes) and thread count of a process (/proc/PID/status).
pub fn rss_threads(pid: u32) -> Res<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")? * 1024, field("Threads:")?))
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (children
/// inherit it) and returns the new soft limit.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
    }
    // rlim_t is u64 on 64-bit Linux, not everywhere.
    #[allow(clippy::unnecessary_cast)]
    let cur = r.rlim_cur as u64;
    cur
}
