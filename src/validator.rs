//! Validator agent runs (PRODUCT.md §4): after a milestone's commands pass, the scrutiny
//! validator — and the user-testing validator when `user_testing` is set — run as agent runs
//! with role `validator` (read-only permissions where the agent has them) in the detached
//! validation worktree. Each must write a JSON report to `$GIT_MISSION_REPORT_FILE`; the report
//! is checked against its schema, and a missing, unparsable or invalid report is a failed
//! validation, never a pass.

use crate::events::Kind;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::agents::{Role, Usage};
use crate::context::Exec;
use crate::error::{Error, Result};
use crate::mission::Milestone;
use crate::store::Head;
use crate::workspace::MISSIONS_DIR;

/// A validator's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub verdict: Verdict,
    pub recommendation: Recommendation,
    #[serde(default)]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recommendation {
    Accept,
    Repair,
    Replan,
    AskUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Major,
    Minor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    #[serde(default)]
    pub assertion: Option<String>,
    #[serde(default)]
    pub feature: Option<String>,
    pub evidence: String,
    #[serde(default)]
    pub suggested_fix: Option<String>,
}

/// Parses and checks a report; the error says what is wrong with it.
pub fn parse_report(text: &str) -> std::result::Result<Report, String> {
    let r: Report =
        serde_json::from_str(text).map_err(|e| format!("the report is not valid: {e}"))?;
    for f in &r.findings {
        let ok = !f.id.is_empty()
            && f.id.len() <= 40
            && f.id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if !ok {
            return Err(format!(
                "finding id {:?} must be letters, digits, '.', '_' or '-' (at most 40)",
                f.id
            ));
        }
    }
    if r.verdict == Verdict::Pass && r.findings.iter().any(|f| f.severity == Severity::Critical) {
        return Err("the verdict is pass but a finding is critical".into());
    }
    Ok(r)
}

/// The outcome of one validator run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mode: &'static str,
    pub run: String,
    pub report: Option<Report>,
    /// Why the validation failed, when it did.
    pub failure: Option<String>,
    pub usage: Usage,
    pub wall_ms: u64,
}

/// Runs one validator (`mode` is `scrutiny` or `user-testing`) in `wt`.
pub fn run(
    cx: &Exec,
    head: &Head,
    ms: &Milestone,
    mode: &'static str,
    wt: &Path,
    commands: &str,
    run: &str,
) -> Result<Outcome> {
    let dir = cx.layout.run(run);
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let report_file = dir.join("report.json");
    let _ = std::fs::remove_file(&report_file);
    let s = |x: &Path| x.to_string_lossy().into_owned();
    let env: Vec<(String, String)> = vec![
        ("GIT_MISSION_ID".into(), cx.store.id.clone()),
        ("GIT_MISSION_VALIDATOR".into(), mode.into()),
        ("GIT_MISSION_MILESTONE".into(), ms.id.clone()),
        ("GIT_MISSION_FEATURE".into(), String::new()),
        ("GIT_MISSION_RUN".into(), run.to_owned()),
        ("GIT_MISSION_ATTEMPT".into(), (ms.failures + 1).to_string()),
        ("GIT_MISSION_REPORT_FILE".into(), s(&report_file)),
        ("GIT_MISSION_WORKTREE".into(), s(wt)),
    ];
    let prompt = prompt(cx, head, ms, mode, commands)?;
    let ran = crate::worker::AgentRun {
        config: cx.config,
        clock: cx.ws.repo.clock(),
        role: Role::Validator,
        dir: &dir,
        cwd: wt,
        prompt: &prompt,
        env,
    }
    .run()?;
    let (fin, outcome) = (ran.finished, ran.outcome);
    let (report, failure) = match std::fs::read_to_string(&report_file) {
        _ if ran.not_started.is_some() => (None, ran.not_started.clone()),
        Err(_) if fin.timed_out => (
            None,
            Some(format!(
                "the {mode} validator timed out and wrote no report"
            )),
        ),
        Err(_) => (
            None,
            Some(format!(
                "the {mode} validator wrote no report to $GIT_MISSION_REPORT_FILE"
            )),
        ),
        Ok(text) => match parse_report(&text) {
            Err(e) => (
                None,
                Some(format!("the {mode} validator's report is invalid: {e}")),
            ),
            Ok(r) if r.verdict == Verdict::Fail => {
                let n = r.findings.len();
                (
                    Some(r),
                    Some(format!(
                        "the {mode} validator failed the milestone ({n} findings)"
                    )),
                )
            }
            Ok(r) => (Some(r), None),
        },
    };
    Ok(Outcome {
        mode,
        run: run.to_owned(),
        report,
        failure,
        usage: outcome.usage,
        wall_ms: fin.wall_ms,
    })
}

