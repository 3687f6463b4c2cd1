//! What a run measured: sends, deliveries with latency and hops, drops by cause,
//! and bytes per node.

/// Why a packet or datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropCause {
    /// Lost on a link (Bernoulli or Gilbert-Elliott loss).
    Loss,
    /// A drop-tail queue was full.
    QueueFull,
    /// Larger than the link's MTU.
    Mtu,
    /// The link was down, or the two nodes were in different partitions.
    LinkDown,
    /// The sender or the receiver was down.
    NodeDown,
    /// The receiving protocol could not parse the bytes.
    Malformed,
    /// No link between the two nodes in a graph network.
    NoRoute,
    /// A protocol's hop limit or lifetime ran out.
    Expired,
}

impl DropCause {
    /// Every cause, in report order.
    pub const ALL: [DropCause; 8] = [
        DropCause::Loss,
        DropCause::QueueFull,
        DropCause::Mtu,
        DropCause::LinkDown,
        DropCause::NodeDown,
        DropCause::Malformed,
        DropCause::NoRoute,
        DropCause::Expired,
    ];
    /// The cause's name in reports and summary.json.
    pub fn name(self) -> &'static str {
        match self {
            DropCause::Loss => "loss",
            DropCause::QueueFull => "queue_full",
            DropCause::Mtu => "mtu",
            DropCause::LinkDown => "link_down",
            DropCause::NodeDown => "node_down",
            DropCause::Malformed => "malformed",
            DropCause::NoRoute => "no_route",
            DropCause::Expired => "expired",
        }
    }
}
