//! The mission store: the mission file and its workspace on the integration branch
//! `mission/<id>`, read with gix and changed only by commits made without any work tree,
//! with compare-and-swap on the ref. Writers on one machine take turns ([`lock::Turn`]); a lost
//! race (to a writer elsewhere, or one that waited too long for its turn) re-reads, re-applies
//! the mutation and retries (bounded), recording a `state.retry` event.

pub mod error;
pub mod lock;

pub use error::Error as StoreError;

use crate::events::Kind;
use std::time::Duration;

use gix::ObjectId;
use gix::bstr::ByteSlice;

use crate::error::{Context, Error, Result};
use crate::events::{self, Event};
use crate::git::Repo;
use crate::mission::{Mission, MissionDoc};
use crate::workspace::{MISSIONS_DIR, integration_branch, mission_file};

/// The body blocks the store generates from the mission.
const GENERATED: &[&str] = &["status", "budget"];

/// How often a lost compare-and-swap is retried before giving up.
const MAX_RETRIES: u32 = 16;
/// How long a commit waits for another process's lock on the integration branch.
const LOCK_PATIENCE: Duration = Duration::from_secs(30);
/// How long a writer waits for its turn ([`lock::Turn`]) before it commits without one.
const TURN_PATIENCE: Duration = Duration::from_secs(10);

/// The state at the integration head. Cheap to clone: a commit's state never changes, so it
/// is shared.
#[derive(Debug, Clone)]
pub struct Head {
    pub commit: ObjectId,
    pub tree: ObjectId,
    pub doc: std::sync::Arc<MissionDoc>,
    pub events: std::sync::Arc<Vec<Event>>,
    events_text: std::sync::Arc<str>,
}

/// The states this process committed (or, for a remembering store, read) last, by commit and
/// files: a state commit knows the state it made, so the read that follows it (the next
/// mutation, the next pulse) needs no parse of the mission and its event log. A commit's state
/// never changes, so an entry is never stale; a commit made by another process is read from
/// git once.
static RECENT: std::sync::Mutex<Vec<(String, Head)>> = std::sync::Mutex::new(Vec::new());

/// How many committed states [`RECENT`] keeps (a process works on one mission at a time).
const RECENT_STATES: usize = 2;

/// The key of a commit's state in [`RECENT`]: which files ([`recent_files`]) of which commit.
fn recent_key(commit: &ObjectId, file: &str, events_file: &str) -> String {
    format!("{commit} {}", recent_files(file, events_file))
}

/// The part of a [`RECENT`] key that names the files (one mission's).
fn recent_files(file: &str, events_file: &str) -> String {
    format!("{file} {events_file}")
}

impl Head {
    pub fn mission(&self) -> &Mission {
        &self.doc.mission
    }
    pub fn last_seq(&self) -> u64 {
        self.events.last().map_or(0, |e| e.seq)
    }
}

/// A change being prepared against a fresh head.
pub struct Tx<'h> {
    pub head: &'h Head,
    pub mission: Mission,
    pub events: Vec<Event>,
    /// Files to add or replace, repository-relative.
    pub files: Vec<(String, Vec<u8>)>,
    /// Start from this tree instead of the head's (a merge result), and add a second parent.
    pub base_tree: Option<ObjectId>,
    pub extra_parent: Option<ObjectId>,
    /// Replace the mission body (generated blocks, Decision Log).
    pub body: Option<String>,
    /// The time this change is made at (the command's clock, to the second).
    pub now: jiff::Timestamp,
}

impl Tx<'_> {
    pub fn event(&mut self, e: Event) {
        self.events.push(e);
    }
    /// Whether the committed log or this transaction already holds a matching event.
    pub fn has_event(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.head.events.iter().any(&f) || self.events.iter().any(&f)
    }
}

/// Where committed state is published (a forge's remote). Each mutation is pushed as soon as
/// it is committed, so concurrent writers on other machines (pulses, Actions workers, comment
/// handlers) see it and a lost race is detected at once.
pub trait Publish {
    /// Publishes the branch, which moved from `old` to `new` by one mutation. `Ok(false)`: the
    /// remote moved meanwhile; the implementation has put the local branch back to `old` and
    /// brought it up to the remote, and the caller re-applies its change. An error leaves the
    /// local branch at `old` too: a change is never kept here unless it is published.
    fn publish(&self, old: &str, new: &str) -> Result<bool>;
}

/// The store of one mission.
pub struct Store<'r> {
    pub repo: &'r Repo,
    pub id: String,
    pub branch: String,
    pub file: String,
    pub events_file: String,
    /// Publishes each mutation (`forge: github`); `None` keeps state local.
    pub publisher: Option<&'r dyn Publish>,
    /// The budget limits in force (configuration and mission), to keep the Budget block of
    /// the mission body current; `None` leaves that block as it is.
    pub limits: Option<crate::mission::Budget>,
    /// Keeps each state read for the reads after it (a supervisor reads one head several
    /// times a pulse); a one-shot reader does not, so it owns what it reads.
    remember_reads: bool,
}

