//! Snapshot data on disk: recording a tree's metadata and hashes, copying a tree into the store
//! (reflink, else a streaming copy that hashes as it goes), restoring and verifying it.
//!
//! This module never follows a symlink inside a tree and never deletes an original: the only
//! things it removes are its own partial copies and snapshot directories it is told to remove.

use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::manifest::{Entry, Kind, Method, PathBytes, Target};
use crate::error::{Error, Result};

const CHUNK: usize = 1 << 20;

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), e)
}

fn walk_err(e: walkdir::Error) -> Error {
    let path = e.path().map(Path::to_path_buf).unwrap_or_default();
    let io = e
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("filesystem loop"));
    io_err("cannot read", &path, io)
}

/// A walked entry, its path relative to the walk's root, and its metadata (not followed).
fn walked(
    item: walkdir::Result<walkdir::DirEntry>,
    root: &Path,
) -> Result<(walkdir::DirEntry, PathBuf, Metadata)> {
    let item = item.map_err(walk_err)?;
    let rel = item
        .path()
        .strip_prefix(root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let meta = item.metadata().map_err(walk_err)?;
    Ok((item, rel, meta))
}

fn kind_of(meta: &Metadata) -> Kind {
    let t = meta.file_type();
    if t.is_symlink() {
        Kind::Symlink
    } else if t.is_dir() {
        Kind::Dir
    } else if t.is_fifo() {
        Kind::Fifo
    } else if t.is_char_device() {
        Kind::Char
    } else if t.is_block_device() {
        Kind::Block
    } else if t.is_socket() {
        Kind::Socket
    } else {
        Kind::File
    }
}

/// The manifest entry for `path` (not followed if a symlink), named `rel` in its target.
pub fn stat_entry(path: &Path, rel: PathBuf) -> Result<Entry> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_err("cannot stat", path, e))?;
    entry_of(path, rel, &meta)
}

fn entry_of(path: &Path, rel: PathBuf, meta: &Metadata) -> Result<Entry> {
    let kind = kind_of(meta);
    let link = match kind {
        Kind::Symlink => Some(PathBytes(
            std::fs::read_link(path).map_err(|e| io_err("cannot read link", path, e))?,
        )),
        _ => None,
    };
    Ok(Entry {
        path: PathBytes(rel),
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        size: if kind == Kind::File { meta.len() } else { 0 },
        link,
        rdev: matches!(kind, Kind::Char | Kind::Block).then(|| meta.rdev()),
        sha256: None,
    })
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn open_nofollow(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(|e| io_err("cannot open", path, e))
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut File, buf: &mut [u8], path: &Path) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("cannot read", path, e)),
        }
    }
    Ok(n)
}

/// sha256 of a file's content.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut f = open_nofollow(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = read_full(&mut f, &mut buf, path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Every entry of the tree at `root` (parents before children, names sorted), with the sha256 of
/// every file; also the sum of file sizes and the space allocated on disk.
pub fn record(root: &Path) -> Result<(Vec<Entry>, u64, u64)> {
    let mut entries = Vec::new();
    let (mut bytes, mut disk) = (0, 0);
    for item in WalkDir::new(root).sort_by_file_name() {
        let (item, rel, meta) = walked(item, root)?;
        let mut e = entry_of(item.path(), rel, &meta)?;
        if e.kind == Kind::File {
            e.sha256 = Some(hash_file(item.path())?);
            bytes += e.size;
        }
        disk += meta.blocks() * 512;
        entries.push(e);
    }
    Ok((entries, bytes, disk))
}

/// Size and allocated space of a tree, without reading any content (for the free-space check).
pub fn measure(root: &Path, one_file_system: bool) -> Result<(u64, u64)> {
    let (mut bytes, mut disk) = (0, 0);
    for item in WalkDir::new(root).same_file_system(one_file_system) {
        let meta = item.map_err(walk_err)?.metadata().map_err(walk_err)?;
        if meta.is_file() {
            bytes += meta.len();
        }
        disk += meta.blocks() * 512;
    }
    Ok((bytes, disk))
}

