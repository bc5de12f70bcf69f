//! Synthetic lttng-modules kernel traces with known ground truth, for tests
//! and benches of everything downstream (enrichment, metrics, correlation).
//!
//! A [`KernelTraceBuilder`] writes a trace directory the way an lttng-modules
//! 2.10 session on x86-64 writes `kernel/`: packetized metadata whose event
//! classes are the real ones (copied verbatim from a real 2.10 trace, same
//! ids; see `lttng_modules_2_10.tsdl`), plus the 2.12+ per-namespace statedump
//! events and the x86 page-fault events in the same format; one stream file
//! per CPU (`channel0_N`) of packets with the real packet header and context,
//! compact event headers (extended when the id is ≥ 31 or the time since the
//! previous event does not fit in 27 bits), byte-packed fields, and the
//! chosen [`Context`] fields (as `lttng add-context -k` adds them) after the
//! header.
//!
//! Context values come from the task current on the event's CPU: register
//! [`Task`]s, and [`KernelTraceBuilder::sched_switch`] (or
//! [`KernelTraceBuilder::set_current`]) changes which one that is. CPUs start
//! in their idle task (tid 0).
//!
//! Times are values of the trace's monotonic clock in ns; the decoded `ts`
//! of an event is [`GeneratedTrace::absolute`]`(ts)`, i.e. the clock offset
//! plus the value. Events of one CPU must be given in time order.
//!
//! Any event class of the metadata can be written by name with
//! [`KernelTraceBuilder::event`] (fields named like the decoder's columns,
//! without the leading `_`; missing fields are zero or empty; a sequence's
//! length and a variant's tag are filled in). Typed helpers cover the events
//! the analyses use: scheduling, process lifetime, syscalls, network, block,
//! memory, page faults and the statedump. When a context and a payload
//! field share a name (the `tid` context and the statedump's or
//! `block_rq_issue`'s `tid`), the decoder names the payload column
//! `payload_tid`.
//!
//! ```
//! use trawl_source_lttng::generate::{KernelTraceBuilder, Namespaces, Task};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut b = KernelTraceBuilder::new(dir.path()).cpus(2).hostname("node-1");
//! b.add_task(Task::new(100, "nginx").namespaces(Namespaces::container(4026532500)));
//! b.sched_switch(1_000, 0, 0, 0, 100).unwrap(); // idle -> nginx on CPU 0
//! b.syscall_entry_read(1_500, 0, 3, 4096).unwrap();
//! b.syscall_exit_read(3_500, 0, 4096).unwrap();
//! b.event(4_000, 1, "kmem_mm_page_alloc", &[("pfn", 42u64.into()), ("order", 0u32.into())])
//!     .unwrap();
//! let trace = b.finish().unwrap();
//! assert_eq!(trace.events, 4);
//! assert!(dir.path().join("metadata").is_file());
//! assert!(dir.path().join("channel0_1").is_file());
//! ```

mod events;
mod metadata;
mod task;
mod value;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::decode::testing::Asm;
use crate::metadata::{ByteOrder, MetadataError, Scope, StructType, TraceClass, parse_metadata};

pub use events::{NetPacket, RWBS_READ, RWBS_WRITE, TASK_INTERRUPTIBLE, TASK_RUNNING, Tcp4};
pub use task::{Context, DEFAULT_CONTEXTS, Namespaces, Task, host_ns};
pub use value::{Fields, Value, fields};

/// The clock offset of the reference 2.10 trace (2017-07-07T18:05:03Z), used
/// unless [`KernelTraceBuilder::clock_offset_ns`] says otherwise.
pub const DEFAULT_CLOCK_OFFSET_NS: i64 = 1_499_450_703_143_835_608;
/// Packet (sub-buffer) size in bytes unless [`KernelTraceBuilder::packet_size`] says otherwise.
pub const DEFAULT_PACKET_SIZE: usize = 64 * 1024;
/// Number of CPUs (stream files) unless [`KernelTraceBuilder::cpus`] says otherwise.
pub const DEFAULT_CPUS: u32 = 1;
/// Host name (`env.hostname`) unless [`KernelTraceBuilder::hostname`] says otherwise.
pub const DEFAULT_HOSTNAME: &str = "trawl-gen";

