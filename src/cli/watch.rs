//! `git mission watch [<id>|--all]`: Mission Control, live. Milestones and features with
//! status, attempts and branch or PR; the runs going on with their agent, elapsed time and the
//! last lines they printed; recent events; the block with its reason and next actions; budget
//! gauges. Keys run the CLI's own commands (`pause`, `resume`, `steer`) as child processes,
//! so each is exactly that operation through the store; the view never takes the run lock.
//!
//! It redraws when the integration branch moves or a run's log grows (looked at every
//! `--interval`), or on a key. Without a terminal on stdout it prints `status` each time the
//! mission changes, until it finishes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Row, Table, TableState, Wrap};

use crate::error::{Error, Result};
use crate::mission::FeatureStatus;
use crate::report::StatusView;
use crate::runs::Layout as RunLayout;
use crate::workspace::Workspace;

use super::status::{Gathered, gather, human, only_mission};
use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mission id (may be omitted when there is exactly one mission)
    pub id: Option<String>,
    /// Every mission: Tab moves between them
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
    /// Seconds between looks for a change
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub interval: f64,
    /// Stop after this many views (without a terminal: printed statuses)
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    let ids = if a.all {
        let ids = ws.list_ids()?;
        if ids.is_empty() {
            return Err(Error::user_hint(
                "no missions yet",
                "create one with `git mission new <id>`",
            ));
        }
        ids
    } else {
        vec![match &a.id {
            Some(id) => {
                crate::workspace::check_mission_id(id)?;
                id.clone()
            }
            None => only_mission(&ws)?,
        }]
    };
    if !(a.interval.is_finite() && a.interval > 0.0) {
        return Err(Error::user(
            "--interval must be a positive number of seconds",
        ));
    }
    let interval = Duration::from_secs_f64(a.interval.clamp(0.05, 3600.0));
    if !std::io::stdout().is_terminal() || cx.out.json {
        return plain(cx, &ws, &ids, interval, a.count);
    }
    let mut app = App::new(cx, &ws, ids);
    let mut terminal = ratatui::try_init().map_err(Error::io("the terminal"))?;
    let result = app.run(cx, &ws, &mut terminal, interval, a.count);
    ratatui::restore();
    result
}

/// What identifies the state shown, read without parsing the mission: the integration head
/// (before the start, the work tree file's size and time), and the size of each live run's
/// logs. The mission is read again only when it changes.
fn fingerprint(ws: &Workspace, id: &str, layout: Option<&RunLayout>) -> String {
    let mut f = match ws
        .repo
        .branch_head(&crate::workspace::integration_branch(id))
    {
        Ok(Some(head)) => head,
        _ => std::fs::metadata(ws.path(&crate::workspace::mission_file(id)))
            .map(|m| format!("{} {:?}", m.len(), m.modified().ok()))
            .unwrap_or_default(),
    };
    let Some(layout) = layout else {
        return f;
    };
    for (meta, state) in layout.list() {
        if meta.mission != id || !matches!(state, crate::runs::RunState::Running { .. }) {
            continue;
        }
        let size: u64 = log_files(&layout.run(&meta.run))
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        f.push_str(&format!(" {}:{size}", meta.run));
    }
    f
}

/// The files a run writes its output to, in the order they are shown.
fn log_files(dir: &std::path::Path) -> Vec<PathBuf> {
    ["stdout.log", "stderr.log", "work.log"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file())
        .collect()
}

/// The last `n` lines a run printed (its agent's output, then the worker's own log).
fn last_lines(dir: &std::path::Path, n: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for f in log_files(dir) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.chars().filter(|c| !c.is_control()).collect()),
        );
    }
    lines.split_off(lines.len().saturating_sub(n))
}

/// No terminal: `status` each time a mission changes, until every one has finished.
fn plain(
    cx: &Ctx,
    ws: &Workspace,
    ids: &[String],
    interval: Duration,
    count: Option<u32>,
) -> Result<u8> {
    let mut last: Vec<Option<String>> = vec![None; ids.len()];
    // Where each mission's runs are (`worktrees` is repository-wide: no mission needed).
    let layouts: Vec<Option<RunLayout>> = ids.iter().map(|id| cx.layout(ws, id).ok()).collect();
    let mut done = vec![false; ids.len()];
    let mut shown = 0;
    loop {
        for (i, id) in ids.iter().enumerate() {
            let f = fingerprint(ws, id, layouts[i].as_ref());
            if last[i].as_ref() == Some(&f) {
                continue;
            }
            let g = gather(cx, ws, id)?;
            last[i] = Some(f);
            done[i] = g.view.status.is_finished();
            if cx.out.json {
                cx.out.json(&g.view);
            } else {
                let at = cx.env.clock.now_s().strftime("%H:%M:%S");
                cx.out
                    .data(&format!("── {id} at {at} ──\n{}", human(&g.view)));
            }
            shown += 1;
            if count.is_some_and(|c| shown >= c) {
                return Ok(exit::OK);
            }
        }
        let all_done = done.iter().all(|d| *d);
        if all_done {
            return Ok(exit::OK);
        }
        std::thread::sleep(interval);
    }
}

