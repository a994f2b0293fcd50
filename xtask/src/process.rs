//! Every process the runner starts goes through here (as rustlings' `cmd.rs`): errors name the
//! command that failed, a child that may leave processes behind leads a process group of its
//! own that is killed whole, output is read on threads and bounded, and waits have limits.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// `program arg ...` as a user would type it (for messages).
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` to completion with the runner's own output; fails, naming it, if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs `cmd` to completion and returns its exit status (failing only when it cannot start).
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status()
        .with_context(|| format!("Failed to start `{}`", describe(cmd)))
}

/// Runs `cmd` to completion, its output captured (failing only when it cannot start: the
/// caller judges the status).
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .with_context(|| format!("Failed to start `{}`", describe(cmd)))
}

/// Whether `cmd` (output discarded) succeeds, quietly: a probe, `false` when it cannot start.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` (output discarded) and tells whether it succeeded within `limit`; one that
/// takes longer is killed and counts as failed.
pub fn succeeds_within(cmd: &mut Command, limit: Duration) -> bool {
    let Ok(mut child) = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() else {
        return false;
    };
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// SIGKILL to the process group `pid` leads (no `libc`: the workspace forbids `unsafe`).
pub fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A child leading a process group of its own: whatever it starts is in the group, and
/// [`Group::stop`] (or dropping it) kills the whole group, so no stray process outlives the
/// run or keeps its output open.
pub struct Group {
    child: Child,
    stopped: bool,
}

impl Group {
    /// Starts `cmd` in a new process group.
    pub fn spawn(cmd: &mut Command) -> Result<Group> {
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("Failed to start `{}`", describe(cmd)))?;
        Ok(Group {
            child,
            stopped: false,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The leader (to take its pipes, or ask whether it exited).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills what is left of the group (the leader too, if it still runs) and reaps the leader.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        self.stopped = true;
        kill_group(self.child.id());
        let _ = self.child.kill();
        Ok(self.child.wait()?)
    }
}

impl Group {
    /// Waits for the leader to exit, at most `limit`: its status, or `None` (still running).
    pub fn wait_within(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts `cmd` (failing, naming it, when it cannot start).
pub fn spawn(cmd: &mut Command) -> Result<Child> {
    cmd.spawn()
        .with_context(|| format!("Failed to start `{}`", describe(cmd)))
}

/// Starts `cmd` in a process group of its own that is left running: a Ctrl-C to the
/// runner's group does not reach it (a holder of warm servers, the container reaper).
pub fn spawn_detached(cmd: &mut Command) -> Result<Child> {
    cmd.process_group(0)
        .spawn()
        .with_context(|| format!("Failed to start `{}`", describe(cmd)))
}

/// Whether the runner runs as root (it may then install what it misses with apt-get).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.stop();
        }
    }
}

/// Reads `stream` on a thread, keeping its first `cap` bytes (the rest is read and dropped, so
/// the writer never blocks on a full pipe): the text arrives once the stream closes.
pub fn read_capped(stream: Option<impl Read + Send + 'static>, cap: u64) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Some(mut stream) = stream else {
            let _ = tx.send(String::new());
            return;
        };
        let mut kept = Vec::new();
        let _ = (&mut stream).take(cap).read_to_end(&mut kept);
        let _ = std::io::copy(&mut stream, &mut std::io::sink());
        let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
    });
    rx
}

/// Sends `stream`'s lines as they come, its first `cap` bytes in all (the rest is read and
/// dropped); the channel closes when the stream does.
pub fn lines_capped(stream: impl Read + Send + 'static, cap: u64) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream.take(cap));
        for line in (&mut reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
        let mut rest = reader.into_inner().into_inner();
        let _ = std::io::copy(&mut rest, &mut std::io::sink());
    });
    rx
}

/// The last `n` non-blank lines of `text`, after a colon and a newline (or nothing at all).
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(":\n{}", lines[lines.len().saturating_sub(n)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_dropped_without_blocking_the_writer() {
        let mut child = Command::new("sh")
            .args([
                "-c",
                "head -c 100000 /dev/zero | tr '\\0' 'x'; echo; echo end",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh");
        let text = read_capped(child.stdout.take(), 10)
            .recv_timeout(Duration::from_secs(30))
            .expect("read");
        assert_eq!(text, "xxxxxxxxxx");
        assert!(child.wait().expect("wait").success());
    }

    #[test]
    fn a_failing_command_is_named_in_the_error() {
        let error = run(Command::new("sh").args(["-c", "exit 3"])).expect_err("fails");
        assert!(
            error.to_string().contains("`sh -c exit 3` failed"),
            "{error}"
        );
    }
}
