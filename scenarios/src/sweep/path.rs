//! Sweep paths: where in a scenario a parameter's value goes.
//!
//! A path is the scenario's fields from the top, separated by dots, as the
//! scenario file nests them: struct fields and map keys by name, list
//! entries by index from 0, enum variants by their name —
//! `groups.0.protocol.Gossip.config.d`, `network.Graph.link.loss`,
//! `devices.phone.battery_mah`, `faults.1`. A variant's name may be left
//! out where the value at that point holds exactly that one variant:
//! `network.link.loss` is `network.Graph.link.loss` in a scenario whose
//! network is a `Graph`.
//!
//! Paths are resolved in the scenario's serde form, where an enum value is
//! `{"Variant": content}` and a unit variant its name.
//! Every segment but the last must exist there. The last may name a field
//! the file leaves out (an optional one: `network.link.bandwidth`); whether
//! such a field exists at all is then up to the scenario's schema, whose
//! error ("unknown field `bandwith`, expected one of …") the sweep reports.

use serde_json::{Map, Value};

/// A path that does not lead anywhere: where in the path text the failing
/// segment starts, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathError {
    /// Byte offset of the segment in the path.
    pub offset: usize,
    /// What was there instead.
    pub message: String,
}

/// Sets `path` in `root` to `value`.
pub(crate) fn set(root: &mut Value, path: &str, value: Value) -> Result<(), PathError> {
    let segments = segments(path)?;
    let mut here = root;
    let mut walked = String::new();
    for (k, &(offset, segment)) in segments.iter().enumerate() {
        let last = k + 1 == segments.len();
        here = step(here, segment, last, &mut walked)
            .map_err(|message| PathError { offset, message })?;
    }
    *here = value;
    Ok(())
}

/// The segments of `path` and their byte offsets.
fn segments(path: &str) -> Result<Vec<(usize, &str)>, PathError> {
    let mut out = Vec::new();
    let mut offset = 0;
    for segment in path.split('.') {
        if segment.is_empty() {
            return Err(PathError {
                offset,
                message: "an empty segment: a path is names and indices separated by single dots"
                    .into(),
            });
        }
        out.push((offset, segment));
        offset += segment.len() + 1;
    }
    Ok(out)
}

/// The single variant an externally tagged enum value holds
/// (`{"Graph": {…}}`): its name.
fn variant(map: &Map<String, Value>) -> Option<&str> {
    match map.iter().next() {
        Some((name, Value::Object(_)))
            if map.len() == 1 && name.starts_with(|c: char| c.is_ascii_uppercase()) =>
        {
            Some(name)
        }
        _ => None,
    }
}

