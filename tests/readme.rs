//! README.md cannot drift from the code. Every code block in it is checked:
//! - each `rust` block is, word for word, the region of an example between its
//!   `// README: begin NAME` and `// README: end NAME` lines (named by the `<!-- code: FILE
//!   NAME -->` line above the block), and that example is run by a test against a real
//!   collector (`tests/examples.rs`, `tests/e2e_rotel.rs`, `tests/own_subscriber.rs`), so the
//!   README's code compiles and runs;
//! - each `sh` line runs a program that exists (`cargo`, or an executable script of this
//!   repository), and `cargo add` names this package and its features;
//! - the `yaml` Kubernetes manifest parses (Python's yaml module), asks for a GPU, gives the
//!   container NVML (`NVIDIA_DRIVER_CAPABILITIES` with `utility`), and sets only variables the
//!   crate or the OpenTelemetry SDK reads.
//!
//! The feature and compatibility tables are compared with Cargo.toml, every `RESMON_*` and
//! `OTEL_*` name with the code that reads it, and every docs.rs link with a module that exists.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A fenced block: its language, the HTML comment right above it (if any), its text and line.
struct Block {
    lang: String,
    marker: Option<String>,
    text: String,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut last_text: Option<&str> = None;
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        if let Some(block) = open.as_mut() {
            if line.starts_with("```") {
                out.push(open.take().unwrap());
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
            continue;
        }
        if let Some(lang) = line.strip_prefix("```") {
            let marker = last_text.filter(|l| l.starts_with("<!--")).map(|l| {
                l.trim_start_matches("<!--")
                    .trim_end_matches("-->")
                    .trim()
                    .to_owned()
            });
            open = Some(Block {
                lang: lang.trim().to_owned(),
                marker,
                text: String::new(),
                line: i + 1,
            });
        } else if !line.trim().is_empty() {
            last_text = Some(line);
        }
    }
    assert!(open.is_none(), "README.md ends inside a code block");
    out
}

/// The lines between `// README: begin NAME` and `// README: end NAME`, less their common
/// indentation.
fn region(file: &str, name: &str) -> String {
    let source = read(file);
    let lines: Vec<&str> = source.lines().collect();
    let find = |what: &str| {
        let tag = format!("// README: {what} {name}");
        let found: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].trim() == tag)
            .collect();
        assert_eq!(found.len(), 1, "{file} needs exactly one `{tag}` line");
        found[0]
    };
    let (begin, end) = (find("begin"), find("end"));
    assert!(begin < end, "{file}: region {name} ends before it begins");
    let body = &lines[begin + 1..end];
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|l| format!("{}\n", l.get(indent..).unwrap_or("")))
        .collect()
}

#[test]
fn every_code_block_is_checked_by_a_test_here() {
    for block in blocks(&read("README.md")) {
        let known = match block.lang.as_str() {
            "rust" => block
                .marker
                .as_deref()
                .is_some_and(|m| m.starts_with("code: ")),
            "yaml" => block.marker.as_deref() == Some("check: kubernetes"),
            "sh" => true,
            _ => false,
        };
        assert!(
            known,
            "README.md line {}: a `{}` block no test checks (rust: `<!-- code: FILE NAME -->` \
             above it; yaml: `<!-- check: kubernetes -->`)",
            block.line, block.lang
        );
    }
}

