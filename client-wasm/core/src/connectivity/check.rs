//! The rows of the `/check` page: what the gathered candidates and reported errors mean for each
//! kind of server, and the plain words for a camera or microphone that would not open. Pure
//! Rust with no browser types, so every row is unit-tested natively.

use visavis_shared::IceServer;

use super::ice::{CandidateSet, CandidateType, IceErrorReport, ServerKinds};
use crate::link::IcePolicy;

/// The result of one row of the check page, published as its `data-result` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckResult {
    /// Still being tested.
    #[default]
    Pending,
    /// Works.
    Ok,
    /// Does not work.
    Fail,
    /// Not tested, because nothing is configured for it (or the mode excludes it).
    Skipped,
}

impl CheckResult {
    /// The `data-result` value, a contract with automated tests.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Pending => "pending",
            CheckResult::Ok => "ok",
            CheckResult::Fail => "fail",
            CheckResult::Skipped => "skipped",
        }
    }

    /// The short badge text.
    pub fn label(self) -> &'static str {
        match self {
            CheckResult::Pending => "Checking…",
            CheckResult::Ok => "Works",
            CheckResult::Fail => "Problem",
            CheckResult::Skipped => "Not tested",
        }
    }

    /// Whether the result will not change any more.
    pub fn is_final(self) -> bool {
        self != CheckResult::Pending
    }
}

/// One row's outcome: the result and a sentence explaining it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// The result.
    pub result: CheckResult,
    /// The explanation shown under the row's heading.
    pub text: String,
}

impl Row {
    pub(crate) fn new(result: CheckResult, text: impl Into<String>) -> Row {
        Row {
            result,
            text: text.into(),
        }
    }

    /// A row that is still being tested.
    pub fn pending(text: impl Into<String>) -> Row {
        Row::new(CheckResult::Pending, text)
    }
}

const NOT_REACHED: &str = "Not tested: the visavis server could not be reached to get its \
                           STUN and TURN settings. Check your internet connection and reload.";

/// The network half of the check page: what was configured and gathered, turned into rows.
#[derive(Debug, Clone, Default)]
pub struct NetworkCheck {
    relay_only: bool,
    /// The kinds of server offered; `None` until `config` arrives (or the server is lost).
    servers: Option<ServerKinds>,
    server_unreachable: bool,
    gathered: CandidateSet,
    /// The most telling TURN error: a refusal wins over any other error.
    turn_error: Option<IceErrorReport>,
    stun_error: Option<IceErrorReport>,
    finished: bool,
    /// Why the browser could not run the test at all (no peer connection, no offer).
    broken: Option<String>,
}

impl NetworkCheck {
    /// A check run with `policy`.
    pub fn new(policy: IcePolicy) -> NetworkCheck {
        NetworkCheck {
            relay_only: policy == IcePolicy::Relay,
            ..NetworkCheck::default()
        }
    }

    /// The server's `config` arrived with these ICE servers.
    pub fn configured(&mut self, servers: &[IceServer]) {
        self.servers = Some(ServerKinds::of(servers));
    }

    /// The server could not be reached, so no STUN or TURN server is known.
    pub fn server_unreachable(&mut self) {
        self.server_unreachable = true;
        self.servers = Some(ServerKinds::default());
    }

    /// A local candidate was gathered.
    pub fn candidate(&mut self, kind: CandidateType) {
        self.gathered.add(kind);
    }

    /// The browser reported a candidate error.
    pub fn ice_error(&mut self, error: IceErrorReport) {
        if error.is_turn() {
            let keep_old = self
                .turn_error
                .as_ref()
                .is_some_and(|old| old.is_turn_refusal() || !error.is_turn_refusal());
            if !keep_old {
                self.turn_error = Some(error);
            }
        } else if error.is_stun() && self.stun_error.is_none() {
            self.stun_error = Some(error);
        }
    }

