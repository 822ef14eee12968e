//! A small tmpfs, so a test can fill a disk.

use std::path::Path;

/// A small tmpfs mounted on a temporary directory for the life of the value (lazily
/// unmounted on drop).
#[derive(Debug)]
pub struct TinyVolume {
    dir: tempfile::TempDir,
}

impl TinyVolume {
    /// Mounts `bytes` of tmpfs; `None`, with the reason printed, when not root (mounting
    /// needs it), so the caller skips.
    pub fn mount(bytes: u64) -> Option<TinyVolume> {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
            #[allow(clippy::print_stderr, reason = "the skip reason belongs in the output")]
            {
                eprintln!("skipped: mounting a small tmpfs needs root");
            }
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed");
        Some(TinyVolume { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Free bytes on the volume, as `df` reports them.
    pub fn free(&self) -> u64 {
        let out = std::process::Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(self.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap()
    }
}

impl Drop for TinyVolume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
