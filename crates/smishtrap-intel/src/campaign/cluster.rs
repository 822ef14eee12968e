//! Union-find over evidence links between smishing messages.
//!
//! Every kind of evidence becomes keyed entries `(key, brand, message)`; entries are sorted,
//! so the result depends on the set of messages, never on their order. A key shared by
//! messages of two brands in real numbers (each at least [`MINORITY_BRAND_PERCENT`] of the
//! branded messages) is ambiguous (a shortener, a bulletproof host, a generic template) and
//! links only messages of the same brand; a few messages with another brand are taken as
//! analysis noise and do not split a campaign.

use std::collections::{HashMap, HashSet};

use super::template::{self, Fnv, Signature, Template};
use super::{Config, InputRef, InputsRef};
use crate::Verdict;

pub(crate) const NONE: u32 = u32::MAX;

/// Per-message facts computed once.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Member of a campaign (verdict smishing).
    pub member: Vec<bool>,
    /// Index into `templates` for members, [`NONE`] otherwise.
    pub template: Vec<u32>,
    pub templates: Vec<TemplateInfo>,
    /// Interned brand per message; 0 is "no brand".
    pub brand: Vec<u32>,
    /// Brand names by id (`brands[0]` is empty).
    pub brands: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct TemplateInfo {
    pub hash: u64,
    pub words: usize,
    sig: Option<Signature>,
}

pub(crate) fn prepare(inputs: InputsRef<'_>) -> Prepared {
    let mut by_hash: HashMap<u64, u32> = HashMap::new();
    let mut templates: Vec<TemplateInfo> = Vec::new();
    let mut brand_ids: HashMap<String, u32> = HashMap::new();
    let mut brands = vec![String::new()];
    let mut member = Vec::with_capacity(inputs.len());
    let mut template_of = Vec::with_capacity(inputs.len());
    let mut brand = Vec::with_capacity(inputs.len());
    for input in inputs.iter() {
        let is_member = input.verdict() == Verdict::Smishing;
        member.push(is_member);
        brand.push(match input.brand() {
            None => 0,
            Some(name) => *brand_ids.entry(name.to_owned()).or_insert_with(|| {
                brands.push(name.to_owned());
                (brands.len() - 1) as u32
            }),
        });
        if !is_member {
            template_of.push(NONE);
            continue;
        }
        let t: Template = template::normalise(input.text());
        let id = *by_hash.entry(t.hash).or_insert_with(|| {
            let sig = (t.word_count >= 1).then(|| Signature::of(&t));
            templates.push(TemplateInfo { hash: t.hash, words: t.word_count, sig });
            (templates.len() - 1) as u32
        });
        template_of.push(id);
    }
    Prepared { member, template: template_of, templates, brand, brands }
}

#[derive(Debug)]
pub(crate) struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub(crate) fn new(n: usize) -> UnionFind {
        UnionFind { parent: (0..n as u32).collect(), size: vec![1; n] }
    }
    pub(crate) fn find(&mut self, mut x: usize) -> usize {
        while let Some(&p) = self.parent.get(x) {
            let p = p as usize;
            if p == x {
                break;
            }
            let gp = self.parent.get(p).copied().unwrap_or(p as u32);
            if let Some(slot) = self.parent.get_mut(x) {
                *slot = gp;
            }
            x = gp as usize;
        }
        x
    }
    /// Returns whether the two were apart.
    pub(crate) fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (sa, sb) =
            (self.size.get(ra).copied().unwrap_or(1), self.size.get(rb).copied().unwrap_or(1));
        let (big, small) = if sa >= sb { (ra, rb) } else { (rb, ra) };
        if let Some(p) = self.parent.get_mut(small) {
            *p = big as u32;
        }
        if let Some(s) = self.size.get_mut(big) {
            *s = sa + sb;
        }
        true
    }
}

/// Keyed evidence `(key, brand, item)`; see the module doc for the brand guard.
#[derive(Debug, Default)]
struct Keyed(Vec<(u64, u32, u32)>);

impl Keyed {
    fn push(&mut self, kind: &str, value: &[u8], brand: u32, item: usize) {
        let mut h = Fnv::new();
        h.write(kind.as_bytes());
        h.write(&[0]);
        h.write(value);
        self.0.push((h.finish(), brand, item as u32));
    }

