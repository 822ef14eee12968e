//! The device's own state: what a real router accumulates while it runs (its log files, the one
//! outbox every client sees, the SMS counter) kept in memory, persisted under the data
//! directory (`DIR/device/<persona>.json`) so a restart continues where it stopped, and bounded.
//!
//! Also the device's clock: [`Zone`] turns UTC into the local time the device shows.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, Utc};
use serde::{Deserialize, Serialize};

/// Directory of the state files under the data directory.
pub const STATE_DIR: &str = "device";
/// Format version of the state file.
const VERSION: u32 = 1;
/// Lines appended to one log after its generated head; the oldest go first (log rotation).
pub const MAX_APPENDED_LINES: usize = 500;
/// Longest appended log line, in bytes.
pub const MAX_LINE_BYTES: usize = 1024;
/// Longest text kept in an outbox row, in bytes (the event keeps the whole text).
pub const MAX_OUTBOX_TEXT: usize = 1600;
/// Largest state file read back; anything bigger is not ours.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// How often changed state is written.
const SAVE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct StateError {
    pub path: PathBuf,
    pub reason: String,
}

/// A time zone the device can be set to: a standard offset and whether the EU summer-time rule
/// applies (every zone personas use is European; the rule has been the same since 1996).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    std_offset_secs: i32,
    eu_summer_time: bool,
}

/// Zones a persona may name, with their standard offset in hours and summer-time rule.
const ZONES: &[(&str, i32, bool)] = &[
    ("UTC", 0, false),
    ("Europe/London", 0, true),
    ("Europe/Dublin", 0, true),
    ("Europe/Lisbon", 0, true),
    ("Europe/Amsterdam", 1, true),
    ("Europe/Berlin", 1, true),
    ("Europe/Brussels", 1, true),
    ("Europe/Copenhagen", 1, true),
    ("Europe/Luxembourg", 1, true),
    ("Europe/Madrid", 1, true),
    ("Europe/Oslo", 1, true),
    ("Europe/Paris", 1, true),
    ("Europe/Prague", 1, true),
    ("Europe/Rome", 1, true),
    ("Europe/Stockholm", 1, true),
    ("Europe/Vienna", 1, true),
    ("Europe/Warsaw", 1, true),
    ("Europe/Zurich", 1, true),
    ("Europe/Athens", 2, true),
    ("Europe/Bucharest", 2, true),
    ("Europe/Helsinki", 2, true),
    ("Europe/Vilnius", 2, true),
];

impl Zone {
    pub fn parse(name: &str) -> Option<Zone> {
        ZONES.iter().find(|(n, _, _)| *n == name).map(|&(n, hours, eu)| Zone {
            name: n.to_owned(),
            std_offset_secs: hours * 3600,
            eu_summer_time: eu,
        })
    }

    pub fn utc() -> Zone {
        Zone { name: "UTC".to_owned(), std_offset_secs: 0, eu_summer_time: false }
    }

    pub fn known() -> impl Iterator<Item = &'static str> {
        ZONES.iter().map(|(n, _, _)| *n)
    }

    /// The offset from UTC at `t`.
    pub fn offset(&self, t: DateTime<Utc>) -> FixedOffset {
        let summer = self.eu_summer_time && {
            let year = t.year();
            let start = last_sunday_1am_utc(year, 3);
            let end = last_sunday_1am_utc(year, 10);
            start.is_some_and(|s| t >= s) && end.is_some_and(|e| t < e)
        };
        let secs = self.std_offset_secs + if summer { 3600 } else { 0 };
        FixedOffset::east_opt(secs).unwrap_or_else(|| Utc.fix())
    }

    /// `t` as the device's wall clock shows it.
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset(t))
    }

    /// The instant the wall clock shows `local` (summer time changes at 01:00 UTC, so the
    /// offset an hour before the standard guess is the one in force then, midnights included).
    pub fn utc_of(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let guess = local.and_utc() - chrono::Duration::seconds(i64::from(self.std_offset_secs));
        let offset = self.offset(guess).local_minus_utc();
        local.and_utc() - chrono::Duration::seconds(i64::from(offset))
    }

    /// The SIM counter's month around `t`, `[start, end)` in unix seconds: months start on
    /// `day` (1 to 28) at midnight on the device's wall clock.
    pub fn counter_month(&self, day: u32, t: DateTime<Utc>) -> [i64; 2] {
        let local = self.local(t).date_naive();
        let (mut year, mut month) = (local.year(), local.month());
        if local.day() < day {
            (year, month) = if month == 1 { (year - 1, 12) } else { (year, month - 1) };
        }
        let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        let at = |y: i32, m: u32| {
            NaiveDate::from_ymd_opt(y, m, day.clamp(1, 28))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(t.timestamp(), |d| self.utc_of(d).timestamp())
        };
        [at(year, month), at(next_year, next_month)]
    }
}

