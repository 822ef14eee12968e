//! A clustering pass read piece by piece, for holders of millions of messages.
//!
//! [`super::cluster`] returns every assignment with its campaign id as a string and every
//! campaign summary at once; at millions of messages those outputs cost more than the
//! clustering itself. A [`Pass`] keeps the campaign of each message as an index into its
//! campaign table and makes one summary when asked, so a caller can write summaries one at a
//! time and keep assignments as small ids. [`super::cluster`] and [`super::carry_ids`] are
//! built on it: both forms give the same results (`streamed_pass_gives_what_cluster_gives`).

use std::collections::HashSet;

use super::cluster::{self, Groups, NONE, Prepared};
use super::phase::{self, Phases};
use super::{Alias, Assignment, Campaign, Clustering, Config, InputsRef, ids, summary};
use crate::Phase;

/// One clustering pass over `inputs`: campaigns by index, summaries on demand.
#[derive(Debug)]
pub struct Pass<'a> {
    inputs: InputsRef<'a>,
    cfg: Config,
    prepared: Prepared,
    groups: Groups,
    phases: Phases,
    /// Content-derived id of each campaign.
    ids: Vec<String>,
    /// Messages of campaign `c` (members and attached test sends, ascending) are
    /// `list[starts[c]..starts[c + 1]]`.
    starts: Vec<usize>,
    list: Vec<u32>,
}

/// What [`Pass::carry_ids`] decided: the id of each campaign after the previous pass's
/// (same indexes as the pass's campaigns) and the aliases of merged campaigns, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub ids: Vec<String>,
    pub aliases: Vec<Alias>,
}

impl<'a> Pass<'a> {
    /// Clusters `inputs` (owned [`super::CampaignInput`]s or [`super::CompactInputs`]).
    pub fn new(inputs: impl Into<InputsRef<'a>>, cfg: &Config) -> Pass<'a> {
        let inputs = inputs.into();
        let prepared = cluster::prepare(inputs);
        let mut groups = cluster::link(inputs, &prepared, cfg);
        let mut phases = phase::detect(inputs, &groups, cfg);
        // operators: campaigns whose validation sends go to the same numbers are one campaign
        if cluster::merge_by_operators(inputs, &prepared, &mut groups, &phases.operators) {
            phases = phase::detect(inputs, &groups, cfg);
        }
        let ids = summary::content_ids(&groups);
        // the campaigns' message lists in one vector (a counting sort by campaign), in place
        // of a list per campaign; the member lists phase detection read are not needed now
        let campaigns = groups.members.len();
        groups.members = Vec::new();
        groups.of = Vec::new();
        let mut starts = vec![0usize; campaigns + 1];
        for &g in phases.group.iter().filter(|&&g| g != NONE) {
            if let Some(n) = starts.get_mut(g as usize + 1) {
                *n += 1;
            }
        }
        for c in 1..starts.len() {
            let before = starts.get(c - 1).copied().unwrap_or(0);
            if let Some(n) = starts.get_mut(c) {
                *n += before;
            }
        }
        let mut next = starts.clone();
        let mut list = vec![0u32; starts.last().copied().unwrap_or(0)];
        for (i, &g) in phases.group.iter().enumerate() {
            if g == NONE {
                continue;
            }
            if let Some(at) = next.get_mut(g as usize) {
                if let Some(slot) = list.get_mut(*at) {
                    *slot = u32::try_from(i).unwrap_or(u32::MAX);
                }
                *at += 1;
            }
        }
        Pass { inputs, cfg: cfg.clone(), prepared, groups, phases, ids, starts, list }
    }

    /// How many messages the pass read.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// How many campaigns it found.
    pub fn campaigns(&self) -> usize {
        self.ids.len()
    }

    /// The content-derived id of campaign `c` (before [`Pass::carry_ids`]).
    pub fn content_id(&self, c: usize) -> &str {
        self.ids.get(c).map_or("", String::as_str)
    }

    /// Input positions of campaign `c`'s messages (validation sends included), ascending.
    pub fn messages(&self, c: usize) -> &[u32] {
        let (start, end) = (self.starts.get(c).copied(), self.starts.get(c + 1).copied());
        match (start, end) {
            (Some(start), Some(end)) => self.list.get(start..end).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The campaign (index) and phase of input `i`; `None` when it is in no campaign.
    pub fn assignment(&self, i: usize) -> Option<(usize, Phase)> {
        let g = self.phases.group.get(i).copied().filter(|&g| g != NONE)?;
        let phase = self.phases.phase.get(i).copied().flatten().unwrap_or(Phase::Wave);
        Some((g as usize, phase))
    }

    /// The summary of campaign `c`, under `id`.
    pub fn summary(&self, c: usize, id: String) -> Campaign {
        let list = self.messages(c).iter().map(|&i| i as usize).collect();
        summary::summarise(
            self.inputs,
            &self.prepared,
            &self.groups,
            &self.phases,
            &self.cfg,
            c,
            id,
            list,
        )
    }

    /// Carries the previous pass's ids over (see [`super::carry_ids`]): `previous(i)` is
    /// the campaign input `i` had before, for `i` below `previous_len`; `taken` holds ids no
    /// new campaign may take (aliases issued earlier).
    pub fn carry_ids<'p>(
        &self,
        previous_len: usize,
        previous: impl Fn(usize) -> Option<&'p str>,
        taken: &HashSet<String>,
    ) -> Carried {
        let (ids, aliases) = ids::carry(
            self.inputs,
            self.campaigns(),
            |c| self.content_id(c),
            |c| self.messages(c).iter().map(|&i| i as usize),
            previous_len,
            previous,
            taken,
        );
        Carried { ids, aliases }
    }

    /// Every assignment and summary at once, under the content-derived ids; campaigns sorted
    /// by size (largest first), then id.
    pub fn into_clustering(self) -> Clustering {
        let assignments = (0..self.len())
            .map(|i| match self.assignment(i) {
                Some((c, phase)) => {
                    Assignment { campaign: Some(self.content_id(c).to_owned()), phase: Some(phase) }
                }
                None => Assignment::default(),
            })
            .collect();
        let mut campaigns: Vec<Campaign> =
            (0..self.campaigns()).map(|c| self.summary(c, self.content_id(c).to_owned())).collect();
        campaigns
            .sort_by(|a, b| b.message_count.cmp(&a.message_count).then_with(|| a.id.cmp(&b.id)));
        Clustering { assignments, campaigns }
    }
}
