//! The local-directory sinks `cwlogs replay` writes by default: `archive/` mirrors the S3 key
//! layout, `index/` holds `_bulk` bodies ready for `curl --data-binary`, `alerts.ndjson` the
//! alert messages (the SNS messages they would be), `metrics.ndjson` the EMF documents,
//! `dead-letter/` keeps every input that could not be decoded, byte for byte, with its error
//! beside it.

use anyhow::{Context, Result};
use cwlogs_pipeline::{
    AlertMessage, ArchiveObject, BulkChunk, Class, DeadLetter, Publish, SendError,
};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// Marks a directory as written by `cwlogs replay`, so that a later run may clear it.
const MARKER: &str = ".cwlogs-out";

/// Prepares `out`: creates it, or clears what an earlier replay wrote there. Refuses a
/// non-empty directory that cwlogs did not create, so a typo never wipes someone's files.
pub fn prepare_out_dir(out: &Path) -> Result<()> {
    if out.exists() {
        let non_empty = fs::read_dir(out)
            .with_context(|| format!("cannot read output directory {}", out.display()))?
            .next()
            .is_some();
        if non_empty && !out.join(MARKER).exists() {
            return Err(crate::UsageError(format!(
                "output directory {} is not empty and was not written by cwlogs; choose another --out",
                out.display()
            ))
            .into());
        }
        for sub in ["archive", "index", "dead-letter"] {
            let p = out.join(sub);
            if p.exists() {
                fs::remove_dir_all(&p).with_context(|| format!("cannot clear {}", p.display()))?;
            }
        }
        for file in ["summary.json", "alerts.ndjson", "metrics.ndjson"] {
            let p = out.join(file);
            if p.exists() {
                fs::remove_file(&p).with_context(|| format!("cannot clear {}", p.display()))?;
            }
        }
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    fs::write(
        out.join(MARKER),
        "written by cwlogs replay; the directory is cleared on the next run\n",
    )
    .with_context(|| format!("cannot write to {}", out.display()))?;
    Ok(())
}

/// Writes archive objects under `root`, at their keys.
pub struct LocalArchive {
    root: PathBuf,
}

impl LocalArchive {
    /// An archive rooted at `root` (created on first write).
    pub fn new(root: PathBuf) -> Self {
        LocalArchive { root }
    }

    /// Writes (or overwrites, like S3) one object.
    pub fn put(&self, object: &ArchiveObject) -> Result<()> {
        let path = self.root.join(&object.key);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fs::write(&path, &object.body).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Appends `_bulk` items to one NDJSON file per target index, `index/<name>.ndjson`, starting a
/// new part (`<name>.2.ndjson`, ...) before a file would pass the bulk size limit.
pub struct LocalIndex {
    root: PathBuf,
    max_bytes: usize,
    files: HashMap<String, (u32, usize)>,
    /// How many files were written.
    pub files_written: usize,
}

impl LocalIndex {
    /// An index directory at `root`, with parts of at most `max_bytes`.
    pub fn new(root: PathBuf, max_bytes: usize) -> Self {
        LocalIndex {
            root,
            max_bytes,
            files: HashMap::new(),
            files_written: 0,
        }
    }

    fn path(&self, index: &str, part: u32) -> PathBuf {
        match part {
            1 => self.root.join(format!("{index}.ndjson")),
            n => self.root.join(format!("{index}.{n}.ndjson")),
        }
    }

    /// Appends the items of `chunk`: each run of items that goes to one file is written with
    /// one call (the items lie one after another in the chunk's body).
    pub fn append(&mut self, chunk: &BulkChunk) -> Result<()> {
        if chunk.ends.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create {}", self.root.display()))?;
        let (mut part, mut size) = self.files.get(&chunk.index).copied().unwrap_or((0, 0));
        // The items not written yet are `body[from..start]`; the next one ends at `end`.
        let (mut from, mut start) = (0, 0);
        for &end in &chunk.ends {
            if end < start {
                // Out of order: `run` names it (nothing is written short without a word).
                run(chunk, start, end)?;
            }
            let pending_size = start - from;
            if part == 0
                || (size + pending_size + (end - start) > self.max_bytes && size + pending_size > 0)
            {
                self.flush(&chunk.index, part, run(chunk, from, start)?)?;
                from = start;
                size = 0;
                part += 1;
                self.files_written += 1;
            }
            start = end;
        }
        self.flush(&chunk.index, part, run(chunk, from, start)?)?;
        self.files
            .insert(chunk.index.clone(), (part, size + (start - from)));
        Ok(())
    }

    fn flush(&self, index: &str, part: u32, items: &[u8]) -> Result<()> {
        if part == 0 || items.is_empty() {
            return Ok(());
        }
        let path = self.path(index, part);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        f.write_all(items)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The items of `chunk` from offset `from` to `to`; an error (nothing written silently short)
/// when its item ends do not lie in its body.
fn run(chunk: &BulkChunk, from: usize, to: usize) -> Result<&[u8]> {
    chunk.body.get(from..to).with_context(|| {
        format!(
            "a _bulk chunk for {} has item ends out of order or past its body ({from}..{to} of {} bytes)",
            chunk.index,
            chunk.body.len()
        )
    })
}

/// A [`Publish`] that writes each message as one JSON line ([`AlertMessage`]) to a file
/// (`alerts.ndjson`), after handing it to `forward` (SNS, with `replay --alert-to`) when there
/// is one: the file then holds what the topic took; a message it refused is not written (it
/// becomes a dead letter).
pub struct AlertFile<P> {
    path: PathBuf,
    out: Mutex<BufWriter<File>>,
    forward: Option<P>,
    written: Mutex<usize>,
    /// Messages written per rule: (alerts, summaries and digests), for the report.
    per_rule: Mutex<std::collections::BTreeMap<String, (usize, usize)>>,
}

impl<P> AlertFile<P> {
    /// Creates (or truncates) the file at `path`; messages go to `forward` first, if any.
    pub fn create(path: PathBuf, forward: Option<P>) -> Result<Self> {
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(AlertFile {
            path,
            out: Mutex::new(BufWriter::new(file)),
            forward,
            written: Mutex::new(0),
            per_rule: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// Writes what is buffered to the file.
    pub fn flush(&self) -> Result<()> {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn append(&self, message: &AlertMessage) -> Result<usize, SendError> {
        let refused = |why: String| SendError {
            class: Class::Reject,
            message: format!("cannot write {}: {why}", self.path.display()),
        };
        let mut line = serde_json::to_vec(message).map_err(|e| refused(e.to_string()))?;
        line.push(b'\n');
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.write_all(&line).map_err(|e| refused(e.to_string()))?;
        let mut n = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n += 1;
        let attribute = |name: &str| {
            message
                .attributes
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some(rule) = attribute("rule") {
            let mut per_rule = self
                .per_rule
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let counts = per_rule.entry(rule.to_string()).or_default();
            match attribute("kind") {
                Some("alert") => counts.0 += 1,
                _ => counts.1 += 1,
            }
        }
        Ok(*n)
    }

    /// Messages written so far for `rule`: (alerts of single events, summaries and digests).
    pub fn written_for(&self, rule: &str) -> (usize, usize) {
        self.per_rule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(rule)
            .copied()
            .unwrap_or_default()
    }
}

impl<P: Publish> Publish for AlertFile<P> {
    async fn publish(
        &self,
        message: &AlertMessage,
        deadline: Option<Instant>,
    ) -> Result<String, SendError> {
        let id = match &self.forward {
            Some(p) => Some(p.publish(message, deadline).await?),
            None => None,
        };
        let n = self.append(message)?;
        Ok(id.unwrap_or_else(|| format!("alerts.ndjson:{n}")))
    }
}

/// Writes dead letters: the raw bytes as `<name>`, the error as `<name>.error.json`.
pub struct LocalDeadLetters {
    root: PathBuf,
    written: std::sync::atomic::AtomicUsize,
}

impl LocalDeadLetters {
    /// Dead letters under `root`.
    pub fn new(root: PathBuf) -> Self {
        LocalDeadLetters {
            root,
            written: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many dead letters were written.
    pub fn written(&self) -> usize {
        self.written.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Keeps one dead letter.
    pub fn put(&self, dl: &DeadLetter) -> Result<()> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create {}", self.root.display()))?;
        if let Some(raw) = &dl.raw {
            let p = self.root.join(&dl.name);
            fs::write(&p, raw).with_context(|| format!("cannot write {}", p.display()))?;
        }
        let p = self.root.join(format!("{}.error.json", dl.name));
        fs::write(&p, dl.error_json()).with_context(|| format!("cannot write {}", p.display()))?;
        self.written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Whether `path` is a dead-letter error file (skipped when a directory is replayed).
pub fn is_error_sidecar(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(cwlogs_pipeline::sink::is_error_file)
}

/// A file name for what came from `input`: its path with separators flattened.
pub fn flat_name(input: &Path) -> String {
    let text = input.to_string_lossy();
    let parts: Vec<&str> = text
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .map(|p| if p == ".." { "up" } else { p })
        .collect();
    let name = if parts.is_empty() {
        "input".into()
    } else {
        parts.join("__")
    };
    // File names are limited to 255 bytes; keep the end (the file's own name) and make the
    // cut unique with a hash of the whole.
    if name.len() <= 160 {
        return name;
    }
    let tail: String = name
        .chars()
        .rev()
        .take(120)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "{}-{tail}",
        cwlogs_pipeline::util::short_hash(name.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(index: &str, items: &[&str]) -> BulkChunk {
        let mut body = Vec::new();
        let mut ends = Vec::new();
        for i in items {
            body.extend_from_slice(i.as_bytes());
            ends.push(body.len());
        }
        BulkChunk {
            index: index.to_string(),
            body,
            ends,
        }
    }

    /// Items go to `<index>.ndjson`, then `<index>.2.ndjson`, ... each part at most
    /// `max_bytes` (an item larger than that alone in its part), in order, across chunks.
    #[test]
    fn index_files_split_in_parts_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut idx = LocalIndex::new(dir.path().to_path_buf(), 10);
        idx.append(&chunk("a", &["1111\n", "2222\n", "3333\n"]))
            .expect("append");
        idx.append(&chunk("b", &["x\n"])).expect("append");
        idx.append(&chunk("a", &["4\n", "5555555555555\n", "6\n", "7\n"]))
            .expect("append");
        idx.append(&chunk("a", &[])).expect("append");
        let read = |name: &str| {
            std::fs::read_to_string(dir.path().join(name)).unwrap_or_else(|_| format!("<{name}>"))
        };
        assert_eq!(read("a.ndjson"), "1111\n2222\n");
        assert_eq!(read("a.2.ndjson"), "3333\n4\n");
        assert_eq!(read("a.3.ndjson"), "5555555555555\n");
        assert_eq!(read("a.4.ndjson"), "6\n7\n");
        assert_eq!(read("b.ndjson"), "x\n");
        assert!(!dir.path().join("a.5.ndjson").exists());
        assert_eq!(idx.files_written, 5);
        // Item ends past the body: an error, not a file cut short without a word.
        let mut bad = chunk("c", &["1\n"]);
        bad.ends.push(40);
        let e = idx.append(&bad).expect_err("ends past the body");
        assert!(e.to_string().contains("past its body"), "{e}");
        // Item ends out of order: an error too, not a panic or a part written short.
        let mut bad = chunk("d", &["1\n", "22\n"]);
        bad.ends.push(1);
        let e = idx.append(&bad).expect_err("ends out of order");
        assert!(e.to_string().contains("out of order"), "{e}");
        assert!(!dir.path().join("d.ndjson").exists());
    }
}
