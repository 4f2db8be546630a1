//! One echo's user-space cost, without the kernel and without noise:
//! sansws's tokio adapter, fastwebsockets and tokio-websockets serving
//! echoes over an in-memory stream, in a current-thread tokio runtime.
//!
//! The stream hands out one masked client frame per read with a pause
//! between (a read that is not ready and wakes the task at once), as a
//! request-response peer does, and takes every write whole. Every echo
//! is checked (its length, from the bytes written).
//!
//! ```sh
//! cargo run --release --bin mock-echo                 # ns per echo, 20 B and 16 KiB
//! valgrind --tool=callgrind target/release/mock-echo --one sansws 4000 20
//! ```
//!
//! `--one LIB N LEN` runs N echoes of LEN bytes through one library
//! (`sansws`, `fastwebsockets`, `tokio-websockets`) and nothing else:
//! under callgrind, (instructions at N = 4000) − (at N = 2000) over 2000
//! is the cost of one echo, startup left out. Without `--one`, each
//! library runs 200,000 echoes at 20 B and 20,000 at 16 KiB, 5 times
//! interleaved, and the medians are printed next to a `memcpy` of the
//! same bytes (the reference: an echo reads and writes each byte once).

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One client frame per read, a pause (not ready, woken at once) between.
struct Mock {
    frame: Vec<u8>,
    left: usize,
    ready: bool,
    pos: usize,
    written: usize,
}

impl Mock {
    fn new(len: usize, n: usize) -> Self {
        let mut frame = vec![0x82u8];
        match len {
            0..=125 => frame.push(0x80 | len as u8),
            126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => panic!("at most 64 KiB"),
        }
        let key = [0x37u8, 0xfa, 0x21, 0x3d];
        frame.extend_from_slice(&key);
        frame.extend((0..len).map(|i| (i as u8) ^ key[i % 4]));
        Self {
            frame,
            left: n,
            ready: false,
            pos: 0,
            written: 0,
        }
    }
}

impl AsyncRead for Mock {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Ok(()));
        }
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let (pos, k) = (self.pos, buf.remaining().min(self.frame.len() - self.pos));
        buf.put_slice(&self.frame[pos..pos + k]);
        self.pos += k;
        if self.pos == self.frame.len() {
            self.pos = 0;
            self.ready = false;
            self.left -= 1;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Mock {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        self.written += b.len();
        Poll::Ready(Ok(b.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        self.written += n;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

const LIBS: [&str; 3] = ["sansws", "fastwebsockets", "tokio-websockets"];

/// `n` echoes of `len` bytes through `lib`; the bytes it wrote.
async fn serve(lib: &str, n: usize, len: usize) -> usize {
    let mock = Mock::new(len, n);
    let mut count = 0;
    let written = match lib {
        "sansws" => {
            use sansws::adapter::tokio::{Options, WebSocket};
            let keys = Box::new(sansws::conn::OsKeys::new().expect("OS random"));
            let mut ws = WebSocket::from_raw(mock, sansws::conn::Role::Server, &Options::default(), &[], keys);
            while count < n {
                let m = ws.read().await.expect("read").expect("a message");
                ws.send(&m).await.expect("send");
                count += 1;
            }
            ws.get_ref().written
        }
        "fastwebsockets" => {
            use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
            let mut ws = FragmentCollector::new(WebSocket::after_handshake(mock, Role::Server));
            while count < n {
                let f = ws.read_frame().await.expect("read");
                assert!(matches!(f.opcode, OpCode::Binary));
                ws.write_frame(f).await.expect("send");
                count += 1;
            }
            ws.into_inner().written
        }
        "tokio-websockets" => {
            use futures_util::{SinkExt, StreamExt};
            let mut ws = tokio_websockets::ServerBuilder::new().serve(mock);
            while count < n {
                let m = ws.next().await.expect("a message").expect("read");
                ws.send(m).await.expect("send");
                count += 1;
            }
            ws.into_inner().written
        }
        _ => panic!("unknown library {lib}: one of {LIBS:?}"),
    };
    let header = if len < 126 { 2 } else { 4 };
    assert_eq!(written, n * (header + len), "{lib}: every echo whole");
    written
}

fn run(lib: &str, n: usize, len: usize) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let start = Instant::now();
    black_box(rt.block_on(serve(lib, n, len)));
    start.elapsed().as_nanos() as f64 / n as f64
}

/// ns to copy `len` bytes once (the reference), over `n` copies.
fn memcpy(n: usize, len: usize) -> f64 {
    let src = vec![7u8; len];
    let mut dst = vec![0u8; len];
    let start = Instant::now();
    for _ in 0..n {
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let [_, lib, n, len] = &args[..] else {
            panic!("usage: mock-echo --one LIB N LEN");
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(serve(lib, n.parse().expect("N"), len.parse().expect("LEN")));
        return;
    }
    println!("| echo | library | ns per echo (median of 5) | vs best | vs memcpy of the payload |");
    println!("|---|---|---|---|---|");
    for (len, n) in [(20, 200_000), (16384, 20_000)] {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); LIBS.len()];
        let mut refs = Vec::new();
        for _ in 0..5 {
            for (i, lib) in LIBS.iter().enumerate() {
                times[i].push(run(lib, n, len));
            }
            refs.push(memcpy(n, len));
        }
        let meds: Vec<f64> = times.into_iter().map(median).collect();
        let best = meds.iter().copied().fold(f64::INFINITY, f64::min);
        let r = median(refs);
        for (lib, m) in LIBS.iter().zip(&meds) {
            println!("| {len} B | {lib} | {m:.0} | {:.2}x | {:.1}x |", m / best, m / r);
        }
        println!("| {len} B | memcpy | {r:.1} | | 1.0x |");
    }
}
