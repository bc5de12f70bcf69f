//! `trawl cat`: decode traces and print their events.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::cat_live::{self, LiveCat};
use trawl_core::{Message, Source};
use trawl_source_lttng::format::{DiscardedNotice, JsonFormatter, PrettyFormatter, trace_name};
use trawl_source_lttng::live::{Seek, SessionNotFoundAction};
use trawl_source_lttng::trace_dir::{
    EventMerger, LossKind, LossNotice, MergedItem, Trace, TraceDirSourceBuilder, open_traces,
};

/// Arguments of `trawl cat`.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// Trace directories, or directories holding traces at any depth; or
    /// live sessions, `net://RELAY[:PORT]/host/HOSTNAME/SESSION` (one or
    /// more, from one or several relay daemons).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Live sessions: what to do when a session does not exist (yet).
    #[arg(long, value_enum, default_value_t = NotFound::Continue, value_name = "ACTION")]
    pub session_not_found_action: NotFound,
    /// Live sessions: start with the oldest data the relay has, instead of
    /// only what is recorded from now on (babeltrace2's behaviour).
    #[arg(long)]
    pub from_beginning: bool,
}

/// What `trawl cat` does when a live session does not exist
/// (babeltrace2's `session-not-found-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotFound {
    /// Wait for it (and for a new session of that name after it ends).
    Continue,
    /// Exit with an error.
    Fail,
    /// Exit quietly.
    End,
}

/// How `trawl cat` prints events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// babeltrace2's default text format, one line per event.
    Text,
    /// One JSON object per line per event (envelope columns, then fields).
    Json,
    /// Decode into Arrow batches only; print counts to stderr.
    None,
}

pub(super) fn run(args: CatArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if let Some(urls) = super::live_urls(&args.inputs)? {
        return cat_live::run(LiveCat {
            urls,
            format: args.format,
            seek: if args.from_beginning {
                Seek::Beginning
            } else {
                Seek::Last
            },
            not_found: match args.session_not_found_action {
                NotFound::Continue => SessionNotFoundAction::Continue,
                NotFound::Fail => SessionNotFoundAction::Fail,
                NotFound::End => SessionNotFoundAction::End,
            },
        });
    }
    match args.format {
        OutputFormat::None => count(args.inputs),
        format => print(args.inputs, format),
    }
}

/// Event-by-event merge across every stream, printed as text or JSON.
fn print(
    inputs: Vec<PathBuf>,
    format: OutputFormat,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let opened = open_traces(&inputs)?;
    let mut failed = !opened.failed.is_empty();
    for e in &opened.failed {
        eprintln!("trawl: error: {e}");
    }
    if opened.traces.is_empty() {
        return Ok(ExitCode::from(1));
    }
    let mut merger = EventMerger::new(opened.traces)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut pretty = PrettyFormatter::new().local_time();
    let mut json = JsonFormatter::new();
    let mut line = Vec::with_capacity(1024);
    while let Some(item) = merger.next_item()? {
        line.clear();
        match item {
            MergedItem::Event(ev) => {
                let class = ev.trace.class();
                match format {
                    OutputFormat::Json => json.write_event(&mut line, class, ev.batch, ev.row)?,
                    _ => pretty.write_event(
                        &mut line,
                        class,
                        ev.stream_class_id,
                        ev.event_class_id,
                        ev.batch,
                        ev.row,
                    )?,
                }
                out.write_all(&line)?;
                let warning = pretty.take_stderr();
                if !warning.is_empty() {
                    out.flush()?;
                    std::io::stderr().write_all(&warning)?;
                }
            }
            MergedItem::Loss(loss) => {
                // babeltrace2 writes these notices to stderr.
                let note = loss_notice(&mut pretty, merger.traces(), &loss);
                out.flush()?;
                std::io::stderr().write_all(&note)?;
            }
            MergedItem::Error(e) => {
                failed = true;
                out.flush()?;
                eprintln!("trawl: error: {e}");
            }
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// babeltrace2's notice of a loss.
fn loss_notice(pretty: &mut PrettyFormatter, traces: &[Trace], loss: &LossNotice) -> Vec<u8> {
    let trace = &traces[loss.trace];
    let name = trace_name(trace.class(), &trace.relative);
    let path = absolute_lexical(&loss.stream);
    let path = path.to_string_lossy();
    let notice = DiscardedNotice {
        trace_name: &name,
        trace_uuid: trace.class().uuid,
        stream_path: &path,
        stream_class_id: loss.stream_class_id,
        stream_id: Some(loss.stream_id),
        count: Some(loss.count),
        range: loss.range,
    };
    let mut out = Vec::new();
    match loss.kind {
        LossKind::DiscardedEvents => pretty.write_discarded_events(&mut out, &notice),
        LossKind::LostPackets => pretty.write_discarded_packets(&mut out, &notice),
    }
    out
}

/// The absolute form of `path` with `.` and `..` folded away without
/// resolving symlinks, as babeltrace2 names stream files.
fn absolute_lexical(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Decode into Arrow batches through the pipeline source; counts to stderr.
fn count(inputs: Vec<PathBuf>) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut source = TraceDirSourceBuilder::new(inputs).build()?;
    let live = std::io::stderr().is_terminal();
    let mut last_report = Instant::now();
    let (mut events, mut batches, mut discarded, mut lost_packets, mut watermarks) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut errors = 0usize;
    while let Some(msg) = source.next_message()? {
        match msg {
            Message::Events(b) => {
                events += b.batch.num_rows() as u64;
                batches += 1;
            }
            Message::Loss(l) => {
                discarded += l.events_discarded;
                lost_packets += l.packets_lost;
            }
            Message::Watermark(_) => watermarks += 1,
            Message::Containers(_) => {}
        }
        for e in source.take_errors() {
            errors += 1;
            eprintln!("trawl: error: {e}");
        }
        if live && last_report.elapsed() > Duration::from_millis(250) {
            last_report = Instant::now();
            eprint!("\r{events} events decoded ...");
        }
    }
    for e in source.take_errors() {
        errors += 1;
        eprintln!("trawl: error: {e}");
    }
    let secs = started.elapsed().as_secs_f64();
    if live {
        eprint!("\r");
    }
    eprintln!(
        "{events} events in {batches} batches, {watermarks} watermarks; \
         {discarded} events discarded, {lost_packets} packets lost; {errors} errors; \
         {secs:.3} s ({:.0} events/s)",
        events as f64 / secs.max(1e-9)
    );
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
