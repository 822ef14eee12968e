//! Validation-phase detection: the test sends that precede a wave.
//!
//! Per campaign, its timed messages split into waves at pauses longer than
//! `Config::wave_gap_secs`. Around each wave we gather short test texts ("test", "1", "ok":
//! judged by shape, not wording) sent by the wave's routers or source IPs. Operator numbers
//! are recipients that recur — at least two sends — and look controlled: they got a test
//! text, or sit outside the campaign's target countries, or recur on several routers with
//! failures. A wave's fan-out starts at its first message to a non-operator number in a target
//! country; before it, and to operator numbers at any time, sends are `validation`.
//! Test sends are attached to the campaign whose fan-out follows them most closely, and only
//! on shared evidence (router, source IP, operator or campaign recipient number), never on
//! time alone; a honeypot sensor's name is no router evidence (every attacker talks to it).

use std::collections::{HashMap, HashSet};

use super::cluster::{Groups, NONE};
use super::template::is_test_text;
use super::{Config, InputsRef};
use crate::{Phase, Verdict};

/// A wave of one campaign.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub start: i64,
    pub end: i64,
    /// First message of the fan-out to target numbers, when there is one.
    pub fanout: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct Phases {
    /// Phase per message.
    pub phase: Vec<Option<Phase>>,
    /// Campaign (group) per message: members, plus the test sends attached to a campaign.
    pub group: Vec<u32>,
    /// Wave (segment index within its group) per message, [`NONE`] when untimed.
    pub wave: Vec<u32>,
    pub segments: Vec<Vec<Segment>>,
    /// Operator numbers per group, sorted.
    pub operators: Vec<Vec<String>>,
}

#[derive(Debug, Default)]
struct Stat<'a> {
    count: usize,
    tests: usize,
    failed: usize,
    routers: Vec<&'a str>,
    country: Option<&'a str>,
}

