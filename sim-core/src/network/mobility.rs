//! Where the radio model's nodes are: positions in the plane and how they
//! move.
//!
//! Space is continuous (`f64` metres); time is not: every trajectory is a
//! function of the virtual [`Instant`], evaluated with integer nanoseconds and
//! IEEE arithmetic (`+ − × ÷` and `libm::sqrt`, all correctly rounded), so a
//! position is the same bits on every machine.
//!
//! Three kinds of movement ([`Mobility`]):
//!
//! - `Static`: the node stays at its start point.
//! - `RandomWaypoint`: the classic random-waypoint model. From its start
//!   point the node picks a destination uniformly in the rectangle
//!   `[0, w] × [0, h]`, travels to it in a straight line at a speed drawn
//!   uniformly from `[speed_min, speed_max]`, pauses for `pause`, and
//!   repeats; it starts moving at time zero. Travel times are rounded up to
//!   the nanosecond, so the realised speed is at most the drawn one (and
//!   below it by at most one part in 10⁹ of a leg's duration).
//! - `Scripted`: straight lines from the start point (at time zero) through
//!   each waypoint in turn, reaching it exactly at its time, then holding
//!   the last one.
//!
//! Random legs are drawn lazily from the node's own stream
//! ([`Domain::Mobility`], index = node id), one leg at a time and only as
//! virtual time reaches it, so a trajectory depends on the seed and the node
//! alone: which positions were asked for, and when, changes nothing. Queries
//! are cheapest with non-decreasing times (the current leg is kept); a query
//! earlier than the current leg replays the stream from the start, so even
//! then the answer is the same.
//!
//! The model's well-known departure from reality (and its known bias) is kept
//! on purpose: random waypoint concentrates nodes toward the middle of the
//! area and, with a small `speed_min`, slows its mean speed over time
//! (Yoon, Liu and Noble, "Random Waypoint Considered Harmful", 2003); that is
//! why `speed_min` must be positive.

use serde::{Deserialize, Serialize};

use crate::dist::unit_f64;
use crate::rng::{Domain, RngStreams, SimRng};
use crate::time::{Duration, Instant};

/// A point in the plane, in metres.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// East, in metres.
    pub x: f64,
    /// North, in metres.
    pub y: f64,
}

impl Point {
    /// The point `(x, y)`.
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }
    /// The squared distance to `other`: what range checks compare, with no
    /// square root.
    pub fn distance2(self, other: Point) -> f64 {
        let (dx, dy) = (other.x - self.x, other.y - self.y);
        dx * dx + dy * dy
    }
    /// The distance to `other`, in metres.
    pub fn distance(self, other: Point) -> f64 {
        libm::sqrt(self.distance2(other))
    }
    /// The point a fraction `f` of the way to `to` (`self` itself at 0).
    fn lerp(self, to: Point, f: f64) -> Point {
        Point::new(self.x + (to.x - self.x) * f, self.y + (to.y - self.y) * f)
    }
    /// Whether both coordinates are finite.
    pub(crate) fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }
}

/// How a node moves, as a scenario writes it. The module docs of
/// `network/mobility.rs` say more.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Mobility {
    /// The node never moves.
    #[default]
    Static,
    /// Random waypoint: destinations uniform in `[0, area.0] × [0, area.1]`,
    /// speeds uniform in `[speed_min, speed_max]`, a pause at each.
    RandomWaypoint {
        /// Slowest speed, m/s; positive.
        speed_min: f64,
        /// Fastest speed, m/s; at least `speed_min`.
        speed_max: f64,
        /// Time spent at each destination before the next leg.
        pause: Duration,
        /// Width and height of the rectangle destinations are drawn from,
        /// with its corner at the origin, in metres.
        area: (f64, f64),
    },
    /// Piecewise-linear: from the start point at time zero through each
    /// `(time since start, point)` in turn; the last point is held.
    Scripted {
        /// Waypoints in strictly increasing time, the first after zero.
        waypoints: Vec<(Duration, Point)>,
    },
}