    /// The browser could not run the test (it refused to create a peer connection or an
    /// offer); every network row fails with `reason`.
    pub fn broken(&mut self, reason: String) {
        self.broken = Some(reason);
        self.finished = true;
    }

    /// The failing row for a check the browser could not run.
    fn broken_row(&self) -> Option<Row> {
        self.broken.as_ref().map(|reason| {
            Row::new(
                CheckResult::Fail,
                format!(
                    "Your browser could not run the network test ({reason}). WebRTC may be \
                     disabled by a setting or an extension."
                ),
            )
        })
    }

    /// Gathering is over (complete, timed out, or impossible).
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Whether gathering is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The "Local network (host)" row.
    pub fn host(&self) -> Row {
        if let Some(row) = self.broken_row() {
            return row;
        }
        if self.gathered.has(CandidateType::Host) {
            return Row::new(
                CheckResult::Ok,
                "Your browser found a local network address. (It may show up as a “.local” \
                 name: browsers hide local addresses that way, which is normal.)",
            );
        }
        if self.relay_only {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this check runs in relay-only mode (?ice=relay).",
            );
        }
        if !self.finished {
            return Row::pending("Looking for this device's network addresses…");
        }
        Row::new(
            CheckResult::Fail,
            "Your browser offered no local network address. A privacy setting or a browser \
             extension may be blocking WebRTC.",
        )
    }

    /// The "Public address via STUN (srflx)" row.
    pub fn srflx(&self) -> Row {
        if let Some(row) = self.broken_row() {
            return row;
        }
        if self.gathered.has(CandidateType::ServerReflexive) {
            return Row::new(
                CheckResult::Ok,
                "A STUN server saw your public address, so direct calls across the internet \
                 can work.",
            );
        }
        if self.relay_only {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this check runs in relay-only mode (?ice=relay).",
            );
        }
        if self.server_unreachable {
            return Row::new(CheckResult::Fail, NOT_REACHED);
        }
        let Some(servers) = self.servers else {
            return Row::pending("Waiting for the server's settings…");
        };
        if !servers.stun {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this server configures no STUN server. That is fine on a local \
                 network or when a relay (TURN) server is available.",
            );
        }
        if !self.finished {
            return Row::pending("Asking the STUN server for your public address…");
        }
        let detail = self
            .stun_error
            .as_ref()
            .map(|e| format!(" (error {})", e.code_and_text()))
            .unwrap_or_default();
        Row::new(
            CheckResult::Fail,
            format!(
                "The STUN server gave no public address{detail}. Your network may block UDP \
                 traffic, or the STUN server is down. (A device with a public address of its \
                 own needs none, which is also shown this way.)"
            ),
        )
    }

    /// The "Relay via TURN (relay)" row.
    pub fn relay(&self) -> Row {
        if let Some(row) = self.broken_row() {
            return row;
        }
        if self.gathered.has(CandidateType::Relay) {
            return Row::new(
                CheckResult::Ok,
                "The relay (TURN) server works: calls can go through it when a direct \
                 connection is impossible.",
            );
        }
        if self.server_unreachable {
            return Row::new(CheckResult::Fail, NOT_REACHED);
        }
        let Some(servers) = self.servers else {
            return Row::pending("Waiting for the server's settings…");
        };
        if !servers.turn {
            return Row::new(
                CheckResult::Skipped,
                "Not tested: this server configures no relay (TURN) server. Calls between \
                 some networks (strict firewalls, some mobile networks) may then fail.",
            );
        }
        if !self.finished {
            return Row::pending("Asking the TURN server for a relay address…");
        }
        let text = match &self.turn_error {
            Some(error) if error.is_turn_refusal() => format!(
                "The TURN server refused the credentials ({}). Ask the operator to check that \
                 visavis and the TURN server share the same secret.",
                error.code_and_text()
            ),
            Some(error) => format!(
                "The TURN server could not be used ({}). A firewall may block it, or it may be \
                 down.",
                error.code_and_text()
            ),
            None => "No relay candidate was gathered: the TURN server did not answer in time. \
                     A firewall may block it, or it may be down."
                .into(),
        };
        Row::new(CheckResult::Fail, text)
    }
}

