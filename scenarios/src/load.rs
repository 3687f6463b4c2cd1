//! Reading a scenario file: RON parsing, then every check that can be made
//! before running, so a bad file fails in milliseconds with its position.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ron::extensions::Extensions;
use ron::Options;
use sim_core::network::{AccessClass, InternetConfig, RadioConfig};

use protocols::signaling::SignalingConfig;

use crate::error::{Locator, ScenarioError};
use crate::schema::{
    ActionSpec, Arrivals, FaultKind, FaultSpec, GroupSpec, KeySpec, MobilitySpec, NetworkSpec,
    Placement, ProtocolSpec, RadioKind, Scenario, Target,
};
use crate::transport::TransportSpec;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{0}")]
    Invalid(#[from] ScenarioError),
}

/// Reads, parses and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<(Scenario, String), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: path.display().to_string(),
        source,
    })?;
    let scenario = parse(path, &text)?;
    Ok((scenario, text))
}

/// Parses and validates scenario text; `path` is only used in errors.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let options = Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES);
    let scenario: Scenario = options.from_str(text).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        line: e.span.start.line,
        col: e.span.start.col,
        message: explain(&e.code),
    })?;
    validate(&scenario, &Locator::new(path, text))?;
    if scenario.sweep.is_some() {
        // Every point of the sweep is built and validated too.
        crate::sweep::Plan::new(&scenario, path, text)?;
    }
    Ok(scenario)
}

/// RON's message, with what was expected where RON's wording is terse.
fn explain(code: &ron::Error) -> String {
    match code {
        ron::Error::NoSuchStructField {
            expected,
            found,
            outer,
        } => {
            let within = outer
                .as_deref()
                .map(|o| format!(" in {o}"))
                .unwrap_or_default();
            format!(
                "unknown field `{found}`{within}, expected one of: {}",
                expected.join(", ")
            )
        }
        other => other.to_string(),
    }
}

/// A group's device must exist and its starting charge be a fraction.
fn check_energy(s: &Scenario, g: &GroupSpec, at: &Locator<'_>) -> Result<(), ScenarioError> {
    if let Some(d) = &g.device {
        if !s.devices.contains_key(d) {
            let known: Vec<_> = s.devices.keys().map(|k| format!("{k:?}")).collect();
            let msg = if known.is_empty() {
                format!("no device class named {d:?}; the scenario's `devices` is empty")
            } else {
                format!(
                    "no device class named {d:?}; expected one of {}",
                    known.join(", ")
                )
            };
            return Err(at.error("device", Some(&format!("{d:?}")), msg));
        }
    }
    if let Some(b) = g.battery {
        if !(0.0..=1.0).contains(&b) {
            return Err(at.error(
                "battery",
                None,
                format!("a starting charge from 0.0 to 1.0, not {b}"),
            ));
        }
        if g.device.is_none() {
            return Err(at.error(
                "battery",
                None,
                format!(
                    "group {:?} has a battery but no `device` to say its capacity",
                    g.name
                ),
            ));
        }
    }
    Ok(())
}

/// The internet model's core, access classes, and each group's region and
/// class names (the internet and hybrid models).
fn check_internet(
    s: &Scenario,
    core: &InternetConfig,
    access: &BTreeMap<String, AccessClass>,
    at: &Locator<'_>,
) -> Result<(), ScenarioError> {
    core.validate().map_err(|e| at.error("core", None, e))?;
    if access.is_empty() {
        return Err(at.error("access", None, "at least one access class"));
    }
    for g in &s.groups {
        match &g.access {
            Some(a) if !access.contains_key(a) => {
                let shown = format!("{a:?}");
                let known: Vec<_> = access.keys().map(|k| format!("{k:?}")).collect();
                let msg = format!(
                    "no access class named {shown}; expected one of {}",
                    known.join(", ")
                );
                return Err(at.error("access", Some(&shown), msg));
            }
            None if access.len() > 1 => {
                let shown = format!("{:?}", g.name);
                let msg = format!(
                    "group {shown} must name its access class: the network has {}",
                    access.len()
                );
                return Err(at.error("name", Some(&shown), msg));
            }
            _ => {}
        }
        for r in &g.regions {
            if !core.regions.contains(r) {
                let shown = format!("{r:?}");
                return Err(at.error(
                    "regions",
                    Some(&shown),
                    format!("no region named {shown} in core.regions"),
                ));
            }
        }
    }
    Ok(())
}

