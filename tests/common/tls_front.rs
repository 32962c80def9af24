//! A real TLS endpoint in front of rotel: Debian's nginx terminating TLS (HTTP/2 and
//! HTTP/1.1) and proxying OTLP/HTTP to rotel's HTTP receiver and OTLP/gRPC to its gRPC one,
//! with certificates the `openssl` command makes for the test. Both come from Debian packages
//! that scripts/test.sh installs; a missing one fails the test with the reason.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::rotel::Rotel;

/// The files the test's CA and the wrong CA made.
pub struct Certs {
    dir: tempfile::TempDir,
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is not installed: scripts/test.sh installs it (apt-get install nginx openssl); \
         the TLS tests need a real TLS server"
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, and a
    /// second CA that signed neither.
    pub fn generate() -> Self {
        need("openssl");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for ca in ["ca", "wrong-ca"] {
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN=otel-resmon test {ca}"),
                ],
            );
        }
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(d.join(format!("{name}.ext")), ext).unwrap();
            openssl(
                d,
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN=otel-resmon test {name}"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &format!("{name}.ext"),
                    "-out",
                    &format!("{name}.pem"),
                ],
            );
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// nginx on two loopback ports: `port` checks nothing of the client, `mtls_port` requires a
/// client certificate from the test's CA.
pub struct TlsFront {
    child: Child,
    pub port: u16,
    pub mtls_port: u16,
    dir: tempfile::TempDir,
}

impl TlsFront {
    pub fn start(rotel: &Rotel, certs: &Certs) -> Self {
        need("nginx");
        let dir = tempfile::tempdir().unwrap();
        let (port, mtls_port) = (super::free_port(), super::free_port());
        let d = dir.path().display();
        let server = |port: u16, verify: &str| {
            format!(
                "server {{
                    listen 127.0.0.1:{port} ssl http2;
                    ssl_certificate {cert};
                    ssl_certificate_key {key};
                    {verify}
                    location /v1/ {{ proxy_pass http://rotel_http; }}
                    location / {{ grpc_pass grpc://rotel_grpc; }}
                }}",
                cert = certs.path("server.pem").display(),
                key = certs.path("server.key").display(),
            )
        };
        let conf = format!(
            "worker_processes 1;
            daemon off;
            master_process off;
            pid {d}/nginx.pid;
            error_log {d}/error.log info;
            {user}
            events {{ worker_connections 128; }}
            http {{
                access_log {d}/access.log;
                client_body_temp_path {d}/body;
                proxy_temp_path {d}/proxy;
                fastcgi_temp_path {d}/fastcgi;
                uwsgi_temp_path {d}/uwsgi;
                scgi_temp_path {d}/scgi;
                upstream rotel_http {{ server 127.0.0.1:{http}; }}
                upstream rotel_grpc {{ server 127.0.0.1:{grpc}; }}
                {plain}
                {mtls}
            }}",
            // As root, nginx's workers would drop to `nobody`, who cannot read the test's
            // private temporary directories.
            user = if unsafe { libc::geteuid() } == 0 {
                "user root;"
            } else {
                ""
            },
            http = rotel.http_port,
            grpc = rotel.grpc_port,
            plain = server(port, ""),
            mtls = server(
                mtls_port,
                &format!(
                    "ssl_client_certificate {}; ssl_verify_client on;",
                    certs.path("ca.pem").display()
                )
            ),
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let mut front = Self {
            child,
            port,
            mtls_port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for p in [port, mtls_port] {
            while TcpStream::connect(("127.0.0.1", p)).is_err() {
                if let Ok(Some(status)) = front.child.try_wait() {
                    panic!("nginx exited ({status}): {}", front.error_log());
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen on {p} in 20 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        front
    }

    /// nginx's error log, for a failure message.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
