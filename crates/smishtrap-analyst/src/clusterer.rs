use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::{
    self, Alias, Assignment, Campaign, CampaignInput, CompactInputs, Config, Pass, UrlFeature,
    parse_ts,
};
use smishtrap_intel::{Analysis, Phase, Verdict};
use smishtrap_store::{
    AnalysedRow, AnalysisStore, AssignmentChange, CLUSTERED_CURSOR, CampaignAlias, CampaignRow,
    StoreError,
};

/// Messages read per query while loading.
const LOAD_PAGE: usize = 4096;
/// A pass waits at least this many times its previous duration after the previous pass, so
/// a store where clustering takes seconds is not re-clustered back to back.
const BACKOFF_FACTOR: u32 = 3;
/// Upper bound of that wait.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Why a clustering step failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug, not input: clustering is total on any features. Reported, not propagated, so
    /// the analyst thread survives it.
    #[error("the clustering pass panicked")]
    Panicked,
}

/// What one [`Clusterer::recluster`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClusterPass {
    pub messages: usize,
    pub campaigns: usize,
    /// Messages whose campaign or phase changed (new messages included).
    pub changed: usize,
    /// Messages that arrived during the pass and joined known campaigns meanwhile.
    pub joined_during: usize,
    pub duration: Duration,
}

/// The campaign features of one message, made where it is analysed (an import), so the
/// clusterer need not read the stored message back and decode its JSON.
#[derive(Debug, Clone)]
pub struct Features {
    input: CampaignInput,
    template_key: Option<u64>,
}

impl Features {
    pub fn new(record: &SmsRecord, analysis: &Analysis, cfg: &Config) -> Features {
        let input = CampaignInput::new(0, record, analysis);
        let template_key = template_key(&input, cfg.min_template_words);
        Features { input, template_key }
    }
}

/// An assignment as held: the campaign id interned in [`CampaignIds`] (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    campaign: u32,
    phase: Option<Phase>,
}

/// Campaign ids of held assignments, interned: there are few campaigns and millions of
/// assignments (an id string each would cost more than the rest of a held assignment).
#[derive(Debug)]
struct CampaignIds {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl CampaignIds {
    fn new() -> CampaignIds {
        CampaignIds { names: vec![String::new()], ids: HashMap::new() }
    }

    fn slot(&mut self, a: &Assignment) -> Slot {
        let campaign = a.campaign.as_deref().map_or(0, |id| self.intern(id));
        Slot { campaign, phase: a.phase }
    }

    /// The number of campaign id `id` (never 0).
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&n) = self.ids.get(id) {
            return n;
        }
        let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(id.to_owned());
        self.ids.insert(id.to_owned(), n);
        n
    }

    fn name(&self, slot: Slot) -> Option<&str> {
        if slot.campaign == 0 {
            None
        } else {
            self.names.get(slot.campaign as usize).map(String::as_str)
        }
    }
}

/// Campaign features of stored messages, with their row numbers and last written assignments.
///
/// Only what can take part in a campaign is held (memory is per stored message, and most
/// stored messages are ham): smishing messages, possible test sends (outbound short texts
/// with a time), one holder of each domain ham links to (ham's domains link nothing), and
/// messages that still have a campaign to take away. The rest would get no campaign and
/// change none, so leaving them out changes no pass's result. Features are held compact
/// (interned strings, texts in an arena): a held smishing message costs about a third of
/// its `CampaignInput`.
#[derive(Debug)]
struct Held {
    inputs: CompactInputs,
    seqs: Vec<i64>,
    assigned: Vec<Slot>,
    campaign_ids: CampaignIds,
    /// Template hash of each smishing message long enough to link by template (computed
    /// once at load: passes and joins reuse it).
    template_keys: Vec<Option<u64>>,
    min_template_words: usize,
    /// Messages read, held or not: the next one's `index` (samples name it).
    count: usize,
    /// Domains of ham held so far (one holder each).
    ham_domains: HashSet<String>,
    /// Last message row read.
    last_seq: i64,
    undecodable: u64,
}

impl Held {
    fn after(last_seq: i64, min_template_words: usize) -> Held {
        Held {
            inputs: CompactInputs::new(),
            seqs: Vec::new(),
            assigned: Vec::new(),
            campaign_ids: CampaignIds::new(),
            template_keys: Vec::new(),
            min_template_words,
            count: 0,
            ham_domains: HashSet::new(),
            last_seq,
            undecodable: 0,
        }
    }

