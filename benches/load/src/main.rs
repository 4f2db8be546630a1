//! End-to-end loopback load benchmark: sansws's `echo_server` example next
//! to echo servers built on tokio-tungstenite, fastwebsockets and
//! tokio-websockets, each a child process on 127.0.0.1 (port 0), driven by
//! the same load generator (this process, a tokio multi-thread runtime).
//! Every echo is checked byte for byte and in order. See README.md.
//!
//! `cargo run --release --bin load -- [--smoke] [--secs N] [--runs R]
//! [--only rr20,rr16k,pipe20,idle] [--servers sansws,fastwebsockets,...] [--no-build]`

mod client;
mod server;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};

use client::{Conn, ConnResult, Res};
use server::{SERVERS, ServerDef};

#[derive(Clone, Copy)]
enum Kind {
    /// `conns` connections, each keeping `inflight` messages of `len`
    /// bytes outstanding (1: request-response).
    Echo {
        conns: usize,
        len: usize,
        inflight: usize,
    },
    /// `conns` connections opened and left idle.
    Idle { conns: usize },
}

struct Scenario {
    name: &'static str,
    what: &'static str,
    full: Kind,
    smoke: Kind,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "rr20",
        what: "20-byte binary messages, request-response",
        full: Kind::Echo {
            conns: 100,
            len: 20,
            inflight: 1,
        },
        smoke: Kind::Echo {
            conns: 10,
            len: 20,
            inflight: 1,
        },
    },
    Scenario {
        name: "rr16k",
        what: "16 KiB binary messages, request-response",
        full: Kind::Echo {
            conns: 100,
            len: 16 << 10,
            inflight: 1,
        },
        smoke: Kind::Echo {
            conns: 10,
            len: 16 << 10,
            inflight: 1,
        },
    },
    Scenario {
        name: "pipe20",
        what: "20-byte binary messages, 64 in flight per connection",
        full: Kind::Echo {
            conns: 10,
            len: 20,
            inflight: 64,
        },
        smoke: Kind::Echo {
            conns: 2,
            len: 20,
            inflight: 64,
        },
    },
    Scenario {
        name: "idle",
        what: "idle connections (handshake done): server memory and threads",
        full: Kind::Idle { conns: 5000 },
        smoke: Kind::Idle { conns: 200 },
    },
];

/// Handshakes in progress at once while connecting.
const CONNECT_CONCURRENCY: usize = 64;

struct Opts {
    secs: f64,
    warmup: f64,
    idle_secs: f64,
    runs: usize,
    smoke: bool,
    build: bool,
    scenarios: Vec<&'static Scenario>,
    servers: Vec<&'static ServerDef>,
}

fn usage() -> ! {
    eprintln!(
        "usage: load [--smoke] [--secs N] [--runs R] [--only {}] [--servers {}] [--no-build]",
        SCENARIOS
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(","),
        SERVERS.iter().map(|s| s.name).collect::<Vec<_>>().join(","),
    );
    std::process::exit(2)
}

