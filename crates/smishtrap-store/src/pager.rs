//! Keyset paging shared by the backends: an iterator over events that fetches one page of
//! `(seq, ts, json)` rows after the last `(ts, seq)` it returned, so memory stays flat and no
//! read holds a transaction open across pages.

use std::collections::VecDeque;

use smishtrap_event::Event;

use crate::StoreError;

/// Rows fetched per query while streaming; bounds the memory of a read.
pub(crate) const PAGE_SIZE: usize = 512;

/// One stored event row: insertion order, timestamp (µs), JSON.
pub(crate) type Row = (i64, i64, String);

/// What a backend provides to page through its events.
pub(crate) trait PageSource {
    /// Appends up to `want` rows strictly after `cursor` (`(ts, seq)`), in order.
    fn fetch(
        &mut self,
        cursor: (i64, i64),
        want: usize,
        out: &mut VecDeque<Row>,
    ) -> Result<(), StoreError>;

    /// Decodes the JSON of row `seq`.
    fn decode(&self, seq: i64, json: &str) -> Result<Event, StoreError>;
}

/// Streams events page by page; a failed page ends the stream after reporting its error once.
#[derive(Debug)]
pub(crate) struct Pager<S> {
    pub(crate) source: S,
    cursor: (i64, i64),
    page: VecDeque<Row>,
    remaining: Option<u64>,
    exhausted: bool,
}

impl<S: PageSource> Pager<S> {
    pub(crate) fn new(source: S, limit: Option<u64>) -> Pager<S> {
        Pager {
            source,
            cursor: (i64::MIN, i64::MIN),
            page: VecDeque::with_capacity(PAGE_SIZE),
            remaining: limit,
            exhausted: false,
        }
    }

    fn fetch_page(&mut self) -> Result<(), StoreError> {
        let want = self.remaining.map_or(PAGE_SIZE, |r| PAGE_SIZE.min(r as usize));
        let before = self.page.len();
        self.source.fetch(self.cursor, want, &mut self.page)?;
        if let Some((seq, ts, _)) = self.page.back() {
            self.cursor = (*ts, *seq);
        }
        if self.page.len() - before < want {
            self.exhausted = true;
        }
        Ok(())
    }
}

impl<S: PageSource> Iterator for Pager<S> {
    type Item = Result<Event, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == Some(0) {
            return None;
        }
        if self.page.is_empty() {
            if self.exhausted {
                return None;
            }
            if let Err(err) = self.fetch_page() {
                self.exhausted = true;
                return Some(Err(err));
            }
        }
        let (seq, _, json) = self.page.pop_front()?;
        if let Some(remaining) = self.remaining.as_mut() {
            *remaining -= 1;
        }
        Some(self.source.decode(seq, &json))
    }
}
