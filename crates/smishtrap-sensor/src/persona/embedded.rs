//! The personas shipped in the binary: every file under `personas/`, by relative path.

/// Persona TOML files and the templates they name.
pub(super) const FILES: &[(&str, &str)] = &[
    ("milesight-ur32l.toml", include_str!("../../personas/milesight-ur32l.toml")),
    ("milesight-ur35.toml", include_str!("../../personas/milesight-ur35.toml")),
    ("milesight-ur41.toml", include_str!("../../personas/milesight-ur41.toml")),
    ("milesight-ur5x.toml", include_str!("../../personas/milesight-ur5x.toml")),
    ("milesight/400.html", include_str!("../../personas/milesight/400.html")),
    ("milesight/404.html", include_str!("../../personas/milesight/404.html")),
    ("milesight/408.html", include_str!("../../personas/milesight/408.html")),
    ("milesight/413.html", include_str!("../../personas/milesight/413.html")),
    ("milesight/503.html", include_str!("../../personas/milesight/503.html")),
    ("milesight/cores.toml", include_str!("../../personas/milesight/cores.toml")),
    (
        "milesight/cores/api_user_list.json",
        include_str!("../../personas/milesight/cores/api_user_list.json"),
    ),
    ("milesight/cores/bridge.json", include_str!("../../personas/milesight/cores/bridge.json")),
    ("milesight/cores/cell.json", include_str!("../../personas/milesight/cores/cell.json")),
    ("milesight/cores/cellular.json", include_str!("../../personas/milesight/cores/cellular.json")),
    (
        "milesight/cores/dhcp_server.json",
        include_str!("../../personas/milesight/cores/dhcp_server.json"),
    ),
    (
        "milesight/cores/firewall_security.json",
        include_str!("../../personas/milesight/cores/firewall_security.json"),
    ),
    ("milesight/cores/general.json", include_str!("../../personas/milesight/cores/general.json")),
    ("milesight/cores/httpapi.json", include_str!("../../personas/milesight/cores/httpapi.json")),
    ("milesight/cores/lan.json", include_str!("../../personas/milesight/cores/lan.json")),
    (
        "milesight/cores/phone_sms.json",
        include_str!("../../personas/milesight/cores/phone_sms.json"),
    ),
    (
        "milesight/cores/port_mapping.json",
        include_str!("../../personas/milesight/cores/port_mapping.json"),
    ),
    ("milesight/cores/summary.json", include_str!("../../personas/milesight/cores/summary.json")),
    (
        "milesight/cores/system_log.json",
        include_str!("../../personas/milesight/cores/system_log.json"),
    ),
    ("milesight/cores/time.json", include_str!("../../personas/milesight/cores/time.json")),
    ("milesight/cores/upgrade.json", include_str!("../../personas/milesight/cores/upgrade.json")),
    (
        "milesight/cores/user_list.json",
        include_str!("../../personas/milesight/cores/user_list.json"),
    ),
    (
        "milesight/cores/user_security.json",
        include_str!("../../personas/milesight/cores/user_security.json"),
    ),
    ("milesight/cores/wan.json", include_str!("../../personas/milesight/cores/wan.json")),
    ("milesight/js/crypto-js.js", include_str!("../../personas/milesight/js/crypto-js.js")),
    ("milesight/js/index.js", include_str!("../../personas/milesight/js/index.js")),
    ("milesight/js/login.js", include_str!("../../personas/milesight/js/login.js")),
    ("milesight/lang_log_index.html", include_str!("../../personas/milesight/lang_log_index.html")),
    ("milesight/system.log", include_str!("../../personas/milesight/system.log")),
    (
        "milesight/ui/milesight/favicon.ico.b64",
        include_str!("../../personas/milesight/ui/milesight/favicon.ico.b64"),
    ),
    (
        "milesight/ui/milesight/index.html",
        include_str!("../../personas/milesight/ui/milesight/index.html"),
    ),
    (
        "milesight/ui/milesight/login.html",
        include_str!("../../personas/milesight/ui/milesight/login.html"),
    ),
    (
        "milesight/ui/milesight/style.css",
        include_str!("../../personas/milesight/ui/milesight/style.css"),
    ),
    (
        "milesight/ui/ursalink/favicon.ico.b64",
        include_str!("../../personas/milesight/ui/ursalink/favicon.ico.b64"),
    ),
    (
        "milesight/ui/ursalink/index.html",
        include_str!("../../personas/milesight/ui/ursalink/index.html"),
    ),
    (
        "milesight/ui/ursalink/login.html",
        include_str!("../../personas/milesight/ui/ursalink/login.html"),
    ),
    (
        "milesight/ui/ursalink/style.css",
        include_str!("../../personas/milesight/ui/ursalink/style.css"),
    ),
];

pub(super) fn file(rel: &str) -> Option<&'static str> {
    FILES.iter().find(|(path, _)| *path == rel).map(|(_, text)| *text)
}

/// Top-level `*.toml` files, each one persona.
pub(super) fn persona_files() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(path, _)| *path).filter(|p| p.ends_with(".toml") && !p.contains('/'))
}

#[cfg(test)]
mod tests {
    /// Catches a file added under `personas/` but not listed above.
    #[test]
    fn every_persona_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("personas");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    on_disk.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let embedded: Vec<String> = super::FILES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(on_disk, embedded);
    }
}