/// One step down from `here` (reached by `walked`) to `segment`; the last
/// step may create a field that is not there yet.
fn step<'v>(
    here: &'v mut Value,
    segment: &str,
    last: bool,
    walked: &mut String,
) -> Result<&'v mut Value, String> {
    let shown = |walked: &str| {
        if walked.is_empty() {
            "the scenario".to_string()
        } else {
            format!("`{walked}`")
        }
    };
    let descend = |walked: &mut String, name: &str| {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(name);
    };
    match here {
        Value::Object(map) => {
            if !map.contains_key(segment) {
                if let Some(name) = variant(map).map(str::to_string) {
                    if segment.starts_with(|c: char| c.is_ascii_uppercase()) {
                        return Err(format!(
                            "{} is a `{name}`, not a `{segment}`; to change the variant, sweep {} itself",
                            shown(walked),
                            shown(walked)
                        ));
                    }
                    // `network.link` where the network is `Graph(…)`.
                    descend(walked, &name);
                    let inner = map.get_mut(&name).expect("the variant's content");
                    return step(inner, segment, last, walked);
                }
                if !last {
                    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                    return Err(format!(
                        "no `{segment}` in {}; it has: {}",
                        shown(walked),
                        if keys.is_empty() {
                            "nothing".to_string()
                        } else {
                            keys.join(", ")
                        }
                    ));
                }
            }
            descend(walked, segment);
            Ok(map.entry(segment).or_insert(Value::Null))
        }
        Value::Array(items) => {
            let len = items.len();
            let index: usize = segment.parse().map_err(|_| {
                format!(
                    "{} is a list: expected an index from 0 to {}, not `{segment}`",
                    shown(walked),
                    len.saturating_sub(1)
                )
            })?;
            let item = items.get_mut(index).ok_or_else(|| {
                format!(
                    "{} has {len} {}; index {index} is out of range",
                    shown(walked),
                    if len == 1 { "entry" } else { "entries" }
                )
            })?;
            descend(walked, segment);
            Ok(item)
        }
        Value::Null => Err(format!(
            "{} is not set (None), so it has no `{segment}`; sweep {} itself",
            shown(walked),
            shown(walked)
        )),
        Value::String(s) => Err(format!(
            "{} is `{s}`, which has no `{segment}`; sweep {} itself",
            shown(walked),
            shown(walked)
        )),
        other => Err(format!(
            "{} is the value {other}, which has no `{segment}`",
            shown(walked)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scenario() -> Value {
        json!({
            "name": "x",
            "network": {"Graph": {"topology": "Line", "link": {"loss": "None", "bandwidth": null}}},
            "groups": [
                {"name": "a", "protocol": {"Gossip": {"topics": [0], "config": {"d": 6}}}},
                {"name": "b", "protocol": {"Flood": {"hop_limit": 3}}}
            ]
        })
    }

    fn set_ok(path: &str, value: Value) -> Value {
        let mut v = scenario();
        set(&mut v, path, value).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        v
    }

    fn set_err(path: &str) -> PathError {
        set(&mut scenario(), path, json!(1)).unwrap_err()
    }

    #[test]
    fn sets_struct_fields_variant_fields_and_indices() {
        let v = set_ok("groups.0.protocol.Gossip.config.d", json!(8));
        assert_eq!(v["groups"][0]["protocol"]["Gossip"]["config"]["d"], 8);
        let v = set_ok("groups.1.protocol.Flood.hop_limit", json!(7));
        assert_eq!(v["groups"][1]["protocol"]["Flood"]["hop_limit"], 7);
        let v = set_ok("network.Graph.link.loss", json!({"Bernoulli": {"p": 0.1}}));
        assert_eq!(v["network"]["Graph"]["link"]["loss"]["Bernoulli"]["p"], 0.1);
        let v = set_ok("groups.1", json!({"name": "c"}));
        assert_eq!(v["groups"][1], json!({"name": "c"}));
        let v = set_ok("name", json!("y"));
        assert_eq!(v["name"], "y");
    }

    #[test]
    fn a_variant_name_may_be_left_out() {
        let v = set_ok("network.link.loss", json!("None"));
        assert_eq!(v, set_ok("network.Graph.link.loss", json!("None")));
        let v = set_ok("groups.0.protocol.config.d", json!(10));
        assert_eq!(v["groups"][0]["protocol"]["Gossip"]["config"]["d"], 10);
    }

    #[test]
    fn the_last_segment_may_be_a_field_left_out() {
        let v = set_ok("network.link.jitter", json!("2ms"));
        assert_eq!(v["network"]["Graph"]["link"]["jitter"], "2ms");
        let v = set_ok("network.link.bandwidth", json!("1Mbps"));
        assert_eq!(v["network"]["Graph"]["link"]["bandwidth"], "1Mbps");
    }

    #[test]
    fn errors_name_the_segment_and_where_it_starts() {
        let e = set_err("groups.0.protocol.Gosip.config.d");
        assert_eq!(e.offset, "groups.0.protocol.".len());
        assert_eq!(
            e.message,
            "`groups.0.protocol` is a `Gossip`, not a `Gosip`; to change the variant, \
             sweep `groups.0.protocol` itself"
        );
        let e = set_err("groups.0.protocol.Gossip.confg.d");
        assert_eq!(e.offset, "groups.0.protocol.Gossip.".len());
        assert_eq!(
            e.message,
            "no `confg` in `groups.0.protocol.Gossip`; it has: config, topics"
        );
        let e = set_err("groups.2.name");
        assert_eq!(e.offset, "groups.".len());
        assert_eq!(e.message, "`groups` has 2 entries; index 2 is out of range");
        let e = set_err("groups.first.name");
        assert!(e
            .message
            .contains("is a list: expected an index from 0 to 1, not `first`"));
        let e = set_err("netwrk.link");
        assert_eq!(
            (e.offset, e.message.as_str()),
            (
                0,
                "no `netwrk` in the scenario; it has: groups, name, network"
            )
        );
        let e = set_err("network.topology.Grid.width");
        assert_eq!(e.offset, "network.topology.".len());
        assert!(e
            .message
            .contains("`network.Graph.topology` is `Line`, which has no `Grid`"));
        let e = set_err("network.link.bandwidth.x");
        assert!(e.message.contains("is not set (None)"), "{e:?}");
        let e = set_err("groups..name");
        assert_eq!(e.offset, "groups.".len());
        assert!(e.message.contains("an empty segment"));
    }
}
