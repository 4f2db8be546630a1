//! The read side every adapter shares: a buffer of input, compacted and
//! (on hosts) grown, and the pump that feeds it to the connection one
//! event at a time.

use crate::conn::{Core, Data, Event, ProtocolError};

/// An event found by [`RxBuf::poll`], small enough to return in
/// registers: a data chunk (its payload left in the buffer, empty here)
/// or a control event (kept in the buffer) until [`RxBuf::event`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found {
    /// A data chunk, without its payload.
    Data(Data<'static>),
    /// A ping, pong or close, kept aside.
    Control,
}

/// What a buffer sized for a frame gets on top (tokio): the read that
/// completes the frame is then short of the space, and tokio knows the
/// socket is drained without another read that would find nothing.
#[cfg(feature = "tokio")]
const SLACK: usize = 1024;

/// A storage this small is kept when given back (tokio): the next input
/// after a pause is copied into it without an allocation.
#[cfg(feature = "tokio")]
const KEEP_SMALL: usize = 256;

/// Where a connection's input is kept: a caller's slice (devices) or a
/// growable, shareable `BytesMut` (hosts, zero-copy messages).
pub(crate) trait Storage {
    /// All of it.
    fn bytes(&mut self) -> &mut [u8];
    /// All of it, to read.
    fn slice(&self) -> &[u8];
    /// Its length.
    fn len(&self) -> usize;
    /// Drops the first `n` bytes; the `live` bytes after them move to the
    /// front.
    fn shift(&mut self, n: usize, live: usize);
    /// Makes it at least `want` bytes long, keeping the first `live`.
    /// A caller's slice cannot grow, and stays as it is.
    fn grow(&mut self, live: usize, want: usize);
}

/// `buf.copy_within(n..n + live, 0)` a byte at a time, forward (each
/// byte's source lies past its destination): devices move a buffer's
/// rest this way, as `copy_within` would link `memmove`, 800 bytes of an
/// ESP32-C3 image for a move made once a quarter of the buffer is all
/// that is free.
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
fn shift_forward(buf: &mut [u8], n: usize, live: usize) {
    for i in 0..live {
        buf[i] = buf[i + n];
    }
}

impl Storage for &mut [u8] {
    fn bytes(&mut self) -> &mut [u8] {
        self
    }

    fn slice(&self) -> &[u8] {
        self
    }

    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn shift(&mut self, n: usize, live: usize) {
        #[cfg(target_pointer_width = "64")]
        self.copy_within(n..n + live, 0);
        #[cfg(not(target_pointer_width = "64"))]
        shift_forward(self, n, live);
    }

    fn grow(&mut self, _: usize, _: usize) {}
}

#[cfg(feature = "std")]
impl Storage for bytes::BytesMut {
    fn bytes(&mut self) -> &mut [u8] {
        self
    }

    fn slice(&self) -> &[u8] {
        self
    }

    fn len(&self) -> usize {
        bytes::BytesMut::len(self)
    }

    fn shift(&mut self, n: usize, _: usize) {
        // The front is let go, not copied: messages handed out may still
        // share it, and `grow` reclaims it once they are gone.
        bytes::Buf::advance(self, n);
    }

    fn grow(&mut self, live: usize, want: usize) {
        if self.capacity() < want {
            // Only the live bytes are copied if it moves: back to the
            // front of its allocation once the messages sharing it are
            // gone, or into a new one.
            self.truncate(live);
            self.reserve(want - live);
        }
        // As long as asked for, not the whole capacity: a read then stops
        // near the end of a pinned payload instead of running far into
        // the next message, whose bytes read so far are what moves when
        // that one is pinned in turn (58 KiB per 64 KiB message before,
        // 7 KiB after). Only the bytes added are zeroed.
        if bytes::BytesMut::len(self) < want {
            self.resize(want, 0);
        }
    }
}

