use smishtrap_event::Event;

/// Events with their JSON encoding (`serde_json`, one line each, no trailing newline), in the
/// same order. The publisher encodes each event once on the request path so that neither the
/// writer thread nor any sink encodes it again.
#[derive(Debug, Clone, Copy)]
pub struct EncodedBatch<'a> {
    events: &'a [Event],
    json: &'a [Box<str>],
}

impl<'a> EncodedBatch<'a> {
    /// `json[i]` must be the encoding of `events[i]`; `None` when the lengths differ.
    pub fn new(events: &'a [Event], json: &'a [Box<str>]) -> Option<EncodedBatch<'a>> {
        (events.len() == json.len()).then_some(EncodedBatch { events, json })
    }

    pub fn events(&self) -> &'a [Event] {
        self.events
    }

    pub fn json(&self) -> &'a [Box<str>] {
        self.json
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Each event with its JSON.
    pub fn iter(&self) -> impl Iterator<Item = (&'a Event, &'a str)> + 'a {
        self.events.iter().zip(self.json.iter().map(|j| &**j))
    }
}

/// Encodes one event the way [`EncodedBatch`] carries it.
pub(crate) fn encode(event: &Event) -> Result<Box<str>, serde_json::Error> {
    // Events are ~1-2 KiB; starting there avoids most regrowth of serde_json's small default.
    let mut buf = Vec::with_capacity(2048);
    serde_json::to_writer(&mut buf, event)?;
    // serde_json only writes UTF-8; the check cannot fail and costs little next to encoding.
    let json = match String::from_utf8(buf) {
        Ok(json) => json,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    };
    Ok(json.into_boxed_str())
}
