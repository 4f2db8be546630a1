//! The doorbell, device-shaped: two managed clients
//! (`sansws::adapter::embassy`) to one server at once, on embassy-net,
//! every buffer fixed, no allocation per message.
//!
//! - The camera streams JPEG-sized frames (20-40 KB, 10 a second) as
//!   binary messages through a 1 KiB send slot: each frame goes out as
//!   fragments, as the camera's DMA hands them over.
//! - The audio client streams 512-byte chunks, 50 a second, from a ring
//!   buffer that the microphone fills at that rate whether or not the
//!   connection is up (oldest chunks dropped when it is full), and counts
//!   and checks the audio the server sends back to play.
//!
//! Both reconnect by themselves when the server restarts. Every frame and
//! chunk carries a sequence number and a checksum; the server checks what
//! it receives as it streams in, and the client checks what it plays.
//!
//! On the host it runs over an in-memory IP link
//! (`tests/support/embassy_link.rs`) to a second stack where a small test
//! server runs, restarted once halfway:
//!
//! `cargo run --release --features embassy --example doorbell [seconds]`
//!
//! On a device, each future joined in `doorbell` is a task
//! (`#[embassy_executor::task]`), the link's `Port` is the Wi-Fi driver and
//! the server is the cloud; `tests/doorbell.rs` runs it for 30 s.

#[path = "../tests/support/embassy_link.rs"]
mod link;
#[path = "../tests/support/embassy_tcp.rs"]
mod tcp;

use core::cell::{Cell, RefCell};

use embassy_futures::join::{join, join4};
use embassy_futures::select::{Either, Either3, select, select3};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Stack, StackResources};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::{Duration as EDuration, Instant as At, Timer, with_timeout};
use tcp::Tcp;

use sansws::adapter::embassy::{self, Client, Event, Settings};
use sansws::adapter::embedded_io::testing::block_on;
use sansws::adapter::embedded_io_async::{self as ws, Accepted, Decision, ServerOptions};
use sansws::conn::{Config, DataKind, Event as ConnEvent};
use sansws::handshake::{ClientRequest, HttpResponse};

const PORT: u16 = 80;
/// Frames a second, and audio chunks a second.
pub const FPS: u64 = 10;
pub const AUDIO_HZ: u64 = 50;
const CHUNK: usize = 512;
/// The send slot: a frame goes through it a fragment at a time.
const SLOT: usize = 1024;

/// FNV-1a.
fn fnv1a(h: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}
const FNV: u32 = 0x811c_9dc5;

/// Byte `i` of frame or chunk `seq`'s body.
fn body_byte(seq: u32, i: usize) -> u8 {
    (i as u32).wrapping_mul(seq | 1).wrapping_add(seq >> 3) as u8
}

/// Frame `seq`'s length: 20-40 KB.
fn frame_len(seq: u32) -> usize {
    20_000 + (seq.wrapping_mul(7919) % 20_000) as usize
}

/// A 12-byte header: sequence, body length, the body's hash.
fn header(seq: u32, len: usize, sum: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..4].copy_from_slice(&seq.to_le_bytes());
    h[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    h[8..].copy_from_slice(&sum.to_le_bytes());
    h
}

/// An audio chunk: the header and 500 bytes of body.
fn audio_chunk(seq: u32) -> [u8; CHUNK] {
    let mut c = [0u8; CHUNK];
    for (i, b) in c[12..].iter_mut().enumerate() {
        *b = body_byte(seq, i);
    }
    let sum = fnv1a(FNV, &c[12..]);
    c[..12].copy_from_slice(&header(seq, CHUNK - 12, sum));
    c
}

/// Checks a message streamed in chunks: its header, then its body's hash.
#[derive(Default)]
struct Check {
    head: [u8; 12],
    got: usize,
    sum: u32,
}

impl Check {
    fn start(&mut self) {
        self.got = 0;
        self.sum = FNV;
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        if self.got < 12 {
            let n = (12 - self.got).min(bytes.len());
            self.head[self.got..self.got + n].copy_from_slice(&bytes[..n]);
            self.got += n;
            bytes = &bytes[n..];
        }
        self.sum = fnv1a(self.sum, bytes);
        self.got += bytes.len();
    }

    /// At the message's end: its sequence number if it is intact.
    fn finish(&self) -> Option<u32> {
        let seq = u32::from_le_bytes(self.head[..4].try_into().unwrap());
        let len = u32::from_le_bytes(self.head[4..8].try_into().unwrap()) as usize;
        let sum = u32::from_le_bytes(self.head[8..].try_into().unwrap());
        (self.got >= 12 && self.got - 12 == len && sum == self.sum).then_some(seq)
    }
}