/// A connection's input: `buf[start..end]` is read and not yet given to
/// the connection. On a growable storage a message's payload can be kept
/// in place from `pin` while it arrives, so it is handed out whole without
/// a copy.
pub(crate) struct RxBuf<S> {
    pub(crate) buf: S,
    start: usize,
    end: usize,
    /// Kept from here (a payload being collected in place).
    pin: Option<usize>,
    /// The usual size; a pinned payload may make it larger.
    size: usize,
    /// The pinned payload's whole length (its frame's), to grow towards.
    need: usize,
    /// Where the last data chunk handed out lies in `buf`.
    last: (usize, usize),
    /// The last control event found by [`RxBuf::poll`] (hosts: kept
    /// here so that what `poll` returns stays small).
    #[cfg(feature = "std")]
    control: Event<'static>,
    /// The last data chunk found is of a compressed message (kept apart
    /// from the [`Found`] that describes it: a check of the flag there
    /// made the caller load the chunk's flags in one wide load, which the
    /// byte stores that wrote them could not forward, +2 ns a message).
    #[cfg(all(feature = "std", feature = "deflate"))]
    compressed: bool,
    /// After a pause (tokio): how large a buffer the last large frame
    /// needed, to read the next input straight into one of that size
    /// (0: small messages, read through the caller's scratch).
    #[cfg(feature = "tokio")]
    hint: usize,
    /// The last read (tokio) with no input buffered found nothing yet.
    #[cfg(feature = "tokio")]
    waited: bool,
    /// The last such read made right after a message found more (the
    /// peer streams): that read is then made as after a wait.
    #[cfg(feature = "tokio")]
    streaming: bool,
}

impl<S: Storage> RxBuf<S> {
    /// A buffer whose first bytes, `early.0..early.1`, are input already
    /// read (frames that came with the handshake).
    pub(crate) fn new(buf: S, early: (usize, usize)) -> Self {
        let size = buf.len();
        Self {
            buf,
            start: early.0,
            end: early.1,
            pin: None,
            size,
            need: 0,
            last: (0, 0),
            #[cfg(feature = "std")]
            control: Event::Close(None),
            #[cfg(all(feature = "std", feature = "deflate"))]
            compressed: false,
            #[cfg(feature = "tokio")]
            hint: 0,
            // As if after a wait: the first input says nothing of how
            // the peer sends.
            #[cfg(feature = "tokio")]
            waited: true,
            #[cfg(feature = "tokio")]
            streaming: false,
        }
    }

    /// Free space to read into: compacts first, and grows a growable
    /// storage when it is less than a quarter free (or full while a
    /// payload is pinned).
    pub(crate) fn space(&mut self) -> &mut [u8] {
        let keep = self.pin.unwrap_or(self.start);
        if keep == self.end {
            self.start = 0;
            self.end = 0;
            self.pin = self.pin.map(|_| 0);
        } else if keep > 0 && self.free() < self.size / 4 + 1 {
            self.buf.shift(keep, self.end - keep);
            self.start -= keep;
            self.end -= keep;
            self.pin = self.pin.map(|p| p - keep);
            self.last = (0, 0);
        }
        if self.free() < self.size / 4 + 1 {
            // The usual size, reclaimed in place once the messages sharing
            // it are gone; larger only for what must stay.
            let mut want = self.size.max(self.end + self.size / 4 + 1);
            #[cfg(feature = "tokio")]
            if self.buf.len() == 0 && self.hint > 0 {
                // Given back, and large frames came last time: one as
                // large as that frame needed (and a little more), not the
                // usual size.
                want = want.min(self.hint.saturating_add(SLACK));
            }
            #[cfg(feature = "tokio")]
            if let (Some(pin), true) = (self.pin, self.buf.len() < self.size) {
                // A buffer made small for input after a pause: grown to
                // what the pinned frame needs (never past the usual
                // size here), not zeroed to the usual size; and SLACK
                // more. Remembered for the next input after a pause.
                want = pin
                    .saturating_add(self.need)
                    .saturating_add(SLACK)
                    .min(want)
                    .max(self.end + 1);
                self.hint = want.saturating_sub(SLACK);
            }
            if let Some(pin) = self.pin {
                // A pinned payload grows the buffer geometrically as it
                // arrives, up to what its frame needs: never ahead of
                // the bytes (a header alone announcing 16 MiB costs
                // nothing), and a large payload is moved O(log n) times.
                let frame_end = pin
                    .saturating_add(self.need)
                    .saturating_add(self.size / 4 + 1);
                want = want.max(self.buf.len().saturating_mul(2).min(frame_end));
            }
            self.buf.grow(self.end, want);
        }
        let end = self.end;
        &mut self.buf.bytes()[end..]
    }

    fn free(&self) -> usize {
        self.buf.len() - self.end
    }

