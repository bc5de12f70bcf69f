//! The TSDL text of a generated kernel trace, written as lttng-modules
//! writes it (`_lttng_session_metadata_statedump` and friends), and its
//! packetized form.

use std::fmt::Write as _;

use super::task::Context;

/// Event classes copied verbatim from a real lttng-modules 2.10 kernel trace.
pub(crate) const LTTNG_MODULES_2_10_EVENTS: &str = include_str!("lttng_modules_2_10.tsdl");

/// Event classes a 2.10 tracer did not have, written in the same format from
/// the lttng-modules stable-2.13 definitions, with ids after the 2.10 ones:
/// the per-namespace statedump events (2.12+, `lttng-statedump.h`) and the
/// x86 page faults (`arch/x86/exceptions.h`: `error_code` is cast to a byte).
pub(crate) const LTTNG_MODULES_2_13_EVENTS: &str = r#"event {
	name = "lttng_statedump_process_pid_ns";
	id = 1400;
	stream_id = 0;
	fields := struct {
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _tid;
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _vtid;
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _vpid;
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _vppid;
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _ns_level;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _ns_inum;
	};
};

event {
	name = "lttng_statedump_process_user_ns";
	id = 1401;
	stream_id = 0;
	fields := struct {
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _tid;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _vuid;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _vgid;
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _ns_level;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _ns_inum;
	};
};

event {
	name = "lttng_statedump_process_cgroup_ns";
	id = 1402;
	stream_id = 0;
	fields := struct {
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _tid;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _ns_inum;
	};
};

event {
	name = "lttng_statedump_process_ipc_ns";
	id = 1403;
	stream_id = 0;
	fields := struct {
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _tid;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _ns_inum;
	};
};

event {
	name = "lttng_statedump_process_mnt_ns";
	id = 1404;
	stream_id = 0;
	fields := struct {
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _tid;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _ns_inum;
	};
};

event {
	name = "lttng_statedump_process_net_ns";
	id = 1405;
	stream_id = 0;
	fields := struct {
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _tid;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _ns_inum;
	};
};

event {
	name = "lttng_statedump_process_uts_ns";
	id = 1406;
	stream_id = 0;
	fields := struct {
		integer { size = 32; align = 8; signed = 1; encoding = none; base = 10; } _tid;
		integer { size = 32; align = 8; signed = 0; encoding = none; base = 10; } _ns_inum;
	};
};

event {
	name = "x86_exceptions_page_fault_user";
	id = 1407;
	stream_id = 0;
	fields := struct {
		integer { size = 64; align = 8; signed = 0; encoding = none; base = 16; } _address;
		integer { size = 64; align = 8; signed = 0; encoding = none; base = 16; } _ip;
		integer { size = 8; align = 8; signed = 0; encoding = none; base = 16; } _error_code;
	};
};

event {
	name = "x86_exceptions_page_fault_kernel";
	id = 1408;
	stream_id = 0;
	fields := struct {
		integer { size = 64; align = 8; signed = 0; encoding = none; base = 16; } _address;
		integer { size = 64; align = 8; signed = 0; encoding = none; base = 16; } _ip;
		integer { size = 8; align = 8; signed = 0; encoding = none; base = 16; } _error_code;
	};
};
"#;

