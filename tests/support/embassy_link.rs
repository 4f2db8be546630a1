//! Two embassy-net stacks joined in memory: an `embassy_net_driver::Driver`
//! for each end of a pair of IP packet queues (`Medium::Ip`: no Ethernet,
//! no ARP). Shared by `tests/embassy_net.rs` and the `embassy_firmware`
//! example through `#[path]`.
//!
//! The link can be cut ([`Link::cut`]): from then on every packet is
//! dropped, both ways, as when a device's Wi-Fi goes: the peer's stack
//! hears nothing, not even a reset.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::vec::Vec;

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState, RxToken, TxToken};

/// The IP MTU of the link.
pub const MTU: usize = 1500;

/// Packets on their way to one end, and that end's waiting runner.
#[derive(Default)]
struct Queue {
    packets: VecDeque<Vec<u8>>,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Shared {
    /// `to[i]`: the packets on their way to end `i`.
    to: [Mutex<Queue>; 2],
    cut: AtomicBool,
    /// Packets carried (not dropped), both ways.
    carried: AtomicUsize,
}

/// A handle on the link between the two ends: to cut it.
#[derive(Clone)]
pub struct Link(Arc<Shared>);

impl Link {
    /// From now on every packet is dropped, both ways.
    pub fn cut(&self) {
        self.0.cut.store(true, Ordering::SeqCst);
        for q in &self.0.to {
            q.lock().unwrap().packets.clear();
        }
    }

    /// Packets carried so far.
    pub fn carried(&self) -> usize {
        self.0.carried.load(Ordering::SeqCst)
    }
}

/// One end of the link: the network device of one stack.
pub struct Port {
    shared: Arc<Shared>,
    me: usize,
}

/// Two joined ports, and the link's handle.
pub fn pair() -> (Port, Port, Link) {
    let shared = Arc::new(Shared::default());
    (
        Port {
            shared: shared.clone(),
            me: 0,
        },
        Port {
            shared: shared.clone(),
            me: 1,
        },
        Link(shared),
    )
}

/// A received packet.
pub struct Rx(Vec<u8>);

/// The right to send one packet to the other end.
pub struct Tx<'a> {
    shared: &'a Shared,
    peer: usize,
}

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0u8; len];
        let r = f(&mut packet);
        if !self.shared.cut.load(Ordering::SeqCst) {
            self.shared.carried.fetch_add(1, Ordering::SeqCst);
            let mut q = self.shared.to[self.peer].lock().unwrap();
            q.packets.push_back(packet);
            if let Some(w) = q.waker.take() {
                w.wake();
            }
        }
        r
    }
}

impl Driver for Port {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context) -> Option<(Rx, Tx<'_>)> {
        let mut q = self.shared.to[self.me].lock().unwrap();
        match q.packets.pop_front() {
            Some(p) => Some((
                Rx(p),
                Tx {
                    shared: &self.shared,
                    peer: 1 - self.me,
                },
            )),
            None => {
                q.waker = Some(cx.waker().clone());
                None
            }
        }
    }

    fn transmit(&mut self, _cx: &mut Context) -> Option<Tx<'_>> {
        // The queues are unbounded: always room.
        Some(Tx {
            shared: &self.shared,
            peer: 1 - self.me,
        })
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ip
    }
}

/// A static IPv4 configuration: `10.0.0.<host>/24`, no gateway.
pub fn ipv4(host: u8) -> embassy_net::Config {
    embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: embassy_net::Ipv4Cidr::new(embassy_net::Ipv4Address::new(10, 0, 0, host), 24),
        gateway: None,
        dns_servers: Default::default(),
    })
}
