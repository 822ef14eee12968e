//! The personas shipped in the binary: every file under `personas/`, by relative path.

/// Persona TOML files and the templates they name.
pub(super) const FILES: &[(&str, &str)] = &[
    ("huawei-b535.toml", include_str!("../../personas/huawei-b535.toml")),
    ("huawei-e3372h.toml", include_str!("../../personas/huawei-e3372h.toml")),
    ("huawei/400.html", include_str!("../../personas/huawei/400.html")),
    ("huawei/404.html", include_str!("../../personas/huawei/404.html")),
    ("huawei/408.html", include_str!("../../personas/huawei/408.html")),
    ("huawei/413.html", include_str!("../../personas/huawei/413.html")),
    ("huawei/503.html", include_str!("../../personas/huawei/503.html")),
    ("huawei/b535-home.html", include_str!("../../personas/huawei/b535-home.html")),
    ("huawei/basic_information.xml", include_str!("../../personas/huawei/basic_information.xml")),
    ("huawei/e3372h-home.html", include_str!("../../personas/huawei/e3372h-home.html")),
    ("huawei/information.xml", include_str!("../../personas/huawei/information.xml")),
    ("huawei/sms-config.xml", include_str!("../../personas/huawei/sms-config.xml")),
    ("huawei/status.xml", include_str!("../../personas/huawei/status.xml")),
    ("huawei/system.log", include_str!("../../personas/huawei/system.log")),
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
    ("netgear-lb2120.toml", include_str!("../../personas/netgear-lb2120.toml")),
    ("netgear-mr1100.toml", include_str!("../../personas/netgear-mr1100.toml")),
    ("netgear/400.html", include_str!("../../personas/netgear/400.html")),
    ("netgear/404.html", include_str!("../../personas/netgear/404.html")),
    ("netgear/408.html", include_str!("../../personas/netgear/408.html")),
    ("netgear/413.html", include_str!("../../personas/netgear/413.html")),
    ("netgear/503.html", include_str!("../../personas/netgear/503.html")),
    ("netgear/error.json", include_str!("../../personas/netgear/error.json")),
    ("netgear/index.html", include_str!("../../personas/netgear/index.html")),
    ("netgear/lb2120-model.json", include_str!("../../personas/netgear/lb2120-model.json")),
    ("netgear/mr1100-model.json", include_str!("../../personas/netgear/mr1100-model.json")),
    ("netgear/success.json", include_str!("../../personas/netgear/success.json")),
    ("netgear/system.log", include_str!("../../personas/netgear/system.log")),
    ("teltonika-rut241.toml", include_str!("../../personas/teltonika-rut241.toml")),
    ("teltonika-rut950.toml", include_str!("../../personas/teltonika-rut950.toml")),
    ("teltonika/400.html", include_str!("../../personas/teltonika/400.html")),
    ("teltonika/404.html", include_str!("../../personas/teltonika/404.html")),
    ("teltonika/408.html", include_str!("../../personas/teltonika/408.html")),
    ("teltonika/413.html", include_str!("../../personas/teltonika/413.html")),
    ("teltonika/503.html", include_str!("../../personas/teltonika/503.html")),
    ("teltonika/device_status.json", include_str!("../../personas/teltonika/device_status.json")),
    ("teltonika/luci-login.html", include_str!("../../personas/teltonika/luci-login.html")),
    ("teltonika/modems_status.json", include_str!("../../personas/teltonika/modems_status.json")),
    ("teltonika/system.log", include_str!("../../personas/teltonika/system.log")),
    (
        "teltonika/unauthorized_status.json",
        include_str!("../../personas/teltonika/unauthorized_status.json"),
    ),
    ("teltonika/webui.html", include_str!("../../personas/teltonika/webui.html")),
    ("tplink-mr600.toml", include_str!("../../personas/tplink-mr600.toml")),
    ("tplink-mr6400.toml", include_str!("../../personas/tplink-mr6400.toml")),
    ("tplink/400.html", include_str!("../../personas/tplink/400.html")),
    ("tplink/403.html", include_str!("../../personas/tplink/403.html")),
    ("tplink/404.html", include_str!("../../personas/tplink/404.html")),
    ("tplink/408.html", include_str!("../../personas/tplink/408.html")),
    ("tplink/413.html", include_str!("../../personas/tplink/413.html")),
    ("tplink/500.html", include_str!("../../personas/tplink/500.html")),
    ("tplink/503.html", include_str!("../../personas/tplink/503.html")),
    ("tplink/dev-info.txt", include_str!("../../personas/tplink/dev-info.txt")),
    ("tplink/lan-ip.txt", include_str!("../../personas/tplink/lan-ip.txt")),
    ("tplink/lte-intf.txt", include_str!("../../personas/tplink/lte-intf.txt")),
    ("tplink/lte-link.txt", include_str!("../../personas/tplink/lte-link.txt")),
    ("tplink/lte-net-status.txt", include_str!("../../personas/tplink/lte-net-status.txt")),
    ("tplink/lte-prof-stat.txt", include_str!("../../personas/tplink/lte-prof-stat.txt")),
    ("tplink/mr600-index.html", include_str!("../../personas/tplink/mr600-index.html")),
    ("tplink/mr600-login.html", include_str!("../../personas/tplink/mr600-login.html")),
    ("tplink/mr6400-index.html", include_str!("../../personas/tplink/mr6400-index.html")),
    ("tplink/mr6400-login.html", include_str!("../../personas/tplink/mr6400-login.html")),
    ("tplink/system.log", include_str!("../../personas/tplink/system.log")),
    ("tplink/wan-ip.txt", include_str!("../../personas/tplink/wan-ip.txt")),
    ("zte-mf79u.toml", include_str!("../../personas/zte-mf79u.toml")),
    ("zte-mf823.toml", include_str!("../../personas/zte-mf823.toml")),
    ("zte/400.html", include_str!("../../personas/zte/400.html")),
    ("zte/404.html", include_str!("../../personas/zte/404.html")),
    ("zte/408.html", include_str!("../../personas/zte/408.html")),
    ("zte/413.html", include_str!("../../personas/zte/413.html")),
    ("zte/503.html", include_str!("../../personas/zte/503.html")),
    ("zte/index.html", include_str!("../../personas/zte/index.html")),
    ("zte/system.log", include_str!("../../personas/zte/system.log")),
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
