//! Topology generators: the graphs that graph-link network models run on.
//!
//! [`Topology::generate`] builds a simple undirected petgraph graph on `n`
//! nodes, in which node `i` is `NodeIndex::new(i)`. The order in which edges
//! are added is part of the contract, because the kernel numbers its links by
//! edge index: every generator documents it, and for a given seed it is the
//! same on every machine. Each edge is added as (smaller index, larger index).
//! Randomness comes only from the generator passed in, through
//! [`crate::dist::unit_f64`] and [`crate::dist::uniform_below`].
//!
//! Where the generators depart from the textbook models:
//!
//! - [`Topology::Ring`] needs at least three nodes (fewer would need a self
//!   loop or a double edge), and every topology needs at least one node.
//! - [`Topology::BarabasiAlbert`] starts from a clique on the first `m + 1`
//!   nodes; each later node then attaches to `m` distinct earlier nodes, each
//!   chosen with probability proportional to its degree (a repeated choice is
//!   drawn again). That makes exactly `m·(n − m) + m·(m − 1)/2` edges, and a
//!   degree distribution with P(degree ≥ k) ≈ m(m + 1)/(k(k + 1)).
//! - [`Topology::ErdosRenyi`] is G(n, p) drawn with Batagelj and Brandes'
//!   geometric skipping (2005), O(n + m) instead of O(n²) coin flips.
//! - [`Topology::RandomGeometric`] uses a cell grid, O(n + m) expected instead
//!   of testing all pairs; it gives exactly the all-pairs edge set.
//! - [`Topology::RandomRegular`] uses the pairing model in rounds (the
//!   Steger–Wormald scheme that networkx also uses): shuffle the free stubs,
//!   keep every pair that makes neither a loop nor a double edge, reshuffle
//!   the rest, and start over when no acceptable pair remains. Its graphs are
//!   asymptotically, not exactly, uniform among the `degree`-regular graphs.
//!   A degree above `(n − 1)/2` is built as the complement of a sparser regular
//!   graph, which keeps dense cases fast.

use petgraph::graph::{NodeIndex, UnGraph};
use rand::RngCore;

use crate::dist::{uniform_below, unit_f64};

/// The most edges a graph with 32-bit indices holds (petgraph reserves the
/// index `u32::MAX`).
const MAX_EDGES: u64 = u32::MAX as u64;

/// How many fresh starts [`Topology::RandomRegular`] makes before giving up.
/// A start gets stuck with probability about 0.4 for sparse graphs and at
/// most about 0.85 (measured) for degrees near `(n − 1)/2`, so all of them
/// fail together with probability below 1e-70.
const REGULAR_ATTEMPTS: u32 = 1000;

/// A way to connect `n` nodes, as scenario files write it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Topology {
    /// A path: `i`—`i + 1`, in order of `i`.
    Line,
    /// A cycle: the line, then the closing edge `0`—`n − 1`. Needs `n >= 3`.
    Ring,
    /// A star with node 0 as the hub: `0`—`i` in order of `i`.
    Star,
    /// A row-major grid of `width` columns and `n / width` rows with
    /// 4-neighbour links, no wrap-around. Node by node, each node's link to
    /// its right neighbour comes before its link to the node below.
    Grid {
        /// Nodes per row; positive and dividing `n`.
        width: u32,
    },
    /// Every pair, in lexicographic order of (smaller, larger).
    FullMesh,
    /// G(n, p): each pair linked independently with probability `p`.
    /// Edges come in order of the larger endpoint, then the smaller.
    ErdosRenyi {
        /// The edge probability, in `[0, 1]`.
        p: f64,
    },
    /// Preferential attachment: a clique on nodes `0..=m`, then every later
    /// node links to `m` distinct earlier nodes chosen in proportion to their
    /// degree. Edges come node by node, each node's in increasing order.
    BarabasiAlbert {
        /// Links made by each new node; at least 1 and below `n`.
        m: u32,
    },
    /// `n` points uniform on the unit square (node `i` draws x then y), linked
    /// when their Euclidean distance is at most `radius`. Edges in
    /// lexicographic order. The positions come back in [`Generated`].
    RandomGeometric {
        /// The link radius, in unit-square lengths; positive and finite.
        radius: f64,
    },
    /// A random graph in which every node has exactly `degree` distinct
    /// neighbours (see the module docs). Edges in lexicographic order.
    RandomRegular {
        /// Neighbours per node; at least 1, below `n`, and `n · degree` even.
        degree: u32,
    },
}

