//! The doorbell camera, on a host: a page at `/` that shows the live
//! picture, and a WebSocket at `/ws` that sends every viewer a binary
//! message per frame, each one JPEG image, 10 a second.
//!
//! `cargo run --release --example camera -- [127.0.0.1:8081]`, then open
//! <http://127.0.0.1:8081/>. (`127.0.0.1:0` picks a free port; the first
//! line printed says which.)
//!
//! The "camera" is a set of distinct frames encoded once at start (a ball
//! going round in front of a door, a frame counter, and sensor noise, so
//! that each is ~33 KB like a real VGA camera's JPEG), sent in a loop:
//! serving costs little CPU, as on a device whose camera hands out encoded
//! frames.
//!
//! # Slow viewers
//!
//! One camera task broadcasts each frame to every viewer and never waits
//! for one: it offers the frame (a clone of the same `Bytes`, no copy) to
//! each viewer with [`Sender::try_send`], which queues it for that
//! connection's writer thread without blocking. A viewer whose queue
//! ([`SEND_QUEUE`]) cannot take it skips that frame and gets a later one:
//! the latest frame wins, nothing queues without bound, and the kernel's
//! send buffer is kept to a few frames ([`SEND_BUFFER`]) so a viewer that
//! is behind sees a late picture, not a backlog. A viewer that stops
//! reading is dropped by its connection: the keepalive ping (every 10 s)
//! goes unanswered for 10 s, or a write makes no progress for
//! [`WRITE_TIMEOUT`]; so it is gone within ~20 s, and the others keep the
//! full rate meanwhile. A viewer that resets or fails is removed at once.
//! At most [`MAX_VIEWERS`] watch at once (a device has 4 sockets); one
//! more is answered with HTTP 503 and never touches the others.
//!
//! Handshakes run on each connection's own thread with the handshake
//! timeout, and accept errors back off, as in `echo_server`.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sansws::adapter::std_net::{self, Accepted, Decision, Options, Sender};
use sansws::handshake::HttpResponse;
use sansws::message::Message;

