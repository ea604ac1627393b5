//! `visavis-precompress DIR`: writes `.br` and `.gz` beside each web asset in DIR (a Trunk build)
//! and prints a table of the sizes. Run by Trunk as a post-build hook (see Trunk.toml).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let dir = match (args.next(), args.next()) {
        (Some(dir), None) => PathBuf::from(dir),
        // Trunk hooks get the staging directory in the environment, not as an argument.
        (None, None) => match std::env::var_os("TRUNK_STAGING_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => {
                eprintln!("usage: visavis-precompress DIR (or TRUNK_STAGING_DIR set)");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: visavis-precompress DIR");
            return ExitCode::from(2);
        }
    };
    match visavis_precompress::precompress_dir(&dir) {
        Ok(assets) => {
            print!("{}", visavis_precompress::size_table(&assets));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("visavis-precompress: {}: {err}", dir.display());
            ExitCode::FAILURE
        }
    }
}