impl Mobility {
    /// Checks the parameters; the message says what was expected.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Mobility::Static => Ok(()),
            &Mobility::RandomWaypoint {
                speed_min,
                speed_max,
                area: (w, h),
                ..
            } => {
                if !(speed_min > 0.0 && speed_min.is_finite()) {
                    return Err(format!("speed_min = {speed_min} must be a positive speed in m/s: random waypoint with speeds near zero never settles"));
                }
                if !(speed_max >= speed_min && speed_max.is_finite()) {
                    return Err(format!(
                        "speed_max = {speed_max} must be at least speed_min = {speed_min}"
                    ));
                }
                let side = |s: f64| s >= 0.0 && s.is_finite();
                if !(side(w) && side(h) && w + h > 0.0) {
                    return Err(format!(
                        "area = ({w}, {h}) must be a width and a height in metres, not both zero"
                    ));
                }
                Ok(())
            }
            Mobility::Scripted { waypoints } => {
                let mut last = Duration::ZERO;
                for (i, &(at, p)) in waypoints.iter().enumerate() {
                    if at <= last {
                        return Err(format!("waypoint {i} at {at} must come after {last}: times strictly increase from zero"));
                    }
                    if !p.is_finite() {
                        return Err(format!("waypoint {i} is not a finite point"));
                    }
                    last = at;
                }
                Ok(())
            }
        }
    }

    /// The fastest the node ever moves from `start`, in m/s: what the radio
    /// model's neighbour grid must allow for between refreshes.
    pub fn max_speed(&self, start: Point) -> f64 {
        match self {
            Mobility::Static => 0.0,
            Mobility::RandomWaypoint { speed_max, .. } => *speed_max,
            Mobility::Scripted { waypoints } => {
                let mut from = (Duration::ZERO, start);
                let mut fastest = 0.0_f64;
                for &(at, p) in waypoints {
                    let secs = (at - from.0).as_secs_f64();
                    fastest = fastest.max(from.1.distance(p) / secs);
                    from = (at, p);
                }
                fastest
            }
        }
    }
}

/// A node's trajectory: its position at any virtual time (see the module
/// docs). Built from a valid [`Mobility`].
#[derive(Clone, Debug)]
pub(crate) enum Trajectory {
    Static(Point),
    Waypoint(Box<Wander>),
    /// The start point at time zero, then the waypoints.
    Scripted(Vec<(Instant, Point)>),
}

impl Trajectory {
    /// Node `node`'s trajectory from `start`; random legs come from its
    /// stream of `streams`.
    pub(crate) fn new(start: Point, mobility: &Mobility, streams: RngStreams, node: u32) -> Self {
        match mobility {
            Mobility::Static => Trajectory::Static(start),
            &Mobility::RandomWaypoint {
                speed_min,
                speed_max,
                pause,
                area,
            } => Trajectory::Waypoint(Box::new(Wander::new(
                start,
                (speed_min, speed_max),
                pause,
                area,
                streams,
                node,
            ))),
            Mobility::Scripted { waypoints } => Trajectory::Scripted(
                std::iter::once((Instant::ZERO, start))
                    .chain(waypoints.iter().map(|&(at, p)| (Instant::ZERO + at, p)))
                    .collect(),
            ),
        }
    }

    /// The position at `t`.
    pub(crate) fn position(&mut self, t: Instant) -> Point {
        match self {
            Trajectory::Static(p) => *p,
            Trajectory::Waypoint(w) => w.position(t),
            Trajectory::Scripted(path) => {
                // path[0] is at time zero, so at least one point is due.
                let next = path.partition_point(|&(at, _)| at <= t);
                let (t0, p0) = path[next - 1];
                match path.get(next) {
                    None => p0,
                    Some(&(t1, p1)) => p0.lerp(p1, fraction(t0, t1, t)),
                }
            }
        }
    }