    /// Holds the message at row `seq` if it can take part in a campaign (see the type).
    fn push(&mut self, mut input: CampaignInput, key: Option<u64>, seq: i64, assigned: Assignment) {
        input.index = self.count;
        self.count += 1;
        let keep = input.verdict == Verdict::Smishing
            || assigned != Assignment::default()
            // a test-send candidate: `CampaignInput::new` keeps only test texts of others
            || (input.outbound && input.ts.is_some() && !input.text.is_empty());
        if !keep {
            if input.verdict != Verdict::Ham {
                return;
            }
            // ham only tells which domains are ham's: keep those, on one holder each
            let mut urls = Vec::new();
            for u in input.urls.drain(..) {
                if let Some(domain) = u.domain
                    && !self.ham_domains.contains(&domain)
                {
                    self.ham_domains.insert(domain.clone());
                    urls.push(UrlFeature {
                        url: String::new(),
                        host: String::new(),
                        domain: Some(domain),
                        impersonates: None,
                        technique: None,
                        shortener: false,
                    });
                }
            }
            if urls.is_empty() {
                return;
            }
            input = CampaignInput {
                index: input.index,
                ts: None,
                router: None,
                src_ip: None,
                sender: None,
                recipient: None,
                recipient_country: None,
                outbound: false,
                status: None,
                text: String::new(),
                verdict: Verdict::Ham,
                brand: None,
                lang: None,
                urls,
                honeypot: false,
            };
        }
        self.inputs.push(&input);
        self.template_keys.push(key);
        self.seqs.push(seq);
        let slot = self.campaign_ids.slot(&assigned);
        self.assigned.push(slot);
    }

    /// Forgets everything after the first `len` held of the first `count` read, back to
    /// row `last_seq`.
    fn truncate(&mut self, len: usize, count: usize, last_seq: i64) {
        self.inputs.truncate(len);
        self.template_keys.truncate(len);
        self.seqs.truncate(len);
        self.assigned.truncate(len);
        self.count = count;
        self.last_seq = last_seq;
        self.ham_domains = self
            .inputs
            .iter()
            .filter(|m| m.verdict() == Verdict::Ham)
            .flat_map(|m| m.urls().filter_map(|u| u.domain.map(str::to_owned)))
            .collect();
    }