    fn link(mut self, uf: &mut UnionFind) -> bool {
        self.0.sort_unstable();
        let mut changed = false;
        for group in self.0.chunk_by(|a, b| a.0 == b.0) {
            // entries are sorted by brand within a key: count each brand's run
            let mut runs: Vec<(usize, u32)> = group
                .chunk_by(|a, b| a.1 == b.1)
                .filter_map(|run| run.first().filter(|e| e.1 != 0).map(|e| (run.len(), e.1)))
                .collect();
            runs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let branded: usize = runs.iter().map(|r| r.0).sum();
            let second = runs.get(1).map_or(0, |r| r.0);
            // A few messages with another brand are analysis noise inside one campaign; a
            // second brand with a real share means the key is shared infrastructure.
            if second * 100 < branded * MINORITY_BRAND_PERCENT {
                changed |= chain(uf, group);
                continue;
            }
            let top = runs.first().map(|r| r.1);
            for same in group.chunk_by(|a, b| a.1 == b.1) {
                let brand = same.first().map_or(0, |e| e.1);
                if brand != 0 {
                    changed |= chain(uf, same);
                }
            }
            // messages without a brand go with the key's most used brand
            let unbranded = group.iter().filter(|e| e.1 == 0);
            if let Some(anchor) = top.and_then(|t| group.iter().find(|e| e.1 == t)) {
                for e in unbranded {
                    changed |= uf.union(anchor.2 as usize, e.2 as usize);
                }
            }
        }
        changed
    }
}

/// A key shared by a second brand with at least this share of its branded messages links
/// only within each brand.
const MINORITY_BRAND_PERCENT: usize = 20;

fn chain(uf: &mut UnionFind, items: &[(u64, u32, u32)]) -> bool {
    let mut changed = false;
    if let Some(first) = items.first() {
        for e in items.iter().skip(1) {
            changed |= uf.union(first.2 as usize, e.2 as usize);
        }
    }
    changed
}

/// The campaigns: member lists, canonically ordered.
#[derive(Debug)]
pub(crate) struct Groups {
    /// Group of each message ([`NONE`] for non-members).
    pub of: Vec<u32>,
    pub members: Vec<Vec<usize>>,
    /// Content-derived key of each group (basis of its id), see [`stable_key`].
    pub key: Vec<u64>,
    /// Majority brand of each group (0 = none).
    pub brand: Vec<u32>,
}

pub(crate) fn link(inputs: InputsRef<'_>, prep: &Prepared, cfg: &Config) -> Groups {
    let n = inputs.len();
    let mut uf = UnionFind::new(n);
    let mut keyed = Keyed::default();

    // templates: exact hash, then near-duplicates by LSH over distinct templates in hash order;
    // a family links across a quiet gap only on shared infrastructure (`quiet_runs`)
    let families = template_families(prep, cfg);
    let mut by_family: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in 0..inputs.len() {
        let Some(&t) = prep.template.get(i) else { continue };
        if t == NONE {
            continue;
        }
        if let Some(&fam) = families.get(t as usize).filter(|&&f| f != NONE) {
            by_family.entry(fam).or_default().push(i);
        }
    }
    for (fam, members) in by_family {
        for (i, run) in quiet_runs(inputs, &members, cfg.quiet_gap_secs) {
            let brand = prep.brand.get(i).copied().unwrap_or(0);
            let mut key = fam.to_le_bytes().to_vec();
            key.extend_from_slice(&run.to_le_bytes());
            keyed.push("template", &key, brand, i);
        }
    }

    // domains, except those ham uses too and shorteners
    let ham_domains: HashSet<&str> = inputs
        .iter()
        .filter(|m| m.verdict() == Verdict::Ham)
        .flat_map(|m| m.urls().filter_map(|u| u.domain))
        .collect();
    let mut name_families: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        if !prep.member.get(i).copied().unwrap_or(false) {
            continue;
        }
        let brand = prep.brand.get(i).copied().unwrap_or(0);
        for u in input.urls() {
            let Some(domain) = u.domain else { continue };
            if u.shortener || ham_domains.contains(domain) {
                continue;
            }
            keyed.push("domain", domain.as_bytes(), brand, i);
            if let Some(family) = u.impersonates.and_then(|_| domain_family(domain)) {
                name_families.entry(family).or_default().push(i);
            }
        }
    }
    // look-alike names are no shared infrastructure: the quiet-gap rule applies as to templates
    for (family, mut members) in name_families {
        members.sort_unstable();
        members.dedup();
        for (i, run) in quiet_runs(inputs, &members, cfg.quiet_gap_secs) {
            let brand = prep.brand.get(i).copied().unwrap_or(0);
            let mut key = family.as_bytes().to_vec();
            key.push(0);
            key.extend_from_slice(&run.to_le_bytes());
            keyed.push("family", &key, brand, i);
        }
    }
    keyed.link(&mut uf);

    // routers, source IPs and senders: same brand, activity within `infra_gap_secs`
    let mut timed: Vec<(u64, u32, i64, u32)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if !prep.member.get(i).copied().unwrap_or(false) {
            continue;
        }
        let Some(ts) = input.ts() else { continue };
        let brand = prep.brand.get(i).copied().unwrap_or(0);
        for (kind, value) in [
            ("router", input.router_evidence()),
            ("ip", input.src_ip()),
            ("sender", input.sender()),
        ] {
            if let Some(v) = value {
                let mut h = Fnv::new();
                h.write(kind.as_bytes());
                h.write(&[0]);
                h.write(v.as_bytes());
                timed.push((h.finish(), brand, ts, i as u32));
            }
        }
    }
    timed.sort_unstable();
    for run in timed.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1 && b.2 - a.2 <= cfg.infra_gap_secs) {
        if let Some(first) = run.first() {
            for e in run.iter().skip(1) {
                uf.union(first.3 as usize, e.3 as usize);
            }
        }
    }

    groups_from(inputs, prep, &mut uf)
}

