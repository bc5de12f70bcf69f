//! The `trawl` command: see `trawl --help`.

use std::process::ExitCode;

use clap::Parser;

/// Arrow buffers are large and short-lived; glibc's allocator hands each one
/// fresh pages from the kernel (zeroed, faulted in), mimalloc reuses them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc returns freed pages to the kernel after 10 ms. trawl frees and
/// reallocates Arrow buffers of the same sizes every few milliseconds, so
/// the kernel would fault in and zero fresh pages for every batch (a sixth
/// of the decoding time, measured). Keep freed pages for reuse instead: the
/// peak stays what the working set needs.
fn keep_freed_pages() {
    /// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3).
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a process-wide allocator option, before any other thread
    // exists; `mi_option_set` has no other precondition.
    #[expect(unsafe_code, reason = "allocator tuning through mimalloc's C API")]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

fn main() -> ExitCode {
    keep_freed_pages();
    let cli = trawl_pipelines::cli::Cli::parse();
    match trawl_pipelines::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("trawl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