impl<'r> Store<'r> {
    pub fn new(repo: &'r Repo, id: &str) -> Store<'r> {
        Store {
            repo,
            id: id.to_owned(),
            branch: integration_branch(id),
            file: mission_file(id),
            events_file: format!("{MISSIONS_DIR}/{id}/events.jsonl"),
            publisher: None,
            limits: None,
            remember_reads: false,
        }
    }

    /// The same store, keeping each state it reads for the reads after it (for processes that
    /// read the same head several times: a pulse, a worker).
    pub fn remembering(self) -> Store<'r> {
        Store {
            remember_reads: true,
            ..self
        }
    }

    /// The same store, keeping the mission body's Budget block current with `limits`.
    pub fn keeping_budget(self, limits: crate::mission::Budget) -> Store<'r> {
        Store {
            limits: Some(limits),
            ..self
        }
    }

    /// The same store, publishing every mutation through `p`.
    pub fn publishing(self, p: &'r dyn Publish) -> Store<'r> {
        Store {
            publisher: Some(p),
            ..self
        }
    }

    fn refname(&self) -> String {
        format!("refs/heads/{}", self.branch)
    }

    /// The lock file git (and gix) hold while updating the integration branch.
    fn lock_file(&self) -> std::path::PathBuf {
        self.repo
            .common_dir()
            .join(format!("{}.lock", self.refname()))
    }

    /// This machine's turn at the mission's state ([`lock::Turn`]).
    fn turn_file(&self) -> std::path::PathBuf {
        self.repo
            .common_dir()
            .join("git-mission")
            .join(format!("{}.state.lock", self.id))
    }

    /// The integration head, or `None` before the mission started.
    pub fn head(&self) -> Result<Option<Head>> {
        let g = self.repo.gix();
        let ctx = || format!("reading {}", self.branch);
        let Some(mut r) = g.try_find_reference(self.refname().as_str()).context(ctx)? else {
            return Ok(None);
        };
        let commit = r.peel_to_commit().context(ctx)?;
        self.head_of(commit).map(Some)
    }

    /// The event log at the integration head (empty before the start), without parsing the
    /// mission file: for a reader that has the mission already (`status`).
    pub fn events(&self) -> Result<Vec<Event>> {
        let Some(text) = self.repo.read_at_branch(&self.branch, &self.events_file)? else {
            return Ok(Vec::new());
        };
        Ok(events::parse(&text).0)
    }

    /// The state at a commit of the integration branch.
    fn head_at(&self, commit: &str) -> Result<Head> {
        let g = self.repo.gix();
        let ctx = || format!("reading {commit}");
        let id = ObjectId::from_hex(commit.as_bytes()).context(ctx)?;
        self.head_of(g.find_commit(id).context(ctx)?)
    }

    fn head_of(&self, commit: gix::Commit<'_>) -> Result<Head> {
        let key = recent_key(&commit.id, &self.file, &self.events_file);
        if let Some((_, h)) = RECENT
            .lock()
            .ok()
            .and_then(|r| r.iter().find(|(k, _)| *k == key).cloned())
        {
            return Ok(h);
        }
        let head = self.read_head(commit)?;
        if self.remember_reads {
            self.remember(head.clone());
        }
        Ok(head)
    }

    /// The state at a commit, read from git.
    fn read_head(&self, commit: gix::Commit<'_>) -> Result<Head> {
        let g = self.repo.gix();
        let ctx = || format!("reading {}", self.branch);
        let tree = commit.tree_id().context(ctx)?.detach();
        let read = |path: &str| -> Result<Option<String>> {
            let t = g.find_tree(tree).context(ctx)?;
            match t.lookup_entry_by_path(path).context(ctx)? {
                None => Ok(None),
                Some(entry) => {
                    // The object's buffer becomes the text (a mission file can be megabytes).
                    let data = entry.object().context(ctx)?.detach().data;
                    Ok(Some(String::from_utf8(data).unwrap_or_else(|e| {
                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                    })))
                }
            }
        };
        let text = read(&self.file)?.ok_or_else(|| Error::User {
            message: format!("{} has no {}", self.branch, self.file),
            hint: Some("the integration branch is damaged: inspect it with `git log --stat` (docs/recovery.md)".into()),
        })?;
        let doc = MissionDoc::parse(text).map_err(|d| Error::Invalid {
            file: format!("{}:{}", self.branch, self.file),
            diagnostics: vec![d],
        })?;
        let events_text = read(&self.events_file)?.unwrap_or_default();
        // The log of a state this process knows is most often a prefix of this one: only the
        // lines appended since are parsed.
        let events = match self.known_log(&events_text) {
            Some(known) => events::parse_after(&events_text, &known.events_text, &known.events),
            None => events::parse(&events_text).0,
        };
        Ok(Head {
            commit: commit.id,
            tree,
            doc: doc.into(),
            events: events.into(),
            events_text: events_text.into(),
        })
    }

    /// The state in [`RECENT`] of this mission's files with the longest event log that begins
    /// `text`.
    fn known_log(&self, text: &str) -> Option<Head> {
        let files = recent_files(&self.file, &self.events_file);
        let recent = RECENT.lock().ok()?;
        recent
            .iter()
            .filter(|(k, h)| {
                k.split_once(' ').is_some_and(|(_, f)| f == files)
                    && text.starts_with(&*h.events_text)
            })
            .max_by_key(|(_, h)| h.events_text.len())
            .map(|(_, h)| h.clone())
    }

    /// Keeps the state this process just committed for the reads that follow.
    fn remember(&self, head: Head) {
        let key = recent_key(&head.commit, &self.file, &self.events_file);
        if let Ok(mut r) = RECENT.lock() {
            r.retain(|(k, _)| *k != key);
            if r.len() >= RECENT_STATES {
                r.remove(0);
            }
            r.push((key, head));
        }
    }

    /// Applies again, on the current head, the change a state commit made that is no longer on
    /// the branch (it was committed here but never published, and the remote moved on): a
    /// three-way merge of the mission's fields (a field the commit changed is taken when the
    /// head still has the commit's parent's value), its body, the other files it wrote, and its
    /// events appended with their times. Returns the fields and files left as the head has
    /// them because both sides changed them differently; `None` when the commit is not a
    /// single-parent state commit of this mission (nothing applied).
    pub fn replay(&self, commit: &str) -> Result<Option<Vec<String>>> {
        let parents = crate::git::git(
            &self.repo.root,
            &["rev-list", "--parents", "-n", "1", commit],
        )?;
        let parents: Vec<&str> = parents.split_whitespace().skip(1).collect();
        let [parent] = parents[..] else {
            return Ok(None);
        };
        let (Ok(base), Ok(theirs)) = (self.head_at(parent), self.head_at(commit)) else {
            return Ok(None);
        };
        let added: Vec<Event> = theirs
            .events
            .iter()
            .filter(|e| e.seq > base.last_seq())
            .cloned()
            .collect();
        let changed = crate::git::git(
            &self.repo.root,
            &[
                "diff-tree",
                "-r",
                "--no-renames",
                "--name-only",
                "-z",
                parent,
                commit,
            ],
        )?;
        let others: Vec<String> = changed
            .split('\0')
            .filter(|p| !p.is_empty() && *p != self.file && *p != self.events_file)
            .map(str::to_owned)
            .collect();
        let subject = crate::git::git(&self.repo.root, &["log", "-1", "--format=%s", commit])?;
        let mut conflicts = Vec::new();
        self.mutate(&format!("{} (replayed)", subject.trim()), |tx| {
            conflicts.clear();
            let to_json = |m: &Mission| serde_json::to_value(m).unwrap_or_default();
            let mut ours = to_json(&tx.mission);
            merge3(
                &to_json(base.mission()),
                &to_json(theirs.mission()),
                &mut ours,
                "",
                &mut conflicts,
            );
            match serde_json::from_value::<Mission>(ours) {
                Ok(m) => tx.mission = m,
                Err(e) => conflicts.push(format!("frontmatter ({e})")),
            }
            // The generated blocks are made again from the merged mission at the commit: only
            // what people wrote in the body can conflict.
            let written =
                |d: &MissionDoc| crate::mission::body::without_blocks(d.body(), GENERATED);
            let (b, t, now) = (
                written(&base.doc),
                written(&theirs.doc),
                written(&tx.head.doc),
            );
            if b != t {
                if now == b {
                    tx.body = Some(theirs.doc.body().to_owned());
                } else if now != t {
                    conflicts.push("body".into());
                }
            }
            for path in &others {
                let (b, t) = (self.read_at(&base, path)?, self.read_at(&theirs, path)?);
                let now = self.read_at(tx.head, path)?;
                match t {
                    Some(t) if now == b => tx.files.push((path.clone(), t.into_bytes())),
                    t if now == t => {}
                    _ => conflicts.push(path.clone()),
                }
            }
            // An event the head already has (the same change made again by another writer)
            // is not repeated.
            let key = |e: &Event| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.remove("seq");
                    o.remove("at");
                }
                v
            };
            let known: Vec<serde_json::Value> = tx.head.events.iter().map(key).collect();
            for e in &added {
                if !known.contains(&key(e)) {
                    let mut e = e.clone();
                    e.seq = 0;
                    tx.event(e);
                }
            }
            Ok(true)
        })?;
        Ok(Some(conflicts))
    }

    /// A file of the integration head's tree.
    pub fn read_at(&self, head: &Head, path: &str) -> Result<Option<String>> {
        let g = self.repo.gix();
        let ctx = || format!("reading {path} at {}", self.branch);
        let t = g.find_tree(head.tree).context(ctx)?;
        match t.lookup_entry_by_path(path).context(ctx)? {
            None => Ok(None),
            Some(entry) => Ok(Some(
                entry
                    .object()
                    .context(ctx)?
                    .data
                    .to_str_lossy()
                    .into_owned(),
            )),
        }
    }

    /// Creates the integration branch at `base` (a commit holding the approved mission).
    pub fn create(&self, base: ObjectId) -> Result<bool> {
        match self
            .repo
            .create_ref(&self.refname(), base, "git-mission: start")
        {
            Ok(()) => Ok(true),
            Err(_) if self.head()?.is_some() => Ok(false),
            Err(e) => Err(Error::failed(format!("creating {}", self.branch), e)),
        }
    }

    /// Applies `f` to freshly read state and commits the result with compare-and-swap, in this
    /// machine's turn at the mission's state ([`lock::Turn`]), so local writers wait for each
    /// other instead of losing races. `f` returns `Ok(false)` when there is nothing to do (its
    /// precondition no longer holds); then nothing is committed and `Ok(None)` is returned.
    pub fn mutate(
        &self,
        message: &str,
        mut f: impl FnMut(&mut Tx) -> Result<bool>,
    ) -> Result<Option<Head>> {
        let mut lost = 0;
        let mut locked_for = Duration::ZERO;
        // Writers of this mission on this machine take turns: the head read next is the one
        // the commit finds, unless a writer elsewhere moved it.
        let _turn = lock::Turn::take(&self.turn_file(), TURN_PATIENCE);
        loop {
            let head = self
                .head()?
                .ok_or_else(|| Error::user(format!("mission {} has not started", self.id)))?;
            let mut tx = Tx {
                head: &head,
                mission: head.mission().clone(),
                events: Vec::new(),
                files: Vec::new(),
                base_tree: None,
                extra_parent: None,
                body: None,
                now: self.repo.clock().now_s(),
            };
            if !f(&mut tx)? {
                return Ok(None);
            }
            if lost > 0 {
                tx.events.push(
                    Event::new(Kind::StateRetry)
                        .data(serde_json::json!({ "lost_races": lost, "change": message })),
                );
            }
            crate::fault!("store.before_commit");
            match self.commit(&head, tx, message) {
                Ok(()) => {
                    crate::fault!("store.after_commit");
                    let new = self.head()?;
                    let Some(p) = self.publisher else {
                        return Ok(new);
                    };
                    let new_id = new
                        .as_ref()
                        .map(|h| h.commit.to_string())
                        .unwrap_or_default();
                    if p.publish(&head.commit.to_string(), &new_id)? {
                        return Ok(new);
                    }
                    if lost >= MAX_RETRIES {
                        return Err(StoreError::LostRaces {
                            branch: self.branch.clone(),
                            lost,
                            publishing: true,
                        }
                        .into());
                    }
                    lost += 1;
                    tracing::info!(mission = %self.id, lost, "state.retry: the remote integration head moved; re-applying");
                }
                Err(CommitError::Race) if lost < MAX_RETRIES => {
                    lost += 1;
                    tracing::info!(mission = %self.id, lost, "state.retry: the integration head moved; re-applying");
                    std::thread::sleep(Duration::from_millis(u64::from(lost) * 5));
                }
                Err(CommitError::Race) => {
                    return Err(StoreError::LostRaces {
                        branch: self.branch.clone(),
                        lost,
                        publishing: false,
                    }
                    .into());
                }
                Err(CommitError::Locked) if locked_for < LOCK_PATIENCE => {
                    // Another git process holds the ref's lock file for a moment (a `git
                    // fetch`, `gc`, another commit): wait for it, as git itself would not.
                    let pause = (locked_for / 4)
                        .clamp(Duration::from_millis(20), Duration::from_millis(500));
                    std::thread::sleep(pause);
                    locked_for += pause;
                }
                Err(CommitError::Locked) => {
                    return Err(StoreError::Locked {
                        branch: self.branch.clone(),
                        secs: LOCK_PATIENCE.as_secs(),
                        lock_file: self.lock_file(),
                    }
                    .into());
                }
                Err(CommitError::Other(e)) => return Err(e),
            }
        }
    }

    /// `body` with the generated blocks that show progress made current for `mission`: the
    /// Status block always, the Budget block when the limits are known.
    fn with_blocks(&self, body: &str, mission: &Mission) -> String {
        use crate::mission::body::set_block;
        let b = set_block(
            body,
            "status",
            "Status",
            &crate::mission::blocks::status_block(mission),
        );
        match &self.limits {
            Some(l) => set_block(&b, "budget", "Budget", &crate::budget::block(mission, l)),
            None => b,
        }
    }

    fn commit(&self, head: &Head, tx: Tx, message: &str) -> Result<(), CommitError> {
        let g = self.repo.gix();
        let err = |e: Box<dyn std::error::Error + Send + Sync>| {
            CommitError::Other(Error::failed(format!("committing to {}", self.branch), e))
        };
        let Tx {
            mission,
            mut events,
            files,
            base_tree,
            extra_parent,
            body,
            ..
        } = tx;
        let (text, _) = head.doc.rewrite(&mission);
        let body = self.with_blocks(body.as_deref().unwrap_or(head.doc.body()), &mission);
        // The new state is parsed here, once: it is what the next read of this commit returns.
        let mut doc = MissionDoc::parse(text).map_err(|d| err(d.message.into()))?;
        if body != doc.body() {
            doc = doc.with_new_body(&body);
        }
        let now = self.repo.clock().now_s().to_string();
        let mut log = String::with_capacity(head.events_text.len() + 512 * events.len());
        log.push_str(&head.events_text);
        events::append(&mut log, &mut events, head.last_seq(), &now);
        let mut editor = g
            .edit_tree(base_tree.unwrap_or(head.tree))
            .map_err(|e| err(e.into()))?;
        let mut put = |path: &str, bytes: &[u8]| -> Result<(), CommitError> {
            let blob = g.write_blob(bytes).map_err(|e| err(e.into()))?.detach();
            editor
                .upsert(path, gix::object::tree::EntryKind::Blob, blob)
                .map_err(|e| err(e.into()))?;
            Ok(())
        };
        put(&self.file, doc.text().as_bytes())?;
        put(&self.events_file, log.as_bytes())?;
        for (path, bytes) in &files {
            put(path, bytes)?;
        }
        let tree = editor.write().map_err(|e| err(e.into()))?.detach();
        let sig = self.repo.signature();
        let mut buf = gix::date::parse::TimeBuf::default();
        let sig_ref = sig.to_ref(&mut buf);
        let mut parents = vec![head.commit];
        parents.extend(extra_parent);
        match g.commit_as(
            sig_ref,
            sig_ref,
            self.refname().as_str(),
            message,
            tree,
            parents,
        ) {
            Ok(id) => {
                let mut all = Vec::with_capacity(head.events.len() + events.len());
                all.extend(head.events.iter().cloned());
                all.extend(events);
                self.remember(Head {
                    commit: id.detach(),
                    tree,
                    doc: doc.into(),
                    events: all.into(),
                    events_text: log.into(),
                });
                Ok(())
            }
            Err(e) => {
                // Distinguish a moved ref (lost race) and a held lock from real failures.
                match self.head() {
                    Ok(Some(h)) if h.commit != head.commit => Err(CommitError::Race),
                    _ if self.lock_file().exists() => Err(CommitError::Locked),
                    _ => Err(err(e.into())),
                }
            }
        }
    }
}

