//! Canonical, deterministic rendering of the frontmatter.
//!
//! Key order is fixed (the order of PRODUCT.md §2.1), small records are written in flow style
//! on one line and milestones/features in block style, so that a state change touches only
//! the lines that carry it. Every scalar goes through `yaml::scalar`, which quotes whatever
//! YAML could read back differently.

use std::fmt::Write as _;

use super::model::*;
use super::yaml::{block_text, scalar};

/// Renders the frontmatter YAML (without the `---` fences).
pub fn render_frontmatter(m: &Mission) -> String {
    let mut o = String::with_capacity(256 + 400 * m.features().count());
    let _ = writeln!(o, "schema: {}", m.schema);
    line(&mut o, 0, "id", &scalar(&m.id, false));
    line(&mut o, 0, "title", &scalar(&m.title, false));
    line(&mut o, 0, "status", m.status.as_str());
    if let Some(v) = m.mode {
        line(&mut o, 0, "mode", v.as_str());
    }
    if let Some(v) = &m.base {
        line(&mut o, 0, "base", &scalar(v, false));
    }
    if let Some(v) = m.forge {
        line(&mut o, 0, "forge", v.as_str());
    }
    if let Some(v) = m.land {
        line(&mut o, 0, "land", v.as_str());
    }
    if let Some(v) = m.merge {
        line(&mut o, 0, "merge", v.as_str());
    }
    line(&mut o, 0, "approved", &opt(m.approved.as_ref(), approval));
    if let Some(v) = &m.agents {
        line(&mut o, 0, "agents", &role_map(v));
    }
    if let Some(v) = &m.models {
        line(&mut o, 0, "models", &role_map(v));
    }
    if let Some(profiles) = &m.profiles {
        if profiles.is_empty() {
            line(&mut o, 0, "profiles", "{}");
        } else {
            o.push_str("profiles:\n");
            for (name, p) in profiles {
                line(&mut o, 2, &scalar(name, false), &profile(p));
            }
        }
    }
    if let Some(v) = &m.checks {
        line(&mut o, 0, "checks", &str_list(v));
    }
    if let Some(l) = &m.limits {
        let fields = limits(l);
        if fields.is_empty() {
            line(&mut o, 0, "limits", "{}");
        } else {
            o.push_str("limits:\n");
            for (k, v) in fields {
                line(&mut o, 2, k, &v);
            }
        }
    }
    if let Some(b) = &m.budget {
        line(&mut o, 0, "budget", &budget(b));
    }
    line(&mut o, 0, "spent", &spent(&m.spent));
    line(&mut o, 0, "block", &opt(m.block.as_ref(), block));
    list(&mut o, 0, "contract", &m.contract, |o, a| {
        let _ = writeln!(
            o,
            "{}",
            flow_map(&[("id", scalar(&a.id, true)), ("text", scalar(&a.text, true))])
        );
    });
    list(&mut o, 0, "resources", &m.resources, |o, r| {
        let _ = writeln!(o, "{}", resource(r));
    });
    list(&mut o, 0, "milestones", &m.milestones, milestone);
    o
}

fn milestone(o: &mut String, m: &Milestone) {
    // The first key shares the line with the list dash.
    let _ = writeln!(o, "id: {}", scalar(&m.id, false));
    line(o, 4, "title", &scalar(&m.title, false));
    line(o, 4, "status", m.status.as_str());
    line(o, 4, "failures", &m.failures.to_string());
    o.push_str("    validation:\n");
    let v = &m.validation;
    line(o, 6, "commands", &str_list(&v.commands));
    line(o, 6, "scrutiny", if v.scrutiny { "true" } else { "false" });
    line(
        o,
        6,
        "user_testing",
        &opt(v.user_testing.as_ref(), user_testing),
    );
    line(o, 6, "assertions", &str_list(&v.assertions));
    list(o, 4, "features", &m.features, feature);
}

fn feature(o: &mut String, f: &Feature) {
    let _ = writeln!(o, "id: {}", scalar(&f.id, false));
    line(o, 8, "title", &scalar(&f.title, false));
    line(o, 8, "status", f.status.as_str());
    line(o, 8, "depends_on", &str_list(&f.depends_on));
    line(o, 8, "assertions", &str_list(&f.assertions));
    if let Some(c) = &f.checks {
        line(o, 8, "checks", &str_list(c));
    }
    line(o, 8, "skills", &str_list(&f.skills));
    line(o, 8, "attempts", &f.attempts.to_string());
    line(o, 8, "pr", &opt(f.pr.as_ref(), |n| n.to_string()));
    line(
        o,
        8,
        "origin",
        &opt(f.origin.as_ref(), |x| {
            flow_map(&[
                ("validation_run", scalar(&x.validation_run, true)),
                ("finding", scalar(&x.finding, true)),
            ])
        }),
    );
    line(o, 8, "description", &block_text(&f.description, 10));
}

