//! The mission model: the typed form of a mission file's YAML frontmatter (PRODUCT.md §2.1).
//!
//! Owns the data types and their serde mapping. It does not own parsing the file (see
//! `parse`), rendering it (see `render`) or checking cross-references (see `validate`):
//! ids are kept as plain strings here so that a bad id becomes a located diagnostic rather than
//! a deserialisation failure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The spelling used in the mission file.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown value {s:?} (expected one of {})",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

string_enum!(
    /// Lifecycle state of a mission.
    MissionStatus {
        Draft = "draft",
        Approved = "approved",
        Running = "running",
        Paused = "paused",
        Blocked = "blocked",
        Completed = "completed",
        Cancelled = "cancelled",
    }
);

impl MissionStatus {
    /// Completed or cancelled: nothing more will happen to it.
    pub fn is_finished(self) -> bool {
        matches!(self, MissionStatus::Completed | MissionStatus::Cancelled)
    }
}

string_enum!(
    /// How features reach the integration branch.
    Mode { Full = "full", Poc = "poc" }
);

string_enum!(
    /// Where pull requests live.
    ForgeKind { Auto = "auto", Github = "github", Local = "local" }
);

string_enum!(
    /// What happens to the integration branch when a milestone passes.
    Land { Pr = "pr", Auto = "auto", None = "none" }
);

string_enum!(
    /// How a feature's branch is merged into the integration branch.
    MergeStrategy { Squash = "squash", Merge = "merge" }
);

string_enum!(
    /// Lifecycle state of a milestone.
    MilestoneStatus {
        Pending = "pending",
        Active = "active",
        Validating = "validating",
        Passed = "passed",
        Skipped = "skipped",
    }
);

string_enum!(
    /// Lifecycle state of a feature.
    FeatureStatus {
        Pending = "pending",
        Running = "running",
        Review = "review",
        Merged = "merged",
        Failed = "failed",
        Skipped = "skipped",
    }
);

string_enum!(
    /// Whether an external resource is ready.
    ResourceStatus { Needed = "needed", Available = "available" }
);

string_enum!(
    /// Why a mission stopped and waits for a decision.
    BlockReason {
        ValidationFailed = "validation_failed",
        ValidationLimit = "validation_limit",
        WorkerFailed = "worker_failed",
        NoRunnableWork = "no_runnable_work",
        BudgetExceeded = "budget_exceeded",
        ResourceNeeded = "resource_needed",
        Conflict = "conflict",
        CorruptState = "corrupt_state",
        NeedsInput = "needs_input",
        AgentMissing = "agent_missing",
        MergeFailed = "merge_failed",
        ReviewLimit = "review_limit",
    }
);

/// The whole frontmatter of a mission file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mission {
    pub schema: u32,
    pub id: String,
    pub title: String,
    pub status: MissionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge: Option<ForgeKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub land: Option<Land>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeStrategy>,
    #[serde(default)]
    pub approved: Option<Approval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<RoleMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<RoleMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<BTreeMap<String, Profile>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    #[serde(default)]
    pub spent: Spent,
    #[serde(default)]
    pub block: Option<Block>,
    #[serde(default)]
    pub contract: Vec<Assertion>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub milestones: Vec<Milestone>,
}

/// Who approved the plan, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub by: String,
    pub at: jiff::Timestamp,
}

/// One value per role; each is an agent name, a profile name, or `none`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planner: Option<String>,
}

impl RoleMap {
    /// The entries that are set, in canonical order.
    pub fn entries(&self) -> Vec<(&'static str, &str)> {
        [
            ("worker", &self.worker),
            ("validator", &self.validator),
            ("orchestrator", &self.orchestrator),
            ("planner", &self.planner),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// A named agent configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables the agent gets besides those its CLI documents: names, or
    /// `PREFIX*` / `*SUFFIX` patterns. Forge tokens (`GITHUB_TOKEN`, …) only by exact name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_env: Option<Vec<String>>,
}

/// Concurrency, retry and time limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_workers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_attempts: Option<u32>,
    /// A humantime duration such as `2h` or `45m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_timeout: Option<String>,
    /// Rework rounds for reviews requesting changes (`forge: github`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_rounds: Option<u32>,
}

/// Spending limits; any limit may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_pct: Option<u32>,
}

/// What the mission has used so far (maintained by the supervisor).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spent {
    #[serde(default)]
    pub usd: f64,
    #[serde(default)]
    pub tokens: u64,
    #[serde(default)]
    pub hours: f64,
    #[serde(default)]
    pub runs: u32,
}

