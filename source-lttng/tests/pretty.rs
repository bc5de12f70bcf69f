//! `PrettyFormatter` against babeltrace2 on the conformance corpus: every
//! trace of `ctf-traces/succeed` is decoded stream by stream, its events are
//! merged by time, printed, and compared line by line with
//! `TZ=UTC babeltrace2 TRACE` (run here; the test is skipped when
//! babeltrace2 is not installed).
//!
//! The merge is a plain k-way merge of stream heads. Events with the same
//! time are ordered as babeltrace2's muxer orders them: traces with a UUID
//! (by UUID) before traces without, then stream class id, stream id, event
//! class id, then the order the streams were found in (sorted paths); within
//! a stream, stream order always holds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use trawl_source_lttng::decode::{PacketInfo, TraceDecoder};
use trawl_source_lttng::format::{DiscardedNotice, JsonFormatter, PrettyFormatter, trace_name};
use trawl_source_lttng::metadata::{TraceClass, metadata_text, parse_metadata};

const SUCCEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ctf-traces/succeed"
);

/// Traces babeltrace2 2.0.4 itself cannot print (it aborts): nothing to
/// compare with.
const BABELTRACE2_FAILS: [&str; 1] = ["meta-ctx-sequence"];

/// Directories holding a `metadata` file, at any depth, sorted.
fn trace_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    if entries
        .iter()
        .any(|p| p.file_name().is_some_and(|n| n == "metadata"))
    {
        out.push(dir.to_path_buf());
        return;
    }
    for p in entries {
        if p.is_dir() {
            trace_dirs(&p, out);
        }
    }
}

/// One decoded stream: its batches and the stream order over them.
struct Stream {
    trace: usize,
    path: PathBuf,
    stream_id: u64,
    batches: Vec<RecordBatch>,
    ec: Vec<u64>,
    sc: Vec<u64>,
    order: Vec<(u32, u32)>,
    packets: Vec<PacketInfo>,
}

struct Trace {
    class: Arc<TraceClass>,
    name: String,
}

