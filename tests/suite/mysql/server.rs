//! A floe primary for tests: in this process, on a free loopback port, on a
//! fresh volume; stopped when dropped.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use floe::primary::{self, PrimaryOptions};
use floe::role::Listen;
use floe::wasm::PluginOptions;
use tempfile::TempDir;

pub struct TestServer {
    // First: it stops before the volume directory goes.
    _role: InThread,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// What a role serves until: the test dropping it.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A serving role on its own runtime thread, stopped cleanly when dropped.
pub struct InThread {
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InThread {
    /// Runs `serve`, which sends its port once listening and serves until
    /// its `Stop` completes.
    pub fn start<F, Fut>(serve: F) -> InThread
    where
        F: FnOnce(std::sync::mpsc::Sender<u16>, Stop) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(serve(
                port_tx,
                Box::pin(async move {
                    let _ = stop_rx.await;
                }),
            ));
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the role came up");
        InThread {
            port,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for InThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A self-signed certificate and key for TLS tests.
pub fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(status.success(), "openssl made a certificate");
    (cert, key)
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(false, false)
    }

    pub fn start_with(tls: bool, require_tls: bool) -> TestServer {
        Self::start_in(
            tempfile::tempdir().unwrap(),
            tls,
            require_tls,
            PluginOptions::default(),
        )
    }

    /// A primary on `dir`'s volume (a restart when it has one) with these plugin settings.
    pub fn start_in(
        dir: TempDir,
        tls: bool,
        require_tls: bool,
        plugins: PluginOptions,
    ) -> TestServer {
        let tls = tls.then(|| make_cert(dir.path()));
        let opts = PrimaryOptions {
            volume: dir.path().join("volume"),
            listen: Listen {
                tls_cert: tls.as_ref().map(|t| t.0.clone()),
                tls_key: tls.as_ref().map(|t| t.1.clone()),
                require_tls,
                ..Listen::loopback(0)
            },
            lease: None,
            plugins,
        };
        let role = InThread::start(move |port, stop| async move {
            let running = primary::start(&opts).await.expect("primary starts");
            port.send(running.addr.port()).unwrap();
            running.serve_until(stop).await.unwrap();
        });
        TestServer {
            port: role.port,
            _role: role,
            dir,
            tls,
        }
    }

    /// Stops this primary and starts another on the same volume.
    pub fn restart(self, plugins: PluginOptions) -> TestServer {
        let TestServer { _role, dir, .. } = self;
        drop(_role);
        Self::start_in(dir, false, false, plugins)
    }

    /// Runs the mariadb `mysql` client in batch mode with `args` and `stdin`.
    pub fn mysql(&self, args: &[&str], stdin: &str) -> Output {
        self.mysql_as("root", "", args, stdin)
    }

    pub fn mysql_as(&self, user: &str, password: &str, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut cmd = Command::new("mysql");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-P",
            &self.port.to_string(),
            "-u",
            user,
            "--batch",
            "--connect-timeout=10",
        ]);
        if !password.is_empty() {
            cmd.arg(format!("-p{password}"));
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the mariadb client (mysql) is installed");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// `mysql -e sql` that must succeed; returns stdout.
    pub fn query(&self, sql: &str) -> String {
        let out = self.mysql(&["-e", sql], "");
        assert!(
            out.status.success(),
            "{sql}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `mysql -e sql` that must fail; returns stderr.
    pub fn query_err(&self, sql: &str) -> String {
        let out = self.mysql(&["-e", sql], "");
        assert!(!out.status.success(), "{sql} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn python(&self, script: &str) -> String {
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .env("FLOE_PORT", self.port.to_string())
            .env(
                "FLOE_CERT",
                self.tls
                    .as_ref()
                    .map(|t| t.0.display().to_string())
                    .unwrap_or_default(),
            )
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "python failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}