/// What varies between generated traces' metadata.
pub(crate) struct Header<'a> {
    pub(crate) hostname: &'a str,
    pub(crate) trace_uuid: [u8; 16],
    pub(crate) clock_uuid: [u8; 16],
    pub(crate) clock_offset_ns: i64,
    pub(crate) contexts: &'a [Context],
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub(crate) fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The whole TSDL text: the 2.10 trace preamble (same text as the reference
/// file, with this trace's hostname, uuids and clock offset), the stream
/// class with the chosen contexts, then every known event class.
pub(crate) fn tsdl(h: &Header<'_>) -> String {
    let mut t = String::with_capacity(64 * 1024);
    t.push_str(
        "typealias integer { size = 8; align = 8; signed = false; } := uint8_t;
typealias integer { size = 16; align = 8; signed = false; } := uint16_t;
typealias integer { size = 32; align = 8; signed = false; } := uint32_t;
typealias integer { size = 64; align = 8; signed = false; } := uint64_t;
typealias integer { size = 64; align = 8; signed = false; } := unsigned long;
typealias integer { size = 5; align = 1; signed = false; } := uint5_t;
typealias integer { size = 27; align = 1; signed = false; } := uint27_t;

",
    );
    let _ = write!(
        t,
        "trace {{
	major = 1;
	minor = 8;
	uuid = \"{uuid}\";
	byte_order = le;
	packet.header := struct {{
		uint32_t magic;
		uint8_t  uuid[16];
		uint32_t stream_id;
		uint64_t stream_instance_id;
	}};
}};

env {{
	hostname = \"{host}\";
	domain = \"kernel\";
	sysname = \"Linux\";
	kernel_release = \"4.11.0-10-generic\";
	kernel_version = \"#15-Ubuntu SMP Thu Jun 29 15:03:41 UTC 2017\";
	tracer_name = \"lttng-modules\";
	tracer_major = 2;
	tracer_minor = 10;
	tracer_patchlevel = 0;
}};

clock {{
	name = \"monotonic\";
	uuid = \"{clock}\";
	description = \"Monotonic Clock\";
	freq = 1000000000; /* Frequency, in Hz */
	/* clock value offset from Epoch is: offset * (1/freq) */
	offset = {offset};
}};
",
        uuid = uuid_text(&h.trace_uuid),
        host = h.hostname,
        clock = uuid_text(&h.clock_uuid),
        offset = h.clock_offset_ns,
    );
    t.push_str(
        "
typealias integer {
	size = 27; align = 1; signed = false;
	map = clock.monotonic.value;
} := uint27_clock_monotonic_t;

typealias integer {
	size = 32; align = 8; signed = false;
	map = clock.monotonic.value;
} := uint32_clock_monotonic_t;

typealias integer {
	size = 64; align = 8; signed = false;
	map = clock.monotonic.value;
} := uint64_clock_monotonic_t;

struct packet_context {
	uint64_clock_monotonic_t timestamp_begin;
	uint64_clock_monotonic_t timestamp_end;
	uint64_t content_size;
	uint64_t packet_size;
	uint64_t packet_seq_num;
	unsigned long events_discarded;
	uint32_t cpu_id;
};

struct event_header_compact {
	enum : uint5_t { compact = 0 ... 30, extended = 31 } id;
	variant <id> {
		struct {
			uint27_clock_monotonic_t timestamp;
		} compact;
		struct {
			uint32_t id;
			uint64_clock_monotonic_t timestamp;
		} extended;
	} v;
} align(8);

struct event_header_large {
	enum : uint16_t { compact = 0 ... 65534, extended = 65535 } id;
	variant <id> {
		struct {
			uint32_clock_monotonic_t timestamp;
		} compact;
		struct {
			uint32_t id;
			uint64_clock_monotonic_t timestamp;
		} extended;
	} v;
} align(8);

stream {
	id = 0;
	event.header := struct event_header_compact;
	packet.context := struct packet_context;
",
    );
    if !h.contexts.is_empty() {
        t.push_str("\tevent.context := struct {\n");
        for c in h.contexts {
            let _ = writeln!(t, "\t\t{}", c.declaration());
        }
        t.push_str("\t};\n");
    }
    t.push_str("};\n\n");
    t.push_str(event_blocks(LTTNG_MODULES_2_10_EVENTS));
    t.push_str(LTTNG_MODULES_2_13_EVENTS);
    t
}

/// The event blocks of the embedded file (its leading comment dropped).
pub(crate) fn event_blocks(file: &str) -> &str {
    file.find("event {").map_or(file, |at| &file[at..])
}

/// Packetized metadata as lttng writes it: 4 KiB packets, each a 37-byte
/// header then a slice of the text, zero padded.
pub(crate) fn packetize(text: &str, uuid: &[u8; 16]) -> Vec<u8> {
    const PACKET: usize = 4096;
    const HEADER: usize = 37;
    let mut out = Vec::with_capacity(text.len() + text.len() / 8);
    for chunk in text.as_bytes().chunks(PACKET - HEADER) {
        let start = out.len();
        out.extend_from_slice(&0x75D1_1D57u32.to_le_bytes()); // magic
        out.extend_from_slice(uuid); // uuid
        out.extend_from_slice(&0u32.to_le_bytes()); // checksum
        out.extend_from_slice(&(((HEADER + chunk.len()) * 8) as u32).to_le_bytes()); // content_size (bits)
        out.extend_from_slice(&((PACKET * 8) as u32).to_le_bytes()); // packet_size (bits)
        out.extend_from_slice(&[0, 0, 0, 1, 8]); // compression, encryption, checksum scheme, major, minor
        out.extend_from_slice(chunk);
        out.resize(start + PACKET, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_event_classes_are_verbatim_lttng_modules_2_10() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/kernel-metadata/lttng-modules-2.10.metadata"
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let real = crate::metadata::metadata_text(&bytes).expect("reference metadata");
        let blocks = event_blocks(LTTNG_MODULES_2_10_EVENTS);
        let mut n = 0;
        for block in blocks.split_inclusive("\n};\n") {
            let block = block.trim_start_matches('\n');
            if block.trim().is_empty() {
                continue;
            }
            assert!(real.contains(block), "not in the reference file:\n{block}");
            n += 1;
        }
        assert_eq!(n, 88);
    }

    #[test]
    fn metadata_packets_read_back_as_the_text() {
        let text = "x".repeat(10_000);
        let bytes = packetize(&text, &[7; 16]);
        assert_eq!(bytes.len(), 3 * 4096);
        assert_eq!(
            crate::metadata::metadata_text(&bytes).expect("packetized"),
            text
        );
    }
}