/// What a run counted.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub seconds: f64,
    /// Frames the server received intact, and damaged.
    pub frames_ok: u64,
    pub frames_bad: u64,
    /// Frames cut by the restart (the camera's send failed mid-frame).
    pub frames_cut: u64,
    /// Audio chunks the server received intact, and damaged.
    pub audio_up_ok: u64,
    pub audio_up_bad: u64,
    /// Chunks dropped from the full ring buffer while disconnected.
    pub audio_dropped: u64,
    /// Audio chunks the client received intact, and damaged.
    pub audio_down_ok: u64,
    pub audio_down_bad: u64,
    /// Connections made by the camera and the audio client.
    pub camera_connects: u64,
    pub audio_connects: u64,
    /// Time each client was disconnected after its first connection.
    pub camera_gap_ms: u64,
    pub audio_gap_ms: u64,
}

/// The client settings: keepalive 1 s / 2 s, retries from 100 ms.
fn settings(path: &'static str) -> Settings<'static> {
    let mut s = Settings::new(ClientRequest::new("10.0.0.1", path));
    s.config.ping_interval = Some(sansws::conn::Duration::from_millis(1000));
    s.config.pong_timeout = sansws::conn::Duration::from_millis(2000);
    s.delay = EDuration::from_millis(100);
    s.max_delay = EDuration::from_millis(400);
    s.network_timeout = EDuration::from_secs(2);
    s
}

/// Connected time bookkeeping for one client.
#[derive(Default)]
struct Uptime {
    connects: Cell<u64>,
    down_since: Cell<Option<At>>,
    gap_ms: Cell<u64>,
}

impl Uptime {
    fn on<E>(&self, e: &Event<'_, E>) {
        match e {
            Event::Connected => {
                self.connects.set(self.connects.get() + 1);
                if let Some(t) = self.down_since.take() {
                    self.gap_ms.set(self.gap_ms.get() + t.elapsed().as_millis());
                }
            }
            Event::Disconnected(_)
                if self.down_since.get().is_none() && self.connects.get() > 0 =>
            {
                self.down_since.set(Some(At::now()));
            }
            _ => {}
        }
    }
}

/// The server: two connections at a time (camera, audio) on port 80,
/// checking what they stream; at `restart` every connection is cut (a
/// reset) and nothing listens for `down`, then it serves again until
/// `end`.
async fn server<'d>(
    stack: Stack<'d>,
    stats: &RefCell<Stats>,
    restart: At,
    down: EDuration,
    end: At,
) {
    let serve_one = async |restart: Option<At>| {
        let (mut srx, mut stx) = ([0u8; 8192], [0u8; 8192]);
        let (mut wrx, mut wtx) = ([0u8; 2048], [0u8; 1024]);
        loop {
            let until = restart.unwrap_or(At::MAX);
            let mut s = TcpSocket::new(stack, &mut srx, &mut stx);
            s.set_nagle_enabled(false);
            match select(s.accept(PORT), Timer::at(until)).await {
                Either::First(Ok(())) => {}
                Either::First(Err(_)) => continue,
                Either::Second(()) => return,
            }
            let opts = ServerOptions {
                config: Config {
                    max_frame_len: 64 << 10,
                    max_message_len: 64 << 10,
                    ..Config::DEFAULT
                },
                ..ServerOptions::new(embassy::embassy_clock)
            };
            let mut is_audio = false;
            let accepted = ws::accept(
                s,
                &mut wrx,
                &mut wtx,
                opts,
                |r| {
                    is_audio = r.path() == "/audio";
                    Decision::Accept(None)
                },
                |_| HttpResponse::new(404),
            )
            .await;
            let Ok(Accepted::WebSocket(mut w)) = accepted else {
                continue;
            };
            let mut check = Check::default();
            let mut next_audio = At::now();
            let mut audio_seq = 0u32;
            loop {
                let wake = w
                    .poll_timeout()
                    .map_or(At::MAX, |t| At::from_millis(t.as_millis()));
                let tick = if is_audio { next_audio.min(wake) } else { wake };
                let input = w.read_event(|e| {
                    if let ConnEvent::Data(d) = e {
                        if d.is_message_start() {
                            check.start();
                        }
                        check.feed(d.payload);
                        if d.is_message_end() {
                            let mut st = stats.borrow_mut();
                            match (check.finish(), is_audio) {
                                (Some(_), false) => st.frames_ok += 1,
                                (None, false) => st.frames_bad += 1,
                                (Some(_), true) => st.audio_up_ok += 1,
                                (None, true) => st.audio_up_bad += 1,
                            }
                        }
                    }
                });
                match select3(input, Timer::at(tick), Timer::at(until)).await {
                    Either3::First(Ok(Some(()))) => {}
                    Either3::First(_) => break,
                    Either3::Second(()) => {
                        if is_audio && At::now() >= next_audio {
                            // The speaker stream: 50 chunks a second.
                            next_audio += EDuration::from_millis(1000 / AUDIO_HZ);
                            let chunk = audio_chunk(audio_seq);
                            audio_seq += 1;
                            if with_timeout(EDuration::from_millis(500), w.send_binary(&chunk))
                                .await
                                .map_or(true, |r| r.is_err())
                            {
                                break;
                            }
                        }
                        let _ = with_timeout(EDuration::from_millis(200), w.tick()).await;
                    }
                    Either3::Third(()) => {
                        // The restart: cut, as a power cycle would.
                        w.io().abort();
                        let _ = with_timeout(EDuration::from_millis(100), async {
                            let _ = embedded_io_async::Write::flush(w.io()).await;
                        })
                        .await;
                        return;
                    }
                }
            }
            if At::now() >= until {
                return;
            }
        }
    };
    // Up until the restart, down for `down`, then up for good.
    let first = restart.min(end);
    join(serve_one(Some(first)), serve_one(Some(first))).await;
    if restart < end {
        Timer::at(restart + down).await;
        join(serve_one(Some(end)), serve_one(Some(end))).await;
    }
}