/// Creates `dst` (which must not exist) and copies `src` into it, handing every buffer taken from
/// `buffers` to `hash` once written, the last one empty. Runs of zeros become holes, so a sparse file stays sparse. Returns the length.
fn copy_chunks(
    src: &Path,
    dst: &Path,
    buffers: &mut dyn FnMut() -> Result<Vec<u8>>,
    hash: &mut dyn FnMut(Vec<u8>, usize) -> Result<()>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let mut input = open_nofollow(src)?;
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)
        .map_err(|e| io_err("cannot create", dst, e))?;
    let mut len = 0u64;
    loop {
        let mut buf = buffers()?;
        let n = read_full(&mut input, &mut buf, src)?;
        if n == 0 {
            // The buffer goes back the same way as the others (an empty chunk hashes nothing).
            hash(buf, 0)?;
            break;
        }
        let chunk = &buf[..n];
        if chunk.iter().all(|&b| b == 0) {
            out.seek(SeekFrom::Current(n as i64))
                .map_err(|e| io_err("cannot seek in", dst, e))?;
        } else {
            out.write_all(chunk)
                .map_err(|e| io_err("cannot write", dst, e))?;
        }
        len += n as u64;
        progress(n as u64);
        hash(buf, n)?;
    }
    out.set_len(len)
        .map_err(|e| io_err("cannot write", dst, e))?;
    Ok(len)
}

enum Chunk {
    Data(Vec<u8>, usize),
    EndOfFile,
}

/// sha256 on another core while the copy goes on: chunks are handed over as they are written,
/// buffers come back for reuse, and digests come back in the order the files ended.
struct HashPipe {
    chunks: std::sync::mpsc::SyncSender<Chunk>,
    free: std::sync::mpsc::Receiver<Vec<u8>>,
    digests: std::sync::mpsc::Receiver<String>,
    allocated: std::cell::Cell<usize>,
    worker: std::thread::JoinHandle<()>,
}

impl HashPipe {
    fn new() -> HashPipe {
        let (chunks, rx) = std::sync::mpsc::sync_channel::<Chunk>(8);
        let (free_tx, free) = std::sync::mpsc::channel();
        let (digest_tx, digests) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            let mut h = Sha256::new();
            for chunk in rx {
                match chunk {
                    Chunk::Data(buf, n) => {
                        h.update(&buf[..n]);
                        let _ = free_tx.send(buf);
                    }
                    Chunk::EndOfFile => {
                        let _ = digest_tx.send(hex(&h.finalize_reset()));
                    }
                }
            }
        });
        HashPipe {
            chunks,
            free,
            digests,
            allocated: std::cell::Cell::new(0),
            worker,
        }
    }

    fn buffer(&self) -> Result<Vec<u8>> {
        if let Ok(b) = self.free.try_recv() {
            return Ok(b);
        }
        if self.allocated.get() < 10 {
            self.allocated.set(self.allocated.get() + 1);
            return Ok(vec![0u8; CHUNK]);
        }
        self.free.recv().map_err(|_| Self::gone())
    }

    fn gone() -> Error {
        Error::Snapshot("the hashing thread stopped".into())
    }

    fn send(&self, c: Chunk) -> Result<()> {
        self.chunks.send(c).map_err(|_| Self::gone())
    }

    /// Copies `src` to `dst` (which must not exist), its chunks sent to be hashed; the digest
    /// follows in the order of the files. Returns the length.
    fn copy(&self, src: &Path, dst: &Path, progress: &mut dyn FnMut(u64)) -> Result<u64> {
        let len = copy_chunks(
            src,
            dst,
            &mut || self.buffer(),
            &mut |buf, n| self.send(Chunk::Data(buf, n)),
            progress,
        )?;
        self.send(Chunk::EndOfFile)?;
        Ok(len)
    }

    /// Every digest, in the order of the files.
    fn finish(self) -> Result<Vec<String>> {
        drop(self.chunks);
        self.worker.join().map_err(|_| Self::gone())?;
        Ok(self.digests.try_iter().collect())
    }
}

/// What copying a tree produced.
pub struct Copied {
    pub entries: Vec<Entry>,
    pub method: Method,
    pub bytes: u64,
    pub disk_bytes: u64,
}