/// Writes a commit on top of `parent` that replaces one file with `bytes`, without a work
/// tree and without updating any ref (the caller pushes it); returns its id. The author and
/// committer are the supervisor's identity.
pub fn commit_file(
    repo: &Repo,
    parent: &str,
    path: &str,
    bytes: &[u8],
    message: &str,
) -> Result<String> {
    let g = repo.gix();
    let ctx = || format!("committing {path}");
    let parent = ObjectId::from_hex(parent.as_bytes()).context(ctx)?;
    let tree = g
        .find_commit(parent)
        .context(ctx)?
        .tree_id()
        .context(ctx)?
        .detach();
    let blob = g.write_blob(bytes).context(ctx)?.detach();
    let mut editor = g.edit_tree(tree).context(ctx)?;
    editor
        .upsert(path, gix::object::tree::EntryKind::Blob, blob)
        .context(ctx)?;
    let tree = editor.write().context(ctx)?.detach();
    let sig = repo.signature();
    let mut buf = gix::date::parse::TimeBuf::default();
    let sig_ref = sig.to_ref(&mut buf);
    let commit = g
        .new_commit_as(sig_ref, sig_ref, message, tree, [parent])
        .context(ctx)?;
    Ok(commit.id.to_string())
}

/// Three-way merge of JSON values: where `theirs` changed `base`, `ours` takes the change if it
/// still has the base's value; objects merge key by key, arrays of objects with an `id` item by
/// item (an item only `theirs` added is appended). Anything else both sides changed
/// differently stays `ours` and is named in `conflicts`.
fn merge3(
    base: &serde_json::Value,
    theirs: &serde_json::Value,
    ours: &mut serde_json::Value,
    path: &str,
    conflicts: &mut Vec<String>,
) {
    use serde_json::Value;
    if base == theirs || ours == theirs {
        return;
    }
    if ours == base {
        *ours = theirs.clone();
        return;
    }
    let at = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match (base, theirs, ours) {
        (Value::Object(b), Value::Object(t), Value::Object(o)) => {
            let null = Value::Null;
            let keys: std::collections::BTreeSet<String> =
                b.keys().chain(t.keys()).cloned().collect();
            for k in keys {
                let (bk, tk) = (b.get(&k).unwrap_or(&null), t.get(&k).unwrap_or(&null));
                if bk == tk {
                    continue;
                }
                let had = o.contains_key(&k);
                let ok = o.entry(k.clone()).or_insert(Value::Null);
                merge3(bk, tk, ok, &at(&k), conflicts);
                if ok.is_null() && (!had || !t.contains_key(&k)) {
                    o.remove(&k);
                }
            }
        }
        (Value::Array(b), Value::Array(t), Value::Array(o))
            if [b, t, &*o]
                .iter()
                .all(|a| a.iter().all(|v| v["id"].is_string())) =>
        {
            let find = |a: &[Value], id: &Value| a.iter().position(|v| v["id"] == *id);
            for tv in t {
                let id = &tv["id"];
                match (find(b, id), find(o, id)) {
                    (Some(bi), Some(oi)) => {
                        let label = at(id.as_str().unwrap_or("?"));
                        merge3(&b[bi], tv, &mut o[oi], &label, conflicts);
                    }
                    (None, None) => o.push(tv.clone()),
                    (None, Some(oi)) if o[oi] != *tv => {
                        conflicts.push(at(id.as_str().unwrap_or("?")));
                    }
                    _ => {}
                }
            }
        }
        _ => conflicts.push(if path.is_empty() {
            "frontmatter".into()
        } else {
            path.to_owned()
        }),
    }
}

