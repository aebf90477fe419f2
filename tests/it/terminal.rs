//! The shell on a pseudo-terminal, for the tests that need it to ask what
//! it asks a person (confirmations, creating the journal).

use crate::helpers::JournalDir;

/// The shell on a terminal: `script` (util-linux) gives it a
/// pseudo-terminal, so it asks for confirmation as it does for a person.
/// Driven line by line: each line is sent once the shell shows it waits
/// for it (typed ahead, a line can be lost when the line editor takes the
/// terminal). Every wait ends: on the text waited for, on an error
/// message, or when the shell exits.
pub(crate) struct Terminal {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    output: std::sync::mpsc::Receiver<Vec<u8>>,
    /// Everything the shell printed.
    pub(crate) seen: String,
    /// How far `seen` has been waited through.
    done: usize,
}

impl Terminal {
    /// The shell of machine `j` on its database.
    pub(crate) fn open(j: &JournalDir) -> Terminal {
        Terminal::spawn(j, &[], "dumb", &[])
    }

    /// The shell of machine `j` with `args`, on a terminal the line
    /// editor drives in raw mode, as a person's is: Ctrl-C reaches it as
    /// a key, not as SIGINT.
    pub(crate) fn open_raw(j: &JournalDir, args: &[&str]) -> Terminal {
        Terminal::spawn(j, args, "xterm", &[])
    }

    /// [`Terminal::open_raw`] with `env` set for the shell.
    pub(crate) fn open_raw_env(j: &JournalDir, args: &[&str], env: &[(&str, &str)]) -> Terminal {
        Terminal::spawn(j, args, "xterm", env)
    }

    /// `shell`, a `dbguard` command the test has set up itself (its
    /// environment, its arguments), on a terminal in raw mode as
    /// [`Terminal::open_raw`]'s, or on a plain one (`raw` false) as
    /// [`Terminal::open`]'s.
    pub(crate) fn open_command(shell: std::process::Command, raw: bool) -> Terminal {
        Terminal::run_on_pty(shell, if raw { "xterm" } else { "dumb" })
    }

    fn spawn(j: &JournalDir, args: &[&str], term: &str, env: &[(&str, &str)]) -> Terminal {
        let mut shell = j.command(args);
        shell.envs(env.iter().copied());
        Terminal::run_on_pty(shell, term)
    }

    fn run_on_pty(shell: std::process::Command, term: &str) -> Terminal {
        let program = shell.get_program().to_string_lossy().replace('\'', "'\\''");
        let mut cmd = std::process::Command::new("script");
        // A terminal wide enough for a value to show whole.
        let quoted: Vec<String> = shell
            .get_args()
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
            .collect();
        let run = format!(
            "stty cols 1000 rows 50; exec '{program}' {}",
            quoted.join(" ")
        );
        cmd.args(["-q", "-e", "-f", "-c", &run, "/dev/null"]);
        for (k, v) in shell.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let mut child = cmd
            .env("TERM", term)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("run the shell under script (util-linux), for a terminal");
        let mut out = child.stdout.take().expect("stdout");
        let (tx, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Terminal {
            child,
            stdin,
            output,
            seen: String::new(),
            done: 0,
        }
    }

    /// Waits until the shell prints one of `any` (after what was waited
    /// through before); which one. An error message instead fails, and so
    /// do 60 s without output.
    pub(crate) fn wait_for(&mut self, any: &[&str]) -> usize {
        self.wait(any, false)
    }

    /// [`Terminal::wait_for`] where an error message is expected on the
    /// way (a cancelled statement).
    pub(crate) fn wait_past_errors(&mut self, any: &[&str]) -> usize {
        self.wait(any, true)
    }

    fn wait(&mut self, any: &[&str], errors_expected: bool) -> usize {
        loop {
            let fresh = &self.seen[self.done..];
            let hit = any
                .iter()
                .enumerate()
                .filter_map(|(i, s)| fresh.find(s).map(|at| (at, i, s.len())))
                .min();
            if let Some((at, i, len)) = hit {
                self.done += at + len;
                return i;
            }
            if !errors_expected && fresh.contains("ERROR") {
                self.fail(&format!("an error instead of {any:?}"));
            }
            // A shell that waits for something else never prints it: the
            // test fails with the transcript instead of hanging.
            match self.output.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    self.fail(&format!("nothing printed {any:?} within 60 s"))
                }
                Err(_) => self.fail(&format!("the shell ended before printing {any:?}")),
            }
        }
    }

    /// The rest of the line the last wait ended in, once it is whole
    /// (without its line end), and the wait moved past it.
    pub(crate) fn rest_of_line(&mut self) -> String {
        let from = self.done;
        self.wait_for(&["\n"]);
        self.seen[from..self.done - 1]
            .trim_end_matches('\r')
            .to_owned()
    }

    /// Types `line` and Enter.
    pub(crate) fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("the terminal is open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .expect("type into the shell");
    }

    /// Types `keys` as they are: `"\x03"` is Ctrl-C, `"\r"` Enter in raw
    /// mode.
    pub(crate) fn key(&mut self, keys: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("the terminal is open");
        stdin
            .write_all(keys.as_bytes())
            .and_then(|()| stdin.flush())
            .expect("type into the shell");
    }

    /// What the shell printed since the last wait ended.
    pub(crate) fn fresh(&self) -> &str {
        &self.seen[self.done..]
    }

    /// Kills the shell, as a closed terminal window or `kill -9` would.
    pub(crate) fn kill(mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ends the session and fails with the transcript.
    pub(crate) fn fail(&mut self, why: &str) -> ! {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("shell on a terminal: {why}; it printed:\n{}", self.seen);
    }

    /// Runs `line` at the prompt and waits until it finished (`done`
    /// printed) and the prompt is back.
    pub(crate) fn run(&mut self, line: &str, done: &str) {
        self.send(line);
        self.wait_for(&[done]);
        self.wait_for(&["=> "]);
    }

    /// `\undo ID`, confirmed: the undo's change id.
    pub(crate) fn undo(&mut self, id: i64) -> i64 {
        self.send(&format!("\\undo {id}"));
        self.wait_for(&["anything else cancels: "]);
        self.send("apply");
        self.wait_for(&["Undone as change "]);
        let rest = &self.seen[self.done..];
        let undo = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok());
        self.wait_for(&["=> "]);
        undo.unwrap_or_else(|| self.fail("no undo id after \"Undone as change\""))
    }

    /// Types `\q` and Enter on a raw terminal, and waits for the shell to
    /// end well.
    pub(crate) fn quit_raw(mut self) {
        self.key("\\q\r");
        self.quit_after_eof();
    }

    /// Waits for the shell to end after `\q` was typed; it must end well.
    pub(crate) fn quit_after_eof(mut self) {
        self.stdin = None;
        let status = self.child.wait().expect("wait for the shell");
        assert!(status.success(), "the shell ended {status}:\n{}", self.seen);
    }

    /// `\q`, and the shell's end.
    pub(crate) fn quit(mut self) {
        self.send("\\q");
        self.stdin = None;
        let status = self.child.wait().expect("wait for the shell");
        assert!(status.success(), "the shell ended {status}:\n{}", self.seen);
    }
}
