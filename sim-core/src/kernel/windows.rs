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
//! 2. **Merge, on the calling thread** (`Simulation::merge`): the lanes' logs are
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
//! # Threads
//!
//! The calling thread runs lane 0 and then the merge; every other lane has a
//! thread of its own for a *stretch* of windows (until a source's event or
//! the end of [`Simulation::run_until`]), which takes each
//! window's orders and hands back its log through a `Handoff`. There are
//! as many threads as lanes, so none waits for a core. Lane 0 is cut
//! smaller than the others by about the merge's share of the work
//! (`MERGE_SHARE`), so that the calling thread finishes its lane and the
//! merge about when the others finish theirs.
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
use std::thread::Thread;

use super::handoff::Handoff;
use super::{Event, Simulation, NO_WAKEUP};
use crate::datagram::Spares;
use crate::network::Network;
use crate::protocol::{NodeId, Observe, Output, Protocol};
use crate::queue::EventQueue;
use crate::time::{Duration, Instant};

/// The top bit marks a wake-up numbered by its node (see the module docs).
const NODE_NUMBERED: u64 = 1 << 63;
/// How far ahead in a lane's log the merge prefetches the node's counters,
/// which every replayed event updates (received, sent, duplicates).
const MERGE_AHEAD: usize = 8;
/// The merge's work, as a share of the lanes' (a GossipSub run of 10⁵ nodes
/// measured 11 %): lane 0, which the merging thread also runs, is cut that
/// much smaller. Since the lanes prefetch better the share is 19 %, but a cut
/// by 18 % evened out the two threads' mean waits without shortening
/// their sum: the windows' uneven loads, not the cut, make most of the wait.
const MERGE_SHARE: f64 = 0.11;

/// An event queued for a lane: its time, sequence number and event.
type Queued = (Instant, u64, Event);

/// One lane: a run of consecutive nodes with its own queue.
pub(super) struct Lane {
    /// The lane's datagrams and wake-ups.
    pub(super) queue: EventQueue<Event>,
    /// Events the merge queued for the lane, to file before it runs.
    incoming: Vec<Queued>,
    /// Wake-ups this lane has numbered, the low bits of the next number.
    counter: u64,
    /// How many low bits of a wake-up's number are the counter's; the node
    /// id sits above them.
    counter_bits: u32,
    /// The spare datagram buffers of the thread that ran the lane last,
    /// kept from one stretch to the next.
    spares: Spares,
}

/// What a lane did in one window, in order: its events, and the protocols'
/// outputs, each [`Logged`] owning a run of them.
pub(super) struct Log<E> {
    entries: Vec<Logged>,
    outputs: VecDeque<Output<E>>,
}

impl<E> Default for Log<E> {
    fn default() -> Self {
        Log {
            entries: Vec::new(),
            outputs: VecDeque::new(),
        }
    }
}

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
    items: Vec<Queued>,
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
    /// How many outputs in [`Log::outputs`] are this event's.
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

/// A lane's thread's orders: run a window, or stop.
enum Order<E> {
    /// Run the events due at or before `stop`, after filing `incoming`,
    /// logging into `log` (empty).
    Run {
        stop: Instant,
        incoming: Vec<Queued>,
        log: Log<E>,
    },
    Stop,
}

/// What a lane's thread hands back after a window.
enum Report<E> {
    /// The window's `log`, the emptied `incoming`, and the time of the
    /// lane's next queued event.
    Ran {
        log: Log<E>,
        incoming: Vec<Queued>,
        next: Option<Instant>,
    },
    /// The thread panicked (a protocol did); the panic is its message.
    Died,
}

/// The two slots between the calling thread and one lane's thread.
struct Line<E> {
    orders: Handoff<Order<E>>,
    reports: Handoff<Report<E>>,
}

impl<E> Default for Line<E> {
    fn default() -> Self {
        Line {
            orders: Handoff::default(),
            reports: Handoff::default(),
        }
    }
}