#[test]
fn every_rust_block_is_a_region_of_an_example_a_test_runs() {
    let tests: String = std::fs::read_dir(Path::new(ROOT).join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let mut checked = 0;
    for block in blocks(&read("README.md"))
        .iter()
        .filter(|b| b.lang == "rust")
    {
        let marker = block.marker.as_deref().unwrap_or_default();
        let mut words = marker.trim_start_matches("code: ").split_whitespace();
        let (Some(file), Some(name), None) = (words.next(), words.next(), words.next()) else {
            panic!(
                "README.md line {}: `<!-- code: FILE NAME -->` expected, found `{marker}`",
                block.line
            );
        };
        assert_eq!(
            block.text,
            region(file, name),
            "README.md line {}: the block differs from {file}'s region {name}: copy the region into it",
            block.line
        );
        let stem = file
            .strip_prefix("examples/")
            .and_then(|f| f.strip_suffix(".rs"))
            .unwrap_or_else(|| panic!("{file} is not an example"));
        assert!(
            tests.contains(&format!("example(\"{stem}\")")),
            "no test runs the example {stem}: the README's code would not be run"
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "the quick starts and the recipe: {checked} rust blocks"
    );
}

#[test]
fn shell_lines_run_programs_that_exist() {
    let manifest = read("Cargo.toml");
    let features = table_keys(&manifest, "[features]");
    for block in blocks(&read("README.md")).iter().filter(|b| b.lang == "sh") {
        for line in block.text.lines() {
            let command = line.split(" #").next().unwrap().trim();
            if command.is_empty() {
                continue;
            }
            let words: Vec<&str> = command.split_whitespace().collect();
            if words[0] == "cargo" {
                if words[1] == "add" {
                    assert_eq!(words[2], "otel-resmon", "{line}");
                    for f in words.iter().skip_while(|w| **w != "--features").skip(1) {
                        assert!(features.iter().any(|k| k == f), "no feature {f}: {line}");
                    }
                }
                continue;
            }
            let path = Path::new(ROOT).join(words[0]);
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("README.md runs {}: {e}", words[0]))
                .permissions();
            use std::os::unix::fs::PermissionsExt as _;
            assert!(mode.mode() & 0o111 != 0, "{} is not executable", words[0]);
        }
    }
}

/// The keys of a TOML table, by line (`name = ...` up to the next `[table]`).
fn table_keys(manifest: &str, table: &str) -> Vec<String> {
    manifest
        .lines()
        .skip_while(|l| l.trim() != table)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap().trim().to_owned())
        .collect()
}

/// The value of `key = ...` in a TOML table, as written.
fn table_value(manifest: &str, table: &str, key: &str) -> String {
    manifest
        .lines()
        .skip_while(|l| l.trim() != table)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .find(|l| l.split('=').next().unwrap().trim() == key)
        .map(|l| l.split_once('=').unwrap().1.trim().to_owned())
        .unwrap_or_else(|| panic!("no {key} in {table}"))
}

