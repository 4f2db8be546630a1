//! The outgoing queue of host adapters: frames encoded and waiting to be
//! written, gathered so that many go out in one vectored write (replies
//! batched while the peer's next frames are already read).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use super::FrameOut;
use crate::conn::{Connection, DataKind, Instant, MaskKeys, MessagePart, SendError};
use crate::message::Message;
use crate::wire::{CloseCode, MAX_CONTROL_FRAME_LEN};

/// A payload this large, already shared (`Bytes`), is queued by reference
/// instead of copied.
const SHARE_MIN: usize = 4096;

/// A message this short is framed by the connection in one call
/// ([`Out::message`]).
const SMALL: usize = 1024;

/// Slices per vectored write (Linux takes up to 1024; this many cover a
/// batch of small frames, gathered in one buffer, and large shared ones).
pub(crate) const MAX_SLICES: usize = 64;

/// Frames waiting to be written, in order: small ones copied into `tail`,
/// large shared payloads kept by reference in `segs` (what was in `tail`
/// before them moves there first).
#[derive(Debug, Default)]
pub(crate) struct Out {
    segs: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl Out {
    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `bytes`, the rest of frames already encoded (what a direct
    /// write did not get out).
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Queues what is left of one frame, `head` and then `body` (`shared`:
    /// the same bytes as `body`, held by reference), after the first
    /// `written` bytes of the two went out in a direct write.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn push_rest(
        &mut self,
        head: &[u8],
        body: &[u8],
        shared: Option<&Bytes>,
        written: usize,
    ) {
        let body_from = written.saturating_sub(head.len());
        if let Some(rest) = head.get(written..) {
            self.push(rest);
        }
        let rest = &body[body_from..];
        match shared {
            Some(b) if rest.len() >= SHARE_MIN => self.push_shared(b.slice(body_from..)),
            _ => self.push(rest),
        }
    }

    fn push_shared(&mut self, bytes: Bytes) {
        if !self.tail.is_empty() {
            self.segs.push_back(self.tail.split().freeze());
        }
        self.len += bytes.len();
        self.segs.push_back(bytes);
    }

    /// Gives back the memory of an empty queue whose buffer grew past
    /// `keep` bytes (a large message went out), so an idle connection
    /// holds little.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn trim(&mut self, keep: usize) {
        if self.is_empty() && self.tail.capacity() > keep {
            self.tail = BytesMut::new();
        }
    }

    /// One data frame of `data` (`shared`: the same bytes, held by
    /// reference) on `conn`: a server's payload as it is, a client's
    /// masked in the queue.
    pub(crate) fn frame<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        part: MessagePart,
        data: &[u8],
        shared: Option<&Bytes>,
        compressed: bool,
    ) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        let mut frame = if compressed {
            FrameOut::begin_compressed(conn, part, data.len())?
        } else {
            FrameOut::begin(conn, part, data.len())?
        };
        #[cfg(not(feature = "deflate"))]
        let mut frame = {
            let _ = compressed;
            FrameOut::begin(conn, part, data.len())?
        };
        if frame.is_masked() {
            let at = self.tail.len();
            let whole = frame.header().len() + data.len();
            self.tail.resize(at + whole, 0);
            let tx = &mut self.tail[at..];
            // `tx` holds the whole frame: one chunk.
            let n = match frame.next_chunk(conn, data, tx)? {
                Some((a, _)) => a.len(),
                None => 0,
            };
            debug_assert_eq!(n, whole);
            self.len += whole;
            return Ok(());
        }
        if let Some((head, body)) = frame.next_chunk(conn, data, &mut [])? {
            self.push(head);
            match shared {
                Some(b) if body.len() >= SHARE_MIN => self.push_shared(b.clone()),
                _ => self.push(body),
            }
        }
        Ok(())
    }

    /// A whole message of `kind` (fragments of the connection's
    /// `max_send_frame_len`), uncompressed.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn message<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        kind: DataKind,
        data: &[u8],
        shared: Option<&Bytes>,
    ) -> Result<(), SendError> {
        if data.len() <= SMALL {
            // Framed by the connection straight into the queue, in one
            // call and one copy (the header and payload pushed apart cost
            // twice the instructions of a 20-byte echo's send).
            let at = self.tail.len();
            self.tail.resize(at + conn.message_len(data.len()), 0);
            let r = conn.send_whole(kind, data, &mut self.tail[at..]);
            let n = *r.as_ref().unwrap_or(&0);
            self.tail.truncate(at + n);
            self.len += n;
            return r.map(|_| ());
        }
        let max = conn.config().max_send_frame_len;
        for (part, range) in frames(max, kind, data.len()) {
            let piece = shared.map(|b| b.slice(range.clone()));
            self.frame(conn, part, &data[range], piece.as_ref(), false)?;
        }
        Ok(())
    }

    /// A compressed payload's frames (RSV1 on the message's first).
    #[cfg(feature = "deflate")]
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn compressed<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        kind: DataKind,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let max = conn.config().max_send_frame_len;
        for (part, range) in frames(max, kind, payload.len()) {
            self.frame(conn, part, &payload[range], None, true)?;
        }
        Ok(())
    }

    /// One fragment of a message sent piece by piece.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn fragment<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        part: MessagePart,
        data: &[u8],
        compressed: bool,
    ) -> Result<(), SendError> {
        self.frame(conn, part, data, None, compressed)
    }

    /// A ping, pong or close: into the connection, then its frame here.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn control<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        now: Instant,
        msg: &Message,
    ) -> Result<(), SendError> {
        send_control(conn, msg)?;
        self.owed(conn, now)
    }

    /// Every control frame `conn` owes at `now` (pongs, the close echo,
    /// keepalive pings).
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn owed<K: MaskKeys>(
        &mut self,
        conn: &mut Connection<K>,
        now: Instant,
    ) -> Result<(), SendError> {
        let mut buf = [0u8; MAX_CONTROL_FRAME_LEN];
        while let Some(frame) = crate::adapter::driver::owed(conn, now, &mut buf)? {
            self.push(frame);
        }
        Ok(())
    }

    /// The queue when it is one run of bytes (the usual lone reply),
    /// to write without gathering slices.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the tokio adapter's")
    )]
    pub(crate) fn single(&self) -> Option<&[u8]> {
        match (self.segs.len(), self.tail.is_empty()) {
            (0, _) => Some(&self.tail),
            (1, true) => self.segs.front().map(|b| &b[..]),
            _ => None,
        }
    }

    /// The queue as slices to write in order (at most `slices.len()`),
    /// for one vectored write; [`advance`](Self::advance) by what it took.
    pub(crate) fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut k = 0;
        for seg in self.segs.iter().take(slices.len().saturating_sub(1)) {
            slices[k] = IoSlice::new(seg);
            k += 1;
        }
        if k < slices.len() && !self.tail.is_empty() {
            slices[k] = IoSlice::new(&self.tail);
            k += 1;
        }
        k
    }

    /// Drops `n` written bytes from the front.
    pub(crate) fn advance(&mut self, mut n: usize) {
        self.len -= n;
        if self.len == 0 {
            // All written: emptied in place, its start left where it is
            // (advancing over it first would move the start on, which the
            // next frame's reserve then moves back).
            if !self.segs.is_empty() {
                self.segs.clear();
            }
            self.tail.clear();
            return;
        }
        while n > 0 {
            let Some(front) = self.segs.front_mut() else {
                self.tail.advance(n);
                break;
            };
            if n < front.len() {
                front.advance(n);
                break;
            }
            n -= front.len();
            self.segs.pop_front();
        }
    }
}