/// Splits messages that share content evidence (a template or look-alike domain family)
/// into runs: a pause longer than `quiet_gap` starts a new run, which continues an earlier
/// run only when the two share infrastructure (link host or domain, router, source IP,
/// sender). Returns each message with its run label (the earliest run of its chain), which
/// depends on times and content only, never on input order. Untimed messages go with the
/// first run.
fn quiet_runs(inputs: InputsRef<'_>, members: &[usize], quiet_gap: i64) -> Vec<(usize, u32)> {
    let mut timed: Vec<(i64, usize)> = Vec::with_capacity(members.len());
    let mut untimed: Vec<usize> = Vec::new();
    for &i in members {
        match inputs.get(i).and_then(|m| m.ts()) {
            Some(ts) => timed.push((ts, i)),
            None => untimed.push(i),
        }
    }
    timed.sort_unstable();
    let runs: Vec<&[(i64, usize)]> = timed.chunk_by(|a, b| b.0 - a.0 <= quiet_gap).collect();
    let mut uf = UnionFind::new(runs.len());
    if runs.len() > 1 {
        let mut first_run: HashMap<u64, usize> = HashMap::new();
        for (r, run) in runs.iter().enumerate() {
            for &(_, i) in run.iter() {
                let Some(m) = inputs.get(i) else { continue };
                for key in infrastructure(m) {
                    match first_run.get(&key) {
                        Some(&q) if q != r => {
                            uf.union(q, r);
                        }
                        Some(_) => {}
                        None => {
                            first_run.insert(key, r);
                        }
                    }
                }
            }
        }
    }
    // label = the earliest run of the chain, whatever the union-find's roots
    let mut label: HashMap<usize, u32> = HashMap::new();
    for r in 0..runs.len() {
        label.entry(uf.find(r)).or_insert(r as u32);
    }
    let mut out: Vec<(usize, u32)> = untimed.into_iter().map(|i| (i, 0)).collect();
    for (r, run) in runs.iter().enumerate() {
        let l = label.get(&uf.find(r)).copied().unwrap_or(r as u32);
        out.extend(run.iter().map(|&(_, i)| (i, l)));
    }
    out
}

