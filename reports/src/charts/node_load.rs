//! `node_load`: bytes sent per node, busiest first.
//!
//! Sorting the nodes by load turns a table of thousands of rows into one
//! shape: a flat profile means the protocol spreads its work, a steep head
//! means hot spots (a hub of a scale-free topology, a DHT node that owns a
//! popular key, a relay everyone routes through). Bars are coloured by node
//! group, with the same colours as the latency CDF; the legend says what share
//! of all bytes the busiest tenth of the nodes sent and where the mean lies.
//! When loads span more than two decades the byte axis is logarithmic. The
//! drawing is [`Ranked`]'s, which the `energy` chart shares.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::ranked::{Quantity, Ranked};
use super::render::{DrawResult, Figure, LegendEntry};
use super::GroupColours;
use crate::data::RunData;

/// The chart's file stem.
pub(crate) const NAME: &str = "node_load";
/// The chart's title.
pub(crate) const TITLE: &str = "Bytes sent per node (busiest first)";

/// Bytes sent: whole bytes.
pub(super) const BYTES_SENT: Quantity = Quantity {
    noun: "bytes",
    verb: "sent",
    symbol: "B",
    whole: true,
};

/// The per-node load of a run.
pub(crate) struct NodeLoad(Ranked);

impl NodeLoad {
    pub(crate) fn from_run(run: &RunData, colours: &GroupColours) -> Self {
        NodeLoad(Ranked::new(
            BYTES_SENT,
            run.nodes.iter().map(|n| (n, n.bytes_sent as f64)),
            colours,
        ))
    }
}

impl Figure for NodeLoad {
    fn legend(&self) -> Vec<LegendEntry> {
        self.0.legend(Vec::new())
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        self.0.draw(area, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample_run;

    #[test]
    fn loads_are_sorted_busiest_first() {
        let run = sample_run();
        let load = NodeLoad::from_run(&run, &GroupColours::from_run(&run));
        // nodes 0..12 send 1000·n² bytes
        let nodes: Vec<u32> = load.0.nodes().collect();
        assert_eq!(nodes, (0..12).rev().collect::<Vec<_>>());
    }
}
