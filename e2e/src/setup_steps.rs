//! Where call set-up time goes: the app marks each step of a call with `performance.mark`
//! (`visavis:<step>`; see the client's `timeline` module), and this reads the marks of both pages
//! back on one clock (`performance.timeOrigin + startTime`: both browsers run on this machine).

use serde_json::Value;

use crate::Person;

/// One step of one call: (page, step, ms after the Callee's Call click).
pub type Step = (&'static str, String, f64);

/// The steps the app marks (client `browser::timeline`), for reading the table: `start` (the
/// Call click), `media` (camera and microphone open), `socket-open`, `recv:<type>` for each
/// server message (`recv:config`, `recv:created`, `recv:joined`, `recv:new_peer`,
/// `recv:invite`, `recv:ok`, `recv:ice_candidate`, ...), `sent:<type>` for each message the page
/// sent (`sent:join`, `sent:invite`, `sent:ok`, ...), `negotiation-needed`, `connected` (ICE
/// connected) and `remote-track` (the remote stream arrived); the harness adds `first-frame`
/// (the remote video's first decoded frame). Only the first mark of a step counts.
pub const STEP_NAMES: &str = "start, media, socket-open, recv:<type>, sent:<type>, \
                              negotiation-needed, connected, remote-track, first-frame";

/// One page's marks: (step, wall-clock milliseconds) in the order they were made; the first of
/// each step only.
#[derive(Debug, Clone, Default)]
pub struct Marks(pub Vec<(String, f64)>);

impl Marks {
    /// When `step` was first marked.
    pub fn at(&self, step: &str) -> Option<f64> {
        self.0.iter().find(|(s, _)| s == step).map(|(_, t)| *t)
    }
}

/// Forgets the page's marks, so the next call's are its own, and watches for the remote
/// video's first frame: the harness's own mark `e2e:first-frame` (read as `first-frame`), made
/// in the page, as soon as `#remoteVideo` knows its size (a frame was decoded), so the step
/// table is free of the harness's polling and WebDriver round trips.
pub async fn clear_marks(person: &Person) {
    person
        .execute(
            "performance.clearMarks();\n\
             clearInterval(window.__visavisE2eFirstFrame);\n\
             window.__visavisE2eFirstFrame = setInterval(() => {\n\
               const v = document.getElementById('remoteVideo');\n\
               if (v && v.videoWidth > 0) {\n\
                 performance.mark('e2e:first-frame');\n\
                 clearInterval(window.__visavisE2eFirstFrame);\n\
               }\n\
             }, 5);\n\
             return true;",
            vec![],
        )
        .await;
}

/// The page's `visavis:` marks and the harness's `e2e:` ones (see [`clear_marks`]).
pub async fn read_marks(person: &Person) -> Marks {
    let mut marks = read_marks_named(person, "visavis:").await;
    marks.0.extend(read_marks_named(person, "e2e:").await.0);
    marks
}

/// The page's marks whose names start with `prefix` (taken off the step names).
pub async fn read_marks_named(person: &Person, prefix: &str) -> Marks {
    let value = person
        .execute(
            "return performance.getEntriesByType('mark')\n\
               .filter(m => m.name.startsWith(arguments[0]))\n\
               .map(m => [m.name.slice(arguments[0].length), performance.timeOrigin + m.startTime]);",
            vec![serde_json::json!(prefix)],
        )
        .await;
    let mut marks = Marks::default();
    for entry in value.as_array().into_iter().flatten() {
        let (Some(step), Some(at)) = (
            entry.get(0).and_then(Value::as_str),
            entry.get(1).and_then(Value::as_f64),
        ) else {
            continue;
        };
        if marks.at(step).is_none() {
            marks.0.push((step.to_owned(), at));
        }
    }
    marks
}

/// One page's steps, in milliseconds after its own `start` mark, sorted by time.
pub fn since_start(page: &'static str, marks: &Marks) -> Vec<Step> {
    let Some(origin) = marks.at("start") else {
        return Vec::new();
    };
    let mut steps: Vec<Step> = marks
        .0
        .iter()
        .map(|(step, at)| (page, step.clone(), at - origin))
        .collect();
    steps.sort_by(|a, b| a.2.total_cmp(&b.2));
    steps
}

/// One call's steps on both pages, in milliseconds after the Callee's `start` (its Call click,
/// which starts the timed set-up): `(page, step, ms)` sorted by time.
pub fn timeline(caller: &Marks, callee: &Marks) -> Vec<Step> {
    let Some(origin) = callee.at("start") else {
        return Vec::new();
    };
    let mut steps: Vec<Step> = Vec::new();
    for (page, marks) in [("caller", caller), ("callee", callee)] {
        for (step, at) in &marks.0 {
            // The Caller's own start and join came before the timed part.
            if *at >= origin {
                steps.push((page, step.clone(), at - origin));
            }
        }
    }
    steps.sort_by(|a, b| a.2.total_cmp(&b.2));
    steps
}

/// The median of some figures (`None` if there are none).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

/// `page:step +ms` for each step of one call.
pub fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|(page, step, ms)| format!("{page}:{step} +{ms:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The median time of each `page:step` over all calls, with how many calls had it, in the
/// order of the medians.
pub fn step_medians(calls: &[Vec<Step>]) -> Vec<(String, f64, usize)> {
    let mut by_step: Vec<(String, Vec<f64>)> = Vec::new();
    for steps in calls {
        for (page, step, ms) in steps {
            let key = format!("{page}:{step}");
            match by_step.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) => values.push(*ms),
                None => by_step.push((key, vec![*ms])),
            }
        }
    }
    let mut medians: Vec<(String, f64, usize)> = by_step
        .into_iter()
        .filter_map(|(key, mut values)| {
            let count = values.len();
            median(&mut values).map(|m| (key, m, count))
        })
        .collect();
    medians.sort_by(|a, b| a.1.total_cmp(&b.1));
    medians
}