/// What the screen is doing besides showing the mission.
enum Mode {
    Normal,
    /// Typing a steering message for a feature.
    Steer {
        feature: String,
        text: String,
    },
    /// A run's whole log, scrolled to `scroll`.
    Log {
        title: String,
        lines: Vec<String>,
        scroll: usize,
    },
}

struct App {
    ids: Vec<String>,
    current: usize,
    /// The selected feature row.
    table: TableState,
    mode: Mode,
    /// The outcome of the last key's command.
    flash: Option<(String, bool)>,
    gathered: Option<Gathered>,
    error: Option<String>,
    fingerprint: String,
    /// Where each mission's runs are, in the order of `ids`.
    layouts: Vec<Option<RunLayout>>,
}

impl App {
    fn new(cx: &Ctx, ws: &Workspace, ids: Vec<String>) -> App {
        let mut table = TableState::default();
        table.select(Some(0));
        App {
            layouts: ids.iter().map(|id| cx.layout(ws, id).ok()).collect(),
            ids,
            current: 0,
            table,
            mode: Mode::Normal,
            flash: None,
            gathered: None,
            error: None,
            fingerprint: String::new(),
        }
    }

    fn id(&self) -> &str {
        &self.ids[self.current]
    }

    fn layout(&self) -> Option<&RunLayout> {
        self.layouts[self.current].as_ref()
    }

    /// Reads the mission again if it changed (or `force`); `true` when the screen needs
    /// drawing.
    fn refresh(&mut self, cx: &Ctx, ws: &Workspace, force: bool) -> bool {
        let id = self.id().to_owned();
        let f = fingerprint(ws, &id, self.layout());
        if !force && self.error.is_none() && self.gathered.is_some() && f == self.fingerprint {
            return false;
        }
        match gather(cx, ws, &id) {
            Ok(g) => {
                self.fingerprint = f;
                self.gathered = Some(g);
                self.error = None;
                true
            }
            Err(e) => {
                let text = e.to_string();
                let changed = self.error.as_deref() != Some(&text);
                self.error = Some(text);
                changed
            }
        }
    }

    fn run(
        &mut self,
        cx: &Ctx,
        ws: &Workspace,
        terminal: &mut ratatui::DefaultTerminal,
        interval: Duration,
        count: Option<u32>,
    ) -> Result<u8> {
        let mut dirty = self.refresh(cx, ws, true);
        let mut next_look = Instant::now() + interval;
        let mut drawn = 0u32;
        loop {
            if dirty {
                terminal
                    .draw(|f| self.draw(f))
                    .map_err(Error::io("the terminal"))?;
                dirty = false;
                drawn += 1;
                if count.is_some_and(|c| drawn >= c) {
                    return Ok(exit::OK);
                }
            }
            let wait = next_look.saturating_duration_since(Instant::now());
            if event::poll(wait).map_err(Error::io("the terminal"))? {
                match event::read().map_err(Error::io("the terminal"))? {
                    TermEvent::Key(k) if k.kind == event::KeyEventKind::Press => {
                        if self.key(cx, ws, k) {
                            return Ok(exit::OK);
                        }
                        dirty = true;
                    }
                    TermEvent::Resize(..) => dirty = true,
                    _ => {}
                }
            }
            if Instant::now() >= next_look {
                dirty |= self.refresh(cx, ws, false);
                next_look = Instant::now() + interval;
            }
        }
    }

    /// The features in table order, with their ids.
    fn feature_ids(&self) -> Vec<String> {
        self.gathered.as_ref().map_or_else(Vec::new, |g| {
            g.view
                .milestones
                .iter()
                .flat_map(|m| {
                    std::iter::once(None).chain(m.features.iter().map(|f| Some(f.id.clone())))
                })
                .map(Option::unwrap_or_default)
                .collect()
        })
    }