/// Copies the tree at `src` to `dst` (which must not exist): files are cloned when the
/// filesystem can (their hash is then computed later, by `hash_missing`), else copied with their
/// hash computed on the way. Special files are only recorded: restore recreates them.
pub fn copy_tree(
    src: &Path,
    dst: &Path,
    one_file_system: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied> {
    let mut out = Copied {
        entries: Vec::new(),
        method: Method::Reflink,
        bytes: 0,
        disk_bytes: 0,
    };
    let mut try_reflink = true;
    let pipe = HashPipe::new();
    // Entries whose digest comes from the pipe, in the order their files were sent.
    let mut piped = Vec::new();
    for item in WalkDir::new(src)
        .sort_by_file_name()
        .same_file_system(one_file_system)
    {
        let (item, rel, meta) = walked(item, src)?;
        let to = if rel.as_os_str().is_empty() {
            dst.to_path_buf()
        } else {
            dst.join(&rel)
        };
        let mut e = entry_of(item.path(), rel, &meta)?;
        match e.kind {
            Kind::Dir => std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&to)
                .map_err(|e| io_err("cannot create", &to, e))?,
            Kind::Symlink => {
                let link = e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default();
                std::os::unix::fs::symlink(link, &to)
                    .map_err(|e| io_err("cannot create", &to, e))?;
            }
            Kind::File => {
                let cloned = try_reflink && reflink_copy::reflink(item.path(), &to).is_ok();
                if cloned {
                    progress(e.size);
                } else {
                    try_reflink = false;
                    let _ = std::fs::remove_file(&to);
                    e.size = pipe.copy(item.path(), &to, progress)?;
                    piped.push(out.entries.len());
                    out.method = Method::Copy;
                }
                out.bytes += e.size;
                let copy_meta =
                    std::fs::symlink_metadata(&to).map_err(|e| io_err("cannot stat", &to, e))?;
                out.disk_bytes += copy_meta.blocks() * 512;
            }
            Kind::Fifo | Kind::Char | Kind::Block | Kind::Socket => {}
        }
        out.entries.push(e);
    }
    let digests = pipe.finish()?;
    if digests.len() != piped.len() {
        return Err(HashPipe::gone());
    }
    for (i, sum) in piped.into_iter().zip(digests) {
        out.entries[i].sha256 = Some(sum);
    }
    Ok(out)
}

/// Hashes the files of a target whose entries have no sha256 yet (cloned or renamed data).
pub fn hash_missing(t: &mut Target, snapshot_dir: &Path) -> Result<()> {
    let base = snapshot_dir.join(&t.data);
    for e in &mut t.entries {
        if e.kind == Kind::File && e.sha256.is_none() {
            e.sha256 = Some(hash_file(&join(&base, &e.path.0))?);
        }
    }
    Ok(())
}

fn join(base: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

/// Problems found when re-reading a target's data against its manifest (empty: intact).
pub fn verify_target(t: &Target, snapshot_dir: &Path) -> Vec<String> {
    let base = snapshot_dir.join(&t.data);
    let mut problems = Vec::new();
    let shown = |rel: &Path| crate::facts::fs::show(&join(&t.original.0, rel));
    let mut known = std::collections::HashSet::new();
    for e in &t.entries {
        known.insert(e.path.0.clone());
        if matches!(e.kind, Kind::Fifo | Kind::Char | Kind::Block | Kind::Socket) {
            continue;
        }
        let p = join(&base, &e.path.0);
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(err) => {
                problems.push(format!(
                    "{}: missing from the snapshot ({err})",
                    shown(&e.path.0)
                ));
                continue;
            }
        };
        if kind_of(&meta) != e.kind {
            problems.push(format!("{}: not a {:?} any more", shown(&e.path.0), e.kind));
            continue;
        }
        match e.kind {
            Kind::File => {
                if meta.len() != e.size {
                    problems.push(format!(
                        "{}: {} bytes, the manifest says {}",
                        shown(&e.path.0),
                        meta.len(),
                        e.size
                    ));
                } else {
                    match hash_file(&p) {
                        Ok(sum) if Some(&sum) == e.sha256.as_ref() => {}
                        Ok(sum) => problems.push(format!(
                            "{}: sha256 {sum}, the manifest says {}",
                            shown(&e.path.0),
                            e.sha256.as_deref().unwrap_or("nothing")
                        )),
                        Err(err) => problems.push(format!("{}: {err}", shown(&e.path.0))),
                    }
                }
            }
            Kind::Symlink => {
                let link = std::fs::read_link(&p).ok();
                if link.as_ref() != e.link.as_ref().map(|l| &l.0) {
                    problems.push(format!("{}: symlink target changed", shown(&e.path.0)));
                }
            }
            _ => {}
        }
    }
    for item in WalkDir::new(&base) {
        let Ok(item) = item else { continue };
        let rel = item.path().strip_prefix(&base).unwrap_or(Path::new(""));
        if !known.contains(rel) {
            problems.push(format!(
                "{}: in the snapshot but not in its manifest",
                shown(rel)
            ));
        }
    }
    problems
}