/// A generated topology.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The graph: node `i` is `NodeIndex::new(i)`; no self loops, no parallel
    /// edges.
    pub graph: UnGraph<(), (), u32>,
    /// Node positions on the unit square, indexed by node; only for
    /// [`Topology::RandomGeometric`].
    pub positions: Option<Vec<(f64, f64)>>,
}

/// Why a topology cannot be built on a given number of nodes.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// The topology needs more nodes than it was given.
    #[error("a {topology} topology needs at least {min} nodes, got {n}")]
    TooFewNodes {
        /// The topology's name.
        topology: &'static str,
        /// The node count given.
        n: u32,
        /// The smallest node count it accepts.
        min: u32,
    },
    /// A grid's width is zero or does not divide the node count.
    #[error("a Grid's width must be positive and divide the node count {n}, got width {width}")]
    GridWidth {
        /// The width given.
        width: u32,
        /// The node count given.
        n: u32,
    },
    /// An Erdős–Rényi edge probability outside `[0, 1]`.
    #[error("an ErdosRenyi edge probability p must be between 0 and 1, got {p}")]
    Probability {
        /// The probability given.
        p: f64,
    },
    /// A Barabási–Albert attachment count that is zero or not below `n`.
    #[error("a BarabasiAlbert m must be at least 1 and below the node count {n}, got {m}")]
    Attachment {
        /// The attachment count given.
        m: u32,
        /// The node count given.
        n: u32,
    },
    /// A random-geometric radius that is not positive and finite.
    #[error("a RandomGeometric radius must be positive and finite, got {radius}")]
    Radius {
        /// The radius given.
        radius: f64,
    },
    /// A regular degree that is zero, not below `n`, or odd with `n` odd.
    #[error(
        "a RandomRegular degree must be at least 1 and below the node count {n}, \
         with node count × degree even, got degree {degree}"
    )]
    Degree {
        /// The degree given.
        degree: u32,
        /// The node count given.
        n: u32,
    },
    /// More edges than 32-bit edge indices can number.
    #[error(
        "a {topology} topology on {n} nodes would have at least {edges} edges; \
         at most 4294967295 fit"
    )]
    TooManyEdges {
        /// The topology's name.
        topology: &'static str,
        /// The node count given.
        n: u32,
        /// The number of edges it would have (at least).
        edges: u64,
    },
    /// The random-regular generator failed on every one of its fresh starts
    /// (practically impossible for valid parameters).
    #[error("no {degree}-regular graph on {n} nodes found in {attempts} attempts")]
    RegularGaveUp {
        /// The degree asked for.
        degree: u32,
        /// The node count given.
        n: u32,
        /// How many fresh starts were made.
        attempts: u32,
    },
}