    /// Reads the messages stored after `last_seq`; returns how many.
    fn load<S: AnalysisStore + ?Sized>(&mut self, store: &mut S) -> Result<usize, StoreError> {
        let mut loaded = 0;
        loop {
            let page = store.analysed_after(self.last_seq, LOAD_PAGE)?;
            let Some(last) = page.last().map(|m| m.seq) else { break };
            // decoding two JSON documents per message is most of a (re)start: in parallel
            let min_words = self.min_template_words;
            let decoded: Vec<Option<(CampaignInput, Option<u64>)>> = page
                .par_iter()
                .map(|row| {
                    let (record, analysis) = decode(row)?;
                    let input = CampaignInput::new(0, &record, &analysis);
                    let key = template_key(&input, min_words);
                    Some((input, key))
                })
                .collect();
            for (stored, decoded) in page.iter().zip(decoded) {
                match decoded {
                    Some((input, key)) => {
                        self.push(input, key, stored.seq, stored_assignment(stored));
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
        Ok(loaded)
    }

    /// Moves `tail` (read after this one) to the end.
    fn append(&mut self, tail: Held) {
        let base = self.count;
        self.inputs.extend_from(&tail.inputs, base);
        self.seqs.extend(tail.seqs);
        for slot in tail.assigned {
            let campaign = tail.campaign_ids.name(slot).map(str::to_owned);
            let slot = self.campaign_ids.slot(&Assignment { campaign, phase: slot.phase });
            self.assigned.push(slot);
        }
        self.template_keys.extend(tail.template_keys);
        self.count += tail.count;
        self.ham_domains.extend(tail.ham_domains);
        self.last_seq = self.last_seq.max(tail.last_seq);
        self.undecodable += tail.undecodable;
    }
}

/// Campaign of each exact link host and of each template of held smishing messages (`None`:
/// the key belongs to several campaigns, so it decides nothing).
#[derive(Debug, Default)]
struct Known {
    /// Values index `names` (0: several campaigns): a number per key, not an id string (a
    /// store of millions of messages has millions of link hosts).
    hosts: HashMap<String, u32>,
    templates: HashMap<u64, u32>,
    /// The campaign ids (the held [`CampaignIds`] when this was built).
    names: Vec<String>,
    /// Latest message time of each template: after a quiet gap a template alone joins
    /// nothing (the full pass's rule, `Config::quiet_gap_secs`).
    template_last: HashMap<u64, i64>,
}

impl Known {
    fn of(held: &Held) -> Known {
        Known::of_first(held, held.inputs.len())
    }

    /// The keys of the first `n` held messages.
    fn of_first(held: &Held, n: usize) -> Known {
        fn learn<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u32>, key: K, campaign: u32) {
            let entry = map.entry(key).or_insert(campaign);
            if *entry != campaign {
                *entry = 0;
            }
        }
        let mut known = Known { names: held.campaign_ids.names.clone(), ..Known::default() };
        let rows = held.inputs.iter().zip(&held.assigned).zip(&held.template_keys).take(n);
        for ((input, slot), key) in rows {
            let campaign = slot.campaign;
            if campaign == 0 || input.verdict() != Verdict::Smishing {
                continue;
            }
            for url in input.urls().filter(|u| !u.host.is_empty() && !u.shortener) {
                learn(&mut known.hosts, url.host.to_owned(), campaign);
            }
            if let Some(key) = key {
                learn(&mut known.templates, *key, campaign);
                if let Some(ts) = input.ts() {
                    let last = known.template_last.entry(*key).or_insert(ts);
                    *last = (*last).max(ts);
                }
            }
        }
        known
    }

    /// Joins held messages from `from` on to the campaign of their exact link host or
    /// template; returns the changed assignments.
    fn join(&self, held: &mut Held, from: usize, quiet_gap: i64) -> Vec<AssignmentChange> {
        let mut changes = Vec::new();
        let ids = &mut held.campaign_ids;
        let rows = held
            .inputs
            .iter()
            .zip(&held.template_keys)
            .zip(&held.seqs)
            .zip(held.assigned.iter_mut())
            .skip(from);
        for (((input, key), seq), old) in rows {
            if input.verdict() != Verdict::Smishing {
                continue;
            }
            let by_host = input
                .urls()
                .filter(|u| !u.host.is_empty() && !u.shortener)
                .find_map(|u| self.hosts.get(u.host).copied().filter(|&c| c != 0));
            let campaign = by_host.or_else(|| {
                let key = key.filter(|key| {
                    let last = self.template_last.get(key).copied();
                    match (input.ts(), last) {
                        (Some(ts), Some(last)) => ts - last <= quiet_gap,
                        _ => true,
                    }
                })?;
                self.templates.get(&key).copied().filter(|&c| c != 0)
            });
            let Some(campaign) = campaign.and_then(|c| self.names.get(c as usize)) else {
                continue;
            };
            let new = Assignment { campaign: Some(campaign.clone()), phase: Some(Phase::Wave) };
            let slot = ids.slot(&new);
            if *old != slot {
                changes.push(AssignmentChange {
                    seq: *seq,
                    campaign: new.campaign,
                    phase: Some(phase_name(Phase::Wave).to_owned()),
                });
                *old = slot;
            }
        }
        changes
    }
}

/// The campaign features of every stored message, kept in memory, and the assignments last
/// written, so a pass writes only what changed.
///
/// Between full passes (and during one, which runs on a helper thread) new smishing joins the
/// campaign its exact link host or template had in the last pass (the common case of a
/// running wave), and the clustering cursor moves past every new message, so the console
/// shows them at once whatever the store's size. New campaigns, phases and summaries wait for
/// the next full pass, which may revise these quick assignments.
#[derive(Debug)]
pub struct Clusterer {
    cfg: Config,
    held: Held,
    /// Messages loaded since the last pass.
    pending: usize,
    last_pass: Option<(Instant, Duration)>,
    /// Built by each pass, or from the stored assignments at the first load of a store that
    /// was clustered before (a restart).
    known: Option<Known>,
    /// Held messages from here on have not been joined yet.
    unjoined_from: usize,
    /// Aliases of merged campaigns and the ids stored before this process's first pass (read
    /// from the store at the first pass and after a failed write).
    previous: Option<Previous>,
    /// Since [`Clusterer::hold_stored`] first handed features: the last row read before,
    /// how many messages were held and read then, and how many were handed.
    handed: Option<(i64, usize, usize, usize)>,
}

impl Clusterer {
    pub fn new(cfg: Config) -> Clusterer {
        Clusterer {
            held: Held::after(0, cfg.min_template_words),
            cfg,
            pending: 0,
            last_pass: None,
            known: None,
            unjoined_from: 0,
            previous: None,
            handed: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Holds the features of a message this process just stored at row `seq`, instead of
    /// reading it back. Rows must come in increasing order, after every row held; call
    /// [`Clusterer::verify_held`] before the next pass.
    pub fn hold_stored(&mut self, seq: i64, features: Features) {
        if seq <= self.held.last_seq {
            return;
        }
        let held = &mut self.held;
        self.handed.get_or_insert((held.last_seq, held.inputs.len(), held.count, 0)).3 += 1;
        held.push(features.input, features.template_key, seq, Assignment::default());
        held.last_seq = seq;
        self.pending += 1;
    }

    /// Makes the held messages exactly the stored ones after [`Clusterer::hold_stored`]: when
    /// another writer stored messages between the handed rows, forgets the handed features
    /// and reads those rows from the store; then reads whatever was stored after them.
    pub fn verify_held<S: smishtrap_store::BulkSink + ?Sized>(
        &mut self,
        store: &mut S,
    ) -> Result<usize, StoreError> {
        if let Some((before, len, count, handed)) = self.handed.take()
            && store.count_messages_between(before, self.held.last_seq)? != handed as u64
        {
            self.held.truncate(len, count, before);
            self.pending = self.pending.saturating_sub(handed);
            self.unjoined_from = self.unjoined_from.min(len);
        }
        self.load_new(store)
    }

    /// Messages read (held or left out as unable to cluster).
    pub fn len(&self) -> usize {
        self.held.count
    }

    pub fn is_empty(&self) -> bool {
        self.held.count == 0
    }

    /// Stored messages whose JSON did not decode (skipped).
    pub fn undecodable(&self) -> u64 {
        self.held.undecodable
    }

    /// Reads the messages stored since the last call; returns how many.
    pub fn load_new<S: AnalysisStore + ?Sized>(
        &mut self,
        store: &mut S,
    ) -> Result<usize, StoreError> {
        let first = self.known.is_none() && self.held.last_seq == 0;
        let loaded = self.held.load(store)?;
        self.pending += loaded;
        if first && loaded > 0 {
            // The first load of a store clustered before (a restart): the assignments stored
            // up to the clustering cursor are a full pass's (or quick ones), so they tell the
            // campaigns new messages can join at once; later messages are still to join.
            let clustered = store.cursor(CLUSTERED_CURSOR)?;
            let done = self.held.seqs.partition_point(|seq| *seq <= clustered);
            if done > 0 {
                self.known = Some(Known::of_first(&self.held, done));
                self.unjoined_from = done;
            }
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

    /// Joins the messages loaded since the last call to known campaigns and moves the
    /// clustering cursor past them. Returns how many changed.
    pub fn assign_known<S: AnalysisStore + ?Sized>(
        &mut self,
        store: &mut S,
    ) -> Result<usize, StoreError> {
        let Some(known) = &self.known else { return Ok(0) };
        if self.unjoined_from >= self.held.inputs.len() {
            return Ok(0);
        }
        let changes = known.join(&mut self.held, self.unjoined_from, self.cfg.quiet_gap_secs);
        store.apply_assignments(&changes, Some((CLUSTERED_CURSOR, self.held.last_seq)))?;
        self.unjoined_from = self.held.inputs.len();
        Ok(changes.len())
    }

    /// Clusters everything held and writes the changed assignments, the campaign table and
    /// the clustering cursor in one clustering write
    /// ([`AnalysisStore::apply_clustering_streamed`]). After an error the held assignments
    /// may not be the stored ones: load a new `Clusterer` (the worker does), whose pass
    /// stores what the failed one would have.
    pub fn recluster<S: AnalysisStore + ?Sized>(
        &mut self,
        store: &mut S,
    ) -> Result<ClusterPass, ClusterError> {
        self.recluster_live(store, None)
    }

    /// Like [`Clusterer::recluster`], but the pass computes on a helper thread while this one
    /// keeps loading new messages every `poll` and joining them to known campaigns, so a pass
    /// of seconds over a large store does not hold back the live view.
    pub fn recluster_live<S: AnalysisStore + ?Sized>(
        &mut self,
        store: &mut S,
        poll: Option<Duration>,
    ) -> Result<ClusterPass, ClusterError> {
        self.assign_known(store)?;
        let started = Instant::now();
        let mut tail = Held::after(self.held.last_seq, self.cfg.min_template_words);
        let (pass, during) = std::thread::scope(|scope| {
            let (inputs, cfg, known) = (&self.held.inputs, &self.cfg, &self.known);
            let pass = scope.spawn(move || Pass::new(inputs, cfg));
            let mut during: Result<usize, StoreError> = Ok(0);
            let mut joined_upto = 0;
            if let (Some(poll), Some(known)) = (poll, known) {
                while !pass.is_finished() {
                    std::thread::sleep(poll);
                    let step = tail.load(store).and_then(|_| {
                        let changes = known.join(&mut tail, joined_upto, cfg.quiet_gap_secs);
                        store
                            .apply_assignments(&changes, Some((CLUSTERED_CURSOR, tail.last_seq)))?;
                        joined_upto = tail.inputs.len();
                        Ok(changes.len())
                    });
                    match (&mut during, step) {
                        (Ok(total), Ok(n)) => *total += n,
                        (_, Err(err)) => {
                            during = Err(err);
                            break;
                        }
                        (Err(_), Ok(_)) => {}
                    }
                }
            }
            (pass.join(), during)
        });
        let pass = pass.map_err(|_| ClusterError::Panicked)?;
        let joined_during = during?;
        // ids survive passes: carried over from the assignments written so far
        let mut previous = match self.previous.take() {
            Some(previous) => previous,
            None => Previous::read(store)?,
        };
        let cursor = self.held.last_seq.max(tail.last_seq);
        // The pass's outputs are made while they are written: assignments as interned ids,
        // changes and summaries one at a time, so their size never adds up. A panic here is a
        // bug like one in the pass: the write rolls back and the thread survives it.
        let (seqs, assigned, ids) =
            (&self.held.seqs, &mut self.held.assigned, &mut self.held.campaign_ids);
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_pass(&pass, seqs, assigned, ids, &previous, store, cursor)
        }));
        drop(pass);
        let written = match written {
            Ok(written) => written,
            Err(_) => return Err(ClusterError::Panicked),
        };
        // after a failed write the store decides again at the next pass
        if let Ok((_, aliases)) = &written {
            previous.written(aliases);
            self.previous = Some(previous);
        }
        let ((campaigns, changed), _) = written?;
        let arrived = tail.count;
        self.held.append(tail);
        self.known = Some(Known::of(&self.held));
        let duration = started.elapsed();
        self.last_pass = Some((Instant::now(), duration));
        // what arrived during the pass only has quick assignments: the next pass decides
        self.pending = arrived;
        self.unjoined_from = self.held.inputs.len();
        Ok(ClusterPass { messages: self.held.count, campaigns, changed, joined_during, duration })
    }
}

/// Campaign summaries made (in parallel) per batch of a streamed write.
const SUMMARY_BATCH: usize = 256;

/// What carrying ids over needs besides the held assignments.
#[derive(Debug)]
struct Previous {
    /// Alias → the id that names its campaign now (one step: the store moves aliases on).
    aliases: HashMap<String, String>,
    /// Ids stored when this was read, which no new campaign may take: after a write that
    /// stopped midway they include ids of the previous pass that no held message names any
    /// more (`SqliteStore::apply_clustering_streamed` says why the next pass then stores
    /// what the stopped one would have). Once a pass wrote, the stored ids are those the
    /// held assignments name, so they are not kept.
    stored: HashSet<String>,
}

impl Previous {
    fn read<S: AnalysisStore + ?Sized>(store: &mut S) -> Result<Previous, StoreError> {
        let aliases = store.campaign_aliases()?.into_iter().map(|a| (a.alias, a.id)).collect();
        let stored = store.campaign_ids()?.into_iter().collect();
        Ok(Previous { aliases, stored })
    }

    /// Ids no new campaign may take: aliases and the stored ids.
    fn taken(&self) -> HashSet<String> {
        self.aliases.keys().chain(&self.stored).cloned().collect()
    }

    /// After a write of `aliases`: as the store moves them.
    fn written(&mut self, aliases: &[Alias]) {
        for a in aliases {
            for id in self.aliases.values_mut().filter(|id| **id == a.alias) {
                id.clone_from(&a.id);
            }
            self.aliases.insert(a.alias.clone(), a.id.clone());
        }
        self.stored.clear();
    }
}

/// Writes a pass: carries the ids over from the held assignments `assigned` (rows `seqs`),
/// updates them, and streams the changes and the campaign summaries into one clustering
/// write. Returns the campaigns and changed assignments written, and the new aliases.
///
/// A held assignment naming an alias counts as the id the alias names: after a write that
/// stopped midway some messages of a merged campaign name the surviving id and others the
/// merged one, which the first transaction made an alias; counted apart, the merged id
/// could go to another campaign. Resolved, the next pass carries the ids the stopped one
/// did (in a store whose writes all finished, no message names an alias: a no-op).
fn write_pass<S: AnalysisStore + ?Sized>(
    pass: &Pass<'_>,
    seqs: &[i64],
    assigned: &mut [Slot],
    ids: &mut CampaignIds,
    previous: &Previous,
    store: &mut S,
    cursor: i64,
) -> Result<((usize, usize), Vec<Alias>), StoreError> {
    // the interned id each held id resolves to (there are few ids)
    let targets: Vec<Option<String>> = ids
        .names
        .iter()
        .enumerate()
        .map(|(n, name)| previous.aliases.get(name).filter(|_| n != 0).cloned())
        .collect();
    let resolved: Vec<u32> = targets
        .into_iter()
        .enumerate()
        .map(|(n, target)| match target {
            Some(id) => ids.intern(&id),
            None => u32::try_from(n).unwrap_or(0),
        })
        .collect();
    let carried = {
        let (held, names) = (&*assigned, &*ids);
        let resolve = |s: &Slot| Slot {
            campaign: resolved.get(s.campaign as usize).copied().unwrap_or(s.campaign),
            phase: s.phase,
        };
        pass.carry_ids(
            held.len(),
            |i| held.get(i).map(resolve).and_then(|s| names.name(s)),
            &previous.taken(),
        )
    };
    let alias_rows: Vec<CampaignAlias> = carried
        .aliases
        .iter()
        .map(|a| CampaignAlias { alias: a.alias.clone(), id: a.id.clone() })
        .collect();
    // the held id of each campaign: an assignment costs a `u32`, not a string
    let slots: Vec<u32> = carried.ids.iter().map(|id| ids.intern(id)).collect();
    let ids = &*ids;
    let mut changed = 0;
    let mut changes =
        seqs.iter().zip(assigned.iter_mut()).enumerate().filter_map(|(i, (seq, old))| {
            let new = match pass.assignment(i) {
                Some((c, phase)) => {
                    Slot { campaign: slots.get(c).copied().unwrap_or(0), phase: Some(phase) }
                }
                None => Slot::default(),
            };
            if *old == new {
                return None;
            }
            *old = new;
            changed += 1;
            Some(AssignmentChange {
                seq: *seq,
                campaign: ids.name(new).map(str::to_owned),
                phase: new.phase.map(phase_name).map(str::to_owned),
            })
        });
    let campaigns = pass.campaigns();
    let name = |c: usize| carried.ids.get(c).cloned().unwrap_or_default();
    let mut rows = (0..campaigns).step_by(SUMMARY_BATCH).flat_map(|start| {
        (start..campaigns.min(start + SUMMARY_BATCH))
            .into_par_iter()
            .map(|c| campaign_row(&pass.summary(c, name(c))))
            .collect::<Vec<_>>()
    });
    store.apply_clustering_streamed(
        &mut changes,
        &mut rows,
        &alias_rows,
        Some((CLUSTERED_CURSOR, cursor)),
    )?;
    drop(changes);
    Ok(((campaigns, changed), carried.aliases))
}

/// The template hash a smishing message links by, when its template is long enough.
fn template_key(input: &CampaignInput, min_words: usize) -> Option<u64> {
    if input.verdict != Verdict::Smishing {
        return None;
    }
    let template = campaign::template::normalise(&input.text);
    (template.word_count >= min_words).then_some(template.hash)
}

fn decode(stored: &AnalysedRow) -> Option<(SmsRecord, Analysis)> {
    let record = serde_json::from_str(&stored.record).ok()?;
    let analysis = serde_json::from_str(&stored.analysis).ok()?;
    Some((record, analysis))
}

fn stored_assignment(stored: &AnalysedRow) -> Assignment {
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