fn line(o: &mut String, indent: usize, key: &str, value: &str) {
    let _ = writeln!(o, "{:indent$}{key}: {value}", "");
}

/// A block list under `key`; each item starts on the dash line.
fn list<T>(o: &mut String, indent: usize, key: &str, items: &[T], item: impl Fn(&mut String, &T)) {
    if items.is_empty() {
        line(o, indent, key, "[]");
        return;
    }
    let _ = writeln!(o, "{:indent$}{key}:", "");
    for it in items {
        let _ = write!(o, "{:w$}- ", "", w = indent + 2);
        item(o, it);
    }
}

fn opt<T>(v: Option<&T>, f: impl Fn(&T) -> String) -> String {
    v.map_or_else(|| "null".to_owned(), f)
}

fn flow_map(fields: &[(&str, String)]) -> String {
    let inner: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn str_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| scalar(s, true)).collect();
    format!("[{}]", inner.join(", "))
}

/// Formats a number so that it reads back as the same `f64`.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        ".nan".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { ".inf" } else { "-.inf" }.to_owned()
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

fn approval(a: &Approval) -> String {
    flow_map(&[
        ("by", scalar(&a.by, true)),
        ("at", scalar(&a.at.to_string(), true)),
    ])
}

fn role_map(r: &RoleMap) -> String {
    let fields: Vec<(&str, String)> = r
        .entries()
        .into_iter()
        .map(|(k, v)| (k, scalar(v, true)))
        .collect();
    flow_map(&fields)
}

fn profile(p: &Profile) -> String {
    let mut f = vec![("agent", scalar(&p.agent, true))];
    if let Some(m) = &p.model {
        f.push(("model", scalar(m, true)));
    }
    if let Some(c) = &p.command {
        f.push(("command", str_list(c)));
    }
    if let Some(a) = &p.args {
        f.push(("args", str_list(a)));
    }
    if let Some(e) = &p.pass_env {
        f.push(("pass_env", str_list(e)));
    }
    flow_map(&f)
}

fn limits(l: &Limits) -> Vec<(&'static str, String)> {
    let mut f = Vec::new();
    if let Some(v) = l.max_parallel_workers {
        f.push(("max_parallel_workers", v.to_string()));
    }
    if let Some(v) = l.validation_failures {
        f.push(("validation_failures", v.to_string()));
    }
    if let Some(v) = l.worker_attempts {
        f.push(("worker_attempts", v.to_string()));
    }
    if let Some(v) = &l.worker_timeout {
        f.push(("worker_timeout", scalar(v, false)));
    }
    if let Some(v) = l.review_rounds {
        f.push(("review_rounds", v.to_string()));
    }
    f
}

fn budget(b: &Budget) -> String {
    let mut f = Vec::new();
    if let Some(v) = b.usd {
        f.push(("usd", number(v)));
    }
    if let Some(v) = b.tokens {
        f.push(("tokens", v.to_string()));
    }
    if let Some(v) = b.hours {
        f.push(("hours", number(v)));
    }
    if let Some(v) = b.runs {
        f.push(("runs", v.to_string()));
    }
    if let Some(v) = b.alert_pct {
        f.push(("alert_pct", v.to_string()));
    }
    flow_map(&f)
}

fn spent(s: &Spent) -> String {
    flow_map(&[
        ("usd", number(s.usd)),
        ("tokens", s.tokens.to_string()),
        ("hours", number(s.hours)),
        ("runs", s.runs.to_string()),
    ])
}

fn block(b: &Block) -> String {
    let mut f = vec![("reason", b.reason.as_str().to_owned())];
    if let Some(m) = &b.milestone {
        f.push(("milestone", scalar(m, true)));
    }
    if let Some(x) = &b.feature {
        f.push(("feature", scalar(x, true)));
    }
    f.push(("since", scalar(&b.since.to_string(), true)));
    if let Some(p) = &b.packet {
        f.push(("packet", scalar(p, true)));
    }
    f.push(("message", scalar(&b.message, true)));
    if let Some(q) = &b.question {
        f.push(("question", scalar(q, true)));
    }
    flow_map(&f)
}

fn resource(r: &Resource) -> String {
    let mut f = vec![
        ("name", scalar(&r.name, true)),
        ("status", r.status.as_str().to_owned()),
    ];
    if let Some(n) = &r.needed_by {
        f.push(("needed_by", scalar(n, true)));
    }
    flow_map(&f)
}

fn user_testing(u: &UserTesting) -> String {
    let mut f = Vec::new();
    if let Some(l) = &u.launch {
        f.push(("launch", scalar(l, true)));
    }
    if let Some(l) = &u.url {
        f.push(("url", scalar(l, true)));
    }
    f.push(("flows", str_list(&u.flows)));
    flow_map(&f)
}