/// Viewers at once (the device has 4 sockets).
const MAX_VIEWERS: usize = 4;
/// Frames a second.
const FPS: u32 = 10;
/// A write to a viewer that makes no progress this long ends that viewer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A viewer's outgoing queue: the frame being written and one or two more
/// (frames are ~33 KB). A frame that does not fit is skipped.
const SEND_QUEUE: usize = 96 << 10;
/// The kernel's send buffer per viewer (Linux doubles it): a few frames,
/// as on a device. Left alone, Linux grows it to 4 MB on loopback, ~12 s
/// of video, which a viewer that falls behind would see as seconds of lag
/// before a frame is ever skipped.
const SEND_BUFFER: usize = 64 << 10;
/// Distinct frames encoded at start (3 s of video, then it loops).
const FRAMES: usize = 30;
const WIDTH: usize = 640;
const HEIGHT: usize = 480;
const QUALITY: u8 = 50;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>sansws doorbell camera</title>
<style>
body { font: 16px system-ui, sans-serif; margin: 2em; background: #181818; color: #eee; }
#view { display: block; width: 640px; height: 480px; background: #000; border: 1px solid #444; }
#info { margin-top: .5em; }
</style></head><body>
<h1>Doorbell camera</h1>
<img id="view" alt="camera picture" width="640" height="480">
<p id="info"><span id="status">connecting...</span> &middot; frames <span id="frames">0</span>
&middot; <span id="fps">0.0</span> fps</p>
<script>
const view = document.getElementById('view');
const status = document.getElementById('status');
const framesEl = document.getElementById('frames');
const fpsEl = document.getElementById('fps');
let frames = 0, busy = false, pending = null;
const arrivals = [];
// Latest frame wins: while one picture decodes, only the newest one waits.
function show(blob) {
  if (busy) { pending = blob; return; }
  busy = true;
  const url = URL.createObjectURL(blob);
  view.onload = view.onerror = () => {
    URL.revokeObjectURL(url);
    busy = false;
    if (pending) { const next = pending; pending = null; show(next); }
  };
  view.src = url;
}
function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.binaryType = 'blob';
  ws.onopen = () => { status.textContent = 'live'; };
  ws.onclose = () => { status.textContent = 'disconnected, retrying'; setTimeout(connect, 1000); };
  ws.onmessage = (e) => {
    frames += 1;
    framesEl.textContent = frames;
    const now = performance.now();
    arrivals.push(now);
    while (arrivals[0] < now - 1000) arrivals.shift();
    fpsEl.textContent = arrivals.length.toFixed(1);
    show(new Blob([e.data], { type: 'image/jpeg' }));
  };
}
connect();
</script></body></html>
"#;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let started = Instant::now();
    let frames: Vec<Bytes> = (0..FRAMES).map(|i| encode(&render(i, FRAMES))).collect();
    let (min, max) = frames.iter().fold((usize::MAX, 0), |(lo, hi), f| {
        (lo.min(f.len()), hi.max(f.len()))
    });
    let listener = TcpListener::bind(&addr)?;
    let addr = listener.local_addr()?;
    println!("camera on http://{addr}/ (WebSocket at /ws)");
    println!(
        "{FRAMES} frames of {WIDTH}x{HEIGHT}, {min}..{max} bytes, encoded in {} ms; {FPS} a second to at most {MAX_VIEWERS} viewers",
        started.elapsed().as_millis()
    );
    let viewers = Arc::new(Viewers::default());
    {
        let viewers = viewers.clone();
        std::thread::spawn(move || camera(&frames, &viewers));
    }
    let mut last_error_log: Option<Instant> = None;
    for stream in listener.incoming() {
        match stream {
            // The handshake runs on the connection's own thread, so a slow
            // or silent client never holds up the accept loop.
            Ok(s) => {
                let viewers = viewers.clone();
                // Out of threads: this client is dropped, the server goes on.
                if std::thread::Builder::new()
                    .spawn(move || serve(s, &viewers))
                    .is_err()
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            // Out of file descriptors (and the like): back off instead of
            // spinning, and log at most once a second.
            Err(e) => {
                if last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    eprintln!("accept: {e} (backing off)");
                    last_error_log = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Ok(())
}

/// The camera task: one frame every 1/FPS s to every viewer, on a steady
/// clock (a late tick is not made up with a burst).
fn camera(frames: &[Bytes], viewers: &Viewers) {
    let interval = Duration::from_secs(1) / FPS;
    let mut next = Instant::now();
    for tick in 0usize.. {
        let frame = Message::binary(frames[tick % frames.len()].clone());
        viewers.broadcast(&frame);
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > interval {
            next = now;
        }
    }
}

/// Offers `frame` to one viewer without waiting for its socket: `Ok(true)`
/// queued, `Ok(false)` skipped (its queue is full: it is behind, and takes
/// a later frame instead), `Err` its connection is broken.
fn offer(sender: &Sender, frame: &Message) -> Result<bool, std_net::Error> {
    match sender.try_send(frame) {
        Ok(()) => Ok(true),
        Err(std_net::Error::QueueFull { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One connected viewer.
struct Viewer {
    id: u64,
    peer: SocketAddr,
    sender: Sender,
    /// The same socket, to end the connection from the camera task.
    socket: TcpStream,
    since: Instant,
    sent: AtomicU64,
    skipped: AtomicU64,
}

/// Every viewer, and the slots that cap them.
#[derive(Default)]
struct Viewers {
    list: Mutex<Vec<Arc<Viewer>>>,
    /// Viewers admitted, counted from the handshake on.
    slots: AtomicUsize,
    next_id: AtomicU64,
}

/// One of the [`MAX_VIEWERS`] places, given back when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Viewers {
    fn list(&self) -> MutexGuard<'_, Vec<Arc<Viewer>>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reserve(&self) -> Option<Slot<'_>> {
        self.slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_VIEWERS).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(&self.slots))
    }

    fn add(&self, viewer: Arc<Viewer>) -> usize {
        let mut list = self.list();
        list.push(viewer);
        list.len()
    }

    fn remove(&self, id: u64) -> usize {
        let mut list = self.list();
        list.retain(|v| v.id != id);
        list.len()
    }

    /// Offers `frame` to every viewer. The list's lock is held only to
    /// copy it, never across a send; a viewer whose connection broke is
    /// ended and removed.
    fn broadcast(&self, frame: &Message) {
        let viewers: Vec<Arc<Viewer>> = self.list().clone();
        for v in viewers {
            match offer(&v.sender, frame) {
                Ok(true) => {
                    v.sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {
                    v.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    println!("viewer {} {}: send failed: {e}", v.id, v.peer);
                    // Its reader sees the end and reports it.
                    let _ = v.socket.shutdown(Shutdown::Both);
                    self.remove(v.id);
                }
            }
        }
    }
}

fn options() -> Options {
    Options {
        write_timeout: Some(WRITE_TIMEOUT),
        send_queue: SEND_QUEUE,
        ..Options::default()
    }
}

fn serve(stream: TcpStream, viewers: &Viewers) {
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
    let Ok(socket) = stream.try_clone() else {
        return;
    };
    let mut slot = None;
    let accepted = std_net::accept_with(stream, &options(), |req| {
        if req.path() != "/ws" {
            return Decision::reject(404, "the camera's WebSocket is at /ws");
        }
        match viewers.reserve() {
            Some(s) => {
                slot = Some(s);
                Decision::accept()
            }
            None => Decision::reject(503, "the camera has 4 viewers; try again later"),
        }
    });
    let ws = match accepted {
        Ok(Accepted::WebSocket(ws)) => ws,
        Ok(Accepted::Http(req, mut stream)) => {
            let res = if req.method == "GET" && req.path() == "/" {
                HttpResponse::new(200)
                    .body("text/html; charset=utf-8", PAGE.as_bytes())
                    .headers(&[("Cache-Control", "no-store")])
            } else {
                HttpResponse::new(404).text("not found")
            };
            if let Ok(bytes) = res.to_vec() {
                let _ = stream.write_all(&bytes);
            }
            return;
        }
        Ok(Accepted::Rejected(status)) => {
            println!("{peer}: refused with {status}");
            return;
        }
        Err(e) => {
            println!("{peer}: handshake failed: {e}");
            return;
        }
    };
    let Ok((mut reader, sender)) = ws.split() else {
        return;
    };
    let viewer = Arc::new(Viewer {
        id: viewers.next_id.fetch_add(1, Ordering::Relaxed) + 1,
        peer,
        sender,
        socket,
        since: Instant::now(),
        sent: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
    });
    let n = viewers.add(viewer.clone());
    println!("viewer {} {peer} connected ({n} watching)", viewer.id);
    // Viewers send nothing we need; reading answers pings, sees pongs and
    // the close, and runs the keepalive.
    let why = loop {
        match reader.read() {
            Ok(Some(_)) => {}
            Ok(None) => break format!("{:?}", reader.end()),
            Err(e) => break e.to_string(),
        }
    };
    let _ = viewer.socket.shutdown(Shutdown::Both);
    let n = viewers.remove(viewer.id);
    drop(slot);
    println!(
        "viewer {} {peer} gone after {:.1} s ({} frames sent, {} skipped): {why} ({n} watching)",
        viewer.id,
        viewer.since.elapsed().as_secs_f64(),
        viewer.sent.load(Ordering::Relaxed),
        viewer.skipped.load(Ordering::Relaxed),
    );
}

fn encode(rgb: &[u8]) -> Bytes {
    let mut jpeg = Vec::with_capacity(64 << 10);
    jpeg_encoder::Encoder::new(&mut jpeg, QUALITY)
        .encode(
            rgb,
            WIDTH as u16,
            HEIGHT as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("a frame of the right size encodes");
    Bytes::from(jpeg)
}

/// Frame `index` of `count` (RGB): a brick wall with a door, a doormat
/// with stripes that move, a ball that goes round (the loop is seamless),
/// the frame number, and sensor noise.
fn render(index: usize, count: usize) -> Vec<u8> {
    let mut rgb = vec![0u8; WIDTH * HEIGHT * 3];
    let phase = index as f32 / count as f32;
    let angle = phase * std::f32::consts::TAU;
    let (bx, by, r) = (
        WIDTH as f32 / 2.0 + 210.0 * angle.cos(),
        300.0 + 90.0 * angle.sin(),
        34.0,
    );
    let mut noise = 0x9E37_79B9u32 ^ (index as u32).wrapping_mul(0x85EB_CA6B);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (xf, yf) = (x as f32, y as f32);
            let mut c = if y < 90 {
                // Sky.
                [90 + (y / 3) as u8, 140 + (y / 3) as u8, 220]
            } else if y >= 400 {
                // Doormat, its stripes moving with the frame.
                if ((x + y + index * 8) / 20).is_multiple_of(2) {
                    [150, 110, 60]
                } else {
                    [90, 60, 30]
                }
            } else if (250..390).contains(&x) && y >= 150 {
                // The door: wood grain.
                let g = (18.0 * (xf / 7.0).sin() + 8.0 * (yf / 31.0 + xf / 13.0).sin()) as i32;
                [(120 + g) as u8, (70 + g / 2) as u8, 40]
            } else {
                // Bricks, every other row offset by half a brick.
                let row = (y - 90) / 24;
                let col = (x + if row % 2 == 1 { 24 } else { 0 }) / 48;
                let mortar = (y - 90) % 24 < 3 || (x + if row % 2 == 1 { 24 } else { 0 }) % 48 < 3;
                if mortar {
                    [180, 180, 170]
                } else {
                    let shade = ((row * 7 + col * 13) % 5) as u8 * 9;
                    [150 + shade, 60 + shade / 2, 45]
                }
            };
            let (dx, dy) = (xf - bx, yf - by);
            let d2 = dx * dx + dy * dy;
            if d2 < r * r {
                let light = 1.0 - ((dx + 12.0).powi(2) + (dy + 12.0).powi(2)).sqrt() / (2.0 * r);
                c = [
                    (255.0 * light.clamp(0.3, 1.0)) as u8,
                    (215.0 * light.clamp(0.3, 1.0)) as u8,
                    40,
                ];
            }
            // Sensor noise (xorshift32): what keeps a real frame large.
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let n = (noise % 7) as i16 - 3;
            let at = (y * WIDTH + x) * 3;
            for (k, v) in c.iter().enumerate() {
                rgb[at + k] = (*v as i16 + n).clamp(0, 255) as u8;
            }
        }
    }
    // The overlay: a dark band with the camera's name and the frame.
    for y in 0..36 {
        for x in 0..WIDTH {
            let at = (y * WIDTH + x) * 3;
            for v in &mut rgb[at..at + 3] {
                *v /= 4;
            }
        }
    }
    let label = format!("SANSWS DOORBELL  FRAME {:02}/{count}", index + 1);
    text(&mut rgb, 10, 8, 3, &label);
    rgb
}

/// Draws `s` in white at (x, y), a 5x7 font scaled by `scale`.
fn text(rgb: &mut [u8], x: usize, y: usize, scale: usize, s: &str) {
    for (i, ch) in s.chars().enumerate() {
        let glyph = glyph(ch);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..5 {
                if bits >> (4 - col) & 1 == 0 {
                    continue;
                }
                for sy in 0..scale {
                    for sx in 0..scale {
                        let px = x + (i * 6 + col) * scale + sx;
                        let py = y + row * scale + sy;
                        if px < WIDTH && py < HEIGHT {
                            let at = (py * WIDTH + px) * 3;
                            rgb[at..at + 3].copy_from_slice(&[255, 255, 255]);
                        }
                    }
                }
            }
        }
    }
}

/// The 5x7 glyphs the overlay needs (rows top down, 5 bits each).
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        '/' => [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10],
        _ => [0; 7],
    }
}
