//! Timers, on instants the caller passes in: the keepalive ping, the pong
//! it awaits, and (kept by [`Closing`](super::lifecycle)) the close
//! timeout. The connection never reads a clock.

use super::lifecycle::Timer;
use super::{Core, Duration, Instant};

/// The keepalive's timers.
#[derive(Debug, Clone)]
pub(super) struct Timers {
    /// When the next keepalive ping is due.
    next_ping: Option<Instant>,
    /// When the pong to the last keepalive ping must have come.
    pong_deadline: Option<Instant>,
}

impl Timers {
    pub(super) fn new(now: Instant, ping_interval: Option<Duration>) -> Self {
        Self {
            next_ping: ping_interval.map(|i| now + i),
            pong_deadline: None,
        }
    }

    /// A keepalive ping went out at `now`: a pong is due within `timeout`
    /// (the first unanswered ping's deadline stands).
    pub(super) fn keepalive_sent(&mut self, now: Instant, timeout: Duration) {
        if self.pong_deadline.is_none() {
            self.pong_deadline = Some(now + timeout);
        }
    }

    /// Any pong answers the keepalive (RFC 6455 section 5.5.3 allows
    /// unsolicited pongs; a live peer is what matters).
    pub(super) fn pong_received(&mut self) {
        self.pong_deadline = None;
    }
}

/// The earlier of two instants, either maybe absent (straight-line code
/// where an iterator over the three timers took 140 instructions).
fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Core {
    /// When [`Core::handle_timeout`] should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let ping = if self.closing.is_open() {
            self.timers.next_ping
        } else {
            None
        };
        earlier(
            earlier(ping, self.timers.pong_deadline),
            self.closing.deadline(),
        )
    }

    /// The clock reached (or passed) [`Core::poll_timeout`]: queues a
    /// keepalive ping when due, or ends the connection when the peer failed
    /// to answer a ping or a close in time. Calling it early does nothing
    /// but what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        let due = |t: Option<Instant>| t.is_some_and(|t| now >= t);
        let timer = if due(self.closing.deadline()) {
            Timer::Close
        } else if due(self.timers.pong_deadline) {
            Timer::Pong
        } else {
            if let (Some(t), Some(interval)) = (self.timers.next_ping, self.config.ping_interval)
                && now >= t
            {
                self.timers.next_ping = Some(now + interval);
                if self.closing.is_open() {
                    self.control.queue_keepalive();
                }
            }
            return;
        };
        // One place where a timer ends the connection.
        self.closing.time_out(timer);
        self.rx.discard();
    }
}
