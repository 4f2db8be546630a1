//! Adapters: thin drive loops that wire the sans-IO core to real
//! transports. Each sits behind a feature.
//!
//! - [`std_net`] (feature `std`): blocking client and server over any
//!   `Read + Write` stream, with `TcpStream` conveniences.

#[cfg(feature = "std")]
pub mod std_net;
