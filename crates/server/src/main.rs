fn main() -> std::process::ExitCode {
    basalt_server::cli::run()
}