fn prompt(cx: &Exec, head: &Head, ms: &Milestone, mode: &str, commands: &str) -> Result<String> {
    let m = head.mission();
    let mut p = format!(
        "# Validate milestone {} — {} of mission {}: {}\n\n",
        ms.id, ms.title, m.id, m.title
    );
    let skill = if mode == "user-testing" {
        "validator-user-testing"
    } else {
        "validator-scrutiny"
    };
    p.push_str(&format!(
        "## Your method (skill {skill})\n\n{}\n\n",
        crate::skills::body(skill).trim()
    ));
    p.push_str(&format!(
        "You are the {mode} validator. Do not change any file: inspect the code in this worktree (the integration branch at the milestone's end), run read-only commands, and judge whether the milestone does what its contract assertions say.\n\n"
    ));
    if mode == "user-testing"
        && let Some(ut) = &ms.validation.user_testing
    {
        p.push_str("## Use the product like a user\n\n");
        if let Some(l) = &ut.launch {
            p.push_str(&format!("- start it with: `{l}`\n"));
        }
        if let Some(u) = &ut.url {
            p.push_str(&format!("- it is reached at: {u}\n"));
        }
        for f in &ut.flows {
            p.push_str(&format!("- flow to exercise: {f}\n"));
        }
        p.push('\n');
    }
    let cited: Vec<&String> = ms
        .validation
        .assertions
        .iter()
        .chain(ms.features.iter().flat_map(|f| f.assertions.iter()))
        .collect();
    if !cited.is_empty() {
        p.push_str("## Contract assertions to check\n\n");
        let mut seen = std::collections::BTreeSet::new();
        for a in cited {
            if seen.insert(a.clone()) {
                let text = m
                    .contract
                    .iter()
                    .find(|c| &c.id == a)
                    .map_or("", |c| c.text.as_str());
                p.push_str(&format!("- {a}: {text}\n"));
            }
        }
        p.push('\n');
    }
    p.push_str("## Features of this milestone and their handoffs\n\n");
    for f in &ms.features {
        p.push_str(&format!(
            "### {} — {} ({})\n\n{}\n\n",
            f.id,
            f.title,
            f.status,
            f.description.trim()
        ));
        let run = head
            .events
            .iter()
            .rev()
            .find(|e| e.kind == Kind::FeatureHandoff && e.feature.as_deref() == Some(f.id.as_str()))
            .and_then(|e| e.run.clone());
        if let Some(run) = run
            && let Some(text) = cx
                .store
                .read_at(head, &crate::workspace::run_record_file(&m.id, &run))?
        {
            p.push_str(&format!("Handoff (run {run}):\n\n{}\n\n", text.trim()));
        }
    }
    let start = head
        .events
        .iter()
        .rev()
        .find(|e| {
            e.kind == Kind::MilestoneStarted && e.milestone.as_deref() == Some(ms.id.as_str())
        })
        .and_then(|e| e.data["commit"].as_str().map(str::to_owned));
    if let Some(start) = start {
        let exclude = format!(":(exclude){MISSIONS_DIR}/{}", m.id);
        let stat = crate::git::git(
            &cx.ws.repo.root,
            &[
                "diff",
                "--stat",
                &start,
                &head.commit.to_string(),
                "--",
                ".",
                &exclude,
            ],
        )
        .unwrap_or_default();
        p.push_str(&format!("## What changed since the milestone started\n\n```\n{}\n```\n\nSee the full diff with `git diff {start} HEAD`.\n\n", stat.trim()));
    }
    if !commands.trim().is_empty() {
        p.push_str(&format!(
            "## Validation commands (all passed)\n\n{commands}\n\n"
        ));
    }
    p.push_str(
        "## Your report\n\nWrite JSON to the file named by `$GIT_MISSION_REPORT_FILE`:\n\n\
```json\n{\"verdict\": \"pass|fail\", \"recommendation\": \"accept|repair|replan|ask-user\",\n \"findings\": [{\"id\": \"f1\", \"severity\": \"critical|major|minor\", \"assertion\": \"VC1\", \"feature\": \"F1\",\n   \"evidence\": \"what you observed, with file:line or command output\", \"suggested_fix\": \"...\"}]}\n```\n\n\
Fail the milestone when an assertion does not hold; every finding needs evidence. No report, or an invalid one, fails the milestone.\n",
    );
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_checked_against_the_schema() {
        let ok = parse_report(r#"{"verdict":"fail","recommendation":"repair","findings":[{"id":"f1","severity":"major","assertion":"VC1","evidence":"x"}]}"#).expect("valid");
        assert_eq!(ok.verdict, Verdict::Fail);
        assert_eq!(ok.findings[0].severity, Severity::Major);
        for bad in [
            "",
            "garbage",
            r#"{"verdict":"maybe","recommendation":"accept"}"#,
            r#"{"verdict":"pass"}"#,
            r#"{"verdict":"pass","recommendation":"accept","findings":[{"id":"f1","severity":"critical","evidence":"x"}]}"#,
            r#"{"verdict":"fail","recommendation":"repair","findings":[{"id":"../x","severity":"minor","evidence":"x"}]}"#,
            r#"{"verdict":"fail","recommendation":"repair","findings":[{"id":"f1","severity":"minor"}]}"#,
        ] {
            assert!(parse_report(bad).is_err(), "{bad}");
        }
    }
}