    /// The position, if it never changes.
    pub(crate) fn fixed(&self) -> Option<Point> {
        match self {
            Trajectory::Static(p) => Some(*p),
            _ => None,
        }
    }
}

/// How far `t` is from `t0` toward `t1` (`t0 <= t < t1`), from 0 to 1.
fn fraction(t0: Instant, t1: Instant, t: Instant) -> f64 {
    (t - t0).as_nanos() as f64 / (t1 - t0).as_nanos() as f64
}

/// One random-waypoint leg: travel from `from` (leaving at `depart`) to `to`
/// (reached at `arrive`), then a pause until `resume`.
#[derive(Clone, Copy, Debug)]
struct Leg {
    from: Point,
    to: Point,
    depart: Instant,
    arrive: Instant,
    resume: Instant,
}

impl Leg {
    /// The position at `t`, for `depart <= t`.
    fn at(&self, t: Instant) -> Point {
        if t >= self.arrive {
            self.to
        } else {
            self.from
                .lerp(self.to, fraction(self.depart, self.arrive, t))
        }
    }
}

/// A random-waypoint walk: its parameters, its stream and its current leg.
#[derive(Clone, Debug)]
pub(crate) struct Wander {
    start: Point,
    speed: (f64, f64),
    pause: Duration,
    area: (f64, f64),
    streams: RngStreams,
    node: u32,
    rng: SimRng,
    leg: Leg,
}

impl Wander {
    fn new(
        start: Point,
        speed: (f64, f64),
        pause: Duration,
        area: (f64, f64),
        streams: RngStreams,
        node: u32,
    ) -> Self {
        let rng = streams.stream(Domain::Mobility, 0, node);
        let mut walk = Wander {
            start,
            speed,
            pause,
            area,
            streams,
            node,
            rng,
            leg: Leg {
                from: start,
                to: start,
                depart: Instant::ZERO,
                arrive: Instant::ZERO,
                resume: Instant::ZERO,
            },
        };
        walk.leg = walk.next_leg(start, Instant::ZERO);
        walk
    }

    /// Draws the leg that leaves `from` at `depart`: destination, then speed.
    fn next_leg(&mut self, from: Point, depart: Instant) -> Leg {
        let to = Point::new(
            unit_f64(&mut self.rng) * self.area.0,
            unit_f64(&mut self.rng) * self.area.1,
        );
        let (slow, fast) = self.speed;
        let speed = slow + unit_f64(&mut self.rng) * (fast - slow);
        let nanos = libm::ceil(from.distance(to) / speed * 1e9);
        let arrive = depart.saturating_add(Duration::from_nanos(nanos as u64));
        Leg {
            from,
            to,
            depart,
            arrive,
            resume: arrive.saturating_add(self.pause),
        }
    }

