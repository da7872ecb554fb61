//! Builds the UI in `ui/` with the machine's npm into `$OUT_DIR/dist`, which `src/lib.rs`
//! embeds: `npm ci` when `ui/node_modules` is missing or was installed from another
//! `package-lock.json`, then `npm run build`. Nothing is downloaded but npm packages.
// A build script talks to cargo through stdout.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::{env, fs};

/// Inputs of the UI build; cargo runs this script again when any of them changes.
const INPUTS: &[&str] = &["ui/src", "ui/index.html", "ui/package.json", "ui/package-lock.json", "ui/vite.config.js"];

/// Where `npm ci` records the lock file it installed, to skip the install when it is unchanged.
const STAMP: &str = "node_modules/.tessera-package-lock.json";

fn main() {
    for input in INPUTS {
        println!("cargo::rerun-if-changed={input}");
    }
    let ui = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("ui");
    let dist = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("dist");

    let lock = read(&ui.join("package-lock.json"));
    let installed = fs::read(ui.join(STAMP)).ok();
    if installed.as_deref() != Some(lock.as_slice()) {
        npm(&ui, &["ci", "--no-audit", "--no-fund"]);
        fs::write(ui.join(STAMP), &lock).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", ui.join(STAMP).display())));
    }
    let out_dir = dist.to_str().unwrap_or_else(|| fail("OUT_DIR is not valid UTF-8"));
    npm(&ui, &["run", "build", "--", "--outDir", out_dir, "--emptyOutDir"]);
    if !dist.join("index.html").is_file() {
        fail(&format!("`npm run build` succeeded but wrote no {}", dist.join("index.html").display()));
    }
}

/// Runs npm in `dir`; any failure stops the build with what to do about it.
fn npm(dir: &Path, args: &[&str]) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let shown = format!("npm {}", args.join(" "));
    // npm's output goes to stderr: stdout is where cargo reads this script's directives.
    match Command::new(npm).args(args).current_dir(dir).stdout(Stdio::from(std::io::stderr())).status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "`{shown}` in {} failed ({status}); its output is above. A damaged install is mended by deleting {}",
            dir.display(),
            dir.join("node_modules").display()
        )),
        Err(e) => fail(&format!(
            "cannot run `{shown}` in {}: {e}. The web UI is built with Node.js and npm (Node 20 or later); install them",
            dir.display()
        )),
    }
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())))
}

fn fail(message: &str) -> ! {
    eprintln!("error: building the web UI: {message}");
    std::process::exit(1)
}
