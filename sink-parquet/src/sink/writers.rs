//! The writer threads: every open file lives on one of them, which encodes
//! its rows as they arrive while the pipeline goes on decoding; several
//! files are encoded at once.
//!
//! Memory is bounded by a byte budget: rows handed to the threads and not
//! yet encoded may take at most `max_buffered_bytes` of Arrow memory; a
//! sink that would exceed it waits for the threads (backpressure). An
//! encoded file holds only its current row group in memory, so the sink's
//! footprint does not grow with its input.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::file::{DataFile, Written};
use crate::config::Settings;
use crate::error::{Error, Result};

/// A file's number, unique within one sink.
pub(crate) type FileId = u64;

/// Work for a writer thread, in the order the sink sends it.
enum Job {
    /// A new data file of `table` in `dir`.
    Open {
        id: FileId,
        table: String,
        dir: PathBuf,
        schema: SchemaRef,
    },
    /// Rows taking `bytes` of the budget until they are encoded.
    Write {
        id: FileId,
        batch: RecordBatch,
        bytes: usize,
    },
    /// Finish the file and rename it into place.
    Close { id: FileId },
    /// Encode every row waiting in a window: the sink waits for budget.
    Relieve,
}

/// The end of a file: renamed into place, or failed (then its rows are lost).
pub(crate) struct Done {
    pub id: FileId,
    pub result: Result<Written>,
}

/// Bytes of rows handed to the threads and not yet encoded.
#[derive(Debug)]
struct Budget {
    state: Mutex<BudgetState>,
    changed: Condvar,
    limit: usize,
}

#[derive(Debug, Default)]
struct BudgetState {
    used: usize,
    /// Writer threads that ended while the sink still had them (a panic).
    stopped: usize,
}

impl Budget {
    fn lock(&self) -> MutexGuard<'_, BudgetState> {
        // A thread that panicked holding the lock left only counters behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `bytes`, waiting until the rows in flight fit (a batch larger
    /// than the limit goes alone); `before_waiting` runs once if it must wait.
    fn take(&self, bytes: usize, before_waiting: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut before_waiting = Some(before_waiting);
        let mut state = self.lock();
        while state.used > 0 && state.used + bytes > self.limit {
            if state.stopped > 0 {
                return Err(Error::WriterStopped);
            }
            if let Some(before_waiting) = before_waiting.take() {
                before_waiting()?;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.used += bytes;
        Ok(())
    }

    fn give(&self, bytes: usize) {
        self.lock().used -= bytes;
        self.changed.notify_all();
    }
}

/// Marks its thread stopped when dropped (at its end, or when it panics),
/// so that a sink waiting for the budget does not wait forever.
struct Alive(Arc<Budget>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.lock().stopped += 1;
        self.0.changed.notify_all();
    }
}

/// The writer threads of one sink.
#[derive(Debug)]
pub(crate) struct Writers {
    jobs: Vec<Sender<Job>>,
    done: Receiver<Done>,
    budget: Arc<Budget>,
    threads: Vec<JoinHandle<()>>,
    /// The thread of each file not yet ended.
    thread_of: HashMap<FileId, usize>,
    /// Files not yet ended, per thread.
    load: Vec<usize>,
}

impl Writers {
    /// Starts `count` threads writing files with `settings`.
    pub fn start(count: usize, settings: &Settings) -> Result<Self> {
        let budget = Arc::new(Budget {
            state: Mutex::default(),
            changed: Condvar::new(),
            limit: settings.max_buffered_bytes,
        });
        let (done_tx, done) = mpsc::channel();
        let mut jobs = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        for i in 0..count {
            let path = settings.path.clone();
            let (tx, rx) = mpsc::channel();
            let (done, budget, settings) = (done_tx.clone(), budget.clone(), settings.clone());
            let thread = std::thread::Builder::new()
                .name(format!("parquet-writer-{i}"))
                .spawn(move || work(&rx, &done, budget, &settings))
                .map_err(Error::io("starting a writer thread for", path))?;
            jobs.push(tx);
            threads.push(thread);
        }
        Ok(Writers {
            jobs,
            done,
            budget,
            threads,
            thread_of: HashMap::new(),
            load: vec![0; count],
        })
    }