/// Removes a tree this module created, making its directories writable first when needed (a
/// renamed target keeps its modes, and a user may not otherwise be able to empty it).
pub fn remove_tree(path: &Path) -> Result<()> {
    if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
        return Ok(());
    }
    for item in WalkDir::new(path).into_iter().flatten() {
        if item.file_type().is_dir() {
            let _ = std::fs::set_permissions(item.path(), std::fs::Permissions::from_mode(0o700));
        }
    }
    std::fs::remove_dir_all(path).map_err(|e| io_err("cannot remove", path, e))
}

/// What a restore did.
#[derive(Debug, Default)]
pub struct Restored {
    pub entries: usize,
    pub bytes: u64,
    pub notes: Vec<String>,
}

/// The entries of `t` under `only` (a path relative to the target; empty: all of it).
fn selected<'a>(t: &'a Target, only: &'a Path) -> impl Iterator<Item = &'a Entry> + 'a {
    t.entries.iter().filter(move |e| e.path.0.starts_with(only))
}

/// Paths a restore of `t` to `dest` would overwrite.
pub fn conflicts(t: &Target, dest: &Path, only: &Path) -> Vec<PathBuf> {
    selected(t, only)
        .map(|e| join(dest, &e.path.0))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .filter(|p| {
            // An existing directory where the snapshot has a directory is merged, not overwritten.
            let meta = std::fs::symlink_metadata(p);
            !meta.is_ok_and(|m| m.is_dir())
        })
        .collect()
}

fn temp_beside(dest: &Path, n: usize) -> PathBuf {
    let mut name = OsString::from(format!(".gardefou-restore-{}-{n}-", std::process::id()));
    name.push(dest.file_name().unwrap_or_default());
    dest.with_file_name(name)
}

fn set_metadata(path: &Path, e: &Entry, as_root: bool) -> Result<()> {
    if as_root {
        std::os::unix::fs::lchown(path, Some(e.uid), Some(e.gid))
            .map_err(|err| io_err("cannot change the owner of", path, err))?;
    }
    if e.kind != Kind::Symlink {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(e.mode))
            .map_err(|err| io_err("cannot change the mode of", path, err))?;
    }
    let mtime = TimeSpec::new(e.mtime, e.mtime_nsec);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &TimeSpec::UTIME_OMIT,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|err| io_err("cannot set the time of", path, std::io::Error::from(err)))
}

