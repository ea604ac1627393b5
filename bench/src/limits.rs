//! The open-file limit: each socket is a file descriptor in the server and one in this process,
//! so the idle-memory benchmark raises the limit first (children inherit it) and says so when
//! the machine refuses.

/// What the limit ended up as.
#[derive(Debug, Clone)]
pub struct FdLimit {
    /// The soft limit now in force (inherited by the servers started later).
    pub soft: u64,
    /// Why it is lower than asked, if it is.
    pub refused: Option<String>,
}

/// Descriptors kept free for everything that is not a benchmark socket.
const RESERVE: u64 = 500;

impl FdLimit {
    /// How many idle sockets fit, when `wanted` are asked for.
    pub fn sockets_possible(&self, wanted: usize) -> usize {
        let fit = self.soft.saturating_sub(RESERVE);
        wanted.min(usize::try_from(fit).unwrap_or(usize::MAX))
    }
}

/// Raises RLIMIT_NOFILE so that `sockets` sockets fit; if the hard limit cannot be raised,
/// takes the soft limit up to the hard one.
pub fn raise_open_files(sockets: usize) -> FdLimit {
    let wanted = sockets as u64 + RESERVE;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    if limit.rlim_cur >= wanted {
        return FdLimit {
            soft: limit.rlim_cur,
            refused: None,
        };
    }
    let raised = libc::rlimit {
        rlim_cur: wanted,
        rlim_max: wanted.max(limit.rlim_max),
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return FdLimit {
            soft: wanted,
            refused: None,
        };
    }
    let error = std::io::Error::last_os_error();
    let capped = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: as above; raising the soft limit up to the hard one is always allowed.
    unsafe {
        libc::setrlimit(libc::RLIMIT_NOFILE, &capped);
    }
    FdLimit {
        soft: limit.rlim_max,
        refused: Some(format!(
            "raising RLIMIT_NOFILE to {wanted} was refused ({error}); the hard limit is {}",
            limit.rlim_max
        )),
    }
}
