//! The app's files with the Brotli and gzip copies made at build time (`.br` and `.gz` beside each
//! file, written by `visavis-precompress`): the encoding is chosen from `Accept-Encoding`, and the
//! copy is sent as it is, never compressed again per request.
//!
//! Files without copies are left to `actix-files` (and the on-the-fly compression middleware).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::header::{self, ContentEncoding, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

/// A content coding the server has a precompressed copy for, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `br`: the smallest, preferred when the browser rates it as high as gzip.
    Brotli,
    /// `gzip`.
    Gzip,
    /// The file as it is.
    Identity,
}

impl Coding {
    /// The file name suffix of the copy in this coding.
    fn suffix(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gz"),
            Coding::Identity => None,
        }
    }
}

/// The quality a browser gives to each coding, from its `Accept-Encoding` header.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ratings {
    brotli: Option<f32>,
    gzip: Option<f32>,
    identity: Option<f32>,
    any: Option<f32>,
}

impl Ratings {
    fn parse(header: &str) -> Ratings {
        let mut ratings = Ratings {
            brotli: None,
            gzip: None,
            identity: None,
            any: None,
        };
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut quality = 1.0;
            for param in parts {
                if let Some((name, value)) = param.split_once('=') {
                    if name.trim().eq_ignore_ascii_case("q") {
                        // A malformed weight counts as a refusal rather than a guess.
                        quality = parse_quality(value.trim()).unwrap_or(0.0);
                    }
                }
            }
            let slot = match coding.as_str() {
                "br" => &mut ratings.brotli,
                "gzip" | "x-gzip" => &mut ratings.gzip,
                "identity" => &mut ratings.identity,
                "*" => &mut ratings.any,
                _ => continue,
            };
            *slot = Some(quality);
        }
        ratings
    }

    /// The quality of `coding`: its own entry, else the `*` entry.
    fn of(&self, coding: Coding) -> Option<f32> {
        let own = match coding {
            Coding::Brotli => self.brotli,
            Coding::Gzip => self.gzip,
            Coding::Identity => self.identity,
        };
        own.or(self.any)
    }
}

/// A qvalue: `0` to `1` with up to three decimals.
fn parse_quality(value: &str) -> Option<f32> {
    let valid = !value.is_empty()
        && value.len() <= 5
        && value.chars().all(|c| c.is_ascii_digit() || c == '.')
        && (value.starts_with('0') || value.starts_with('1'));
    let quality: f32 = value.parse().ok().filter(|_| valid)?;
    (0.0..=1.0).contains(&quality).then_some(quality)
}

/// Chooses the coding to send, given which copies exist.
///
/// The coding with the highest quality wins; at equal quality Brotli beats gzip, and both beat
/// the plain file. A coding rated `q=0`, or not listed (and not covered by `*`), is never sent
/// compressed. The plain file is the answer when nothing better is acceptable (also when the
/// header is missing, or refuses even identity: a page that loads beats a 406).
pub fn negotiate(accept_encoding: Option<&str>, has_brotli: bool, has_gzip: bool) -> Coding {
    let Some(header) = accept_encoding else {
        return Coding::Identity;
    };
    let ratings = Ratings::parse(header);
    // Identity is acceptable unless refused, but an explicit rating is needed to beat a coding.
    let identity = ratings.of(Coding::Identity).unwrap_or(0.0);
    let mut best = (Coding::Identity, identity);
    for (coding, available) in [(Coding::Gzip, has_gzip), (Coding::Brotli, has_brotli)] {
        let quality = ratings.of(coding).unwrap_or(0.0);
        // `>=`: listed later (Brotli after gzip) wins a tie, and identity loses every tie.
        if available && quality > 0.0 && quality >= best.1 {
            best = (coding, quality);
        }
    }
    best.0
}

/// One file of the build and the copies that exist beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The plain file.
    pub file: PathBuf,
    /// `<file>.br`, if it exists.
    pub brotli: Option<PathBuf>,
    /// `<file>.gz`, if it exists.
    pub gzip: Option<PathBuf>,
}

impl Asset {
    /// The asset at `file`, with whichever copies exist now.
    pub fn at(file: PathBuf) -> Asset {
        let copy = |coding: Coding| {
            let suffix = coding.suffix()?;
            let mut name = file.as_os_str().to_owned();
            name.push(".");
            name.push(suffix);
            let path = PathBuf::from(name);
            path.is_file().then_some(path)
        };
        Asset {
            brotli: copy(Coding::Brotli),
            gzip: copy(Coding::Gzip),
            file,
        }
    }

    fn has_copies(&self) -> bool {
        self.brotli.is_some() || self.gzip.is_some()
    }
}

/// Every file of a build directory that has a precompressed copy, by URL path (`/app.wasm`).
pub fn scan(static_dir: &Path) -> HashMap<String, Asset> {
    let mut assets = HashMap::new();
    let Ok(entries) = std::fs::read_dir(static_dir) else {
        return assets;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // Only names that are literal route paths (no pattern syntax, no escaping needed); Trunk
        // writes nothing else. Copies themselves are never served as files of their own here.
        let plain_name = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !plain_name || name.ends_with(".br") || name.ends_with(".gz") || !path.is_file() {
            continue;
        }
        let asset = Asset::at(path.clone());
        if asset.has_copies() {
            assets.insert(format!("/{name}"), asset);
        }
    }
    assets
}

