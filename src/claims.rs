//! Claims: every side effect a pulse takes (a merge, a validation, an orchestrator turn, a
//! land) is first recorded by a compare-and-swap commit naming who does it, the way a dispatch
//! is. Two supervisors that plan the same action race on that commit; one wins, the other sees
//! the claim and leaves it alone. The claim ends with the action's result (the event that
//! records it), or with an explicit release when the action failed for a reason other than its
//! content.
//!
//! A claim whose holder is gone is taken over by another claim commit: on this host, a holder
//! is alive while its process is (the same pid *and* the same process start time, so a reused
//! pid is not mistaken for it); on another host, until its lease expires. A claim held by this
//! very process at planning time is left over from an action that failed without releasing it
//! (a bug, or an error while releasing): it is taken over too, so nothing waits on itself.

use crate::events::Kind;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::events::Event;
use crate::store::lock::pid_alive;

/// Who holds a claim, and until when at the latest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub host: String,
    pub pid: u32,
    /// The holder's start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    pub since: jiff::Timestamp,
    /// Past this, a holder on another host is presumed gone.
    pub until: jiff::Timestamp,
}

impl Claim {
    /// A claim by this process, for at most `lease`. Under a fixed clock (a reproducible
    /// run) it names no process, so the log does not depend on pids: only its lease guards
    /// it, and a fixed clock never ends that lease (reproducible runs are single-supervisor).
    pub fn mine(env: &Env, lease: Duration) -> Claim {
        let now = env.clock.now();
        let until = jiff::SignedDuration::try_from(lease)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .unwrap_or(jiff::Timestamp::MAX);
        if env.clock.is_fixed() {
            return Claim {
                host: REPRODUCIBLE.into(),
                pid: 0,
                start: None,
                since: now,
                until,
            };
        }
        Claim {
            host: env.host.clone(),
            pid: std::process::id(),
            start: process_start(std::process::id()),
            since: now,
            until,
        }
    }