    fn position(&mut self, t: Instant) -> Point {
        if t < self.leg.depart {
            *self = Wander::new(
                self.start,
                self.speed,
                self.pause,
                self.area,
                self.streams,
                self.node,
            );
        }
        while t >= self.leg.resume {
            self.leg = self.next_leg(self.leg.to, self.leg.resume);
        }
        self.leg.at(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walker(node: u32) -> Trajectory {
        let mobility = Mobility::RandomWaypoint {
            speed_min: 0.5,
            speed_max: 2.0,
            pause: Duration::from_secs(3),
            area: (200.0, 100.0),
        };
        mobility.validate().unwrap();
        Trajectory::new(Point::new(10.0, 20.0), &mobility, RngStreams::new(9), node)
    }

    fn at_ms(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn random_waypoint_stays_in_its_area_at_bounded_speeds() {
        for node in 0..8 {
            let mut path = walker(node);
            let mut prev = path.position(Instant::ZERO);
            let mut legs = 0;
            let mut last_depart = Instant::ZERO;
            let mut moved = 0.0;
            for step in 1..=200_000 {
                let now = at_ms(10 * step); // every 10 ms for 2000 s
                let p = path.position(now);
                assert!((0.0..=200.0).contains(&p.x) && (0.0..=100.0).contains(&p.y));
                // Never faster than speed_max over 10 ms.
                let d = prev.distance(p);
                assert!(d <= 2.0 * 0.01 * (1.0 + 1e-9), "{d} m in 10 ms");
                moved += d;
                prev = p;
                let Trajectory::Waypoint(w) = &path else {
                    unreachable!()
                };
                let leg = w.leg;
                if leg.depart != last_depart {
                    last_depart = leg.depart;
                    legs += 1;
                    // Each leg's realised speed is within [speed_min, speed_max].
                    let secs = (leg.arrive - leg.depart).as_secs_f64();
                    let speed = leg.from.distance(leg.to) / secs;
                    assert!((0.5 * (1.0 - 1e-6)..=2.0).contains(&speed), "{speed}");
                }
            }
            assert!(legs > 5, "only {legs} legs");
            assert!(moved > 100.0, "moved only {moved} m");
        }
    }

    #[test]
    fn positions_do_not_depend_on_when_they_are_asked() {
        let end = Instant::from_nanos(3_600 * 1_000_000_000 + 123_456_789);
        let mut every_second = walker(4);
        for s in 0..3_600 {
            every_second.position(Instant::ZERO + Duration::from_secs(s));
        }
        let mut once = walker(4);
        let mut rewound = walker(4);
        rewound.position(end);
        rewound.position(at_ms(5)); // earlier than the current leg: replays
        let want = once.position(end);
        assert_eq!(every_second.position(end), want);
        assert_eq!(rewound.position(end), want);
        assert_ne!(walker(5).position(end), want);
    }

    #[test]
    fn scripted_path_passes_through_its_waypoints() {
        let mobility = Mobility::Scripted {
            waypoints: vec![
                (Duration::from_secs(10), Point::new(100.0, 0.0)),
                (Duration::from_secs(20), Point::new(100.0, 50.0)),
            ],
        };
        mobility.validate().unwrap();
        assert_eq!(mobility.max_speed(Point::new(0.0, 0.0)), 10.0);
        let mut path = Trajectory::new(Point::new(0.0, 0.0), &mobility, RngStreams::new(1), 0);
        let s = |secs: u64| Instant::ZERO + Duration::from_secs(secs);
        assert_eq!(path.position(s(0)), Point::new(0.0, 0.0));
        assert_eq!(path.position(s(5)), Point::new(50.0, 0.0));
        assert_eq!(path.position(s(10)), Point::new(100.0, 0.0));
        assert_eq!(path.position(s(15)), Point::new(100.0, 25.0));
        assert_eq!(path.position(s(20)), Point::new(100.0, 50.0));
        assert_eq!(path.position(s(1_000)), Point::new(100.0, 50.0));
        assert_eq!(path.position(s(5)), Point::new(50.0, 0.0));
        assert_eq!(path.fixed(), None);
    }

    #[test]
    fn validate_rejects_impossible_movement() {
        let rwp = |speed_min, speed_max, area| Mobility::RandomWaypoint {
            speed_min,
            speed_max,
            pause: Duration::ZERO,
            area,
        };
        assert!(rwp(0.0, 1.0, (10.0, 10.0)).validate().is_err());
        assert!(rwp(2.0, 1.0, (10.0, 10.0)).validate().is_err());
        assert!(rwp(1.0, f64::INFINITY, (10.0, 10.0)).validate().is_err());
        assert!(rwp(1.0, 1.0, (0.0, 0.0)).validate().is_err());
        assert!(rwp(1.0, 1.0, (10.0, 0.0)).validate().is_ok());
        let script = |secs: &[u64]| Mobility::Scripted {
            waypoints: secs
                .iter()
                .map(|&s| (Duration::from_secs(s), Point::default()))
                .collect(),
        };
        assert!(script(&[0]).validate().is_err());
        assert!(script(&[2, 2]).validate().is_err());
        assert!(script(&[1, 2]).validate().is_ok());
    }
}
