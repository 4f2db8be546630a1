//! permessage-deflate on the embedded adapters: an [`Inflater`] the
//! caller lends, fed the compressed chunks the connection hands out
//! while they are still in the read buffer (no copy, no allocation).

use crate::conn::deflate::Inflater;
use crate::conn::{Core, Data, ProtocolError};

/// An [`Inflater`] of any ring, behind one pointer: a `WebSocket` keeps
/// one type whatever ring the caller lent.
pub(crate) trait Inflate {
    fn window_bits(&self) -> u8;
    fn reset(&mut self);
    fn inflate<'s>(
        &'s mut self,
        conn: &mut Core,
        d: &Data<'_>,
        input: &[u8],
        consumed: &mut usize,
    ) -> Result<Option<Data<'s>>, ProtocolError>;
}

impl<B: AsMut<[u8]>> Inflate for Inflater<B> {
    fn window_bits(&self) -> u8 {
        Inflater::window_bits(self)
    }

    fn reset(&mut self) {
        Inflater::reset(self)
    }

    fn inflate<'s>(
        &'s mut self,
        conn: &mut Core,
        d: &Data<'_>,
        input: &[u8],
        consumed: &mut usize,
    ) -> Result<Option<Data<'s>>, ProtocolError> {
        Inflater::inflate(self, conn, d, input, consumed)
    }
}

/// The receive side of an agreed permessage-deflate: the lent inflater
/// and the compressed chunk being inflated (its payload is the read
/// buffer's last chunk, which stays in place until it is all taken).
pub(crate) struct Inflating<'b> {
    inflater: &'b mut (dyn Inflate + 'b),
    pending: Option<Data<'static>>,
    used: usize,
}

impl<'b> Inflating<'b> {
    pub(crate) fn new(inflater: &'b mut (dyn Inflate + 'b)) -> Self {
        Self {
            inflater,
            pending: None,
            used: 0,
        }
    }

    /// Takes the compressed chunk `d` (the read buffer's last) to
    /// inflate; [`Self::next`] hands out what it inflates to.
    pub(crate) fn start(&mut self, d: &Data<'_>) {
        self.pending = Some(d.with_payload(&[]));
        self.used = 0;
    }

    /// Whether a compressed chunk is being inflated.
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The next inflated chunk of the pending one, whose compressed bytes
    /// are `chunk`; `None` once it is done. An error has failed `conn`.
    pub(crate) fn next(
        &mut self,
        conn: &mut Core,
        chunk: &[u8],
    ) -> Result<Option<Data<'_>>, ProtocolError> {
        let Some(d) = self.pending else {
            return Ok(None);
        };
        let input = chunk.get(self.used..).unwrap_or_default();
        match self.inflater.inflate(conn, &d, input, &mut self.used) {
            Ok(Some(out)) => Ok(Some(out)),
            Ok(None) => {
                self.pending = None;
                Ok(None)
            }
            Err(e) => {
                self.pending = None;
                Err(e)
            }
        }
    }
}