enum CommitError {
    Race,
    /// The ref's lock file is held by another process.
    Locked,
    Other(Error),
}

#[cfg(test)]
mod store_tests {
    use super::*;
    use crate::env::Env;
    use crate::mission::FeatureStatus;
    use std::cell::Cell;
    use std::sync::Arc;
    use std::time::Instant;

    const AT: &str = "2026-01-01T00:00:00Z";

    /// A repository whose mission `demo` has started (its branch made at the approved file).
    fn started(vars: &[(&str, &str)]) -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        let git = |args: &[&str]| crate::git::git(root, args).expect("git");
        git(&["init", "-q", "-b", "main"]);
        git(&["config", "user.name", "T"]);
        git(&["config", "user.email", "t@example.com"]);
        let text = include_str!("../../templates/demo/mission.md")
            .replace("status: draft", "status: running");
        std::fs::create_dir_all(root.join("todo/missions")).expect("mkdir");
        std::fs::write(root.join("todo/missions/demo-mission.md"), text).expect("write");
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "plan"]);
        let env = Env::fixed(vars, AT.parse().expect("time"), std::time::Instant::now);
        let repo = Repo::discover(root, Arc::new(env)).expect("repo");
        let base = repo.branch_head("main").expect("head").expect("main");
        let store = Store::new(&repo, "demo");
        assert!(store.create(base.parse().expect("oid")).expect("create"));
        (dir, repo)
    }

    #[test]
    fn the_state_a_commit_keeps_for_the_next_read_is_what_git_reads() {
        let (_d, repo) = started(&[]);
        let store = Store::new(&repo, "demo").keeping_budget(crate::mission::Budget::default());
        for round in 0..3 {
            let made = store
                .mutate("change", |tx| {
                    let f = tx.mission.milestones[0].features[0].clone();
                    tx.mission.milestones[0].features[0].status = if round == 1 {
                        FeatureStatus::Pending
                    } else {
                        FeatureStatus::Running
                    };
                    tx.mission.title = format!("{} {round}", tx.mission.title);
                    tx.event(Event::new(Kind::FeatureDispatched).feature(&f.id).data(
                        serde_json::json!({ "round": round, "x": 0.1, "big": u64::MAX, "s": "é\n\"" }),
                    ));
                    Ok(true)
                })
                .expect("mutate")
                .expect("committed");
            let kept = store.head().expect("head").expect("started");
            assert_eq!(kept.commit, made.commit);
            assert!(
                Arc::ptr_eq(&kept.doc, &made.doc),
                "the read comes from the kept state"
            );
            let g = repo.gix();
            let fresh = store
                .read_head(g.find_commit(kept.commit).expect("commit"))
                .expect("read");
            assert_eq!(kept.tree, fresh.tree);
            assert_eq!(kept.doc.text(), fresh.doc.text());
            assert_eq!(kept.doc.mission, fresh.doc.mission);
            assert_eq!(kept.doc.body(), fresh.doc.body());
            assert_eq!(kept.doc.frontmatter(), fresh.doc.frontmatter());
            assert_eq!(*kept.events, *fresh.events);
            assert_eq!(kept.events_text, fresh.events_text);
        }
    }

    #[test]
    fn a_remembering_store_reads_a_head_once_and_a_one_shot_reader_owns_what_it_reads() {
        let (_d, repo) = started(&[]);
        // A commit made by another process: git moves the branch, this process never wrote it.
        let base = repo
            .branch_head("mission/demo")
            .expect("head")
            .expect("branch");
        let moved =
            crate::store::commit_file(&repo, &base, "note.txt", b"x", "elsewhere").expect("commit");
        crate::git::git(
            &repo.root,
            &["update-ref", "refs/heads/mission/demo", &moved, &base],
        )
        .expect("move");
        let one_shot = Store::new(&repo, "demo");
        let (a, b) = (one_shot.head().expect("a"), one_shot.head().expect("b"));
        let (a, b) = (a.expect("started"), b.expect("started"));
        assert!(!Arc::ptr_eq(&a.doc, &b.doc), "each read is its own");
        let pulse = Store::new(&repo, "demo").remembering();
        let (c, d) = (pulse.head().expect("c"), pulse.head().expect("d"));
        let (c, d) = (c.expect("started"), d.expect("started"));
        assert_eq!(c.commit.to_string(), moved);
        assert!(
            Arc::ptr_eq(&c.doc, &d.doc),
            "the second read is the first's"
        );
    }

    fn kinds(store: &Store) -> Vec<Kind> {
        let head = store.head().expect("head").expect("started");
        head.events.iter().map(|e| e.kind.clone()).collect()
    }

    fn commit_time(repo: &Repo, rev: &str) -> String {
        crate::git::git(&repo.root, &["log", "-1", "--format=%ct", rev])
            .expect("log")
            .trim()
            .to_owned()
    }

    #[test]
    fn each_commit_keeps_the_status_block_and_a_store_with_limits_the_budget_block() {
        let (_dir, repo) = started(&[]);
        let block = |store: &Store, name: &str| {
            let head = store.head().expect("head").expect("started");
            let body = head.doc.body();
            crate::mission::body::block_range(body, name).map(|r| body[r].to_owned())
        };
        let store = Store::new(&repo, "demo");
        store
            .mutate("F1 merged", |tx| {
                tx.mission.feature_mut("F1").expect("F1").status = FeatureStatus::Merged;
                tx.mission.spent.add_run(Some(1.5), 1000, 60_000);
                Ok(true)
            })
            .expect("mutate");
        let status = block(&store, "status").expect("status block");
        assert!(status.contains("| M1 | 1/3 merged |"), "{status}");
        assert!(
            status.contains("F1[\"F1 A greeting (merged)\"]"),
            "{status}"
        );
        // No limits given: the Budget block is left as the file had it (none).
        assert_eq!(block(&store, "budget"), None);
        let limits = crate::mission::Budget {
            usd: Some(10.0),
            ..Default::default()
        };
        let store = Store::new(&repo, "demo").keeping_budget(limits);
        let before = store.head().expect("head").expect("started").commit;
        store
            .mutate("F2 merged", |tx| {
                tx.mission.feature_mut("F2").expect("F2").status = FeatureStatus::Merged;
                Ok(true)
            })
            .expect("mutate");
        let budget = block(&store, "budget").expect("budget block");
        assert!(budget.contains("| USD | 1.50 | 10.00 |"), "{budget}");
        assert!(budget.contains("Still to go"), "{budget}");
        // A commit that changes nothing the blocks show leaves the body alone.
        let body = |rev: &str| {
            crate::git::git(
                &repo.root,
                &["show", &format!("{rev}:todo/missions/demo-mission.md")],
            )
            .expect("show")
        };
        store
            .mutate("an event only", |tx| {
                tx.event(Event::new(Kind::StateRepaired));
                Ok(true)
            })
            .expect("mutate");
        let after = store.head().expect("head").expect("started").commit;
        assert_ne!(before, after);
        let now = body(&after.to_string());
        let prev = body(&format!("{after}~1"));
        assert_eq!(now, prev);
    }

    #[test]
    fn a_mutation_is_one_commit_made_at_the_clocks_time_with_its_events() {
        let (_dir, repo) = started(&[]);
        let store = Store::new(&repo, "demo");
        let before = store.head().expect("head").expect("started").commit;
        let head = store
            .mutate("pause", |tx| {
                tx.mission.status = crate::mission::MissionStatus::Paused;
                tx.event(Event::new(Kind::MissionPaused));
                Ok(true)
            })
            .expect("mutate")
            .expect("changed");
        assert_eq!(head.mission().status, crate::mission::MissionStatus::Paused);
        assert_eq!(head.events.len(), 1);
        assert_eq!((head.events[0].seq, head.events[0].at.as_str()), (1, AT));
        let parent = crate::git::git(&repo.root, &["rev-parse", "mission/demo^"]).expect("parent");
        assert_eq!(
            parent.trim(),
            before.to_string(),
            "one commit on the head it read"
        );
        let at: jiff::Timestamp = AT.parse().expect("time");
        assert_eq!(
            commit_time(&repo, "mission/demo"),
            at.as_second().to_string()
        );
        // A change that decides to do nothing commits nothing.
        assert!(
            store
                .mutate("noop", |_| Ok(false))
                .expect("mutate")
                .is_none()
        );
        assert_eq!(store.head().expect("head").expect("h").commit, head.commit);
    }

    #[test]
    fn git_committer_date_dates_the_commits() {
        let (_dir, repo) = started(&[("GIT_COMMITTER_DATE", "@1700000000 +0000")]);
        let store = Store::new(&repo, "demo");
        store
            .mutate("pause", |tx| {
                tx.event(Event::new(Kind::MissionPaused));
                Ok(true)
            })
            .expect("mutate");
        assert_eq!(commit_time(&repo, "mission/demo"), "1700000000");
    }

    #[test]
    fn a_lost_race_is_applied_again_on_the_new_head_and_logged() {
        let (_dir, repo) = started(&[]);
        let store = Store::new(&repo, "demo");
        let other = Store::new(&repo, "demo");
        let calls = Cell::new(0);
        store
            .mutate("steer F1", |tx| {
                calls.set(calls.get() + 1);
                if calls.get() == 1 {
                    // Another writer commits between this read and this commit.
                    other
                        .mutate("pause", |tx| {
                            tx.event(Event::new(Kind::MissionPaused));
                            Ok(true)
                        })
                        .expect("other");
                }
                tx.event(Event::new(Kind::FeatureSteered).feature("F1"));
                Ok(true)
            })
            .expect("mutate");
        assert_eq!(
            calls.get(),
            2,
            "the race happened and the change was re-applied"
        );
        assert_eq!(
            kinds(&store),
            [Kind::MissionPaused, Kind::FeatureSteered, Kind::StateRetry]
        );
    }

    #[test]
    fn writers_on_one_machine_take_turns_instead_of_racing() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let (dir, repo) = started(&[]);
        let store = Store::new(&repo, "demo");
        let waits_before = lock::TURN_WAITS.load(Ordering::SeqCst);
        let (ours, theirs) = (Cell::new(0), AtomicU32::new(0));
        std::thread::scope(|s| {
            store
                .mutate("pause", |tx| {
                    ours.set(ours.get() + 1);
                    if ours.get() == 1 {
                        // Another writer of this machine (its own repository handle, as in
                        // another process) wants the state now, and must wait for this turn.
                        s.spawn(|| {
                            let env = Env::fixed(&[], AT.parse().expect("time"), Instant::now);
                            let other = Repo::discover(dir.path(), Arc::new(env)).expect("repo");
                            Store::new(&other, "demo")
                                .mutate("steer F1", |tx| {
                                    theirs.fetch_add(1, Ordering::SeqCst);
                                    tx.event(Event::new(Kind::FeatureSteered).feature("F1"));
                                    Ok(true)
                                })
                                .expect("other");
                        });
                        let deadline = Instant::now() + Duration::from_secs(20);
                        while lock::TURN_WAITS.load(Ordering::SeqCst) == waits_before {
                            assert!(
                                Instant::now() < deadline,
                                "the other writer never waited for this one's turn"
                            );
                            std::thread::yield_now();
                        }
                    }
                    tx.event(Event::new(Kind::MissionPaused));
                    Ok(true)
                })
                .expect("mutate");
        });
        // Each change applied once, on the state the other left: no lost race, no retry.
        assert_eq!((ours.get(), theirs.load(Ordering::SeqCst)), (1, 1));
        assert_eq!(kinds(&store), [Kind::MissionPaused, Kind::FeatureSteered]);
    }

    /// A remote that refuses the first push (someone else pushed) the way the GitHub forge
    /// does: the local branch goes back to where it was, and the caller re-applies.
    struct RefusesOnce<'a> {
        repo: &'a Repo,
        pushed: Cell<u32>,
    }

    impl Publish for RefusesOnce<'_> {
        fn publish(&self, old: &str, new: &str) -> Result<bool> {
            self.pushed.set(self.pushed.get() + 1);
            if self.pushed.get() > 1 {
                return Ok(true);
            }
            crate::git::git(
                &self.repo.root,
                &["update-ref", "refs/heads/mission/demo", old, new],
            )?;
            Ok(false)
        }
    }

    #[test]
    fn a_refused_publish_is_undone_here_and_applied_again() {
        let (_dir, repo) = started(&[]);
        let remote = RefusesOnce {
            repo: &repo,
            pushed: Cell::new(0),
        };
        let store = Store::new(&repo, "demo").publishing(&remote);
        let calls = Cell::new(0);
        store
            .mutate("pause", |tx| {
                calls.set(calls.get() + 1);
                tx.event(Event::new(Kind::MissionPaused));
                Ok(true)
            })
            .expect("mutate");
        assert_eq!((calls.get(), remote.pushed.get()), (2, 2));
        // Nothing of the refused commit is kept: one pause, then the retry's record.
        assert_eq!(kinds(&store), [Kind::MissionPaused, Kind::StateRetry]);
    }
}

