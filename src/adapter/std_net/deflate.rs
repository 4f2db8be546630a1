//! permessage-deflate on hosts (feature `deflate`): the options, and the
//! two halves a socket keeps, each made when first needed: the inflater
//! of what the peer sends ([`Inflating`]) and the compressor of what this
//! end sends ([`Compressing`]).

use std::boxed::Box;
use std::vec;
use std::vec::Vec;

use crate::conn::deflate::{Deflater, Inflater};
use crate::conn::{Connection, Data, ProtocolError, Role};
use crate::handshake::deflate::{DeflateElement, DeflateParams, DeflatePolicy};

use super::Keys;
use super::socket::Io;

/// permessage-deflate's settings, in [`Options::deflate`](super::Options::deflate).
///
/// On by default on hosts: every browser offers it, Python's `websockets`
/// asks for it, and JSON shrinks about 3x. What it costs is memory, and
/// only once used: the inflater (10.3 KiB of state and a ring of the
/// peer's window, at most 32 KiB) when the first compressed message
/// arrives, the compressor (312 KiB, and its last output) when the first
/// message is sent (the table in [`conn::deflate`](crate::conn::deflate)).
/// A server with many connections that send little can keep the
/// compressor off ([`compress`](Self::compress) `false`: it then sends
/// uncompressed, which the extension allows) and still take compressed
/// messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateOptions {
    /// Compress the messages this end sends (otherwise they go
    /// uncompressed, which the peer must accept).
    pub compress: bool,
    /// Compression level, 0 (stored) to 10 (default
    /// [`Deflater::LEVEL`]).
    pub level: u8,
    /// The largest window of the peer this end inflates, 8 to 15 bits:
    /// the inflater's ring is `2^bits` bytes. Under 15, a client asks the
    /// server for `server_max_window_bits`, and a server declines offers
    /// that cannot be kept to it.
    pub max_window_bits: u8,
    /// This end resets its compressor after each message
    /// (`*_no_context_takeover` for its side): smaller gains, no history
    /// kept between messages.
    pub no_context_takeover: bool,
    /// Ask the peer to reset its compressor after each message.
    pub request_no_context_takeover: bool,
}

impl Default for DeflateOptions {
    fn default() -> Self {
        Self {
            compress: true,
            level: Deflater::LEVEL,
            max_window_bits: 15,
            no_context_takeover: false,
            request_no_context_takeover: false,
        }
    }
}

impl DeflateOptions {
    /// A client's offer: the peer's window limited as
    /// [`max_window_bits`](Self::max_window_bits) says, and this end's
    /// window left for the server to limit (any limit is kept).
    pub fn offer(&self) -> DeflateElement {
        let bits = self.max_window_bits.clamp(8, 15);
        DeflateElement {
            server_no_context_takeover: self.request_no_context_takeover,
            client_no_context_takeover: self.no_context_takeover,
            server_max_window_bits: (bits < 15).then_some(bits),
            client_max_window_bits: Some(None),
        }
    }

    /// A server's policy: any window asked of this end is kept; the
    /// client's is limited to [`max_window_bits`](Self::max_window_bits).
    pub fn policy(&self) -> DeflatePolicy {
        DeflatePolicy {
            server_max_window_bits: 15,
            client_max_window_bits: self.max_window_bits.clamp(8, 15),
            server_no_context_takeover: self.no_context_takeover,
            client_no_context_takeover: self.request_no_context_takeover,
        }
    }
}

/// The receiving half: the inflater, and the compressed chunk being
/// inflated (copied out of the read buffer, so that its inflated chunks
/// can be handed out one call at a time).
#[derive(Debug, Default)]
pub(crate) struct Inflating {
    /// Boxed, made at the first compressed message: a connection that
    /// never gets one carries a pointer, not 10 KiB of state.
    inflater: Option<Box<Inflater<Box<[u8]>>>>,
    /// permessage-deflate was agreed: only then is a chunk looked at for
    /// compression (the uncompressed read path does not touch it).
    on: bool,
    chunk: Option<Data<'static>>,
    input: Vec<u8>,
    used: usize,
}

