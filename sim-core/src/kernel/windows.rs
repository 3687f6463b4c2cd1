//! Windows: running the nodes of a stretch of virtual time in parallel.
//!
//! # Why it is safe
//!
//! A network with a *lookahead* `L` ([`Network::lookahead`])
//! promises that a datagram sent at `t` reaches its receiver no earlier than
//! `t + L`, and that receiving it reads no network state. Let `t₀` be the
//! time of the next event: nothing a node does in the window `[t₀, t₀ + L)`
//! can reach another node inside it. Within the window each node's inputs
//! are therefore known when it starts, except its own wake-ups, and the
//! nodes can run side by side.
//!
//! # How
//!
//! The nodes are cut into *lanes* of consecutive ids, one per thread, each
//! with its own [`EventQueue`] of the lane's datagrams and wake-ups. Each
//! window is handled in two phases:
//!
//! 1. **Lanes, in parallel** (`Lane::run`): each lane runs its events in
//!    (time, sequence) order, calling the protocols and keeping what they
//!    output in a log, without touching the network, the metrics or the
//!    trace.
//! 2. **Merge, on one thread** (`Simulation::merge`): the lanes' logs are
//!    merged by (time, sequence) and replayed exactly as the sequential
//!    kernel handles outputs: trace records, metrics, observations, and each
//!    transmit through the network model (whose random draws and queues so
//!    see one fixed order) into the receiver's lane's inbox, which the lane
//!    files before it next runs.
//!
//! The two phases of successive windows overlap: windows are half the
//! lookahead long, and while the lanes run window `k + 1`, the calling
//! thread merges window `k`. Nothing window `k` sent can arrive before its
//! start plus `L`, which is where window `k + 1` is cut off at the latest.
//!
//! Events from sources (workload commands, faults) and battery checks are
//! not node-local: they stay in the kernel's own queue and run on their own,
//! sequentially, with the window cut short before them.
//!
//! # Ordering, and what is the same on any number of threads
//!
//! The sequential kernel numbers every event when it is queued; ties at one
//! instant run in that order. A lane cannot know the number a wake-up would
//! get, since it depends on what other lanes do meanwhile. So a wake-up a
//! node sets while it runs in a lane is numbered by its node instead: the
//! top bit set, then the node id, then a counter of the lane (which only
//! tells a live wake-up from a superseded one). It sorts after every event
//! numbered the ordinary way at the same instant (datagrams, which the merge
//! numbers in merge order), and ties between such wake-ups go by node id.
//!
//! None of this depends on how the nodes are cut into lanes, nor on where
//! windows start or [`Simulation::run_until`] pauses (the merge numbers
//! datagrams in the order their senders ran, whatever the windows), so a
//! run gives the same trace on one thread or many. It is the sequential kernel's order except for a node's
//! wake-up due at the same nanosecond as another event, so a run in windows
//! and a sequential run can differ in such ties; a scenario always runs one
//! way.

use std::collections::VecDeque;

use super::{Event, Simulation, NO_WAKEUP};
use crate::network::Network;
use crate::protocol::{NodeId, Observe, Output, Protocol};
use crate::queue::EventQueue;
use crate::time::{Duration, Instant};

/// The top bit marks a wake-up numbered by its node (see the module docs).
const NODE_NUMBERED: u64 = 1 << 63;
/// How far ahead in a lane's log the merge prefetches the node's counters,
/// which every replayed event updates (received, sent, duplicates).
const MERGE_AHEAD: usize = 8;

/// One lane: a run of consecutive nodes with its own queue and log.
pub(super) struct Lane<E> {
    /// The lane's datagrams and wake-ups.
    pub(super) queue: EventQueue<Event>,
    /// Events the merge queued for the lane, to file before it runs.
    incoming: Vec<(Instant, u64, Event)>,
    /// What happened in the current window, in order.
    log: Vec<Logged>,
    /// The protocols' outputs, in order; each [`Logged`] owns a run of them.
    outputs: VecDeque<Output<E>>,
    /// Wake-ups this lane has numbered, the low bits of the next number.
    counter: u64,
    /// How many low bits of a wake-up's number are the counter's; the node
    /// id sits above them.
    counter_bits: u32,
}