/// Serves `asset` in the coding negotiated with the request, with the plain file's Content-Type
/// and Content-Disposition and `Vary: Accept-Encoding`. Caching headers are left to the caller.
pub async fn respond(req: &HttpRequest, asset: &Asset) -> actix_web::Result<HttpResponse> {
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let coding = negotiate(accept, asset.brotli.is_some(), asset.gzip.is_some());
    let plain = NamedFile::open_async(&asset.file).await?;
    let chosen = match (coding, &asset.brotli, &asset.gzip) {
        (Coding::Brotli, Some(copy), _) => Some((copy, ContentEncoding::Brotli)),
        (Coding::Gzip, _, Some(copy)) => Some((copy, ContentEncoding::Gzip)),
        _ => None,
    };
    let file = match chosen {
        // A copy removed since the scan falls back to the plain file.
        Some((copy, encoding)) => match NamedFile::open_async(copy).await {
            Ok(file) => file
                .set_content_type(plain.content_type().clone())
                .set_content_disposition(plain.content_disposition().clone())
                .set_content_encoding(encoding),
            Err(_) => plain,
        },
        None => plain,
    };
    let mut response = file.into_response(req);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(header: &str) -> Coding {
        negotiate(Some(header), true, true)
    }

    #[test]
    fn brotli_is_preferred_when_rated_as_high_as_gzip() {
        // What Chromium and Firefox send.
        assert_eq!(pick("gzip, deflate, br, zstd"), Coding::Brotli);
        assert_eq!(pick("br, gzip"), Coding::Brotli);
        assert_eq!(pick("BR;Q=1.0, GZIP"), Coding::Brotli);
    }

    #[test]
    fn gzip_is_the_fallback() {
        assert_eq!(pick("gzip, deflate"), Coding::Gzip);
        assert_eq!(pick("x-gzip"), Coding::Gzip);
        assert_eq!(negotiate(Some("gzip, br"), false, true), Coding::Gzip);
    }

    #[test]
    fn quality_values_are_respected() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Coding::Gzip);
        assert_eq!(pick("br;q=0.9, gzip;q=0.8"), Coding::Brotli);
        assert_eq!(pick("gzip;q=0.3, identity;q=0.5"), Coding::Identity);
        assert_eq!(pick("*;q=0.2, br;q=0.1"), Coding::Gzip);
    }

    #[test]
    fn q_zero_refuses_a_coding() {
        assert_eq!(pick("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0"), Coding::Identity);
        assert_eq!(pick("*;q=0, identity"), Coding::Identity);
        assert_eq!(pick("br;q=0.000"), Coding::Identity);
    }

    #[test]
    fn identity_when_nothing_is_asked_for_or_available() {
        assert_eq!(negotiate(None, true, true), Coding::Identity);
        assert_eq!(pick(""), Coding::Identity);
        assert_eq!(pick("identity"), Coding::Identity);
        assert_eq!(pick("deflate, zstd"), Coding::Identity);
        assert_eq!(negotiate(Some("gzip, br"), false, false), Coding::Identity);
    }

    #[test]
    fn a_wildcard_accepts_every_coding() {
        assert_eq!(pick("*"), Coding::Brotli);
        assert_eq!(negotiate(Some("*"), false, true), Coding::Gzip);
    }

    #[test]
    fn malformed_weights_count_as_refusals() {
        assert_eq!(pick("br;q=high, gzip"), Coding::Gzip);
        assert_eq!(pick("br;q=2, gzip;q=0.5"), Coding::Gzip);
        assert_eq!(pick("br;q=-1"), Coding::Identity);
        assert_eq!(pick(";;,,=, br;q"), Coding::Brotli);
    }

    #[test]
    fn the_scan_finds_files_with_copies_and_serves_no_copy_as_a_file() {
        let dir = std::env::temp_dir().join(format!("visavis-scan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        for name in [
            "app.wasm",
            "app.wasm.br",
            "app.wasm.gz",
            "main.css",
            "main.css.gz",
        ] {
            std::fs::write(dir.join(name), name).expect("written");
        }
        std::fs::write(dir.join("plain.svg"), "no copies").expect("written");
        std::fs::write(dir.join("we{ird}.js"), "x").expect("written");
        std::fs::write(dir.join("we{ird}.js.br"), "x").expect("written");

        let assets = scan(&dir);
        let mut paths: Vec<_> = assets.keys().cloned().collect();
        paths.sort();
        assert_eq!(paths, ["/app.wasm", "/main.css"]);
        assert_eq!(assets["/app.wasm"].brotli, Some(dir.join("app.wasm.br")));
        assert_eq!(assets["/main.css"].brotli, None);
        assert_eq!(assets["/main.css"].gzip, Some(dir.join("main.css.gz")));
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }
}