#[cfg(test)]
mod tests {
    use super::merge3;
    use serde_json::json;

    fn merged(
        base: serde_json::Value,
        theirs: serde_json::Value,
        ours: serde_json::Value,
    ) -> (serde_json::Value, Vec<String>) {
        let mut ours = ours;
        let mut conflicts = Vec::new();
        merge3(&base, &theirs, &mut ours, "", &mut conflicts);
        (ours, conflicts)
    }

    #[test]
    fn a_change_only_the_replayed_commit_made_is_taken() {
        let base = json!({"status": "running", "milestones": [{"id": "M1", "features": [
            {"id": "F1", "status": "running"}, {"id": "F2", "status": "pending"}]}]});
        // The dropped commit recorded F1's run; the remote meanwhile dispatched F2.
        let theirs = json!({"status": "running", "milestones": [{"id": "M1", "features": [
            {"id": "F1", "status": "review", "attempts": 1}, {"id": "F2", "status": "pending"}]}]});
        let ours = json!({"status": "running", "milestones": [{"id": "M1", "features": [
            {"id": "F1", "status": "running"}, {"id": "F2", "status": "running"}]}]});
        let (m, conflicts) = merged(base, theirs, ours);
        assert!(conflicts.is_empty(), "{conflicts:?}");
        assert_eq!(
            m,
            json!({"status": "running", "milestones": [{"id": "M1", "features": [
                {"id": "F1", "status": "review", "attempts": 1},
                {"id": "F2", "status": "running"}]}]})
        );
    }

    #[test]
    fn both_sides_changing_a_field_keeps_the_remote_and_names_it() {
        let base = json!({"status": "running", "budget": {"usd": 1}});
        let theirs = json!({"status": "paused", "budget": {"usd": 2}});
        let ours = json!({"status": "cancelled", "budget": {"usd": 1}});
        let (m, conflicts) = merged(base, theirs, ours);
        assert_eq!(m, json!({"status": "cancelled", "budget": {"usd": 2}}));
        assert_eq!(conflicts, vec!["status".to_owned()]);
    }

    #[test]
    fn items_added_and_fields_removed_follow_the_replayed_commit() {
        let base = json!({"features": [{"id": "F1"}], "pr": 3});
        let theirs = json!({"features": [{"id": "F1"}, {"id": "F2"}]});
        let ours = json!({"features": [{"id": "F1", "x": 1}], "pr": 3});
        let (m, conflicts) = merged(base, theirs, ours);
        assert!(conflicts.is_empty(), "{conflicts:?}");
        assert_eq!(m, json!({"features": [{"id": "F1", "x": 1}, {"id": "F2"}]}));
    }
}