pub(crate) fn detect(inputs: InputsRef<'_>, groups: &Groups, cfg: &Config) -> Phases {
    let n = inputs.len();
    let mut out = Phases {
        phase: vec![None; n],
        group: groups.of.clone(),
        wave: vec![NONE; n],
        segments: Vec::with_capacity(groups.members.len()),
        operators: Vec::with_capacity(groups.members.len()),
    };

    // test-send candidates: outbound short texts outside campaigns, indexed by router, IP and
    // recipient, each list sorted by time
    let mut by_router: HashMap<&str, Vec<(i64, usize)>> = HashMap::new();
    let mut by_ip: HashMap<&str, Vec<(i64, usize)>> = HashMap::new();
    let mut by_recipient: HashMap<&str, Vec<(i64, usize)>> = HashMap::new();
    for (i, m) in inputs.iter().enumerate() {
        let member = groups.of.get(i).is_some_and(|&g| g != NONE);
        let Some(ts) = m.ts() else { continue };
        if member || !m.outbound() || m.verdict() == Verdict::Smishing || !is_test_text(m.text()) {
            continue;
        }
        // a honeypot's router is the sensor itself: shared by every attacker, no evidence
        if let Some(r) = m.router_evidence() {
            by_router.entry(r).or_default().push((ts, i));
        }
        if let Some(ip) = m.src_ip() {
            by_ip.entry(ip).or_default().push((ts, i));
        }
        if let Some(to) = m.recipient() {
            by_recipient.entry(to).or_default().push((ts, i));
        }
    }
    for list in by_router.values_mut().chain(by_ip.values_mut()).chain(by_recipient.values_mut()) {
        list.sort_unstable();
    }
    let window = |list: Option<&Vec<(i64, usize)>>, from: i64, to: i64| -> Vec<usize> {
        let Some(list) = list else { return Vec::new() };
        let start = list.partition_point(|e| e.0 < from);
        list.iter().skip(start).take_while(|e| e.0 <= to).map(|e| e.1).collect()
    };

    // claims of test sends: (message, distance to the fan-out, group, segment)
    let mut claims: HashMap<usize, (i64, u32, u32)> = HashMap::new();

    for (g, members) in groups.members.iter().enumerate() {
        let mut timed: Vec<(i64, usize)> = members
            .iter()
            .filter_map(|&i| inputs.get(i).and_then(|m| m.ts()).map(|t| (t, i)))
            .collect();
        timed.sort_unstable();
        let targets = target_countries(inputs, members);

        // waves
        let mut segs: Vec<(usize, usize)> = Vec::new(); // ranges in `timed`
        let mut start = 0;
        for k in 1..=timed.len() {
            let split = match (timed.get(k - 1), timed.get(k)) {
                (Some(a), Some(b)) => b.0 - a.0 > cfg.wave_gap_secs,
                _ => true,
            };
            if split {
                segs.push((start, k));
                start = k;
            }
        }

        // tentative test sends around each wave, from the wave's routers and IPs
        let mut tentative: Vec<Vec<usize>> = Vec::with_capacity(segs.len());
        for &(a, b) in &segs {
            let slice = timed.get(a..b).unwrap_or(&[]);
            let (Some(first), Some(last)) = (slice.first(), slice.last()) else {
                tentative.push(Vec::new());
                continue;
            };
            let (from, to) = (first.0 - cfg.pre_wave_secs, last.0);
            let mut routers: HashSet<&str> = HashSet::new();
            let mut ips: HashSet<&str> = HashSet::new();
            for &(_, i) in slice {
                if let Some(m) = inputs.get(i) {
                    routers.extend(m.router_evidence());
                    ips.extend(m.src_ip());
                }
            }
            let mut found: Vec<usize> = Vec::new();
            for r in routers {
                found.extend(window(by_router.get(r), from, to));
            }
            for ip in ips {
                found.extend(window(by_ip.get(ip), from, to));
            }
            // the same test numbers served by other routers (ones that failed validation and
            // sent no wave) in the same window
            let numbers: HashSet<&str> =
                found.iter().filter_map(|&i| inputs.get(i)?.recipient()).collect();
            for r in numbers {
                found.extend(window(by_recipient.get(r), from, to));
            }
            found.sort_unstable();
            found.dedup();
            tentative.push(found);
        }

        // recipient statistics over the campaign and its tentative test sends
        let mut stats: HashMap<&str, Stat<'_>> = HashMap::new();
        let mut tests_flat: HashSet<usize> = tentative.iter().flatten().copied().collect();
        // test texts to numbers that also got the campaign's own text, from any router (or
        // from records without a router, as in telco exports)
        if let (Some(first), Some(last)) = (timed.first(), timed.last()) {
            let receivers: HashSet<&str> = members
                .iter()
                .filter_map(|&i| inputs.get(i).filter(|m| m.outbound())?.recipient())
                .collect();
            for r in receivers {
                tests_flat.extend(window(by_recipient.get(r), first.0 - cfg.pre_wave_secs, last.0));
            }
        }
        for &i in members.iter().chain(tests_flat.iter()) {
            let Some(m) = inputs.get(i) else { continue };
            let Some(to) = m.recipient() else { continue };
            if !m.outbound() {
                continue;
            }
            let s = stats.entry(to).or_default();
            s.count += 1;
            s.tests += usize::from(tests_flat.contains(&i));
            s.failed += usize::from(m.failed());
            if let Some(r) = m.router().or(m.src_ip())
                && s.routers.len() < 4
                && !s.routers.contains(&r)
            {
                s.routers.push(r);
            }
            s.country = s.country.or(m.recipient_country());
        }
        let mut operators: Vec<&str> = stats
            .iter()
            .filter(|(_, s)| {
                let foreign =
                    s.country.is_some_and(|c| !targets.is_empty() && !targets.contains(c));
                s.count >= 2
                    && (s.tests >= 1
                        || foreign
                        || (s.routers.len() >= 2 && (s.failed >= 1 || s.count >= 3)))
            })
            .map(|(n, _)| *n)
            .collect();
        operators.sort_unstable();
        let op_set: HashSet<&str> = operators.iter().copied().collect();

        let mut segments = Vec::with_capacity(segs.len());
        for (w, &(a, b)) in segs.iter().enumerate() {
            let slice = timed.get(a..b).unwrap_or(&[]);
            let (Some(first), Some(last)) = (slice.first(), slice.last()) else { continue };
            let fanout = slice
                .iter()
                .find(|&&(_, i)| {
                    inputs.get(i).is_some_and(|m| {
                        m.outbound()
                            && m.recipient().is_some_and(|r| !op_set.contains(r))
                            && (targets.is_empty()
                                || m.recipient_country().is_some_and(|c| targets.contains(c)))
                    })
                })
                .map(|e| e.0);
            for &(ts, i) in slice {
                let Some(m) = inputs.get(i) else { continue };
                let to_operator = m.outbound() && m.recipient().is_some_and(|r| op_set.contains(r));
                let before_fanout =
                    m.outbound() && m.recipient().is_some() && fanout.is_some_and(|f| ts < f);
                if let Some(slot) = out.phase.get_mut(i) {
                    *slot = Some(if to_operator || before_fanout {
                        Phase::Validation
                    } else {
                        Phase::Wave
                    });
                }
                if let Some(slot) = out.wave.get_mut(i) {
                    *slot = w as u32;
                }
            }
            // test sends: from the wave's routers before the fan-out, or to operator numbers
            let anchor = fanout.unwrap_or(first.0);
            let mut claim = |i: usize| {
                let Some(ts) = inputs.get(i).and_then(|m| m.ts()) else { return };
                let distance =
                    if ts <= anchor { anchor - ts } else { ts - anchor + cfg.pre_wave_secs };
                let entry = (distance, g as u32, w as u32);
                claims.entry(i).and_modify(|e| *e = (*e).min(entry)).or_insert(entry);
            };
            for &i in tentative.get(w).map(Vec::as_slice).unwrap_or(&[]) {
                let Some(m) = inputs.get(i) else { continue };
                let Some(ts) = m.ts() else { continue };
                let to_operator = m.recipient().is_some_and(|r| op_set.contains(r));
                if to_operator
                    || (fanout.is_some() && ts >= anchor - cfg.pre_wave_secs && ts < anchor)
                {
                    claim(i);
                }
            }
            for op in &operators {
                for i in window(by_recipient.get(op), first.0 - cfg.pre_wave_secs, last.0) {
                    claim(i);
                }
            }
            segments.push(Segment { start: first.0, end: last.0, fanout });
        }
        // members without a time are wave messages unless they go to an operator
        for &i in members {
            if let Some(slot) = out.phase.get_mut(i)
                && slot.is_none()
            {
                let to_operator = inputs.get(i).is_some_and(|m| {
                    m.outbound() && m.recipient().is_some_and(|r| op_set.contains(r))
                });
                *slot = Some(if to_operator { Phase::Validation } else { Phase::Wave });
            }
        }
        out.segments.push(segments);
        out.operators.push(operators.into_iter().map(str::to_owned).collect());
    }

    for (i, (_, g, w)) in claims {
        if let Some(slot) = out.phase.get_mut(i) {
            *slot = Some(Phase::Validation);
        }
        if let Some(slot) = out.group.get_mut(i) {
            *slot = g;
        }
        if let Some(slot) = out.wave.get_mut(i) {
            *slot = w;
        }
    }
    out
}

/// The countries a campaign targets: each with at least [`TARGET_SHARE_PERCENT`] of its
/// outbound messages (a campaign may target several). Empty when no recipient has a country.
fn target_countries<'a>(inputs: InputsRef<'a>, members: &[usize]) -> HashSet<&'a str> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut total = 0usize;
    for &i in members {
        if let Some(c) = inputs.get(i).filter(|m| m.outbound()).and_then(|m| m.recipient_country())
        {
            *counts.entry(c).or_default() += 1;
            total += 1;
        }
    }
    counts
        .into_iter()
        .filter(|&(_, n)| n * 100 >= total * TARGET_SHARE_PERCENT)
        .map(|(c, _)| c)
        .collect()
}

/// Share of a campaign's messages that makes a country one of its targets.
const TARGET_SHARE_PERCENT: usize = 10;
