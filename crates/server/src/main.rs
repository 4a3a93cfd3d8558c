// Requests allocate many small, short-lived values on every worker thread;
// mimalloc's per-thread heaps take those without the contention glibc's
// allocator shows under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    basalt_server::cli::run()
}