impl Inflating {
    /// permessage-deflate was agreed: compressed chunks may come.
    pub(crate) fn agreed(&mut self) {
        self.on = true;
    }

    /// Whether permessage-deflate was agreed.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Whether a compressed chunk is being inflated.
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.chunk.is_some()
    }

    /// Takes the compressed chunk `d` to inflate, with the inflater made
    /// for `conn`'s agreement if this is the first.
    // Out of line, as `next`: the uncompressed read path stays small.
    #[inline(never)]
    pub(crate) fn start(&mut self, d: &Data<'_>, conn: &Connection<Keys>) {
        if self.inflater.is_none() {
            self.inflater = Some(new_inflater(conn));
        }
        self.input.clear();
        self.input.extend_from_slice(d.payload);
        self.used = 0;
        self.chunk = Some(d.with_payload(&[]));
    }

    /// The next inflated chunk of the pending one; `None` once it is
    /// done. An error has failed the connection.
    #[inline(never)]
    pub(crate) fn next<I: Io>(&mut self, io: &mut I) -> Result<Option<Data<'_>>, ProtocolError> {
        let (Some(d), Some(inflater)) = (self.chunk, self.inflater.as_mut()) else {
            self.chunk = None;
            return Ok(None);
        };
        let input = &self.input[self.used..];
        let used = &mut self.used;
        let r = io.with_conn(move |c| inflater.inflate(c, &d, input, used));
        match r {
            Ok(Some(chunk)) => Ok(Some(chunk)),
            Ok(None) => {
                self.chunk = None;
                Ok(None)
            }
            Err(e) => {
                self.chunk = None;
                Err(e)
            }
        }
    }
}

/// An inflater for `conn`'s agreement: once per connection, out of line
/// (its state is built on the stack on its way into the box, which must
/// not be in the read path's frame).
#[cold]
#[inline(never)]
fn new_inflater(conn: &Connection<Keys>) -> Box<Inflater<Box<[u8]>>> {
    let bits = conn
        .deflate()
        .map_or(15, |p| p.peer_window_bits(conn.role()));
    let ring = vec![0u8; 1 << bits.clamp(8, 15)].into_boxed_slice();
    Box::new(Inflater::new(ring))
}

/// The sending half: the compressor, made at the first send.
#[derive(Debug)]
pub(crate) struct Compressing {
    opts: Option<DeflateOptions>,
    deflater: Option<Deflater>,
    /// The compressor is out, at work outside a lock (split sockets).
    busy: bool,
}

impl Compressing {
    pub(crate) fn new(opts: Option<DeflateOptions>) -> Self {
        Self {
            opts,
            deflater: None,
            busy: false,
        }
    }

    /// This end compresses what it sends, if permessage-deflate is agreed.
    #[inline(always)]
    pub(crate) fn compresses(&self) -> bool {
        matches!(self.opts, Some(o) if o.compress)
    }

    /// The compressor for `role`'s side of `params` (the agreement, if
    /// any), if this end compresses.
    pub(crate) fn deflater(
        &mut self,
        params: Option<DeflateParams>,
        role: Role,
    ) -> Option<&mut Deflater> {
        let opts = self.opts.filter(|o| o.compress)?;
        let params = params?;
        if self.deflater.is_none() {
            let (bits, reset) = match role {
                Role::Client => (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
                Role::Server => (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
            };
            self.deflater = Some(Deflater::with_level(bits, reset, opts.level));
        }
        self.deflater.as_mut()
    }

    /// The compressor taken out to work outside the lock, if this end
    /// compresses; [`put`](Self::put) brings it back.
    pub(crate) fn take(&mut self, params: Option<DeflateParams>, role: Role) -> Option<Deflater> {
        self.deflater(params, role)?;
        self.busy = true;
        self.deflater.take()
    }

    /// The compressor back from [`take`](Self::take).
    pub(crate) fn put(&mut self, z: Deflater) {
        self.deflater = Some(z);
        self.busy = false;
    }

    /// Whether the compressor is out.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy
    }

    /// The buffer a compressed payload was taken out of, for the next.
    pub(crate) fn give_back(&mut self, payload: Vec<u8>) {
        if let Some(z) = &mut self.deflater {
            z.give_back(payload);
        }
    }
}
