//! Dropping root: a server started as root (SysV init) binds its ports, then becomes the
//! configured user and group before it opens the archive or reads any client input.
//! Under systemd the unit starts it as the service user with CAP_NET_BIND_SERVICE instead.

use nix::unistd::{geteuid, getgid, getuid, setgid, setgroups, setuid, Gid, Group, Uid, User};

/// Why privileges could not be dropped; the server does not start then.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("server.user {0:?} does not exist")]
    NoSuchUser(String),
    #[error("server.group {0:?} does not exist")]
    NoSuchGroup(String),
    #[error("cannot look up {what}: {source}")]
    Lookup {
        what: String,
        source: nix::errno::Errno,
    },
    #[error("cannot become {what}: {source}")]
    Switch {
        what: String,
        source: nix::errno::Errno,
    },
    #[error("server.user is {0:?} but the server runs as uid {1}, not root: it cannot switch")]
    NotRoot(String, u32),
}

/// Becomes `user` (and `group`, or the user's own group) if running as root. With no user
/// configured, a server started as root stays root and says so loudly.
pub fn drop_to(user: Option<&str>, group: Option<&str>) -> Result<(), PrivilegeError> {
    let Some(user) = user else {
        if geteuid().is_root() {
            log::warn!("running as root: set server.user so the server drops to a service user");
        }
        return Ok(());
    };
    let entry = User::from_name(user)
        .map_err(|source| PrivilegeError::Lookup {
            what: format!("user {user:?}"),
            source,
        })?
        .ok_or_else(|| PrivilegeError::NoSuchUser(user.to_owned()))?;
    if !geteuid().is_root() {
        // Already unprivileged: fine if we are that user (systemd's User=), an error otherwise.
        if getuid() == entry.uid {
            return Ok(());
        }
        return Err(PrivilegeError::NotRoot(user.to_owned(), getuid().as_raw()));
    }
    let gid = match group {
        Some(name) => {
            Group::from_name(name)
                .map_err(|source| PrivilegeError::Lookup {
                    what: format!("group {name:?}"),
                    source,
                })?
                .ok_or_else(|| PrivilegeError::NoSuchGroup(name.to_owned()))?
                .gid
        }
        None => entry.gid,
    };
    switch(entry.uid, gid, user)?;
    log::info!(
        "running as user {user} (uid {}, gid {})",
        getuid(),
        getgid()
    );
    Ok(())
}

/// Group list, then group, then user: the order in which each step is still allowed.
fn switch(uid: Uid, gid: Gid, name: &str) -> Result<(), PrivilegeError> {
    let fail = |what: &str| {
        let what = format!("{what} of {name}");
        move |source| PrivilegeError::Switch { what, source }
    };
    setgroups(&[gid]).map_err(fail("the group list"))?;
    setgid(gid).map_err(fail("the group"))?;
    setuid(uid).map_err(fail("the user"))?;
    // A process that can become root again has not dropped anything.
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err(PrivilegeError::Switch {
            what: format!("user {name} for good"),
            source: nix::errno::Errno::EPERM,
        });
    }
    Ok(())
}
