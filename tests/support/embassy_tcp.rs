//! The managed client's connector over embassy-net, as firmware writes it:
//! a new TCP socket to the server (10.0.0.1 on the in-memory link) at the
//! request's port for each try, Nagle off, closed (FIN) or aborted (RST)
//! when the connection is over. Shared by `tests/embassy_managed.rs`,
//! `tests/embassy_executor.rs` and `examples/doorbell.rs` through
//! `#[path]`.
#![allow(dead_code)]

use embassy_net::tcp::{ConnectError, TcpSocket};
use embassy_net::{Ipv4Address, Stack};
use sansws::adapter::embassy::Connect;
use sansws::handshake::ClientRequest;

/// The server's address on the link.
pub const SERVER: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);

/// A connector with its socket's buffers (`B` bytes each way).
pub struct Tcp<'d, const B: usize> {
    stack: Stack<'d>,
    rx: [u8; B],
    tx: [u8; B],
}

impl<'d, const B: usize> Tcp<'d, B> {
    pub fn new(stack: Stack<'d>) -> Self {
        Self {
            stack,
            rx: [0; B],
            tx: [0; B],
        }
    }
}

impl<const B: usize> Connect for Tcp<'_, B> {
    type Io<'a>
        = TcpSocket<'a>
    where
        Self: 'a;
    type Error = ConnectError;

    async fn connect(&mut self, req: &ClientRequest<'_>) -> Result<TcpSocket<'_>, ConnectError> {
        let mut s = TcpSocket::new(self.stack, &mut self.rx, &mut self.tx);
        // Each frame goes at once (as ESP-IDF's TCP_NODELAY).
        s.set_nagle_enabled(false);
        s.connect((SERVER, req.port)).await?;
        Ok(s)
    }

    async fn disconnect<'a>(mut io: TcpSocket<'a>, graceful: bool)
    where
        Self: 'a,
    {
        if graceful {
            io.close();
        } else {
            io.abort();
        }
        let _ = embedded_io_async::Write::flush(&mut io).await;
    }
}
