use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{ANALYSED_CURSOR, AnalysisStore, StoreError};

use crate::message_of;

/// Event rows read per transaction: large enough to amortise the commit, small enough that a
/// capture burst does not hold the write lock for long.
const SCAN_ROWS: usize = 2048;

/// What one call of [`analyse_captures`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaptureProgress {
    /// Event rows read (of any kind).
    pub events_scanned: u64,
    /// Messages stored (one per recipient of each `sms.send`).
    pub messages: u64,
    /// Stored events that did not decode (written by a newer smishtrap); skipped.
    pub undecodable: u64,
}

/// Analyses the `sms.send` events stored after the analysis cursor, at most `max_rows` event
/// rows, storing their messages and moving the cursor in the same transactions.
pub fn analyse_captures<S: AnalysisStore + ?Sized>(
    store: &mut S,
    engine: &Engine,
    options: &AnalyzeOptions,
    max_rows: usize,
) -> Result<CaptureProgress, StoreError> {
    let mut progress = CaptureProgress::default();
    let mut cursor = store.cursor(ANALYSED_CURSOR)?;
    while (progress.events_scanned as usize) < max_rows {
        let (events, last) = store.sms_sends_after(cursor, SCAN_ROWS)?;
        if last == cursor {
            break;
        }
        let mut messages = Vec::new();
        for event in events {
            let event = match event {
                Ok(event) => event,
                Err(err) => {
                    // The decoder's message may quote the stored (attacker-written) JSON:
                    // log only where it is.
                    let row = match &err {
                        StoreError::Decode { row, .. } => *row,
                        _ => 0,
                    };
                    tracing::warn!(row, "skipping a stored event that does not decode");
                    progress.undecodable += 1;
                    continue;
                }
            };
            let ts = event.ts.timestamp_micros();
            for record in SmsRecord::from_event(&event) {
                let id = record.id.clone().unwrap_or_else(|| event.id.clone());
                let analysis = engine.analyze(&record, id, options);
                // The capture's own time (microseconds), not the record's rounded copy.
                let mut message = message_of(&record, &analysis, "sensor", Some(&event.id), ts);
                message.ts_micros = ts;
                messages.push(message);
            }
        }
        progress.messages +=
            store.insert_messages(&messages, Some((ANALYSED_CURSOR, last)))? as u64;
        progress.events_scanned += u64::try_from(last - cursor).unwrap_or(0);
        cursor = last;
    }
    Ok(progress)
}