/// The camera: a frame every 100 ms, sent as 1 KiB fragments.
async fn camera_producer(cam: &Client<NoopRawMutex, SLOT>, stats: &RefCell<Stats>, end: At) {
    let mut seq = 0u32;
    let mut next = At::now();
    let mut piece = [0u8; SLOT];
    while At::now() < end {
        Timer::at(next).await;
        next += EDuration::from_millis(1000 / FPS);
        if !cam.is_connected() {
            continue;
        }
        let len = frame_len(seq);
        let sum = (0..len).fold(FNV, |h, i| fnv1a(h, &[body_byte(seq, i)]));
        let total = 12 + len;
        let mut sent = 0;
        let mut cut = false;
        while sent < total {
            // The next fragment, as the camera's DMA would hand it over.
            let n = (total - sent).min(SLOT);
            for (k, b) in piece[..n].iter_mut().enumerate() {
                let at = sent + k;
                *b = if at < 12 {
                    header(seq, len, sum)[at]
                } else {
                    body_byte(seq, at - 12)
                };
            }
            let fin = sent + n == total;
            let r = cam
                .send_fragment(
                    DataKind::Binary,
                    &piece[..n],
                    fin,
                    EDuration::from_millis(500),
                )
                .await;
            if r.is_err() {
                cut = true;
                break;
            }
            sent += n;
        }
        if cut && sent > 0 {
            stats.borrow_mut().frames_cut += 1;
        }
        seq += 1;
    }
}

/// The microphone fills a ring of 8 chunks at 50 a second; the sender
/// takes the oldest whenever the connection is up.
async fn audio_producer(mic: &Client<NoopRawMutex, SLOT>, stats: &RefCell<Stats>, end: At) {
    let ring: RefCell<([u32; 8], usize, usize)> = RefCell::new(([0; 8], 0, 0)); // seqs, head, len
    let fill = async {
        let mut seq = 0u32;
        let mut next = At::now();
        while At::now() < end {
            Timer::at(next).await;
            next += EDuration::from_millis(1000 / AUDIO_HZ);
            let mut r = ring.borrow_mut();
            let (buf, head, len) = &mut *r;
            if *len == buf.len() {
                *head = (*head + 1) % buf.len();
                *len -= 1;
                stats.borrow_mut().audio_dropped += 1;
            }
            buf[(*head + *len) % 8] = seq;
            *len += 1;
            seq += 1;
        }
    };
    let drain = async {
        while At::now() < end {
            let oldest = {
                let r = ring.borrow();
                (r.2 > 0).then(|| r.0[r.1])
            };
            let Some(seq) = oldest.filter(|_| mic.is_connected()) else {
                Timer::after_millis(5).await;
                continue;
            };
            if mic
                .send_binary(&audio_chunk(seq), EDuration::from_millis(500))
                .await
                .is_ok()
            {
                let mut r = ring.borrow_mut();
                r.1 = (r.1 + 1) % 8;
                r.2 -= 1;
            } else {
                Timer::after_millis(5).await;
            }
        }
    };
    join(fill, drain).await;
}

