//! Free space of the data volume and the watermarks that make the sensor degrade before the
//! store hits a full disk.

use std::path::Path;

/// Bytes an unprivileged process may still allocate on the file system holding `dir`.
pub fn available_bytes(dir: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Total size of the file system holding `dir`.
pub fn volume_bytes(dir: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_blocks.saturating_mul(stat.f_frsize))
}

/// Free-space thresholds of a data volume.
///
/// Under `refuse_below` nothing new is written (the sensor answers like a busy device); the
/// store takes events again once free space is back at `resume_at`, so a volume hovering at
/// the threshold does not flap. Under `warn_below` health says `low-disk` while still
/// recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    pub refuse_below: u64,
    pub resume_at: u64,
    pub warn_below: u64,
}

const MIB: u64 = 1024 * 1024;

impl Watermarks {
    /// Defaults for a volume of `volume` bytes: refuse under 5 % (at most 64 MiB, at least
    /// 1 MiB), resume at twice that, warn under 15 % (at most 1 GiB). The refuse margin leaves
    /// room for the WAL checkpoint, the heartbeat and a clean shutdown.
    pub fn for_volume(volume: u64) -> Watermarks {
        let refuse_below = (volume / 20).clamp(MIB, 64 * MIB);
        Watermarks::with_refuse(refuse_below, (volume / 100 * 15).min(1024 * MIB))
    }

    /// Explicit thresholds; `resume_at` is twice `refuse_below`, and `warn_below` is at least
    /// `resume_at`.
    pub fn with_refuse(refuse_below: u64, warn_below: u64) -> Watermarks {
        let resume_at = refuse_below.saturating_mul(2);
        Watermarks { refuse_below, resume_at, warn_below: warn_below.max(resume_at) }
    }
}

/// The refusing state with hysteresis, fed one free-space reading at a time.
#[derive(Debug, Clone)]
pub struct SpaceWatch {
    marks: Watermarks,
    refusing: bool,
}

/// What one reading means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceState {
    /// Write nothing new (store full).
    pub refuse: bool,
    /// Free space under the warning watermark.
    pub low: bool,
    /// Free space is at least the resume watermark (and a MiB): a full-disk failure of the
    /// store is over.
    pub roomy: bool,
}

impl SpaceWatch {
    pub fn new(marks: Watermarks) -> SpaceWatch {
        SpaceWatch { marks, refusing: false }
    }

    pub fn marks(&self) -> Watermarks {
        self.marks
    }

    pub fn update(&mut self, free: u64) -> SpaceState {
        self.refusing = if self.refusing {
            free < self.marks.resume_at
        } else {
            free < self.marks.refuse_below
        };
        SpaceState {
            refuse: self.refusing,
            low: free < self.marks.warn_below,
            // With the guard off (`refuse_below` 0) "room" still means a MiB free.
            roomy: free >= self.marks.resume_at.max(MIB),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds the readings (MiB) in order; expects the (refuse, low) state after each.
    #[track_caller]
    fn check(marks: Watermarks, readings: &[u64], expect: &[(bool, bool)]) {
        let mut watch = SpaceWatch::new(marks);
        let got: Vec<(bool, bool)> = readings
            .iter()
            .map(|mib| {
                let s = watch.update(mib * MIB);
                (s.refuse, s.low)
            })
            .collect();
        assert_eq!(got, expect, "{marks:?} {readings:?}");
    }

    #[test]
    fn refusing_starts_under_the_watermark_and_ends_at_twice_it() {
        let marks = Watermarks::with_refuse(4 * MIB, 16 * MIB);
        check(
            marks,
            &[100, 16, 15, 5, 4, 3, 5, 7, 8, 3, 100],
            &[
                (false, false),
                (false, false),
                (false, true),
                (false, true),
                (false, true),
                (true, true),
                (true, true),
                (true, true),
                (false, true),
                (true, true),
                (false, false),
            ],
        );
    }

    #[test]
    fn defaults_scale_with_the_volume() {
        let marks = |mib: u64| {
            let m = Watermarks::for_volume(mib * MIB);
            (m.refuse_below / MIB, m.resume_at / MIB, m.warn_below / MIB)
        };
        assert_eq!(marks(20), (1, 2, 2));
        assert_eq!(marks(1024), (51, 102, 153));
        assert_eq!(marks(1024 * 1024), (64, 128, 1024));
    }

    #[test]
    fn a_real_directory_has_a_size() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let total = volume_bytes(dir.path()).unwrap_or_default();
        let free = available_bytes(dir.path()).unwrap_or(u64::MAX);
        assert!(total > 0 && free <= total, "{free} of {total}");
        assert!(available_bytes(&dir.path().join("missing")).is_err());
    }
}