/// Each group's placement and mobility in the field of `radio` (the radio
/// and hybrid models).
fn check_field(s: &Scenario, radio: &RadioConfig, at: &Locator<'_>) -> Result<(), ScenarioError> {
    for g in &s.groups {
        if let Placement::At(points) = &g.placement {
            if points.len() != g.count as usize {
                return Err(at.error(
                    "At",
                    None,
                    format!(
                        "group {:?} has {} nodes but {} positions",
                        g.name,
                        g.count,
                        points.len()
                    ),
                ));
            }
        }
        if let Placement::Line { spacing, .. } | Placement::Grid { spacing } = g.placement {
            if !(spacing > 0.0 && spacing.is_finite()) {
                return Err(at.error("spacing", None, "a positive spacing in metres"));
            }
        }
        crate::build::mobility_of(&g.mobility, radio)
            .validate()
            .map_err(|e| at.error("mobility", None, e))?;
    }
    Ok(())
}

/// Which groups may have which transport: none on the radio model or for
/// BLE mesh nodes (BLE carries BitChat packets as they are), a transport
/// manager for every group on the hybrid model (its tags say which
/// datagrams go on the radio), with a relay group that exists and runs a
/// manager too, and an IP radio that is not BLE.
fn check_transports(s: &Scenario, at: &Locator<'_>) -> Result<(), ScenarioError> {
    let hybrid = matches!(s.network, NetworkSpec::Hybrid { .. });
    for g in &s.groups {
        let name = format!("{:?}", g.name);
        match &g.transport {
            Some(_)
                if matches!(g.protocol, ProtocolSpec::BleMesh(_))
                    || matches!(s.network, NetworkSpec::Radio(_)) =>
            {
                return Err(at.error(
                    "transport",
                    None,
                    format!(
                        "group {name} has a transport, but BLE radios carry BitChat packets as \
                         they are; transports run on Graph, Internet and Hybrid networks",
                    ),
                ));
            }
            Some(TransportSpec::Manager(m)) => {
                if let Some(relay) = &m.relay {
                    let shown = format!("{relay:?}");
                    let Some(r) = s.groups.iter().find(|r| &r.name == relay) else {
                        return Err(at.error(
                            "relay",
                            Some(&shown),
                            format!("no group named {shown} to be the relay"),
                        ));
                    };
                    if !matches!(r.transport, Some(TransportSpec::Manager(_))) {
                        return Err(at.error(
                            "relay",
                            Some(&shown),
                            format!("relay group {shown} needs `transport: Manager(...)` too"),
                        ));
                    }
                }
            }
            _ if hybrid => {
                return Err(at.error(
                    "name",
                    Some(&name),
                    format!(
                        "group {name} needs `transport: Manager(...)` on the Hybrid network, \
                         whose manager tags say which datagrams go on the radio"
                    ),
                ));
            }
            _ => {}
        }
        if hybrid && g.radio == Some(RadioKind::Ble) {
            return Err(at.error(
                "radio",
                None,
                format!(
                    "group {name}: on the Hybrid network `radio` names the IP side's radio \
                     (Wifi or Cellular); BLE's costs apply to the radio side"
                ),
            ));
        }
    }
    Ok(())
}

/// A discovery or signaling group's `server`: a group of the same protocol
/// that is itself a server; and the role and server index inside `config`,
/// which the scenario sets, left at their defaults.
fn check_server(
    s: &Scenario,
    g: &GroupSpec,
    at: &Locator<'_>,
    known_group: &dyn Fn(&str, &str) -> Result<(), ScenarioError>,
) -> Result<(), ScenarioError> {
    let (server, set_inside) = match &g.protocol {
        ProtocolSpec::Discovery(d) => (d.server.as_deref(), None),
        ProtocolSpec::Signaling(sg) => {
            let defaults = SignalingConfig::default();
            let field = if sg.config.role != defaults.role {
                Some("role")
            } else if sg.config.server != defaults.server {
                Some("server")
            } else {
                None
            };
            (sg.server.as_deref(), field)
        }
        _ => return Ok(()),
    };
    if let Some(field) = set_inside {
        return Err(at.error(
            "config",
            None,
            format!(
                "group {:?}: the scenario sets `config.{field}`; name the server's group in \
                 `server:` (or leave it out for the server group) instead",
                g.name
            ),
        ));
    }
    let Some(name) = server else {
        return Ok(());
    };
    known_group("server", name)?;
    let shown = format!("{name:?}");
    let target = s.groups.iter().find(|x| x.name == name).expect("checked");
    let serves = match &target.protocol {
        ProtocolSpec::Discovery(d) => {
            matches!(g.protocol, ProtocolSpec::Discovery(_)) && d.server.is_none()
        }
        ProtocolSpec::Signaling(sg) => {
            matches!(g.protocol, ProtocolSpec::Signaling(_)) && sg.server.is_none()
        }
        _ => false,
    };
    if !serves {
        return Err(at.error(
            "server",
            Some(&shown),
            format!(
                "server group {shown} is not a {} server; expected a group that runs {} \
                 with no `server` of its own",
                g.protocol.name(),
                g.protocol.name()
            ),
        ));
    }
    Ok(())
}