fn decode_input(input: &Path) -> Result<(Vec<Trace>, Vec<Stream>), String> {
    let mut dirs = Vec::new();
    trace_dirs(input, &mut dirs);
    let mut traces = Vec::new();
    let mut streams = Vec::new();
    for dir in &dirs {
        let bytes = std::fs::read(dir.join("metadata")).map_err(|e| e.to_string())?;
        let text = metadata_text(&bytes).map_err(|e| format!("{}: {e}", dir.display()))?;
        let class = Arc::new(parse_metadata(&text).map_err(|e| format!("{}: {e}", dir.display()))?);
        let dec =
            TraceDecoder::new(Arc::clone(&class)).map_err(|e| format!("{}: {e}", dir.display()))?;
        let rel = dir
            .strip_prefix(input)
            .unwrap_or(Path::new(""))
            .to_string_lossy()
            .into_owned();
        let t = traces.len();
        traces.push(Trace {
            name: trace_name(&class, &rel),
            class,
        });
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .is_some_and(|n| n != "metadata" && !n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        for (i, path) in files.into_iter().enumerate() {
            let data = std::fs::read(&path).map_err(|e| e.to_string())?;
            let mut s = dec.new_stream(i as u64);
            s.set_track_order(true);
            let mut off = 0usize;
            let mut packets = Vec::new();
            while off < data.len() {
                let info = s
                    .decode_packet(&dec, &data[off..], off as u64)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let size = usize::try_from(info.packet_size).unwrap_or(usize::MAX);
                packets.push(info);
                if size == 0 {
                    break;
                }
                off = off.saturating_add(size);
            }
            let ev = s
                .take(&dec)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let stream_id = packets
                .first()
                .and_then(|p| p.stream_instance_id)
                .unwrap_or(i as u64);
            streams.push(Stream {
                trace: t,
                path,
                stream_id,
                batches: ev.batches,
                ec: ev.event_class_ids,
                sc: ev.stream_class_ids,
                order: ev.order,
                packets,
            });
        }
    }
    Ok((traces, streams))
}

/// The muxer's order key of a stream's head event (see the module docs).
fn key(
    traces: &[Trace],
    s: &Stream,
    idx: usize,
    at: usize,
) -> Option<(i64, (u8, [u8; 16]), u64, u64, u64, usize)> {
    let &(b, row) = s.order.get(at)?;
    let batch = s.batches.get(b as usize)?;
    let ts = batch
        .column(0)
        .as_primitive::<TimestampNanosecondType>()
        .value(row as usize);
    let uuid = match traces[s.trace].class.uuid {
        Some(u) => (0, u),
        None => (1, [0; 16]),
    };
    Some((
        ts,
        uuid,
        s.sc[b as usize],
        s.stream_id,
        s.ec[b as usize],
        idx,
    ))
}

/// Our stdout and our stderr (discarded notices) for `input`.
fn trawl_output(input: &Path) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (traces, streams) = decode_input(input)?;
    let mut p = PrettyFormatter::new();
    let mut json = JsonFormatter::new();
    let mut json_line = Vec::new();
    let mut out = Vec::new();
    let mut err = Vec::new();
    // Discarded-event notices are printed when the packet that reports them
    // begins; here they are simply listed per stream after the events (the
    // comparison of stderr ignores order).
    for s in &streams {
        let t = &traces[s.trace];
        let mut prev_end = None;
        for pk in &s.packets {
            if pk.packets_lost > 0 {
                let range = match (prev_end, pk.ts_begin) {
                    (Some(a), Some(b)) => Some((a, b)),
                    _ => None,
                };
                let path = std::fs::canonicalize(&s.path).unwrap_or(s.path.clone());
                p.write_discarded_packets(
                    &mut err,
                    &DiscardedNotice {
                        trace_name: &t.name,
                        trace_uuid: t.class.uuid,
                        stream_path: &path.to_string_lossy(),
                        stream_class_id: pk.stream_class_id,
                        stream_id: Some(s.stream_id),
                        count: Some(pk.packets_lost),
                        range,
                    },
                );
            }
            if let Some(n) = pk.events_discarded.filter(|&n| n > 0) {
                let range = match (prev_end, pk.ts_end) {
                    (Some(a), Some(b)) => Some((a, b)),
                    _ => None,
                };
                let path = std::fs::canonicalize(&s.path).unwrap_or(s.path.clone());
                p.write_discarded_events(
                    &mut err,
                    &DiscardedNotice {
                        trace_name: &t.name,
                        trace_uuid: t.class.uuid,
                        stream_path: &path.to_string_lossy(),
                        stream_class_id: pk.stream_class_id,
                        stream_id: Some(s.stream_id),
                        count: Some(n),
                        range,
                    },
                );
            }
            prev_end = pk.ts_end;
        }
    }
    let mut heads = vec![0usize; streams.len()];
    loop {
        let best = (0..streams.len())
            .filter_map(|i| key(&traces, &streams[i], i, heads[i]))
            .min();
        let Some((.., i)) = best else { break };
        let s = &streams[i];
        let (b, row) = s.order[heads[i]];
        heads[i] += 1;
        let b = b as usize;
        p.write_event(
            &mut out,
            &traces[s.trace].class,
            s.sc[b],
            s.ec[b],
            &s.batches[b],
            row as usize,
        )
        .map_err(|e| format!("{}: {e}", s.path.display()))?;
        // The JSON rendering of the same event must not fail either.
        json_line.clear();
        json.write_event(
            &mut json_line,
            &traces[s.trace].class,
            &s.batches[b],
            row as usize,
        )
        .map_err(|e| format!("{} (json): {e}", s.path.display()))?;
        assert!(json_line.starts_with(b"{\"ts\":") && json_line.ends_with(b"}\n"));
    }
    Ok((out, err))
}

fn babeltrace2(input: &Path) -> Option<(bool, Vec<u8>, Vec<u8>)> {
    let out = Command::new("babeltrace2")
        .arg(input)
        .env("TZ", "UTC")
        .output()
        .ok()?;
    Some((out.status.success(), out.stdout, out.stderr))
}

fn warnings(stderr: &[u8]) -> Vec<String> {
    let mut w: Vec<String> = String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with("WARNING: "))
        .map(str::to_string)
        .collect();
    w.sort();
    w
}