    /// Whether its holder may still be at work.
    pub fn live(&self, env: &Env) -> bool {
        let now = env.clock.now();
        if self.host != env.host {
            return now < self.until;
        }
        if self.pid == std::process::id() && self.start == process_start(self.pid) {
            return false; // left over by this process: nobody is working on it
        }
        pid_alive(self.pid)
            && match (self.start, process_start(self.pid)) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// The claim an event carries (`data.claim`).
    pub fn of(event: &Event) -> Option<Claim> {
        serde_json::from_value(event.data.get("claim")?.clone()).ok()
    }

    /// As event data.
    pub fn data(&self) -> serde_json::Value {
        serde_json::json!({ "claim": self })
    }
}

/// The host a claim made under a fixed clock names.
const REPRODUCIBLE: &str = "(reproducible run)";

/// A process's start time, in clock ticks since boot (Linux); `None` elsewhere or when gone.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is field 3, starttime field 22.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The claim that is open on something: walking back from the newest event, the first event
/// that `is_claim` or `ends` — a claim if it is a claim event, `None` if an end came later.
pub fn open(
    events: &[Event],
    is_claim: impl Fn(&Event) -> bool,
    ends: impl Fn(&Event) -> bool,
) -> Option<Claim> {
    let e = events.iter().rev().find(|e| is_claim(e) || ends(e))?;
    if !is_claim(e) {
        return None;
    }
    Claim::of(e)
}

/// Event kinds that end a merge claim on a feature (its result, or a release).
pub const MERGE_ENDS: &[Kind] = &[
    Kind::FeatureMerged,
    Kind::FeatureConflict,
    Kind::FeatureChecksFailed,
    Kind::FeatureFailed,
    Kind::FeatureMergeFailed,
    Kind::FeatureMergeReleased,
    Kind::FeatureSkipped,
    Kind::FeatureDispatched,
    Kind::FeatureRetried,
];

/// The open merge claim on `feature`, if any.
pub fn merge_claim(events: &[Event], feature: &str) -> Option<Claim> {
    let of_f = |e: &Event| e.feature.as_deref() == Some(feature);
    open(
        events,
        |e| of_f(e) && e.kind == Kind::FeatureMerging,
        |e| of_f(e) && MERGE_ENDS.contains(&e.kind),
    )
}

/// The open validation claim on `milestone`, if any.
pub fn validation_claim(events: &[Event], milestone: &str) -> Option<Claim> {
    let of_m = |e: &Event| e.milestone.as_deref() == Some(milestone);
    open(
        events,
        |e| of_m(e) && e.kind == Kind::MilestoneValidating,
        |e| {
            of_m(e)
                && matches!(
                    e.kind,
                    Kind::MilestonePassed
                        | Kind::MilestoneFailed
                        | Kind::MilestoneValidationReleased
                )
        },
    )
}

/// The open orchestrator claim since the last block, if any.
pub fn orchestrator_claim(events: &[Event]) -> Option<Claim> {
    open(
        events,
        |e| e.kind == Kind::OrchestratorClaimed,
        |e| {
            matches!(
                e.kind,
                Kind::OrchestratorTurn | Kind::OrchestratorReleased | Kind::MissionBlocked
            )
        },
    )
}

/// The open land claim, if any.
pub fn land_claim(events: &[Event]) -> Option<Claim> {
    open(
        events,
        |e| e.kind == Kind::MissionLanding,
        |e| {
            matches!(
                e.kind,
                Kind::MissionLanded | Kind::MissionLandDeferred | Kind::MissionLandReleased
            )
        },
    )
}

/// Merge failures of `feature` since it last changed hands (not conflicts: git failing), and
/// the time and message of the last one: the supervisor backs off, then blocks.
pub fn merge_failures(
    events: &[Event],
    feature: &str,
) -> (u32, Option<(Option<jiff::Timestamp>, String)>) {
    let mut n = 0;
    let mut last = None;
    for e in events.iter().rev() {
        // A person resuming the mission starts the count again.
        if e.feature.as_deref() != Some(feature) && e.kind != Kind::MissionResumed {
            continue;
        }
        match e.kind {
            Kind::FeatureMergeFailed => {
                n += 1;
                if last.is_none() {
                    let why = e.data["error"].as_str().unwrap_or("").to_owned();
                    last = Some((e.at.parse().ok(), why));
                }
            }
            Kind::FeatureMerged
            | Kind::FeatureDispatched
            | Kind::FeatureRetried
            | Kind::FeatureConflict
            | Kind::FeatureChecksFailed
            | Kind::MissionResumed => break,
            _ => {}
        }
    }
    (n, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: Kind, feature: &str, claim: Option<&Claim>) -> Event {
        let mut e = Event::new(kind).feature(feature);
        if let Some(c) = claim {
            e = e.data(c.data());
        }
        e
    }

    const T: &str = "2026-01-01T00:00:00Z";

    fn at(t: jiff::Timestamp) -> Env {
        Env::fixed(&[], t, std::time::Instant::now)
    }

    /// A process environment on host "here" whose clock is not fixed.
    fn here(t: jiff::Timestamp) -> Env {
        Env {
            clock: crate::env::Clock::new(move || t, move || t, std::time::Instant::now),
            host: "here".into(),
            ..Env::fixed(&[], t, std::time::Instant::now)
        }
    }

    fn other_process() -> Claim {
        // pid 1 is alive on any Linux system and is not this process.
        Claim {
            host: "here".into(),
            pid: 1,
            start: process_start(1),
            since: T.parse().expect("time"),
            until: T.parse().expect("time"),
        }
    }

    #[test]
    fn a_claim_is_open_until_its_result_and_only_for_its_feature() {
        let c = other_process();
        let mut events = vec![
            ev(Kind::FeatureHandoff, "F1", None),
            ev(Kind::FeatureMerging, "F1", Some(&c)),
        ];
        assert_eq!(merge_claim(&events, "F1"), Some(c.clone()));
        assert_eq!(merge_claim(&events, "F2"), None);
        // Events that are not results leave it open.
        events.push(ev(Kind::FeatureSteered, "F1", None));
        assert!(merge_claim(&events, "F1").is_some());
        events.push(ev(Kind::FeatureMerged, "F1", None));
        assert_eq!(merge_claim(&events, "F1"), None);
    }

    #[test]
    fn liveness_follows_the_holder_process() {
        let now: jiff::Timestamp = T.parse().expect("time");
        let env = here(now);
        assert!(other_process().live(&env), "pid 1 lives");
        let mut reused = other_process();
        reused.start = reused.start.map(|s| s + 1);
        assert!(
            !reused.live(&env),
            "the same pid with another start time is not the holder"
        );
        let mut gone = other_process();
        gone.pid = 999_999_999;
        assert!(!gone.live(&env));
        assert!(
            !Claim::mine(&env, Duration::from_secs(60)).live(&env),
            "a leftover of this process"
        );
        let mut remote = other_process();
        remote.host = "elsewhere".into();
        remote.until = now
            .checked_add(jiff::SignedDuration::from_secs(60))
            .expect("time");
        assert!(remote.live(&env));
        assert!(!remote.live(&here(remote.until)), "past its lease");
    }

    #[test]
    fn a_claim_under_a_fixed_clock_names_no_process_and_lives_for_its_lease() {
        let env = at(T.parse().expect("time"));
        let c = Claim::mine(&env, Duration::from_secs(60));
        assert_eq!((c.pid, c.start, c.host.as_str()), (0, None, REPRODUCIBLE));
        assert_eq!(c.since, env.clock.now());
        assert!(c.live(&env), "the same fixed time is within the lease");
        assert!(!c.live(&at(c.until)), "past its lease");
    }

    #[test]
    fn merge_failures_count_back_to_the_last_change_of_hands() {
        let mut failed = ev(Kind::FeatureMergeFailed, "F1", None);
        failed.data = serde_json::json!({ "error": "disk full" });
        let events = vec![
            ev(Kind::FeatureMergeFailed, "F1", None),
            ev(Kind::FeatureDispatched, "F1", None),
            failed.clone(),
            ev(Kind::FeatureMerging, "F1", None),
            failed,
        ];
        let (n, last) = merge_failures(&events, "F1");
        assert_eq!(n, 2);
        assert_eq!(last.map(|(_, w)| w).as_deref(), Some("disk full"));
        assert_eq!(merge_failures(&events, "F2").0, 0);
    }
}