/// A lane's log and the outputs its entries own.
type Log<E> = (Vec<Logged>, VecDeque<Output<E>>);

/// A window the lanes have run and the merge has not replayed yet.
pub(super) struct Pending<E> {
    /// Its first event's time: what it sent arrives no earlier than this
    /// plus the lookahead.
    from: Instant,
    /// Each lane's log.
    logs: Vec<Log<E>>,
}

/// Events for a lane, queued while it runs (by the merge) or by an event
/// run on its own; the lane files them before it next runs.
#[derive(Default)]
pub(super) struct Inbox {
    items: Vec<(Instant, u64, Event)>,
    /// The earliest item's time.
    first: Option<Instant>,
}

impl Inbox {
    pub(super) fn push(&mut self, at: Instant, seq: u64, event: Event) {
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.items.push((at, seq, event));
    }
}

/// One event a lane ran.
struct Logged {
    time: Instant,
    seq: u64,
    node: NodeId,
    what: What,
    /// How many outputs in [`Lane::outputs`] are this event's.
    outputs: usize,
}

/// What a lane did with one event.
pub(super) enum What {
    /// The node handled a datagram of `len` bytes from `from`.
    Received { from: NodeId, len: usize },
    /// The datagram found the node down.
    NodeDown { from: NodeId, len: usize },
    /// The node's wake-up; `ran` is false if the node was down.
    Woke { ran: bool },
}

/// The slices of the kernel's per-node tables that belong to one lane.
struct LaneNodes<'a, P> {
    first: usize,
    nodes: &'a mut [Option<P>],
    up: &'a [bool],
    wake_at: &'a mut [Instant],
    wake_seq: &'a mut [u64],
}

impl<E> Lane<E> {
    /// A lane of a run of `nodes` nodes, with `queue`.
    pub(super) fn new(queue: EventQueue<Event>, nodes: usize) -> Self {
        let node_bits = usize::BITS - nodes.saturating_sub(1).max(1).leading_zeros();
        Lane {
            queue,
            incoming: Vec::new(),
            log: Vec::new(),
            outputs: VecDeque::new(),
            counter: 0,
            counter_bits: 63 - node_bits,
        }
    }

    /// Takes `inbox`'s events, to file when it next runs.
    fn take(&mut self, inbox: &mut Inbox) {
        std::mem::swap(&mut self.incoming, &mut inbox.items);
        inbox.first = None;
    }

    /// Files the events taken from the inbox into the queue.
    fn file_incoming(&mut self) {
        for (at, seq, event) in self.incoming.drain(..) {
            self.queue.push_at(at, seq, event);
        }
    }

    /// Files `inbox`'s events into the queue now.
    pub(super) fn file(&mut self, inbox: &mut Inbox) {
        self.take(inbox);
        self.file_incoming();
    }

