//! The load generator's side of a connection: a minimal WebSocket client
//! over a tokio `TcpStream`, written for this benchmark so that every
//! server is driven by the same (cheap) code. It makes the opening
//! handshake (checking `Sec-WebSocket-Accept`), sends masked binary
//! messages whose payload names the connection and a sequence number,
//! checks every echo byte for byte and in order, answers pings, and makes
//! the closing handshake. Every read and write has a deadline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// No read or write waits longer than this: a server that stops answering
/// fails the run instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes at the start of every payload: the connection id (u32 LE) and the
/// message's sequence number on that connection (u64 LE).
const HEAD: usize = 12;

/// The filler after the head is the connection's pattern read from offset
/// `seq % SHIFT`, so that consecutive messages differ in every byte.
const SHIFT: u64 = 251;

pub type Res<T> = Result<T, String>;

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

pub struct Conn {
    pub id: u32,
    stream: TcpStream,
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    wbuf: Vec<u8>,
    rng: u64,
    /// Message length and the connection's filler pattern.
    len: usize,
    pattern: Vec<u8>,
    /// The head (id, sequence number) the next echo must carry.
    msg: [u8; HEAD],
    /// A fragmented echo being put together (no server here fragments, but
    /// one may).
    frag: Vec<u8>,
    next_send: u64,
    next_recv: u64,
}

/// Where a received message's payload is.
enum At {
    Buf(Range<usize>),
    Frag,
}

