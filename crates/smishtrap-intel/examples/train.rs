//! Retrains the shipped text model, or checks how well the engine generalises.
//!
//! ```text
//! cargo run --release -p smishtrap-intel --example train                 # writes data/model.bin
//! cargo run --release -p smishtrap-intel --example train -- --check      # held-out report
//! cargo run --release -p smishtrap-intel --example train -- --data DIR --out FILE
//! cargo run --release -p smishtrap-intel --example train -- --leave-out real-thai-spamham-dev.jsonl --out /tmp/m.bin
//! cargo run --release -p smishtrap-intel --example train -- --leave-out real-thai-spamham-dev.jsonl --score
//! cargo run --release -p smishtrap-intel --example train -- --folds 5 --score
//! ```
//!
//! Training data: every shared dev corpus (`../shared/data` beside the repo, see `CORPORA`;
//! smishing/spam = unwanted, ham = wanted, validation sends skipped) and the messages we
//! wrote ourselves in `train/ours.tsv`. `--leave-out FILE` trains without one dev corpus
//! (leave-one-source-out: `bench/loso.sh` scores the result through the real `analyze`);
//! with `--score` it writes nothing and scores the held-out corpora (without `--leave-out`:
//! every corpus, in sample) through the engine
//! (`SMISHTRAP_CHECK_VERBOSE=1` lists every miss), a quick loop for tuning. `--folds N
//! --score` is within-source cross-validation: for each real-world dev corpus, N times, the
//! model trains on everything but one N-th of that corpus (by text hash) and the engine scores
//! that N-th; the tallies add up over the folds. It estimates how the engine does on unseen
//! messages from a source it has seen (the shipped model trains on every dev corpus).
//! Inputs are sorted and the trainer is seeded, so the same data gives the same bytes.
//!
//! `--check` trains on part of the data and scores the rest, three ways (rules + model,
//! rules only, model only): (1) a 1-in-5 split by text hash; (2) whole smishing brands of
//! smish-dev held out of training (unseen templates and domains).

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Catalog, Cues, Engine, Model, TrainConfig, Verdict};

#[derive(Debug, Clone)]
struct Example {
    corpus: &'static str,
    record: SmsRecord,
    /// smishing | spam | ham (validation sends are dropped)
    label: String,
    brand: Option<String>,
}

impl Example {
    fn unwanted(&self) -> bool {
        self.label != "ham"
    }
}

/// The shared dev corpora: file name, then how to read it.
const CORPORA: &[&str] = &[
    "smish-dev.jsonl",
    "uci-sms-spam-dev.tsv",
    "mishra-soni-smishing-dev.csv",
    "real-imc25-sample-dev.jsonl",
    "real-india-spamham-dev.jsonl",
    "real-thai-spamham-dev.jsonl",
];

/// Messages we wrote ourselves (not from any dataset), in the crate.
const OURS: &str = "ours.tsv";

fn load(dir: &Path, leave_out: &[String]) -> anyhow::Result<Vec<Example>> {
    let mut out = Vec::new();
    for &name in CORPORA.iter().filter(|n| !leave_out.iter().any(|l| l == *n)) {
        load_corpus(dir, name, &mut out)?;
    }
    Ok(finish(out))
}

/// One dev corpus, appended to `out`.
fn load_corpus(dir: &Path, name: &'static str, out: &mut Vec<Example>) -> anyhow::Result<()> {
    let path = dir.join(name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    if name.ends_with(".jsonl") {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}:{}", path.display(), i + 1))?;
            let label = v.get("label").and_then(|l| l.as_str()).unwrap_or("").to_string();
            if label == "validation" {
                continue;
            }
            let record: SmsRecord = serde_json::from_value(v.clone())
                .with_context(|| format!("{}:{}", path.display(), i + 1))?;
            let brand = v.get("brand").and_then(|b| b.as_str()).map(str::to_string);
            out.push(Example { corpus: name, record, label, brand });
        }
    } else if name.ends_with(".tsv") {
        for line in text.lines().skip(1) {
            let Some((label, sms)) = line.split_once('\t') else { continue };
            let record = SmsRecord { text: sms.to_string(), ..SmsRecord::default() };
            let label = label.trim().to_lowercase();
            out.push(Example { corpus: name, record, label, brand: None });
        }
    } else {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for row in reader.records() {
            let row = row?;
            let (Some(label), Some(sms)) = (row.get(0), row.get(1)) else { continue };
            let record = SmsRecord { text: sms.to_string(), ..SmsRecord::default() };
            let label = label.trim().to_lowercase();
            out.push(Example { corpus: name, record, label, brand: None });
        }
    }
    Ok(())
}