    fn selected_feature(&self) -> Option<String> {
        let ids = self.feature_ids();
        let i = self.table.selected()?;
        ids.get(i).filter(|f| !f.is_empty()).cloned()
    }

    /// Handles a key; `true` to quit.
    fn key(&mut self, cx: &Ctx, ws: &Workspace, k: KeyEvent) -> bool {
        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            return true;
        }
        match &mut self.mode {
            Mode::Steer { feature, text } => match k.code {
                KeyCode::Esc => self.mode = Mode::Normal,
                KeyCode::Enter => {
                    let (feature, message) = (feature.clone(), text.trim().to_owned());
                    self.mode = Mode::Normal;
                    if !message.is_empty() {
                        let id = self.id().to_owned();
                        self.command(cx, &["steer", &id, &feature, &message]);
                        self.refresh(cx, ws, true);
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            },
            Mode::Log { lines, scroll, .. } => match k.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => self.mode = Mode::Normal,
                KeyCode::Down | KeyCode::Char('j') => {
                    *scroll = (*scroll + 1).min(lines.len().saturating_sub(1));
                }
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => {
                    *scroll = (*scroll + 20).min(lines.len().saturating_sub(1));
                }
                KeyCode::PageUp => *scroll = scroll.saturating_sub(20),
                KeyCode::End | KeyCode::Char('G') => *scroll = lines.len().saturating_sub(1),
                KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
                _ => {}
            },
            Mode::Normal => {
                let id = self.id().to_owned();
                match k.code {
                    KeyCode::Char('q') | KeyCode::Esc => return true,
                    KeyCode::Char('p') => self.command(cx, &["pause", &id]),
                    KeyCode::Char('P') => self.command(cx, &["pause", &id, "--now"]),
                    KeyCode::Char('r') => self.command(cx, &["resume", &id]),
                    KeyCode::Char('s') => match self.selected_feature() {
                        Some(feature) => {
                            self.mode = Mode::Steer {
                                feature,
                                text: String::new(),
                            }
                        }
                        None => {
                            self.flash = Some(("select a feature to steer (↑/↓)".into(), false));
                        }
                    },
                    KeyCode::Enter => self.open_log(),
                    KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
                    KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
                    KeyCode::Tab if self.ids.len() > 1 => {
                        self.current = (self.current + 1) % self.ids.len();
                        self.table.select(Some(0));
                    }
                    _ => return false,
                }
                self.refresh(cx, ws, true);
            }
        }
        false
    }

    fn move_selection(&mut self, by: isize) {
        let n = self.feature_ids().len();
        if n == 0 {
            return;
        }
        let i = self.table.selected().unwrap_or(0) as isize + by;
        self.table.select(Some(i.clamp(0, n as isize - 1) as usize));
    }

