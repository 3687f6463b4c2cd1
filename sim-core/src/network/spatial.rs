//! A uniform grid over the radio field, to find the nodes near a node without
//! looking at all of them.
//!
//! The field `[0, w] × [0, h]` is cut into `cols × rows` equal cells, each at
//! least `side` wide and high; nodes outside the field are filed in the
//! nearest border cell. Two nodes at most `side` apart along each axis are
//! then in the same or adjacent cells (clamping to the border keeps that
//! true), so [`Grid::near`] — the node's cell and its eight neighbours — holds
//! every node within `side` of it. Cells are stored compactly (a counting
//! sort into one array with per-cell offsets), rebuilt in place in O(n) with
//! no allocation after the first build. The number of cells is capped at
//! about four per node, so a huge sparse field costs no memory.

use super::mobility::Point;

/// The grid and where each node was filed at the last [`Grid::rebuild`].
#[derive(Clone, Debug)]
pub(crate) struct Grid {
    cols: usize,
    rows: usize,
    cell_w: f64,
    cell_h: f64,
    /// Cell `c` holds `members[start[c]..start[c + 1]]` (row-major cells).
    start: Vec<u32>,
    /// Node ids, grouped by cell, ascending within a cell.
    members: Vec<u32>,
    /// Each node's cell.
    cell_of: Vec<u32>,
}

impl Grid {
    /// A grid over the field `area` (width, height) for `nodes` nodes, with
    /// cells at least `side` on each side (`side` positive).
    pub(crate) fn new(area: (f64, f64), side: f64, nodes: usize) -> Self {
        let limit = 4 * nodes.max(1);
        let count = |extent: f64, cap: usize| ((extent / side) as usize).clamp(1, cap.max(1));
        let cols = count(area.0, limit);
        let rows = count(area.1, limit / cols);
        Grid {
            cols,
            rows,
            cell_w: area.0 / cols as f64,
            cell_h: area.1 / rows as f64,
            start: vec![0; cols * rows + 1],
            members: vec![0; nodes],
            cell_of: vec![0; nodes],
        }
    }

    /// The cell of `p`: `floor(p / cell)` per axis, clamped into the grid
    /// (a NaN, from a zero-width field, files in cell 0).
    fn cell(&self, p: Point) -> u32 {
        let col = ((p.x / self.cell_w) as usize).min(self.cols - 1);
        let row = ((p.y / self.cell_h) as usize).min(self.rows - 1);
        (row * self.cols + col) as u32
    }

    /// Files node `i` under `positions[i]` (exactly one position per node).
    pub(crate) fn rebuild(&mut self, positions: impl Iterator<Item = Point>) {
        let mut cell_of = std::mem::take(&mut self.cell_of);
        cell_of.clear();
        cell_of.extend(positions.map(|p| self.cell(p)));
        assert_eq!(cell_of.len(), self.members.len(), "one position per node");
        // Counting sort: counts, running totals (each cell's end), then fill
        // backwards, which leaves each start at its cell's first slot.
        self.start.fill(0);
        for &c in &cell_of {
            self.start[c as usize] += 1;
        }
        let mut total = 0;
        for s in &mut self.start {
            total += *s;
            *s = total;
        }
        for (i, &c) in cell_of.iter().enumerate().rev() {
            let slot = &mut self.start[c as usize];
            *slot -= 1;
            self.members[*slot as usize] = i as u32;
        }
        self.cell_of = cell_of;
    }

    /// The nodes filed in `node`'s cell and the eight around it (including
    /// `node` itself), one row of cells after another.
    pub(crate) fn near(&self, node: usize) -> impl Iterator<Item = u32> + '_ {
        let c = self.cell_of[node] as usize;
        let (row, col) = (c / self.cols, c % self.cols);
        let (first, last) = (col.saturating_sub(1), (col + 1).min(self.cols - 1));
        let rows = row.saturating_sub(1)..=(row + 1).min(self.rows - 1);
        // The cells of one row are contiguous, so each row is one slice.
        rows.flat_map(move |r| {
            let base = r * self.cols;
            let span = self.start[base + first] as usize..self.start[base + last + 1] as usize;
            self.members[span].iter().copied()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_holds_everything_within_a_side() {
        // A 7×7 lattice spaced 10 m apart, cells of at least 10 m, plus two
        // nodes outside the field.
        let mut points: Vec<Point> = (0..49)
            .map(|i| Point::new(f64::from(i % 7) * 10.0, f64::from(i / 7) * 10.0))
            .collect();
        points.push(Point::new(-30.0, 25.0));
        points.push(Point::new(95.0, 61.0));
        let mut grid = Grid::new((60.0, 60.0), 10.0, points.len());
        grid.rebuild(points.iter().copied());
        for (a, &pa) in points.iter().enumerate() {
            let near: Vec<u32> = grid.near(a).collect();
            for (b, &pb) in points.iter().enumerate() {
                let close = (pa.x - pb.x).abs() <= 10.0 && (pa.y - pb.y).abs() <= 10.0;
                assert!(!close || near.contains(&(b as u32)), "{a} misses {b}");
            }
            // Each node is filed exactly once.
            let mut sorted = near.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), near.len());
        }
        // The middle of the lattice sees its 3×3 block of cells, not the
        // whole field.
        assert!(grid.near(24).count() < 20);
    }

    #[test]
    fn cells_are_capped_for_sparse_fields() {
        let grid = Grid::new((1e6, 1e6), 1.0, 10);
        assert!(grid.cols * grid.rows <= 40);
        assert!(grid.cell_w >= 1.0 && grid.cell_h >= 1.0);
        // A degenerate field still has one cell.
        let mut flat = Grid::new((0.0, 0.0), 5.0, 2);
        flat.rebuild([Point::new(0.0, 0.0), Point::new(3.0, 4.0)].into_iter());
        assert_eq!(flat.near(0).collect::<Vec<_>>(), vec![0, 1]);
    }
}
