//! A tiny in-test network: a `Vec` of protocol values and the datagrams in
//! flight between them, routed by hand with no link model.
//!
//! Every `handle_*` call is followed by draining `poll_output`, as the
//! driver's loop requires, and every output is recorded with the number of the
//! call that produced it, so tests can tell a relay from an origin and count
//! how often a node acted on one message. Datagrams are delivered first-in
//! first-out, or in a seeded random order; time moves only when a test says.
//! A test can also lose a seeded random share of the datagrams, take nodes
//! down (they receive nothing and wake for nothing), and deliver in
//! lockstep rounds ([`TestNet::step`]).
//!
//! A network given radio links ([`TestNet::with_links`]) delivers a
//! link-layer broadcast ([`NodeId::BROADCAST`]) as one copy to each node
//! linked to the sender, and a unicast only to a linked node; without links,
//! a unicast goes wherever it is addressed and a broadcast reaches no one,
//! as in the kernel's models without links. [`TestNet::run_until`] lets
//! virtual time run, waking nodes at their deadlines.

use std::collections::{BTreeSet, VecDeque};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim_core::{BatteryLevel, Datagram, Instant, NodeId, Output, Protocol};

/// An output, with who produced it and during which input.
#[derive(Debug)]
pub(crate) struct Record<E> {
    /// Which `handle_*` call, counting from 0 over the whole network.
    pub(crate) call: usize,
    /// The node that produced it.
    pub(crate) node: NodeId,
    /// The virtual time of the call.
    pub(crate) at: Instant,
    /// The output itself.
    pub(crate) output: Output<E>,
}

/// A datagram sent but not yet handed to its receiver.
#[derive(Debug)]
struct InFlight {
    from: NodeId,
    to: NodeId,
    bytes: Datagram,
}

/// Protocols indexed by node id, and what travels between them.
#[derive(Debug)]
pub(crate) struct TestNet<P: Protocol> {
    pub(crate) nodes: Vec<P>,
    pub(crate) now: Instant,
    pub(crate) log: Vec<Record<P::Event>>,
    in_flight: VecDeque<InFlight>,
    reorder: Option<ChaCha8Rng>,
    loss: Option<(u64, ChaCha8Rng)>,
    down: BTreeSet<NodeId>,
    links: Option<Vec<BTreeSet<NodeId>>>,
    calls: usize,
}

impl<P: Protocol> TestNet<P> {
    /// A network of `nodes`, node `i` being `NodeId(i)`, at time zero.
    pub(crate) fn new(nodes: Vec<P>) -> Self {
        TestNet {
            nodes,
            now: Instant::ZERO,
            log: Vec::new(),
            in_flight: VecDeque::new(),
            reorder: None,
            loss: None,
            down: BTreeSet::new(),
            links: None,
            calls: 0,
        }
    }

    /// Radio links: node `i` reaches the nodes in `adjacency[i]` (and they
    /// reach it: links are made symmetric). See the module docs.
    pub(crate) fn with_links(mut self, adjacency: &[Vec<u32>]) -> Self {
        self.links = Some(vec![BTreeSet::new(); self.nodes.len()]);
        for (a, ns) in adjacency.iter().enumerate() {
            for &b in ns {
                self.set_link(NodeId(a as u32), NodeId(b), true);
            }
        }
        self
    }

    /// Links `a` and `b` (in range of each other) or unlinks them.
    ///
    /// # Panics
    ///
    /// If the network was not built [`with_links`](TestNet::with_links).
    pub(crate) fn set_link(&mut self, a: NodeId, b: NodeId, linked: bool) {
        let links = self.links.as_mut().expect("a network with links");
        if a == b {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            if linked {
                links[x.index()].insert(y);
            } else {
                links[x.index()].remove(&y);
            }
        }
    }

    /// Loses each datagram sent from now on with probability `p`, drawn
    /// from `seed` (the transmit is still logged).
    pub(crate) fn lossy(mut self, p: f64, seed: u64) -> Self {
        let threshold = (p.clamp(0.0, 1.0) * u64::MAX as f64) as u64;
        self.loss = Some((threshold, ChaCha8Rng::seed_from_u64(seed)));
        self
    }

    /// Takes `node` down (it receives nothing and its timeouts do not
    /// fire) or brings it back up.
    pub(crate) fn set_down(&mut self, node: NodeId, down: bool) {
        if down {
            self.down.insert(node);
        } else {
            self.down.remove(&node);
        }
    }

    /// Whether `node` is down.
    pub(crate) fn is_down(&self, node: NodeId) -> bool {
        self.down.contains(&node)
    }