fn parse_args() -> Opts {
    let mut args = std::env::args().skip(1);
    let (mut secs, mut runs, mut only, mut servers, mut smoke, mut build) =
        (None, None, None, None, false, true);
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage())
        };
        match key.as_str() {
            "--secs" => {
                secs = Some(
                    value()
                        .parse::<f64>()
                        .ok()
                        .filter(|s| *s > 0.0)
                        .unwrap_or_else(|| usage()),
                )
            }
            "--runs" => {
                runs = Some(
                    value()
                        .parse::<usize>()
                        .ok()
                        .filter(|r| *r > 0)
                        .unwrap_or_else(|| usage()),
                )
            }
            "--only" => only = Some(value()),
            "--servers" => servers = Some(value()),
            "--smoke" => smoke = true,
            "--no-build" => build = false,
            _ => usage(),
        }
    }
    let pick = |list: Option<String>, names: &[&'static str]| -> Vec<usize> {
        match list {
            None => (0..names.len()).collect(),
            Some(l) => l
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    names.iter().position(|n| *n == s).unwrap_or_else(|| {
                        eprintln!("unknown name {s:?} (known: {})", names.join(","));
                        std::process::exit(2)
                    })
                })
                .collect(),
        }
    };
    let scenario_names: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
    let server_names: Vec<_> = SERVERS.iter().map(|s| s.name).collect();
    Opts {
        secs: secs.unwrap_or(if smoke { 0.2 } else { 5.0 }),
        warmup: if smoke { 0.05 } else { 1.0 },
        idle_secs: if smoke { 0.2 } else { 2.0 },
        runs: runs.unwrap_or(if smoke { 1 } else { 3 }),
        smoke,
        build,
        scenarios: pick(only, &scenario_names)
            .into_iter()
            .map(|i| &SCENARIOS[i])
            .collect(),
        servers: pick(servers, &server_names)
            .into_iter()
            .map(|i| &SERVERS[i])
            .collect(),
    }
}

/// One measured run of an echo scenario.
struct EchoRun {
    msgs_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    server_cpu_us: f64,
    client_cpu_us: f64,
}

/// One run of the idle scenario.
struct IdleRun {
    base_rss: u64,
    rss: u64,
    threads: u64,
    setup_s: f64,
}

enum RunResult {
    Echo(EchoRun),
    Idle(IdleRun),
}

/// Opens `n` connections (ids `0..n`), handshakes done.
async fn connect_all(addr: SocketAddr, n: usize, len: usize) -> Res<Vec<Conn>> {
    futures_util::stream::iter(0..n)
        .map(|i| Conn::connect(addr, i as u32, len))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_collect()
        .await
        .map_err(|e| format!("connecting {n} connections: {e}"))
}