/// 01:00 UTC on the last Sunday of `month` (March and October both have 31 days).
fn last_sunday_1am_utc(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    let day = last - chrono::Duration::days(back);
    Some(day.and_hms_opt(1, 0, 0)?.and_utc())
}

/// One log file: the lines generated at first start (boot and history), then lines appended
/// as things happen, the oldest appended ones dropped first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    head: Vec<String>,
    tail: VecDeque<String>,
    /// Time of the last write, unix seconds (what a directory listing shows).
    mtime: i64,
    /// Lines ever appended (the file's size keeps growing even when old lines are dropped).
    appended: u64,
}

impl LogFile {
    pub fn new(head: Vec<String>, mtime: DateTime<Utc>) -> LogFile {
        LogFile { head, tail: VecDeque::new(), mtime: mtime.timestamp(), appended: 0 }
    }

    pub fn append(&mut self, line: &str, at: DateTime<Utc>) {
        let mut line = crate::cgi::bounded(line, MAX_LINE_BYTES);
        if line.contains(['\n', '\r']) {
            line.retain(|c| c != '\n' && c != '\r');
        }
        if self.tail.len() >= MAX_APPENDED_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
        self.mtime = self.mtime.max(at.timestamp());
        self.appended += 1;
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in self.head.iter().chain(&self.tail) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    pub fn mtime(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.mtime, 0).unwrap_or_default()
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.head.iter().chain(&self.tail).map(String::as_str)
    }
}

/// How one sent message was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    Success,
    Failed,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Success => "success",
            SendStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxRow {
    pub to: String,
    pub text: String,
    /// Unix seconds.
    pub at: i64,
    pub status: SendStatus,
}

/// Everything the device accumulates, as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceState {
    version: u32,
    persona: String,
    /// Which seed made this state (a hash, not the secret).
    identity: String,
    pub system_log: LogFile,
    pub httpd_log: LogFile,
    /// The one outbox of the device, oldest first.
    pub outbox: VecDeque<OutboxRow>,
    /// Messages reported sent since the sensor started.
    pub sent: u64,
    /// Rows ever added to the outbox (a row's `index` token is its number).
    #[serde(default)]
    pub outbox_added: u64,
    /// The SIM counter's month, `[start, end)` in unix seconds (`[0, 0]` before the first send).
    #[serde(default)]
    pub month: [i64; 2],
    /// Messages reported sent in that month.
    #[serde(default)]
    pub month_sent: u64,
}

impl DeviceState {
    pub fn new(
        persona: &str,
        identity: &str,
        system_log: LogFile,
        httpd_log: LogFile,
    ) -> DeviceState {
        DeviceState {
            version: VERSION,
            persona: persona.to_owned(),
            identity: identity.to_owned(),
            system_log,
            httpd_log,
            outbox: VecDeque::new(),
            sent: 0,
            outbox_added: 0,
            month: [0, 0],
            month_sent: 0,
        }
    }

    /// The number of the outbox row at `position` (0: the oldest kept).
    pub fn outbox_number(&self, position: usize) -> u64 {
        let first = self.outbox_added.saturating_sub(self.outbox.len() as u64);
        first + position as u64
    }

    /// Counts a message reported sent at `at`. `month` gives the counter's month around a
    /// time and whether it is the month the sensor was installed in; it is asked only when `at`
    /// is past the current month.
    pub fn count_sent(
        &mut self,
        at: DateTime<Utc>,
        month: impl FnOnce(DateTime<Utc>) -> ([i64; 2], bool),
    ) {
        let t = at.timestamp();
        if !(self.month[0] <= t && t < self.month[1]) {
            let (now, installed_in) = month(at);
            // A state saved before the monthly counter: its sends belong to the first month.
            self.month_sent = if self.month == [0, 0] && installed_in { self.sent } else { 0 };
            self.month = now;
        }
        self.month_sent += 1;
        self.sent += 1;
    }

