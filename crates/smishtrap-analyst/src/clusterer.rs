use std::collections::HashMap;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::{self, Assignment, Campaign, CampaignInput, Config, parse_ts};
use smishtrap_intel::{Analysis, Phase, Verdict};
use smishtrap_store::{
    AssignmentChange, CLUSTERED_CURSOR, CampaignRow, SqliteStore, StoreError, StoredMessage,
};

/// Messages read per query while loading.
const LOAD_PAGE: usize = 4096;
/// A pass waits at least this many times its previous duration after the previous pass, so
/// a store where clustering takes seconds is not re-clustered back to back.
const BACKOFF_FACTOR: u32 = 3;
/// Upper bound of that wait.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// What one [`Clusterer::recluster`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClusterPass {
    pub messages: usize,
    pub campaigns: usize,
    /// Messages whose campaign or phase changed (new messages included).
    pub changed: usize,
    pub duration: Duration,
}

/// The campaign features of every stored message, kept in memory, and the assignments last
/// written, so a pass writes only what changed.
#[derive(Debug)]
pub struct Clusterer {
    cfg: Config,
    inputs: Vec<CampaignInput>,
    seqs: Vec<i64>,
    assigned: Vec<Assignment>,
    last_seq: i64,
    /// Messages loaded since the last pass.
    pending: usize,
    last_pass: Option<(Instant, Duration)>,
    undecodable: u64,
    /// Campaign of each exact link host and of each template of the last full pass's
    /// smishing messages (`None`: the key belongs to several campaigns, so it decides nothing).
    known_hosts: HashMap<String, Option<String>>,
    known_templates: HashMap<u64, Option<String>>,
    /// Inputs from here on have been seen by neither a full pass nor [`Clusterer::assign_known`].
    unassigned_from: usize,
    /// Whether the known hosts and templates were built (from a pass or the stored
    /// assignments of the first load).
    indexed: bool,
}

impl Clusterer {
    pub fn new(cfg: Config) -> Clusterer {
        Clusterer {
            cfg,
            inputs: Vec::new(),
            seqs: Vec::new(),
            assigned: Vec::new(),
            last_seq: 0,
            pending: 0,
            last_pass: None,
            undecodable: 0,
            known_hosts: HashMap::new(),
            known_templates: HashMap::new(),
            unassigned_from: 0,
            indexed: false,
        }
    }

    /// Messages held.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Stored messages whose JSON did not decode (skipped).
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// Reads the messages stored since the last call; returns how many.
    pub fn load_new(&mut self, store: &SqliteStore) -> Result<usize, StoreError> {
        let mut loaded = 0;
        loop {
            let page = store.messages_after(self.last_seq, LOAD_PAGE)?;
            let Some(last) = page.last().map(|m| m.seq) else { break };
            // decoding two JSON documents per message is most of a (re)start: in parallel
            let decoded: Vec<Option<(SmsRecord, Analysis)>> = page.par_iter().map(decode).collect();
            for (stored, decoded) in page.iter().zip(decoded) {
                match decoded {
                    Some((record, analysis)) => {
                        let index = self.inputs.len();
                        self.inputs.push(CampaignInput::new(index, &record, &analysis));
                        self.seqs.push(stored.seq);
                        self.assigned.push(stored_assignment(stored));
                        loaded += 1;
                    }
                    None => self.undecodable += 1,
                }
            }
            self.last_seq = last;
            if page.len() < LOAD_PAGE {
                break;
            }
        }
        self.pending += loaded;
        if !self.indexed && self.last_seq > 0 {
            // The first load of a store clustered before (a restart): its stored assignments
            // are a full pass's (or quick ones), so new messages can join at once while the
            // first full pass waits.
            self.index_known();
            self.unassigned_from = self.inputs.len();
        }
        Ok(loaded)
    }

    /// Whether new messages wait and the back-off since the previous pass has passed.
    pub fn due(&self) -> bool {
        if self.pending == 0 {
            return false;
        }
        match self.last_pass {
            None => true,
            Some((at, took)) => at.elapsed() >= (took * BACKOFF_FACTOR).min(MAX_WAIT),
        }
    }

    /// Clusters everything held and writes the changed assignments, the campaign table and
    /// the clustering cursor in one transaction.
    pub fn recluster(&mut self, store: &mut SqliteStore) -> Result<ClusterPass, StoreError> {
        let started = Instant::now();
        let clustering = campaign::cluster(&self.inputs, &self.cfg);
        let mut changes = Vec::new();
        for ((seq, old), new) in
            self.seqs.iter().zip(self.assigned.iter_mut()).zip(clustering.assignments)
        {
            if *old != new {
                changes.push(AssignmentChange {
                    seq: *seq,
                    campaign: new.campaign.clone(),
                    phase: new.phase.map(phase_name).map(str::to_owned),
                });
                *old = new;
            }
        }
        let rows: Vec<CampaignRow> = clustering.campaigns.iter().map(campaign_row).collect();
        store.apply_clustering(&changes, &rows, Some((CLUSTERED_CURSOR, self.last_seq)))?;
        self.index_known();
        let duration = started.elapsed();
        self.last_pass = Some((Instant::now(), duration));
        self.pending = 0;
        self.unassigned_from = self.inputs.len();
        Ok(ClusterPass {
            messages: self.inputs.len(),
            campaigns: rows.len(),
            changed: changes.len(),
            duration,
        })
    }
}

