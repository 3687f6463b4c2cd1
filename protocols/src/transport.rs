//! Transports, and the adapter that runs an application protocol over one.
//!
//! A transport is a [`Protocol`] like any other, with one fixed shape: its
//! commands are "send these bytes to that peer" ([`TransportCommand`]) and its
//! events are "bytes arrived from that peer", plus notes of its own
//! ([`TransportEvent`]). What it puts on the wire is its own framing (HTX
//! frames, QUIC packets); what it hands up is the application's bytes, whole.
//!
//! [`Over`] composes an application protocol `A` with a transport `T` into one
//! protocol, so the kernel still drives one value per node: the application's
//! datagrams become the transport's `Send` commands, the transport's
//! `Received` events become the application's datagrams, the transport's
//! frames go to the network, and the pair's timers merge into one. The
//! application cannot tell it is not on raw datagrams, which is the point:
//! the same GossipSub runs over [`Raw`], HTX or QUIC by a setting.
//!
//! ```
//! use protocols::ping::{Ping, PingCommand, PingConfig};
//! use protocols::transport::{Over, Raw};
//! use sim_core::{Instant, NodeId, Output, Protocol};
//!
//! let mut a = Over::new(Ping::new(NodeId(0), PingConfig::default()), Raw::default());
//! a.handle_command(Instant::ZERO, PingCommand { to: NodeId(1), size: 64 });
//! let sent: Vec<_> = std::iter::from_fn(|| a.poll_output())
//!     .filter_map(|o| match o {
//!         Output::Transmit { to, bytes } => Some((to, bytes.len())),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(sent, [(NodeId(1), 64)]);
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;

use sim_core::{BatteryLevel, Instant, NodeId, Observation, Observe, Output, Protocol};

/// What an application asks of its transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportCommand {
    /// Deliver `bytes` to `to`, as one message, with the transport's
    /// guarantees (reliable and ordered for HTX and QUIC streams).
    Send {
        /// The peer.
        to: NodeId,
        /// The application's datagram.
        bytes: Vec<u8>,
    },
}

/// What a transport reports: application bytes, or a note of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportEvent<N> {
    /// An application datagram arrived whole from `from`.
    Received {
        /// The peer.
        from: NodeId,
        /// The application's datagram, as it was sent.
        bytes: Vec<u8>,
    },
    /// Something the transport itself did (a connection set up, a
    /// retransmission, a frame rejected…), for its own metrics.
    Note(N),
}

impl<N> TransportEvent<N> {
    /// The same event with its note (if it is one) mapped through `f`: how a
    /// choice of transports reports their notes as one type.
    pub fn map_note<M>(self, f: impl FnOnce(N) -> M) -> TransportEvent<M> {
        match self {
            TransportEvent::Received { from, bytes } => TransportEvent::Received { from, bytes },
            TransportEvent::Note(n) => TransportEvent::Note(f(n)),
        }
    }
}

/// A protocol with the transport shape; each transport names its notes.
pub trait Transport:
    Protocol<Command = TransportCommand, Event = TransportEvent<<Self as Transport>::Note>>
{
    /// The transport's own notes.
    type Note;
}

/// Raw datagrams: every application datagram is sent as it is, and every
/// datagram that arrives is handed up. No framing, no reliability, no cost.
#[derive(Debug, Default)]
pub struct Raw {
    out: VecDeque<Output<TransportEvent<Infallible>>>,
}

impl Transport for Raw {
    /// Raw datagrams have nothing to note.
    type Note = Infallible;
}