/// The checks RON's types cannot express.
pub fn validate(s: &Scenario, at: &Locator<'_>) -> Result<(), ScenarioError> {
    if s.name.is_empty()
        || !s
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(at.error(
            "name",
            None,
            "a name of letters, digits, '-', '_' or '.' (it names the output folder)",
        ));
    }
    if s.duration.as_nanos() == 0 {
        return Err(at.error("duration", None, "a duration longer than zero"));
    }
    if s.groups.is_empty() {
        return Err(at.error("groups", None, "at least one node group"));
    }
    let mut names = BTreeSet::new();
    let mut total: u64 = 0;
    for g in &s.groups {
        let shown = format!("{:?}", g.name);
        if !names.insert(g.name.as_str()) {
            return Err(at.error(
                "name",
                Some(&shown),
                format!("group names must be unique; {shown} is used twice"),
            ));
        }
        if g.count == 0 {
            return Err(at.error(
                "count",
                None,
                format!("group {shown} needs a count of at least 1"),
            ));
        }
        total += u64::from(g.count);
        check_energy(s, g, at)?;
    }
    for (name, d) in &s.devices {
        let costs = d
            .radios
            .values()
            .flat_map(|c| [c.idle_mw, c.tx_uj_per_byte, c.rx_uj_per_byte]);
        let positive = [d.battery_mah, d.voltage, d.ble_range_m];
        if !positive.iter().all(|v| v.is_finite() && *v > 0.0)
            || !costs.into_iter().all(|v| v.is_finite() && v >= 0.0)
        {
            return Err(at.error(
                "devices",
                Some(&format!("{name:?}")),
                format!(
                    "device {name:?} needs a positive battery_mah, voltage and \
                     ble_range_m, and radio costs of zero or more"
                ),
            ));
        }
    }
    let n = u32::try_from(total)
        .map_err(|_| at.error("count", None, "at most 4,294,967,295 nodes in all"))?;
    let group = |name: &str| s.groups.iter().find(|g| g.name == name);
    let known_group = |field: &str, name: &str| {
        group(name).map(|_| ()).ok_or_else(|| {
            let shown = format!("{name:?}");
            let known: Vec<_> = s.groups.iter().map(|g| format!("{:?}", g.name)).collect();
            at.error(
                field,
                Some(&shown),
                format!(
                    "no group named {shown}; expected one of {}",
                    known.join(", ")
                ),
            )
        })
    };
    let node_in_range = |field: &str, id: u32| {
        if id < n {
            Ok(())
        } else {
            Err(at.error(
                field,
                Some(&id.to_string()),
                format!("node {id} does not exist; expected a node id below {n}"),
            ))
        }
    };

    for g in &s.groups {
        let parameters = match &g.protocol {
            ProtocolSpec::Gossip(spec) => spec.config.validate(),
            ProtocolSpec::Dht(spec) => spec.config.validate(),
            ProtocolSpec::Libp2p(spec) => spec
                .node
                .gossip
                .validate()
                .and_then(|()| spec.node.dht.validate()),
            ProtocolSpec::Discovery(spec) => spec.config.validate(),
            ProtocolSpec::Signaling(spec) => spec.config.validate(),
            _ => Ok(()),
        };
        let field = match g.protocol {
            ProtocolSpec::Libp2p(_) => "node",
            _ => "config",
        };
        parameters
            .map_err(|e| at.error(field, None, format!("group {:?}: expected {e}", g.name)))?;
        let (bootstrap, wants) = match &g.protocol {
            ProtocolSpec::Dht(d) => (d.bootstrap.as_deref(), "Dht"),
            ProtocolSpec::Libp2p(l) => (Some(l.bootstrap.as_str()), "Libp2p"),
            _ => (None, ""),
        };
        check_server(s, g, at, &known_group)?;
        if let Some(b) = bootstrap {
            known_group("bootstrap", b)?;
            let runs = group(b).expect("checked").protocol.name();
            if runs != wants {
                let shown = format!("{b:?}");
                return Err(at.error(
                    "bootstrap",
                    Some(&shown),
                    format!("bootstrap group {shown} runs {runs}; expected {wants} nodes"),
                ));
            }
        }
    }
    match &s.network {
        NetworkSpec::Graph {
            topology,
            link,
            overrides,
        } => {
            topology
                .validate(n)
                .map_err(|e| at.error("topology", None, e.to_string()))?;
            link.validate().map_err(|e| at.error("link", None, e))?;
            for o in overrides {
                node_in_range("a", o.a)?;
                node_in_range("b", o.b)?;
                o.forward
                    .validate()
                    .map_err(|e| at.error("forward", None, e))?;
                if let Some(b) = &o.backward {
                    b.validate().map_err(|e| at.error("backward", None, e))?;
                }
            }
        }
        NetworkSpec::Internet {
            core,
            access,
            overlay,
        } => {
            if let Some(overlay) = overlay {
                overlay
                    .validate(n)
                    .map_err(|e| at.error("overlay", None, e.to_string()))?;
            }
            check_internet(s, core, access, at)?;
        }
        NetworkSpec::Hybrid { core, access, .. } => check_internet(s, core, access, at)?,
        NetworkSpec::Radio(radio) => {
            radio.validate().map_err(|e| at.error("Radio", None, e))?;
            check_field(s, radio, at)?;
        }
    }
    if let NetworkSpec::Hybrid { radio, .. } = &s.network {
        radio.validate().map_err(|e| at.error("radio", None, e))?;
        check_field(s, radio, at)?;
    }
    check_transports(s, at)?;

    if let NetworkSpec::Radio(_) = &s.network {
        if let Some(g) = s
            .groups
            .iter()
            .find(|g| !matches!(g.protocol, ProtocolSpec::BleMesh(_) | ProtocolSpec::Ping(_)))
        {
            return Err(at.error(
                g.protocol.name(),
                None,
                format!(
                    "group {:?} runs {} on the radio model, which carries BleMesh \
                     (and Ping) nodes; {} needs a Graph or Internet network",
                    g.name,
                    g.protocol.name(),
                    g.protocol.name()
                ),
            ));
        }
    } else if let (NetworkSpec::Internet { .. }, Some(g)) = (
        &s.network,
        s.groups
            .iter()
            .find(|g| matches!(g.protocol, ProtocolSpec::BleMesh(_))),
    ) {
        return Err(at.error(
            "BleMesh",
            None,
            format!(
                "group {:?} runs BleMesh on the internet model, where a radio broadcast \
                 reaches no one; use a Radio or Graph network",
                g.name
            ),
        ));
    } else if let (false, Some(g)) = (
        matches!(s.network, NetworkSpec::Hybrid { .. }),
        s.groups
            .iter()
            .find(|g| g.placement != Placement::Random || g.mobility != MobilitySpec::Static),
    ) {
        return Err(at.error(
            "name",
            Some(&format!("{:?}", g.name)),
            format!(
                "group {:?} has a placement or mobility, which only the Radio and Hybrid \
                 network models use",
                g.name
            ),
        ));
    }

    if s.output.interval.is_some_and(|i| i.as_nanos() == 0) {
        return Err(at.error("interval", None, "an interval longer than zero"));
    }
    for w in &s.workload {
        known_group("group", &w.group)?;
        let sender = group(&w.group).expect("checked");
        let fits = matches!(
            (&w.action, &sender.protocol),
            (ActionSpec::Ping { .. }, ProtocolSpec::Ping(_))
                | (
                    ActionSpec::Broadcast { .. },
                    ProtocolSpec::Flood(_) | ProtocolSpec::BleMesh(_)
                )
                | (ActionSpec::Send { .. }, ProtocolSpec::BleMesh(_))
                | (
                    ActionSpec::Publish { .. },
                    ProtocolSpec::Gossip(_) | ProtocolSpec::Libp2p(_)
                )
                | (
                    ActionSpec::Lookup { .. } | ActionSpec::Put { .. } | ActionSpec::Provide { .. },
                    ProtocolSpec::Dht(_) | ProtocolSpec::Libp2p(_)
                )
                | (
                    ActionSpec::Register { .. }
                        | ActionSpec::Discover { .. }
                        | ActionSpec::Health
                        | ActionSpec::StopHeartbeats,
                    ProtocolSpec::Discovery(_)
                )
                | (
                    ActionSpec::Join
                        | ActionSpec::Connect { .. }
                        | ActionSpec::SendDirect { .. }
                        | ActionSpec::Leave
                        | ActionSpec::GoSilent,
                    ProtocolSpec::Signaling(_)
                )
        );
        if !fits {
            return Err(at.error(
                "action",
                None,
                format!(
                    "group {:?} runs {}, which cannot do this action",
                    w.group,
                    sender.protocol.name()
                ),
            ));
        }
        let server_group = match &sender.protocol {
            ProtocolSpec::Discovery(d) => d.server.is_none(),
            ProtocolSpec::Signaling(sg) => sg.server.is_none(),
            _ => false,
        };
        if server_group {
            return Err(at.error(
                "action",
                None,
                format!(
                    "group {:?} is a {} server, which takes no commands; give the action \
                     to a group of its clients",
                    w.group,
                    sender.protocol.name()
                ),
            ));
        }
        if let ActionSpec::Lookup { key, .. }
        | ActionSpec::Put { key, .. }
        | ActionSpec::Provide { key } = &w.action
        {
            if matches!(key, KeySpec::Stored(0) | KeySpec::Sequence(0)) {
                return Err(at.error("key", None, "a key set of at least one key"));
            }
        }
        if let ActionSpec::Ping { to, .. }
        | ActionSpec::Send { to, .. }
        | ActionSpec::Connect { to }
        | ActionSpec::SendDirect { to, .. } = &w.action
        {
            match to {
                Target::Random => {}
                Target::Group(g) => known_group("to", g)?,
                Target::Node(id) => node_in_range("to", *id)?,
                Target::Connected if matches!(w.action, ActionSpec::SendDirect { .. }) => {}
                Target::Connected => {
                    return Err(at.error(
                        "Connected",
                        None,
                        "`to: Connected` (an open direct channel) is for SendDirect only; \
                         expected Random, Group(name) or Node(id)",
                    ))
                }
            }
        }
        match w.arrivals {
            Arrivals::Every(d) if d.as_nanos() == 0 => {
                return Err(at.error("Every", None, "a period longer than zero"));
            }
            Arrivals::Poisson(rate) if !(rate.is_finite() && rate > 0.0) => {
                return Err(at.error(
                    "Poisson",
                    None,
                    "a positive, finite rate in arrivals per second",
                ));
            }
            _ => {}
        }
        if w.stop.is_some_and(|stop| stop <= w.start) {
            return Err(at.error("stop", None, "a stop time after the start time"));
        }
    }

    for f in &s.faults {
        match f {
            FaultSpec::At(_, kind) => match kind {
                FaultKind::Crash { node, .. } | FaultKind::Restart { node } => {
                    node_in_range("node", *node)?
                }
                FaultKind::Partition(sides) => {
                    for name in sides.iter().flatten() {
                        known_group("Partition", name)?;
                    }
                }
                FaultKind::Heal => {}
                FaultKind::LinkDown { a, b }
                | FaultKind::LinkUp { a, b }
                | FaultKind::SetLoss { a, b, .. } => {
                    node_in_range("a", *a)?;
                    node_in_range("b", *b)?;
                    if !matches!(s.network, NetworkSpec::Graph { .. }) {
                        return Err(at.error(
                            "a",
                            None,
                            "link faults need a Graph network; the internet and radio models have no fixed links",
                        ));
                    }
                    if let FaultKind::SetLoss { loss, .. } = kind {
                        loss.validate().map_err(|e| at.error("loss", None, e))?;
                    }
                }
            },
            FaultSpec::Churn {
                group,
                rate,
                downtime,
                start,
                stop,
            } => {
                known_group("group", group)?;
                if !(rate.is_finite() && *rate > 0.0) {
                    return Err(at.error(
                        "rate",
                        None,
                        "a positive, finite churn rate in departures per second",
                    ));
                }
                downtime
                    .validate()
                    .map_err(|e| at.error("downtime", None, e))?;
                if stop.is_some_and(|stop| stop <= *start) {
                    return Err(at.error("stop", None, "a stop time after the start time"));
                }
            }
        }
    }
    Ok(())
}
