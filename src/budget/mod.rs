//! Budgets: estimates before a mission runs, and the limits a running one is held to.
//! (Spending is recorded by the supervisor.)

pub mod estimate;

use crate::config::Config;
use crate::mission::Mission;

/// Which budget limit is reached, if any.
pub fn over_budget(m: &Mission, config: &Config) -> Option<String> {
    let b = config.budget();
    let s = &m.spent;
    if let Some(l) = b.usd
        && s.usd >= l
    {
        return Some(format!("spent ${:.2} of ${l:.2}", s.usd));
    }
    if let Some(l) = b.tokens
        && s.tokens >= l
    {
        return Some(format!("used {} of {l} tokens", s.tokens));
    }
    if let Some(l) = b.hours
        && s.hours >= l
    {
        return Some(format!("used {:.2} of {l:.2} agent hours", s.hours));
    }
    if let Some(l) = b.runs
        && s.runs >= l
    {
        return Some(format!("used {} of {l} runs", s.runs));
    }
    None
}
