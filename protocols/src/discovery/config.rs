//! What a scenario can tune about the registry ([`Server`](super::Server))
//! and its peers ([`Client`](super::Client)).

use sim_core::Duration;

/// The discovery stack's parameters, as a scenario file writes them: the
/// server's and the clients' halves, each used by the nodes of that role.
///
/// Every field has a default, so an empty map is a valid config; an unknown
/// field is an error. [`DiscoveryConfig::validate`] checks the numbers;
/// the constructors never panic on a config that fails it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// The registry's parameters.
    pub server: ServerConfig,
    /// The peers' parameters.
    pub client: ClientConfig,
}

impl DiscoveryConfig {
    /// Checks that the numbers make sense; the message names the one that
    /// does not.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
        let s = &self.server;
        check(s.ttl > Duration::ZERO, "a positive server.ttl")?;
        // `inf` is allowed: an unlimited rate.
        check(s.capacity > 0.0, "a positive server.capacity (requests/s)")?;
        let c = &self.client;
        check(
            c.heartbeat_interval > Duration::ZERO,
            "a positive client.heartbeat_interval",
        )?;
        check(
            c.request_timeout > Duration::ZERO,
            "a positive client.request_timeout",
        )?;
        self.server.cost.validate()
    }
}

/// The registry's parameters: the seed's TTL, and the serverless platform's
/// queueing, cold starts and prices.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// How long a registration lives after its last register or heartbeat
    /// (the seeds' `PeerTTLMinutes`). Default 5 min.
    pub ttl: Duration,
    /// How long the function takes to handle one request once it runs.
    /// Default 20 ms (a warm Lambda doing one DynamoDB call; the seeds give
    /// no figure).
    pub processing_delay: Duration,
    /// Requests per second the platform starts, at most: requests start
    /// first-in first-out, at least `1 / capacity` apart, and run in
    /// parallel once started. `inf` is unlimited. Default 10 000 (API
    /// Gateway's default account rate limit).
    pub capacity: f64,
    /// How many requests may wait to start; one that arrives to a full
    /// queue is answered 503 at once and counted as rejected. Default 5 000
    /// (API Gateway's default burst).
    pub queue_limit: u32,
    /// A function instance idle for longer than this is gone: the next
    /// request pays [`cold_start_delay`](Self::cold_start_delay). Default
    /// 10 min.
    pub cold_start_after: Duration,
    /// The extra delay of a cold start (instance start and runtime init);
    /// zero turns cold starts off. Default 250 ms (a Python Lambda).
    pub cold_start_delay: Duration,
    /// The prices the cost estimate uses.
    pub cost: CostConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ttl: Duration::from_secs(300),
            processing_delay: Duration::from_millis(20),
            capacity: 10_000.0,
            queue_limit: 5_000,
            cold_start_after: Duration::from_secs(600),
            cold_start_delay: Duration::from_millis(250),
            cost: CostConfig::default(),
        }
    }
}

/// A peer's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// Time between heartbeats, counted from the register command (a
    /// browser's `setInterval`). Default 30 s (seed 000's
    /// `DiscoveryConfig::heartbeat_interval`).
    pub heartbeat_interval: Duration,
    /// How long a request (and the handshake it may wait for) waits for
    /// its response before it is reported as timed out. Default 30 s (the
    /// gateway's integration timeout, after which a real one answers 504).
    pub request_timeout: Duration,
    /// A connection unused for this long is closed by the server's side;
    /// the next request opens a new one with a TLS handshake. Default 60 s
    /// (an AWS load balancer's default idle timeout).
    pub connection_idle_timeout: Duration,
    /// The port a peer registers (the seeds' examples use 9000). Default
    /// 9000.
    pub port: u16,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            heartbeat_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            connection_idle_timeout: Duration::from_secs(60),
            port: 9000,
        }
    }
}

/// Per-request prices in US dollars, for [`Usage::cost`](super::Usage::cost).
///
/// The defaults reproduce seed 001's cost table (100 peers, one heartbeat a
/// minute, 144 000 requests a day: Lambda $0.03, DynamoDB $0.01, API
/// Gateway $0.14 a day, ~$5-10 a month).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// The gateway's price per million requests. Default $1.00 (API Gateway
    /// HTTP APIs; the seed's $0.14 for 144 000 requests).
    pub gateway_per_million: f64,
    /// The function's price per million invocations. Default $0.20 (Lambda).
    pub function_per_million: f64,
    /// The function's price per GB-second of billed duration. Default
    /// $0.0000166667 (Lambda, x86).
    pub function_per_gb_second: f64,
    /// The function's memory size in MB, which GB-seconds are counted in.
    /// Default 128 (Lambda's smallest).
    pub function_memory_mb: u32,
    /// The database's price per million operations (a register or
    /// heartbeat writes one item, a discover reads the table once, a health
    /// check touches nothing). Default $0.07: what the seed's "$0.01/day"
    /// for 144 000 requests implies (AWS's on-demand list prices are
    /// higher; set them here for a real estimate).
    pub database_per_million: f64,
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            gateway_per_million: 1.00,
            function_per_million: 0.20,
            function_per_gb_second: 0.000_016_666_7,
            function_memory_mb: 128,
            database_per_million: 0.07,
        }
    }
}

impl CostConfig {
    fn validate(&self) -> Result<(), String> {
        let prices = [
            self.gateway_per_million,
            self.function_per_million,
            self.function_per_gb_second,
            self.database_per_million,
        ];
        if prices.iter().all(|p| p.is_finite() && *p >= 0.0) {
            Ok(())
        } else {
            Err("finite, non-negative server.cost prices".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    fn client_from(fields: &[(&'static str, &'static str)]) -> Result<ClientConfig, Error> {
        ClientConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    fn server_from(fields: &[(&'static str, &'static str)]) -> Result<ServerConfig, Error> {
        ServerConfig::deserialize(MapDeserializer::new(fields.iter().copied()))
    }

    #[test]
    fn missing_fields_take_the_seeds_defaults() {
        let server = server_from(&[]).unwrap();
        assert_eq!(server, ServerConfig::default());
        assert_eq!(server.ttl, Duration::from_secs(300));
        let client = client_from(&[]).unwrap();
        assert_eq!(client.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(
            client_from(&[("heartbeat_interval", "1m")]).unwrap(),
            ClientConfig {
                heartbeat_interval: Duration::from_secs(60),
                ..ClientConfig::default()
            }
        );
        assert_eq!(DiscoveryConfig::default().validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_and_missing_units_are_errors() {
        assert!(server_from(&[("tll", "5m")]).is_err());
        assert!(server_from(&[("ttl", "300")]).is_err());
        assert!(client_from(&[("heartbeat", "30s")]).is_err());
    }

    #[test]
    fn validate_names_the_broken_number() {
        let mut config = DiscoveryConfig::default();
        config.server.capacity = 0.0;
        assert!(config.validate().unwrap_err().contains("capacity"));
        config.server.capacity = f64::INFINITY;
        assert_eq!(config.validate(), Ok(()));
        config.server.capacity = f64::NAN;
        assert!(config.validate().is_err());
        config.server.capacity = 1.0;
        config.server.cost.gateway_per_million = -1.0;
        assert!(config.validate().unwrap_err().contains("cost"));
        config.server.cost.gateway_per_million = 1.0;
        config.client.heartbeat_interval = Duration::ZERO;
        assert!(config.validate().unwrap_err().contains("heartbeat"));
    }
}
