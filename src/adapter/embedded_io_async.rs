//! Async WebSocket over `embedded_io_async::{Read, Write}` (feature
//! `embedded-io-async`): for embassy-net sockets and other async
//! transports; no_std, no alloc, caller buffers. The same API as the
//! [blocking adapter](super::embedded_io), with `async` methods; both run
//! on the same sans-IO session, so only the reads and writes differ.

use embedded_io::ErrorKind;
use embedded_io_async::{ErrorType, Read, Write};

pub use super::driver::handshake::Decision;
use super::driver::handshake::{self as steps, ServerStep, Then};
use super::driver::{FrameOut, Latch, RxBuf, Session};
pub use super::embedded_io::Error;
use crate::conn::{
    Config, Connection, DataKind, End, Event, Instant, MaskKeys, MessagePart, NoMasking, State,
};
use crate::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, HttpResponse, Request, UpgradeRequest,
};
use crate::wire::CloseCode;

super::embedded::embedded_adapter!([async] [.await]);