/// Compares every trace directly under `corpus` (but `skip`); returns how
/// many traces and lines were compared, and the differences.
fn compare_corpus(corpus: &Path, skip: &[&str]) -> (usize, usize, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(corpus)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut failures = Vec::new();
    let (mut compared, mut total_lines) = (0, 0);
    for name in &names {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let (c, l, mut f) = compare_one(corpus, name);
        compared += c;
        total_lines += l;
        failures.append(&mut f);
    }
    (compared, total_lines, failures)
}

/// Compares `corpus/name` (one input, possibly several traces).
fn compare_one(corpus: &Path, name: &str) -> (usize, usize, Vec<String>) {
    let mut failures = Vec::new();
    let (mut compared, mut total_lines) = (0, 0);
    let input = corpus.join(name);
    let Some((ok, expected, expected_err)) = babeltrace2(&input) else {
        return (0, 0, failures);
    };
    assert!(ok, "{name}: babeltrace2 failed; skip it if expected");
    let (ours, ours_err) = match trawl_output(&input) {
        Ok(o) => o,
        Err(e) => {
            failures.push(format!("{name}: {e}"));
            return (compared, total_lines, failures);
        }
    };
    compared += 1;
    total_lines += expected.iter().filter(|&&b| b == b'\n').count();
    let exp = String::from_utf8_lossy(&expected);
    let got = String::from_utf8_lossy(&ours);
    let exp_lines: Vec<&str> = exp.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    let mut shown = 0;
    for (i, (e, g)) in exp_lines.iter().zip(&got_lines).enumerate() {
        if e != g && shown < 3 {
            shown += 1;
            failures.push(format!(
                "{name}: line {}:\n  babeltrace2: {e}\n  trawl:       {g}",
                i + 1
            ));
        }
    }
    if exp_lines.len() != got_lines.len() {
        failures.push(format!(
            "{name}: {} lines from babeltrace2, {} from trawl",
            exp_lines.len(),
            got_lines.len()
        ));
    }
    if warnings(&expected_err) != warnings(&ours_err) {
        failures.push(format!(
            "{name}: stderr warnings differ:\n  babeltrace2: {:?}\n  trawl:       {:?}",
            warnings(&expected_err),
            warnings(&ours_err)
        ));
    }
    (compared, total_lines, failures)
}

fn have_babeltrace2() -> bool {
    let found = Command::new("babeltrace2")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("babeltrace2 is not installed: skipped");
    }
    found
}

#[test]
fn succeed_traces_print_like_babeltrace2() {
    if !have_babeltrace2() {
        return;
    }
    let (compared, lines, failures) = compare_corpus(Path::new(SUCCEED), &BABELTRACE2_FAILS);
    eprintln!("{compared} traces compared, {lines} lines");
    assert!(compared > 20, "only {compared} traces compared");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Lost packets (`packet_seq_num` gaps) and their notices.
#[test]
fn packet_seq_num_traces_print_like_babeltrace2() {
    if !have_babeltrace2() {
        return;
    }
    let (compared, _, failures) =
        compare_corpus(&Path::new(SUCCEED).join("../packet-seq-num"), &[]);
    assert!(compared >= 6, "only {compared} traces compared");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Several streams with overlapping and disjoint time ranges.
#[test]
fn intersection_traces_print_like_babeltrace2() {
    if !have_babeltrace2() {
        return;
    }
    let (compared, _, failures) = compare_corpus(
        &Path::new(SUCCEED).join("../intersection"),
        // The decoder refuses a packet whose header UUID differs from the
        // trace's; babeltrace2 2.0.4 does not check and prints the events.
        &["3eventsintersectreverse", "onestream"],
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 3, "only {compared} traces compared");
}

/// Any other traces (e.g. freshly recorded lttng-ust or kernel sessions):
/// `TRAWL_COMPARE_TRACES=/path/a:/path/b cargo test --test pretty`.
#[test]
fn traces_from_env_print_like_babeltrace2() {
    let Ok(list) = std::env::var("TRAWL_COMPARE_TRACES") else {
        return;
    };
    if !have_babeltrace2() {
        return;
    }
    let mut failures = Vec::new();
    for input in list.split(':').filter(|s| !s.is_empty()) {
        let input = Path::new(input);
        let (Some(parent), Some(name)) = (input.parent(), input.file_name()) else {
            continue;
        };
        let (compared, lines, mut f) = compare_one(parent, &name.to_string_lossy());
        eprintln!("{}: {compared} compared, {lines} lines", input.display());
        failures.append(&mut f);
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
