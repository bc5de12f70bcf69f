//! `trawl cat net://...`: events of live relay sessions, merged by time.
//!
//! Rows come from the live source stream by stream; an event is printed once
//! every trace's watermark has passed it, so lines come out in time order
//! across streams, traces and relays, ordered on ties like the directory
//! merge (trace UUID, stream class, stream, event class, stream order).
//! At the end of the sessions (or on Ctrl-C) the rest is printed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use trawl_core::Loss;
use trawl_source_lttng::format::{JsonFormatter, PrettyFormatter};
use trawl_source_lttng::live::{
    LiveOutput, LiveSource, LiveSourceBuilder, LiveUrl, Seek, SessionNotFoundAction, StreamRows,
};

use super::cat::OutputFormat;

/// What `trawl cat` needs to read live sessions.
pub(super) struct LiveCat {
    pub urls: Vec<LiveUrl>,
    pub format: OutputFormat,
    pub seek: Seek,
    pub not_found: SessionNotFoundAction,
}

pub(super) fn run(opts: LiveCat) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let source = LiveSourceBuilder::new(opts.urls)
            .seek(opts.seek)
            .session_not_found(opts.not_found)
            .track_order(opts.format != OutputFormat::None)
            .start();
        let mut printer = Printer::new(opts.format);
        let result = pump(source, &mut printer).await;
        printer.finish()?;
        result?;
        Ok(if printer.warnings > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Feeds the printer until the sessions end or Ctrl-C.
async fn pump(
    mut source: LiveSource,
    printer: &mut Printer,
) -> Result<(), Box<dyn std::error::Error>> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let result = loop {
        tokio::select! {
            output = source.next_output() => match output {
                Ok(Some(output)) => {
                    if let Err(e) = printer.take(output) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.into()),
            },
            _ = &mut ctrl_c => break Ok(()),
        }
    };
    // Detach from the relays before leaving.
    source.close().await;
    result
}

/// A pending event: its merge key and where its row is.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    ts: i64,
    /// Traces with a UUID first, as babeltrace2's muxer orders them.
    uuid: (bool, [u8; 16]),
    stream_class_id: u64,
    stream_id: u64,
    event_class_id: u64,
    /// Arrival order: keeps each stream's own order on equal keys.
    seq: u64,
    chunk: u64,
    /// Position in the chunk's stream order.
    at: u32,
}

/// Rows of one stream waiting to be printed, and how many are left.
struct Chunk {
    rows: StreamRows,
    left: usize,
}

struct Printer {
    format: OutputFormat,
    heap: BinaryHeap<Reverse<Pending>>,
    chunks: HashMap<u64, Chunk>,
    next_chunk: u64,
    seq: u64,
    /// Latest watermark per (host, domain).
    marks: BTreeMap<(String, String), i64>,
    out: std::io::BufWriter<std::io::Stdout>,
    pretty: PrettyFormatter,
    json: JsonFormatter,
    line: Vec<u8>,
    events: u64,
    warnings: u64,
    progress: Option<Instant>,
}

impl Printer {
    fn new(format: OutputFormat) -> Self {
        Printer {
            format,
            heap: BinaryHeap::new(),
            chunks: HashMap::new(),
            next_chunk: 0,
            seq: 0,
            marks: BTreeMap::new(),
            out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            pretty: PrettyFormatter::new().local_time(),
            json: JsonFormatter::new(),
            line: Vec::with_capacity(1024),
            events: 0,
            warnings: 0,
            progress: (format == OutputFormat::None && std::io::stderr().is_terminal())
                .then(Instant::now),
        }
    }

    fn take(&mut self, output: LiveOutput) -> Result<(), Box<dyn std::error::Error>> {
        match output {
            LiveOutput::Rows(rows) => self.queue(rows),
            LiveOutput::Watermark(w) => {
                self.marks.insert((w.host, w.domain), w.ts);
                // Every trace heard from so far has passed this point.
                if let Some(&bound) = self.marks.values().min() {
                    self.print_before(bound)?;
                }
            }
            LiveOutput::Loss(loss) => {
                self.out.flush()?;
                eprintln!("trawl: warning: {}", describe_loss(&loss));
            }
            LiveOutput::Warning(w) => {
                self.warnings += 1;
                self.out.flush()?;
                eprintln!("trawl: warning: {w}");
            }
        }
        Ok(())
    }

