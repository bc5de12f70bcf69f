//! The packet decoder against the conformance corpus: every stream of every
//! trace babeltrace2 reads decodes, with babeltrace2's event counts
//! (`TZ=UTC babeltrace2 TRACE | grep -v '^WARNING' | wc -l`, babeltrace2 2.0.4)
//! and its discarded-events / discarded-packets reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trawl_source_lttng::decode::{PacketInfo, TraceDecoder};
use trawl_source_lttng::metadata::{metadata_text, parse_metadata};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/ctf-traces");

/// Directories holding a `metadata` file, under `dir`.
fn trace_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    if entries
        .iter()
        .any(|p| p.file_name().is_some_and(|n| n == "metadata"))
    {
        out.push(dir.to_path_buf());
    }
    for p in entries {
        if p.is_dir() && p.file_name().is_some_and(|n| n != "index") {
            trace_dirs(&p, out);
        }
    }
}

/// Data stream files of one trace directory.
fn stream_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.is_file()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n != "metadata" && !n.starts_with('.'))
    });
    v.sort();
    v
}

/// Decodes every stream of every trace under `root`: (events, packet infos per stream).
#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failure is the test's failure"
)]
fn decode_tree(root: &Path) -> (u64, Vec<Vec<PacketInfo>>) {
    let mut dirs = Vec::new();
    trace_dirs(root, &mut dirs);
    let mut total = 0;
    let mut streams = Vec::new();
    for d in dirs {
        let bytes = std::fs::read(d.join("metadata")).unwrap();
        let tc = parse_metadata(&metadata_text(&bytes).unwrap()).unwrap();
        let dec =
            TraceDecoder::new(Arc::new(tc)).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for (i, f) in stream_files(&d).into_iter().enumerate() {
            let data = std::fs::read(&f).unwrap();
            let mut s = dec.new_stream(i as u64);
            let mut infos = Vec::new();
            let mut off = 0usize;
            while off < data.len() {
                let info = s
                    .decode_packet(&dec, &data[off..], off as u64)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                off += info.packet_size as usize;
                infos.push(info);
            }
            let ev = s.take(&dec).unwrap();
            let rows: usize = ev.batches.iter().map(|b| b.num_rows()).sum();
            assert_eq!(rows as u64, infos.iter().map(|i| i.events).sum::<u64>());
            total += rows as u64;
            streams.push(infos);
        }
    }
    (total, streams)
}

const EXPECTED: &[(&str, u64)] = &[
    ("succeed/2packets", 2),
    ("succeed/array-align-elem", 1),
    ("succeed/barectf-event-before-packet", 2),
    ("succeed/crlf-metadata", 5),
    ("succeed/debug-info", 4),
    ("succeed/env-warning", 7809),
    ("succeed/ev-disc-no-ts-begin-end", 3),
    ("succeed/lf-metadata", 5),
    ("succeed/lttng-crash", 400),
    ("succeed/lttng-event-after-packet", 2),
    ("succeed/lttng-tracefile-rotation", 12305),
    ("succeed/meta-ctx-sequence", 0),
    ("succeed/meta-variant-no-underscore", 1),
    ("succeed/meta-variant-one-underscore", 1),
    ("succeed/meta-variant-reserved-keywords", 1),
    ("succeed/meta-variant-same-with-underscore", 1),
    ("succeed/meta-variant-two-underscores", 1),
    ("succeed/multi-domains", 4272),
    ("succeed/no-packet-context", 3),
    ("succeed/sequence", 10),
    ("succeed/session-rotation", 266),
    ("succeed/smalltrace", 2),
    ("succeed/struct-array-align-elem", 1),
    ("succeed/succeed1", 7809),
    ("succeed/succeed2", 7809),
    ("succeed/succeed3", 7809),
    ("succeed/succeed4", 0),
    ("succeed/trace-with-index", 4000),
    ("succeed/warnings", 7809),
    ("succeed/wk-heartbeat-u", 20),
    ("packet-seq-num/2-lost-before-last", 3),
    ("packet-seq-num/2-streams-lost-in-1", 8),
    ("packet-seq-num/2-streams-lost-in-2", 8),
    ("packet-seq-num/7-lost-between-2-with-index", 2),
    ("packet-seq-num/no-lost", 3),
    ("packet-seq-num/no-lost-not-starting-at-0", 3),
    ("intersection/3eventsintersect", 8),
    ("intersection/3eventsintersectreverse", 8),
    ("intersection/nointersect", 6),
    ("intersection/onestream", 3),
    ("deterministic-ordering/b-not-corrupted", 3),
];