/// What one connection measured: echoes completed inside the window and
/// their round-trip times in nanoseconds.
#[derive(Default)]
pub struct ConnResult {
    pub msgs: u64,
    pub lat_ns: Vec<u64>,
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// Masks `data` in place with `key` (RFC 6455 5.3), 8 bytes at a time.
fn mask(data: &mut [u8], key: [u8; 4]) {
    let k8 = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().unwrap()) ^ k8;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// Appends one whole, masked client frame to `wbuf`.
fn push_frame(wbuf: &mut Vec<u8>, rng: &mut u64, op: u8, payload: &[u8]) {
    let key = push_header(wbuf, rng, op, payload.len());
    let at = wbuf.len();
    wbuf.extend_from_slice(payload);
    mask(&mut wbuf[at..], key);
}

/// Appends a client frame header (FIN, `op`, masked, `n` bytes) to `wbuf`
/// and returns its mask key: the caller appends the payload and masks it.
fn push_header(wbuf: &mut Vec<u8>, rng: &mut u64, op: u8, n: usize) -> [u8; 4] {
    wbuf.push(0x80 | op);
    if n < 126 {
        wbuf.push(0x80 | n as u8);
    } else if n <= 0xffff {
        wbuf.push(0x80 | 126);
        wbuf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        wbuf.push(0x80 | 127);
        wbuf.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let key = (xorshift(rng) as u32).to_ne_bytes();
    wbuf.extend_from_slice(&key);
    key
}

/// A server frame's first byte, header length and payload length, once
/// the header is all there.
fn parse_header(b: &[u8]) -> Res<Option<(u8, usize, usize)>> {
    if b.len() < 2 {
        return Ok(None);
    }
    if b[0] & 0x70 != 0 {
        return Err(format!(
            "server frame with RSV bits set (first byte {:#04x})",
            b[0]
        ));
    }
    if b[1] & 0x80 != 0 {
        return Err("server frame is masked".into());
    }
    Ok(match b[1] & 0x7f {
        126 if b.len() >= 4 => Some((b[0], 4, u16::from_be_bytes([b[2], b[3]]) as usize)),
        127 if b.len() >= 10 => {
            let n = u64::from_be_bytes(b[2..10].try_into().unwrap());
            if n > 1 << 30 {
                return Err(format!("server frame of {n} bytes"));
            }
            Some((b[0], 10, n as usize))
        }
        126 | 127 => None,
        n => Some((b[0], 2, n as usize)),
    })
}

async fn with_deadline<T>(what: &str, f: impl Future<Output = std::io::Result<T>>) -> Res<T> {
    match timeout(IO_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: nothing for {} s", IO_TIMEOUT.as_secs())),
    }
}

impl Conn {
    /// Connects and makes the opening handshake. Messages will be `len`
    /// bytes (at least [`HEAD`]).
    pub async fn connect(addr: SocketAddr, id: u32, len: usize) -> Res<Conn> {
        assert!(len >= HEAD);
        let stream = with_deadline("connect", TcpStream::connect(addr)).await?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("set_nodelay: {e}"))?;
        let mut rng =
            0x9e37_79b9_7f4a_7c15u64 ^ (u64::from(id) + 1).wrapping_mul(0xff51_afd7_ed55_8ccd);
        xorshift(&mut rng);
        let pattern = (0..len + SHIFT as usize)
            .map(|_| xorshift(&mut rng) as u8)
            .collect();
        let mut c = Conn {
            id,
            stream,
            rbuf: vec![0; (64 << 10).max(2 * len + 64)],
            rpos: 0,
            rend: 0,
            wbuf: Vec::with_capacity(64 << 10),
            rng,
            len,
            pattern,
            msg: [0; HEAD],
            frag: Vec::new(),
            next_send: 0,
            next_recv: 0,
        };
        c.handshake(addr)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        Ok(c)
    }

    async fn handshake(&mut self, addr: SocketAddr) -> Res<()> {
        let key = tungstenite::handshake::client::generate_key();
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        with_deadline("write request", self.stream.write_all(req.as_bytes())).await?;
        let end = loop {
            if let Some(i) = self.rbuf[..self.rend]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break i + 4;
            }
            if self.rend >= 16 << 10 {
                return Err("response header over 16 KiB".into());
            }
            let n = with_deadline(
                "read response",
                self.stream.read(&mut self.rbuf[self.rend..]),
            )
            .await?;
            if n == 0 {
                return Err(format!(
                    "connection closed before the response ended: {:?}",
                    String::from_utf8_lossy(&self.rbuf[..self.rend])
                ));
            }
            self.rend += n;
        };
        let head = String::from_utf8_lossy(&self.rbuf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or("");
        if !status.starts_with("HTTP/1.1 101") {
            return Err(format!("answered {status:?}, not 101"));
        }
        let want = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let accept = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("sec-websocket-accept"))
            .map(|(_, v)| v.trim());
        if accept != Some(want.as_str()) {
            return Err(format!(
                "Sec-WebSocket-Accept {accept:?}, expected {want:?}"
            ));
        }
        self.rpos = end;
        Ok(())
    }

    /// Queues the next message (sent at the next [`Conn::flush`]): the
    /// connection id, the sequence number, then the pattern from offset
    /// `seq % SHIFT`, written and masked in place.
    pub fn queue_next(&mut self) {
        let seq = self.next_send;
        self.next_send += 1;
        let key = push_header(&mut self.wbuf, &mut self.rng, OP_BINARY, self.len);
        let at = self.wbuf.len();
        self.wbuf.extend_from_slice(&self.id.to_le_bytes());
        self.wbuf.extend_from_slice(&seq.to_le_bytes());
        let off = (seq % SHIFT) as usize;
        self.wbuf
            .extend_from_slice(&self.pattern[off..off + self.len - HEAD]);
        mask(&mut self.wbuf[at..], key);
    }