    fn queue(&mut self, rows: StreamRows) {
        let n = rows.events.order.len();
        if self.format == OutputFormat::None {
            self.events += rows
                .events
                .batches
                .iter()
                .map(|b| b.num_rows() as u64)
                .sum::<u64>();
            self.report_progress();
            return;
        }
        if n == 0 {
            return;
        }
        let id = self.next_chunk;
        self.next_chunk += 1;
        let uuid = match rows.class.uuid {
            Some(u) => (false, u),
            None => (true, [0; 16]),
        };
        for (at, &(batch, row)) in rows.events.order.iter().enumerate() {
            let b = &rows.events.batches[batch as usize];
            let ts = b
                .column(0)
                .as_primitive::<TimestampNanosecondType>()
                .value(row as usize);
            self.heap.push(Reverse(Pending {
                ts,
                uuid,
                stream_class_id: rows.stream_class_id,
                stream_id: rows.stream_id,
                event_class_id: rows.events.event_class_ids[batch as usize],
                seq: self.seq,
                chunk: id,
                at: at as u32,
            }));
            self.seq += 1;
        }
        self.chunks.insert(id, Chunk { rows, left: n });
    }

    /// Prints every pending event older than `bound`.
    fn print_before(&mut self, bound: i64) -> Result<(), Box<dyn std::error::Error>> {
        while let Some(Reverse(next)) = self.heap.peek() {
            if next.ts >= bound {
                break;
            }
            let Some(Reverse(next)) = self.heap.pop() else {
                break;
            };
            self.print(&next)?;
        }
        Ok(())
    }

    fn print(&mut self, p: &Pending) -> Result<(), Box<dyn std::error::Error>> {
        let Some(chunk) = self.chunks.get_mut(&p.chunk) else {
            return Ok(());
        };
        let rows = &chunk.rows;
        let (batch, row) = rows.events.order[p.at as usize];
        let batch_ref = &rows.events.batches[batch as usize];
        self.line.clear();
        match self.format {
            OutputFormat::Json => {
                self.json
                    .write_event(&mut self.line, &rows.class, batch_ref, row as usize)?
            }
            _ => self.pretty.write_event(
                &mut self.line,
                &rows.class,
                rows.stream_class_id,
                p.event_class_id,
                batch_ref,
                row as usize,
            )?,
        }
        self.out.write_all(&self.line)?;
        self.events += 1;
        let warning = self.pretty.take_stderr();
        if !warning.is_empty() {
            self.out.flush()?;
            std::io::stderr().write_all(&warning)?;
        }
        chunk.left -= 1;
        if chunk.left == 0 {
            self.chunks.remove(&p.chunk);
        }
        Ok(())
    }

    fn report_progress(&mut self) {
        if let Some(last) = self.progress
            && last.elapsed() > Duration::from_millis(250)
        {
            self.progress = Some(Instant::now());
            eprint!("\r{} events decoded ...", self.events);
        }
    }

    /// Prints what is left (the sessions ended, or Ctrl-C).
    fn finish(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        while let Some(Reverse(p)) = self.heap.pop() {
            self.print(&p)?;
        }
        self.out.flush()?;
        if self.format == OutputFormat::None {
            if self.progress.is_some() {
                eprint!("\r");
            }
            eprintln!("{} events", self.events);
        }
        Ok(())
    }
}

/// One line about a loss.
fn describe_loss(loss: &Loss) -> String {
    let mut what = Vec::new();
    if loss.events_discarded > 0 {
        what.push(format!(
            "{} events discarded by the tracer",
            loss.events_discarded
        ));
    }
    if loss.packets_lost > 0 {
        what.push(format!("{} packets lost", loss.packets_lost));
    }
    if what.is_empty() {
        what.push(
            "data of unknown size lost (the stream did not come back after a reconnection)".into(),
        );
    }
    let range = match (loss.from_ts, loss.to_ts) {
        (Some(a), Some(b)) => format!(" between {a} and {b} ns"),
        (Some(a), None) => format!(" after {a} ns"),
        _ => String::new(),
    };
    format!(
        "{}/{} stream {}: {}{range}",
        loss.host,
        loss.domain,
        loss.stream_id,
        what.join(", ")
    )
}