/// A ping, a pong or a close (`None`: 1000 with no reason) into `c`.
pub(crate) fn send_control<K: MaskKeys>(
    c: &mut Connection<K>,
    msg: &Message,
) -> Result<(), SendError> {
    match msg {
        Message::Ping(p) => c.ping(p),
        Message::Pong(p) => c.pong(p),
        Message::Close(close) => {
            let (code, reason) = close
                .as_ref()
                .map_or((CloseCode::NORMAL, ""), |(c, r)| (*c, r.as_str()));
            c.close(code, reason)
        }
        Message::Text(_) | Message::Binary(_) => Ok(()),
    }
}

/// The frames of a whole message: one, or fragments of at most `max`
/// bytes, as ranges of its `len` bytes.
pub(crate) fn frames(
    max: usize,
    kind: DataKind,
    len: usize,
) -> impl Iterator<Item = (MessagePart, core::ops::Range<usize>)> {
    let max = max.max(1);
    let n = if len <= max { 1 } else { len.div_ceil(max) };
    (0..n).map(move |i| {
        if n == 1 {
            return (MessagePart::Whole(kind), 0..len);
        }
        let fin = i + 1 == n;
        (
            MessagePart::Fragment { kind, fin },
            i * max..((i + 1) * max).min(len),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Config, Role};
    use std::format;
    use std::vec::Vec;

    fn queued(out: &Out) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let k = out.slices(&mut slices);
        slices[..k].iter().flat_map(|s| s.iter().copied()).collect()
    }

    /// A short message framed in one call is byte for byte what the
    /// general path (frame by frame) queues, for both roles, both kinds,
    /// one frame or many, and the connection's state after it too.
    #[test]
    fn a_short_message_is_queued_as_the_general_path_queues_it() {
        let keys = || {
            let mut k = 0u8;
            move || {
                k = k.wrapping_add(1);
                [k, k ^ 0x5a, 3, 4]
            }
        };
        for role in [Role::Server, Role::Client] {
            for max in [usize::MAX, 7, 1] {
                for len in [0, 1, 20, 125, 126, 1000, SMALL] {
                    for kind in [DataKind::Binary, DataKind::Text] {
                        let mut config = Config::HOST;
                        config.max_send_frame_len = max;
                        let data: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                        let mut fast_conn =
                            Connection::with_keys(role, config, keys(), Instant::ZERO);
                        let mut slow_conn =
                            Connection::with_keys(role, config, keys(), Instant::ZERO);
                        let (mut fast, mut slow) = (Out::default(), Out::default());
                        fast.message(&mut fast_conn, kind, &data, None).unwrap();
                        for (part, range) in frames(max, kind, len) {
                            slow.frame(&mut slow_conn, part, &data[range], None, false)
                                .unwrap();
                        }
                        let what = format!("{role:?} max {max} len {len} {kind:?}");
                        assert_eq!(queued(&fast), queued(&slow), "{what}");
                        assert_eq!(fast.len(), slow.len(), "{what}");
                        // Both connections are between messages again.
                        fast.message(&mut fast_conn, kind, b"next", None).unwrap();
                        slow.message(&mut slow_conn, kind, b"next", None).unwrap();
                        assert_eq!(queued(&fast), queued(&slow), "{what}, then another");
                    }
                }
            }
        }
    }

    /// Written a piece at a time, by every small split (and by halves, and
    /// whole), the queue gives back its bytes in order and ends empty,
    /// whether it ends in the tail or in a shared segment; frames queued
    /// after it was emptied come out alone.
    #[test]
    fn advancing_by_any_split_keeps_order_and_empties_the_queue() {
        let shared = Bytes::from(std::vec![7u8; SHARE_MIN]);
        for (with_shared, with_last) in [(false, true), (true, true), (true, false)] {
            let queue = || {
                let mut conn =
                    Connection::with_keys(Role::Server, Config::HOST, || [0; 4], Instant::ZERO);
                let mut out = Out::default();
                out.message(&mut conn, DataKind::Binary, b"first", None)
                    .unwrap();
                if with_shared {
                    out.message(&mut conn, DataKind::Binary, &shared, Some(&shared))
                        .unwrap();
                }
                if with_last {
                    out.message(&mut conn, DataKind::Text, b"last", None)
                        .unwrap();
                }
                (conn, out)
            };
            let all = queued(&queue().1);
            for step in (1..=24).chain([all.len() / 2, all.len() - 1, all.len()]) {
                let (mut conn, mut out) = queue();
                let mut got = Vec::new();
                while !out.is_empty() {
                    let q = queued(&out);
                    assert_eq!(q.len(), out.len());
                    let n = step.min(q.len());
                    got.extend_from_slice(&q[..n]);
                    out.advance(n);
                }
                assert_eq!(
                    got, all,
                    "shared {with_shared}, last {with_last}, step {step}"
                );
                assert!(queued(&out).is_empty());
                out.message(&mut conn, DataKind::Binary, b"again", None)
                    .unwrap();
                assert_eq!(queued(&out), [0x82, 5, b'a', b'g', b'a', b'i', b'n']);
            }
        }
    }
}