    /// Runs `git mission <args>` (the same command a person would type) and keeps its first
    /// line of output for the status line.
    fn command(&mut self, cx: &Ctx, args: &[&str]) {
        let out = std::process::Command::new(&cx.env.exe)
            .arg("-C")
            .arg(&cx.dir)
            .arg("--color=never")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output();
        self.flash = Some(match out {
            Ok(o) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stderr),
                    String::from_utf8_lossy(&o.stdout)
                );
                let first = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("done")
                    .to_owned();
                (
                    format!("git mission {}: {first}", args[0]),
                    o.status.success(),
                )
            }
            Err(e) => (format!("cannot run git mission: {e}"), false),
        });
    }

    /// The selected feature's latest run, in full.
    fn open_log(&mut self) {
        let Some(feature) = self.selected_feature() else {
            return;
        };
        let id = self.id().to_owned();
        let run = self.gathered.as_ref().and_then(|g| {
            g.events
                .iter()
                .rev()
                .find(|e| {
                    e.kind == crate::events::Kind::RunStarted
                        && e.feature.as_deref() == Some(feature.as_str())
                })
                .and_then(|e| e.run.clone())
        });
        let Some(run) = run else {
            self.flash = Some((format!("{feature} has no run yet"), false));
            return;
        };
        let dir = self.layout().map(|l| l.run(&run));
        let mut lines = Vec::new();
        for f in dir.as_deref().map(log_files).unwrap_or_default() {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
            lines.push(format!("── {} ──", name.unwrap_or_default()));
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            lines.extend(
                text.lines()
                    .map(|l| l.chars().filter(|c| !c.is_control()).collect()),
            );
        }
        if lines.is_empty() {
            lines.push(format!(
                "The log of run {run} is not on this machine; its record is: git show mission/{id}:todo/missions/{id}/runs/{run}.md"
            ));
        }
        let scroll = lines.len().saturating_sub(1);
        self.mode = Mode::Log {
            title: format!("{feature} · run {run}"),
            lines,
            scroll,
        };
    }

    fn draw(&mut self, f: &mut ratatui::Frame) {
        let area = f.area();
        if let Mode::Log {
            title,
            lines,
            scroll,
        } = &self.mode
        {
            let height = area.height.saturating_sub(2) as usize;
            let start = scroll.saturating_sub(height.saturating_sub(1));
            let text: Vec<Line> = lines[start..]
                .iter()
                .take(height)
                .map(|l| Line::raw(l.clone()))
                .collect();
            let p = Paragraph::new(text).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {title} — ↑/↓ PgUp/PgDn g/G, Esc back ")),
            );
            f.render_widget(p, area);
            return;
        }
        let Some(g) = &self.gathered else {
            let text = self.error.clone().unwrap_or_else(|| "reading…".into());
            f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), area);
            return;
        };
        let v = &g.view;
        let block_rows = if v.block.is_some() { 4 } else { 0 };
        let rows = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(6),
            Constraint::Length(block_rows),
            Constraint::Length(2),
            Constraint::Length(5),
            Constraint::Length(1),
        ])
        .split(area);
        f.render_widget(header(v, self.ids.len(), self.current), rows[0]);
        let main = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
            .split(rows[1]);
        f.render_stateful_widget(features(v), main[0], &mut self.table);
        f.render_widget(runs(v, self.layout(), main[1]), main[1]);
        if v.block.is_some() {
            f.render_widget(block(v), rows[2]);
        }
        budget(f, v, rows[3]);
        f.render_widget(events(g), rows[4]);
        f.render_widget(self.footer(), rows[5]);
        if let Some(e) = &self.error {
            let r = Rect {
                height: 1,
                ..rows[5]
            };
            f.render_widget(
                Paragraph::new(format!("error: {e}")).style(Style::default().fg(Color::Red)),
                r,
            );
        }
    }

    fn footer(&self) -> Paragraph<'static> {
        match &self.mode {
            Mode::Steer { feature, text } => Paragraph::new(Line::from(vec![
                Span::styled(
                    format!("steer {feature}: "),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(text.clone()),
                Span::styled(
                    "█  (Enter send, Esc cancel)",
                    Style::default().fg(Color::DarkGray),
                ),
            ])),
            _ => match &self.flash {
                Some((text, ok)) => Paragraph::new(text.clone())
                    .style(Style::default().fg(if *ok { Color::Green } else { Color::Red })),
                None => Paragraph::new(
                    "p pause  P pause now  r resume  s steer  ⏎ log  ↑↓ select  q quit",
                )
                .style(Style::default().fg(Color::DarkGray)),
            },
        }
    }
}

fn status_color(s: &str) -> Color {
    match s {
        "merged" | "passed" | "completed" => Color::Green,
        "running" | "validating" | "active" => Color::Cyan,
        "review" => Color::Yellow,
        "failed" | "blocked" | "cancelled" => Color::Red,
        "paused" => Color::Magenta,
        _ => Color::Reset,
    }
}

fn header(v: &StatusView, missions: usize, current: usize) -> Paragraph<'static> {
    let merged = v
        .milestones
        .iter()
        .flat_map(|m| &m.features)
        .filter(|f| f.status == FeatureStatus::Merged)
        .count();
    let total: usize = v.milestones.iter().map(|m| m.features.len()).sum();
    let status = v.status.to_string();
    let mut spans = vec![
        Span::styled(
            format!("{} — {} ", v.id, v.title),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            status.clone(),
            Style::default()
                .fg(status_color(&status))
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  {merged}/{total} merged")),
    ];
    if missions > 1 {
        spans.push(Span::styled(
            format!("  [{}/{missions}, Tab next]", current + 1),
            Style::default().fg(Color::DarkGray),
        ));
    }
    Paragraph::new(Line::from(spans))
}