impl Protocol for Raw {
    type Command = TransportCommand;
    type Event = TransportEvent<Infallible>;
    fn handle_datagram(&mut self, _now: Instant, from: NodeId, bytes: &[u8]) {
        self.out.push_back(Output::Event(TransportEvent::Received {
            from,
            bytes: bytes.to_vec(),
        }));
    }
    fn handle_command(
        &mut self,
        _now: Instant,
        TransportCommand::Send { to, bytes }: TransportCommand,
    ) {
        self.out.push_back(Output::Transmit {
            to,
            bytes: bytes.into(),
        });
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// An event of an application running over a transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layered<E, N> {
    /// The application's own event.
    App(E),
    /// The transport's note.
    Transport(N),
}

impl<E: Observe, N> Observe for Layered<E, N> {
    fn observe(&self) -> Option<Observation> {
        match self {
            Layered::App(e) => e.observe(),
            Layered::Transport(_) => None,
        }
    }
}

/// Application `A` running over transport `T`, as one protocol.
#[derive(Debug)]
pub struct Over<A: Protocol, T: Transport> {
    app: A,
    transport: T,
    out: VecDeque<Output<Layered<A::Event, T::Note>>>,
}

impl<A: Protocol, T: Transport> Over<A, T> {
    /// `app` over `transport`.
    pub fn new(app: A, transport: T) -> Self {
        Over {
            app,
            transport,
            out: VecDeque::new(),
        }
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Moves outputs between the layers until both are drained: the
    /// application's datagrams go down as `Send` commands, the transport's
    /// arrivals go up as datagrams, and what leaves either is queued.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(o) = self.app.poll_output() {
                moved = true;
                match o {
                    Output::Transmit { to, bytes } => self.transport.handle_command(
                        now,
                        TransportCommand::Send {
                            to,
                            bytes: bytes.to_vec(),
                        },
                    ),
                    Output::Event(e) => self.out.push_back(Output::Event(Layered::App(e))),
                    Output::Drop { from, len, cause } => {
                        self.out.push_back(Output::Drop { from, len, cause })
                    }
                }
            }
            while let Some(o) = self.transport.poll_output() {
                moved = true;
                match o {
                    Output::Event(TransportEvent::Received { from, bytes }) => {
                        self.app.handle_datagram(now, from, &bytes)
                    }
                    other => self.out.push_back(other.map_event(|e| match e {
                        TransportEvent::Note(n) => Layered::Transport(n),
                        TransportEvent::Received { .. } => unreachable!("matched above"),
                    })),
                }
            }
            if !moved {
                break;
            }
        }
    }
}

impl<A: Protocol, T: Transport> Protocol for Over<A, T> {
    type Command = A::Command;
    type Event = Layered<A::Event, T::Note>;

    fn handle_datagram(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        self.transport.handle_datagram(now, from, bytes);
        self.pump(now);
    }
    fn handle_command(&mut self, now: Instant, cmd: A::Command) {
        self.app.handle_command(now, cmd);
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.app.poll_timeout().is_some_and(|t| t <= now) {
            self.app.handle_timeout(now);
        }
        if self.transport.poll_timeout().is_some_and(|t| t <= now) {
            self.transport.handle_timeout(now);
        }
        self.pump(now);
    }
    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match (self.app.poll_timeout(), self.transport.poll_timeout()) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        }
    }
    fn handle_battery(&mut self, now: Instant, level: BatteryLevel) {
        self.app.handle_battery(now, level);
        self.transport.handle_battery(now, level);
        self.pump(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ping::{Ping, PingCommand, PingConfig, PingEvent};

    fn pair() -> (Over<Ping, Raw>, Over<Ping, Raw>) {
        let node = |i| Over::new(Ping::new(NodeId(i), PingConfig::default()), Raw::default());
        (node(0), node(1))
    }

    /// Runs a round trip by hand: whatever one side transmits, the other
    /// receives.
    #[test]
    fn an_application_over_raw_datagrams_behaves_as_on_the_bare_network() {
        let (mut a, mut b) = pair();
        a.handle_command(
            Instant::ZERO,
            PingCommand {
                to: NodeId(1),
                size: 40,
            },
        );
        let mut replied = false;
        let mut to_b = Vec::new();
        while let Some(o) = a.poll_output() {
            if let Output::Transmit { to, bytes } = o {
                assert_eq!(to, NodeId(1));
                to_b.push(bytes);
            }
        }
        let later = Instant::from_nanos(5_000_000);
        for bytes in to_b {
            b.handle_datagram(later, NodeId(0), &bytes);
        }
        let mut to_a = Vec::new();
        while let Some(o) = b.poll_output() {
            if let Output::Transmit { to, bytes } = o {
                assert_eq!(to, NodeId(0));
                to_a.push(bytes);
            }
        }
        let back = Instant::from_nanos(10_000_000);
        for bytes in to_a {
            a.handle_datagram(back, NodeId(1), &bytes);
        }
        while let Some(o) = a.poll_output() {
            if let Output::Event(Layered::App(PingEvent::Reply { from, .. })) = o {
                replied = from == NodeId(1);
            }
        }
        assert!(replied);
    }

    #[test]
    fn the_pair_wakes_for_whichever_layer_is_due_first() {
        let (mut a, _) = pair();
        a.handle_command(
            Instant::ZERO,
            PingCommand {
                to: NodeId(1),
                size: 40,
            },
        );
        while a.poll_output().is_some() {}
        assert_eq!(a.poll_timeout(), a.app().poll_timeout());
        assert!(a.transport().poll_timeout().is_none());
    }
}
