//! The host's managed client against our own server on loopback (the
//! Python `websockets` runs are in tests/interop): events through a
//! channel, in order, for a connection closed by the client; sends from
//! the handler through its handle; a server that closes is reconnected
//! to.
#![cfg(feature = "std")]

use std::net::TcpListener;
use std::sync::mpsc::Receiver;
use std::thread;
use std::time::Duration;

use sansws::adapter::std_net::{
    self, Accepted, ClientEvent, Closed, Disconnect, ManagedClient, ManagedConfig,
};
use sansws::wire::CloseCode;

/// An echo server on an ephemeral port for `conns` connections; the
/// `n`th closes with 1001 after its first message if `going_away(n)`.
fn server(conns: usize, going_away: fn(usize) -> bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for n in 0..conns {
            let (tcp, _) = listener.accept().unwrap();
            let Ok(Accepted::WebSocket(mut ws)) = std_net::accept(tcp, &Default::default()) else {
                continue;
            };
            while let Ok(Some(msg)) = ws.read() {
                if msg.is_data() {
                    let _ = ws.send(&msg);
                    if going_away(n) {
                        let _ = ws.close(CloseCode::GOING_AWAY, "restarting");
                    }
                }
            }
        }
    });
    port
}

fn next(rx: &Receiver<ClientEvent<'static>>) -> ClientEvent<'static> {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("an event within 10 s")
}

fn config(port: u16) -> ManagedConfig {
    let mut c = ManagedConfig::new(&format!("ws://127.0.0.1:{port}/")).unwrap();
    c.reconnect.delay = Duration::from_millis(50);
    c
}

#[test]
fn events_through_a_channel_in_order_and_a_close() {
    let port = server(1, |_| false);
    let (client, rx) = ManagedClient::start_channel(config(port)).unwrap();
    assert!(matches!(
        next(&rx),
        ClientEvent::Connected { protocol: None }
    ));
    client.send_text("hello", Duration::from_secs(1)).unwrap();
    match next(&rx) {
        ClientEvent::Data(d) => {
            assert_eq!(&*d.chunk, b"hello");
            assert!(d.message_start && d.message_end && d.fin);
            assert_eq!((d.offset, d.frame_len, d.message_offset), (0, 5, 0));
        }
        other => panic!("expected the echo, got {other:?}"),
    }
    client
        .close(CloseCode::NORMAL, "bye", Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        next(&rx),
        ClientEvent::Disconnected(Disconnect::ClosedByClient { clean: true })
    );
    assert_eq!(
        next(&rx),
        ClientEvent::Closed(Closed::Closed { clean: true })
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "nothing after Closed"
    );
    assert!(client.is_finished());
    assert!(matches!(
        client.send_text("late", Duration::from_secs(1)),
        Err(std_net::Error::NotConnected)
    ));
}

#[test]
fn the_handler_sends_through_its_handle_and_a_server_close_is_reconnected_to() {
    // The first connection's server says 1001 after the first echo; the
    // second stays.
    let port = server(2, |n| n == 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let client = ManagedClient::start_with(config(port), move |h, e| {
        if let ClientEvent::Connected { .. } = e {
            // A subscription, sent from the handler.
            h.send_text("subscribe", Duration::from_secs(1)).unwrap();
        }
        tx.send(e.into_owned()).unwrap();
    })
    .unwrap();
    assert!(matches!(next(&rx), ClientEvent::Connected { .. }));
    assert!(matches!(next(&rx), ClientEvent::Data(d) if &*d.chunk == b"subscribe"));
    assert_eq!(
        next(&rx),
        ClientEvent::Disconnected(Disconnect::ServerClosed {
            code: Some(CloseCode::GOING_AWAY),
            reason: "restarting".into()
        })
    );
    assert!(matches!(next(&rx), ClientEvent::Connected { .. }));
    assert!(matches!(next(&rx), ClientEvent::Data(d) if &*d.chunk == b"subscribe"));
    client.stop();
    assert_eq!(next(&rx), ClientEvent::Disconnected(Disconnect::Stopped));
    assert_eq!(next(&rx), ClientEvent::Closed(Closed::Stopped));
}
