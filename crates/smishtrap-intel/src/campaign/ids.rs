//! Stable campaign ids across clustering passes.
//!
//! A pass derives ids from content ([`super::cluster`]); [`carry_ids`] then renames its
//! campaigns after the previous pass's assignments, so an id, once published, keeps naming
//! its campaign:
//! - a campaign keeps its id as it grows;
//! - on a split, the part holding most of the old campaign's messages keeps the id (ties:
//!   the part with the smaller content id);
//! - on a merge, the oldest id (earliest message, then the smaller id) survives and the others
//!   become [`Alias`]es of it;
//! - a campaign with no previous id takes its content id, unless that id is (or was) in use,
//!   then `<content id>-r<n>` with the smallest free `n`.
//!
//! The result depends on the inputs and their previous ids only, never on input order.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Clustering, InputsRef};

/// An old id that now names another campaign (after a merge).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Alias {
    pub alias: String,
    pub id: String,
}

/// Renames the campaigns (and assignments) of `clustering` after `previous`, the campaign
/// each input had before this pass (same positions as `inputs`; missing entries count as
/// none). `taken` holds ids that no new campaign may take (aliases issued earlier). Returns
/// the new aliases, sorted.
pub fn carry_ids<'a, P: AsRef<str>>(
    inputs: impl Into<InputsRef<'a>>,
    clustering: &mut Clustering,
    previous: &[Option<P>],
    taken: &HashSet<String>,
) -> Vec<Alias> {
    let campaigns = &clustering.campaigns;
    let (rename, aliases) = carry(
        inputs.into(),
        campaigns.len(),
        |c| campaigns.get(c).map_or("", |x| x.id.as_str()),
        |c| campaigns.get(c).map(|x| x.messages.as_slice()).unwrap_or(&[]).iter().copied(),
        previous.len(),
        |i| previous.get(i).and_then(|p| p.as_ref()).map(AsRef::as_ref),
        taken,
    );
    let mut by_content: HashMap<String, String> = HashMap::new();
    for (campaign, new) in clustering.campaigns.iter_mut().zip(rename) {
        if new != campaign.id {
            by_content.insert(std::mem::replace(&mut campaign.id, new.clone()), new);
        }
    }
    for a in &mut clustering.assignments {
        if let Some(new) = a.campaign.as_ref().and_then(|c| by_content.get(c)) {
            a.campaign = Some(new.clone());
        }
    }
    clustering
        .campaigns
        .sort_by(|a, b| b.message_count.cmp(&a.message_count).then_with(|| a.id.cmp(&b.id)));
    aliases
}

/// The rules of [`carry_ids`] over any form of a pass: `campaigns` campaigns with their
/// current ids and message positions, `previous(i)` for `i < previous_len`. Returns the new
/// id of every campaign (same order) and the aliases, sorted.
pub(crate) fn carry<'c, 'p, M: Iterator<Item = usize>>(
    inputs: InputsRef<'_>,
    campaigns: usize,
    current: impl Fn(usize) -> &'c str,
    messages: impl Fn(usize) -> M,
    previous_len: usize,
    previous: impl Fn(usize) -> Option<&'p str>,
    taken: &HashSet<String>,
) -> (Vec<String>, Vec<Alias>) {
    // age of each previous id: its earliest message (untimed last)
    let mut age: HashMap<&str, i64> = HashMap::new();
    for i in 0..previous_len {
        let Some(p) = previous(i) else { continue };
        let ts = inputs.get(i).and_then(|m| m.ts()).unwrap_or(i64::MAX);
        age.entry(p).and_modify(|a| *a = (*a).min(ts)).or_insert(ts);
    }
    // messages of each previous id in each new campaign
    let mut votes: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for c in 0..campaigns {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for i in messages(c) {
            if let Some(p) = (i < previous_len).then(|| previous(i)).flatten() {
                *count.entry(p).or_default() += 1;
            }
        }
        for (p, n) in count {
            votes.entry(p).or_default().push((c, n));
        }
    }
    // each previous id goes to the new campaign holding most of its messages
    let mut claims: Vec<Vec<&str>> = vec![Vec::new(); campaigns];
    for (p, list) in &votes {
        let heir =
            list.iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| current(b.0).cmp(current(a.0))));
        if let Some(slot) = heir.and_then(|h| claims.get_mut(h.0)) {
            slot.push(p);
        }
    }
    let mut used: HashSet<String> = taken.clone();
    used.extend(age.keys().map(|p| (*p).to_owned()));
    let mut aliases = Vec::new();
    let mut rename: Vec<Option<String>> = vec![None; campaigns];
    for (c, ps) in claims.iter().enumerate() {
        let Some(&winner) = ps.iter().min_by_key(|p| (age.get(**p).copied(), **p)) else {
            continue;
        };
        for &p in ps.iter().filter(|p| **p != winner) {
            aliases.push(Alias { alias: p.to_owned(), id: winner.to_owned() });
        }
        if let Some(slot) = rename.get_mut(c) {
            *slot = Some(winner.to_owned());
        }
    }
    // new campaigns, in content-id order so the suffixes do not depend on input order
    let mut fresh: Vec<usize> =
        (0..campaigns).filter(|&c| rename.get(c).is_some_and(Option::is_none)).collect();
    fresh.sort_by(|&a, &b| current(a).cmp(current(b)));
    for c in fresh {
        let base = current(c);
        let mut id = base.to_owned();
        let mut n = 2u32;
        while used.contains(&id) {
            id = format!("{base}-r{n}");
            n += 1;
        }
        used.insert(id.clone());
        if let Some(slot) = rename.get_mut(c) {
            *slot = Some(id);
        }
    }
    aliases.sort();
    let ids = rename
        .into_iter()
        .enumerate()
        .map(|(c, id)| id.unwrap_or_else(|| current(c).to_owned()))
        .collect();
    (ids, aliases)
}
