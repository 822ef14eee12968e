//! The sensor's resource limits (configuration, checked at load).

/// Resource limits of a sensor (all listeners share the connection cap).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_connections: usize,
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