/// Prints [`step_medians`] as a table under `title`.
pub fn print_step_medians(title: &str, calls: &[Vec<Step>]) {
    let medians = step_medians(calls);
    if medians.is_empty() {
        println!("{title}: no marks were read");
        return;
    }
    println!("{title}:");
    for (key, median, count) in medians {
        println!("  {key:<28} {median:>7.1} ms  ({count} calls)");
    }
}

/// Prints the step medians of the app's calls (both pages) and of the floor's.
pub fn print_breakdown(app: &[Vec<Step>], floor: &[Vec<Step>]) {
    print_step_medians(
        &format!(
            "step medians (ms after the Callee's Call click; marks of both pages: {STEP_NAMES})"
        ),
        app,
    );
    if !floor.is_empty() {
        print_step_medians("in-page floor step medians (ms after its start)", floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_starts_at_the_callees_click_and_merges_both_pages() {
        let caller = Marks(vec![
            ("start".into(), 100.0),
            ("recv:new_peer".into(), 1030.0),
            ("sent:invite".into(), 1040.0),
        ]);
        let callee = Marks(vec![
            ("start".into(), 1000.0),
            ("recv:joined".into(), 1025.0),
            ("recv:invite".into(), 1045.0),
        ]);
        let steps: Vec<_> = timeline(&caller, &callee)
            .into_iter()
            .map(|(page, step, ms)| format!("{page}:{step}:{ms}"))
            .collect();
        assert_eq!(
            steps,
            [
                "callee:start:0",
                "callee:recv:joined:25",
                "caller:recv:new_peer:30",
                "caller:sent:invite:40",
                "callee:recv:invite:45"
            ]
        );
    }

    #[test]
    fn step_medians_are_per_page_and_step_and_sorted() {
        let call = |offer: f64, answer: f64| -> Vec<Step> {
            vec![
                ("caller", "sent:invite".into(), offer),
                ("callee", "sent:ok".into(), answer),
            ]
        };
        let medians = step_medians(&[call(40.0, 30.0), call(60.0, 20.0), call(50.0, 10.0)]);
        assert_eq!(
            medians,
            [
                ("callee:sent:ok".to_owned(), 20.0, 3),
                ("caller:sent:invite".to_owned(), 50.0, 3)
            ]
        );
    }

    #[test]
    fn a_single_page_counts_from_its_own_start() {
        let floor = Marks(vec![
            ("offer".into(), 520.0),
            ("start".into(), 500.0),
            ("media".into(), 510.0),
        ]);
        let steps: Vec<_> = since_start("floor", &floor)
            .into_iter()
            .map(|(page, step, ms)| format!("{page}:{step}:{ms}"))
            .collect();
        assert_eq!(steps, ["floor:start:0", "floor:media:10", "floor:offer:20"]);
        assert!(since_start("floor", &Marks(vec![("media".into(), 1.0)])).is_empty());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
