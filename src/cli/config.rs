//! `git mission config`: the effective configuration and where each value came from.

use crate::config::display_value;
use crate::error::Result;

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Include this mission's frontmatter layer
    pub id: Option<String>,
    /// Show which layer each value came from
    #[arg(long)]
    pub show_origin: bool,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    let loaded = match &a.id {
        Some(id) => Some(ws.load(id, true)?),
        None => None,
    };
    let config = cx.config(&ws, loaded.as_ref())?;
    let entries = config.entries();
    if cx.out.json {
        cx.out.json(&entries);
        return Ok(exit::OK);
    }
    let width = entries
        .iter()
        .map(|e| e.origin.to_string().len())
        .max()
        .unwrap_or(0);
    let mut o = String::new();
    for e in &entries {
        if a.show_origin {
            o.push_str(&format!("{:<width$}  ", e.origin.to_string()));
        }
        o.push_str(&format!("{} = {}\n", e.key, display_value(&e.value)));
    }
    cx.out.data(&o);
    Ok(exit::OK)
}
