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
    ("milesight/cores/cellular.json", include_str!("../../personas/milesight/cores/cellular.json")),
    ("milesight/cores/general.json", include_str!("../../personas/milesight/cores/general.json")),
    ("milesight/cores/summary.json", include_str!("../../personas/milesight/cores/summary.json")),
    ("milesight/cores/time.json", include_str!("../../personas/milesight/cores/time.json")),
    ("milesight/css/login.css", include_str!("../../personas/milesight/css/login.css")),
    ("milesight/js/login.js", include_str!("../../personas/milesight/js/login.js")),
    ("milesight/lang_log_index.html", include_str!("../../personas/milesight/lang_log_index.html")),
    ("milesight/login.html", include_str!("../../personas/milesight/login.html")),
    ("milesight/system.log", include_str!("../../personas/milesight/system.log")),
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
