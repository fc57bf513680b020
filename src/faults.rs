//! Fault points for the crash tests (built only with the `failpoints` feature). A point named
//! by `GIT_MISSION_FAULT` panics — the panic hook then exits 255 at once, like a kill. With
//! `GIT_MISSION_FAULT_ONCE=<file>`, only the first process to reach it (of all those that
//! inherited the setting: the supervisor and its detached workers) crashes: it creates the
//! file, and the others find it there. (The `fail` crate counts per process, which would crash
//! every worker a supervisor starts.)

/// Crashes here if this is the point asked for.
pub fn hit(name: &str) {
    if std::env::var("GIT_MISSION_FAULT").as_deref() != Ok(name) {
        return;
    }
    if let Ok(marker) = std::env::var("GIT_MISSION_FAULT_ONCE") {
        let first = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
            .is_ok();
        if !first {
            return;
        }
    }
    panic!("fault point {name} hit");
}
