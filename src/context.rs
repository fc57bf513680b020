//! The effect context: what the code that carries out a pulse's actions needs (the
//! workspace, the store, the run layout, the configuration, the forge and what it saw). It is
//! defined here, below every module that acts with it (pulse execution, both forges'
//! executors, validation, the orchestrator, validators), so none of them imports another's.

use std::path::PathBuf;
use std::process::Child;

use crate::config::Config;
use crate::runs::Layout;
use crate::store::Store;
use crate::workspace::Workspace;

/// What executing an action needs.
pub struct Exec<'a> {
    pub ws: &'a Workspace,
    pub store: &'a Store<'a>,
    pub layout: &'a Layout,
    pub config: &'a Config,
    /// The `git-mission` executable, for detached workers.
    pub exe: PathBuf,
    /// Workers started by this process (so `run` wakes when one exits).
    pub children: Vec<(String, Child)>,
    /// `forge: github`: the client and what this pulse's query saw.
    pub forge: Option<&'a crate::forge::github::Forge>,
    pub view: Option<&'a crate::forge::github::View>,
}
