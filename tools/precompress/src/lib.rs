//! Precompression of a web build: a Brotli and a gzip copy beside each asset worth compressing,
//! made once at build time at the highest settings, so the server never compresses the app on
//! the fly and every visitor gets the smallest encoding their browser accepts.
//!
//! A copy is only kept when it is smaller than the original; otherwise any old copy is removed,
//! so a server can never send a stale or useless variant.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

/// File extensions of the assets that are compressed (text and WebAssembly; images and fonts
/// are already compressed).
pub const COMPRESSIBLE_EXTENSIONS: &[&str] = &[
    "html",
    "js",
    "mjs",
    "wasm",
    "css",
    "svg",
    "json",
    "txt",
    "map",
    "xml",
    "webmanifest",
];

/// The sizes of one asset and of the copies written beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The original file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub raw: u64,
    /// The size of `<path>.gz`, if one was kept.
    pub gzip: Option<u64>,
    /// The size of `<path>.br`, if one was kept.
    pub brotli: Option<u64>,
}

impl Asset {
    /// The bytes a browser that accepts Brotli downloads for this asset.
    pub fn best(&self) -> u64 {
        [Some(self.raw), self.gzip, self.brotli]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.raw)
    }
}

/// Brotli at quality 11 with a 4 MiB window, which covers the whole WASM file.
pub fn brotli(data: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        size_hint: data.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(data.len() / 3);
    let mut input = data;
    // Writing into a Vec cannot fail, so neither can the compression.
    brotli::BrotliCompress(&mut input, &mut out, &params).expect("brotli into memory cannot fail");
    out
}

/// gzip at the best compression level, with no file name and a zero timestamp in the header
/// (so the output depends only on the input).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 3), Compression::best());
    encoder
        .write_all(data)
        .expect("gzip into memory cannot fail");
    encoder.finish().expect("gzip into memory cannot fail")
}

/// Decodes Brotli (for tests and checks).
pub fn unbrotli(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &data[..], &mut out)?;
    Ok(out)
}

/// Decodes gzip (for tests and checks).
pub fn gunzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

/// Whether `path` is an asset to compress: a known extension, and not itself a copy.
pub fn is_compressible(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| COMPRESSIBLE_EXTENSIONS.contains(&ext))
}

/// Writes `<path>.br` and `<path>.gz` for one file (each only if smaller than the file).
pub fn precompress_file(path: &Path) -> io::Result<Asset> {
    let data = fs::read(path)?;
    let raw = data.len() as u64;
    let brotli = keep_if_smaller(path, "br", brotli(&data), raw)?;
    let gzip = keep_if_smaller(path, "gz", gzip(&data), raw)?;
    Ok(Asset {
        path: path.to_owned(),
        raw,
        gzip,
        brotli,
    })
}

/// Precompresses every compressible file under `dir` (recursively); returns them sorted by
/// path.
pub fn precompress_dir(dir: &Path) -> io::Result<Vec<Asset>> {
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    files
        .iter()
        .filter(|path| is_compressible(path))
        .map(|path| precompress_file(path))
        .collect()
}

/// A plain-text table of the sizes, with the total a first visit downloads.
pub fn size_table(assets: &[Asset]) -> String {
    let mut table = format!(
        "{:<48} {:>10} {:>10} {:>10}\n",
        "asset", "raw", "gzip", "brotli"
    );
    let show = |size: Option<u64>| size.map_or_else(|| "-".to_owned(), |s| s.to_string());
    for asset in assets {
        let name = asset
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        table.push_str(&format!(
            "{:<48} {:>10} {:>10} {:>10}\n",
            name,
            asset.raw,
            show(asset.gzip),
            show(asset.brotli)
        ));
    }
    let raw: u64 = assets.iter().map(|a| a.raw).sum();
    let gzip: u64 = assets.iter().map(|a| a.gzip.unwrap_or(a.raw)).sum();
    let best: u64 = assets.iter().map(Asset::best).sum();
    table.push_str(&format!(
        "{:<48} {:>10} {:>10} {:>10}\n",
        "total", raw, gzip, best
    ));
    table
}

