//! The TSDL parser against the conformance corpus: every metadata that
//! babeltrace2 accepts parses, every one it refuses for metadata reasons
//! gives a positioned error.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

use trawl_source_lttng::metadata::{
    ByteOrder, Encoding, EnvValue, FieldType, MetadataError, Scope, TraceClass, metadata_text,
    parse_metadata,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

fn metadata_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            metadata_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "metadata") {
            out.push(p);
        }
    }
}

fn parse_file(path: &Path) -> Result<TraceClass, MetadataError> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_metadata(&metadata_text(&bytes)?)
}

fn parse(rel: &str) -> TraceClass {
    let p = Path::new(DATA).join(rel);
    parse_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_accepted_corpus_metadata_parses() {
    let mut files = Vec::new();
    for d in [
        "succeed",
        "packet-seq-num",
        "intersection",
        "deterministic-ordering",
        "live/split-metadata",
    ] {
        metadata_files(&Path::new(DATA).join("ctf-traces").join(d), &mut files);
    }
    assert!(files.len() > 40, "corpus not found: {}", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| parse_file(f).err().map(|e| format!("{}: {e}", f.display())))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn kernel_metadata_spot_checks() {
    let tc = parse("kernel-metadata/lttng-modules-2.10.metadata");
    assert_eq!(tc.streams.len(), 1);
    assert_eq!(tc.streams[0].events.len(), 1400);
    assert_eq!(tc.byte_order, ByteOrder::Little);
    assert!(tc.warnings.is_empty(), "{:?}", tc.warnings);
    let clock = tc.clock("monotonic").unwrap();
    assert_eq!(
        (clock.freq, clock.offset),
        (1_000_000_000, 1_499_450_703_143_835_608)
    );
    assert_eq!(tc.env_str("domain"), Some("kernel"));
    // event_header_compact: enum id (5 bits), variant <id> v.
    let header = tc.streams[0].event_header.as_ref().unwrap();
    let FieldType::Enum(id) = &header.fields[0].ty else {
        panic!("{:?}", header.fields[0])
    };
    assert_eq!((id.container.size, id.container.align), (5, 1));
    let FieldType::Variant(v) = &header.fields[1].ty else {
        panic!()
    };
    assert_eq!(
        (v.tag.scope, v.tag.indexes.as_slice()),
        (Scope::EventHeader, &[0][..])
    );
    let FieldType::Struct(ext) = &v.options[1].ty else {
        panic!()
    };
    let FieldType::Integer(ts) = &ext.fields[1].ty else {
        panic!()
    };
    assert_eq!(
        (ts.size, ts.mapped_clock.as_deref()),
        (64, Some("monotonic"))
    );
    // `unsigned long` alias in the packet context.
    let pc = tc.streams[0].packet_context.as_ref().unwrap();
    let ed = pc
        .fields
        .iter()
        .find(|f| f.name == "events_discarded")
        .unwrap();
    assert!(matches!(&ed.ty, FieldType::Integer(i) if i.size == 64 && !i.signed));
    // Nested variants of the network events: inner tags are relative to their struct.
    let ev = tc.streams[0]
        .events
        .iter()
        .find(|e| e.name == "net_dev_queue")
        .unwrap();
    let payload = ev.payload.as_ref().unwrap();
    assert!(
        payload
            .fields
            .iter()
            .any(|f| matches!(f.ty, FieldType::Variant(_)))
    );
}

#[test]
fn ust_metadata_spot_checks() {
    let tc = parse("ctf-traces/succeed/debug-info/metadata");
    assert_eq!(tc.env_str("hostname"), Some("raton"));
    assert_eq!(
        tc.clock("monotonic").unwrap().offset,
        1_563_264_475_374_722_151
    );
    let s = tc.stream(0).unwrap();
    assert_eq!(s.events.len(), 2);
    let ctx = s.event_context.as_ref().unwrap();
    assert!(matches!(&ctx.fields[1].ty, FieldType::Integer(i) if i.base == 16 && i.size == 64));
}

#[test]
fn sequences_in_contexts_resolve_relative_to_their_scope() {
    let tc = parse("ctf-traces/succeed/meta-ctx-sequence/metadata");
    let s = tc.stream(0).unwrap();
    let FieldType::Sequence(seq) = &s.event_context.as_ref().unwrap().fields[1].ty else {
        panic!()
    };
    assert_eq!(
        (seq.length.scope, seq.length.indexes.as_slice()),
        (Scope::StreamEventContext, &[0][..])
    );
    let FieldType::Sequence(seq) = &s.packet_context.as_ref().unwrap().fields[1].ty else {
        panic!()
    };
    assert_eq!(seq.length.scope, Scope::PacketContext);
}

#[test]
fn reserved_keyword_labels_and_implicit_stream() {
    let tc = parse("ctf-traces/succeed/meta-variant-reserved-keywords/metadata");
    assert_eq!(tc.byte_order, ByteOrder::Big);
    assert_eq!(tc.streams.len(), 1);
    let ev = &tc.streams[0].events[0];
    assert_eq!(ev.name, "yo");
    let fields = &ev.payload.as_ref().unwrap().fields;
    let FieldType::Enum(e) = &fields[0].ty else {
        panic!()
    };
    assert_eq!(e.mappings.len(), 28);
    assert_eq!(e.mappings[27].label, "__Imaginary");
    let FieldType::Variant(v) = &fields[1].ty else {
        panic!()
    };
    assert_eq!(
        (v.tag.scope, v.tag.indexes.as_slice()),
        (Scope::EventPayload, &[0][..])
    );
}

#[test]
fn unknown_attributes_are_warnings_with_lines() {
    let tc = parse("ctf-traces/succeed/warnings/metadata");
    assert_eq!(tc.warnings.len(), 5, "{:?}", tc.warnings);
    assert!(tc.warnings[0].starts_with("line 2:"), "{:?}", tc.warnings);
    let tc = parse("ctf-traces/succeed/env-warning/metadata");
    assert_eq!(tc.env("dummy"), Some(&EnvValue::Str("blah".into())));
}

#[test]
fn crlf_and_lf_metadata_give_the_same_class() {
    let a = parse("ctf-traces/succeed/crlf-metadata/metadata");
    let b = parse("ctf-traces/succeed/lf-metadata/metadata");
    assert_eq!(a.streams, b.streams);
    assert_eq!(a.env_str("hostname"), b.env_str("hostname"));
}

/// babeltrace2 2.0.4 (`TZ=UTC babeltrace2 DIR`) refuses these because of their
/// metadata; the expected line is the one babeltrace2 reports where it reports one.
#[test]
fn metadata_refused_by_babeltrace2_is_refused_with_position() {
    let cases: [(&str, Option<u32>, &str); 9] = [
        (
            "fail1/metadata",
            Some(15),
            "trace major = 0 (babeltrace2: invalid `major`)",
        ),
        ("smalltrace/metadata", Some(6), "trace major = 0"),
        (
            "fail2/metadata",
            Some(9),
            "invalid escape \\o040 (babeltrace2: lexer error)",
        ),
        (
            "integer-range/metadata",
            Some(7),
            "integer literal larger than 64 bits",
        ),
        (
            "metadata-syntax-error/metadata",
            Some(3),
            "`]` closing an integer block",
        ),
        (
            "invalid-sequence-length-field-class/metadata",
            Some(23),
            "sequence length is a struct",
        ),
        (
            "invalid-variant-selector-field-class/metadata",
            Some(23),
            "variant selector is a struct",
        ),
        (
            "lttng-modules-2.0-pre1/metadata",
            None,
            "packet header without major/minor (version 116.121)",
        ),
        (
            "packet-based-metadata/metadata",
            None,
            "packet header without major/minor (version 116.121)",
        ),
    ];
    for (rel, line, why) in cases {
        let p = Path::new(DATA).join("ctf-traces/fail").join(rel);
        let err = parse_file(&p).expect_err(why);
        let text = err.to_string();
        match line {
            Some(l) => assert!(
                text.starts_with(&format!("line {l},")),
                "{rel} ({why}): {text}"
            ),
            None => assert!(
                matches!(err, MetadataError::PacketUnsupported { .. }),
                "{rel}: {text}"
            ),
        }
    }
}

/// babeltrace2 refuses these for data reasons (bad packet size, invalid
/// events after valid ones); their metadata is fine.
#[test]
fn metadata_of_traces_refused_for_data_reasons_parses() {
    parse("ctf-traces/fail/invalid-packet-size/trace/metadata");
    parse("ctf-traces/fail/valid-events-then-invalid-events/trace/metadata");
}

fn err(body: &str) -> String {
    let text = format!(
        "/* CTF 1.8 */\ntypealias integer {{ size = 8; }} := uint8_t;\n\
         trace {{ major = 1; minor = 8; byte_order = le; }};\n{body}"
    );
    parse_metadata(&text).expect_err(body).to_string()
}

#[test]
fn hand_written_errors_name_line_and_column() {
    assert_eq!(
        err("event { name = e; fields := struct { foo x; }; };"),
        "line 4, column 38: unknown type name `foo`"
    );
    assert_eq!(
        err("event {\n name = e;\n fields := struct { uint8_t x[len]; };\n};"),
        "line 6, column 31: sequence length path `len` not found"
    );
    assert_eq!(
        err("typealias integer { size = 65; } := big;"),
        "line 4, column 21: invalid value for `size`: 65 (out of range 1..=64)"
    );
    assert_eq!(
        err("event { name = e; fields := struct { variant <t> { uint8_t a; } v; uint8_t t; }; };"),
        "line 4, column 47: variant tag path `t` not found"
    );
    assert_eq!(
        err("event { name = e; }"),
        "line 4, column 19: unexpected end of metadata, expected `;` after a block"
    );
    assert_eq!(
        err("event { name = e; ; };"),
        "line 4, column 19: unexpected `;`, expected an attribute name or `}`"
    );
    assert!(err("event { name = e; fields := struct { integer { size = 8; signed = true; } n; uint8_t s[n]; }; };")
        .contains("is not an unsigned integer"));
}

#[test]
fn absolute_paths_and_outer_scopes_resolve() {
    let text = "/* CTF 1.8 */ typealias integer { size = 8; } := u8;
        trace { major = 1; minor = 8; byte_order = be;
          packet.header := struct { u8 n; }; };
        stream { event.header := struct { enum : u8 { a, b } id; }; };
        event { name = e; fields := struct {
            u8 s1[trace.packet.header.n];
            u8 s2[n];
            variant <stream.event.header.id> { u8 a; u8 b; } v1;
            struct { u8 m; struct { u8 s3[m]; } inner; } outer;
        }; };";
    let tc = parse_metadata(text).unwrap();
    let f = &tc.streams[0].events[0].payload.as_ref().unwrap().fields;
    let path = |t: &FieldType| match t {
        FieldType::Sequence(s) => (s.length.scope, s.length.indexes.clone()),
        FieldType::Variant(v) => (v.tag.scope, v.tag.indexes.clone()),
        FieldType::Struct(s) => match &s.fields[1].ty {
            FieldType::Struct(i) => match &i.fields[0].ty {
                FieldType::Sequence(s) => (s.length.scope, s.length.indexes.clone()),
                _ => panic!(),
            },
            _ => panic!(),
        },
        _ => panic!(),
    };
    assert_eq!(path(&f[0].ty), (Scope::PacketHeader, vec![0]));
    assert_eq!(path(&f[1].ty), (Scope::PacketHeader, vec![0]));
    assert_eq!(path(&f[2].ty), (Scope::EventHeader, vec![0]));
    assert_eq!(path(&f[3].ty), (Scope::EventPayload, vec![3, 0]));
}

#[test]
fn native_byte_order_declared_after_use_resolves_to_trace_order() {
    let text = "/* CTF 1.8 */ typealias integer { size = 32; byte_order = native; } := u32;
        trace { major = 1; minor = 8; byte_order = be; };
        event { name = e; fields := struct { u32 x; }; };";
    let tc = parse_metadata(text).unwrap();
    let f = &tc.streams[0].events[0].payload.as_ref().unwrap().fields;
    assert!(
        matches!(&f[0].ty, FieldType::Integer(i) if i.byte_order == ByteOrder::Big && i.align == 8)
    );
}

/// Checked against babeltrace2 2.0.4 with metadata-only trace directories.
#[test]
fn structural_errors_babeltrace2_also_reports() {
    // `stream { id = 0; }` without a packet header `stream_id` field.
    assert!(err("stream { id = 0; };").starts_with("line 4, column 1: stream has an `id`"));
    // `map` to a clock not declared before.
    assert!(
        err("typealias integer { size = 8; map = clock.nope.value; } := t;")
            .contains("no clock of this name declared before")
    );
    let two = "typealias integer { size = 8; } := u8;
        trace { major = 1; minor = 8; byte_order = le; packet.header := struct { u8 stream_id; }; };
        stream { id = 0; }; stream { id = 1; };";
    let e = parse_metadata(&format!("{two} event {{ name = e; }};")).unwrap_err();
    assert!(e.to_string().contains("missing `stream_id`"), "{e}");
    let e = parse_metadata(&format!("{two} event {{ name = e; stream_id = 3; }};")).unwrap_err();
    assert!(e.to_string().contains("unknown stream id 3"), "{e}");
    let e = parse_metadata(&format!(
        "{two} event {{ name = e; stream_id = 1; }}; event {{ name = f; stream_id = 1; }};"
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("duplicate `event id 0 in stream 1`"),
        "{e}"
    );
    // An event may come before its stream class.
    let later = format!("{two} event {{ name = e; stream_id = 1; }};")
        .replace("stream { id = 1; };", "")
        + "stream { id = 1; };";
    let tc = parse_metadata(&later).unwrap();
    assert_eq!(tc.stream(1).unwrap().events.len(), 1);
}

#[test]
fn paths_through_arrays_name_the_last_element_and_add_no_index() {
    let text = "/* CTF 1.8 */ typealias integer { size = 8; } := u8;
        trace { major = 1; minor = 8; byte_order = le; };
        event { name = e; fields := struct {
            struct { u8 n; u8 s[n]; } a[2];
            u8 t[a.n];
        }; };";
    let tc = parse_metadata(text).unwrap();
    let f = &tc.streams[0].events[0].payload.as_ref().unwrap().fields;
    let FieldType::Sequence(t) = &f[1].ty else {
        panic!()
    };
    assert_eq!(t.length.indexes, [0, 0]);
    let FieldType::Array(a) = &f[0].ty else {
        panic!()
    };
    let FieldType::Struct(el) = a.element.as_ref() else {
        panic!()
    };
    let FieldType::Sequence(s) = &el.fields[1].ty else {
        panic!()
    };
    assert_eq!(
        (s.length.scope, s.length.indexes.as_slice()),
        (Scope::EventPayload, &[0, 0][..])
    );
}

#[test]
fn every_block_and_attribute_kind() {
    let text = r#"/* CTF 1.8 */
typealias integer { size = 64; align = 64; signed = false; } := unsigned long;
typealias integer { size = 32; signed = TRUE; base = x; byte_order = network; encoding = ASCII; } := void *;
typealias floating_point { exp_dig = 11; mant_dig = 53; byte_order = le; } := double;
typedef unsigned long ul_arr[2];
trace { major = 1; minor = 8; uuid = "2a6422d0-6cee-11e0-8c08-cb07d7b3a564"; byte_order = be;
        packet.header := struct { unsigned long stream_id; }; };
env { hostname = "h\t1"; nb = -3; };
clock { name = c0; uuid = "00000000-0000-0000-0000-0000000000ff"; description = "d";
        freq = 1000; precision = 2; offset_s = -5; offset = 7; absolute = true; };
typealias integer { size = 27; align = 1; map = clock.c0.value; } := ts_t;
callsite { name = "e"; func = "f"; file = "x.c"; line = 12; ip = 0x1234; };
stream { id = 4; event.header := struct { ts_t ts; } align(32); };
event { name = "e"; id = 9; stream_id = 4; loglevel = 13; model.emf.uri = "http://x";
        context := struct { void *p; };
        fields := struct { double d; string { encoding = ASCII; } s; ul_arr a; string plain; }; };
"#;
    let tc = parse_metadata(text).unwrap();
    assert_eq!(tc.uuid.unwrap()[0], 0x2a);
    assert_eq!(tc.byte_order, ByteOrder::Big);
    assert_eq!(tc.env_str("hostname"), Some("h\t1"));
    assert_eq!(tc.env("nb"), Some(&EnvValue::Int(-3)));
    let c = tc.clock("c0").unwrap();
    assert_eq!(
        (
            c.freq,
            c.precision,
            c.offset_s,
            c.offset,
            c.absolute,
            c.description.as_deref()
        ),
        (1000, 2, -5, 7, true, Some("d"))
    );
    assert_eq!(c.uuid.unwrap()[15], 0xff);
    let s = tc.stream(4).unwrap();
    let eh = s.event_header.as_ref().unwrap();
    assert_eq!(eh.min_align, 32);
    assert!(matches!(&eh.fields[0].ty, FieldType::Integer(i)
        if i.size == 27 && i.align == 1 && i.byte_order == ByteOrder::Big && i.mapped_clock.as_deref() == Some("c0")));
    let e = &s.events[0];
    assert_eq!(
        (e.id, e.stream_id, e.loglevel, e.model_emf_uri.as_deref()),
        (9, 4, Some(13), Some("http://x"))
    );
    let ctx = e.context.as_ref().unwrap();
    assert!(matches!(&ctx.fields[0].ty, FieldType::Integer(i)
        if i.signed && i.base == 16 && i.encoding == Encoding::Ascii && i.align == 8));
    let f = &e.payload.as_ref().unwrap().fields;
    assert!(
        matches!(&f[0].ty, FieldType::Float(x) if x.mant_dig == 53 && x.align == 8 && x.byte_order == ByteOrder::Little)
    );
    assert!(matches!(f[1].ty, FieldType::String(Encoding::Ascii)));
    assert!(matches!(&f[2].ty, FieldType::Array(a) if a.length == 2));
    assert!(matches!(f[3].ty, FieldType::String(Encoding::Utf8)));
    assert!(tc.warnings.is_empty(), "{:?}", tc.warnings);
}