    pub async fn flush(&mut self) -> Res<()> {
        if !self.wbuf.is_empty() {
            with_deadline("write", self.stream.write_all(&self.wbuf)).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Whether a whole frame is already buffered (so reading it won't wait).
    fn frame_ready(&self) -> bool {
        matches!(parse_header(&self.rbuf[self.rpos..self.rend]),
            Ok(Some((_, h, p))) if self.rend - self.rpos >= h + p)
    }

    /// The next frame: its first byte and where its payload is in `rbuf`
    /// (valid until the next call).
    async fn next_frame(&mut self) -> Res<(u8, Range<usize>)> {
        loop {
            let mut need = 14;
            if let Some((b0, h, p)) = parse_header(&self.rbuf[self.rpos..self.rend])? {
                if self.rend - self.rpos >= h + p {
                    let start = self.rpos + h;
                    self.rpos = start + p;
                    return Ok((b0, start..start + p));
                }
                need = h + p;
            }
            if self.rpos == self.rend {
                self.rpos = 0;
                self.rend = 0;
            }
            if self.rpos + need > self.rbuf.len() || self.rbuf.len() - self.rend < 4096 {
                self.rbuf.copy_within(self.rpos..self.rend, 0);
                self.rend -= self.rpos;
                self.rpos = 0;
                if need > self.rbuf.len() {
                    self.rbuf.resize(need, 0);
                }
            }
            // Never wait for a read with bytes unsent: `run` holds its next
            // request back while a frame is buffered, and that frame may be
            // a ping, not the echo it waits for.
            self.flush().await?;
            let n = with_deadline("read", self.stream.read(&mut self.rbuf[self.rend..])).await?;
            if n == 0 {
                return Err("server closed the TCP connection".into());
            }
            self.rend += n;
        }
    }

    /// The next data message (answering pings on the way, failing on a
    /// close).
    async fn next_message(&mut self) -> Res<At> {
        let mut open: Option<u8> = None;
        loop {
            let (b0, r) = self.next_frame().await?;
            let fin = b0 & 0x80 != 0;
            match b0 & 0x0f {
                op @ (OP_TEXT | OP_BINARY) => {
                    if open.is_some() {
                        return Err("new message inside a fragmented one".into());
                    }
                    if op != OP_BINARY {
                        return Err("binary message echoed as text".into());
                    }
                    if fin {
                        return Ok(At::Buf(r));
                    }
                    self.frag.clear();
                    self.frag.extend_from_slice(&self.rbuf[r]);
                    open = Some(op);
                }
                OP_CONT => {
                    if open.is_none() {
                        return Err("continuation frame with no message open".into());
                    }
                    self.frag.extend_from_slice(&self.rbuf[r]);
                    if fin {
                        return Ok(At::Frag);
                    }
                }
                OP_PING => {
                    let payload = self.rbuf[r].to_vec();
                    push_frame(&mut self.wbuf, &mut self.rng, OP_PONG, &payload);
                }
                OP_PONG => {}
                OP_CLOSE => {
                    let p = &self.rbuf[r];
                    let code = (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
                    return Err(format!(
                        "server closed the connection: code {code:?}, reason {:?}",
                        String::from_utf8_lossy(p.get(2..).unwrap_or(&[]))
                    ));
                }
                op => return Err(format!("frame with opcode {op:#x}")),
            }
        }
    }

    /// Checks that the echo at `at` is message `next_recv`, byte for byte.
    fn check(&mut self, at: At) -> Res<()> {
        let seq = self.next_recv;
        // The head as sent; the filler is compared with the pattern itself.
        self.msg[..4].copy_from_slice(&self.id.to_le_bytes());
        self.msg[4..HEAD].copy_from_slice(&seq.to_le_bytes());
        let off = (seq % SHIFT) as usize;
        let filler = &self.pattern[off..off + self.len - HEAD];
        let got = match at {
            At::Buf(r) => &self.rbuf[r],
            At::Frag => &self.frag[..],
        };
        let id = self.id;
        if got.len() != self.len {
            return Err(format!(
                "conn {id}: echo of message {seq} is {} bytes, sent {}",
                got.len(),
                self.len
            ));
        }
        if got[..4] != self.msg[..4] {
            return Err(format!(
                "conn {id}: echo of message {seq} carries connection id {} (another connection's message)",
                u32::from_le_bytes(got[..4].try_into().unwrap())
            ));
        }
        if got[4..HEAD] != self.msg[4..HEAD] {
            return Err(format!(
                "conn {id}: expected the echo of message {seq}, got message {} (lost, repeated or out of order)",
                u64::from_le_bytes(got[4..HEAD].try_into().unwrap())
            ));
        }
        if got[HEAD..] != *filler {
            let i = (0..filler.len())
                .find(|&i| got[HEAD + i] != filler[i])
                .unwrap_or(0);
            return Err(format!(
                "conn {id}: echo of message {seq} differs at byte {} of {}: got {:#04x}, sent {:#04x}",
                HEAD + i,
                self.len,
                got[HEAD + i],
                filler[i]
            ));
        }
        self.next_recv += 1;
        Ok(())
    }

    /// Sends one message and checks its echo.
    pub async fn echo_once(&mut self) -> Res<()> {
        self.queue_next();
        self.flush().await?;
        let at = self.next_message().await?;
        self.check(at)
    }

    /// The closing handshake: sends close 1000, expects the server's close
    /// (and no further echo), then waits briefly for the server to end the
    /// TCP connection (the server closes first, RFC 6455 7.1.1).
    pub async fn close(mut self) -> Res<()> {
        push_frame(
            &mut self.wbuf,
            &mut self.rng,
            OP_CLOSE,
            &1000u16.to_be_bytes(),
        );
        self.flush().await?;
        loop {
            let (b0, _) = self
                .next_frame()
                .await
                .map_err(|e| format!("conn {}: waiting for the close reply: {e}", self.id))?;
            match b0 & 0x0f {
                OP_CLOSE => break,
                OP_PING | OP_PONG => {}
                op => {
                    return Err(format!(
                        "conn {}: frame with opcode {op:#x} after every echo came back, before the close reply",
                        self.id
                    ));
                }
            }
        }
        let mut scratch = [0u8; 256];
        let _ = timeout(Duration::from_secs(2), async {
            while let Ok(n) = self.stream.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        Ok(())
    }

    /// Keeps `inflight` messages outstanding (1: request-response), a new
    /// one sent per echo, until `t1`; then waits for the outstanding echoes
    /// and closes. Echoes that come back in `[t0, t1)` are counted and
    /// their round trips recorded.
    pub async fn run(mut self, inflight: usize, t0: Instant, t1: Instant) -> Res<ConnResult> {
        let id = self.id;
        let mut res = ConnResult::default();
        let mut sent_at = VecDeque::with_capacity(inflight);
        let now = Instant::now();
        for _ in 0..inflight {
            self.queue_next();
            sent_at.push_back(now);
        }
        self.flush().await.map_err(|e| format!("conn {id}: {e}"))?;
        while let Some(&at) = sent_at.front() {
            let msg = self.next_message().await.map_err(|e| {
                format!(
                    "conn {id}: waiting for the echo of message {}: {e}",
                    self.next_recv
                )
            })?;
            let now = Instant::now();
            self.check(msg)?;
            sent_at.pop_front();
            if now >= t0 && now < t1 {
                res.msgs += 1;
                res.lat_ns.push((now - at).as_nanos() as u64);
            }
            if now < t1 {
                self.queue_next();
                sent_at.push_back(now);
            }
            if !self.frame_ready() {
                self.flush().await.map_err(|e| format!("conn {id}: {e}"))?;
            }
        }
        self.close().await?;
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    //! The checks fail loudly: a server that corrupts, drops or reorders
    //! echoes, or echoes as text, fails the connection with a message
    //! that says so (`cargo test --release`).

    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio_websockets::{Message, ServerBuilder};

    /// An in-process echo server (one connection) that hands every echo
    /// through `f` first: `f(index, payload)` returns the messages to send.
    async fn server(f: fn(usize, Vec<u8>) -> Vec<Message>) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (_, mut ws) = ServerBuilder::new().accept(s).await.unwrap();
            let mut i = 0;
            while let Some(Ok(m)) = ws.next().await {
                if m.is_binary() {
                    // Fed, then flushed: what `f` returns arrives in one write.
                    for out in f(i, m.into_payload().to_vec()) {
                        if ws.feed(out).await.is_err() {
                            return;
                        }
                    }
                    if ws.flush().await.is_err() {
                        return;
                    }
                    i += 1;
                }
            }
        });
        addr
    }

    async fn run(
        f: fn(usize, Vec<u8>) -> Vec<Message>,
        len: usize,
        inflight: usize,
    ) -> Res<ConnResult> {
        let addr = server(f).await;
        let c = Conn::connect(addr, 7, len).await?;
        let t0 = Instant::now();
        c.run(inflight, t0, t0 + Duration::from_millis(100)).await
    }

    fn ok(_: usize, p: Vec<u8>) -> Vec<Message> {
        vec![Message::binary(p)]
    }

    #[tokio::test]
    async fn echoes_pass() {
        for (len, inflight) in [(20, 1), (20, 64), (16 << 10, 1), (70000, 3)] {
            let r = run(ok, len, inflight).await.unwrap();
            assert!(r.msgs > 0 && r.lat_ns.len() as u64 == r.msgs);
        }
    }

    /// A ping right behind an echo (a server's keepalive) is answered, and
    /// the next request still goes out: the client does not wait for a
    /// read with a request unsent.
    #[tokio::test]
    async fn a_ping_behind_an_echo_holds_up_nothing() {
        fn f(_: usize, p: Vec<u8>) -> Vec<Message> {
            vec![Message::binary(p), Message::ping(&b"ka"[..])]
        }
        for inflight in [1, 64] {
            let r = run(f, 20, inflight).await.unwrap();
            assert!(r.msgs > 0);
        }
    }

    #[tokio::test]
    async fn a_changed_byte_fails() {
        fn f(i: usize, mut p: Vec<u8>) -> Vec<Message> {
            if i == 5 {
                p[15] ^= 1;
            }
            vec![Message::binary(p)]
        }
        let e = run(f, 20, 1).await.err().unwrap();
        assert!(e.contains("echo of message 5 differs at byte 15"), "{e}");
    }

    #[tokio::test]
    async fn a_lost_echo_fails() {
        fn f(i: usize, p: Vec<u8>) -> Vec<Message> {
            if i == 3 {
                vec![]
            } else {
                vec![Message::binary(p)]
            }
        }
        let e = run(f, 20, 64).await.err().unwrap();
        assert!(
            e.contains("expected the echo of message 3, got message 4"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_short_echo_fails() {
        fn f(_: usize, mut p: Vec<u8>) -> Vec<Message> {
            p.pop();
            vec![Message::binary(p)]
        }
        let e = run(f, 16 << 10, 1).await.err().unwrap();
        assert!(e.contains("is 16383 bytes, sent 16384"), "{e}");
    }

    #[tokio::test]
    async fn an_extra_echo_fails() {
        fn f(i: usize, p: Vec<u8>) -> Vec<Message> {
            if i == 0 {
                vec![Message::binary(p.clone()), Message::binary(p)]
            } else {
                vec![Message::binary(p)]
            }
        }
        let e = run(f, 20, 1).await.err().unwrap();
        assert!(
            e.contains("expected the echo of message 1, got message 0"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_text_echo_fails() {
        fn f(_: usize, p: Vec<u8>) -> Vec<Message> {
            vec![Message::text(String::from_utf8_lossy(&p).into_owned())]
        }
        let e = run(f, 20, 1).await.err().unwrap();
        assert!(e.contains("echoed as text"), "{e}");
    }

    #[tokio::test]
    async fn a_close_fails() {
        fn f(_: usize, _: Vec<u8>) -> Vec<Message> {
            vec![Message::close(
                Some(tokio_websockets::CloseCode::GOING_AWAY),
                "bye",
            )]
        }
        let e = run(f, 20, 1).await.err().unwrap();
        assert!(
            e.contains("server closed the connection: code Some(1001)"),
            "{e}"
        );
    }
}