/// Packet header (magic, uuid, stream_id, stream_instance_id) + packet context, bytes.
const PACKET_PREAMBLE: usize = 84;
/// Bits of the compact header's timestamp.
const COMPACT_TS_BITS: u32 = 27;
/// Compact ids at or above this go in the extended header.
const COMPACT_ID_LIMIT: u64 = 31;

/// Why a trace cannot be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The event class is not in the metadata.
    #[error("no event class `{0}` in the generator's metadata")]
    UnknownEvent(String),
    /// A field value that the event class cannot hold.
    #[error("event `{event}`, field `{field}`: {why}")]
    Value {
        /// The event class.
        event: String,
        /// The dotted field path.
        field: String,
        /// What is wrong.
        why: String,
    },
    /// An event on a CPU the trace does not have.
    #[error("event `{event}` on CPU {cpu}, but the trace has {cpus} CPUs")]
    Cpu {
        /// The event class.
        event: String,
        /// The CPU asked for.
        cpu: u32,
        /// CPUs of the trace.
        cpus: u32,
    },
    /// Events of one CPU out of time order.
    #[error("event `{event}` at {ts} on CPU {cpu} is before the previous event ({prev})")]
    TimeOrder {
        /// The event class.
        event: String,
        /// Its time.
        ts: u64,
        /// The CPU.
        cpu: u32,
        /// The previous event's time on that CPU.
        prev: u64,
    },
    /// A typed helper names a task that was never added.
    #[error("no task with tid {0} (add it with add_task first)")]
    UnknownTask(i32),
    /// One event is larger than a packet.
    #[error("event `{event}` takes {bytes} bytes; packets hold {room}")]
    TooLarge {
        /// The event class.
        event: String,
        /// Its encoded size.
        bytes: usize,
        /// Room in a packet after the header and context.
        room: usize,
    },
    /// The contexts were changed after the first event.
    #[error("contexts changed after the first event was written")]
    ContextsChanged,
    /// The generator's own metadata does not parse (a bug).
    #[error("generated metadata: {0}")]
    Metadata(#[from] MetadataError),
    /// Writing the trace failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What [`KernelTraceBuilder::finish`] wrote.
#[derive(Debug, Clone)]
pub struct GeneratedTrace {
    /// The trace directory (holds `metadata` and the stream files).
    pub dir: PathBuf,
    /// The stream files, one per CPU, in CPU order.
    pub streams: Vec<PathBuf>,
    /// Events written.
    pub events: u64,
    /// Packets written over all streams.
    pub packets: u64,
    /// The clock offset (ns since the epoch).
    pub clock_offset_ns: i64,
}

impl GeneratedTrace {
    /// The decoded `ts` (ns since the epoch) of an event written at clock value `ts`.
    pub fn absolute(&self, ts: u64) -> i64 {
        self.clock_offset_ns + ts as i64
    }
}

/// One event waiting in its CPU's stream: time, class id, encoded context + payload.
struct Pending {
    ts: u64,
    id: u64,
    body: std::ops::Range<usize>,
}

/// A loss before the event at `at` of a stream.
struct Gap {
    at: usize,
    discarded: u64,
    packets: u64,
}

#[derive(Default)]
struct CpuStream {
    current: i32,
    events: Vec<Pending>,
    bodies: Vec<u8>,
    gaps: Vec<Gap>,
}

/// The parsed metadata and what the writer needs from it.
struct Class {
    trace: TraceClass,
    ids: HashMap<String, usize>,
    context: Option<StructType>,
    contexts: Vec<Context>,
}

/// Writes a synthetic lttng-modules kernel trace (see the module docs).
/// Configure it first (the setters), then add events, then [`finish`](Self::finish).
pub struct KernelTraceBuilder {
    dir: PathBuf,
    cpus: u32,
    hostname: String,
    trace_uuid: Option<[u8; 16]>,
    clock_uuid: Option<[u8; 16]>,
    clock_offset_ns: i64,
    contexts: Vec<Context>,
    packet_size: usize,
    class: Option<Class>,
    streams: Vec<CpuStream>,
    tasks: HashMap<i32, Task>,
}

impl KernelTraceBuilder {
    /// A builder writing into `dir` (created if missing) with the `DEFAULT_*`
    /// settings and [`DEFAULT_CONTEXTS`].
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            cpus: DEFAULT_CPUS,
            hostname: DEFAULT_HOSTNAME.to_string(),
            trace_uuid: None,
            clock_uuid: None,
            clock_offset_ns: DEFAULT_CLOCK_OFFSET_NS,
            contexts: DEFAULT_CONTEXTS.to_vec(),
            packet_size: DEFAULT_PACKET_SIZE,
            class: None,
            streams: Vec::new(),
            tasks: HashMap::new(),
        }
    }

    /// Number of CPUs: one stream file each.
    pub fn cpus(mut self, n: u32) -> Self {
        self.cpus = n.max(1);
        self
    }

    /// `env.hostname` (the `host` column of every event).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = name.to_string();
        self
    }

    /// The trace UUID (default: derived from the host name).
    pub fn trace_uuid(mut self, uuid: [u8; 16]) -> Self {
        self.trace_uuid = Some(uuid);
        self
    }

    /// The clock UUID, i.e. the boot id that names the host to trace
    /// synchronization (default: derived from the host name).
    pub fn clock_uuid(mut self, uuid: [u8; 16]) -> Self {
        self.clock_uuid = Some(uuid);
        self
    }

    /// The clock offset, ns since the epoch.
    pub fn clock_offset_ns(mut self, ns: i64) -> Self {
        self.clock_offset_ns = ns;
        self
    }

    /// The context fields of every event, in order (empty: none).
    pub fn contexts(mut self, contexts: &[Context]) -> Self {
        self.contexts = contexts.to_vec();
        self
    }

    /// Packet size in bytes (rounded up to 4 KiB, at least 4 KiB).
    pub fn packet_size(mut self, bytes: usize) -> Self {
        self.packet_size = bytes.max(1).div_ceil(4096) * 4096;
        self
    }

    /// Registers a task (replacing one with the same tid).
    pub fn add_task(&mut self, task: Task) -> &mut Self {
        self.tasks.insert(task.tid, task);
        self
    }

    /// A registered task.
    pub fn task(&self, tid: i32) -> Option<&Task> {
        self.tasks.get(&tid)
    }

    /// Makes `tid` the current task of `cpu` without writing an event (the
    /// state when the trace starts).
    pub fn set_current(&mut self, cpu: u32, tid: i32) -> Result<&mut Self, GenerateError> {
        self.prepare()?;
        self.task_or_err(tid)?;
        let cpus = self.cpus;
        let s = self
            .streams
            .get_mut(cpu as usize)
            .ok_or(GenerateError::Cpu {
                event: "(set_current)".into(),
                cpu,
                cpus,
            })?;
        s.current = tid;
        Ok(self)
    }

    /// The task current on `cpu` (its idle task if none was switched in).
    pub fn current(&self, cpu: u32) -> Task {
        let tid = self.streams.get(cpu as usize).map_or(0, |s| s.current);
        self.task_on(tid, cpu)
    }

    /// Records a loss on `cpu` before its next event: `discarded` events the
    /// ring buffer dropped (the next packet's `events_discarded` grows) and
    /// `packets` whole packets missing (its `packet_seq_num` skips).
    pub fn loss(
        &mut self,
        cpu: u32,
        discarded: u64,
        packets: u64,
    ) -> Result<&mut Self, GenerateError> {
        self.prepare()?;
        let cpus = self.cpus;
        let s = self
            .streams
            .get_mut(cpu as usize)
            .ok_or(GenerateError::Cpu {
                event: "(loss)".into(),
                cpu,
                cpus,
            })?;
        s.gaps.push(Gap {
            at: s.events.len(),
            discarded,
            packets,
        });
        Ok(self)
    }

    /// Writes event `name` at clock value `ts` on `cpu` with payload `fields`
    /// (named without the leading `_`); contexts come from the current task.
    pub fn event(
        &mut self,
        ts: u64,
        cpu: u32,
        name: &str,
        fields: &[(&str, Value)],
    ) -> Result<&mut Self, GenerateError> {
        let owned: Fields = fields
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.clone()))
            .collect();
        self.write(ts, cpu, name, &owned)
    }

    /// [`event`](Self::event) with owned fields (what the typed helpers use).
    pub fn write(
        &mut self,
        ts: u64,
        cpu: u32,
        name: &str,
        fields: &[(String, Value)],
    ) -> Result<&mut Self, GenerateError> {
        self.prepare()?;
        let cpus = self.cpus;
        let hostname = self.hostname.clone();
        let stream = self.streams.get(cpu as usize).ok_or(GenerateError::Cpu {
            event: name.to_string(),
            cpu,
            cpus,
        })?;
        if let Some(prev) = stream.events.last()
            && prev.ts > ts
        {
            return Err(GenerateError::TimeOrder {
                event: name.to_string(),
                ts,
                cpu,
                prev: prev.ts,
            });
        }
        let task = self.task_on(stream.current, cpu);
        let class = self.class.as_ref().ok_or(GenerateError::ContextsChanged)?;
        let &index = class
            .ids
            .get(name)
            .ok_or_else(|| GenerateError::UnknownEvent(name.to_string()))?;
        let ec = &class.trace.streams[0].events[index];
        let mut asm = Asm::new(ByteOrder::Little);
        if let Some(ctx) = &class.context {
            let values: Fields = class
                .contexts
                .iter()
                .map(|c| (c.name().to_string(), c.value(&task, cpu, &hostname)))
                .collect();
            value::Encoder {
                asm: &mut asm,
                event: name,
                scope: Scope::StreamEventContext,
            }
            .write_struct(ctx, &values, &mut Vec::new(), "")?;
        }
        if let Some(payload) = &ec.payload {
            value::Encoder {
                asm: &mut asm,
                event: name,
                scope: Scope::EventPayload,
            }
            .write_struct(payload, fields, &mut Vec::new(), "")?;
        }
        let body = asm.finish();
        let room = self.packet_size - PACKET_PREAMBLE - 13;
        if body.len() > room {
            return Err(GenerateError::TooLarge {
                event: name.to_string(),
                bytes: body.len() + 13,
                room: room + 13,
            });
        }
        let id = ec.id;
        let stream = &mut self.streams[cpu as usize];
        let start = stream.bodies.len();
        stream.bodies.extend_from_slice(&body);
        stream.events.push(Pending {
            ts,
            id,
            body: start..stream.bodies.len(),
        });
        Ok(self)
    }

    /// Writes the metadata and the stream files.
    pub fn finish(mut self) -> Result<GeneratedTrace, GenerateError> {
        self.prepare()?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| GenerateError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let trace_uuid = self
            .trace_uuid
            .unwrap_or_else(|| derived_uuid(&self.hostname, 1));
        let text = self.metadata_text();
        let meta_path = self.dir.join("metadata");
        std::fs::write(&meta_path, metadata::packetize(&text, &trace_uuid))
            .map_err(io(&meta_path))?;
        let last_ts = self
            .streams
            .iter()
            .filter_map(|s| s.events.last().map(|e| e.ts))
            .max()
            .unwrap_or(0);
        let mut out = GeneratedTrace {
            dir: self.dir.clone(),
            streams: Vec::new(),
            events: 0,
            packets: 0,
            clock_offset_ns: self.clock_offset_ns,
        };
        for (cpu, stream) in self.streams.iter().enumerate() {
            let (bytes, packets) =
                write_stream(stream, cpu as u32, &trace_uuid, self.packet_size, last_ts);
            let path = self.dir.join(format!("channel0_{cpu}"));
            std::fs::write(&path, bytes).map_err(io(&path))?;
            out.streams.push(path);
            out.events += stream.events.len() as u64;
            out.packets += packets;
        }
        Ok(out)
    }

    /// The TSDL text the trace gets (the setters decide hostname, uuids, contexts).
    pub fn metadata_text(&self) -> String {
        metadata::tsdl(&metadata::Header {
            hostname: &self.hostname,
            trace_uuid: self
                .trace_uuid
                .unwrap_or_else(|| derived_uuid(&self.hostname, 1)),
            clock_uuid: self
                .clock_uuid
                .unwrap_or_else(|| derived_uuid(&self.hostname, 2)),
            clock_offset_ns: self.clock_offset_ns,
            contexts: &self.contexts,
        })
    }

    /// Parses the metadata once (at the first event) and opens the CPU streams.
    fn prepare(&mut self) -> Result<(), GenerateError> {
        if let Some(class) = &self.class {
            if class.contexts != self.contexts {
                return Err(GenerateError::ContextsChanged);
            }
        } else {
            let trace = parse_metadata(&self.metadata_text())?;
            let stream = &trace.streams[0];
            let ids = stream
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| (e.name.clone(), i))
                .collect();
            let context = stream.event_context.clone();
            self.class = Some(Class {
                trace,
                ids,
                context,
                contexts: self.contexts.clone(),
            });
        }
        while self.streams.len() < self.cpus as usize {
            self.streams.push(CpuStream::default());
        }
        Ok(())
    }

    /// The task `tid` (the CPU's idle task for 0, a bare task if unknown).
    fn task_on(&self, tid: i32, cpu: u32) -> Task {
        match self.tasks.get(&tid) {
            Some(t) if tid != 0 => t.clone(),
            _ if tid == 0 => Task::idle(cpu),
            _ => Task::new(tid, ""),
        }
    }

    /// Refuses a tid that is neither 0 (idle) nor registered.
    fn task_or_err(&self, tid: i32) -> Result<(), GenerateError> {
        if tid == 0 || self.tasks.contains_key(&tid) {
            Ok(())
        } else {
            Err(GenerateError::UnknownTask(tid))
        }
    }
}