    /// Opens file `id` of `table` in `dir` on the thread with the fewest files.
    pub fn open(&mut self, id: FileId, table: &str, dir: PathBuf, schema: SchemaRef) -> Result<()> {
        let thread = (0..self.load.len())
            .min_by_key(|&t| self.load[t])
            .unwrap_or_default();
        self.load[thread] += 1;
        self.thread_of.insert(id, thread);
        let table = table.to_string();
        self.send(
            thread,
            Job::Open {
                id,
                table,
                dir,
                schema,
            },
        )
    }

    /// Hands rows of file `id` to its thread; when the budget is spent,
    /// first has every thread encode what waits and waits for it.
    pub fn write(&self, id: FileId, batch: RecordBatch) -> Result<()> {
        let thread = self.thread(id);
        let bytes = batch.get_array_memory_size();
        self.budget.take(bytes, || {
            (0..self.jobs.len()).try_for_each(|thread| self.send(thread, Job::Relieve))
        })?;
        self.send(thread, Job::Write { id, batch, bytes })
            .inspect_err(|_| self.budget.give(bytes))
    }

    /// Asks file `id`'s thread to finish it; a [`Done`] follows.
    pub fn close(&self, id: FileId) -> Result<()> {
        self.send(self.thread(id), Job::Close { id })
    }

    /// A file that ended since the last call, without waiting.
    pub fn try_done(&mut self) -> Option<Done> {
        let done = self.done.try_recv().ok()?;
        Some(self.ended(done))
    }

    /// The next file to end, waiting for it.
    pub fn wait_done(&mut self) -> Result<Done> {
        let done = self.done.recv().map_err(|_| Error::WriterStopped)?;
        Ok(self.ended(done))
    }

    fn ended(&mut self, done: Done) -> Done {
        if let Some(thread) = self.thread_of.remove(&done.id) {
            self.load[thread] -= 1;
        }
        done
    }

    /// The thread of file `id`. A file that failed is gone before the sink
    /// closes it (its failure is reported): its thread skips its jobs, any
    /// thread does.
    fn thread(&self, id: FileId) -> usize {
        self.thread_of.get(&id).copied().unwrap_or_default()
    }

    fn send(&self, thread: usize, job: Job) -> Result<()> {
        self.jobs[thread]
            .send(job)
            .map_err(|_| Error::WriterStopped)
    }
}

impl Drop for Writers {
    /// Stops the threads; files not closed are abandoned (their temporary
    /// files removed).
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A file on its writer thread.
struct Entry {
    file: DataFile,
    /// Budget its window holds.
    held: usize,
}

/// A writer thread: runs jobs until the sink drops its sender.
fn work(jobs: &Receiver<Job>, done: &Sender<Done>, budget: Arc<Budget>, settings: &Settings) {
    let _alive = Alive(budget.clone());
    let mut files: HashMap<FileId, Entry> = HashMap::new();
    // A failed file is reported once, then its jobs are skipped.
    let fail = |files: &mut HashMap<FileId, Entry>, id, e| {
        if let Some(entry) = files.remove(&id) {
            budget.give(entry.held);
            entry.file.abandon();
        }
        let _ = done.send(Done { id, result: Err(e) });
    };
    for job in jobs {
        match job {
            Job::Open {
                id,
                table,
                dir,
                schema,
            } => {
                let file = DataFile::new(table, dir, schema);
                files.insert(id, Entry { file, held: 0 });
            }
            Job::Write { id, batch, bytes } => {
                let Some(entry) = files.get_mut(&id) else {
                    // A failed file's rows.
                    budget.give(bytes);
                    continue;
                };
                entry.held += bytes;
                match entry.file.write(batch, settings) {
                    // The window was encoded: its rows no longer count.
                    Ok(true) => budget.give(std::mem::take(&mut entry.held)),
                    Ok(false) => {}
                    Err(e) => fail(&mut files, id, e),
                }
            }
            Job::Close { id } => {
                if let Some(entry) = files.remove(&id) {
                    let result = entry.file.finish(settings);
                    budget.give(entry.held);
                    let _ = done.send(Done { id, result });
                }
            }
            Job::Relieve => {
                let ids: Vec<FileId> = files.keys().copied().collect();
                for id in ids {
                    let Some(entry) = files.get_mut(&id) else {
                        continue;
                    };
                    match entry.file.encode_window(settings) {
                        Ok(()) => budget.give(std::mem::take(&mut entry.held)),
                        Err(e) => fail(&mut files, id, e),
                    }
                }
            }
        }
    }
    for entry in files.into_values() {
        budget.give(entry.held);
        entry.file.abandon();
    }
}