impl Clusterer {
    /// Between full passes: gives each new smishing message the campaign its exact link host
    /// or its template had in the last full pass (the common case of a running wave), and
    /// moves the clustering cursor past every new message, so the console shows them at once
    /// whatever the store's size. New campaigns, phases and summaries wait for the next full
    /// pass, which may revise these assignments. Returns how many messages were assigned.
    pub fn assign_known(&mut self, store: &mut SqliteStore) -> Result<usize, StoreError> {
        if !self.indexed || self.unassigned_from >= self.inputs.len() {
            return Ok(0);
        }
        let mut changes = Vec::new();
        for i in self.unassigned_from..self.inputs.len() {
            let (Some(input), Some(seq), Some(old)) =
                (self.inputs.get(i), self.seqs.get(i), self.assigned.get_mut(i))
            else {
                continue;
            };
            if input.verdict != Verdict::Smishing {
                continue;
            }
            let by_host = input
                .urls
                .iter()
                .filter(|u| !u.host.is_empty() && !u.shortener)
                .find_map(|u| self.known_hosts.get(&u.host).cloned().flatten());
            let campaign = by_host.or_else(|| {
                let template = campaign::template::normalise(&input.text);
                (template.word_count >= self.cfg.min_template_words)
                    .then(|| self.known_templates.get(&template.hash).cloned().flatten())
                    .flatten()
            });
            let Some(campaign) = campaign else { continue };
            let new = Assignment { campaign: Some(campaign), phase: Some(Phase::Wave) };
            if *old != new {
                changes.push(AssignmentChange {
                    seq: *seq,
                    campaign: new.campaign.clone(),
                    phase: Some(phase_name(Phase::Wave).to_owned()),
                });
                *old = new;
            }
        }
        store.apply_assignments(&changes, Some((CLUSTERED_CURSOR, self.last_seq)))?;
        self.unassigned_from = self.inputs.len();
        Ok(changes.len())
    }

    /// Rebuilds the host and template keys of the campaigns just computed.
    fn index_known(&mut self) {
        fn learn<K: std::hash::Hash + Eq>(
            map: &mut HashMap<K, Option<String>>,
            key: K,
            campaign: &str,
        ) {
            let entry = map.entry(key).or_insert_with(|| Some(campaign.to_owned()));
            if entry.as_deref() != Some(campaign) {
                *entry = None;
            }
        }
        self.known_hosts.clear();
        self.known_templates.clear();
        self.indexed = true;
        for (input, assignment) in self.inputs.iter().zip(&self.assigned) {
            let Some(campaign) = assignment.campaign.as_deref() else { continue };
            if input.verdict != Verdict::Smishing {
                continue;
            }
            for url in input.urls.iter().filter(|u| !u.host.is_empty() && !u.shortener) {
                learn(&mut self.known_hosts, url.host.clone(), campaign);
            }
            let template = campaign::template::normalise(&input.text);
            if template.word_count >= self.cfg.min_template_words {
                learn(&mut self.known_templates, template.hash, campaign);
            }
        }
    }
}

fn decode(stored: &StoredMessage) -> Option<(SmsRecord, Analysis)> {
    let record = serde_json::from_str(&stored.message.record).ok()?;
    let analysis = serde_json::from_str(&stored.message.analysis).ok()?;
    Some((record, analysis))
}

fn stored_assignment(stored: &StoredMessage) -> Assignment {
    Assignment {
        campaign: stored.campaign.clone(),
        phase: match stored.phase.as_deref() {
            Some("wave") => Some(Phase::Wave),
            Some("validation") => Some(Phase::Validation),
            _ => None,
        },
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Wave => "wave",
        Phase::Validation => "validation",
    }
}

fn campaign_row(c: &Campaign) -> CampaignRow {
    let micros = |t: &Option<String>| {
        t.as_deref().and_then(parse_ts).and_then(|secs| secs.checked_mul(1_000_000))
    };
    CampaignRow {
        id: c.id.clone(),
        first_seen: micros(&c.first_seen),
        last_seen: micros(&c.last_seen),
        message_count: i64::try_from(c.message_count).unwrap_or(i64::MAX),
        brand: c.brand.clone(),
        // A summary has string keys and finite numbers only.
        summary: serde_json::to_string(c).unwrap_or_else(|_| "null".into()),
    }
}