fn features(v: &StatusView) -> Table<'static> {
    let mut rows = Vec::new();
    for m in &v.milestones {
        let st = m.status.to_string();
        rows.push(
            Row::new(vec![
                m.id.clone(),
                m.title.clone(),
                st.clone(),
                String::new(),
                String::new(),
            ])
            .style(Style::default().add_modifier(Modifier::BOLD)),
        );
        for f in &m.features {
            let st = f.status.to_string();
            let place = match (f.pr, &f.branch) {
                (Some(pr), _) => format!("#{pr}"),
                (None, Some(b)) => b.strip_prefix("mission/").unwrap_or(b).to_owned(),
                _ => String::new(),
            };
            let mut status = st.clone();
            if f.review.is_some() {
                status = format!("{st} ✎");
            }
            rows.push(
                Row::new(vec![
                    format!("  {}", f.id),
                    f.title.clone(),
                    status,
                    if f.attempts > 0 {
                        f.attempts.to_string()
                    } else {
                        String::new()
                    },
                    place,
                ])
                .style(Style::default().fg(status_color(&st))),
            );
        }
    }
    Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Min(10),
            Constraint::Length(10),
            Constraint::Length(3),
            Constraint::Length(10),
        ],
    )
    .header(
        Row::new(vec!["", "Title", "Status", "Att", "Branch/PR"])
            .style(Style::default().fg(Color::DarkGray)),
    )
    .block(Block::default().borders(Borders::ALL).title(" Features "))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
}

fn runs(v: &StatusView, layout: Option<&crate::runs::Layout>, area: Rect) -> Paragraph<'static> {
    let mut lines: Vec<Line> = Vec::new();
    if v.active_runs.is_empty() {
        lines.push(Line::styled(
            "no runs going on",
            Style::default().fg(Color::DarkGray),
        ));
    }
    let inner = area.height.saturating_sub(2) as usize;
    let per = (inner / v.active_runs.len().max(1))
        .saturating_sub(1)
        .max(1);
    for r in &v.active_runs {
        let (m, s) = (r.elapsed_secs / 60, r.elapsed_secs % 60);
        lines.push(Line::styled(
            format!(
                "{} · {} · {} · {m}:{s:02}",
                r.feature.as_deref().unwrap_or(&r.role),
                r.agent,
                r.role
            ),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        if let Some(l) = layout {
            for t in last_lines(&l.run(&r.run), per) {
                lines.push(Line::raw(format!("  {t}")));
            }
        }
    }
    Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Runs "))
}

fn block(v: &StatusView) -> Paragraph<'static> {
    let Some(b) = &v.block else {
        return Paragraph::new("");
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("blocked: {} ", b.reason.as_str()),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Span::raw(b.message.clone()),
    ])];
    for n in &v.next {
        lines.push(Line::raw(format!("→ {n}")));
    }
    Paragraph::new(lines).wrap(Wrap { trim: true })
}

fn budget(f: &mut ratatui::Frame, v: &StatusView, area: Rect) {
    let l = &v.budget.limits;
    let s = &v.budget.spent;
    let cells = Layout::horizontal([Constraint::Ratio(1, 4); 4]).split(area);
    let gauges: [(&str, f64, Option<f64>, String); 4] = [
        ("USD", s.usd, l.usd, format!("${:.2}", s.usd)),
        (
            "tokens",
            s.tokens as f64,
            l.tokens.map(|x| x as f64),
            s.tokens.to_string(),
        ),
        ("hours", s.hours, l.hours, format!("{:.1} h", s.hours)),
        (
            "runs",
            f64::from(s.runs),
            l.runs.map(f64::from),
            s.runs.to_string(),
        ),
    ];
    for (i, (name, spent, limit, shown)) in gauges.into_iter().enumerate() {
        let (ratio, label) = match limit {
            Some(lim) if lim > 0.0 => (
                (spent / lim).clamp(0.0, 1.0),
                format!("{name} {shown}/{}", trim_number(lim)),
            ),
            _ => (0.0, format!("{name} {shown}")),
        };
        let color = if ratio >= 1.0 {
            Color::Red
        } else if ratio >= 0.8 {
            Color::Yellow
        } else {
            Color::Green
        };
        let g = Gauge::default()
            .block(Block::default().borders(Borders::TOP))
            .gauge_style(Style::default().fg(color))
            .ratio(ratio)
            .label(label);
        f.render_widget(g, cells[i]);
    }
}

fn trim_number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn events(g: &Gathered) -> Paragraph<'static> {
    let lines: Vec<Line> = g
        .events
        .iter()
        .rev()
        .take(4)
        .map(|e| {
            let at = e.at.get(11..19).unwrap_or(&e.at).to_owned();
            let what = [e.milestone.as_deref(), e.feature.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let detail = e.data["message"]
                .as_str()
                .or_else(|| e.data["failure"].as_str())
                .or_else(|| e.data["reason"].as_str())
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            Line::raw(format!("{at} {} {what} {detail}", e.kind))
        })
        .collect();
    Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(" Events "))
}
