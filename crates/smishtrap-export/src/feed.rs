//! A MISP feed: the directory layout a MISP instance subscribes to (by URL or local path).
//!
//! `manifest.json` (event uuid → the event's header), `hashes.csv` (`md5(value),event uuid`
//! per attribute value, each part of a composite `a|b` value hashed on its own) and one
//! `<uuid>.json` per event, as MISP's own feed generator writes them. One event per
//! campaign, so an event's uuid follows the campaign's stable id.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::{Campaign, Producer, misp};

/// The files of the feed: (file name, contents). File names are event uuids (hex and `-`)
/// plus the two fixed names: safe to join to a directory.
pub fn files(campaigns: &[Campaign], producer: &Producer) -> Vec<(String, Vec<u8>)> {
    let events = misp::events(campaigns, misp::Mode::PerCampaign, producer);
    let mut manifest = Map::new();
    let mut hashes: Vec<(String, String)> = Vec::new();
    let mut out = Vec::with_capacity(events.len() + 2);
    for wrapped in &events {
        let Some(event) = wrapped.get("Event") else { continue };
        let Some(uuid) = event.get("uuid").and_then(Value::as_str) else { continue };
        let header: Map<String, Value> =
            ["Orgc", "Tag", "info", "date", "analysis", "threat_level_id", "timestamp"]
                .iter()
                .filter_map(|k| event.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                .collect();
        manifest.insert(uuid.to_owned(), Value::Object(header));
        let attributes = event.get("Attribute").and_then(Value::as_array).into_iter().flatten();
        let in_objects = event
            .get("Object")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| o.get("Attribute").and_then(Value::as_array))
            .flatten();
        for a in attributes.chain(in_objects) {
            let Some(value) = a.get("value").and_then(Value::as_str) else { continue };
            for part in value.split('|') {
                hashes.push((hex(&Md5::digest(part.as_bytes())), uuid.to_owned()));
            }
        }
        out.push((format!("{uuid}.json"), pretty(wrapped)));
    }
    hashes.sort();
    hashes.dedup();
    let mut csv = String::with_capacity(hashes.len() * 70);
    for (hash, uuid) in &hashes {
        csv.push_str(hash);
        csv.push(',');
        csv.push_str(uuid);
        csv.push('\n');
    }
    out.push(("manifest.json".to_owned(), pretty(&Value::Object(manifest))));
    out.push(("hashes.csv".to_owned(), csv.into_bytes()));
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut v =
        serde_json::to_vec_pretty(value).unwrap_or_else(|_| json!(null).to_string().into_bytes());
    v.push(b'\n');
    v
}