    /// Messages counted in the month starting at `start` (`installed_in`: the sensor's first).
    pub fn sent_in_month(&self, start: i64, installed_in: bool) -> u64 {
        match self.month {
            [0, 0] if installed_in => self.sent,
            [s, _] if s == start => self.month_sent,
            _ => 0,
        }
    }

    /// Adds a row, dropping the oldest beyond `max` rows.
    pub fn push_outbox(&mut self, row: OutboxRow, max: usize) {
        while self.outbox.len() >= max.max(1) {
            self.outbox.pop_front();
        }
        self.outbox.push_back(row);
        self.outbox_added = self.outbox_added.max(self.outbox.len() as u64 - 1) + 1;
    }

    /// Reads a saved state and checks it belongs to this persona and seed.
    pub fn parse(text: &str, persona: &str, identity: &str) -> Result<DeviceState, String> {
        let state: DeviceState =
            serde_json::from_str(text).map_err(|e| format!("corrupt device state: {e}"))?;
        if state.version != VERSION {
            return Err(format!("unknown device state version {}", state.version));
        }
        if state.persona != persona || state.identity != identity {
            return Err("device state of another persona or seed".to_owned());
        }
        let logs = [&state.system_log, &state.httpd_log];
        if logs.iter().any(|l| l.tail.len() > MAX_APPENDED_LINES) {
            return Err("device state holds more log lines than allowed".to_owned());
        }
        Ok(state)
    }
}

/// The live state, where it is saved, and whether it changed since.
#[derive(Debug)]
pub struct StateCell {
    state: Mutex<DeviceState>,
    path: Option<PathBuf>,
    dirty: AtomicBool,
    saving: Mutex<()>,
}

impl StateCell {
    /// A state kept in memory only.
    pub fn memory(state: DeviceState) -> StateCell {
        StateCell {
            state: Mutex::new(state),
            path: None,
            dirty: AtomicBool::new(false),
            saving: Mutex::new(()),
        }
    }

    /// The state saved at `path`, or `fresh` (written at once) when there is none. A file that
    /// is unreadable, corrupt or of another seed is an error: the operator decides whether to
    /// move it away, rather than the device silently forgetting its history.
    pub fn open(path: &Path, fresh: DeviceState) -> Result<StateCell, StateError> {
        let err = |reason: String| StateError { path: path.to_path_buf(), reason };
        let state = match std::fs::metadata(path) {
            Ok(meta) if meta.len() > MAX_FILE_BYTES => {
                return Err(err(format!("larger than {MAX_FILE_BYTES} bytes")));
            }
            Ok(_) => {
                let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
                DeviceState::parse(&text, &fresh.persona, &fresh.identity)
                    .map_err(|r| err(format!("{r} (move the file away to start afresh)")))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => fresh,
            Err(e) => return Err(err(e.to_string())),
        };
        let cell = StateCell {
            state: Mutex::new(state),
            path: Some(path.to_path_buf()),
            dirty: AtomicBool::new(true),
            saving: Mutex::new(()),
        };
        cell.save(true)?;
        Ok(cell)
    }

    /// Runs `f` on the state; `changed` marks it for the next save.
    pub fn with<R>(&self, changed: bool, f: impl FnOnce(&mut DeviceState) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut state);
        if changed {
            self.dirty.store(true, Ordering::Release);
        }
        out
    }

    /// Writes the state if it changed (a temporary file renamed over the old one, so a crash
    /// leaves either the old or the new state, never half of one). `durable` also waits for the
    /// disk: the periodic saves do not, so they never stall the event store's writes (a crash
    /// of the process loses nothing either way; a power cut may lose the last seconds).
    pub fn save(&self, durable: bool) -> Result<(), StateError> {
        let Some(path) = &self.path else { return Ok(()) };
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        // Copied under the lock, encoded outside it: requests wait for a copy, not an encoding.
        let snapshot = self.with(false, |s| s.clone());
        let bytes = serde_json::to_vec(&snapshot)
            .map_err(|e| StateError { path: path.clone(), reason: e.to_string() })?;
        let written = write_atomically(path, &bytes, durable);
        if written.is_err() {
            // Try again next time.
            self.dirty.store(true, Ordering::Release);
        }
        written.map_err(|e| StateError { path: path.clone(), reason: e.to_string() })
    }
}