impl Topology {
    /// The variant's name, as scenario files spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Topology::Line => "Line",
            Topology::Ring => "Ring",
            Topology::Star => "Star",
            Topology::Grid { .. } => "Grid",
            Topology::FullMesh => "FullMesh",
            Topology::ErdosRenyi { .. } => "ErdosRenyi",
            Topology::BarabasiAlbert { .. } => "BarabasiAlbert",
            Topology::RandomGeometric { .. } => "RandomGeometric",
            Topology::RandomRegular { .. } => "RandomRegular",
        }
    }

    /// The number of edges [`Topology::generate`] makes on `n` nodes when it
    /// does not depend on the draw (`None` for Erdős–Rényi and random
    /// geometric graphs). Assumes valid parameters.
    pub fn edge_count(&self, n: u32) -> Option<u64> {
        let n = u64::from(n);
        Some(match *self {
            Topology::Line | Topology::Star => n.saturating_sub(1),
            Topology::Ring => n,
            Topology::Grid { width } => {
                let (w, h) = (u64::from(width), n / u64::from(width.max(1)));
                h * w.saturating_sub(1) + w * h.saturating_sub(1)
            }
            Topology::FullMesh => n * n.saturating_sub(1) / 2,
            Topology::BarabasiAlbert { m } => {
                let m = u64::from(m);
                m * n.saturating_sub(m) + m * m.saturating_sub(1) / 2
            }
            Topology::RandomRegular { degree } => n * u64::from(degree) / 2,
            Topology::ErdosRenyi { .. } | Topology::RandomGeometric { .. } => return None,
        })
    }

    /// Checks that this topology can be built on `n` nodes.
    pub fn validate(&self, n: u32) -> Result<(), TopologyError> {
        let min = if *self == Topology::Ring { 3 } else { 1 };
        if n < min {
            return Err(TopologyError::TooFewNodes {
                topology: self.name(),
                n,
                min,
            });
        }
        match *self {
            Topology::Grid { width } if width == 0 || n % width != 0 => {
                return Err(TopologyError::GridWidth { width, n });
            }
            Topology::ErdosRenyi { p } if !(0.0..=1.0).contains(&p) => {
                return Err(TopologyError::Probability { p });
            }
            Topology::BarabasiAlbert { m } if m == 0 || m >= n => {
                return Err(TopologyError::Attachment { m, n });
            }
            Topology::RandomGeometric { radius } if !(radius.is_finite() && radius > 0.0) => {
                return Err(TopologyError::Radius { radius });
            }
            Topology::RandomRegular { degree }
                if degree == 0 || degree >= n || (u64::from(n) * u64::from(degree)) % 2 == 1 =>
            {
                return Err(TopologyError::Degree { degree, n });
            }
            _ => {}
        }
        match self.edge_count(n) {
            Some(edges) if edges > MAX_EDGES => Err(TopologyError::TooManyEdges {
                topology: self.name(),
                n,
                edges,
            }),
            _ => Ok(()),
        }
    }

    /// Builds the topology on `n` nodes, drawing any randomness from `rng`.
    /// Fails, without panicking, exactly when [`Topology::validate`] fails,
    /// or when a random graph draws more edges than fit in 32-bit indices.
    pub fn generate<R: RngCore + ?Sized>(
        &self,
        n: u32,
        rng: &mut R,
    ) -> Result<Generated, TopologyError> {
        self.validate(n)?;
        let too_many = |edges: u64| TopologyError::TooManyEdges {
            topology: self.name(),
            n,
            edges,
        };
        let mut positions = None;
        let edges = match *self {
            Topology::Line => (1..n).map(|i| (i - 1, i)).collect(),
            Topology::Ring => {
                let mut edges: Vec<_> = (1..n).map(|i| (i - 1, i)).collect();
                edges.push((0, n - 1));
                edges
            }
            Topology::Star => (1..n).map(|i| (0, i)).collect(),
            Topology::Grid { width } => grid(n, width),
            Topology::FullMesh => (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .collect(),
            Topology::ErdosRenyi { p } => erdos_renyi(n, p, rng).map_err(too_many)?,
            Topology::BarabasiAlbert { m } => barabasi_albert(n, m, rng),
            Topology::RandomGeometric { radius } => {
                let points: Vec<(f64, f64)> =
                    (0..n).map(|_| (unit_f64(rng), unit_f64(rng))).collect();
                let edges = random_geometric(&points, radius).map_err(too_many)?;
                positions = Some(points);
                edges
            }
            Topology::RandomRegular { degree } => random_regular(n, degree, rng)?,
        };
        let mut graph = UnGraph::with_capacity(n as usize, edges.len());
        for _ in 0..n {
            graph.add_node(());
        }
        for (a, b) in edges {
            graph.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), ());
        }
        Ok(Generated { graph, positions })
    }
}

/// Appends an edge, failing with the count reached once 32-bit edge indices
/// are exhausted.
fn push_edge(edges: &mut Vec<(u32, u32)>, a: u32, b: u32) -> Result<(), u64> {
    if edges.len() as u64 >= MAX_EDGES {
        return Err(MAX_EDGES + 1);
    }
    edges.push((a, b));
    Ok(())
}

/// Row-major grid edges: right neighbour, then the one below, node by node.
fn grid(n: u32, width: u32) -> Vec<(u32, u32)> {
    let mut edges = Vec::new();
    for i in 0..n {
        if (i + 1) % width != 0 {
            edges.push((i, i + 1));
        }
        if n - i > width {
            edges.push((i, i + width));
        }
    }
    edges
}

/// G(n, p) by geometric skipping (Batagelj & Brandes 2005, algorithm G(n,p)):
/// walks the pairs (w, v), w < v, in order of v then w, jumping over a
/// geometrically distributed number of absent edges at a time. `Err` carries
/// the edge count once it no longer fits.
fn erdos_renyi<R: RngCore + ?Sized>(n: u32, p: f64, rng: &mut R) -> Result<Vec<(u32, u32)>, u64> {
    let mut edges = Vec::new();
    if p == 0.0 {
        return Ok(edges);
    }
    // ln(1 − p) < 0 for p in (0, 1]; −∞ at p = 1, where every skip is zero.
    let log_q = libm::log1p(-p);
    let n = u64::from(n);
    // `w` is the next candidate smaller endpoint of the current larger one, `v`.
    let (mut v, mut w) = (1u64, 0u64);
    while v < n {
        let skip = libm::floor(libm::log(1.0 - unit_f64(rng)) / log_q);
        w = w.saturating_add(skip as u64);
        while w >= v && v < n {
            w -= v;
            v += 1;
        }
        if v < n {
            push_edge(&mut edges, w as u32, v as u32)?;
            w += 1;
        }
    }
    Ok(edges)
}

