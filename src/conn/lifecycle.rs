//! The life of a connection: open, the closing handshake (RFC 6455
//! sections 7.1.2-7.1.5 and 5.5.1), and how it ended.
//!
//! The rules, in one place:
//! - Either side may start the close. The other answers with a close of
//!   its own (we echo the peer's code without its reason) and sends no
//!   more data after it.
//! - After our close, no data, ping or pong is sent; data may still
//!   arrive until the peer's close.
//! - A protocol error by the peer is answered with a close carrying the
//!   error's code; the connection is over once that close is sent.
//! - The connection is cleanly closed once both closes have crossed; our
//!   close unanswered for `close_timeout`, a keepalive ping unanswered for
//!   `pong_timeout`, or the transport ending first, end it otherwise.

use crate::wire::{CloseCode, CloseFrame, ControlPayload};

use super::{Core, Instant, ProtocolError, SendError};

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We started the close (a [`Core::close`] or a protocol error): our
    /// close is queued or sent, the peer's is awaited. Data may still
    /// arrive; none may be sent.
    CloseSent,
    /// The peer started the close; our echo is queued until
    /// [`Connection::poll_transmit`](super::Connection::poll_transmit)
    /// hands it out.
    CloseReceived,
    /// Done: see [`Core::end`]. Drain `poll_transmit`, then end the
    /// transport (a server first; a client waits for the server's FIN).
    Closed,
}

/// How a closed connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Both close frames were exchanged.
    Clean,
    /// The peer broke the protocol; our close carried the error's code.
    Failed(ProtocolError),
    /// A keepalive ping got no pong in time.
    PongTimeout,
    /// Our close got no answer in time.
    CloseTimeout,
    /// The transport ended before the close handshake finished (1006).
    Abnormal,
}

/// A timer that can end the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// No pong to a keepalive ping in time: [`End::PongTimeout`].
    Pong,
    /// No answer to our close in time: [`End::CloseTimeout`].
    Close,
}

/// Who may still send data: the one byte every send checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nobody started the close.
    Open,
    /// We did (a command or a protocol error).
    LocalClose,
    /// The peer did.
    RemoteClose,
    /// The connection ended with no close started (timeout, transport).
    Gone,
}

/// The closing handshake and the end of the connection, as one struct
/// with its rules.
// In this order (`repr(C)`): `local` first, `failure` last. With the
// compiler's layout the error's payload bytes (undefined in `None`) lay
// next to `local`'s zeros, so `Core::new` zeroed a temporary and copied
// 152 B of it in; now it zeroes `local` in place, a second memset and no
// copy (core_only .text both -24 B).
#[derive(Debug, Clone)]
#[repr(C)]
pub(super) struct Closing {
    /// Our close frame's payload as it goes on the wire (empty: an empty
    /// close, the echo of an empty one), once `queued`; owed until `sent`.
    /// Held as bytes so that a code is written in place (2 bytes), not a
    /// whole frame built and moved.
    local: ControlPayload,
    phase: Phase,
    queued: bool,
    sent: bool,
    /// The peer's close arrived (its payload stays in the receiver's
    /// control buffer: [`Core::remote_close`]).
    remote: bool,
    /// Which timer ended the connection, if one did.
    timed_out: Option<Timer>,
    eof: bool,
    /// When our close must have been answered.
    deadline: Option<Instant>,
    failure: Option<ProtocolError>,
}

impl Closing {
    pub(super) const fn new() -> Self {
        Self {
            phase: Phase::Open,
            local: ControlPayload::EMPTY,
            queued: false,
            sent: false,
            remote: false,
            failure: None,
            timed_out: None,
            eof: false,
            deadline: None,
        }
    }

    /// Whether data, pings and pongs may still be sent.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub(super) fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// `Err(Closed)` unless [`Self::is_open`].
    #[inline]
    pub(super) fn check_open(&self) -> Result<(), SendError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(SendError::Closed)
        }
    }

    pub(super) fn end(&self) -> Option<End> {
        if let Some(t) = self.timed_out {
            return Some(match t {
                Timer::Pong => End::PongTimeout,
                Timer::Close => End::CloseTimeout,
            });
        }
        if let Some(e) = self.failure {
            return (self.sent || self.eof).then_some(End::Failed(e));
        }
        if self.sent && self.remote {
            return Some(End::Clean);
        }
        self.eof.then_some(End::Abnormal)
    }

    pub(super) fn state(&self) -> State {
        if self.end().is_some() {
            return State::Closed;
        }
        match self.phase {
            Phase::Open => State::Open,
            Phase::LocalClose => State::CloseSent,
            Phase::RemoteClose => State::CloseReceived,
            Phase::Gone => State::Closed,
        }
    }

    /// We start the close with `frame` (checked by the caller to be open).
    fn start(&mut self, frame: CloseFrame) {
        self.phase = Phase::LocalClose;
        self.local = frame.into_payload();
        self.queued = true;
    }

    /// Queues our close with `code` and no reason (an empty close without
    /// a code). `code` may go on the wire: see [`CloseFrame::code_only`].
    // Called from `fail` and `received`. It was kept out of line (inlined
    // into both, core_only .text was 14 B larger in each role); since
    // `ControlPayload::set_len` stores its length unclamped, inlined is
    // 8 B smaller in each.
    #[inline]
    fn queue_code(&mut self, code: Option<CloseCode>) {
        CloseFrame::code_only(&mut self.local, code);
        self.queued = true;
    }

    /// The peer's close arrived. Answered with its code, without the
    /// reason, unless we had started the close.
    pub(super) fn received(&mut self, code: Option<CloseCode>) {
        self.remote = true;
        if self.phase == Phase::Open {
            self.phase = Phase::RemoteClose;
            self.queue_code(code);
        }
    }

    /// The peer broke the protocol: our close reports it, unless one was
    /// sent already. The error latches.
    pub(super) fn fail(&mut self, e: ProtocolError) {
        self.failure = Some(e);
        if !self.sent {
            self.phase = Phase::LocalClose;
            self.queue_code(Some(e.close_code()));
        }
    }

    /// The latched protocol error, if any.
    pub(super) fn failure(&self) -> Option<ProtocolError> {
        self.failure
    }

    /// The connection ends by a timer.
    pub(super) fn time_out(&mut self, timer: Timer) {
        self.timed_out = Some(timer);
        if self.phase == Phase::Open {
            self.phase = Phase::Gone;
        }
    }

    /// The transport ended.
    pub(super) fn eof(&mut self) {
        self.eof = true;
        if self.phase == Phase::Open {
            self.phase = Phase::Gone;
        }
    }

    /// The payload of our close, if one is owed now.
    pub(super) fn owed(&self) -> Option<&[u8]> {
        // Nothing queued (an open connection): one test.
        if !self.queued {
            return None;
        }
        // Not sent, the connection has ended exactly when a timer or the
        // transport ended it (see `end`: a failure or a clean close needs
        // our close sent, or the transport's end).
        if self.sent || self.eof || self.timed_out.is_some() {
            return None;
        }
        Some(&self.local)
    }

    /// Our close was handed out at `now`: the peer has until `deadline`
    /// to answer (unless it already did).
    pub(super) fn transmitted(&mut self, deadline: Instant) {
        self.sent = true;
        if !self.remote {
            self.deadline = Some(deadline);
        }
    }

    /// When our close times out, if it is awaited.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// A close payload (valid: checked when built or received) as `(code,
