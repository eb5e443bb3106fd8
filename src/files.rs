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
mod tests {
    use super::*;

    #[test]
    fn a_fifo_a_device_and_a_directory_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for p in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            let e = read_text(p, 1024, "a drift input").unwrap_err();
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
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 2048]).unwrap();
        assert_eq!(read_text(&p, 2048, "x").unwrap().len(), 2048);
        let e = read_text(&p, 2047, "a profile").unwrap_err();
        assert!(
            e.to_string()
                .contains("larger than 2047 bytes, the most a profile may be"),
            "{e}"
        );
        assert_eq!(size(64 * 1024 * 1024), "64 MiB");
    }
}
