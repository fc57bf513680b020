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

/// `n` and the noun, singular or plural: "1 run", "6 runs".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The generated Budget block: spent against the limits, and what the rest may cost while
/// work remains. Pure: the store keeps it current in the commits that change what it shows.
pub fn block(m: &Mission, limits: &crate::mission::Budget) -> String {
    let s = &m.spent;
    let lim = |x: Option<String>| x.unwrap_or_else(|| "no limit".into());
    let mut o = format!(
        "| | Spent | Limit |\n|---|---|---|\n| USD | {:.2} | {} |\n| Tokens | {} | {} |\n| Hours | {:.1} | {} |\n| Runs | {} | {} |\n",
        s.usd,
        lim(limits.usd.map(|x| format!("{x:.2}"))),
        s.tokens,
        lim(limits.tokens.map(|x| x.to_string())),
        s.hours,
        lim(limits.hours.map(|x| format!("{x:.1}"))),
        s.runs,
        lim(limits.runs.map(|x| x.to_string())),
    );
    let e = estimate::estimate(m);
    if !m.status.is_finished() && e.remaining_runs > 0 {
        let r = e.remaining_usd;
        o.push_str(&format!(
            "\nStill to go, estimated ({}): about {}, ${:.2}–${:.2} (expected ${:.2}).\n",
            e.source,
            count(u64::from(e.remaining_runs), "run", "runs"),
            r.low,
            r.high,
            r.mid,
        ));
    }
    o
}
