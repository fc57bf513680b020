//! Run, cost and time estimates (PRODUCT.md §3 `estimate`).
//!
//! Runs ≈ features + 2 × milestones (one validation and one repair-or-revalidation allowance
//! per milestone) + 1 per user-testing milestone. Cost and time ranges come from built-in
//! per-role figures until the repository has ledgers of its own.

use serde::Serialize;

use crate::mission::{FeatureStatus, MilestoneStatus, Mission};

/// Low / expected / high.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Range {
    pub low: f64,
    pub mid: f64,
    pub high: f64,
}

impl Range {
    const fn new(low: f64, mid: f64, high: f64) -> Range {
        Range { low, mid, high }
    }
    fn times(self, n: u32) -> Range {
        let n = f64::from(n);
        Range::new(self.low * n, self.mid * n, self.high * n)
    }
    fn plus(self, o: Range) -> Range {
        Range::new(self.low + o.low, self.mid + o.mid, self.high + o.high)
    }
}

/// Per-run figures of one role.
#[derive(Debug, Clone, Copy)]
pub struct RoleCost {
    pub usd: Range,
    pub minutes: Range,
    pub tokens: Range,
}

/// Built-in per-role defaults (one run).
pub const WORKER: RoleCost = RoleCost {
    usd: Range::new(0.5, 1.2, 3.0),
    minutes: Range::new(8.0, 20.0, 45.0),
    tokens: Range::new(150_000.0, 500_000.0, 1_500_000.0),
};
pub const VALIDATOR: RoleCost = RoleCost {
    usd: Range::new(0.2, 0.5, 1.2),
    minutes: Range::new(3.0, 8.0, 20.0),
    tokens: Range::new(50_000.0, 200_000.0, 500_000.0),
};
pub const USER_TESTING: RoleCost = RoleCost {
    usd: Range::new(0.4, 1.0, 2.5),
    minutes: Range::new(5.0, 15.0, 35.0),
    tokens: Range::new(100_000.0, 350_000.0, 900_000.0),
};

/// Runs by role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Runs {
    pub total: u32,
    pub worker: u32,
    pub validator: u32,
    pub user_testing: u32,
}

/// The estimate for one milestone.
#[derive(Debug, Clone, Serialize)]
pub struct MilestoneEstimate {
    pub id: String,
    pub title: String,
    pub status: MilestoneStatus,
    /// False for passed or skipped milestones: their cost is already spent.
    pub remaining: bool,
    pub runs: Runs,
    pub usd: Range,
    pub hours: Range,
    pub tokens: Range,
    /// Cost of the remaining milestones up to and including this one.
    pub cumulative_usd: Range,
}

/// The whole estimate.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub source: &'static str,
    pub runs: Runs,
    pub usd: Range,
    pub hours: Range,
    pub tokens: Range,
    /// What is still to do (milestones not passed or skipped).
    pub remaining_runs: u32,
    pub remaining_usd: Range,
    pub milestones: Vec<MilestoneEstimate>,
}

/// How sure a milestone is to fit a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Fits even if every run costs the high figure.
    Sure,
    /// Fits at the expected figures.
    Likely,
    /// Fits only if runs are cheap.
    Stretch,
    OutOfReach,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::Sure => "for sure",
            Tier::Likely => "likely",
            Tier::Stretch => "stretch",
            Tier::OutOfReach => "out of reach",
        }
    }
}

/// A budget's outcome: which remaining milestones it buys.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetOutcome {
    pub usd: f64,
    pub spent_usd: f64,
    pub milestones: Vec<(String, Tier)>,
}