    /// Runs the lane's events due at or before `stop`.
    fn run<P>(&mut self, mut nodes: LaneNodes<'_, P>, stop: Instant, prefetch: bool)
    where
        P: Protocol<Event = E>,
    {
        self.file_incoming();
        while let Some((at, seq)) = self.queue.peek_key() {
            if at > stop {
                break;
            }
            let (_, event) = self.queue.pop().expect("peeked");
            if prefetch {
                super::prefetch_ahead(&self.queue, nodes.nodes, nodes.first);
            }
            let (node, what) = match event {
                Event::Wake(node) => {
                    let i = node as usize - nodes.first;
                    if nodes.wake_seq[i] != seq {
                        continue; // superseded: not an event
                    }
                    nodes.wake_at[i] = Instant::MAX;
                    nodes.wake_seq[i] = NO_WAKEUP;
                    let ran = match nodes.nodes[i].as_mut().filter(|_| nodes.up[i]) {
                        Some(p) => {
                            p.handle_timeout(at);
                            true
                        }
                        None => false,
                    };
                    (NodeId(node), What::Woke { ran })
                }
                Event::Packet {
                    from, to, bytes, ..
                } => {
                    let i = to.index() - nodes.first;
                    let len = bytes.len();
                    match nodes.nodes[i].as_mut().filter(|_| nodes.up[i]) {
                        Some(p) => {
                            p.handle_datagram(at, from, &bytes);
                            (to, What::Received { from, len })
                        }
                        None => (to, What::NodeDown { from, len }),
                    }
                }
                Event::Source(_) | Event::Battery(_) => {
                    unreachable!("sources and batteries stay in the kernel's queue")
                }
            };
            let before = self.outputs.len();
            if !matches!(what, What::NodeDown { .. } | What::Woke { ran: false }) {
                let i = node.index() - nodes.first;
                self.drain(&mut nodes, i, at);
            }
            self.log.push(Logged {
                time: at,
                seq,
                node,
                what,
                outputs: self.outputs.len() - before,
            });
        }
    }

    /// Keeps node `i`'s outputs and refreshes its wake-up, as the sequential
    /// kernel's `drain` does.
    fn drain<P: Protocol<Event = E>>(
        &mut self,
        nodes: &mut LaneNodes<'_, P>,
        i: usize,
        now: Instant,
    ) {
        let Some(node) = nodes.nodes[i].as_mut() else {
            return;
        };
        while let Some(out) = node.poll_output() {
            self.outputs.push_back(out);
        }
        let at = node.poll_timeout().map_or(Instant::MAX, |t| t.max(now));
        if at == nodes.wake_at[i] {
            return;
        }
        nodes.wake_at[i] = at;
        let id = (nodes.first + i) as u64;
        nodes.wake_seq[i] = if at == Instant::MAX {
            NO_WAKEUP
        } else {
            assert!(
                self.counter < 1 << self.counter_bits,
                "a lane ran out of wake-up numbers"
            );
            let seq = NODE_NUMBERED | id << self.counter_bits | self.counter;
            self.counter += 1;
            self.queue.push_at(at, seq, Event::Wake(id as u32));
            seq
        };
    }
}

impl<P, N> Simulation<P, N>
where
    P: Protocol + Send,
    P::Event: Observe + Send,
    P::Command: 'static,
    N: Network,
{
    /// Runs every event due at or before `end`, in windows of half the
    /// lookahead `width`, each window's lanes running while the previous
    /// window's logs are merged.
    pub(super) fn run_windows(&mut self, end: Instant, width: Duration) {
        loop {
            let node_next = self.lanes_next();
            let global_next = self.queue.peek_key().map(|(t, _)| t);
            let first = node_next.into_iter().chain(global_next).min();
            let Some(t0) = node_next.filter(|&t| global_next.is_none_or(|g| t < g)) else {
                // Nothing due, or a source or battery event first (or at the
                // same instant): it runs on its own, after the merge.
                self.merge_pending();
                if first.is_none_or(|t| t > end) {
                    return;
                }
                self.step(end);
                continue;
            };
            // Nothing sent at t0 or later arrives before t0 + width, and
            // nothing the pending window sent arrives before its start +
            // width.
            let half = Duration::from_nanos((width.as_nanos() / 2).max(1));
            let mut stop = t0.saturating_add(half);
            if let Some(pending) = &self.unmerged {
                stop = stop.min(pending.from.saturating_add(width));
            }
            let mut stop = Instant::from_nanos(stop.as_nanos() - 1).min(end);
            if let Some(g) = global_next {
                stop = stop.min(Instant::from_nanos(g.as_nanos() - 1));
            }
            if stop < t0 {
                // Only the pending merge can say what comes next.
                self.merge_pending();
                if t0 > end {
                    return;
                }
                continue;
            }
            self.run_window(t0, stop);
        }
    }

    /// The earliest time any lane has an event at, queued or in its inbox.
    fn lanes_next(&mut self) -> Option<Instant> {
        let queued = self.lanes.iter_mut().filter_map(|l| l.queue.peek_key());
        let inboxed = self.inboxes.iter().filter_map(|i| i.first);
        queued.map(|(t, _)| t).chain(inboxed).min()
    }

    /// Runs the lanes' events from `from` to `stop` in parallel with the
    /// merge of the pending window; the lanes' logs become the pending
    /// window.
    fn run_window(&mut self, from: Instant, stop: Instant) {
        let pending = self.unmerged.take();
        for (lane, inbox) in self.lanes.iter_mut().zip(&mut self.inboxes) {
            lane.take(inbox);
        }
        // The lanes' side of the kernel leaves it for the window; the merge
        // uses the rest (the network, the metrics, the trace, the inboxes).
        let mut lanes = std::mem::take(&mut self.lanes);
        let mut nodes = std::mem::take(&mut self.nodes);
        let mut wake_at = std::mem::take(&mut self.wake_at);
        let mut wake_seq = std::mem::take(&mut self.wake_seq);
        let up = std::mem::take(&mut self.up);
        let pool = self.pool.take();
        let width = self.lane_width;
        let prefetch = nodes.len() >= super::PREFETCH_MIN_NODES;
        let jobs = lanes
            .iter_mut()
            .zip(nodes.chunks_mut(width))
            .zip(up.chunks(width))
            .zip(wake_at.chunks_mut(width))
            .zip(wake_seq.chunks_mut(width))
            .enumerate()
            .map(|(k, ((((lane, nodes), up), wake_at), wake_seq))| {
                let nodes = LaneNodes {
                    first: k * width,
                    nodes,
                    up,
                    wake_at,
                    wake_seq,
                };
                (lane, nodes)
            });
        let merged = match &pool {
            Some(pool) => pool.in_place_scope(|scope| {
                for (lane, nodes) in jobs {
                    scope.spawn(move |_| lane.run(nodes, stop, prefetch));
                }
                pending.map(|p| self.merge(p))
            }),
            None => {
                for (lane, nodes) in jobs {
                    lane.run(nodes, stop, prefetch);
                }
                pending.map(|p| self.merge(p))
            }
        };
        self.pool = pool;
        self.up = up;
        self.wake_seq = wake_seq;
        self.wake_at = wake_at;
        self.nodes = nodes;
        // The merged logs, emptied, become the lanes' next ones.
        let mut spare = merged.map(|m| m.logs.into_iter());
        let logs = lanes
            .iter_mut()
            .map(|lane| {
                let (log, outputs) = spare.as_mut().and_then(Iterator::next).unwrap_or_default();
                (
                    std::mem::replace(&mut lane.log, log),
                    std::mem::replace(&mut lane.outputs, outputs),
                )
            })
            .collect();
        self.lanes = lanes;
        self.unmerged = Some(Pending { from, logs });
    }

    /// Merges the pending window's logs, if any, with the lanes idle.
    fn merge_pending(&mut self) {
        if let Some(pending) = self.unmerged.take() {
            let merged = self.merge(pending);
            for (lane, (log, outputs)) in self.lanes.iter_mut().zip(merged.logs) {
                lane.log = log;
                lane.outputs = outputs;
            }
        }
    }

    /// Replays a window's logs in (time, sequence) order, as the sequential
    /// kernel would have handled each event's outputs; returns the logs,
    /// emptied, to be used again.
    fn merge(&mut self, mut window: Pending<P::Event>) -> Pending<P::Event> {
        let mut at = vec![0; window.logs.len()];
        loop {
            let next = window
                .logs
                .iter()
                .zip(&at)
                .enumerate()
                .filter_map(|(k, ((log, _), &i))| log.get(i).map(|e| ((e.time, e.seq), k)))
                .min();
            let Some((_, k)) = next else { break };
            let (log, outputs) = &mut window.logs[k];
            if let Some(ahead) = log.get(at[k] + MERGE_AHEAD) {
                crate::prefetch(&self.metrics.nodes[ahead.node.index()]);
            }
            let e = &log[at[k]];
            at[k] += 1;
            self.replay(e.time, e.node, &e.what, outputs.drain(..e.outputs));
        }
        for (log, _) in &mut window.logs {
            log.clear();
        }
        window
    }
}