/// Our own messages, then every example sorted: training does not depend on file order.
fn finish(mut out: Vec<Example>) -> Vec<Example> {
    // label TAB lang TAB text, with a header line
    for line in include_str!("../train/ours.tsv").lines().skip(1) {
        let mut cols = line.splitn(3, '\t');
        let (Some(label), Some(_lang), Some(sms)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let record = SmsRecord { text: sms.to_string(), ..SmsRecord::default() };
        out.push(Example { corpus: OURS, record, label: label.to_string(), brand: None });
    }
    // Sorted input: training does not depend on file order.
    out.sort_by(|a, b| {
        (a.corpus, &a.label, &a.record.text).cmp(&(b.corpus, &b.label, &b.record.text))
    });
    out
}

fn train(examples: &[&Example]) -> Model {
    let engine_free: Vec<(String, bool)> =
        examples.iter().map(|e| (model_text(&e.record.text), e.unwanted())).collect();
    Model::train(&engine_free, &config())
}

/// The default config, with `SMISHTRAP_TRAIN_{EPOCHS,LR,L2,BITS,RUNS}` overrides for experiments.
fn config() -> TrainConfig {
    let mut c = TrainConfig::default();
    let var = |name: &str| std::env::var(name).ok();
    if let Some(v) = var("SMISHTRAP_TRAIN_EPOCHS").and_then(|v| v.parse().ok()) {
        c.epochs = v;
    }
    if let Some(v) = var("SMISHTRAP_TRAIN_LR").and_then(|v| v.parse().ok()) {
        c.learning_rate = v;
    }
    if let Some(v) = var("SMISHTRAP_TRAIN_L2").and_then(|v| v.parse().ok()) {
        c.l2 = v;
    }
    if let Some(v) = var("SMISHTRAP_TRAIN_BITS").and_then(|v| v.parse().ok()) {
        c.bits = v;
    }
    if let Some(v) = var("SMISHTRAP_TRAIN_RUNS").and_then(|v| v.parse().ok()) {
        c.runs = v;
    }
    c
}

/// The text the model sees, built as the engine builds it.
fn model_text(text: &str) -> String {
    smishtrap_intel::model::model_text(text)
}

fn fnv(s: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Default)]
struct Tally {
    tp: u32,
    fp: u32,
    fn_: u32,
    ham: u32,
    ham_fp: u32,
    brand_ok: u32,
    brand_n: u32,
    /// The smishing class on its own: labelled smishing, called smishing.
    smish: u32,
    smish_called: u32,
    smish_hit: u32,
}

impl Tally {
    fn f1(&self) -> f64 {
        let p = f64::from(self.tp) / f64::from((self.tp + self.fp).max(1));
        let r = f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1));
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }
}

