//! Control frames we owe the peer (RFC 6455 section 5.5): pongs, pings
//! (ours or keepalive), and our close, handed out one at a time by
//! [`Connection::poll_transmit`](super::Connection::poll_transmit).
//!
//! Order: a pong first (an answer is due), then a ping, then our close,
//! after which nothing more is sent. Pongs and pings go out only while the
//! connection is open (no close started, not ended): that rule lives here,
//! in [`Core::wants_transmit`], and nowhere else. Nothing is handed out
//! while the caller is writing a data frame's payload, so a control frame
//! never lands inside one.

use crate::BufferTooSmall;
use crate::wire::{ControlPayload, OpCode};

use super::{Core, Instant, MaskKeys, SendError};

/// The pong and ping waiting to be sent.
#[derive(Debug, Clone)]
pub(super) struct Control {
    pong: Option<ControlPayload>,
    /// A ping, and whether it is the keepalive's (which arms the pong
    /// deadline when sent).
    ping: Option<(ControlPayload, bool)>,
}

impl Control {
    pub(super) const fn new() -> Self {
        Self {
            pong: None,
            ping: None,
        }
    }

    /// Whether a pong or a ping is waiting.
    #[inline]
    fn is_waiting(&self) -> bool {
        self.pong.is_some() || self.ping.is_some()
    }

    /// Answers a ping (replacing an answer not sent yet: only the latest
    /// ping needs one, RFC 6455 section 5.5.3).
    pub(super) fn queue_pong(&mut self, payload: ControlPayload) {
        self.pong = Some(payload);
    }

    /// Queues the keepalive's ping, unless a ping is waiting already.
    pub(super) fn queue_keepalive(&mut self) {
        if self.ping.is_none() {
            self.ping = Some((ControlPayload::EMPTY, true));
        }
    }
}

impl Core {
    /// Queues a ping (at most 125 bytes of payload) for
    /// [`Connection::poll_transmit`](super::Connection::poll_transmit);
    /// replaces a ping still queued.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        let p = self.control_payload(payload)?;
        self.control.ping = Some((p, false));
        Ok(())
    }

    /// Queues a pong (an answer when
    /// [`Config::auto_pong`](super::Config::auto_pong) is off, or an
    /// unsolicited heartbeat); replaces a pong still queued.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        let p = self.control_payload(payload)?;
        self.control.queue_pong(p);
        Ok(())
    }

    fn control_payload(&self, payload: &[u8]) -> Result<ControlPayload, SendError> {
        self.closing.check_open()?;
        ControlPayload::new(payload).ok_or(SendError::ControlTooLong)
    }

    /// Whether [`Connection::poll_transmit`](super::Connection::poll_transmit)
    /// has a frame to hand out now.
    #[inline]
    pub fn wants_transmit(&self) -> bool {
        !self.tx.is_payload_owed() && (self.pings_owed() || self.closing.owed().is_some())
    }

    /// Whether a pong or ping is owed: one is waiting and the connection is
    /// open (after a close, ours or the peer's, or the end, nothing but our
    /// close is sent).
    #[inline]
    fn pings_owed(&self) -> bool {
        self.control.is_waiting() && self.closing.is_open()
    }

    /// [`Connection::poll_transmit`](super::Connection::poll_transmit).
    pub(super) fn transmit(
        &mut self,
        now: Instant,
        out: &mut [u8],
        keys: &mut dyn MaskKeys,
    ) -> Result<Option<usize>, BufferTooSmall> {
        // `wants_transmit`, with the close's part left to the end.
        if self.tx.is_payload_owed() {
            return Ok(None);
        }
        // A pong, else a ping, while open (`pings_owed`), else our close:
        // then one write for the three kinds of frame.
        let c = &self.control;
        let (opcode, payload): (OpCode, &[u8]) = match (self.closing.is_open(), &c.pong, &c.ping) {
            (true, Some(p), _) => (OpCode::Pong, p),
            (true, None, Some((p, _))) => (OpCode::Ping, p),
            _ => match self.closing.owed() {
                Some(p) => (OpCode::Close, p),
                None => return Ok(None),
            },
        };
        let n = self.write_frame(opcode, true, payload, out, keys)?;
        if opcode == OpCode::Pong {
            self.control.pong = None;
        } else if opcode == OpCode::Ping {
            if matches!(self.control.ping, Some((_, true))) {
                self.timers.keepalive_sent(now, self.config.pong_timeout);
            }
            self.control.ping = None;
        } else {
            self.closing.transmitted(now + self.config.close_timeout);
        }
        Ok(Some(n))
    }
}
