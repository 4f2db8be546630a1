//! Diagnostics, behind the features `log` (hosts) and `defmt` (firmware):
//! handshake rejections with their status, how connections end (close
//! codes, timeouts, protocol errors), dropped peers. Without either
//! feature nothing is logged and nothing is compiled in.
//!
//! Messages take only numbers and `&'static str`s, which both back ends
//! format alike.

/// Logs at `$level` (`info`, `warn`, `debug`) to whichever back end is on.
macro_rules! diag {
    ($level:ident, $($arg:tt)*) => {{
        #[cfg(feature = "log")]
        log::$level!(target: "sansws", $($arg)*);
        #[cfg(feature = "defmt")]
        defmt::$level!($($arg)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        if false {
            let _ = core::format_args!($($arg)*);
        }
    }};
}
pub(crate) use diag;

#[cfg(feature = "std")]
use crate::conn::End;

/// How a connection ended, logged once by the driver's end-of-connection
/// policy.
#[cfg(feature = "std")]
pub(crate) fn ended(end: Option<End>) {
    match end {
        Some(End::Clean) => diag!(debug, "connection closed cleanly"),
        Some(End::Failed(e)) => diag!(
            debug,
            "connection failed: protocol error, closed with code {}",
            e.close_code().0
        ),
        Some(End::PongTimeout) => diag!(warn, "peer dropped: no pong within the pong timeout"),
        Some(End::CloseTimeout) => diag!(warn, "peer dropped: no close within the close timeout"),
        Some(End::Abnormal) => diag!(info, "connection lost without a close (1006)"),
        None => diag!(debug, "connection ended"),
    }
}