/// reason)`, `NO_STATUS_RECEIVED` for an empty one.
fn code_and_reason(payload: &[u8]) -> (CloseCode, &str) {
    match payload {
        [hi, lo, reason @ ..] => (
            CloseCode(u16::from_be_bytes([*hi, *lo])),
            core::str::from_utf8(reason).unwrap_or(""),
        ),
        _ => (CloseCode::NO_STATUS_RECEIVED, ""),
    }
}

impl Core {
    /// Where the connection is in its life.
    #[inline]
    pub fn state(&self) -> State {
        self.closing.state()
    }

    /// Whether no close was started and the connection has not ended:
    /// data may be sent ([`State::Open`]).
    #[inline]
    pub fn is_open(&self) -> bool {
        self.closing.is_open()
    }

    /// Whether the connection is over ([`State::Closed`]).
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closing.end().is_some()
    }

    /// How the connection ended, once [`State::Closed`].
    #[inline]
    pub fn end(&self) -> Option<End> {
        self.closing.end()
    }

    /// The close we sent or queued: its code (`NO_STATUS_RECEIVED` for an
    /// empty close) and reason.
    pub fn local_close(&self) -> Option<(CloseCode, &str)> {
        let c = &self.closing;
        c.queued.then(|| code_and_reason(&c.local))
    }

    /// The close the peer sent: its code (`NO_STATUS_RECEIVED` if it had
    /// none) and reason.
    pub fn remote_close(&self) -> Option<(CloseCode, &str)> {
        if !self.closing.remote {
            return None;
        }
        // Nothing is read after the peer's close: the last control payload
        // received is its, valid (it was checked when it came).
        Some(code_and_reason(self.rx.last_control()))
    }

    /// Starts the close handshake, as esp_websocket_client's `close` does:
    /// queues a close frame with `code` and `reason` (checked: allowed on
    /// the wire, at most 123 bytes of reason), then waits for the peer's
    /// close ([`State::CloseSent`], with
    /// [`Config::close_timeout`](super::Config::close_timeout)). Data still
    /// arrives meanwhile; no more can be sent. A frame whose payload is
    /// being written is finished first: the close goes out after it.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let frame = CloseFrame::new(code, reason)?;
        self.closing.check_open()?;
        self.closing.start(frame);
        Ok(())
    }

    /// The transport ended (read returned 0 or the peer reset). Unless the
    /// close handshake had finished, the connection ends as
    /// [`End::Abnormal`].
    pub fn handle_eof(&mut self) {
        self.closing.eof();
        self.rx.discard();
    }

    /// Latches a protocol error and queues the close that reports it.
    pub(super) fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.closing.fail(e);
        self.rx.discard();
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `owed` tests the fields `end` reads instead of calling it: the two
    /// agree on every combination of them.
    #[test]
    fn owed_is_queued_unsent_and_not_ended() {
        let normal = ControlPayload::new(&1000u16.to_be_bytes()).unwrap();
        let locals = [
            (false, ControlPayload::EMPTY),
            (true, ControlPayload::EMPTY),
            (true, normal),
        ];
        for (queued, local) in locals {
            for bits in 0..16u32 {
                for timed_out in [None, Some(Timer::Pong), Some(Timer::Close)] {
                    let c = Closing {
                        phase: Phase::LocalClose,
                        local,
                        queued,
                        sent: bits & 1 != 0,
                        remote: bits & 2 != 0,
                        failure: (bits & 4 != 0).then_some(ProtocolError::Unmasked),
                        timed_out,
                        eof: bits & 8 != 0,
                        deadline: None,
                    };
                    let by_end = (c.queued && !c.sent && c.end().is_none()).then_some(&c.local[..]);
                    assert_eq!(c.owed(), by_end, "{c:?}");
                }
            }
        }
    }
}
