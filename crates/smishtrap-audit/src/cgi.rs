//! The one allow-list of `/cgi` calls the audit can make. Every variant is read-only: it
//! reads a mailbox or a status page, or opens a session (`login`, which changes no setting).
//! There is no variant, and no other way in this crate, to build a `/cgi` body with another
//! function: the prober takes a [`ReadOnlyCall`], never a function name or a body.
//!
//! The other router families get the parallel allow-list [`VendorRead`]: fixed GET paths
//! (status, identity, message counts and lists), never a form, a body or a write endpoint.

use serde_json::{Value, json};

/// Largest mailbox page asked for (the device caps it at 100 too).
pub const MAX_PAGE: u32 = 100;

/// A status page read with the `get` function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPage {
    /// `yruo_status` / `summary`: model, firmware, uptime.
    Summary,
    /// `yruo_system` / `general`: host name and system settings, read only.
    General,
}

/// Every `/cgi` call the audit can send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlyCall {
    QueryOutbox {
        start: u32,
        limit: u32,
    },
    QueryInbox {
        start: u32,
        limit: u32,
    },
    Status(StatusPage),
    /// Opens a session with operator-supplied, leaked or default credentials (each behind its
    /// own flag); `password` is already encrypted the way the web UI sends it.
    Login {
        username: String,
        encrypted_password: String,
    },
}

/// The function names [`ReadOnlyCall`] can produce, and no other.
pub const ALLOWED_FUNCTIONS: &[&str] = &["query_outbox", "query_inbox", "get", "login"];

impl ReadOnlyCall {
    pub fn function(&self) -> &'static str {
        match self {
            ReadOnlyCall::QueryOutbox { .. } => "query_outbox",
            ReadOnlyCall::QueryInbox { .. } => "query_inbox",
            ReadOnlyCall::Status(_) => "get",
            ReadOnlyCall::Login { .. } => "login",
        }
    }

    /// The JSON-RPC body, as the Milesight web UI sends it.
    pub fn body(&self) -> Value {
        let function = self.function();
        match self {
            ReadOnlyCall::QueryOutbox { start, limit }
            | ReadOnlyCall::QueryInbox { start, limit } => json!({
                "id": "1", "execute": 1, "core": "yruo_sms", "function": function,
                "values": [{"base": function, "start": start, "limit": (*limit).min(MAX_PAGE)}]
            }),
            ReadOnlyCall::Status(page) => {
                let (core, base) = match page {
                    StatusPage::Summary => ("yruo_status", "summary"),
                    StatusPage::General => ("yruo_system", "general"),
                };
                json!({"id": "1", "execute": 1, "core": core, "function": function, "values": [{"base": base}]})
            }
            ReadOnlyCall::Login { username, encrypted_password } => json!({
                "id": "1", "execute": 1, "core": "user", "function": function,
                "values": [{"username": username, "password": encrypted_password}]
            }),
        }
    }

    /// The call for the log of requests: never carries a password.
    pub fn described(&self) -> String {
        match self {
            ReadOnlyCall::QueryOutbox { start, limit } => {
                format!("query_outbox start={start} limit={limit}")
            }
            ReadOnlyCall::QueryInbox { start, limit } => {
                format!("query_inbox start={start} limit={limit}")
            }
            ReadOnlyCall::Status(StatusPage::Summary) => "get yruo_status/summary".to_owned(),
            ReadOnlyCall::Status(StatusPage::General) => "get yruo_system/general".to_owned(),
            ReadOnlyCall::Login { .. } => "login".to_owned(),
        }
    }
}

/// Every read the audit makes of a non-Milesight router: a GET of a fixed path, each a status,
/// identity or mailbox read the family answers (see `router_personas.md`). Nothing here
/// carries a body, credentials, or a function that sends, deletes or sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VendorRead {
    /// Teltonika RutOS 7: the whitelisted status (device name, model, API version).
    TeltonikaStatus,
    /// Teltonika legacy SMS Gateway Post/Get: message counts (answers without credentials
    /// only when the SMS API is open).
    TeltonikaSmsTotal,
    /// Huawei HiLink: product family, class and name (often without login).
    HuaweiBasicInformation,
    /// Huawei HiLink: model, hardware and software versions (login on most units).
    HuaweiInformation,
    /// Huawei HiLink: mailbox counts (error 100003 when a login is needed).
    HuaweiSmsCount,
    /// ZTE `goform_get_cmd_process`: model and firmware versions.
    ZteIdentity,
    /// ZTE `goform_get_cmd_process`: the newest stored message (one row).
    ZteSmsList,
    /// Netgear LTE `model.json`: general model and firmware, and `sms.msgs` when readable.
    NetgearModel,
}

impl VendorRead {
    pub const ALL: [VendorRead; 8] = [
        VendorRead::TeltonikaStatus,
        VendorRead::TeltonikaSmsTotal,
        VendorRead::HuaweiBasicInformation,
        VendorRead::HuaweiInformation,
        VendorRead::HuaweiSmsCount,
        VendorRead::ZteIdentity,
        VendorRead::ZteSmsList,
        VendorRead::NetgearModel,
    ];