impl Spent {
    /// Adds one run's usage: its cost (0 when unknown), tokens and wall time. Sums are kept
    /// to a millionth of a dollar and a ten-thousandth of an hour (0.36 s), so the file reads
    /// `hours: 0.0012`, not `hours: 0.00006972222222222223`.
    pub fn add_run(&mut self, usd: Option<f64>, tokens: u64, wall_ms: u64) {
        let round = |x: f64, places: f64| (x * places).round() / places;
        self.usd = round(self.usd + usd.unwrap_or(0.0), 1e6);
        self.tokens += tokens;
        self.hours = round(self.hours + wall_ms as f64 / 3_600_000.0, 1e4);
        self.runs += 1;
    }
}

/// Why the mission waits for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    pub reason: BlockReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    pub since: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet: Option<String>,
    #[serde(default)]
    pub message: String,
    /// What the orchestrator's turn on this block ended with when it could not continue: its
    /// question, or why its changes were not kept. Shown beside the reason, never instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

impl Block {
    /// Where the mission is blocked, as `M1 F3` (empty when the block names neither).
    pub fn place(&self) -> String {
        [self.milestone.as_deref(), self.feature.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One implementation-independent assertion of the validation contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub id: String,
    pub text: String,
}

/// An external prerequisite (a database, credentials, a device...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub name: String,
    pub status: ResourceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed_by: Option<String>,
}

/// A validation step of the mission; features live only inside milestones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    pub id: String,
    pub title: String,
    #[serde(default = "default_milestone_status")]
    pub status: MilestoneStatus,
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub validation: Validation,
    #[serde(default)]
    pub features: Vec<Feature>,
}

fn default_milestone_status() -> MilestoneStatus {
    MilestoneStatus::Pending
}

/// How a milestone is validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    #[serde(default)]
    pub commands: Vec<String>,
    #[serde(default)]
    pub scrutiny: bool,
    #[serde(default)]
    pub user_testing: Option<UserTesting>,
    #[serde(default)]
    pub assertions: Vec<String>,
}

impl Validation {
    /// True when nothing would check the milestone.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty() && !self.scrutiny && self.user_testing.is_none()
    }
}

/// How the user-testing validator exercises the product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTesting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub flows: Vec<String>,
}

/// One worker run's worth of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub id: String,
    pub title: String,
    #[serde(default = "default_feature_status")]
    pub status: FeatureStatus,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub assertions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub pr: Option<u64>,
    #[serde(default)]
    pub origin: Option<Origin>,
    #[serde(default)]
    pub description: String,
}

fn default_feature_status() -> FeatureStatus {
    FeatureStatus::Pending
}

/// Provenance of repair work: the validation finding it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    pub validation_run: String,
    pub finding: String,
}

impl Mission {
    /// Every feature with the index of its milestone, in file order.
    pub fn features(&self) -> impl Iterator<Item = (usize, &Feature)> {
        self.milestones
            .iter()
            .enumerate()
            .flat_map(|(mi, m)| m.features.iter().map(move |f| (mi, f)))
    }

    /// The feature with this id, and its milestone.
    pub fn feature(&self, id: &str) -> Option<(&Milestone, &Feature)> {
        self.milestones
            .iter()
            .find_map(|m| m.features.iter().find(|f| f.id == id).map(|f| (m, f)))
    }

    /// The feature with this id, to change it.
    pub fn feature_mut(&mut self, id: &str) -> Option<&mut Feature> {
        self.milestones
            .iter_mut()
            .flat_map(|m| m.features.iter_mut())
            .find(|f| f.id == id)
    }

    /// The milestone with this id.
    pub fn milestone(&self, id: &str) -> Option<&Milestone> {
        self.milestones.iter().find(|m| m.id == id)
    }

    /// The milestone being worked on or validated, if any.
    pub fn active_milestone(&self) -> Option<&Milestone> {
        self.milestones.iter().find(|m| {
            matches!(
                m.status,
                MilestoneStatus::Active | MilestoneStatus::Validating
            )
        })
    }

    /// A new draft mission with no plan yet.
    pub fn draft(id: &str, title: &str) -> Mission {
        Mission {
            schema: SCHEMA_VERSION,
            id: id.to_owned(),
            title: title.to_owned(),
            status: MissionStatus::Draft,
            mode: None,
            base: None,
            forge: None,
            land: None,
            merge: None,
            approved: None,
            agents: None,
            models: None,
            profiles: None,
            checks: None,
            limits: None,
            budget: None,
            spent: Spent::default(),
            block: None,
            contract: Vec::new(),
            resources: Vec::new(),
            milestones: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spending_is_kept_to_readable_precision() {
        let mut s = super::Spent::default();
        s.add_run(Some(0.1), 10, 251); // 251 ms is 0.0000697… h
        s.add_run(Some(0.2), 5, 0);
        assert_eq!(s.usd, 0.3, "0.1 + 0.2 is 0.3 here");
        assert_eq!(s.hours, 0.0001);
        assert_eq!(super::super::render::number(s.hours), "0.0001");
        assert_eq!((s.tokens, s.runs), (15, 2));
    }
}