/// Restores the entries of `t` under `only` to `dest` (the target's new location), from the
/// snapshot at `snapshot_dir`. Files are written beside their destination and renamed into
/// place once their content matches the manifest's sha256, so a failure never leaves a torn file.
/// The caller has checked `conflicts` (or was told to overwrite).
pub fn restore_target(
    t: &Target,
    snapshot_dir: &Path,
    dest: &Path,
    only: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Restored> {
    let as_root = nix::unistd::geteuid().is_root();
    let base = snapshot_dir.join(&t.data);
    let mut done = Restored::default();
    let first = join(dest, only);
    if let Some(parent) = first.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err("cannot create", parent, e))?;
    }
    // Copied files wait beside their destination for their sha256, computed on another core
    // while the next files are copied (digests come back in the order the files were sent).
    let pipe = HashPipe::new();
    let mut pending: std::collections::VecDeque<(PathBuf, PathBuf, &Entry)> =
        std::collections::VecDeque::new();
    let result = restore_entries(
        t,
        &base,
        dest,
        only,
        as_root,
        &pipe,
        &mut pending,
        &mut done,
        progress,
    )
    .and_then(|dirs| {
        let digests = pipe.finish()?;
        for sum in digests {
            let (tmp, to, e) = pending.pop_front().ok_or_else(HashPipe::gone)?;
            place_checked(&tmp, &to, e, &sum, as_root)?;
        }
        if !pending.is_empty() {
            return Err(HashPipe::gone());
        }
        for (dir, e) in dirs.iter().rev() {
            set_metadata(dir, e, as_root)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        for (tmp, ..) in &pending {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    Ok(done)
}

/// Moves a restored file into place once its content matches the manifest's sha256.
fn place_checked(tmp: &Path, to: &Path, e: &Entry, sum: &str, as_root: bool) -> Result<()> {
    if Some(sum) != e.sha256.as_deref() {
        let _ = std::fs::remove_file(tmp);
        return Err(Error::Snapshot(format!(
            "{}: the snapshot's copy does not match its sha256 (run `gardefou snapshot verify`): not restored",
            crate::facts::fs::show(to)
        )));
    }
    place(tmp, to, e, as_root)
}

/// Puts back an entry's metadata on its temporary copy and renames it into place.
fn place(tmp: &Path, to: &Path, e: &Entry, as_root: bool) -> Result<()> {
    set_metadata(tmp, e, as_root)?;
    std::fs::rename(tmp, to).map_err(|err| {
        let _ = std::fs::remove_file(tmp);
        io_err("cannot move into place", to, err)
    })
}

/// `restore_target`'s walk over the entries: directories made (their metadata is set last, by
/// the caller, innermost first), files copied and sent to `pipe` (then waiting in `pending`),
/// the rest made and placed. Returns the directories.
#[allow(clippy::too_many_arguments)]
fn restore_entries<'t>(
    t: &'t Target,
    base: &Path,
    dest: &Path,
    only: &'t Path,
    as_root: bool,
    pipe: &HashPipe,
    pending: &mut std::collections::VecDeque<(PathBuf, PathBuf, &'t Entry)>,
    done: &mut Restored,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<(PathBuf, &'t Entry)>> {
    let mut dirs = Vec::new();
    // A clone that failed once fails for every file (the snapshot and the destination are on
    // the same two filesystems): each try costs a create and an unlink.
    let mut try_reflink = true;
    for (n, e) in selected(t, only).enumerate() {
        // Files whose digest has come back are placed as the copy goes on.
        while let Ok(sum) = pipe.digests.try_recv() {
            let (tmp, to, e) = pending.pop_front().ok_or_else(HashPipe::gone)?;
            place_checked(&tmp, &to, e, &sum, as_root)?;
        }
        let to = join(dest, &e.path.0);
        let from = join(base, &e.path.0);
        if e.kind == Kind::Dir {
            match std::fs::symlink_metadata(&to) {
                Ok(m) if m.is_dir() => {}
                _ => std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&to)
                    .map_err(|err| io_err("cannot create", &to, err))?,
            }
            dirs.push((to, e));
            done.entries += 1;
            continue;
        }
        let tmp = temp_beside(&to, n);
        let made = match e.kind {
            Kind::File => {
                done.bytes += e.size;
                done.entries += 1;
                if try_reflink {
                    if reflink_copy::reflink(&from, &tmp).is_ok() {
                        let sum = hash_file(&tmp)?;
                        place_checked(&tmp, &to, e, &sum, as_root)?;
                        continue;
                    }
                    try_reflink = false;
                    let _ = std::fs::remove_file(&tmp);
                }
                pending.push_back((tmp.clone(), to.clone(), e));
                pipe.copy(&from, &tmp, progress)?;
                continue;
            }
            Kind::Symlink => std::os::unix::fs::symlink(
                e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
                &tmp,
            ),
            Kind::Fifo | Kind::Char | Kind::Block => {
                let kind = match e.kind {
                    Kind::Fifo => SFlag::S_IFIFO,
                    Kind::Char => SFlag::S_IFCHR,
                    _ => SFlag::S_IFBLK,
                };
                mknod(
                    &tmp,
                    kind,
                    Mode::from_bits_truncate(e.mode),
                    e.rdev.unwrap_or(0),
                )
                .map_err(std::io::Error::from)
            }
            Kind::Socket => {
                done.notes.push(format!(
                    "{}: a socket, not restored (its server creates it)",
                    crate::facts::fs::show(&to)
                ));
                continue;
            }
            Kind::Dir => unreachable!("directories are handled above"),
        };
        made.map_err(|err| io_err("cannot create", &tmp, err))?;
        place(&tmp, &to, e, as_root)?;
        done.entries += 1;
    }
    Ok(dirs)
}