fn write_atomically(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    // Private like the seed: it holds what attackers sent.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    if durable {
        file.sync_data()?;
    }
    std::fs::rename(&tmp, path)
}

/// Saves a state every second while it changes, off the request path; a last save when the
/// returned handle is dropped by its device.
#[derive(Debug)]
pub struct Saver {
    _stop: mpsc::Sender<()>,
}

impl Saver {
    pub fn spawn(cell: Arc<StateCell>) -> Saver {
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned =
            std::thread::Builder::new().name("device-state".to_owned()).spawn(move || {
                loop {
                    let last = matches!(
                        stopped.recv_timeout(SAVE_EVERY),
                        Err(RecvTimeoutError::Disconnected)
                    );
                    if let Err(e) = cell.save(last) {
                        tracing::warn!(error = %e, "cannot save the device state");
                    }
                    if last {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the device state saver; saved at stop only");
        }
        Saver { _stop: stop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(zone: &str, utc: &str, expect: &str) {
        let t: DateTime<Utc> = utc.parse().unwrap();
        let z = Zone::parse(zone).unwrap();
        assert_eq!(z.local(t).format("%Y-%m-%d %H:%M:%S").to_string(), expect, "{zone} {utc}");
    }

    #[test]
    fn local_time_follows_the_eu_summer_time_rule() {
        check("Europe/Brussels", "2026-12-06T11:00:00Z", "2026-12-06 12:00:00");
        check("Europe/Brussels", "2026-07-01T11:00:00Z", "2026-07-01 13:00:00");
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        check("Europe/Paris", "2026-03-29T00:59:59Z", "2026-03-29 01:59:59");
        check("Europe/Paris", "2026-03-29T01:00:00Z", "2026-03-29 03:00:00");
        check("Europe/Paris", "2026-10-25T00:59:59Z", "2026-10-25 02:59:59");
        check("Europe/Paris", "2026-10-25T01:00:00Z", "2026-10-25 02:00:00");
        check("Europe/London", "2026-07-01T11:00:00Z", "2026-07-01 12:00:00");
        check("Europe/Helsinki", "2026-01-01T00:00:00Z", "2026-01-01 02:00:00");
        check("UTC", "2026-07-01T11:00:00Z", "2026-07-01 11:00:00");
        assert!(Zone::parse("Mars/Olympus").is_none());
    }

    #[track_caller]
    fn check_month(zone: &str, day: u32, utc: &str, expect: [&str; 2]) {
        let t: DateTime<Utc> = utc.parse().unwrap();
        let [a, b] = Zone::parse(zone).unwrap().counter_month(day, t);
        let show = |s: i64| DateTime::from_timestamp(s, 0).unwrap().to_rfc3339();
        let expect = expect.map(|e| e.parse::<DateTime<Utc>>().unwrap().to_rfc3339());
        assert_eq!([show(a), show(b)], expect, "{zone} day {day} at {utc}");
    }

    #[test]
    fn counter_months_start_at_local_midnight_of_the_reset_day() {
        check_month(
            "Europe/Brussels",
            1,
            "2026-12-06T11:00:00Z",
            ["2026-11-30T23:00:00Z", "2026-12-31T23:00:00Z"],
        );
        check_month(
            "Europe/Brussels",
            1,
            "2026-11-30T23:00:00Z",
            ["2026-11-30T23:00:00Z", "2026-12-31T23:00:00Z"],
        );
        check_month(
            "Europe/Brussels",
            1,
            "2026-11-30T22:59:59Z",
            ["2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z"],
        );
        // summer time on both ends, and across its start
        check_month(
            "Europe/Paris",
            1,
            "2026-07-15T00:00:00Z",
            ["2026-06-30T22:00:00Z", "2026-07-31T22:00:00Z"],
        );
        check_month(
            "Europe/Paris",
            1,
            "2026-03-15T00:00:00Z",
            ["2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"],
        );
        check_month(
            "UTC",
            15,
            "2026-01-10T00:00:00Z",
            ["2025-12-15T00:00:00Z", "2026-01-15T00:00:00Z"],
        );
        check_month(
            "UTC",
            28,
            "2026-12-28T00:00:00Z",
            ["2026-12-28T00:00:00Z", "2027-01-28T00:00:00Z"],
        );
    }

    #[test]
    fn the_month_count_starts_again_and_old_states_keep_theirs() {
        let mut s = state();
        s.sent = 5;
        let t = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap();
        // a state saved before the monthly counter, in its first month
        assert_eq!(s.sent_in_month(100, true), 5);
        assert_eq!(s.sent_in_month(100, false), 0);
        s.count_sent(t(150), |_| ([100, 200], true));
        assert_eq!((s.month_sent, s.sent), (6, 6));
        s.count_sent(t(199), |_| unreachable!("same month"));
        assert_eq!(s.sent_in_month(100, true), 7);
        s.count_sent(t(250), |_| ([200, 300], false));
        assert_eq!((s.sent_in_month(200, false), s.sent_in_month(100, true), s.sent), (1, 0, 8));
        assert_eq!(s.sent_in_month(300, false), 0, "a month without sends");
    }

    #[test]
    fn outbox_rows_keep_their_numbers_when_old_ones_go() {
        let mut s = state();
        let row = |to: &str| OutboxRow {
            to: to.to_owned(),
            text: String::new(),
            at: 0,
            status: SendStatus::Success,
        };
        for to in ["a", "b", "c"] {
            s.push_outbox(row(to), 2);
        }
        // "b" was the second row ever; it is now the oldest kept
        assert_eq!((s.outbox[0].to.as_str(), s.outbox_number(0)), ("b", 1));
        assert_eq!(s.outbox_number(1), 2);
    }

    fn state() -> DeviceState {
        let t = DateTime::from_timestamp(1_760_000_000, 0).unwrap();
        DeviceState::new(
            "p",
            "id",
            LogFile::new(vec!["boot".to_owned()], t),
            LogFile::new(vec![], t),
        )
    }

    #[test]
    fn logs_and_outbox_stay_bounded() {
        let mut s = state();
        let t = DateTime::from_timestamp(1_760_000_100, 0).unwrap();
        for i in 0..MAX_APPENDED_LINES + 10 {
            s.system_log.append(&format!("line {i}\nforged"), t);
            s.push_outbox(
                OutboxRow {
                    to: i.to_string(),
                    text: String::new(),
                    at: 0,
                    status: SendStatus::Success,
                },
                3,
            );
        }
        let text = s.system_log.text();
        assert!(text.starts_with("boot\nline 10forged\n"), "{}", &text[..40]);
        assert_eq!(text.lines().count(), MAX_APPENDED_LINES + 1);
        assert_eq!(s.system_log.mtime(), t);
        assert_eq!(s.system_log.appended, (MAX_APPENDED_LINES + 10) as u64);
        let kept: Vec<&str> = s.outbox.iter().map(|r| r.to.as_str()).collect();
        assert_eq!(kept, ["507", "508", "509"]);
        s.system_log.append(&"x".repeat(5000), t);
        assert_eq!(s.system_log.tail.back().unwrap().len(), MAX_LINE_BYTES);
    }

    #[test]
    fn saved_state_comes_back_and_bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device").join("p.json");
        let cell = StateCell::open(&path, state()).unwrap();
        let t = DateTime::from_timestamp(1_760_000_200, 0).unwrap();
        cell.with(true, |s| s.httpd_log.append("attacker", t));
        cell.save(true).unwrap();
        let again = StateCell::open(&path, state()).unwrap();
        assert_eq!(again.with(false, |s| s.httpd_log.text()), "attacker\n");

        let err = |text: &str| {
            std::fs::write(&path, text).unwrap();
            StateCell::open(&path, state()).unwrap_err().to_string()
        };
        assert!(err("{").contains("p.json: corrupt device state"), "{}", err("{"));
        let other = serde_json::to_string(&DeviceState::new(
            "p",
            "other-seed",
            LogFile::new(vec![], t),
            LogFile::new(vec![], t),
        ))
        .unwrap();
        assert!(err(&other).contains("another persona or seed"));
    }
}