/// The infrastructure keys of a message: link hosts and domains (shorteners left out),
/// router (not a honeypot's), source IP, sender number.
fn infrastructure(m: InputRef<'_>) -> Vec<u64> {
    let key = |kind: &str, value: &str| {
        let mut h = Fnv::new();
        h.write(kind.as_bytes());
        h.write(&[0]);
        h.write(value.as_bytes());
        h.finish()
    };
    let mut keys = Vec::new();
    for u in m.urls().filter(|u| !u.shortener) {
        if !u.host.is_empty() {
            keys.push(key("host", u.host));
        }
        if let Some(d) = u.domain {
            keys.push(key("domain", d));
        }
    }
    for (kind, value) in
        [("router", m.router_evidence()), ("ip", m.src_ip()), ("sender", m.sender())]
    {
        if let Some(v) = value {
            keys.push(key(kind, v));
        }
    }
    keys
}

/// Family name of a registrable domain: its registered label without digits, when long
/// enough to be distinctive (`csam-be2.top` and `csam-be.info` → `csam-be`).
fn domain_family(domain: &str) -> Option<String> {
    let rd = smishtrap_extract::RegistrableDomain::parse(domain)?;
    let name: String = rd.name().chars().filter(|c| !c.is_ascii_digit()).collect();
    let name = name.trim_matches('-').to_owned();
    (name.chars().count() >= 5).then_some(name)
}

/// Template union-find: distinct templates (hash order) that are near-duplicates share a
/// family id. Templates with too few words get [`NONE`]: they link through infrastructure only.
fn template_families(prep: &Prepared, cfg: &Config) -> Vec<u32> {
    const MAX_REPS: usize = 4;
    let n = prep.templates.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by_key(|&t| prep.templates.get(t).map(|x| x.hash));
    let mut uf = UnionFind::new(n);
    let mut buckets: HashMap<u64, Vec<u32>> = HashMap::new();
    for &t in &order {
        let Some(info) = prep.templates.get(t) else { continue };
        if info.words < cfg.min_template_words {
            continue;
        }
        let Some(sig) = info.sig.as_ref() else { continue };
        for band in sig.bands() {
            let reps = buckets.entry(band).or_default();
            let mut matched = false;
            for &r in reps.iter() {
                let close = prep
                    .templates
                    .get(r as usize)
                    .and_then(|x| x.sig.as_ref())
                    .is_some_and(|rs| rs.similarity(sig) >= cfg.template_threshold);
                if close {
                    uf.union(t, r as usize);
                    matched = true;
                }
            }
            if !matched && reps.len() < MAX_REPS {
                reps.push(t as u32);
            }
        }
    }
    (0..n)
        .map(|t| {
            if prep.templates.get(t).is_some_and(|x| x.words >= cfg.min_template_words) {
                uf.find(t) as u32
            } else {
                NONE
            }
        })
        .collect()
}

/// Builds canonically ordered groups from the union-find of messages.
fn groups_from(inputs: InputsRef<'_>, prep: &Prepared, uf: &mut UnionFind) -> Groups {
    let mut by_root: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..inputs.len() {
        if prep.member.get(i).copied().unwrap_or(false) {
            by_root.entry(uf.find(i)).or_default().push(i);
        }
    }
    let lists: Vec<Vec<usize>> = by_root.into_values().collect();
    finish_groups(inputs, prep, lists)
}

pub(crate) fn finish_groups(
    inputs: InputsRef<'_>,
    prep: &Prepared,
    lists: Vec<Vec<usize>>,
) -> Groups {
    let mut keyed: Vec<(u64, u64, u32, Vec<usize>)> = lists
        .into_iter()
        .map(|mut members| {
            members.sort_unstable();
            let brand = majority_brand(prep, &members);
            let (key, fingerprint) = stable_key(inputs, prep, brand, &members);
            (key, fingerprint, brand, members)
        })
        .collect();
    // Groups with the same content (same key and fingerprint) are told apart by their
    // positions, so one input always gets one labelling; `members` lists are ascending.
    keyed.sort_unstable_by(|a, b| (a.0, a.1, &a.3).cmp(&(b.0, b.1, &b.3)));
    let mut of = vec![NONE; inputs.len()];
    let mut members = Vec::with_capacity(keyed.len());
    let mut key = Vec::with_capacity(keyed.len());
    let mut brand = Vec::with_capacity(keyed.len());
    for (g, (k, _, b, list)) in keyed.into_iter().enumerate() {
        for &i in &list {
            if let Some(slot) = of.get_mut(i) {
                *slot = g as u32;
            }
        }
        members.push(list);
        key.push(k);
        brand.push(b);
    }
    Groups { of, members, key, brand }
}