#[test]
fn event_counts_match_babeltrace2() {
    let mut bad = Vec::new();
    for &(t, want) in EXPECTED {
        let got = std::panic::catch_unwind(|| decode_tree(&Path::new(DATA).join(t)).0);
        match got {
            Ok(n) if n == want => {}
            Ok(n) => bad.push(format!("{t}: {n} events, babeltrace2 {want}")),
            Err(e) => bad.push(format!(
                "{t}: {}",
                e.downcast_ref::<String>().cloned().unwrap_or_default()
            )),
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn lost(t: &str) -> Vec<Vec<u64>> {
    let (_, streams) = decode_tree(&Path::new(DATA).join(t));
    streams
        .iter()
        .map(|s| {
            s.iter()
                .map(|p| p.packets_lost)
                .filter(|&n| n > 0)
                .collect()
        })
        .collect()
}

#[test]
fn lost_packets_match_babeltrace2() {
    assert_eq!(lost("packet-seq-num/2-lost-before-last"), vec![vec![2]]);
    assert_eq!(
        lost("packet-seq-num/2-streams-lost-in-1"),
        vec![vec![2], vec![]]
    );
    assert_eq!(
        lost("packet-seq-num/2-streams-lost-in-2"),
        vec![vec![2], vec![3, 1]]
    );
    assert_eq!(
        lost("packet-seq-num/7-lost-between-2-with-index"),
        vec![vec![7]]
    );
    assert_eq!(lost("packet-seq-num/no-lost"), vec![Vec::<u64>::new()]);
    assert_eq!(
        lost("packet-seq-num/no-lost-not-starting-at-0"),
        vec![Vec::<u64>::new()]
    );
}

#[test]
fn discarded_events_match_babeltrace2() {
    let (_, streams) = decode_tree(&Path::new(DATA).join("succeed/ev-disc-no-ts-begin-end"));
    let d: Vec<_> = streams[0].iter().map(|p| p.events_discarded).collect();
    assert_eq!(d, vec![Some(0), Some(17)]);
}

/// The variant option each meta-variant trace selects (babeltrace2 matches
/// the tag label against option names as written, leading `_` included;
/// column names then lose one `_`).
#[test]
fn variant_options_are_selected_by_original_name() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    for (t, option) in [
        ("meta-variant-no-underscore", "PELCHAT"),
        ("meta-variant-one-underscore", "PELCHAT"),
        ("meta-variant-same-with-underscore", "PELCHAT"),
        ("meta-variant-two-underscores", "_PELCHAT"),
        ("meta-variant-reserved-keywords", "callsite"),
    ] {
        let d = Path::new(DATA).join("succeed").join(t);
        let bytes = std::fs::read(d.join("metadata")).unwrap();
        let tc = parse_metadata(&metadata_text(&bytes).unwrap()).unwrap();
        let dec = TraceDecoder::new(Arc::new(tc)).unwrap();
        let data = std::fs::read(d.join("stream")).unwrap();
        let mut s = dec.new_stream(0);
        s.decode_packet(&dec, &data, 0).unwrap();
        let ev = s.take(&dec).unwrap();
        let var = ev.batches[0].column_by_name("var").unwrap().as_struct();
        let selected: Vec<_> = (0..var.num_columns())
            .filter(|&i| var.column(i).is_valid(0))
            .map(|i| var.fields()[i].name().clone())
            .collect();
        assert_eq!(selected, vec![option.to_string()], "{t}");
        assert_eq!(
            var.column_by_name(option)
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "Daniel Lavoie"
        );
    }
}

/// Traces babeltrace2 refuses for their data (not their metadata) give
/// positioned errors, never panics.
#[test]
fn failing_traces_give_errors() {
    for t in [
        "fail/invalid-packet-size",
        "fail/valid-events-then-invalid-events",
    ] {
        let d = Path::new(DATA).join(t);
        let mut dirs = Vec::new();
        trace_dirs(&d, &mut dirs);
        let mut errors = 0;
        for d in dirs {
            let bytes = std::fs::read(d.join("metadata")).unwrap();
            let Ok(tc) = parse_metadata(&metadata_text(&bytes).unwrap()) else {
                continue;
            };
            let dec = TraceDecoder::new(Arc::new(tc)).unwrap();
            for f in stream_files(&d) {
                let data = std::fs::read(&f).unwrap();
                let mut s = dec.new_stream(0);
                let mut off = 0usize;
                while off < data.len() {
                    match s.decode_packet(&dec, &data[off..], off as u64) {
                        Ok(i) => off += i.packet_size as usize,
                        Err(e) => {
                            eprintln!("{t}: {e}");
                            errors += 1;
                            match e.next_packet {
                                Some(n) if n as usize > off => off = n as usize,
                                _ => break,
                            }
                        }
                    }
                }
            }
        }
        assert!(errors > 0, "{t} decoded without error");
    }
}

/// The fuzz target's metadata compiles, and inputs the fuzzer found
/// (regressions, kept here as bytes) decode without panicking.
#[test]
fn fuzz_metadata_and_regressions() {
    let text = include_str!("../../fuzz/fuzz_targets/packet.tsdl");
    let dec = TraceDecoder::new(Arc::new(parse_metadata(text).unwrap())).unwrap();
    let seed = fuzz_seed();
    {
        // The seed decodes whole: 3 events in packet 1, 1 in packet 2 (seq 0 then 3: 2 lost).
        let mut s = dec.new_stream(0);
        let p1 = s.decode_packet(&dec, &seed, 0).unwrap();
        assert_eq!(p1.events, 3);
        let p2 = s
            .decode_packet(&dec, &seed[p1.packet_size as usize..], p1.packet_size)
            .unwrap();
        assert_eq!(
            (p2.events, p2.packets_lost, p2.events_discarded),
            (1, 2, Some(250))
        );
        let ev = s.take(&dec).unwrap();
        let all = &ev.batches[0];
        assert_eq!(all.num_rows(), 2);
        let names: Vec<_> = all
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float64Type, Int16Type, UInt8Type};
        let col = |n: &str| all.column_by_name(n).unwrap();
        assert_eq!(
            col("extra").as_primitive::<UInt8Type>().values().to_vec(),
            vec![9, 9]
        );
        assert_eq!(col("b").as_primitive::<Int16Type>().value(0), -3);
        assert_eq!(col("d").as_primitive::<Float64Type>().value(0), 2.5);
        assert_eq!(col("procname").as_string::<i32>().value(0), "ab");
        assert_eq!(
            names[6..],
            [
                "extra",
                "vtid",
                "procname",
                "a",
                "b",
                "be",
                "bebits",
                "n",
                "seq",
                "tag",
                "tag_value",
                "var",
                "f",
                "d",
                "nested",
                "late"
            ]
        );
    }
    let inputs: &[&[u8]] = &[
        &seed,
        // An empty stream.
        b"",
        // A packet header cut after the magic.
        &[0xc1, 0x1f, 0xfc, 0xc1],
    ];
    for data in inputs {
        let mut s = dec.new_stream(0);
        let mut off = 0usize;
        while off < data.len() {
            match s.decode_packet(&dec, &data[off..], off as u64) {
                Ok(i) => off += i.packet_size as usize,
                Err(e) => match e.next_packet {
                    Some(n) if n as usize > off => off = n as usize,
                    _ => break,
                },
            }
        }
        s.take(&dec).unwrap();
    }
}

/// First and last event time of each trace, as `babeltrace2 --clock-seconds` prints them
/// (its output is time-sorted), against the min and max `ts` we decode.
const TIMES: &[(&str, &str, &str)] = &[
    (
        "succeed/2packets",
        "1561756803.923426858",
        "1561756815.327941112",
    ),
    (
        "succeed/barectf-event-before-packet",
        "1435121820.916580091",
        "1435121820.916605259",
    ),
    (
        "succeed/crlf-metadata",
        "1698089520.714198479",
        "1698089524.714889487",
    ),
    (
        "succeed/debug-info",
        "1563286181.350889232",
        "1563286181.351883341",
    ),
    (
        "succeed/lf-metadata",
        "1698087942.132815792",
        "1698087946.134056432",
    ),
    (
        "succeed/lttng-crash",
        "1565891729.293111985",
        "1565891729.293526525",
    ),
    (
        "succeed/lttng-event-after-packet",
        "1565957302.180016041",
        "1565957302.180016069",
    ),
    (
        "succeed/lttng-tracefile-rotation",
        "1571261795.523067504",
        "1571261797.582611840",
    ),
    (
        "succeed/multi-domains",
        "1565032541.344453871",
        "1565032799.183651078",
    ),
    (
        "succeed/sequence",
        "1375472591.957624676",
        "1375472591.958177244",
    ),
    (
        "succeed/session-rotation",
        "1566849468.350556750",
        "1566849478.291616736",
    ),
    (
        "succeed/trace-with-index",
        "1565033456.853953396",
        "1565033465.321881240",
    ),
    (
        "succeed/wk-heartbeat-u",
        "1351532897.586558519",
        "1351532897.591331194",
    ),
    (
        "packet-seq-num/2-lost-before-last",
        "13515309.000000010",
        "13515309.000000042",
    ),
    (
        "packet-seq-num/2-streams-lost-in-2",
        "13515309.000000010",
        "13515309.000000112",
    ),
    (
        "packet-seq-num/7-lost-between-2-with-index",
        "0.000000010",
        "0.000000133",
    ),
    (
        "packet-seq-num/no-lost-not-starting-at-0",
        "13932323.000000010",
        "13932323.000000042",
    ),
    (
        "intersection/3eventsintersect",
        "13515309.000000010",
        "13515309.000000112",
    ),
];

fn ns(s: &str) -> i64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    sec.parse::<i64>().unwrap_or(0) * 1_000_000_000 + frac.parse::<i64>().unwrap_or(0)
}

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a failure is the test's failure"
)]
fn time_range(root: &Path) -> (i64, i64) {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampNanosecondType;
    let mut dirs = Vec::new();
    trace_dirs(root, &mut dirs);
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for d in dirs {
        let bytes = std::fs::read(d.join("metadata")).unwrap();
        let tc = parse_metadata(&metadata_text(&bytes).unwrap()).unwrap();
        let dec = TraceDecoder::new(Arc::new(tc)).unwrap();
        for f in stream_files(&d) {
            let data = std::fs::read(&f).unwrap();
            let mut s = dec.new_stream(0);
            let mut off = 0usize;
            while off < data.len() {
                off += s
                    .decode_packet(&dec, &data[off..], off as u64)
                    .unwrap()
                    .packet_size as usize;
            }
            for b in s.take(&dec).unwrap().batches {
                for &t in b
                    .column(0)
                    .as_primitive::<TimestampNanosecondType>()
                    .values()
                {
                    lo = lo.min(t);
                    hi = hi.max(t);
                }
            }
        }
    }
    (lo, hi)
}

