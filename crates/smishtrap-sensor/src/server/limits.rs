//! The sensor's resource limits (configuration, checked at load).

/// Resource limits of a sensor (all listeners share the connection cap).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most connections served at once (all listeners); the descriptor limit may lower it
    /// (see [`Limits::budget`]).
    pub max_connections: usize,
    /// Descriptors kept free for the store, the JSONL log, the console and accept itself.
    pub reserved_descriptors: usize,
    /// Most connections one source (an IPv4 address, an IPv6 /64) holds at once.
    pub max_connections_per_ip: usize,
    /// Sustained new connections per second allowed from one source.
    pub connections_per_ip_per_second: f64,
    /// New connections one source may open at once before that rate applies.
    pub connection_burst_per_ip: f64,
    pub max_head_bytes: usize,
    pub max_headers: usize,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Sustained requests per second allowed on one connection.
    pub requests_per_second: f64,
    /// Requests a connection may send at once before the rate applies.
    pub request_burst: f64,
    /// Time allowed to send a whole request head once it started.
    pub header_timeout_secs: f64,
    /// Time a connection may stay silent between requests.
    pub idle_timeout_secs: f64,
    /// Time allowed to send a request body.
    pub body_timeout_secs: f64,
    /// Time in-flight requests get to finish at shutdown.
    pub shutdown_grace_secs: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 16_384,
            // SQLite (database, WAL, shared memory) for the writer and the heartbeat, the JSONL
            // log and its rotation, stdio, the runtime's own descriptors, with room to spare.
            reserved_descriptors: 64,
            // Campaign tools open tens of connections; one source must never hold every slot.
            max_connections_per_ip: 256,
            connections_per_ip_per_second: 200.0,
            connection_burst_per_ip: 1000.0,
            max_head_bytes: 8 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
            // Generous: campaigns push sends fast, and a refused send is intelligence the
            // attacker then sends elsewhere; this only stops floods.
            requests_per_second: 500.0,
            request_burst: 1000.0,
            header_timeout_secs: 10.0,
            idle_timeout_secs: 60.0,
            body_timeout_secs: 20.0,
            shutdown_grace_secs: 10.0,
        }
    }
}

impl Limits {
    /// Checks the values; the error is (key, reason).
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        let positive = [
            ("requests_per_second", self.requests_per_second),
            ("request_burst", self.request_burst),
            ("header_timeout_secs", self.header_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_timeout_secs", self.body_timeout_secs),
            ("connections_per_ip_per_second", self.connections_per_ip_per_second),
            ("connection_burst_per_ip", self.connection_burst_per_ip),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0 && v < 1e9) {
                return Err((key, "must be a positive number"));
            }
        }
        if !(self.shutdown_grace_secs.is_finite()
            && self.shutdown_grace_secs >= 0.0
            && self.shutdown_grace_secs < 1e6)
        {
            return Err(("shutdown_grace_secs", "must be a number >= 0"));
        }
        if self.max_connections == 0 {
            return Err(("max_connections", "must be at least 1"));
        }
        if self.max_connections_per_ip == 0 {
            return Err(("max_connections_per_ip", "must be at least 1"));
        }
        if self.reserved_descriptors > 1024 * 1024 {
            return Err(("reserved_descriptors", "must be at most 1048576"));
        }
        if !(256..=1024 * 1024).contains(&self.max_head_bytes) {
            return Err(("max_head_bytes", "must be 256..=1048576"));
        }
        if !(1..=1024).contains(&self.max_headers) {
            return Err(("max_headers", "must be 1..=1024"));
        }
        if self.max_body_bytes > 64 * 1024 * 1024 {
            return Err(("max_body_bytes", "must be at most 67108864"));
        }
        Ok(())
    }
}

/// The connection caps in force, once the descriptor limit of the process is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft descriptor limit (`RLIMIT_NOFILE`).
    pub descriptors: u64,
    /// Descriptors kept free for everything but connections.
    pub reserved: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one source holds at once.
    pub per_ip: usize,
}

impl Limits {
    /// The caps under a descriptor limit: connections never use the reserve (at most half of
    /// the limit is reserved, so a tiny limit still serves), and one source never holds more
    /// than half of the connections, so another source always finds a free slot.
    pub fn budget(&self, descriptors: u64) -> Budget {
        let limit = usize::try_from(descriptors).unwrap_or(usize::MAX);
        let reserved = self.reserved_descriptors.min(limit / 2);
        let max_connections = self.max_connections.min(limit - reserved).max(1);
        let per_ip = self.max_connections_per_ip.min(max_connections / 2).max(1);
        Budget { descriptors, reserved, max_connections, per_ip }
    }
}

/// Raises the soft descriptor limit to the hard one; returns the limit now in force.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    let (soft, hard) = rlimit::Resource::NOFILE.get()?;
    if soft < hard {
        rlimit::Resource::NOFILE.set(hard, hard)?;
    }
    descriptor_limit()
}

/// The soft descriptor limit in force.
pub fn descriptor_limit() -> std::io::Result<u64> {
    rlimit::Resource::NOFILE.get().map(|(soft, _)| soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(limits: Limits, descriptors: u64, expect: (usize, usize, usize)) {
        let b = limits.budget(descriptors);
        assert_eq!((b.reserved, b.max_connections, b.per_ip), expect, "{descriptors} descriptors");
    }

    #[test]
    fn the_budget_follows_the_descriptor_limit() {
        let d = Limits::default();
        check(d, 1_048_576, (64, 16_384, 256));
        check(d, 20_000, (64, 16_384, 256));
        check(d, 1024, (64, 960, 256));
        check(d, 256, (64, 192, 96));
        check(d, 64, (32, 32, 16));
        check(d, 1, (0, 1, 1));
        check(Limits { max_connections: 10, ..d }, 1024, (64, 10, 5));
        check(Limits { reserved_descriptors: 500, ..d }, 1024, (500, 524, 256));
    }
}
