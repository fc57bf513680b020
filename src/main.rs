fn main() -> std::process::ExitCode {
    git_mission::cli::run()
}
