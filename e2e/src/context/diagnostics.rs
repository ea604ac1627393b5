//! What a failing browser test leaves behind: a screenshot and the console log of every browser,
//! the logs of the processes it started, and the WebDriver servers' own logs.

use std::time::Duration;

use super::TestContext;
use crate::paths::screenshot_dir;
use crate::person::Person;

impl TestContext {
    /// Best effort: saves a screenshot and the console log of every browser of this test to
    /// [`screenshot_dir`] as `<test>-<n>.png` and `<test>-<n>.log` (n counts from 1 in the order
    /// the people were started).
    pub async fn save_diagnostics(&self) {
        let dir = screenshot_dir();
        if let Err(error) = std::fs::create_dir_all(&dir) {
            eprintln!("could not create {}: {error}", dir.display());
            return;
        }
        let test = sanitize_file_name(&self.inner.test_name);
        for (name, log) in &self.inner.log_sources {
            let path = dir.join(format!("{test}-{}.log", sanitize_file_name(name)));
            let text = log.lock().map(|lines| lines.join("\n")).unwrap_or_default();
            match std::fs::write(&path, text) {
                Ok(()) => eprintln!("log of {name}: {}", path.display()),
                Err(error) => eprintln!("could not write {}: {error}", path.display()),
            }
        }
        for driver in self.inner.other_drivers.lock().await.iter() {
            if let Some(text) = driver.log_text() {
                let path = dir.join(format!("{test}-{}driver.log", driver.kind().name()));
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(60)..].join("\n");
                eprintln!(
                    "---- {} driver and console log, last lines ----\n{tail}",
                    driver.kind().name()
                );
                match std::fs::write(&path, &text) {
                    Ok(()) => eprintln!(
                        "{} driver and console log: {}",
                        driver.kind().name(),
                        path.display()
                    ),
                    Err(error) => eprintln!("could not write {}: {error}", path.display()),
                }
            }
        }
        if let Some(text) = self.inner.driver.log_text() {
            let path = dir.join(format!(
                "{test}-{}driver.log",
                self.inner.driver.kind().name()
            ));
            if let Err(error) = std::fs::write(&path, text) {
                eprintln!("could not write {}: {error}", path.display());
            }
        }
        let sessions = self.inner.sessions.lock().await;
        for (index, session) in sessions.iter().enumerate() {
            let n = index + 1;
            let person = Person {
                name: session.name.clone(),
                client: session.client.clone(),
                base_url: self.inner.app.base_url(),
                browser: session.browser,
            };
            let png = dir.join(format!("{test}-{n}.png"));
            let shot = tokio::time::timeout(Duration::from_secs(15), person.client.screenshot());
            match shot.await {
                Ok(Ok(bytes)) => match std::fs::write(&png, bytes) {
                    Ok(()) => eprintln!("screenshot of {}: {}", session.name, png.display()),
                    Err(error) => eprintln!("could not write {}: {error}", png.display()),
                },
                Ok(Err(error)) => eprintln!("no screenshot of {}: {error}", session.name),
                Err(_) => eprintln!("no screenshot of {}: timed out", session.name),
            }
            let mut report = String::new();
            let state = tokio::time::timeout(Duration::from_secs(5), person.describe()).await;
            report.push_str(&format!(
                "person: {}\npage: {}\n\nbrowser console:\n",
                session.name,
                state.unwrap_or_else(|_| "(timed out)".to_owned())
            ));
            match tokio::time::timeout(Duration::from_secs(10), person.console_log()).await {
                Ok(lines) => {
                    for line in lines {
                        report.push_str(&line);
                        report.push('\n');
                    }
                }
                Err(_) => report.push_str("(timed out reading the console log)\n"),
            }
            let log = dir.join(format!("{test}-{n}.log"));
            eprintln!("---- {} ({}) ----\n{report}", session.name, log.display());
            if let Err(error) = std::fs::write(&log, report) {
                eprintln!("could not write {}: {error}", log.display());
            }
        }
    }
}

fn sanitize_file_name(name: &str) -> String {
    let cleaned: String = name
        .rsplit("::")
        .next()
        .unwrap_or(name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "test".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_sanitized() {
        assert_eq!(sanitize_file_name("a::b::hang up works"), "hang_up_works");
        assert_eq!(sanitize_file_name(""), "test");
    }
}