/// Preferential attachment from a clique on `0..=m` (see [`Topology::BarabasiAlbert`]).
fn barabasi_albert<R: RngCore + ?Sized>(n: u32, m: u32, rng: &mut R) -> Vec<(u32, u32)> {
    let total = Topology::BarabasiAlbert { m }
        .edge_count(n)
        .map_or(0, |e| e as usize);
    let mut edges = Vec::with_capacity(total);
    // Every edge's two endpoints: a uniform entry is a node drawn in
    // proportion to its degree.
    let mut ends: Vec<u32> = Vec::with_capacity(2 * total);
    for v in 1..=m {
        for u in 0..v {
            edges.push((u, v));
            ends.extend([u, v]);
        }
    }
    // `picked_by[t] == v` when node v has already chosen t.
    let mut picked_by = vec![u32::MAX; n as usize];
    let mut targets = Vec::with_capacity(m as usize);
    for v in m + 1..n {
        targets.clear();
        while targets.len() < m as usize {
            let t = ends[uniform_below(rng, ends.len() as u64) as usize];
            if picked_by[t as usize] != v {
                picked_by[t as usize] = v;
                targets.push(t);
            }
        }
        targets.sort_unstable();
        for &t in &targets {
            edges.push((t, v));
            ends.extend([t, v]);
        }
    }
    edges
}