    /// The path (and fixed query) of the GET.
    pub fn path(self) -> &'static str {
        match self {
            VendorRead::TeltonikaStatus => "/api/unauthorized/status",
            VendorRead::TeltonikaSmsTotal => "/cgi-bin/sms_total",
            VendorRead::HuaweiBasicInformation => "/api/device/basic_information",
            VendorRead::HuaweiInformation => "/api/device/information",
            VendorRead::HuaweiSmsCount => "/api/sms/sms-count",
            VendorRead::ZteIdentity => {
                "/goform/goform_get_cmd_process?isTest=false&cmd=model_name,wa_inner_version,web_version,hardware_version&multi_data=1"
            }
            VendorRead::ZteSmsList => {
                "/goform/goform_get_cmd_process?isTest=false&cmd=sms_data_total&page=0&data_per_page=1&mem_store=1&tags=10&order_by=order+by+id+desc"
            }
            VendorRead::NetgearModel => "/model.json",
        }
    }
}

#[cfg(test)]
mod tests {
    use smishtrap_sensor::cgi::{Call, parse_body};

    use super::*;

    /// One of each variant: adding a variant without listing it here fails to compile (the
    /// match below is exhaustive), so every call the audit can make is checked.
    fn every_call() -> Vec<ReadOnlyCall> {
        let all = vec![
            ReadOnlyCall::QueryOutbox { start: 0, limit: 1000 },
            ReadOnlyCall::QueryInbox { start: 5, limit: 10 },
            ReadOnlyCall::Status(StatusPage::Summary),
            ReadOnlyCall::Status(StatusPage::General),
            ReadOnlyCall::Login { username: "send_sms".into(), encrypted_password: "set".into() },
        ];
        for c in &all {
            match c {
                ReadOnlyCall::QueryOutbox { .. }
                | ReadOnlyCall::QueryInbox { .. }
                | ReadOnlyCall::Status(_)
                | ReadOnlyCall::Login { .. } => {}
            }
        }
        all
    }

    #[test]
    fn no_call_can_send_or_set() {
        for name in ALLOWED_FUNCTIONS {
            for verb in [
                "send", "set", "apply", "save", "delete", "del", "reboot", "reset", "upgrade",
                "write", "config", "exec",
            ] {
                assert!(!name.contains(verb), "{name} looks like a state-changing function");
            }
        }
        for call in every_call() {
            let body = call.body();
            let function = body["function"].as_str().unwrap_or_default();
            assert!(ALLOWED_FUNCTIONS.contains(&function), "{call:?} sends {function}");
            assert_eq!(function, call.function());
            assert!(!call.described().contains("set"), "{call:?}");
            // what the device makes of it: never a send, never an unknown (possibly writing) call
            let parsed = parse_body(body.to_string().as_bytes(), None).map(|r| r.classify());
            match parsed {
                Ok(Call::Query { .. } | Call::Get { .. } | Call::Login { .. }) => {}
                other => panic!("{call:?} is read by the device as {other:?}"),
            }
        }
    }

    #[test]
    fn vendor_reads_are_fixed_gets_that_send_and_set_nothing() {
        for read in VendorRead::ALL {
            // one arm per variant: a new read must be listed in ALL to be checked here
            match read {
                VendorRead::TeltonikaStatus
                | VendorRead::TeltonikaSmsTotal
                | VendorRead::HuaweiBasicInformation
                | VendorRead::HuaweiInformation
                | VendorRead::HuaweiSmsCount
                | VendorRead::ZteIdentity
                | VendorRead::ZteSmsList
                | VendorRead::NetgearModel => {}
            }
            let path = read.path().to_ascii_lowercase();
            assert!(path.starts_with('/'), "{path}");
            for word in [
                "send", "set_cmd", "goformid", "delete", "save", "forms/", "action", "login",
                "password", "username", "reboot", "reset", "config", "exec", "ubus",
            ] {
                assert!(!path.contains(word), "{read:?} reaches {word:?}: {path}");
            }
            if let Some((_, query)) = path.split_once('?') {
                // the ZTE reads: only the get process, only read commands
                assert!(path.starts_with("/goform/goform_get_cmd_process?"), "{path}");
                assert!(query.split('&').all(|kv| !kv.starts_with("goformid")), "{path}");
            }
        }
        let distinct: std::collections::BTreeSet<&str> =
            VendorRead::ALL.iter().map(|r| r.path()).collect();
        assert_eq!(distinct.len(), VendorRead::ALL.len());
    }

    #[test]
    fn pages_are_capped() {
        let body = ReadOnlyCall::QueryOutbox { start: 0, limit: 1000 }.body();
        assert_eq!(body["values"][0]["limit"], 100);
    }
}