    /// Delivers the datagrams in flight now, but not those they cause: one
    /// lockstep round. Returns how many were delivered.
    pub(crate) fn step(&mut self) -> usize {
        let round: Vec<InFlight> = self.in_flight.drain(..).collect();
        let n = round.len();
        for datagram in round {
            self.deliver(datagram);
        }
        n
    }

    /// The earliest wake-up of a node that is up.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        (0..self.nodes.len())
            .filter(|&i| !self.down.contains(&NodeId(i as u32)))
            .filter_map(|i| self.nodes[i].poll_timeout())
            .min()
    }

    /// Delivers datagrams in an order drawn from `seed` instead of FIFO.
    pub(crate) fn reordered(mut self, seed: u64) -> Self {
        self.reorder = Some(ChaCha8Rng::seed_from_u64(seed));
        self
    }

    /// Gives `node` a command.
    pub(crate) fn command(&mut self, node: NodeId, cmd: P::Command) {
        self.nodes[node.index()].handle_command(self.now, cmd);
        self.drain(node);
    }

    /// Tells `node` its battery is now at `level`.
    pub(crate) fn battery(&mut self, node: NodeId, level: BatteryLevel) {
        self.nodes[node.index()].handle_battery(self.now, level);
        self.drain(node);
    }

    /// Hands `node` raw bytes as if `from` had sent them.
    pub(crate) fn inject(&mut self, node: NodeId, from: NodeId, bytes: &[u8]) {
        self.nodes[node.index()].handle_datagram(self.now, from, bytes);
        self.drain(node);
    }

    /// Delivers every datagram in flight, and every one that causes, until
    /// none is left.
    pub(crate) fn run(&mut self) {
        while let Some(datagram) = self.next_in_flight() {
            self.deliver(datagram);
        }
    }

    fn deliver(&mut self, datagram: InFlight) {
        if !self.down.contains(&datagram.to) {
            self.inject(datagram.to, datagram.from, &datagram.bytes);
        }
    }

    /// Loses every datagram in flight.
    pub(crate) fn lose_in_flight(&mut self) {
        self.in_flight.clear();
    }

    /// Moves time to `now` and calls `handle_timeout` on every node whose
    /// wake-up is due, in node order.
    pub(crate) fn advance_to(&mut self, now: Instant) {
        self.now = now;
        for i in 0..self.nodes.len() {
            if self.down.contains(&NodeId(i as u32)) {
                continue;
            }
            if self.nodes[i].poll_timeout().is_some_and(|at| at <= now) {
                self.nodes[i].handle_timeout(now);
                self.drain(NodeId(i as u32));
            }
        }
    }

    /// Lets time run to `end`: delivers what is in flight, then wakes the
    /// nodes whose deadlines come first, and so on, until the next deadline
    /// is after `end`; time is then `end`.
    pub(crate) fn run_until(&mut self, end: Instant) {
        loop {
            self.run();
            match self.next_timeout() {
                Some(at) if at <= end => self.advance_to(at.max(self.now)),
                _ => break,
            }
        }
        self.now = self.now.max(end);
    }

    /// Every event so far, with the node that reported it.
    pub(crate) fn events(&self) -> impl Iterator<Item = (NodeId, &P::Event)> {
        self.log.iter().filter_map(|r| match &r.output {
            Output::Event(e) => Some((r.node, e)),
            _ => None,
        })
    }

    fn next_in_flight(&mut self) -> Option<InFlight> {
        match &mut self.reorder {
            Some(rng) if !self.in_flight.is_empty() => {
                let i = (rng.next_u64() % self.in_flight.len() as u64) as usize;
                self.in_flight.remove(i)
            }
            _ => self.in_flight.pop_front(),
        }
    }

    fn drain(&mut self, node: NodeId) {
        let call = self.calls;
        self.calls += 1;
        while let Some(output) = self.nodes[node.index()].poll_output() {
            if let Output::Transmit { to, bytes } = &output {
                let receivers: Vec<NodeId> = match (&self.links, *to) {
                    (None, NodeId::BROADCAST) => Vec::new(),
                    (None, to) => vec![to],
                    (Some(links), NodeId::BROADCAST) => {
                        links[node.index()].iter().copied().collect()
                    }
                    (Some(links), to) => links[node.index()]
                        .contains(&to)
                        .then_some(to)
                        .into_iter()
                        .collect(),
                };
                for to in receivers {
                    let lost = match &mut self.loss {
                        Some((threshold, rng)) => rng.next_u64() < *threshold,
                        None => false,
                    };
                    if !lost {
                        self.in_flight.push_back(InFlight {
                            from: node,
                            to,
                            bytes: bytes.clone(),
                        });
                    }
                }
            }
            let at = self.now;
            self.log.push(Record {
                call,
                node,
                at,
                output,
            });
        }
    }
}
