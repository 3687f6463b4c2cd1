//! The seed's WebSocket transport, as a relay through a server node: the
//! client side every manager may hold, and the server side a manager
//! configured to serve runs too.
//!
//! ```text
//! client → server:  'F' | recipient (u32) | message …
//! server → client:  'V' | sender (u32)    | message …
//! ```
//!
//! A client sends each message to the server with its recipient; the
//! server forwards it with its sender; the recipient's client hands it up
//! as from the sender. Each relay frame stands for one WebSocket binary
//! message on a connection already open; there is no HTTP upgrade, masking
//! or WebSocket header (a departure: what is measured is the detour through
//! the server, and a WebSocket's own few bytes of framing would not change
//! it), and no reliability below the manager's own acknowledgements (a
//! WebSocket runs over TCP; here the relay's frames are datagrams).

use std::collections::VecDeque;

use sim_core::{DropCause, Instant, NodeId, Output, Protocol};

use crate::bytes::read;
use crate::transport::{Transport, TransportCommand, TransportEvent};

/// A relay frame's header length.
pub const HEADER_LEN: usize = 5;
const FORWARD: u8 = b'F';
const DELIVER: u8 = b'V';

/// What the relay reports besides messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayNote {
    /// This node, serving, forwarded `len` bytes from `from` to `to`.
    Forwarded {
        /// The sender.
        from: NodeId,
        /// The recipient.
        to: NodeId,
        /// The message's length.
        len: usize,
    },
}

/// One node's relay endpoint: a client of `server`, and a server too when
/// `serving`.
#[derive(Debug)]
pub struct Relay {
    id: NodeId,
    server: Option<NodeId>,
    serving: bool,
    out: VecDeque<Output<TransportEvent<RelayNote>>>,
}

impl Transport for Relay {
    type Note = RelayNote;
}

fn frame(op: u8, peer: NodeId, message: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + message.len());
    bytes.push(op);
    bytes.extend_from_slice(&peer.0.to_be_bytes());
    bytes.extend_from_slice(message);
    bytes
}

impl Relay {
    /// Node `id`'s endpoint, relaying through `server` (none: it cannot
    /// send), serving others' messages if `serving`.
    pub fn new(id: NodeId, server: Option<NodeId>, serving: bool) -> Self {
        Relay {
            id,
            server,
            serving,
            out: VecDeque::new(),
        }
    }

    /// Hands `message` from `from` on to `to`, as the server.
    fn forward(&mut self, from: NodeId, to: NodeId, message: &[u8]) {
        if to == self.id {
            let bytes = message.to_vec();
            self.out
                .push_back(Output::Event(TransportEvent::Received { from, bytes }));
            return;
        }
        let len = message.len();
        self.out.push_back(Output::Transmit {
            to,
            bytes: frame(DELIVER, from, message).into(),
        });
        self.out
            .push_back(Output::Event(TransportEvent::Note(RelayNote::Forwarded {
                from,
                to,
                len,
            })));
    }
}

impl Protocol for Relay {
    type Command = TransportCommand;
    type Event = TransportEvent<RelayNote>;

    fn handle_datagram(&mut self, _now: Instant, from: NodeId, bytes: &[u8]) {
        let len = bytes.len();
        if len < HEADER_LEN {
            self.out.push_back(Output::Drop {
                from,
                len,
                cause: DropCause::Malformed,
            });
            return;
        }
        let peer = NodeId(u32::from_be_bytes(read(bytes, 1..5)));
        let message = &bytes[HEADER_LEN..];
        match bytes[0] {
            FORWARD if self.serving => self.forward(from, peer, message),
            FORWARD => self.out.push_back(Output::Drop {
                from,
                len,
                cause: DropCause::NoRoute,
            }),
            DELIVER if Some(from) == self.server => {
                self.out.push_back(Output::Event(TransportEvent::Received {
                    from: peer,
                    bytes: message.to_vec(),
                }))
            }
            _ => self.out.push_back(Output::Drop {
                from,
                len,
                cause: DropCause::Malformed,
            }),
        }
    }

    /// Sends through the server (served at once if this node is the
    /// server); without a server, the message is dropped as
    /// [`DropCause::NoRoute`].
    fn handle_command(
        &mut self,
        _now: Instant,
        TransportCommand::Send { to, bytes }: TransportCommand,
    ) {
        match self.server {
            Some(server) if server == self.id => self.forward(self.id, to, &bytes),
            Some(server) => self.out.push_back(Output::Transmit {
                to: server,
                bytes: frame(FORWARD, to, &bytes).into(),
            }),
            None => self.out.push_back(Output::Drop {
                from: self.id,
                len: bytes.len(),
                cause: DropCause::NoRoute,
            }),
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_output(&mut self) -> Option<Output<Self::Event>> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(relay: &mut Relay) -> Vec<Output<TransportEvent<RelayNote>>> {
        std::iter::from_fn(|| relay.poll_output()).collect()
    }

    #[test]
    fn a_message_goes_through_the_server_and_arrives_as_from_its_sender() {
        let (a, s, b) = (NodeId(0), NodeId(5), NodeId(1));
        let mut client = Relay::new(a, Some(s), false);
        let mut server = Relay::new(s, Some(s), true);
        let mut other = Relay::new(b, Some(s), false);
        let t = Instant::ZERO;
        client.handle_command(
            t,
            TransportCommand::Send {
                to: b,
                bytes: b"hi".to_vec(),
            },
        );
        let [Output::Transmit { to, bytes }] = &drain(&mut client)[..] else {
            panic!()
        };
        assert_eq!(*to, s);
        server.handle_datagram(t, a, bytes);
        let out = drain(&mut server);
        let Output::Transmit { to, bytes } = &out[0] else {
            panic!()
        };
        assert_eq!(*to, b);
        other.handle_datagram(t, s, bytes);
        let received = TransportEvent::Received {
            from: a,
            bytes: b"hi".to_vec(),
        };
        assert_eq!(drain(&mut other), [Output::Event(received)]);
        // A deliver frame from a node that is not the server is refused,
        // and so is a forward to a node that does not serve.
        other.handle_datagram(t, a, bytes);
        client.handle_datagram(t, b, &frame(FORWARD, a, b"x"));
        assert!(matches!(
            drain(&mut other)[..],
            [Output::Drop {
                cause: DropCause::Malformed,
                ..
            }]
        ));
        assert!(matches!(
            drain(&mut client)[..],
            [Output::Drop {
                cause: DropCause::NoRoute,
                ..
            }]
        ));
    }
}
