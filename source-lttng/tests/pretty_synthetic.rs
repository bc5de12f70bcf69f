//! `PrettyFormatter` against babeltrace2 on small traces assembled here, for
//! what the conformance corpus does not hold: floats, octal and binary
//! bases, narrow signed hex, enums with several or no labels, string
//! escapes, clock-mapped payload fields, nested variants, events without a
//! payload, and times before the epoch.
//!
//! Each trace is a `metadata` text plus one `stream` file holding a single
//! packet (no packet header or context, so the file is the packet), little
//! endian, written into a temporary directory; `TZ=UTC babeltrace2` prints
//! it and the test compares. Skipped when babeltrace2 is not installed.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use trawl_source_lttng::decode::TraceDecoder;
use trawl_source_lttng::format::PrettyFormatter;
use trawl_source_lttng::metadata::{metadata_text, parse_metadata};

/// The metadata shared by the synthetic traces; `{OFFSET_S}` is the clock
/// offset in seconds, `{HIDDEN}` an optional clock-mapped payload field.
const METADATA: &str = r#"/* CTF 1.8 */
typealias integer { size = 8; align = 8; signed = false; } := u8;
typealias integer { size = 32; align = 8; signed = false; } := u32;
typealias integer { size = 64; align = 8; signed = false; } := u64;

trace {
	major = 1;
	minor = 8;
	byte_order = le;
};

env {
	hostname = "synth";
	procname = "fmt-proc";
	vpid = 42;
};

clock {
	name = mono;
	freq = 1000000000;
	offset_s = {OFFSET_S};
};

stream {
	event.header := struct {
		u32 id;
		integer { size = 64; align = 8; signed = false; map = clock.mono.value; } timestamp;
	};
};

event {
	id = 0;
	name = "floats";
	fields := struct {
		floating_point { exp_dig = 8; mant_dig = 24; align = 8; } f;
		floating_point { exp_dig = 11; mant_dig = 53; align = 8; } d;
	};
};

event {
	id = 1;
	name = "ints";
	fields := struct {
		integer { size = 8; align = 8; signed = true; base = 16; } h8;
		integer { size = 16; align = 8; signed = true; base = 8; } o16;
		integer { size = 16; align = 8; signed = false; base = 8; } uo16;
		integer { size = 8; align = 8; signed = false; base = 2; } b8;
		integer { size = 64; align = 8; signed = true; base = 16; } h64;
		integer { size = 64; align = 8; signed = true; base = 10; } d64;
		integer { size = 3; align = 1; signed = true; base = 2; } b3;
		integer { size = 5; align = 1; signed = true; base = 16; } h5;
		{HIDDEN}
		integer { size = 8; align = 8; signed = false; } __two;
	};
};

event {
	id = 2;
	name = "enums";
	fields := struct {
		enum : integer { size = 8; align = 8; signed = true; } {
			A = 0 ... 5,
			B = 3 ... 9,
			"q\"uote?" = 10,
			A = 20,
			NEG = -3
		} e;
		enum : integer { size = 16; align = 8; signed = false; base = 16; } { X = 1 } x;
	};
};

event {
	id = 3;
	name = "strings";
	fields := struct {
		string s;
		integer { size = 8; align = 8; signed = false; encoding = UTF8; } t[6];
		u8 len;
		integer { size = 8; align = 8; signed = false; encoding = ASCII; } q[len];
	};
};

event {
	id = 4;
	name = "nested";
	fields := struct {
		enum : u8 { INT, STRUCT, _SEQ } tag;
		variant <tag> {
			u32 INT;
			struct { u8 a; string b; } STRUCT;
			struct { u8 n; u32 v[n]; } _SEQ;
		} var;
		struct { } empty;
		struct { u8 p; } one[2];
	};
};

event {
	id = 5;
	name = "nothing";
};

event {
	id = 6;
	name = "empty";
	fields := struct { };
};
"#;

/// Little-endian event assembler.
struct Stream(Vec<u8>);