/// Which device a media row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The camera.
    Camera,
    /// The microphone.
    Microphone,
}

impl Device {
    fn noun(self) -> &'static str {
        match self {
            Device::Camera => "camera",
            Device::Microphone => "microphone",
        }
    }
}

/// Why a device could not be opened: the DOM exception's `name` and a readable description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError {
    /// `NotAllowedError`, `NotFoundError`…; `None` when the browser gave no name.
    pub name: Option<String>,
    /// The whole error, for the log and unknown cases.
    pub detail: String,
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The name [`DeviceError`] carries when the page has no `navigator.mediaDevices` at all.
pub const NO_MEDIA_DEVICES: &str = "NoMediaDevices";

/// The row for a device that was opened (`Ok`) or not (`Err`).
pub fn device_row(device: Device, outcome: Result<(), &DeviceError>) -> Row {
    let noun = device.noun();
    let error = match outcome {
        Ok(()) => {
            let text = match device {
                Device::Camera => "Your camera works: you should see yourself below.",
                Device::Microphone => "Your microphone works: the bar below moves when you speak.",
            };
            return Row::new(CheckResult::Ok, text);
        }
        Err(error) => error,
    };
    let text = match error.name.as_deref() {
        Some("NotAllowedError" | "PermissionDeniedError" | "SecurityError") => format!(
            "Access to the {noun} was refused. Allow it for this site (usually from the icon in \
             the address bar), then run the check again."
        ),
        Some("NotFoundError" | "DevicesNotFoundError" | "OverconstrainedError") => {
            format!("No {noun} was found. Connect one, or check that it is switched on.")
        }
        Some("NotReadableError" | "TrackStartError" | "AbortError") => format!(
            "The {noun} could not be started. Another app (or another tab) is probably using \
             it: close it, then run the check again."
        ),
        Some(NO_MEDIA_DEVICES) => format!(
            "This page cannot use the {noun}: the browser only allows it on a secure (https) \
             address."
        ),
        _ => format!("The {noun} could not be opened ({}).", error.detail),
    };
    Row::new(CheckResult::Fail, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectivity::ice::tests::{error, servers};

    #[test]
    fn check_rows_wait_for_the_servers_settings() {
        let check = NetworkCheck::new(IcePolicy::All);
        assert_eq!(check.host().result, CheckResult::Pending);
        assert_eq!(check.srflx().result, CheckResult::Pending);
        assert_eq!(check.relay().result, CheckResult::Pending);
    }

    #[test]
    fn check_rows_are_skipped_when_no_server_of_their_kind_is_configured() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&[]);
        assert_eq!(check.srflx().result, CheckResult::Skipped);
        assert_eq!(check.relay().result, CheckResult::Skipped);
        // The host row needs no server, so it waits for gathering.
        assert_eq!(check.host().result, CheckResult::Pending);
    }

    #[test]
    fn check_rows_become_ok_as_candidates_arrive() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["stun:s", "turn:t"]));
        check.candidate(CandidateType::Host);
        check.candidate(CandidateType::ServerReflexive);
        check.candidate(CandidateType::Relay);
        for row in [check.host(), check.srflx(), check.relay()] {
            assert_eq!(row.result, CheckResult::Ok);
        }
    }

    #[test]
    fn a_refused_relay_is_reported_with_its_code_once_gathering_ends() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["turn:t"]));
        check.ice_error(error("turn:t", 401));
        assert_eq!(check.relay().result, CheckResult::Pending);
        check.finish();
        let row = check.relay();
        assert_eq!(row.result, CheckResult::Fail);
        assert!(row
            .text
            .contains("refused the credentials (401: Unauthorized)"));
    }

    #[test]
    fn a_reason_phrase_ending_in_a_full_stop_is_not_punctuated_twice() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["turn:t"]));
        check.ice_error(IceErrorReport {
            url: "turn:t".into(),
            code: 400,
            text: "TURN allocate error.".into(),
        });
        check.finish();
        assert!(check.relay().text.contains("(400: TURN allocate error)."));
    }

    #[test]
    fn a_refusal_is_not_hidden_by_a_later_unreachable_error() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["turn:a", "turn:b"]));
        check.ice_error(error("turn:a", 701));
        check.ice_error(error("turn:b", 401));
        check.ice_error(error("turn:a", 701));
        check.finish();
        assert!(check.relay().text.contains("refused"));
    }

    #[test]
    fn a_silent_relay_fails_with_no_relay_candidate() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["stun:s", "turn:t"]));
        check.finish();
        assert_eq!(check.host().result, CheckResult::Fail);
        assert_eq!(check.srflx().result, CheckResult::Fail);
        let relay = check.relay();
        assert_eq!(relay.result, CheckResult::Fail);
        assert!(relay.text.contains("No relay candidate"));
    }

    #[test]
    fn relay_only_mode_skips_the_direct_rows() {
        let mut check = NetworkCheck::new(IcePolicy::Relay);
        check.configured(&servers(&["stun:s", "turn:t"]));
        assert_eq!(check.host().result, CheckResult::Skipped);
        assert_eq!(check.srflx().result, CheckResult::Skipped);
        assert_eq!(check.relay().result, CheckResult::Pending);
    }

    #[test]
    fn an_unreachable_server_fails_the_server_rows() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.server_unreachable();
        check.candidate(CandidateType::Host);
        check.finish();
        assert_eq!(check.host().result, CheckResult::Ok);
        assert_eq!(check.srflx().result, CheckResult::Fail);
        assert_eq!(check.relay().result, CheckResult::Fail);
    }

    #[test]
    fn a_browser_that_cannot_run_the_test_fails_every_network_row_with_the_reason() {
        let mut check = NetworkCheck::new(IcePolicy::All);
        check.configured(&servers(&["stun:s", "turn:t"]));
        check.broken("NotSupportedError".into());
        assert!(check.is_finished());
        for row in [check.host(), check.srflx(), check.relay()] {
            assert_eq!(row.result, CheckResult::Fail);
            assert!(row.text.contains("NotSupportedError"));
        }
    }

    #[test]
    fn check_results_have_the_attribute_values_the_tests_expect() {
        assert_eq!(CheckResult::Pending.as_str(), "pending");
        assert_eq!(CheckResult::Ok.as_str(), "ok");
        assert_eq!(CheckResult::Fail.as_str(), "fail");
        assert_eq!(CheckResult::Skipped.as_str(), "skipped");
        assert!(!CheckResult::Pending.is_final());
        assert!(CheckResult::Skipped.is_final());
    }

    #[test]
    fn device_errors_are_put_into_plain_words() {
        let refused = DeviceError {
            name: Some("NotAllowedError".into()),
            detail: "NotAllowedError: Permission denied".into(),
        };
        let row = device_row(Device::Camera, Err(&refused));
        assert_eq!(row.result, CheckResult::Fail);
        assert!(row.text.contains("camera was refused"));

        let busy = DeviceError {
            name: Some("NotReadableError".into()),
            detail: String::new(),
        };
        assert!(device_row(Device::Microphone, Err(&busy))
            .text
            .contains("Another app"));

        let odd = DeviceError {
            name: None,
            detail: "something odd".into(),
        };
        assert!(device_row(Device::Camera, Err(&odd))
            .text
            .contains("something odd"));
        assert_eq!(
            device_row(Device::Microphone, Ok(())).result,
            CheckResult::Ok
        );
    }
}
