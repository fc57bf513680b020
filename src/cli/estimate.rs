//! `git mission estimate`: runs, cost and time ranges, and what a budget buys.

use serde_json::json;

use crate::budget::estimate::{self, Range, Tier};
use crate::error::{Error, Result};

use super::{
    Ctx, exit,
    output::{table, table_text},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mission id
    pub id: String,
    /// Answer "for this budget you get": which milestones fit for sure, likely, as a stretch
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,
}

fn money(r: Range) -> String {
    format!("${:.2}–${:.2} (expected ${:.2})", r.low, r.high, r.mid)
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    if let Some(b) = a.budget
        && !(b.is_finite() && b >= 0.0)
    {
        return Err(Error::user(format!(
            "--budget must be a non-negative amount of US dollars, not {b}"
        )));
    }
    let ws = cx.workspace()?;
    let loaded = ws.load(&a.id, true)?;
    let config = cx.config(&ws, Some(&loaded))?;
    let m = &loaded.doc.mission;
    let e = estimate::estimate(m);
    let budget = a.budget.or_else(|| config.get_f64("budget.usd"));
    let outcome = budget.map(|b| estimate::outcome(&e, b, m.spent.usd));
    if cx.out.json {
        cx.out
            .json(&json!({ "id": m.id, "estimate": e, "budget": outcome }));
        return Ok(exit::OK);
    }
    let mut o = format!("estimate for {} ({}):\n", m.id, e.source);
    o.push_str(&format!(
        "  runs:   {} = {} worker + {} validation + {} user-testing\n",
        e.runs.total, e.runs.worker, e.runs.validator, e.runs.user_testing
    ));
    o.push_str(&format!("  cost:   {}\n", money(e.usd)));
    o.push_str(&format!(
        "  time:   {:.1}–{:.1} agent hours (expected {:.1})\n",
        e.hours.low, e.hours.high, e.hours.mid
    ));
    o.push_str(&format!(
        "  tokens: {:.1}M–{:.1}M (expected {:.1}M)\n",
        e.tokens.low / 1e6,
        e.tokens.high / 1e6,
        e.tokens.mid / 1e6
    ));
    if e.remaining_runs != e.runs.total {
        o.push_str(&format!(
            "  still to do: {} runs, {}\n",
            e.remaining_runs,
            money(e.remaining_usd)
        ));
    }
    if !e.milestones.is_empty() {
        let mut t = table(&[
            "Milestone",
            "Status",
            "Runs",
            "Cost",
            "Cumulative (expected)",
        ]);
        for ms in &e.milestones {
            t.add_row(vec![
                format!("{} {}", ms.id, ms.title),
                ms.status.to_string(),
                ms.runs.total.to_string(),
                format!("${:.2}–${:.2}", ms.usd.low, ms.usd.high),
                if ms.remaining {
                    format!("${:.2}", ms.cumulative_usd.mid)
                } else {
                    "done".into()
                },
            ]);
        }
        o.push('\n');
        o.push_str(&table_text(&t));
        o.push('\n');
    }
    if let Some(out) = &outcome {
        o.push_str(&format!(
            "\nfor a budget of ${:.2} (spent ${:.2}) you get:\n",
            out.usd, out.spent_usd
        ));
        for tier in [Tier::Sure, Tier::Likely, Tier::Stretch, Tier::OutOfReach] {
            let ids: Vec<&str> = out
                .milestones
                .iter()
                .filter(|(_, t)| *t == tier)
                .map(|(id, _)| id.as_str())
                .collect();
            let shown = if ids.is_empty() {
                "—".to_owned()
            } else {
                ids.join(", ")
            };
            o.push_str(&format!("  {:<13} {shown}\n", format!("{}:", tier.label())));
        }
    }
    cx.out.data(&o);
    Ok(exit::OK)
}