/// All pairs within `radius`, in lexicographic order, found through a grid of
/// cells at least `radius` wide so that only the 3 × 3 cells around a point
/// need to be searched. `Err` carries the edge count once it no longer fits.
fn random_geometric(points: &[(f64, f64)], radius: f64) -> Result<Vec<(u32, u32)>, u64> {
    let n = points.len();
    // Cells per side: at most 1/radius (shrunk by a relative 1e-9, far more
    // than the rounding of x·cells, so that two points within `radius` are
    // never two cells apart), at most about √n so empty cells cost O(n).
    let max_cells = libm::ceil(libm::sqrt(n as f64)) as usize;
    let cells = (libm::floor(1.0 / (radius * (1.0 + 1e-9))) as usize).clamp(1, max_cells.max(1));
    let cell_of = |(x, y): (f64, f64)| {
        let cx = ((x * cells as f64) as usize).min(cells - 1);
        let cy = ((y * cells as f64) as usize).min(cells - 1);
        (cx, cy)
    };
    // Counting sort of the points by cell; within a cell, by index.
    let mut start = vec![0usize; cells * cells + 1];
    for &p in points {
        let (cx, cy) = cell_of(p);
        start[cy * cells + cx + 1] += 1;
    }
    for c in 0..cells * cells {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut members = vec![0u32; n];
    for (i, &p) in points.iter().enumerate() {
        let (cx, cy) = cell_of(p);
        let slot = &mut fill[cy * cells + cx];
        members[*slot] = i as u32;
        *slot += 1;
    }
    let r2 = radius * radius;
    let mut edges = Vec::new();
    let mut near = Vec::new();
    for (i, &(xi, yi)) in points.iter().enumerate() {
        let (cx, cy) = cell_of((xi, yi));
        near.clear();
        for ny in cy.saturating_sub(1)..=(cy + 1).min(cells - 1) {
            for nx in cx.saturating_sub(1)..=(cx + 1).min(cells - 1) {
                let c = ny * cells + nx;
                for &j in &members[start[c]..start[c + 1]] {
                    let (xj, yj) = points[j as usize];
                    let (dx, dy) = (xi - xj, yi - yj);
                    if j as usize > i && dx * dx + dy * dy <= r2 {
                        near.push(j);
                    }
                }
            }
        }
        near.sort_unstable();
        for &j in &near {
            push_edge(&mut edges, i as u32, j)?;
        }
    }
    Ok(edges)
}

/// A random `degree`-regular graph, as the complement of a sparser one when
/// `degree > (n − 1)/2`; edges sorted.
fn random_regular<R: RngCore + ?Sized>(
    n: u32,
    degree: u32,
    rng: &mut R,
) -> Result<Vec<(u32, u32)>, TopologyError> {
    let dense = u64::from(degree) * 2 > u64::from(n - 1);
    let sparse_degree = if dense { n - 1 - degree } else { degree };
    let mut sparse = None;
    for _ in 0..REGULAR_ATTEMPTS {
        sparse = try_pairing(n, sparse_degree, rng);
        if sparse.is_some() {
            break;
        }
    }
    let Some(sparse) = sparse else {
        return Err(TopologyError::RegularGaveUp {
            degree,
            n,
            attempts: REGULAR_ATTEMPTS,
        });
    };
    if !dense {
        return Ok(sparse);
    }
    // `sparse` is sorted, so each node's larger neighbours come in order.
    let mut edges = Vec::with_capacity(n as usize * degree as usize / 2);
    let mut absent = sparse.iter().peekable();
    for a in 0..n {
        for b in a + 1..n {
            if absent.peek() == Some(&&(a, b)) {
                absent.next();
            } else {
                edges.push((a, b));
            }
        }
    }
    Ok(edges)
}

/// One attempt of the pairing model in rounds; `None` when it gets stuck
/// (the stubs left can only make loops or double edges). Edges sorted.
fn try_pairing<R: RngCore + ?Sized>(n: u32, degree: u32, rng: &mut R) -> Option<Vec<(u32, u32)>> {
    let d = degree as usize;
    // Node u's neighbours are adj[u·d .. u·d + filled[u]].
    let mut adj = vec![0u32; n as usize * d];
    let mut filled = vec![0usize; n as usize];
    let adjacent = |adj: &[u32], filled: &[usize], a: u32, b: u32| {
        let (a, b) = if filled[a as usize] <= filled[b as usize] {
            (a as usize, b)
        } else {
            (b as usize, a)
        };
        adj[a * d..a * d + filled[a]].contains(&b)
    };
    let mut stubs: Vec<u32> = (0..n).flat_map(|u| std::iter::repeat_n(u, d)).collect();
    let mut edges = Vec::with_capacity(stubs.len() / 2);
    let mut left = Vec::new();
    while !stubs.is_empty() {
        for i in (1..stubs.len()).rev() {
            let j = uniform_below(rng, i as u64 + 1) as usize;
            stubs.swap(i, j);
        }
        left.clear();
        for pair in stubs.chunks_exact(2) {
            let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
            if a != b && !adjacent(&adj, &filled, a, b) {
                for (x, y) in [(a, b), (b, a)] {
                    adj[x as usize * d + filled[x as usize]] = y;
                    filled[x as usize] += 1;
                }
                edges.push((a, b));
            } else {
                left.extend([a, b]);
            }
        }
        let mut nodes = left.clone();
        nodes.sort_unstable();
        nodes.dedup();
        let suitable = nodes.iter().enumerate().any(|(k, &a)| {
            nodes[k + 1..]
                .iter()
                .any(|&b| !adjacent(&adj, &filled, a, b))
        });
        if !left.is_empty() && !suitable {
            return None;
        }
        std::mem::swap(&mut stubs, &mut left);
    }
    edges.sort_unstable();
    Some(edges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use petgraph::visit::EdgeRef;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// The edge list in insertion (= edge index) order.
    fn edges(g: &Generated) -> Vec<(u32, u32)> {
        g.graph
            .edge_references()
            .map(|e| (e.source().index() as u32, e.target().index() as u32))
            .collect()
    }

    fn make(t: Topology, n: u32, seed: u64) -> Generated {
        t.generate(n, &mut rng(seed)).unwrap()
    }

    fn degrees(g: &Generated) -> Vec<usize> {
        g.graph
            .node_indices()
            .map(|v| g.graph.edges(v).count())
            .collect()
    }

    /// Panics unless the graph has `n` nodes, no self loops and no parallel
    /// edges, and stores every edge as (smaller, larger).
    fn assert_simple(g: &Generated, n: u32) {
        assert_eq!(g.graph.node_count(), n as usize);
        let mut es = edges(g);
        assert!(es.iter().all(|&(a, b)| a < b), "loop or unordered edge");
        es.sort_unstable();
        let len = es.len();
        es.dedup();
        assert_eq!(es.len(), len, "parallel edges");
    }

    #[test]
    fn deterministic_shapes_have_exact_edges() {
        assert_eq!(edges(&make(Topology::Line, 4, 0)), [(0, 1), (1, 2), (2, 3)]);
        assert_eq!(
            edges(&make(Topology::Ring, 4, 0)),
            [(0, 1), (1, 2), (2, 3), (0, 3)]
        );
        assert_eq!(edges(&make(Topology::Star, 4, 0)), [(0, 1), (0, 2), (0, 3)]);
        assert_eq!(
            edges(&make(Topology::FullMesh, 4, 0)),
            [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
        );
        // 3 columns × 2 rows:  0 1 2 / 3 4 5.
        assert_eq!(
            edges(&make(Topology::Grid { width: 3 }, 6, 0)),
            [(0, 1), (0, 3), (1, 2), (1, 4), (2, 5), (3, 4), (4, 5)]
        );
        for (t, n, want) in [
            (Topology::Line, 1000, 999),
            (Topology::Ring, 1000, 1000),
            (Topology::Star, 1000, 999),
            (Topology::FullMesh, 300, 300 * 299 / 2),
            // 25 × 40: 40·24 horizontal + 25·39 vertical.
            (Topology::Grid { width: 25 }, 1000, 40 * 24 + 25 * 39),
            (Topology::Grid { width: 1 }, 10, 9),
        ] {
            let g = make(t.clone(), n, 0);
            assert_eq!(g.graph.edge_count(), want, "{t:?}");
            assert_eq!(t.edge_count(n), Some(want as u64), "{t:?}");
            assert_simple(&g, n);
            assert!(g.positions.is_none());
        }
        assert_eq!(make(Topology::Line, 1, 0).graph.edge_count(), 0);
    }

    #[test]
    fn erdos_renyi_mean_degree_is_p_times_n_minus_1() {
        let (n, p) = (2000, 0.01);
        for seed in 0..3 {
            let g = make(Topology::ErdosRenyi { p }, n, seed);
            assert_simple(&g, n);
            let mean_degree = 2.0 * g.graph.edge_count() as f64 / f64::from(n);
            let want = p * f64::from(n - 1);
            // The edge count has a standard deviation of about 0.7 %.
            assert!((mean_degree / want - 1.0).abs() < 0.03, "{mean_degree}");
        }
    }

    #[test]
    fn erdos_renyi_links_every_pair_with_probability_p() {
        // Off-by-one errors in the skipping would favour some pairs.
        let (n, p, trials) = (8u32, 0.3, 20_000);
        let mut r = rng(5);
        let mut counts = vec![0u32; (n * n) as usize];
        for _ in 0..trials {
            let g = Topology::ErdosRenyi { p }.generate(n, &mut r).unwrap();
            for (a, b) in edges(&g) {
                counts[(a * n + b) as usize] += 1;
            }
        }
        for a in 0..n {
            for b in 0..n {
                let c = counts[(a * n + b) as usize];
                if a < b {
                    // 6,000 ± 4.5 standard deviations (≈ 290).
                    assert!(c.abs_diff(6000) < 290, "pair {a}-{b}: {c}");
                } else {
                    assert_eq!(c, 0);
                }
            }
        }
        assert_eq!(
            make(Topology::ErdosRenyi { p: 0.0 }, 50, 1)
                .graph
                .edge_count(),
            0
        );
        let full = make(Topology::ErdosRenyi { p: 1.0 }, 50, 1);
        assert_eq!(full.graph.edge_count(), 50 * 49 / 2);
    }

    #[test]
    fn barabasi_albert_edge_count_and_heavy_tail() {
        let (n, m) = (20_000, 3);
        let g = make(Topology::BarabasiAlbert { m }, n, 8);
        assert_simple(&g, n);
        // m·(n − m) + C(m, 2).
        let want = 3 * (20_000 - 3) + 3;
        assert_eq!(g.graph.edge_count(), want);
        let deg = degrees(&g);
        assert!(deg.iter().all(|&d| d >= m as usize));
        // A G(n, p) graph of the same mean degree (6) has a maximum degree
        // near 18; preferential attachment's grows like m·√n ≈ 400.
        let er = make(Topology::ErdosRenyi { p: 6.0 / 19_999.0 }, n, 8);
        let (ba_max, er_max) = (
            deg.iter().max().unwrap(),
            degrees(&er).into_iter().max().unwrap(),
        );
        assert!(*ba_max > 5 * er_max, "BA max {ba_max}, ER max {er_max}");
        // P(degree >= k) ≈ m(m + 1)/(k(k + 1)) (Bollobás et al. 2001).
        for k in [6usize, 12, 24] {
            let got = deg.iter().filter(|&&d| d >= k).count() as f64 / f64::from(n);
            let want = 12.0 / (k * (k + 1)) as f64;
            assert!((got / want - 1.0).abs() < 0.1, "k = {k}: {got} vs {want}");
        }
        // The seed clique alone when n = m + 1.
        assert_eq!(
            make(Topology::BarabasiAlbert { m: 4 }, 5, 0)
                .graph
                .edge_count(),
            10
        );
    }

    #[test]
    fn random_regular_is_regular_and_simple() {
        for (n, degree) in [
            (10, 3),
            (11, 4),
            (12, 10),
            (9, 8),
            (101, 50),
            (200, 150),
            (1000, 7),
        ] {
            for seed in 0..3 {
                let g = make(Topology::RandomRegular { degree }, n, seed);
                assert_simple(&g, n);
                assert!(
                    degrees(&g).iter().all(|&d| d == degree as usize),
                    "n = {n}, degree = {degree}"
                );
                let es = edges(&g);
                assert!(es.windows(2).all(|w| w[0] < w[1]), "edges sorted");
            }
        }
    }

    /// The overlay size of the shipped 100,000-node scenarios. (Its speed is
    /// a benchmark's business, not a test's: about 40 ms in release here.)
    #[test]
    fn random_regular_100k_nodes_degree_8() {
        let g = make(Topology::RandomRegular { degree: 8 }, 100_000, 1);
        assert_eq!(g.graph.edge_count(), 400_000);
        assert!(degrees(&g).iter().all(|&d| d == 8));
        assert_simple(&g, 100_000);
    }

    /// All pairs within `radius`, tested one by one, in lexicographic order.
    fn brute_force(points: &[(f64, f64)], radius: f64) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for (i, &(xi, yi)) in points.iter().enumerate() {
            for (j, &(xj, yj)) in points.iter().enumerate().skip(i + 1) {
                let (dx, dy) = (xi - xj, yi - yj);
                if dx * dx + dy * dy <= radius * radius {
                    out.push((i as u32, j as u32));
                }
            }
        }
        out
    }

    #[test]
    fn random_geometric_matches_all_pairs() {
        for (seed, radius) in [
            (1, 0.05),
            (2, 0.1),
            (3, 0.3333),
            (4, 1.0),
            (5, 2.0),
            (6, 0.001),
        ] {
            let g = make(Topology::RandomGeometric { radius }, 500, seed);
            let points = g.positions.as_ref().unwrap();
            assert_eq!(points.len(), 500);
            assert!(points
                .iter()
                .all(|&(x, y)| (0.0..1.0).contains(&x) && (0.0..1.0).contains(&y)));
            assert_eq!(edges(&g), brute_force(points, radius), "radius {radius}");
        }
        // Radius 2 covers the whole square.
        assert_eq!(
            make(Topology::RandomGeometric { radius: 2.0 }, 500, 5)
                .graph
                .edge_count(),
            500 * 499 / 2
        );
    }

    #[test]
    fn random_geometric_connectivity_threshold() {
        // Known answer: r_c ≈ √(ln n / (π n)) on the unit square.
        let n = 2000;
        let r_c = libm::sqrt(libm::log(f64::from(n)) / (core::f64::consts::PI * f64::from(n)));
        let connected = |factor: f64| {
            (0..5)
                .filter(|&seed| {
                    let g = make(
                        Topology::RandomGeometric {
                            radius: factor * r_c,
                        },
                        n,
                        seed,
                    );
                    petgraph::algo::connected_components(&g.graph) == 1
                })
                .count()
        };
        assert!(connected(1.5) >= 4, "above the threshold");
        assert_eq!(connected(0.5), 0, "below the threshold");
    }

    #[test]
    fn same_seed_same_graph_different_seed_different_graph() {
        for t in [
            Topology::ErdosRenyi { p: 0.05 },
            Topology::BarabasiAlbert { m: 2 },
            Topology::RandomGeometric { radius: 0.1 },
            Topology::RandomRegular { degree: 4 },
        ] {
            let a = make(t.clone(), 300, 17);
            let b = make(t.clone(), 300, 17);
            let c = make(t.clone(), 300, 18);
            assert_eq!(edges(&a), edges(&b), "{t:?}");
            assert_eq!(a.positions, b.positions, "{t:?}");
            assert_ne!(edges(&a), edges(&c), "{t:?}");
        }
    }

    #[test]
    fn validate_rejects_impossible_parameters() {
        use TopologyError as E;
        let cases = [
            (
                Topology::Ring,
                2,
                E::TooFewNodes {
                    topology: "Ring",
                    n: 2,
                    min: 3,
                },
            ),
            (
                Topology::Line,
                0,
                E::TooFewNodes {
                    topology: "Line",
                    n: 0,
                    min: 1,
                },
            ),
            (
                Topology::Grid { width: 3 },
                10,
                E::GridWidth { width: 3, n: 10 },
            ),
            (
                Topology::Grid { width: 0 },
                10,
                E::GridWidth { width: 0, n: 10 },
            ),
            (
                Topology::ErdosRenyi { p: 1.5 },
                10,
                E::Probability { p: 1.5 },
            ),
            (
                Topology::ErdosRenyi { p: -0.1 },
                10,
                E::Probability { p: -0.1 },
            ),
            (
                Topology::BarabasiAlbert { m: 10 },
                10,
                E::Attachment { m: 10, n: 10 },
            ),
            (
                Topology::BarabasiAlbert { m: 0 },
                10,
                E::Attachment { m: 0, n: 10 },
            ),
            (
                Topology::RandomGeometric { radius: 0.0 },
                10,
                E::Radius { radius: 0.0 },
            ),
            (
                Topology::RandomGeometric {
                    radius: f64::INFINITY,
                },
                10,
                E::Radius {
                    radius: f64::INFINITY,
                },
            ),
            (
                Topology::RandomRegular { degree: 3 },
                9,
                E::Degree { degree: 3, n: 9 },
            ),
            (
                Topology::RandomRegular { degree: 9 },
                9,
                E::Degree { degree: 9, n: 9 },
            ),
            (
                Topology::RandomRegular { degree: 0 },
                9,
                E::Degree { degree: 0, n: 9 },
            ),
            (
                Topology::FullMesh,
                100_000,
                E::TooManyEdges {
                    topology: "FullMesh",
                    n: 100_000,
                    edges: 4_999_950_000,
                },
            ),
        ];
        for (t, n, want) in cases {
            assert_eq!(t.validate(n), Err(want.clone()), "{t:?} on {n}");
            // generate refuses too, before allocating anything.
            assert_eq!(t.generate(n, &mut rng(0)).unwrap_err(), want);
        }
        assert!(Topology::ErdosRenyi { p: f64::NAN }.validate(10).is_err());
        let msg = Topology::Grid { width: 3 }
            .validate(10)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("divide the node count 10"), "{msg}");
    }

    #[test]
    fn ron_round_trips() {
        for (text, t) in [
            ("Line", Topology::Line),
            ("FullMesh", Topology::FullMesh),
            ("Grid(width: 10)", Topology::Grid { width: 10 }),
            ("ErdosRenyi(p: 0.05)", Topology::ErdosRenyi { p: 0.05 }),
            ("BarabasiAlbert(m: 3)", Topology::BarabasiAlbert { m: 3 }),
            (
                "RandomGeometric(radius: 0.1)",
                Topology::RandomGeometric { radius: 0.1 },
            ),
            (
                "RandomRegular(degree: 8)",
                Topology::RandomRegular { degree: 8 },
            ),
        ] {
            assert_eq!(ron::from_str::<Topology>(text).unwrap(), t);
            let written = ron::to_string(&t).unwrap();
            assert_eq!(ron::from_str::<Topology>(&written).unwrap(), t);
        }
        let err = ron::from_str::<Topology>("Grid(width: 3, height: 4)").unwrap_err();
        assert!(err.to_string().contains("height"), "{err}");
    }

    /// Any topology, with parameters that are often but not always valid.
    fn any_topology() -> impl Strategy<Value = Topology> {
        prop_oneof![
            Just(Topology::Line),
            Just(Topology::Ring),
            Just(Topology::Star),
            Just(Topology::FullMesh),
            (0u32..8).prop_map(|width| Topology::Grid { width }),
            (-0.2f64..1.2).prop_map(|p| Topology::ErdosRenyi { p }),
            (0u32..8).prop_map(|m| Topology::BarabasiAlbert { m }),
            (-0.1f64..1.5).prop_map(|radius| Topology::RandomGeometric { radius }),
            (0u32..12).prop_map(|degree| Topology::RandomRegular { degree }),
        ]
    }

    proptest! {
        #[test]
        fn generated_graphs_are_simple_with_n_nodes(
            t in any_topology(), n in 0u32..60, seed in any::<u64>()
        ) {
            let result = t.generate(n, &mut rng(seed));
            prop_assert_eq!(result.is_ok(), t.validate(n).is_ok());
            if let Ok(g) = result {
                assert_simple(&g, n);
                if let Some(want) = t.edge_count(n) {
                    prop_assert_eq!(g.graph.edge_count() as u64, want);
                }
                prop_assert_eq!(g.positions.is_some(), matches!(t, Topology::RandomGeometric { .. }));
            }
        }

        #[test]
        fn random_regular_is_exactly_regular(
            n in 2u32..300, degree in 1u32..300, seed in any::<u64>()
        ) {
            let t = Topology::RandomRegular { degree };
            prop_assume!(t.validate(n).is_ok());
            let g = t.generate(n, &mut rng(seed)).unwrap();
            assert_simple(&g, n);
            prop_assert!(degrees(&g).iter().all(|&d| d == degree as usize));
        }
    }
}