    /// `n` bytes were read into [`RxBuf::space`].
    pub(crate) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Gives buffered input to `conn` until it yields an event (`None`:
    /// the buffer ran dry first). The event borrows the buffer only, so a
    /// lock around `conn` can be let go before the event is used.
    #[cfg(feature = "embedded-io")]
    pub(crate) fn next_event(
        &mut self,
        conn: &mut Core,
    ) -> Result<Option<Event<'_>>, ProtocolError> {
        // Devices: a control event lives on the stack only until it is
        // handed out, not in every connection's buffer.
        let mut control = Event::Close(None);
        Ok(match self.step(conn, &mut control)? {
            None => None,
            Some(Found::Data(d)) => Some(Event::Data(d.with_payload(self.last_chunk()))),
            Some(Found::Control) => Some(control),
        })
    }

    /// [`RxBuf::next_event`] in two steps, for loops that must go on
    /// reading while they hold what was found: the event without its
    /// payload (which stays in the buffer), then [`RxBuf::event`] to put
    /// them together.
    #[cfg(feature = "std")]
    pub(crate) fn poll(&mut self, conn: &mut Core) -> Result<Option<Found>, ProtocolError> {
        let mut control = Event::Close(None);
        let r = self.step(conn, &mut control);
        if let Ok(Some(Found::Control)) = r {
            self.control = control;
        }
        r
    }

    /// The last data chunk found is of a compressed message.
    #[cfg(all(feature = "std", feature = "deflate"))]
    pub(crate) fn last_compressed(&self) -> bool {
        self.compressed
    }

    /// Whether input is buffered that the connection has not seen (more
    /// frames of a batch the peer sent together).
    #[inline]
    pub(crate) fn has_input(&self) -> bool {
        self.start < self.end
    }

    /// The last data chunk read.
    pub(crate) fn last_chunk(&self) -> &[u8] {
        &self.buf.slice()[self.last.0..self.last.1]
    }

    /// The pump: a data chunk found is described (its payload stays in
    /// the buffer), a control event is put in `control`.
    #[inline(always)]
    fn step(
        &mut self,
        conn: &mut Core,
        control: &mut Event<'static>,
    ) -> Result<Option<Found>, ProtocolError> {
        while self.start < self.end {
            let base = self.start;
            let data = &mut self.buf.bytes()[base..self.end];
            let at = data.as_ptr() as usize;
            let r = match conn.handle_read(data) {
                Ok(r) => r,
                Err(e) => {
                    crate::adapter::diag::diag!(
                        warn,
                        "protocol error: closing with code {}",
                        e.close_code().0
                    );
                    self.start = self.end;
                    self.pin = None;
                    return Err(e);
                }
            };
            self.start += r.consumed;
            match r.event {
                None => {}
                Some(Event::Data(d)) => {
                    let from = base + (d.payload.as_ptr() as usize - at);
                    self.last = (from, from + d.payload.len());
                    #[cfg(all(feature = "std", feature = "deflate"))]
                    {
                        self.compressed = d.compressed;
                    }
                    return Ok(Some(Found::Data(d.with_payload(&[]))));
                }
                Some(Event::Ping(p)) => *control = Event::Ping(p),
                Some(Event::Pong(p)) => *control = Event::Pong(p),
                Some(Event::Close(c)) => *control = Event::Close(c),
            }
            if r.event.is_some() {
                return Ok(Some(Found::Control));
            }
        }
        Ok(None)
    }

    /// The event `found` with its payload, the last chunk read.
    #[cfg(feature = "std")]
    pub(crate) fn event(&self, found: Found) -> Event<'_> {
        match found {
            Found::Data(d) => Event::Data(d.with_payload(self.last_chunk())),
            Found::Control => self.control,
        }
    }

    /// Keeps the last data chunk's bytes (and what follows) in place, to
    /// hand the payload out whole when its last chunk has come.
    #[cfg(feature = "std")]
    pub(crate) fn pin_last(&mut self) {
        self.pin = Some(self.last.0);
    }

    /// Whether a payload is being kept in place.
    #[cfg(feature = "std")]
    pub(crate) fn is_pinned(&self) -> bool {
        self.pin.is_some()
    }

    /// The pinned payload through the last chunk (or the last chunk alone
    /// if nothing is pinned).
    #[cfg(feature = "std")]
    pub(crate) fn payload(&self) -> &[u8] {
        &self.buf.slice()[self.pin.unwrap_or(self.last.0)..self.last.1]
    }

    /// `N` bytes from where [`RxBuf::payload`] starts, if the buffer
    /// holds that many (past the payload's end: what is read after it).
    #[cfg(feature = "std")]
    pub(crate) fn payload_window<const N: usize>(&self) -> Option<&[u8; N]> {
        let from = self.pin.unwrap_or(self.last.0);
        self.buf.slice().get(from..)?.first_chunk()
    }

    /// Stops keeping a payload (the connection failed or ended, or the
    /// payload was copied out).
    #[cfg(feature = "std")]
    pub(crate) fn unpin(&mut self) {
        self.pin = None;
        self.need = 0;
    }

    /// The pinned payload will be `len` bytes in all: the buffer grows
    /// towards that as its bytes arrive.
    #[cfg(feature = "std")]
    pub(crate) fn reserve_pinned(&mut self, len: usize) {
        self.need = len;
    }
}