/// A stable UUID from a name (FNV-1a), so that one host name always gives one trace.
fn derived_uuid(name: &str, salt: u8) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (half, chunk) in out.chunks_mut(8).enumerate() {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(salt) ^ ((half as u64) << 8);
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    out[6] = (out[6] & 0x0f) | 0x40; // version 4 layout
    out[8] = (out[8] & 0x3f) | 0x80; // RFC 4122 variant
    out
}

/// Assembles one CPU's packets; returns the bytes and the packet count.
fn write_stream(
    s: &CpuStream,
    cpu: u32,
    uuid: &[u8; 16],
    packet_size: usize,
    last_ts: u64,
) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut seq = 0u64;
    let mut discarded = 0u64;
    let mut packets = 0u64;
    let mut gaps = s.gaps.iter().peekable();
    let mut i = 0;
    loop {
        while let Some(g) = gaps.next_if(|g| g.at <= i) {
            discarded += g.discarded;
            seq += g.packets;
        }
        let next_gap = gaps.peek().map_or(usize::MAX, |g| g.at);
        let begin = s.events.get(i).map_or(last_ts, |e| e.ts);
        let mut a = Asm::new(ByteOrder::Little);
        a.u32(0xC1FC_1FC1); // magic
        a.bytes(uuid); // uuid
        a.u32(0); // stream_id
        a.u64(u64::from(cpu)); // stream_instance_id
        a.u64(begin); // timestamp_begin
        a.u64(0); // timestamp_end (patched)
        a.u64(0); // content_size (patched)
        a.u64(0); // packet_size (patched)
        a.u64(seq); // packet_seq_num
        a.u64(discarded); // events_discarded (cumulative)
        a.u32(cpu); // cpu_id
        let mut prev = begin;
        let mut end = begin;
        while let Some(e) = s.events.get(i) {
            let extended = e.id >= COMPACT_ID_LIMIT || (e.ts - prev) >> COMPACT_TS_BITS != 0;
            let header = if extended { 13 } else { 4 };
            let body = &s.bodies[e.body.clone()];
            if i >= next_gap || a.bit_pos() / 8 + (header + body.len()) as u64 > packet_size as u64
            {
                break;
            }
            if extended {
                a.int(5, COMPACT_ID_LIMIT); // id: extended
                a.u32(e.id as u32); // v.extended.id
                a.u64(e.ts); // v.extended.timestamp
            } else {
                // id (5 bits) then v.compact.timestamp (low 27 bits), one LE u32.
                a.u32(e.id as u32 | ((e.ts as u32) << 5));
            }
            a.bytes(body); // context fields, payload
            prev = e.ts;
            end = e.ts;
            i += 1;
        }
        let content = a.bit_pos();
        a.pad_to(packet_size);
        a.patch_u64(40, end); // timestamp_end
        a.patch_u64(48, content); // content_size (bits)
        a.patch_u64(56, packet_size as u64 * 8); // packet_size (bits)
        out.extend_from_slice(&a.finish());
        packets += 1;
        seq += 1;
        if i >= s.events.len() && gaps.peek().is_none() {
            break;
        }
    }
    (out, packets)
}