#[test]
fn timestamps_match_babeltrace2() {
    let mut bad = Vec::new();
    for &(t, first, last) in TIMES {
        let got = time_range(&Path::new(DATA).join(t));
        if got != (ns(first), ns(last)) {
            bad.push(format!(
                "{t}: got {got:?}, babeltrace2 ({}, {})",
                ns(first),
                ns(last)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Two packets for the fuzz metadata (`fuzz/fuzz_targets/packet.tsdl`): the
/// fuzzing seed (`TRAWL_WRITE_FUZZ_SEED=1 cargo test -p trawl-source-lttng
/// --test decode write_fuzz_seed` writes it to fuzz/corpus/packet/seed).
fn fuzz_seed() -> Vec<u8> {
    use trawl_source_lttng::decode::testing::Asm;
    use trawl_source_lttng::metadata::ByteOrder;
    const UUID: [u8; 16] = [
        0x2a, 0x64, 0x22, 0xd0, 0x6c, 0xee, 0x11, 0xe0, 0x8c, 0x08, 0xcb, 0x07, 0xd7, 0xb3, 0xa5,
        0x64,
    ];
    let header = |a: &mut Asm, ts: u32, id: u64| {
        a.int(5, id); // id (5-bit)
        a.int(27, u64::from(ts)); // v.compact.timestamp (27-bit)
        a.u32(42); // vtid
        a.bytes(b"ab\0\0"); // procname[4]
    };
    let packet = |seq: u8, disc: u8, events: &dyn Fn(&mut Asm)| {
        let mut a = Asm::new(ByteOrder::Little);
        a.u32(0xC1FC_1FC1).bytes(&UUID).u8(0); // magic, uuid, stream_id
        a.u64(1000).u64(2000); // timestamp_begin, timestamp_end (byte-aligned)
        a.int(16, 0).int(16, 0); // content_size, packet_size (patched below)
        a.u8(seq).u8(disc).u8(1).u8(9); // packet_seq_num, events_discarded, cpu_id, extra
        events(&mut a);
        let content = a.bit_pos() as u16;
        let mut v = a.finish();
        let bits = (v.len() as u16) * 8;
        v[37..39].copy_from_slice(&content.to_le_bytes()); // content_size (exact bits)
        v[39..41].copy_from_slice(&bits.to_le_bytes()); // packet_size
        v
    };
    let all = |a: &mut Asm, ts: u32| {
        header(a, ts, 0);
        a.int(3, 5).int(11, 0x7fd); // a = 5, b = -3 (bitfields)
        a.align(8).int_bo(16, 0x1234, ByteOrder::Big); // be
        a.int_bo(12, 0xabc, ByteOrder::Big); // bebits
        a.u8(2).u16(0xffff).u16(7); // n, seq = [-1, 7]
        a.u8(0).string("hi"); // tag = A, var.A
        a.f32(1.5); // f
        a.align(8).int_bo(64, 2.5f64.to_bits(), ByteOrder::Big); // d (big-endian)
        a.u8(1).u8(2).u8(3); // nested.e, nested.arr
        a.u8(2).bytes(b"xy").u8(7).u8(8); // nested.len, txt, items
        a.int(27, u64::from(ts) + 5); // late (27-bit clock)
    };
    let mut out = packet(0, 0, &|a| {
        header(a, 1010, 1); // empty
        all(a, 1015);
        a.align(8);
        header(a, 1030, 1); // empty
    });
    out.extend(packet(3, 250, &|a| all(a, 1100)));
    out
}

/// Writes the seed for `make fuzz` (scripts/fuzz.sh sets the variable).
#[test]
fn write_fuzz_seed() {
    if std::env::var_os("TRAWL_WRITE_FUZZ_SEED").is_none() {
        eprintln!("skipped: set TRAWL_WRITE_FUZZ_SEED=1 to write fuzz/corpus/packet/seed");
        return;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/packet");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/seed"), fuzz_seed()).unwrap();
}

/// The whole LTTng 2.10 kernel metadata (about 1,400 event classes) compiles,
/// and every class gets a schema that starts with the envelope.
#[test]
fn kernel_metadata_compiles() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/kernel-metadata/lttng-modules-2.10.metadata"
    );
    let bytes = std::fs::read(path).unwrap();
    let tc = parse_metadata(&metadata_text(&bytes).unwrap()).unwrap();
    let classes: Vec<(u64, u64)> = tc
        .streams
        .iter()
        .flat_map(|s| s.events.iter().map(move |e| (s.id, e.id)))
        .collect();
    assert!(classes.len() > 1000);
    let t = std::time::Instant::now();
    let dec = TraceDecoder::new(Arc::new(tc)).unwrap();
    eprintln!("compiled {} classes in {:?}", classes.len(), t.elapsed());
    for (s, e) in classes {
        let schema = dec.schema(s, e).unwrap();
        assert_eq!(schema.field(0).name(), "ts");
    }
    let sched = dec.trace().streams[0]
        .events
        .iter()
        .find(|e| e.name == "sched_switch")
        .unwrap();
    let names: Vec<_> = dec
        .schema(0, sched.id)
        .unwrap()
        .fields()
        .iter()
        .skip(6)
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "prev_comm",
            "prev_tid",
            "prev_prio",
            "prev_state",
            "next_comm",
            "next_tid",
            "next_prio"
        ]
    );
}
