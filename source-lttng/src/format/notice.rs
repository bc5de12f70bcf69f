//! babeltrace2's discarded-events and discarded-packets notices
//! (`print_discarded_elements_msg`), which it writes to stderr.

use super::text::push_radix;
use crate::metadata::TraceClass;

/// A discarded-events or discarded-packets notice, as babeltrace2 gets it
/// from `src.ctf.fs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscardedNotice<'a> {
    /// The trace name: see [`trace_name`].
    pub trace_name: &'a str,
    /// The trace UUID, if the metadata has one.
    pub trace_uuid: Option<[u8; 16]>,
    /// The stream's path as babeltrace2 names it: the absolute path of the
    /// stream file (e.g. `/.../multi-domains/kernel/kernel_channel_0`).
    pub stream_path: &'a str,
    /// The stream class id.
    pub stream_class_id: u64,
    /// The stream id (`stream_instance_id`, or the reader's own numbering).
    pub stream_id: Option<u64>,
    /// How many were discarded; `None` prints "may have discarded".
    pub count: Option<u64>,
    /// Beginning and end (absolute ns) when the stream class has them
    /// (packet `timestamp_begin`/`timestamp_end`); `None` prints
    /// "(unknown time range)".
    pub range: Option<(i64, i64)>,
}

/// The trace name babeltrace2's `src.ctf.fs` gives a trace: env `hostname`
/// (when a string) and the trace directory relative to the input path it
/// was found under (empty when the input is the trace itself), joined by
/// `/`. E.g. `joraj-alpa/kernel` for `babeltrace2 multi-domains`,
/// `joraj-alpa` for `babeltrace2 multi-domains/kernel`,
/// `a/b/2-lost-before-last` (no hostname) for a trace at `IN/a/b/...` given
/// as `IN`, `` for a trace with no hostname given directly.
pub fn trace_name(trace: &TraceClass, relative_dir: &str) -> String {
    let host = trace.env_str("hostname").unwrap_or("");
    match (host.is_empty(), relative_dir.is_empty()) {
        (false, false) => format!("{host}/{relative_dir}"),
        (false, true) => host.to_string(),
        (true, _) => relative_dir.to_string(),
    }
}

/// Appends one notice line; `wall` prints a time as the event timestamps
/// are printed (it may warn about negative times, hence the closure).
pub(super) fn write_notice(
    out: &mut Vec<u8>,
    n: &DiscardedNotice<'_>,
    what: &str,
    wall: &mut dyn FnMut(&mut Vec<u8>, i64),
) {
    match n.count {
        Some(count) => {
            out.extend_from_slice(b"WARNING: Tracer discarded ");
            push_radix(out, count, 10);
            out.push(b' ');
            out.extend_from_slice(what.as_bytes());
            if count != 1 {
                out.push(b's');
            }
        }
        None => {
            out.extend_from_slice(b"WARNING: Tracer may have discarded ");
            out.extend_from_slice(what.as_bytes());
            out.push(b's');
        }
    }
    out.push(b' ');
    match n.range {
        Some((begin, end)) => {
            out.extend_from_slice(b"between [");
            wall(out, begin);
            out.extend_from_slice(b"] and [");
            wall(out, end);
            out.push(b']');
        }
        None => out.extend_from_slice(b"(unknown time range)"),
    }
    out.extend_from_slice(b" in trace \"");
    out.extend_from_slice(n.trace_name.as_bytes());
    out.extend_from_slice(b"\" ");
    match n.trace_uuid {
        Some(u) => {
            out.extend_from_slice(b"(UUID: ");
            push_uuid(out, &u);
            out.extend_from_slice(b") ");
        }
        None => out.extend_from_slice(b"(no UUID) "),
    }
    out.extend_from_slice(b"within stream \"");
    out.extend_from_slice(n.stream_path.as_bytes());
    out.extend_from_slice(b"\" (stream class ID: ");
    push_radix(out, n.stream_class_id, 10);
    out.extend_from_slice(b", ");
    match n.stream_id {
        Some(id) => {
            out.extend_from_slice(b"stream ID: ");
            push_radix(out, id, 10);
        }
        None => out.extend_from_slice(b"no stream ID"),
    }
    out.extend_from_slice(b").\n");
}

/// `8-4-4-4-12` lowercase hex.
pub(crate) fn push_uuid(out: &mut Vec<u8>, u: &[u8; 16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xF)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PrettyFormatter;
    use crate::format::test_util::*;

    /// multi-domains and ev-disc-no-ts-begin-end discarded-events notices.
    #[test]
    fn discarded_notices() {
        let mut p = PrettyFormatter::new();
        let mut out = Vec::new();
        let uuid = [
            0x83, 0x0f, 0x21, 0x29, 0x77, 0xd5, 0xcb, 0x4e, 0x90, 0xcf, 0xb0, 0x75, 0x4d, 0x8c,
            0xe8, 0x89,
        ];
        p.write_discarded_events(
            &mut out,
            &DiscardedNotice {
                trace_name: "joraj-alpa/kernel",
                trace_uuid: Some(uuid),
                stream_path: "/d/multi-domains/kernel/kernel_channel_0",
                stream_class_id: 0,
                stream_id: Some(0),
                count: Some(728),
                range: Some((at(19, 16, 2, 352_676_346), at(19, 16, 33, 426_663_981))),
            },
        );
        p.write_discarded_packets(
            &mut out,
            &DiscardedNotice {
                trace_name: "",
                trace_uuid: None,
                stream_path: "/d/stream",
                stream_class_id: 1,
                stream_id: None,
                count: Some(1),
                range: None,
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "WARNING: Tracer discarded 728 events between [19:16:02.352676346] and [19:16:33.426663981] in trace \"joraj-alpa/kernel\" (UUID: 830f2129-77d5-cb4e-90cf-b0754d8ce889) within stream \"/d/multi-domains/kernel/kernel_channel_0\" (stream class ID: 0, stream ID: 0).\n\
             WARNING: Tracer discarded 1 packet (unknown time range) in trace \"\" (no UUID) within stream \"/d/stream\" (stream class ID: 1, no stream ID).\n"
        );
        let t = trace(&[("hostname", s("joraj-alpa"))], bare_stream(vec![]));
        assert_eq!(trace_name(&t, "kernel"), "joraj-alpa/kernel");
        assert_eq!(trace_name(&t, ""), "joraj-alpa");
        let t = trace(&[], bare_stream(vec![]));
        assert_eq!(trace_name(&t, ""), "");
    }
}
