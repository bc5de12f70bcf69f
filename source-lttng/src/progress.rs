//! How far each stream has been read, as both sources (trace directories
//! and live relays) report it: the loss a packet reveals, the time a stream
//! has reached, and watermarks per (host, domain).

use std::collections::BTreeMap;

use trawl_core::Loss;

use crate::decode::PacketInfo;

/// Where one stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamProgress {
    /// Envelope `stream_id` (the packet header's once a packet said it).
    pub stream_id: u64,
    pub cpu: Option<u32>,
    /// Time (ns) up to which the stream is complete; `i64::MIN` before any
    /// packet or beacon.
    pub position: i64,
}

impl StreamProgress {
    pub(crate) fn new(stream_id: u64) -> Self {
        StreamProgress {
            stream_id,
            cpu: None,
            position: i64::MIN,
        }
    }

    /// Takes a decoded packet into account; the loss it reveals (discarded
    /// events, a `packet_seq_num` gap), timed from where the stream was.
    pub(crate) fn packet(&mut self, info: &PacketInfo, host: &str, domain: &str) -> Option<Loss> {
        if let Some(id) = info.stream_instance_id {
            self.stream_id = id;
        }
        self.cpu = info.cpu_id.or(self.cpu);
        let discarded = info.events_discarded.unwrap_or(0);
        let loss = (discarded > 0 || info.packets_lost > 0).then(|| Loss {
            host: host.to_string(),
            domain: domain.to_string(),
            stream_id: self.stream_id,
            cpu: self.cpu,
            events_discarded: discarded,
            packets_lost: info.packets_lost,
            from_ts: self.since(),
            to_ts: info.ts_end,
        });
        self.advance(info.ts_end.or(info.ts_begin));
        loss
    }

    /// The stream is complete up to `ts` (never moves back).
    pub(crate) fn advance(&mut self, ts: Option<i64>) {
        if let Some(ts) = ts {
            self.position = self.position.max(ts);
        }
    }

    /// The position, if the stream has one.
    pub(crate) fn since(&self) -> Option<i64> {
        (self.position != i64::MIN).then_some(self.position)
    }
}

/// Watermarks per (host, domain) from `(host, domain, ended, position)` of
/// every stream: the oldest position of the streams still open, or the
/// newest of all when every stream ended. A stream that has no position yet
/// holds its (host, domain) back (no entry).
pub(crate) fn watermarks<'a>(
    streams: impl Iterator<Item = (&'a str, &'a str, bool, i64)>,
) -> BTreeMap<(String, String), i64> {
    let mut marks: BTreeMap<(&str, &str), (Option<i64>, i64)> = BTreeMap::new();
    for (host, domain, ended, position) in streams {
        let entry = marks.entry((host, domain)).or_insert((None, i64::MIN));
        if ended {
            entry.1 = entry.1.max(position);
        } else {
            entry.0 = Some(entry.0.map_or(position, |m| m.min(position)));
        }
    }
    marks
        .into_iter()
        .filter_map(|((host, domain), (open_min, ended_max))| {
            let ts = open_min.unwrap_or(ended_max);
            (ts != i64::MIN).then(|| ((host.to_string(), domain.to_string()), ts))
        })
        .collect()
}
