//! The one way a file the user names is read: config files, drift CSVs and profiles, audit
//! exports, CA bundles. Only a regular file is opened (a FIFO, a socket, a device or a directory
//! is refused before a byte is read, and the open itself never blocks, so a FIFO cannot stall
//! the process), whole-file reads stop at a size cap given by the caller, and text must be
//! UTF-8. Every error says which file and why, in words a user can act on.

use std::{
    fs::File,
    io::{Error, ErrorKind, Read},
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

/// `path` opened for reading, when it is a regular file. `what` names the kind of file in the
/// refusal ("a config file", "a drift input").
pub fn open_regular(path: &Path, what: &str) -> std::io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, a socket or a device)"
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("it is {kind}; {what} must be a regular file"),
        ));
    }
    Ok(file)
}

/// Whether `path` could be read by [`read_bytes`] with `max`: a regular file of at most `max`
/// bytes (for a file another library reads, such as a kubeconfig).
pub fn check_regular(path: &Path, max: u64, what: &str) -> std::io::Result<()> {
    let file = open_regular(path, what)?;
    if file.metadata()?.len() > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("it is larger than {}, the most {what} may be", size(max)),
        ));
    }
    Ok(())
}

/// The bytes of the regular file `path`, at most `max` of them: a larger file is refused
/// (whether its size says so up front or it grows while read).
pub fn read_bytes(path: &Path, max: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path, what)?;
    let too_big = || {
        Error::new(
            ErrorKind::InvalidData,
            format!("it is larger than {}, the most {what} may be", size(max)),
        )
    };
    if file.metadata()?.len() > max {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The UTF-8 text of the regular file `path`, at most `max` bytes.
pub fn read_text(path: &Path, max: u64, what: &str) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path, max, what)?).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Write `contents` to `path` atomically: a new file beside it (never one that exists, so a
/// planted link is not followed), synced, then renamed over `path`. A reader never sees half a
/// file, and a failed write leaves what was there.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let Some(name) = path.file_name() else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "that is not a file name",
        ));
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(contents)?;
            f.sync_all()
        });
    written
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// Whether `a` and `b` are the same file (after links), when both exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// A byte count for people: `64 MiB`, `1 KiB`, `12 bytes`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed setup is the test failing
mod tests {
    use super::*;

    #[test]
    fn a_fifo_a_device_and_a_directory_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        for p in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            let e = read_text(p, 1024, "a drift input").expect_err("refused");
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}: {e}", p.display());
            assert!(
                e.to_string()
                    .contains("a drift input must be a regular file"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_file_over_the_cap_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 2048]).expect("write");
        assert_eq!(read_text(&p, 2048, "x").expect("read").len(), 2048);
        let e = read_text(&p, 2047, "a profile").expect_err("refused");
        assert!(
            e.to_string()
                .contains("larger than 2047 bytes, the most a profile may be"),
            "{e}"
        );
        assert_eq!(size(64 * 1024 * 1024), "64 MiB");
    }

    #[test]
    fn an_atomic_write_replaces_the_file_whole_and_a_link_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        std::fs::write(&p, "old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(same_file(&p, &link));
        assert!(!same_file(&p, &dir.path().join("absent")));
        assert!(write_atomic(&dir.path().join("no/such/dir/x"), b"x").is_err());
    }
}