/// Estimates a mission.
pub fn estimate(m: &Mission) -> Estimate {
    let mut total_runs = Runs::default();
    let (mut usd, mut hours, mut tokens) = (Range::default(), Range::default(), Range::default());
    let mut remaining_usd = Range::default();
    let mut remaining_runs = 0;
    let mut milestones = Vec::with_capacity(m.milestones.len());
    for ms in &m.milestones {
        let worker = ms
            .features
            .iter()
            .filter(|f| f.status != FeatureStatus::Skipped)
            .count() as u32;
        let ut = u32::from(ms.validation.user_testing.is_some());
        let runs = Runs {
            total: worker + 2 + ut,
            worker,
            validator: 2,
            user_testing: ut,
        };
        let cost = |f: fn(&RoleCost) -> Range| {
            f(&WORKER)
                .times(worker)
                .plus(f(&VALIDATOR).times(2))
                .plus(f(&USER_TESTING).times(ut))
        };
        let m_usd = cost(|r| r.usd);
        let m_min = cost(|r| r.minutes);
        let m_hours = Range::new(m_min.low / 60.0, m_min.mid / 60.0, m_min.high / 60.0);
        let m_tokens = cost(|r| r.tokens);
        let remaining = !matches!(
            ms.status,
            MilestoneStatus::Passed | MilestoneStatus::Skipped
        );
        if remaining {
            remaining_usd = remaining_usd.plus(m_usd);
            remaining_runs += runs.total;
        }
        total_runs.total += runs.total;
        total_runs.worker += runs.worker;
        total_runs.validator += runs.validator;
        total_runs.user_testing += runs.user_testing;
        usd = usd.plus(m_usd);
        hours = hours.plus(m_hours);
        tokens = tokens.plus(m_tokens);
        milestones.push(MilestoneEstimate {
            id: ms.id.clone(),
            title: ms.title.clone(),
            status: ms.status,
            remaining,
            runs,
            usd: m_usd,
            hours: m_hours,
            tokens: m_tokens,
            cumulative_usd: remaining_usd,
        });
    }
    Estimate {
        source: "built-in defaults",
        runs: total_runs,
        usd,
        hours,
        tokens,
        remaining_runs,
        remaining_usd,
        milestones,
    }
}

/// Which remaining milestones a budget of `usd` (of which `spent` is used) buys.
pub fn outcome(e: &Estimate, usd: f64, spent: f64) -> BudgetOutcome {
    let left = usd - spent;
    let milestones = e
        .milestones
        .iter()
        .filter(|m| m.remaining)
        .map(|m| {
            let c = m.cumulative_usd;
            let tier = if c.high <= left {
                Tier::Sure
            } else if c.mid <= left {
                Tier::Likely
            } else if c.low <= left {
                Tier::Stretch
            } else {
                Tier::OutOfReach
            };
            (m.id.clone(), tier)
        })
        .collect();
    BudgetOutcome {
        usd,
        spent_usd: spent,
        milestones,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::{Feature, Milestone, UserTesting, Validation};

    fn feature(id: &str) -> Feature {
        Feature {
            id: id.into(),
            title: id.into(),
            status: FeatureStatus::Pending,
            depends_on: vec![],
            assertions: vec![],
            checks: None,
            skills: vec![],
            attempts: 0,
            pr: None,
            origin: None,
            description: String::new(),
        }
    }

    fn mission() -> Mission {
        let mut m = Mission::draft("x", "X");
        for (i, n) in [3, 2, 1].iter().enumerate() {
            m.milestones.push(Milestone {
                id: format!("M{}", i + 1),
                title: "t".into(),
                status: MilestoneStatus::Pending,
                failures: 0,
                validation: Validation {
                    scrutiny: true,
                    user_testing: (i == 1).then(UserTesting::default),
                    ..Validation::default()
                },
                features: (0..*n)
                    .map(|j| feature(&format!("F{i}{}", (b'a' + j) as char)))
                    .collect(),
            });
        }
        m
    }

    #[test]
    fn runs_follow_the_formula() {
        let e = estimate(&mission());
        // 6 features + 2 × 3 milestones + 1 user-testing milestone
        assert_eq!(
            e.runs,
            Runs {
                total: 13,
                worker: 6,
                validator: 6,
                user_testing: 1
            }
        );
        assert_eq!(e.remaining_runs, 13);
        let expected_mid = 6.0 * WORKER.usd.mid + 6.0 * VALIDATOR.usd.mid + USER_TESTING.usd.mid;
        assert!((e.usd.mid - expected_mid).abs() < 1e-9);
    }

    #[test]
    fn budget_tiers_are_ordered() {
        let e = estimate(&mission());
        let m1 = e.milestones[0].cumulative_usd;
        let m2 = e.milestones[1].cumulative_usd;
        // Enough for M1 at the high figure and M2 at the expected one only.
        let budget = m1.high.max(m2.mid) + 0.01;
        let o = outcome(&e, budget, 0.0);
        assert_eq!(o.milestones[0].1, Tier::Sure);
        assert_eq!(o.milestones[1].1, Tier::Likely);
        assert_eq!(outcome(&e, 0.0, 0.0).milestones[0].1, Tier::OutOfReach);
        // Spending moves milestones down a tier.
        assert_eq!(
            outcome(&e, budget, budget).milestones[0].1,
            Tier::OutOfReach
        );
    }

    #[test]
    fn passed_milestones_cost_nothing_more() {
        let mut m = mission();
        m.milestones[0].status = MilestoneStatus::Passed;
        let e = estimate(&m);
        assert!(!e.milestones[0].remaining);
        assert_eq!(e.remaining_runs, 13 - 5);
        assert_eq!(e.milestones[1].cumulative_usd, e.milestones[1].usd);
    }
}