/// Runs the doorbell for `seconds`, the server restarted at `restart_at`
/// seconds (none if `None`) and down for 1 s.
pub fn doorbell(seconds: u64, restart_at: Option<u64>) -> Stats {
    let (pa, pb, _link) = link::pair();
    let (mut ra, mut rb) = (StackResources::<6>::new(), StackResources::<6>::new());
    let (server_stack, mut run_a) = embassy_net::new(pa, link::ipv4(1), &mut ra, 0xd00b_e110);
    let (device, mut run_b) = embassy_net::new(pb, link::ipv4(2), &mut rb, 0xd00b_e111);
    let stats = RefCell::new(Stats::default());
    let cam: Client<NoopRawMutex, SLOT> = Client::new();
    let mic: Client<NoopRawMutex, SLOT> = Client::new();
    let (cam_up, mic_up) = (Uptime::default(), Uptime::default());
    block_on(async {
        join(server_stack.wait_config_up(), device.wait_config_up()).await;
        let start = At::now();
        let end = start + EDuration::from_secs(seconds);
        let restart = restart_at.map_or(At::MAX, |s| start + EDuration::from_secs(s));
        let (cam_settings, mic_settings) = (settings("/camera"), settings("/audio"));
        let mut cam_tcp = Tcp::<4096>::new(device);
        let mut mic_tcp = Tcp::<4096>::new(device);
        let (mut cam_rx, mut cam_tx) = ([0u8; 512], [0u8; 1100]);
        let (mut mic_rx, mut mic_tx) = ([0u8; 1024], [0u8; 600]);
        let mut rng_state = 0x1234_5678u32;
        let rng = move |b: &mut [u8]| {
            for x in b {
                rng_state ^= rng_state << 13;
                rng_state ^= rng_state >> 17;
                rng_state ^= rng_state << 5;
                *x = rng_state as u8;
            }
        };
        let keys = || || [0x11, 0x22, 0x33, 0x44];
        let camera = embassy::run(
            &cam,
            &mut cam_tcp,
            &cam_settings,
            rng,
            keys,
            &mut cam_rx,
            &mut cam_tx,
            |e| cam_up.on(&e),
        );
        let mut check = Check::default();
        let audio = embassy::run(
            &mic,
            &mut mic_tcp,
            &mic_settings,
            rng,
            keys,
            &mut mic_rx,
            &mut mic_tx,
            |e| {
                mic_up.on(&e);
                match e {
                    Event::Data(d) => {
                        if d.is_message_start() {
                            check.start();
                        }
                        check.feed(d.payload);
                        if d.is_message_end() {
                            let mut st = stats.borrow_mut();
                            match check.finish() {
                                Some(_) => st.audio_down_ok += 1,
                                None => st.audio_down_bad += 1,
                            }
                        }
                    }
                    // A chunk cut by a disconnect is dropped unplayed.
                    Event::Disconnected(_) => check.start(),
                    _ => {}
                }
            },
        );
        let clients = join(camera, audio);
        let producers = join(
            camera_producer(&cam, &stats, end),
            audio_producer(&mic, &stats, end),
        );
        let stop = async {
            Timer::at(end).await;
            cam.stop();
            mic.stop();
        };
        let work = join4(
            clients,
            producers,
            stop,
            server(server_stack, &stats, restart, EDuration::from_secs(1), end),
        );
        match select3(
            run_a.run(),
            run_b.run(),
            select(work, Timer::at(end + EDuration::from_secs(5))),
        )
        .await
        {
            Either3::Third(_) => {}
            _ => unreachable!("a stack's runner returned"),
        }
        let mut st = stats.borrow_mut();
        st.seconds = (At::now() - start).as_millis() as f64 / 1000.0;
    });
    let mut st = stats.into_inner();
    st.camera_connects = cam_up.connects.get();
    st.audio_connects = mic_up.connects.get();
    st.camera_gap_ms = cam_up.gap_ms.get();
    st.audio_gap_ms = mic_up.gap_ms.get();
    st
}

#[allow(dead_code)]
fn main() {
    let seconds = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let st = doorbell(seconds, Some(seconds / 2));
    println!("{st:#?}");
}