fn majority_brand(prep: &Prepared, members: &[usize]) -> u32 {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &i in members {
        let b = prep.brand.get(i).copied().unwrap_or(0);
        if b != 0 {
            *counts.entry(b).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| {
            a.1.cmp(&b.1).then_with(|| {
                // ties: alphabetical brand name first
                let (na, nb) = (prep.brands.get(a.0 as usize), prep.brands.get(b.0 as usize));
                nb.cmp(&na)
            })
        })
        .map_or(0, |(b, _)| b)
}

/// The id basis of a campaign: brand plus the template of its earliest message (ties by
/// template hash, then text). Adding later messages never changes it. The fingerprint (a
/// commutative sum over all members) only breaks ties between groups with the same key.
fn stable_key(inputs: InputsRef<'_>, prep: &Prepared, brand: u32, members: &[usize]) -> (u64, u64) {
    let mut earliest: Option<(i64, u64, u64)> = None;
    let mut fingerprint: u64 = 0;
    for &i in members {
        let Some(m) = inputs.get(i) else { continue };
        let th = prep
            .template
            .get(i)
            .and_then(|&t| prep.templates.get(t as usize))
            .map_or(0, |t| t.hash);
        let text_hash = template::fnv(m.text().as_bytes());
        let cand = (m.ts().unwrap_or(i64::MAX), th, text_hash);
        if earliest.is_none_or(|e| cand < e) {
            earliest = Some(cand);
        }
        let mut h = Fnv::new();
        h.write(m.text().as_bytes());
        h.write(&m.ts().unwrap_or(0).to_le_bytes());
        // every field a message keeps, so groups differ whenever their content does
        for field in [m.recipient(), m.router(), m.sender(), m.src_ip(), m.status()] {
            h.write(field.unwrap_or("").as_bytes());
            h.write(&[0]);
        }
        for u in m.urls() {
            h.write(u.url.as_bytes());
            h.write(&[0]);
        }
        fingerprint = fingerprint.wrapping_add(h.finish());
    }
    let mut h = Fnv::new();
    h.write(&super::template::SIGNATURE_VERSION.to_le_bytes());
    h.write(prep.brands.get(brand as usize).map_or("", String::as_str).as_bytes());
    h.write(&[0]);
    h.write(&earliest.map_or(0, |e| e.1).to_le_bytes());
    (h.finish(), fingerprint)
}

/// Joins groups whose validation sends go to a common operator number (brand guard applies).
/// Returns whether anything merged.
pub(crate) fn merge_by_operators(
    inputs: InputsRef<'_>,
    prep: &Prepared,
    groups: &mut Groups,
    operators: &[Vec<String>],
) -> bool {
    let mut keyed = Keyed::default();
    for (g, numbers) in operators.iter().enumerate() {
        let brand = groups.brand.get(g).copied().unwrap_or(0);
        for n in numbers {
            keyed.push("operator", n.as_bytes(), brand, g);
        }
    }
    let mut uf = UnionFind::new(groups.members.len());
    if !keyed.link(&mut uf) {
        return false;
    }
    let mut by_root: HashMap<usize, Vec<usize>> = HashMap::new();
    for (g, members) in groups.members.iter().enumerate() {
        by_root.entry(uf.find(g)).or_default().extend(members.iter().copied());
    }
    *groups = finish_groups(inputs, prep, by_root.into_values().collect());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_strip_digits_and_need_length() {
        for (domain, expect) in [
            ("csam-be.info", Some("csam-be")),
            ("csam-be2.top", Some("csam-be")),
            ("bankid-se.org", Some("bankid-se")),
            ("ab1.com", None),
            ("not a domain", None),
        ] {
            assert_eq!(domain_family(domain).as_deref(), expect, "{domain}");
        }
    }

    #[test]
    fn union_find_joins_and_reports() {
        let mut uf = UnionFind::new(4);
        assert!(uf.union(0, 1));
        assert!(!uf.union(1, 0));
        assert!(uf.union(2, 3));
        assert!(uf.union(0, 3));
        assert_eq!(uf.find(1), uf.find(2));
        assert_eq!(uf.find(99), 99);
    }
}