/// Keeps `compressed` as `<path>.<ext>` if it is smaller than `raw` bytes; otherwise removes
/// any old copy. Written to a temporary name and renamed, so a running server never reads half
/// a file.
fn keep_if_smaller(
    path: &Path,
    ext: &str,
    compressed: Vec<u8>,
    raw: u64,
) -> io::Result<Option<u64>> {
    let target = with_suffix(path, ext);
    if compressed.len() as u64 >= raw {
        match fs::remove_file(&target) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        return Ok(None);
    }
    let partial = with_suffix(path, &format!("{ext}.partial"));
    fs::write(&partial, &compressed)?;
    fs::rename(&partial, &target)?;
    Ok(Some(compressed.len() as u64))
}

/// `path` with `.suffix` appended to its whole name (`app.wasm` -> `app.wasm.br`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(&entry.path(), files)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_text() -> Vec<u8> {
        (0..2000)
            .map(|n| format!("<p class=\"line\">line number {n}</p>\n"))
            .collect::<String>()
            .into_bytes()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("visavis-precompress-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a temporary directory");
        dir
    }

    #[test]
    fn both_encodings_decode_to_the_original() {
        let data = sample_text();
        let br = brotli(&data);
        let gz = gzip(&data);
        assert!(br.len() < data.len() / 10, "brotli: {} bytes", br.len());
        assert!(gz.len() < data.len() / 5, "gzip: {} bytes", gz.len());
        assert_eq!(unbrotli(&br).expect("valid brotli"), data);
        assert_eq!(gunzip(&gz).expect("valid gzip"), data);
    }

    #[test]
    fn gzip_output_depends_only_on_the_input() {
        assert_eq!(
            gzip(b"same bytes, same output"),
            gzip(b"same bytes, same output")
        );
    }

    #[test]
    fn a_directory_gets_copies_beside_each_asset_and_only_those() {
        let dir = temp_dir("dir");
        fs::create_dir_all(dir.join("snippets")).expect("a subdirectory");
        fs::write(dir.join("index.html"), sample_text()).expect("written");
        fs::write(dir.join("snippets/app.js"), sample_text()).expect("written");
        fs::write(dir.join("photo.png"), sample_text()).expect("written");

        let assets = precompress_dir(&dir).expect("precompressed");
        let names: Vec<_> = assets.iter().map(|a| a.path.clone()).collect();
        assert_eq!(
            names,
            vec![dir.join("index.html"), dir.join("snippets/app.js")]
        );
        for asset in &assets {
            let br = fs::read(with_suffix(&asset.path, "br")).expect("a .br copy");
            let gz = fs::read(with_suffix(&asset.path, "gz")).expect("a .gz copy");
            assert_eq!(asset.brotli, Some(br.len() as u64));
            assert_eq!(asset.gzip, Some(gz.len() as u64));
            assert_eq!(unbrotli(&br).expect("valid"), sample_text());
            assert_eq!(gunzip(&gz).expect("valid"), sample_text());
        }
        assert!(!dir.join("photo.png.br").exists(), "images are left alone");

        // A second run (as on every rebuild) compresses no copy of a copy.
        let again = precompress_dir(&dir).expect("precompressed again");
        assert_eq!(again, assets);
        assert!(!dir.join("index.html.br.br").exists());
        assert!(!dir.join("index.html.br.partial").exists());
        fs::remove_dir_all(&dir).expect("cleaned up");
    }

    #[test]
    fn a_copy_that_would_not_be_smaller_is_not_kept_and_an_old_one_is_removed() {
        let dir = temp_dir("tiny");
        let file = dir.join("tiny.js");
        fs::write(&file, "x").expect("written");
        fs::write(with_suffix(&file, "gz"), "stale").expect("written");

        let asset = precompress_file(&file).expect("precompressed");
        assert_eq!((asset.gzip, asset.brotli), (None, None));
        assert_eq!(asset.best(), 1);
        assert!(!with_suffix(&file, "gz").exists(), "the stale copy is gone");
        assert!(!with_suffix(&file, "br").exists());
        fs::remove_dir_all(&dir).expect("cleaned up");
    }

    #[test]
    fn the_table_totals_what_a_first_visit_downloads() {
        let assets = [
            Asset {
                path: "a.wasm".into(),
                raw: 1000,
                gzip: Some(400),
                brotli: Some(300),
            },
            Asset {
                path: "b.js".into(),
                raw: 10,
                gzip: None,
                brotli: None,
            },
        ];
        let table = size_table(&assets);
        let total = table.lines().last().expect("a total line");
        assert_eq!(
            total.split_whitespace().collect::<Vec<_>>(),
            ["total", "1010", "410", "310"]
        );
    }
}