/// Waits for every connection task (until `deadline`), merging results
/// and reporting the first error (and how many failed).
async fn join_all<T>(
    handles: Vec<tokio::task::JoinHandle<Res<T>>>,
    deadline: tokio::time::Instant,
    mut merge: impl FnMut(T),
) -> Res<()> {
    let n = handles.len();
    let (mut first, mut failed) = (None, 0);
    for h in handles {
        let r = match tokio::time::timeout_at(deadline, h).await {
            Err(_) => Err("connection task still running at the deadline".to_owned()),
            Ok(Err(e)) => Err(format!("connection task panicked: {e}")),
            Ok(Ok(r)) => r,
        };
        match r {
            Ok(v) => merge(v),
            Err(e) => {
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    match first {
        None => Ok(()),
        Some(e) => Err(format!("{failed} of {n} connections failed; first: {e}")),
    }
}

/// The value at quantile `q` of sorted `v`.
fn quantile(v: &[u64], q: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Samples server and load-generator CPU time at `t0` and `t1` on a thread
/// of its own (so a busy runtime does not delay the samples).
fn sample_cpu(pid: u32, t0: Instant, t1: Instant) -> std::thread::JoinHandle<Res<(f64, f64)>> {
    std::thread::spawn(move || {
        let pid = pid.to_string();
        std::thread::sleep(t0.saturating_duration_since(Instant::now()));
        let (s0, c0) = (server::cpu_secs(&pid)?, server::cpu_secs("self")?);
        std::thread::sleep(t1.saturating_duration_since(Instant::now()));
        let (s1, c1) = (server::cpu_secs(&pid)?, server::cpu_secs("self")?);
        Ok((s1 - s0, c1 - c0))
    })
}

async fn echo_run(
    srv: &server::Running,
    (conns, len, inflight): (usize, usize, usize),
    o: &Opts,
) -> Res<EchoRun> {
    let all = connect_all(srv.addr, conns, len).await?;
    let start = Instant::now();
    let t0 = start + Duration::from_secs_f64(o.warmup);
    let t1 = t0 + Duration::from_secs_f64(o.secs);
    let cpu = sample_cpu(srv.pid, t0, t1);
    let handles: Vec<_> = all
        .into_iter()
        .map(|c| tokio::spawn(c.run(inflight, t0, t1)))
        .collect();
    let mut total = ConnResult::default();
    let deadline = tokio::time::Instant::from_std(t1) + client::IO_TIMEOUT * 2;
    join_all(handles, deadline, |r: ConnResult| {
        total.msgs += r.msgs;
        total.lat_ns.extend(r.lat_ns);
    })
    .await?;
    let (server_cpu, client_cpu) = tokio::task::spawn_blocking(move || cpu.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "CPU sampler panicked".to_owned())??;
    if total.msgs == 0 {
        return Err("no echo at all in the measured window".into());
    }
    total.lat_ns.sort_unstable();
    let msgs = total.msgs as f64;
    Ok(EchoRun {
        msgs_per_s: msgs / o.secs,
        p50_us: quantile(&total.lat_ns, 0.50) as f64 / 1e3,
        p99_us: quantile(&total.lat_ns, 0.99) as f64 / 1e3,
        server_cpu_us: server_cpu * 1e6 / msgs,
        client_cpu_us: client_cpu * 1e6 / msgs,
    })
}

async fn idle_run(srv: &server::Running, conns: usize, o: &Opts) -> Res<IdleRun> {
    // Right after start, no connection yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (base_rss, _) = server::rss_threads(srv.pid)?;
    let t = Instant::now();
    let all = connect_all(srv.addr, conns, 20).await?;
    let setup_s = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(o.idle_secs)).await;
    let (rss, threads) = server::rss_threads(srv.pid)?;
    // Every connection must still work: one echo each, then close.
    let handles: Vec<_> = all
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                c.echo_once()
                    .await
                    .map_err(|e| format!("conn {} after idling: {e}", c.id))?;
                c.close().await
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + client::IO_TIMEOUT * 3;
    join_all(handles, deadline, |()| {}).await?;
    Ok(IdleRun {
        base_rss,
        rss,
        threads,
        setup_s,
    })
}

async fn one_run(def: &ServerDef, sc: &Scenario, o: &Opts) -> Res<RunResult> {
    let srv = server::start(def)?;
    let kind = if o.smoke { sc.smoke } else { sc.full };
    let r = match kind {
        Kind::Echo {
            conns,
            len,
            inflight,
        } => echo_run(&srv, (conns, len, inflight), o)
            .await
            .map(RunResult::Echo),
        Kind::Idle { conns } => idle_run(&srv, conns, o).await.map(RunResult::Idle),
    };
    // The server must have survived the run.
    let alive = server::rss_threads(srv.pid).is_ok();
    drop(srv);
    match r {
        Ok(_) if !alive => Err("the server process was gone at the end of the run".into()),
        r => r,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else {
        format!("{:.1} k", v / 1e3)
    }
}

fn print_echo_table(
    sc: &Scenario,
    kind: Kind,
    rows: &[(&str, Result<Vec<EchoRun>, String>)],
    o: &Opts,
) {
    let Kind::Echo {
        conns,
        len,
        inflight,
    } = kind
    else {
        return;
    };
    println!(
        "\n## {}: {} ({conns} connections, {len} bytes, {inflight} in flight each)\n",
        sc.name, sc.what
    );
    println!(
        "| server | msg/s | msg/s vs best | p50 RTT | p99 RTT | server CPU/msg | server CPU vs best | load-gen CPU/msg | msg/s min–max over {} run{} |",
        o.runs,
        if o.runs == 1 { "" } else { "s" }
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let med = |runs: &[EchoRun], f: fn(&EchoRun) -> f64| median(runs.iter().map(f).collect());
    let ok: Vec<_> = rows.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    let best_rate = ok
        .iter()
        .map(|r| med(r, |e| e.msgs_per_s))
        .fold(f64::NAN, f64::max);
    let best_cpu = ok
        .iter()
        .map(|r| med(r, |e| e.server_cpu_us))
        .fold(f64::NAN, f64::min);
    for (name, r) in rows {
        match r {
            Err(e) => println!("| {name} | FAILED: {e} | | | | | | | |"),
            Ok(runs) => {
                let rate = med(runs, |e| e.msgs_per_s);
                let cpu = med(runs, |e| e.server_cpu_us);
                let lo = runs
                    .iter()
                    .map(|e| e.msgs_per_s)
                    .fold(f64::INFINITY, f64::min);
                let hi = runs.iter().map(|e| e.msgs_per_s).fold(0.0, f64::max);
                println!(
                    "| {name} | {} | {:.2}x | {:.0} µs | {:.0} µs | {:.2} µs | {:.2}x | {:.2} µs | {} – {} |",
                    fmt_rate(rate),
                    rate / best_rate,
                    med(runs, |e| e.p50_us),
                    med(runs, |e| e.p99_us),
                    cpu,
                    cpu / best_cpu,
                    med(runs, |e| e.client_cpu_us),
                    fmt_rate(lo),
                    fmt_rate(hi),
                );
            }
        }
    }
}

fn print_idle_table(
    sc: &Scenario,
    kind: Kind,
    rows: &[(&str, Result<Vec<IdleRun>, String>)],
    o: &Opts,
) {
    let Kind::Idle { conns } = kind else { return };
    println!(
        "\n## {}: {conns} {} ({} s idle)\n",
        sc.name, sc.what, o.idle_secs
    );
    println!(
        "| server | RSS per connection | vs best | threads | RSS at start | RSS with {conns} idle | time to open {conns} |"
    );
    println!("|---|---|---|---|---|---|---|");
    let per_conn = |r: &IdleRun| (r.rss as f64 - r.base_rss as f64) / conns as f64;
    let med = |runs: &[IdleRun], f: &dyn Fn(&IdleRun) -> f64| median(runs.iter().map(f).collect());
    let best = rows
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|r| med(r, &per_conn))
        .fold(f64::NAN, f64::min);
    for (name, r) in rows {
        match r {
            Err(e) => println!("| {name} | FAILED: {e} | | | | | |"),
            Ok(runs) => {
                let pc = med(runs, &per_conn);
                println!(
                    "| {name} | {:.1} KiB | {:.2}x | {:.0} | {:.1} MiB | {:.1} MiB | {:.2} s |",
                    pc / 1024.0,
                    pc / best,
                    med(runs, &|r| r.threads as f64),
                    med(runs, &|r| r.base_rss as f64) / (1 << 20) as f64,
                    med(runs, &|r| r.rss as f64) / (1 << 20) as f64,
                    med(runs, &|r| r.setup_s),
                );
            }
        }
    }
}

fn main() {
    let o = parse_args();
    let wall = Instant::now();
    let nofile = server::raise_nofile();
    let max_conns = SCENARIOS
        .iter()
        .map(|s| match if o.smoke { s.smoke } else { s.full } {
            Kind::Echo { conns, .. } | Kind::Idle { conns } => conns,
        })
        .max()
        .unwrap_or(0);
    if nofile < max_conns as u64 + 64 {
        eprintln!(
            "warning: RLIMIT_NOFILE is {nofile}, fewer than the {max_conns} connections the idle scenario opens"
        );
    }
    if o.build {
        for def in &o.servers {
            if let Err(e) = def.build() {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    for def in &o.servers {
        if !def.path().exists() {
            eprintln!(
                "error: {} not found (build it, or drop --no-build)",
                def.path().display()
            );
            std::process::exit(1);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let failed = rt.block_on(async {
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                server::kill_all();
                eprintln!("interrupted: servers killed");
                std::process::exit(130);
            }
        });
        bench(&o).await
    });
    eprintln!("wall time {:.1} s", wall.elapsed().as_secs_f64());
    std::process::exit(i32::from(failed));
}

/// Runs everything and prints the tables; true if any run failed.
async fn bench(o: &Opts) -> bool {
    let (ns, nv) = (o.scenarios.len(), o.servers.len());
    // results[scenario][server]: the runs so far, or the first failure.
    let mut results: Vec<Vec<Result<Vec<RunResult>, String>>> = (0..ns)
        .map(|_| (0..nv).map(|_| Ok(Vec::new())).collect())
        .collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "# sansws load benchmark{}\n\n{} CPUs, load average {}; {} run(s) of {} s measured after {} s warm-up; servers interleaved run by run. RTT = round trip seen by the load generator; CPU/msg = utime+stime over the window / echoes in it.",
        if o.smoke { " (smoke)" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        o.runs,
        o.secs,
        o.warmup,
    );
    for run in 0..o.runs {
        for (i, sc) in o.scenarios.iter().enumerate() {
            for j in 0..nv {
                // Rotate the order from run to run.
                let k = (run + j) % nv;
                let def = o.servers[k];
                let slot = &mut results[i][k];
                let Ok(runs) = slot else { continue };
                let t = Instant::now();
                match one_run(def, sc, o).await {
                    Ok(r) => {
                        match &r {
                            RunResult::Echo(e) => eprintln!(
                                "run {}/{} {} {}: {} msg/s, p50 {:.0} µs, p99 {:.0} µs, server {:.2} µs/msg ({:.1} s)",
                                run + 1,
                                o.runs,
                                sc.name,
                                def.name,
                                fmt_rate(e.msgs_per_s),
                                e.p50_us,
                                e.p99_us,
                                e.server_cpu_us,
                                t.elapsed().as_secs_f64()
                            ),
                            RunResult::Idle(d) => eprintln!(
                                "run {}/{} {} {}: RSS {:.1} -> {:.1} MiB, {} threads ({:.1} s)",
                                run + 1,
                                o.runs,
                                sc.name,
                                def.name,
                                d.base_rss as f64 / (1 << 20) as f64,
                                d.rss as f64 / (1 << 20) as f64,
                                d.threads,
                                t.elapsed().as_secs_f64()
                            ),
                        }
                        runs.push(r);
                    }
                    Err(e) => {
                        eprintln!(
                            "run {}/{} {} {}: FAILED: {e}",
                            run + 1,
                            o.runs,
                            sc.name,
                            def.name
                        );
                        *slot = Err(e);
                    }
                }
            }
        }
    }
    let mut failed = false;
    for (i, sc) in o.scenarios.iter().enumerate() {
        let kind = if o.smoke { sc.smoke } else { sc.full };
        let row = |k: usize| o.servers[k].name;
        match kind {
            Kind::Echo { .. } => {
                let rows: Vec<_> = (0..nv)
                    .map(|k| {
                        let r = std::mem::replace(&mut results[i][k], Ok(Vec::new()));
                        let r = r.map(|v| {
                            v.into_iter()
                                .filter_map(|x| {
                                    if let RunResult::Echo(e) = x {
                                        Some(e)
                                    } else {
                                        None
                                    }
                                })
                                .collect::<Vec<_>>()
                        });
                        failed |= r.is_err();
                        (row(k), r)
                    })
                    .collect();
                print_echo_table(sc, kind, &rows, o);
            }
            Kind::Idle { .. } => {
                let rows: Vec<_> = (0..nv)
                    .map(|k| {
                        let r = std::mem::replace(&mut results[i][k], Ok(Vec::new()));
                        let r = r.map(|v| {
                            v.into_iter()
                                .filter_map(|x| {
                                    if let RunResult::Idle(d) = x {
                                        Some(d)
                                    } else {
                                        None
                                    }
                                })
                                .collect::<Vec<_>>()
                        });
                        failed |= r.is_err();
                        (row(k), r)
                    })
                    .collect();
                print_idle_table(sc, kind, &rows, o);
            }
        }
    }
    println!();
    if failed {
        println!("FAILED: see the rows marked FAILED (details above on stderr)");
    }
    failed
}