/// Where each lane's nodes start, for `lanes` lanes of `n` nodes: lane 0
/// smaller by the merge's share (see [`MERGE_SHARE`]), possibly empty, and
/// the others alike.
pub(super) fn lane_starts(n: usize, lanes: usize) -> Vec<usize> {
    let lanes = lanes.clamp(1, n.max(1));
    if lanes == 1 {
        return vec![0];
    }
    let other = (1.0 + MERGE_SHARE) / lanes as f64;
    let first = (n as f64 * (1.0 - other * (lanes - 1) as f64)).max(0.0) as usize;
    let rest = n - first;
    let mut starts = vec![0];
    starts.extend((0..lanes - 1).map(|k| first + rest * k / (lanes - 1)));
    starts
}

impl Lane {
    /// A lane's queue, in a run of `nodes` nodes.
    pub(super) fn new(queue: EventQueue<Event>, nodes: usize) -> Self {
        let node_bits = usize::BITS - nodes.saturating_sub(1).max(1).leading_zeros();
        Lane {
            queue,
            incoming: Vec::new(),
            counter: 0,
            counter_bits: 63 - node_bits,
            spares: Spares::default(),
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

    /// Runs the lane's events due at or before `stop`, logging them.
    fn run<P>(
        &mut self,
        nodes: &mut LaneNodes<'_, P>,
        stop: Instant,
        prefetch: bool,
        log: &mut Log<P::Event>,
    ) where
        P: Protocol,
    {
        self.file_incoming();
        while let Some((at, seq)) = self.queue.peek_key() {
            if at > stop {
                break;
            }
            let (_, event) = self.queue.pop().expect("peeked");
            if prefetch {
                super::prefetch_ahead(&self.queue, nodes.nodes, nodes.wake_at, nodes.first);
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
            let before = log.outputs.len();
            if !matches!(what, What::NodeDown { .. } | What::Woke { ran: false }) {
                let i = node.index() - nodes.first;
                self.drain(nodes, i, at, &mut log.outputs);
            }
            log.entries.push(Logged {
                time: at,
                seq,
                node,
                what,
                outputs: log.outputs.len() - before,
            });
        }
    }

    /// Keeps node `i`'s outputs and refreshes its wake-up, as the sequential
    /// kernel's `drain` does.
    fn drain<P: Protocol>(
        &mut self,
        nodes: &mut LaneNodes<'_, P>,
        i: usize,
        now: Instant,
        outputs: &mut VecDeque<Output<P::Event>>,
    ) {
        let Some(node) = nodes.nodes[i].as_mut() else {
            return;
        };
        while let Some(out) = node.poll_output() {
            outputs.push_back(out);
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

    /// A lane's thread: runs the windows `line` orders until told to stop.
    fn serve<P: Protocol>(
        &mut self,
        mut nodes: LaneNodes<'_, P>,
        prefetch: bool,
        line: &Line<P::Event>,
        caller: &Thread,
    ) {
        /// Tells the calling thread if this one panics, rather than leave
        /// it waiting for the window's log.
        struct Obituary<'a, E>(&'a Handoff<Report<E>>, &'a Thread);
        impl<E> Drop for Obituary<'_, E> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.put(Report::Died, self.1);
                }
            }
        }
        let _obituary = Obituary(&line.reports, caller);
        self.spares.swap_with_thread();
        while let Order::Run {
            stop,
            mut incoming,
            mut log,
        } = line.orders.take()
        {
            std::mem::swap(&mut self.incoming, &mut incoming);
            self.run(&mut nodes, stop, prefetch, &mut log);
            let next = self.queue.peek_key().map(|(t, _)| t);
            line.reports.put(
                Report::Ran {
                    log,
                    incoming,
                    next,
                },
                caller,
            );
        }
        self.spares.swap_with_thread();
    }
}

/// What to do next in a run in windows.
enum Cut {
    /// Run the lanes' events from the first time to the second, inclusive.
    Window(Instant, Instant),
    /// Merge the pending window first: only it can say what comes next.
    Merge,
    /// Run the next event on its own: a source's or a battery check, due
    /// before (or with) the lanes' next.
    Alone,
    /// Nothing is due by the end.
    Done,
}

/// Tells the lanes' threads to stop when the calling thread leaves a
/// stretch, panicking or not, so that it is not left waiting for them.
struct Dismissal<'a, E> {
    lines: &'a [Line<E>],
    threads: Vec<Thread>,
}

impl<E> Drop for Dismissal<'_, E> {
    fn drop(&mut self) {
        for (line, thread) in self.lines.iter().zip(&self.threads) {
            line.orders.put(Order::Stop, thread);
        }
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
            let next = self.lanes_next();
            match self.cut(next, end, width) {
                Cut::Window(from, stop) => self.run_stretch(from, stop, end, width),
                Cut::Merge => self.merge_pending(),
                Cut::Alone => {
                    self.step(end);
                }
                Cut::Done => return,
            }
        }
    }

    /// What to do next, given the lanes' earliest event `lanes_next`.
    fn cut(&mut self, lanes_next: Option<Instant>, end: Instant, width: Duration) -> Cut {
        let global_next = self.queue.peek_key().map(|(t, _)| t);
        let t0 = lanes_next.filter(|&t| t <= end && global_next.is_none_or(|g| t < g));
        let Some(t0) = t0 else {
            return if self.unmerged.is_some() {
                Cut::Merge
            } else if global_next.is_some_and(|g| g <= end) {
                Cut::Alone
            } else {
                Cut::Done
            };
        };
        // Nothing sent at t0 or later arrives before t0 + width, and
        // nothing the pending window sent arrives before its start + width.
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
            Cut::Merge
        } else {
            Cut::Window(t0, stop)
        }
    }

    /// The earliest time any lane has an event at, queued or in its inbox.
    fn lanes_next(&mut self) -> Option<Instant> {
        let queued = self.lanes.iter_mut().filter_map(|l| l.queue.peek_key());
        let inboxed = self.inboxes.iter().filter_map(|i| i.first);
        queued.map(|(t, _)| t).chain(inboxed).min()
    }

    /// Runs windows, the first from `from` to `stop`, each lane but the
    /// first on a thread of its own, until something must run on its own
    /// or nothing is due by `end`.
    fn run_stretch(&mut self, from: Instant, stop: Instant, end: Instant, width: Duration) {
        // The lanes' side of the kernel leaves it for the stretch; the merge
        // uses the rest (the network, the metrics, the trace, the inboxes).
        let mut lanes = std::mem::take(&mut self.lanes);
        let mut nodes = std::mem::take(&mut self.nodes);
        let mut wake_at = std::mem::take(&mut self.wake_at);
        let mut wake_seq = std::mem::take(&mut self.wake_seq);
        let up = std::mem::take(&mut self.up);
        let prefetch = nodes.len() >= super::PREFETCH_MIN_NODES;
        let mut parts = Vec::with_capacity(lanes.len());
        let (mut rest, mut up_rest) = (&mut nodes[..], &up[..]);
        let (mut at_rest, mut seq_rest) = (&mut wake_at[..], &mut wake_seq[..]);
        for (k, lane) in lanes.iter_mut().enumerate() {
            let first = self.lane_starts[k];
            let len = self
                .lane_starts
                .get(k + 1)
                .map_or(rest.len(), |s| s - first);
            let (mine, others) = std::mem::take(&mut rest).split_at_mut(len);
            let (mine_at, others_at) = std::mem::take(&mut at_rest).split_at_mut(len);
            let (mine_seq, others_seq) = std::mem::take(&mut seq_rest).split_at_mut(len);
            let (mine_up, others_up) = up_rest.split_at(len);
            (rest, at_rest, seq_rest, up_rest) = (others, others_at, others_seq, others_up);
            let nodes = LaneNodes {
                first,
                nodes: mine,
                up: mine_up,
                wake_at: mine_at,
                wake_seq: mine_seq,
            };
            parts.push((lane, nodes));
        }
        let mut parts = parts.into_iter();
        let (own, mut own_nodes) = parts.next().expect("a run has a lane");
        let lines: Vec<Line<P::Event>> = parts.as_slice().iter().map(|_| Line::default()).collect();
        let caller = std::thread::current();
        std::thread::scope(|scope| {
            let threads = parts
                .zip(&lines)
                .map(|((lane, nodes), line)| {
                    let caller = &caller;
                    let handle = scope.spawn(move || lane.serve(nodes, prefetch, line, caller));
                    handle.thread().clone()
                })
                .collect();
            let dismissal = Dismissal {
                lines: &lines,
                threads,
            };
            let mut nexts = vec![None; lines.len()];
            let mut spare_incoming: Vec<Vec<Queued>> = lines.iter().map(|_| Vec::new()).collect();
            let (mut from, mut stop) = (from, stop);
            loop {
                let pending = self.unmerged.take();
                let mut logs = std::mem::take(&mut self.spare_logs);
                logs.resize_with(lines.len() + 1, Log::default);
                let crew = lines.iter().zip(&dismissal.threads);
                for (k, (line, thread)) in crew.clone().enumerate() {
                    let inbox = &mut self.inboxes[k + 1];
                    inbox.first = None;
                    let incoming =
                        std::mem::replace(&mut inbox.items, std::mem::take(&mut spare_incoming[k]));
                    let log = std::mem::take(&mut logs[k + 1]);
                    line.orders.put(
                        Order::Run {
                            stop,
                            incoming,
                            log,
                        },
                        thread,
                    );
                }
                own.take(&mut self.inboxes[0]);
                own.run(&mut own_nodes, stop, prefetch, &mut logs[0]);
                if let Some(pending) = pending {
                    self.spare_logs = self.merge(pending);
                }
                for (k, (line, _)) in crew.enumerate() {
                    match line.reports.take() {
                        Report::Ran {
                            log,
                            incoming,
                            next,
                        } => {
                            logs[k + 1] = log;
                            spare_incoming[k] = incoming;
                            nexts[k] = next;
                        }
                        Report::Died => panic!("a lane's thread panicked"),
                    }
                }
                self.unmerged = Some(Pending { from, logs });
                loop {
                    let queued = own.queue.peek_key().map(|(t, _)| t);
                    let inboxed = self.inboxes.iter().filter_map(|i| i.first);
                    let next = queued.into_iter().chain(nexts.iter().flatten().copied());
                    match self.cut(next.chain(inboxed).min(), end, width) {
                        Cut::Window(next_from, next_stop) => {
                            (from, stop) = (next_from, next_stop);
                            break;
                        }
                        Cut::Merge => self.merge_pending(),
                        Cut::Alone | Cut::Done => return,
                    }
                }
            }
        });
        self.up = up;
        self.wake_seq = wake_seq;
        self.wake_at = wake_at;
        self.nodes = nodes;
        self.lanes = lanes;
    }

    /// Merges the pending window's logs, if any.
    fn merge_pending(&mut self) {
        if let Some(pending) = self.unmerged.take() {
            self.spare_logs = self.merge(pending);
        }
    }

    /// Replays a window's logs in (time, sequence) order, as the sequential
    /// kernel would have handled each event's outputs; returns the logs,
    /// emptied, to be used again.
    fn merge(&mut self, mut window: Pending<P::Event>) -> Vec<Log<P::Event>> {
        let mut at = vec![0; window.logs.len()];
        loop {
            let next = window
                .logs
                .iter()
                .zip(&at)
                .enumerate()
                .filter_map(|(k, (log, &i))| log.entries.get(i).map(|e| ((e.time, e.seq), k)))
                .min();
            let Some((_, k)) = next else { break };
            let log = &mut window.logs[k];
            if let Some(ahead) = log.entries.get(at[k] + MERGE_AHEAD) {
                crate::prefetch(&self.metrics.nodes[ahead.node.index()]);
            }
            let e = &log.entries[at[k]];
            at[k] += 1;
            self.replay(e.time, e.node, &e.what, log.outputs.drain(..e.outputs));
        }
        for log in &mut window.logs {
            log.entries.clear();
        }
        window.logs
    }
}

#[cfg(test)]
mod tests {
    use super::lane_starts;

    #[test]
    fn lane_zero_is_smaller_by_the_merges_share() {
        assert_eq!(lane_starts(100, 1), vec![0]);
        assert_eq!(lane_starts(100, 2), vec![0, 44]);
        assert_eq!(lane_starts(3, 8), vec![0, 0, 1]);
        // Past about 1 / MERGE_SHARE lanes, the merging thread runs none.
        assert_eq!(lane_starts(1_000, 12)[..3], [0, 0, 90]);
        for lanes in 1..20 {
            let starts = lane_starts(1_000, lanes);
            assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
            assert!(*starts.last().unwrap() < 1_000);
        }
    }
}
