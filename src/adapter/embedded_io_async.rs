//! Async WebSocket over `embedded_io_async::{Read, Write}` (feature
//! `embedded-io-async`): for embassy-net sockets and other async
//! transports; no_std, no alloc, caller buffers. The same API as the
//! [blocking adapter](super::embedded_io), with `async` methods, the same
//! [`ServerOptions`] / [`ClientOptions`] and [`Error`]; both run on the
//! same sans-IO session, so only the reads and writes differ.
//!
//! # Time and timeouts
//!
//! As in the [blocking adapter](super::embedded_io#time-and-timeouts): the
//! clock is read wherever time is stamped or checked, and a transport read
//! that fails with `TimedOut` runs the timers and reads again.

use embedded_io::ErrorKind;
use embedded_io_async::{ErrorType, Read, Write};

pub use super::driver::handshake::Decision;
use super::driver::handshake::{self as steps, ServerStep, Then};
use super::driver::{Latch, RxBuf, Session};
pub use super::embedded_io::{ClientOptions, Error, ServerOptions};
use crate::conn::{
    Connection, DataKind, Duration, End, Event, Instant, MaskKeys, MessagePart, NoMasking, State,
};
use crate::handshake::{ClientHandshake, HandshakeError, HttpResponse, Request, UpgradeRequest};
use crate::wire::CloseCode;

super::embedded::embedded_adapter!([async] [.await]);