/// The rows of the first table after `heading`, cells trimmed, without the header's rule.
fn table_after(markdown: &str, heading: &str) -> Vec<Vec<String>> {
    markdown
        .lines()
        .skip_while(|l| l.trim() != heading)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| !l.starts_with("|---"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_features_table_is_cargo_toml() {
    let manifest = read("Cargo.toml");
    let default = table_value(&manifest, "[features]", "default");
    let mut declared = table_keys(&manifest, "[features]");
    declared.retain(|k| k != "default");
    let rows = table_after(&read("README.md"), "## Install");
    assert_eq!(rows[0][..2], ["feature", "default"]);
    let mut listed = Vec::new();
    for row in &rows[1..] {
        let is_default = default.contains(&format!("\"{}\"", row[0]));
        assert_eq!(row[1] == "yes", is_default, "feature {}: default?", row[0]);
        listed.push(row[0].clone());
    }
    listed.sort();
    declared.sort();
    assert_eq!(
        listed, declared,
        "README.md's feature table against Cargo.toml"
    );
}

#[test]
fn the_compatibility_table_is_cargo_toml() {
    let manifest = read("Cargo.toml");
    let rows = table_after(&read("README.md"), "## Compatibility");
    assert_eq!(rows.len(), 2, "one header and one row: {rows:?}");
    let minor = |v: &str| -> String {
        let v = v.trim_matches('"');
        v.split('.').take(2).collect::<Vec<_>>().join(".")
    };
    for (header, cell) in rows[0].iter().zip(&rows[1]) {
        let versions: Vec<String> = match header.as_str() {
            "otel-resmon" => vec![minor(&table_value(&manifest, "[package]", "version"))],
            "Rust" => vec![minor(&table_value(&manifest, "[package]", "rust-version"))],
            names => names
                .split(", ")
                .map(|name| {
                    let table = if name == "tonic" {
                        "[dev-dependencies]"
                    } else {
                        "[dependencies]"
                    };
                    let spec = table_value(&manifest, table, name);
                    let version = spec
                        .split("version = ")
                        .nth(1)
                        .map(|v| v.split([',', '}']).next().unwrap().trim().to_owned())
                        .unwrap_or(spec);
                    minor(&version)
                })
                .collect(),
        };
        for v in versions {
            assert_eq!(&v, cell, "README.md's compatibility table, column {header}");
        }
    }
}

/// Every `*.rs` file under `dir`, concatenated.
fn sources(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push_str(&sources(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    out
}

/// Variables the OpenTelemetry SDK reads itself, which the README may name.
const READ_BY_THE_SDK: &[&str] = &["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"];

fn names_the_crate_reads(text: &str) -> Vec<String> {
    let src = sources(&Path::new(ROOT).join("src"));
    let mut unknown = Vec::new();
    for prefix in ["RESMON_", "OTEL_"] {
        for (at, _) in text.match_indices(prefix) {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if name.ends_with('_') || READ_BY_THE_SDK.contains(&name.as_str()) {
                continue; // a prefix such as `OTEL_*` in prose
            }
            if !src.contains(&format!("\"{name}\"")) {
                unknown.push(name);
            }
        }
    }
    unknown
}

#[test]
fn every_setting_the_readme_names_is_read_by_the_crate() {
    let unknown = names_the_crate_reads(&read("README.md"));
    assert!(
        unknown.is_empty(),
        "README.md names settings no code reads: {unknown:?}"
    );
}

#[test]
fn every_docs_link_names_a_module_that_exists() {
    let readme = read("README.md");
    let src = sources(&Path::new(ROOT).join("src"));
    let mut links = 0;
    for (at, _) in readme.match_indices("https://docs.rs/otel-resmon/latest/otel_resmon/") {
        let rest = &readme[at + "https://docs.rs/otel-resmon/latest/otel_resmon/".len()..];
        let path = rest.split("/index.html").next().unwrap();
        for module in path.split('/') {
            assert!(
                src.contains(&format!("pub mod {module} "))
                    || src.contains(&format!("pub mod {module};")),
                "README.md links to otel_resmon/{path}: no public module {module}"
            );
        }
        links += 1;
    }
    assert!(links > 0, "the README links to its reference");
}

#[test]
fn the_kubernetes_manifest_parses_and_gives_the_container_a_gpu_and_nvml() {
    let manifest = blocks(&read("README.md"))
        .into_iter()
        .find(|b| b.marker.as_deref() == Some("check: kubernetes"))
        .expect("README.md's Kubernetes manifest");
    // YAML through Python's yaml module (Debian's python3-yaml, which scripts/test.sh installs).
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(manifest.text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run python3 (scripts/test.sh installs it with python3-yaml)");
    assert!(
        out.status.success(),
        "the manifest does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pod: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pod["kind"], "Pod");
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["resources"]["limits"]["nvidia.com/gpu"], 1);
    let env = container["env"].as_array().expect("the container's env");
    let value = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .and_then(|e| e["value"].as_str())
            .unwrap_or_else(|| panic!("the manifest sets no {name}"))
    };
    assert!(value("NVIDIA_DRIVER_CAPABILITIES")
        .split(',')
        .any(|c| c == "utility"));
    assert!(value("OTEL_EXPORTER_OTLP_ENDPOINT").starts_with("http"));
    let names: String = env
        .iter()
        .map(|e| format!("{} ", e["name"].as_str().unwrap()))
        .collect();
    let unknown = names_the_crate_reads(&names);
    assert!(
        unknown.is_empty(),
        "the manifest sets variables nothing reads: {unknown:?}"
    );
}
