//! An app bundle (`crm-1.3.0.tpl`): a zip of an app's canonical files with a manifest — the
//! app's id and version, the definition format it is written in, and each file's SHA-256 —
//! so a consultant ships an app template as one file and an installation can tell what it got.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AppFiles, FORMAT_VERSION, FileKind};

/// The manifest's name inside the zip.
const MANIFEST: &str = "manifest.json";
/// What the manifest says a bundle is.
const KIND: &str = "tessera-app";
/// The most bytes a bundle's files unzip to together: the CRM's are 0.35 MB.
pub const MAX_BUNDLE_UNZIPPED_BYTES: u64 = 16 << 20;
/// The most files a bundle holds: the CRM has 45.
pub const MAX_BUNDLE_FILES: usize = 2_000;

/// What a bundle says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `tessera-app`.
    pub kind: String,
    pub app: String,
    /// The app's own version, from its `app.json`.
    pub version: String,
    /// The definition format its files are written in ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Each file's path inside the app and its SHA-256.
    pub files: BTreeMap<String, String>,
}

/// An app and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub manifest: Manifest,
    pub files: AppFiles,
}

/// Why a file is not a bundle this build can install.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not an app bundle: {0}")]
    Malformed(String),
    #[error("the bundle unzips to more than {MAX_BUNDLE_UNZIPPED_BYTES} bytes or holds more than {MAX_BUNDLE_FILES} files")]
    TooLarge,
    #[error("the bundle is written in definition format {found}; this build reads {FORMAT_VERSION}")]
    Format { found: u32 },
    #[error("{0} does not match its checksum in the manifest")]
    Checksum(String),
}

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

impl Bundle {
    /// The bundle of app `files`: `app` and `version` name it.
    pub fn new(app: &str, version: &str, files: AppFiles) -> Bundle {
        let checksums = files.0.iter().map(|(path, text)| (path.clone(), sha256(text))).collect();
        let manifest =
            Manifest { kind: KIND.into(), app: app.into(), version: version.into(), format_version: FORMAT_VERSION, files: checksums };
        Bundle { manifest, files }
    }

    /// The bundle as a zip: the manifest first, then every file at its path.
    pub fn to_zip(&self) -> Result<Vec<u8>, BundleError> {
        let broken = |e: &dyn std::fmt::Display| BundleError::Malformed(e.to_string());
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        let manifest = serde_json::to_string_pretty(&self.manifest).map_err(|e| broken(&e))? + "\n";
        for (path, text) in std::iter::once((MANIFEST, manifest.as_str())).chain(self.files.0.iter().map(|(p, t)| (p.as_str(), t.as_str())))
        {
            zip.start_file(path, options).map_err(|e| broken(&e))?;
            zip.write_all(text.as_bytes()).map_err(|e| broken(&e))?;
        }
        Ok(zip.finish().map_err(|e| broken(&e))?.into_inner())
    }

    /// Reads a bundle, within [`MAX_BUNDLE_UNZIPPED_BYTES`] and [`MAX_BUNDLE_FILES`]: every
    /// file of a known kind, each matching its checksum, and nothing the manifest does not list.
    pub fn from_zip(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let broken = |e: &dyn std::fmt::Display| BundleError::Malformed(e.to_string());
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| broken(&e))?;
        if archive.len() > MAX_BUNDLE_FILES + 1 {
            return Err(BundleError::TooLarge);
        }
        let mut left = MAX_BUNDLE_UNZIPPED_BYTES;
        let mut entries = BTreeMap::new();
        for i in 0..archive.len() {
            let entry = archive.by_index(i).map_err(|e| broken(&e))?;
            let name = entry.name().to_owned();
            if entry.size() > left {
                return Err(BundleError::TooLarge);
            }
            let mut text = String::new();
            // A zip can lie about sizes: read one byte past what is left, at most.
            entry.take(left + 1).read_to_string(&mut text).map_err(|e| broken(&format!("{name}: {e}")))?;
            left = left.checked_sub(text.len() as u64).ok_or(BundleError::TooLarge)?;
            entries.insert(name, text);
        }
        let manifest = entries.remove(MANIFEST).ok_or_else(|| BundleError::Malformed(format!("no {MANIFEST}")))?;
        let manifest: Manifest = serde_json::from_str(&manifest).map_err(|e| broken(&format!("{MANIFEST}: {e}")))?;
        if manifest.kind != KIND {
            return Err(BundleError::Malformed(format!("{MANIFEST} says it is a `{}`, not a `{KIND}`", manifest.kind)));
        }
        if manifest.format_version != FORMAT_VERSION {
            return Err(BundleError::Format { found: manifest.format_version });
        }
        for (path, text) in &entries {
            if FileKind::of_path(path).is_none() {
                return Err(BundleError::Malformed(format!("{path} is no file of an app")));
            }
            if manifest.files.get(path) != Some(&sha256(text)) {
                return Err(BundleError::Checksum(path.clone()));
            }
        }
        if let Some(missing) = manifest.files.keys().find(|p| !entries.contains_key(*p)) {
            return Err(BundleError::Malformed(format!("{missing} is in the manifest but not in the bundle")));
        }
        Ok(Bundle { manifest, files: AppFiles(entries) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crm() -> AppFiles {
        AppFiles::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm")).0
    }

    #[test]
    fn a_bundle_reads_back_as_written() {
        let bundle = Bundle::new("crm", "1.0.0", crm());
        assert_eq!(Bundle::from_zip(&bundle.to_zip().unwrap()).unwrap(), bundle);
    }

    #[test]
    fn an_edited_file_a_stray_file_or_garbage_is_refused() {
        let mut bundle = Bundle::new("crm", "1.0.0", crm());
        bundle.files.0.insert("app.json".into(), "{}".into());
        assert_eq!(Bundle::from_zip(&bundle.to_zip().unwrap()), Err(BundleError::Checksum("app.json".into())));
        let mut bundle = Bundle::new("crm", "1.0.0", crm());
        bundle.files.0.insert("../etc/passwd".into(), "x".into());
        assert!(matches!(Bundle::from_zip(&bundle.to_zip().unwrap()), Err(BundleError::Malformed(_))));
        assert!(matches!(Bundle::from_zip(b"not a zip"), Err(BundleError::Malformed(_))));
    }
}