impl Stream {
    /// Event header: `id` then the 64-bit clock value.
    fn event(&mut self, id: u32, ts: u64) -> &mut Self {
        self.u32(id).u64(ts)
    }
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn f32(&mut self, v: f32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn f64(&mut self, v: f64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
}

/// The events of the synthetic stream, one per interesting case.
fn stream(hidden: bool) -> Vec<u8> {
    let mut s = Stream(Vec::new());
    let floats: [(f32, f64); 8] = [
        (0.0, -0.0),
        (1.5, std::f64::consts::PI),
        (0.1, 1e-5),
        (123_456_789.0, 999_999.5),
        (f32::INFINITY, f64::NEG_INFINITY),
        (f32::NAN, -f64::NAN),
        (1e-40, 1e300),
        (-2.5, 100_000.0),
    ];
    let mut ts = 1_000u64;
    for (f, d) in floats {
        s.event(0, ts).f32(f).f64(d);
        ts += 1_000;
    }
    // ints: h8, o16, uo16, b8, h64, d64, then b3 (bits 0-2) and h5 (bits 3-7)
    // of one byte, hidden, __two.
    let ints: [IntRow; 3] = [
        (-1, -1, 8, 5, -2, i64::MIN, 0b101, 0b11111),
        (0, 0, 0, 0, 0, 0, 0, 0),
        (127, 511, 65_535, 255, i64::MAX, -1, 0b011, 0b01111),
    ];
    for (h8, o16, uo16, b8, h64, d64, b3, h5) in ints {
        s.event(1, ts)
            .u8(h8 as u8)
            .u16(o16 as u16)
            .u16(uo16)
            .u8(b8)
            .u64(h64 as u64)
            .u64(d64 as u64)
            .u8(b3 | (h5 << 3));
        if hidden {
            s.u64(77);
        }
        s.u8(2);
        ts += 1_000;
    }
    for (e, x) in [
        (4i8, 1u16),
        (20, 2),
        (-3, 0xBEEF),
        (10, 1),
        (-100, 1),
        (0, 1),
    ] {
        s.event(2, ts).u8(e as u8).u16(x);
        ts += 1_000;
    }
    let strings: [(&[u8], [u8; 6], &[u8]); 3] = [
        (b"tab\there \"q\" back\\ 'a' ?", *b"abc\0de", b"xyz"),
        (b"\x01\x07\x08\x0b\x0c\r\n\x1b\x7f", *b"full!!", b""),
        (
            "héllo wörld".as_bytes(),
            [0xC3, 0xA9, b't', b'e', 0, 0],
            b"a\0b",
        ),
    ];
    for (st, t, q) in strings {
        s.event(3, ts)
            .bytes(st)
            .u8(0)
            .bytes(&t)
            .u8(q.len() as u8)
            .bytes(q);
        ts += 1_000;
    }
    // nested: tag INT
    s.event(4, ts).u8(0).u32(7).u8(1).u8(2);
    ts += 1_000;
    // tag STRUCT
    s.event(4, ts).u8(1).u8(9).bytes(b"in\0").u8(3).u8(4);
    ts += 1_000;
    // tag _SEQ (label `_SEQ`, option `_SEQ`)
    s.event(4, ts).u8(2).u8(2).u32(10).u32(11).u8(5).u8(6);
    ts += 1_000;
    s.event(5, ts);
    ts += 1_000;
    s.event(6, ts);
    s.0
}

/// A clock-mapped payload integer: babeltrace2 does not print it.
const HIDDEN: &str =
    "integer { size = 64; align = 8; signed = false; map = clock.mono.value; } hidden;";

/// One event's integers: h8, o16, uo16, b8, h64, d64, b3, h5.
type IntRow = (i8, i16, u16, u8, i64, i64, u8, u8);

fn write_trace(dir: &Path, offset_s: i64, hidden: bool) {
    let meta = METADATA
        .replace("{OFFSET_S}", &offset_s.to_string())
        .replace("{HIDDEN}", if hidden { HIDDEN } else { "" });
    std::fs::write(dir.join("metadata"), meta).unwrap();
    std::fs::write(dir.join("stream"), stream(hidden)).unwrap();
}

fn trawl(dir: &Path) -> (String, String) {
    let bytes = std::fs::read(dir.join("metadata")).unwrap();
    let class = Arc::new(parse_metadata(&metadata_text(&bytes).unwrap()).unwrap());
    let dec = TraceDecoder::new(Arc::clone(&class)).unwrap();
    let data = std::fs::read(dir.join("stream")).unwrap();
    let mut s = dec.new_stream(0);
    s.set_track_order(true);
    s.decode_packet(&dec, &data, 0).unwrap();
    let ev = s.take(&dec).unwrap();
    let mut p = PrettyFormatter::new();
    let mut out = Vec::new();
    for &(b, row) in &ev.order {
        let b = b as usize;
        p.write_event(
            &mut out,
            &class,
            ev.stream_class_ids[b],
            ev.event_class_ids[b],
            &ev.batches[b],
            row as usize,
        )
        .unwrap();
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&p.take_stderr()).into_owned(),
    )
}

fn babeltrace2(dir: &Path) -> Option<(String, String)> {
    let out = Command::new("babeltrace2")
        .arg(dir)
        .env("TZ", "UTC")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "babeltrace2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn compare(offset_s: i64, hidden: bool) {
    let dir = tempfile::tempdir().unwrap();
    write_trace(dir.path(), offset_s, hidden);
    let Some((expected, expected_err)) = babeltrace2(dir.path()) else {
        eprintln!("babeltrace2 is not installed: skipped");
        return;
    };
    let (ours, ours_err) = trawl(dir.path());
    let mut diffs = Vec::new();
    for (i, (e, g)) in expected.lines().zip(ours.lines()).enumerate() {
        if e != g {
            diffs.push(format!(
                "line {}:\n  babeltrace2: {e}\n  trawl:       {g}",
                i + 1
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(
        expected.lines().count(),
        ours.lines().count(),
        "line counts"
    );
    assert!(expected.lines().count() > 20);
    let warn = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("[warning]"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(warn(&expected_err), warn(&ours_err));
}

#[test]
fn synthetic_values_print_like_babeltrace2() {
    compare(1_434_072_888, false);
}

/// A clock offset before the epoch: negative times, the fallback warning.
#[test]
fn times_before_the_epoch_print_like_babeltrace2() {
    compare(-1, false);
}

/// A payload integer mapped to the clock does not print, and (babeltrace2)
/// the event keeps the time of its header.
#[test]
fn clock_mapped_payload_field_prints_like_babeltrace2() {
    compare(1_434_072_888, true);
}