fn evaluate(engine: &Engine, test: &[&Example]) -> Vec<(&'static str, Tally)> {
    let mut out: Vec<(&'static str, Tally)> = Vec::new();
    for e in test {
        let a = engine.analyze(&e.record, String::new(), &AnalyzeOptions::default());
        if std::env::var_os("SMISHTRAP_CHECK_VERBOSE").is_some() {
            let wrong = if e.corpus == "smish-dev.jsonl" {
                (e.label == "smishing") != (a.verdict == Verdict::Smishing)
            } else {
                e.unwanted() != (a.verdict != Verdict::Ham)
            };
            if wrong {
                eprintln!(
                    "MISS {} {} -> {:?} {:.3} {:?} | {}",
                    e.corpus, e.label, a.verdict, a.score, a.reasons, e.record.text
                );
            } else if e.label == "smishing" && a.verdict != Verdict::Smishing {
                // unwanted, but the smishing class missed
                eprintln!(
                    "CLASS {} {} -> {:?} {:.3} {:?} | {}",
                    e.corpus, e.label, a.verdict, a.score, a.reasons, e.record.text
                );
            }
        }
        let idx = match out.iter().position(|(c, _)| *c == e.corpus) {
            Some(i) => i,
            None => {
                out.push((e.corpus, Tally::default()));
                out.len() - 1
            }
        };
        let Some((_, t)) = out.get_mut(idx) else { continue };
        // smish-dev scores the smishing class; the generic corpora score "unwanted".
        let (truth, pred) = if e.corpus == "smish-dev.jsonl" {
            (e.label == "smishing", a.verdict == Verdict::Smishing)
        } else {
            (e.unwanted(), a.verdict != Verdict::Ham)
        };
        match (truth, pred) {
            (true, true) => t.tp += 1,
            (false, true) => t.fp += 1,
            (true, false) => t.fn_ += 1,
            _ => {}
        }
        t.smish += u32::from(e.label == "smishing");
        t.smish_called += u32::from(a.verdict == Verdict::Smishing);
        t.smish_hit += u32::from(e.label == "smishing" && a.verdict == Verdict::Smishing);
        if e.label == "ham" {
            t.ham += 1;
            if pred {
                t.ham_fp += 1;
            }
        }
        if e.label == "smishing" && e.corpus == "smish-dev.jsonl" {
            t.brand_n += 1;
            let norm = |s: Option<&str>| {
                s.unwrap_or("")
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
            };
            if norm(a.brand.as_deref()) == norm(e.brand.as_deref()) {
                t.brand_ok += 1;
            }
        }
    }
    out
}

fn report(title: &str, train_set: &[&Example], test: &[&Example]) -> anyhow::Result<()> {
    let model = train(train_set);
    println!("== {title}: trained on {}, tested on {}", train_set.len(), test.len());
    for (mode, engine) in [
        ("rules + model", Engine::new(Catalog::builtin()?, Cues::builtin()?, Some(model.clone()))),
        ("rules only", Engine::new(Catalog::builtin()?, Cues::builtin()?, None)),
    ] {
        for (corpus, t) in evaluate(&engine, test) {
            let brand = if t.brand_n > 0 {
                format!("  brand acc {:.4}", f64::from(t.brand_ok) / f64::from(t.brand_n))
            } else {
                String::new()
            };
            println!(
                "  {mode:14} {corpus:28} F1 {:.4}  (tp {} fp {} fn {})  ham FPR {:.4}{brand}",
                t.f1(),
                t.tp,
                t.fp,
                t.fn_,
                f64::from(t.ham_fp) / f64::from(t.ham.max(1)),
            );
        }
    }
    // model alone, threshold 0.5, unwanted vs ham
    let mut per: Vec<(&str, Tally)> = Vec::new();
    for e in test {
        let p = model
            .predict(&smishtrap_intel::model::features(&model_text(&e.record.text), model.bits()));
        let idx = match per.iter().position(|(c, _)| *c == e.corpus) {
            Some(i) => i,
            None => {
                per.push((e.corpus, Tally::default()));
                per.len() - 1
            }
        };
        let Some((_, t)) = per.get_mut(idx) else { continue };
        match (e.unwanted(), p >= 0.5) {
            (true, true) => t.tp += 1,
            (false, true) => t.fp += 1,
            (true, false) => t.fn_ += 1,
            _ => {}
        }
        if e.label == "ham" {
            t.ham += 1;
            if p >= 0.5 {
                t.ham_fp += 1;
            }
        }
    }
    for (corpus, t) in per {
        println!(
            "  {:14} {corpus:28} unwanted F1 {:.4}  ham FPR {:.4}",
            "model only",
            t.f1(),
            f64::from(t.ham_fp) / f64::from(t.ham.max(1))
        );
    }
    Ok(())
}

/// Within-source cross-validation of every real-world dev corpus (see the module doc).
fn cross_validate(examples: &[Example], folds: u64) -> anyhow::Result<()> {
    for &corpus in CORPORA.iter().filter(|c| c.starts_with("real-")) {
        let mut total = Tally::default();
        for k in 0..folds {
            let held = |e: &Example| e.corpus == corpus && fnv(&e.record.text) % folds == k;
            let (test, train_set): (Vec<&Example>, Vec<&Example>) =
                examples.iter().partition(|e| held(e));
            let engine =
                Engine::new(Catalog::builtin()?, Cues::builtin()?, Some(train(&train_set)));
            for (_, t) in evaluate(&engine, &test) {
                total.tp += t.tp;
                total.fp += t.fp;
                total.fn_ += t.fn_;
                total.ham += t.ham;
                total.ham_fp += t.ham_fp;
                total.smish += t.smish;
                total.smish_called += t.smish_called;
                total.smish_hit += t.smish_hit;
            }
        }
        print_tally(corpus, &total);
    }
    Ok(())
}

/// One corpus's line of a `--score` report.
fn print_tally(corpus: &str, t: &Tally) {
    // the smishing class where the corpus labels it
    let smishing = if t.smish > 0 {
        format!(
            "  smishing P {:.4} R {:.4}",
            f64::from(t.smish_hit) / f64::from(t.smish_called.max(1)),
            f64::from(t.smish_hit) / f64::from(t.smish),
        )
    } else {
        String::new()
    };
    println!(
        "{corpus:28} F1 {:.4}  (tp {} fp {} fn {})  ham FPR {:.4}{smishing}",
        t.f1(),
        t.tp,
        t.fp,
        t.fn_,
        f64::from(t.ham_fp) / f64::from(t.ham.max(1)),
    );
}

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut data = manifest.join("../../../shared/data");
    let mut out = manifest.join("data/model.bin");
    let mut check = false;
    let mut score = false;
    let mut leave_out: Vec<String> = Vec::new();
    let mut folds: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = PathBuf::from(args.next().context("--data needs a directory")?),
            "--out" => out = PathBuf::from(args.next().context("--out needs a file")?),
            "--check" => check = true,
            "--score" => score = true,
            "--folds" => {
                let n: u64 = args.next().context("--folds needs a count")?.parse()?;
                if n < 2 {
                    bail!("--folds needs at least 2");
                }
                folds = Some(n);
            }
            "--leave-out" => leave_out.push(
                Path::new(&args.next().context("--leave-out needs a corpus file")?)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .context("--leave-out needs a file name")?
                    .to_string(),
            ),
            other => bail!(
                "unknown argument {other:?} (expected --data DIR, --out FILE, --leave-out FILE, --folds N, --check, --score)"
            ),
        }
    }
    if let Some(unknown) = leave_out.iter().find(|l| !CORPORA.contains(&l.as_str())) {
        bail!("--leave-out {unknown:?} is not one of the dev corpora {CORPORA:?}");
    }
    let examples = load(&data, &leave_out)?;
    eprintln!("loaded {} labelled messages from {}", examples.len(), data.display());
    if let Some(n) = folds {
        if !score || !leave_out.is_empty() || check {
            bail!("--folds goes with --score alone");
        }
        return cross_validate(&examples, n);
    }
    if check {
        let (test, train_set): (Vec<&Example>, Vec<&Example>) =
            examples.iter().partition(|e| fnv(&e.record.text).is_multiple_of(5));
        report("1-in-5 hash split", &train_set, &test)?;
        let brands: BTreeSet<&str> = examples.iter().filter_map(|e| e.brand.as_deref()).collect();
        let held: Vec<&str> = brands
            .iter()
            .copied()
            .filter(|b| matches!(*b, "INPS" | "ANTAI" | "BankID" | "bpost"))
            .collect();
        let (test, train_set): (Vec<&Example>, Vec<&Example>) = examples.iter().partition(|e| {
            e.corpus == "smish-dev.jsonl"
                && (e.brand.as_deref().is_some_and(|b| held.contains(&b))
                    || (e.label != "smishing" && fnv(&e.record.text).is_multiple_of(3)))
        });
        report(
            &format!("smish-dev brands {held:?} unseen in training (plus 1/3 of its ham and spam)"),
            &train_set,
            &test,
        )?;
        return Ok(());
    }
    let all: Vec<&Example> = examples.iter().collect();
    let model = train(&all);
    if score {
        // leave-one-source-out without the CLI: the held-out corpora through the engine
        let mut held = Vec::new();
        for &name in CORPORA.iter().filter(|n| leave_out.iter().any(|l| l == *n)) {
            load_corpus(&data, name, &mut held)?;
        }
        // without --leave-out: every corpus, in sample
        let held: Vec<&Example> =
            if leave_out.is_empty() { examples.iter().collect() } else { held.iter().collect() };
        let engine = Engine::new(Catalog::builtin()?, Cues::builtin()?, Some(model));
        for (corpus, t) in evaluate(&engine, &held) {
            print_tally(corpus, &t);
        }
        return Ok(());
    }
    let bytes = model.to_bytes();
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