#[cfg(feature = "std")]
impl RxBuf<bytes::BytesMut> {
    /// A buffer holding `early` (input already read) in storage just as
    /// large, whose usual size is `size` once it grows: a connection
    /// that stays quiet never gets one of the usual size.
    #[cfg(feature = "tokio")]
    pub(crate) fn lazy(early: &[u8], size: usize) -> Self {
        let mut rx = Self::new(bytes::BytesMut::from(early), (0, early.len()));
        rx.size = size;
        rx
    }

    /// Gives the storage back if nothing read waits in it or is kept
    /// (a quiet connection then holds at most [`KEEP_SMALL`] bytes of
    /// it); the next [`space`](Self::space) makes it again, or
    /// [`refill`](Self::refill) a small one.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn release(&mut self) {
        // Already given back (a small storage emptied, no large frames
        // last): nothing to do. Every read that is not ready calls this,
        // so it stays inline and the rest out of line.
        if self.buf.is_empty() && self.hint == 0 && self.buf.capacity() <= KEEP_SMALL {
            return;
        }
        self.release_storage();
    }

    #[cfg(feature = "tokio")]
    #[inline(never)]
    fn release_storage(&mut self) {
        if self.start == self.end && self.pin.is_none() && self.buf.capacity() > 0 {
            // Most of it unused (the messages handed out split theirs
            // off): large frames no longer, back to the scratch.
            if self.buf.capacity() > self.hint / 2 {
                self.hint = 0;
            }
            if self.buf.capacity() <= KEEP_SMALL {
                // Refilled in place next time (if no message shares it).
                self.buf.clear();
            } else {
                self.buf = bytes::BytesMut::new();
            }
            self.start = 0;
            self.end = 0;
            self.last = (0, 0);
        }
    }

    /// Whether the storage was given back ([`release`](Self::release)):
    /// none, or a small one emptied.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn is_released(&self) -> bool {
        self.buf.is_empty()
    }

    /// Whether input after a pause is best read through a small scratch
    /// (and [`refill`](Self::refill)ed), rather than straight into
    /// [`space`](Self::space), sized for the large frames of last time.
    #[cfg(all(test, feature = "tokio"))]
    pub(crate) fn wants_scratch(&self) -> bool {
        self.is_released() && self.hint == 0
    }

    /// After a pause, when large frames came last time: how large a
    /// buffer to read the next input into ([`adopt`](Self::adopt)), as
    /// [`space`](Self::space) would make it.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn hinted(&self) -> Option<usize> {
        (self.is_released() && self.hint > 0)
            .then(|| self.size.min(self.hint.saturating_add(SLACK)))
    }

    /// Whether the next read (all input used up) most likely finds
    /// nothing yet: the read before it got input, and the read right
    /// after a message last time found nothing (request-response). Such a read is made
    /// through the small scratch even when [`hinted`](Self::hinted)
    /// says large frames came: a buffer that large, made for a read
    /// that is not ready, would be made and freed for nothing.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn expects_wait(&self) -> bool {
        !self.waited && !self.streaming
    }

    /// What a read made with all input used up found: input (`true`) or
    /// nothing yet.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn note_read(&mut self, got: bool) {
        if !self.waited {
            self.streaming = got;
        }
        self.waited = !got;
    }

    /// Input read while the storage was given back, into `buf` (of
    /// [`hinted`](Self::hinted) capacity, never zeroed: only what was
    /// read is in it): kept as the storage.
    #[cfg(feature = "tokio")]
    pub(crate) fn adopt(&mut self, buf: bytes::BytesMut) {
        debug_assert!(self.is_released());
        self.end = buf.len();
        self.buf = buf;
        self.start = 0;
    }

    /// Input read while the storage was given back: kept in one just as
    /// large (no zeroed buffer of the usual size for a short message).
    #[cfg(feature = "tokio")]
    pub(crate) fn refill(&mut self, bytes: &[u8]) {
        debug_assert!(self.is_released());
        self.buf.extend_from_slice(bytes);
        self.start = 0;
        self.end = bytes.len();
    }

    /// Hands out the pinned payload through the last chunk (or the last
    /// chunk alone if nothing is pinned), sharing the buffer: no copy.
    pub(crate) fn take_payload(&mut self) -> bytes::Bytes {
        let from = self.pin.take().unwrap_or(self.last.0);
        self.need = 0;
        let to = self.last.1;
        if to == self.end && to == self.buf.capacity() {
            // The payload ends the storage, which holds nothing else (a
            // buffer refilled after a pause, just as large as its frame):
            // all of it goes with the message, with no reference count
            // set up, and the connection holds none until input comes.
            let mut all = core::mem::take(&mut self.buf);
            bytes::Buf::advance(&mut all, from);
            self.start = 0;
            self.end = 0;
            self.last = (0, 0);
            return all.freeze();
        }
        // One reference taken (split_to) and none let go: the front is
        // skipped inside the split half before it is frozen, where
        // `freeze().slice(from..)` took a second one and dropped the first
        // (two more atomic operations per message).
        let mut head = self.buf.split_to(to);
        bytes::Buf::advance(&mut head, from);
        self.start -= to;
        self.end -= to;
        self.last = (0, 0);
        head.freeze()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::conn::{Config, Connection, Instant};

    /// The devices' move is `copy_within`'s, for every cut and length.
    #[test]
    fn shift_forward_is_copy_within() {
        let orig: [u8; 24] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=orig.len() {
            for live in 0..=orig.len() - n {
                let (mut a, mut b) = (orig, orig);
                a.copy_within(n..n + live, 0);
                shift_forward(&mut b, n, live);
                assert_eq!(a, b, "{n} {live}");
            }
        }
    }

    /// A masked binary frame with `payload`.
    fn frame(payload: &[u8]) -> std::vec::Vec<u8> {
        let mut c = Connection::client(Config::HOST, || [1, 2, 3, 4], Instant::ZERO);
        let mut out = std::vec![0u8; payload.len() + 14];
        let n = c.send_binary(payload, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn a_payload_pinned_across_reads_is_handed_out_whole_without_a_copy() {
        let payload: std::vec::Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let wire = frame(&payload);
        let mut rx = RxBuf::new(bytes::BytesMut::zeroed(1024), (0, 0));
        let mut conn = Connection::server(Config::HOST, Instant::ZERO);
        let mut fed = 0;
        let msg = loop {
            let space = rx.space();
            let n = space.len().min(wire.len() - fed).min(700);
            space[..n].copy_from_slice(&wire[fed..fed + n]);
            fed += n;
            rx.filled(n);
            let mut done = false;
            while let Some(found) = rx.poll(&mut conn).unwrap() {
                let Event::Data(d) = rx.event(found) else {
                    panic!()
                };
                if d.is_frame_end() {
                    done = true;
                    break;
                }
                if !rx.is_pinned() {
                    rx.pin_last();
                }
            }
            if done {
                break rx.take_payload();
            }
        };
        assert_eq!(&msg[..], &payload[..]);
    }

    /// Reads `wire` (one message) into `rx` as the tokio adapter does
    /// after a pause: through a 2 KiB scratch, into a buffer of the hinted
    /// size, or straight into `space`, as `rx` says; returns the message
    /// and the reads it took.
    #[cfg(feature = "tokio")]
    fn after_a_pause(
        rx: &mut RxBuf<bytes::BytesMut>,
        conn: &mut Connection<crate::conn::NoMasking>,
        wire: &[u8],
        scratch: usize,
    ) -> (bytes::Bytes, usize) {
        let mut fed = 0;
        let mut reads = 0;
        loop {
            if let Some(size) = rx.hinted() {
                // As `read_buf` does: into spare capacity, never zeroed.
                let mut buf = bytes::BytesMut::with_capacity(size);
                let n = size.min(wire.len());
                buf.extend_from_slice(&wire[..n]);
                rx.adopt(buf);
                fed = n;
            } else if rx.wants_scratch() {
                let n = wire.len().min(scratch);
                rx.refill(&wire[..n]);
                fed = n;
            } else {
                let space = rx.space();
                let n = space.len().min(wire.len() - fed);
                space[..n].copy_from_slice(&wire[fed..fed + n]);
                fed += n;
                rx.filled(n);
            }
            reads += 1;
            while let Some(found) = rx.poll(conn).unwrap() {
                let Event::Data(d) = rx.event(found) else {
                    panic!()
                };
                let frame_len = d.frame_len;
                if d.is_frame_end() {
                    if !rx.is_pinned() {
                        rx.pin_last();
                    }
                    let m = rx.take_payload();
                    rx.release();
                    assert!(rx.is_released());
                    return (m, reads);
                }
                if !rx.is_pinned() {
                    rx.pin_last();
                    rx.reserve_pinned(frame_len);
                }
            }
        }
    }

    /// A small storage is kept when given back and refilled in place: a
    /// short message after each pause (copied out, as a payload small
    /// enough to be inline is) costs no allocation. A large one is let go.
    #[cfg(feature = "tokio")]
    #[test]
    fn a_small_storage_is_kept_and_refilled_in_place() {
        let mut rx = RxBuf::lazy(&[], 64 << 10);
        let mut conn = Connection::server(Config::HOST, Instant::ZERO);
        let mut at = None;
        for wire in [
            frame(b"twenty bytes of data"),
            frame(b"and twenty more...."),
        ] {
            rx.release();
            assert!(rx.wants_scratch());
            rx.refill(&wire);
            let found = rx.poll(&mut conn).unwrap().unwrap();
            let Event::Data(d) = rx.event(found) else {
                panic!()
            };
            assert_eq!(d.payload.len(), wire.len() - 6);
            rx.release();
            assert!(rx.buf.capacity() > 0 && rx.buf.capacity() <= KEEP_SMALL);
            let ptr = rx.buf.as_ptr();
            assert_eq!(*at.get_or_insert(ptr), ptr, "refilled in place");
        }
        rx.refill(&frame(&[7u8; 1000]));
        rx.poll(&mut conn).unwrap().unwrap();
        rx.release();
        assert_eq!(rx.buf.capacity(), 0, "a large storage is let go");
    }

    /// After a large frame, the next input after a pause goes straight
    /// into a buffer that takes the same size whole, with room to spare
    /// (one short read); after a small one, back to the scratch.
    #[cfg(feature = "tokio")]
    #[test]
    fn after_a_large_frame_the_next_is_read_whole_and_a_small_one_resets() {
        let mut rx = RxBuf::lazy(&[], 64 << 10);
        let mut conn = Connection::server(Config::HOST, Instant::ZERO);
        let big: std::vec::Vec<u8> = (0..16384u32).map(|i| (i * 7) as u8).collect();
        let wire = frame(&big);
        let (m, reads) = after_a_pause(&mut rx, &mut conn, &wire, 2048);
        assert!(m[..] == big[..]);
        assert_eq!(reads, 2, "scratch, then the rest");
        assert!(!rx.wants_scratch());
        for _ in 0..3 {
            let (m, reads) = after_a_pause(&mut rx, &mut conn, &wire, 2048);
            assert!(m[..] == big[..]);
            assert_eq!(reads, 1, "one read");
        }
        assert!(
            rx.hinted().is_some_and(|n| n > wire.len()),
            "the read is short of the space"
        );
        let small = frame(b"twenty bytes of data");
        let (m, reads) = after_a_pause(&mut rx, &mut conn, &small, 2048);
        assert_eq!((&m[..], reads), (&b"twenty bytes of data"[..], 1));
        assert!(rx.wants_scratch(), "small again: the scratch");
        let (m, _) = after_a_pause(&mut rx, &mut conn, &small, 2048);
        assert_eq!(&m[..], &b"twenty bytes of data"[..]);

        // A usual size below the slack (`Options::read_buffer`: 256),
        // the first read short of it: the same messages, whole.
        let mut rx = RxBuf::lazy(&[], 256);
        for wire in [&wire, &small, &wire, &wire] {
            let (m, _) = after_a_pause(&mut rx, &mut conn, wire, 100);
            assert_eq!(m.len(), if wire.len() > 100 { big.len() } else { 20 });
        }
    }
}
