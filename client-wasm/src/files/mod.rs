//! File transfers, the browser half: reads local files in blocks and streams them over the
//! file channel with backpressure, collects received chunks as browser buffers and turns a
//! verified file into a Blob with a `blob:` URL, and keeps the rows of the transfers list up
//! to date. The controller owns it and feeds it the file channel's events and the person's
//! actions; framing, limits and hashing come from `visavis_client_core::files`. No DOM access.
//!
//! Received bytes stay in JavaScript memory (one `Uint8Array` view per chunk, then one Blob),
//! so a file costs about its own size in memory; each chunk visits Rust memory only for as
//! long as its hash update takes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::Uint8Array;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Blob, BlobPropertyBag, File, Url};

use crate::browser::js_error;
use crate::peer::file_channel::FileSender;
use visavis_client_core::files::{
    check_size, chunk_id, clean_mime, clean_name, effective_limit, format_size, percent,
    CancelReason, Control, Direction, Incoming, Side, TransferState, TransferView, HEADER_BYTES,
};

mod sending;

use sending::pump;

/// A row's key: direction and the sending side's transfer number.
pub type TransferKey = (Direction, u32);

/// A file being received: the bookkeeping and the chunks so far.
struct Receiving {
    state: Incoming,
    /// `Uint8Array` views of the received chunks, in order, for the Blob at the end.
    chunks: js_sys::Array,
}

/// Why sending stopped before the end.
enum Stop {
    /// Cancelled (by either person) or the call ended: the row has already been updated.
    Stopped,
    /// Something went wrong; the text says what.
    Failed(String),
}

/// Every transfer of the current call.
pub struct Transfers {
    /// The rows the page shows.
    list: RwSignal<Vec<TransferView>>,
    /// The file channel, once open.
    sender: RefCell<Option<FileSender>>,
    /// The largest file sent or accepted, in bytes.
    limit: Cell<u64>,
    /// The number of the next outgoing transfer.
    next_id: Cell<u32>,
    /// The stop flags of outgoing transfers that are still sending, by id.
    sending: RefCell<HashMap<u32, Rc<Cell<bool>>>>,
    /// Incoming transfers that are still receiving, by the sender's id.
    receiving: RefCell<HashMap<u32, Receiving>>,
}

impl Transfers {
    /// Creates the transfers of a page; rows are published to `list`.
    pub fn new(list: RwSignal<Vec<TransferView>>) -> Rc<Transfers> {
        Rc::new(Transfers {
            list,
            sender: RefCell::new(None),
            limit: Cell::new(effective_limit(None)),
            next_id: Cell::new(1),
            sending: RefCell::new(HashMap::new()),
            receiving: RefCell::new(HashMap::new()),
        })
    }

    /// Takes the operator's limit from the server's `config`.
    pub fn set_limit(&self, operator_limit: Option<u64>) {
        self.limit.set(effective_limit(operator_limit));
    }

    /// The file channel opened: from now on files can be sent.
    pub fn connect(&self, sender: Option<FileSender>) {
        if sender.is_none() {
            warn!("files: the file channel opened but the call has no handle on it");
        }
        *self.sender.borrow_mut() = sender;
    }

    // ----- sending ----------------------------------------------------------------------------

    /// Starts sending `file`. An `Err` is a sentence for the person (the file is too large, or
    /// there is no connection); a too-large file also gets a failed row.
    pub fn send_file(self: &Rc<Self>, file: File) -> Result<(), String> {
        let Some(sender) = self.sender.borrow().clone().filter(FileSender::is_open) else {
            return Err("Files can be sent once you are connected.".into());
        };
        let name = clean_name(&file.name());
        // File sizes are whole numbers well inside f64's exact range.
        let size = file.size() as u64;
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        let mut row = TransferView::new(Direction::Outgoing, id, name.clone(), size);

        if let Err(too_large) = check_size(size, self.limit.get()) {
            let text = too_large.sender_text(&name);
            row.state = TransferState::Failed;
            row.note = Some(text.clone());
            self.list.update(|rows| rows.push(row));
            return Err(text);
        }

        let offer = Control::Offer {
            id,
            name,
            size,
            mime: clean_mime(&file.type_()),
        };
        sender
            .send_text(&offer.to_json())
            .map_err(|err| format!("The file could not be offered ({err})."))?;
        self.list.update(|rows| rows.push(row));
        let stop = Rc::new(Cell::new(false));
        self.sending.borrow_mut().insert(id, stop.clone());
        let weak = Rc::downgrade(self);
        spawn_local(async move {
            let outcome = pump(&weak, &sender, &file, id, &stop).await;
            let Some(transfers) = weak.upgrade() else {
                return;
            };
            transfers.sending.borrow_mut().remove(&id);
            match outcome {
                Ok(sha256) => {
                    if let Err(err) = sender.send_text(
                        &Control::Done {
                            id,
                            sha256: sha256.clone(),
                        }
                        .to_json(),
                    ) {
                        transfers.fail(
                            (Direction::Outgoing, id),
                            format!("The connection broke at the end ({err})."),
                        );
                        return;
                    }
                    transfers.update((Direction::Outgoing, id), |row| {
                        if row.state.is_active() {
                            row.state = TransferState::Done;
                            row.bytes = row.size;
                            row.sha256 = Some(sha256);
                        }
                    });
                }
                Err(Stop::Stopped) => {}
                Err(Stop::Failed(text)) => {
                    // Tell the other side, so it does not wait for bytes that will not come.
                    transfers.send_control(&Control::Cancel {
                        id,
                        by: Side::Sender,
                        reason: CancelReason::Other,
                    });
                    transfers.fail((Direction::Outgoing, id), text);
                }
            }
        });
        Ok(())
    }

    // ----- receiving --------------------------------------------------------------------------

    /// A text message arrived on the file channel.
    pub fn on_text(&self, raw: &str) {
        match Control::from_json(raw) {
            Ok(Some(Control::Offer { id, name, size, .. })) => self.offered(id, &name, size),
            Ok(Some(Control::Done { id, sha256 })) => self.done(id, &sha256),
            Ok(Some(Control::Cancel { id, by, reason })) => self.cancelled_by_peer(id, by, reason),
            Ok(None) => {}
            Err(err) => warn!("files: ignored a malformed control message: {err}"),
        }
    }

    fn offered(&self, id: u32, raw_name: &str, size: u64) {
        let key = (Direction::Incoming, id);
        if self.receiving.borrow().contains_key(&id) || self.has_row(key) {
            warn!("files: ignored a second offer numbered {id}");
            return;
        }
        match Incoming::from_offer(raw_name, size, self.limit.get()) {
            Ok(state) => {
                let row = TransferView::new(Direction::Incoming, id, state.name().into(), size);
                self.list.update(|rows| rows.push(row));
                let receiving = Receiving {
                    state,
                    chunks: js_sys::Array::new(),
                };
                self.receiving.borrow_mut().insert(id, receiving);
            }
            Err(too_large) => {
                self.send_control(&Control::Cancel {
                    id,
                    by: Side::Receiver,
                    reason: CancelReason::TooLarge,
                });
                let mut row =
                    TransferView::new(Direction::Incoming, id, clean_name(raw_name), size);
                row.state = TransferState::Failed;
                row.note = Some(format!(
                    "Refused: it is {}, over this server's limit of {}.",
                    format_size(too_large.size),
                    format_size(too_large.limit)
                ));
                self.list.update(|rows| rows.push(row));
            }
        }
    }

    /// A binary message (a chunk) arrived on the file channel.
    pub fn on_chunk(&self, message: &Uint8Array) {
        let length = message.length();
        let bytes = message.to_vec();
        let Some(id) = chunk_id(&bytes) else {
            warn!("files: ignored a binary message too short to be a chunk");
            return;
        };
        let accepted = {
            let mut receiving = self.receiving.borrow_mut();
            // Chunks still in flight after a cancel, or for no transfer at all, are dropped.
            let Some(transfer) = receiving.get_mut(&id) else {
                return;
            };
            match transfer.state.accept(&bytes[HEADER_BYTES..]) {
                Ok(()) => {
                    // A view, not a copy: the message's buffer is kept until the Blob is made.
                    let header = HEADER_BYTES as u32;
                    transfer.chunks.push(&message.subarray(header, length));
                    Some(transfer.state.received())
                }
                Err(_) => None,
            }
        };
        let key = (Direction::Incoming, id);
        match accepted {
            Some(received) => self.progress(key, received, TransferState::Receiving),
            None => {
                self.receiving.borrow_mut().remove(&id);
                self.send_control(&Control::Cancel {
                    id,
                    by: Side::Receiver,
                    reason: CancelReason::Damaged,
                });
                self.fail(
                    key,
                    "The file arrived damaged (longer than announced) and was discarded.".into(),
                );
            }
        }
    }

    fn done(&self, id: u32, claimed_sha256: &str) {
        let Some(transfer) = self.receiving.borrow_mut().remove(&id) else {
            return;
        };
        let key = (Direction::Incoming, id);
        let size = transfer.state.size();
        let verified = match transfer.state.finish(claimed_sha256) {
            Ok(sha256) => sha256,
            Err(damage) => {
                warn!("files: transfer {id} failed its check: {damage:?}");
                self.send_control(&Control::Cancel {
                    id,
                    by: Side::Receiver,
                    reason: CancelReason::Damaged,
                });
                self.fail(key, "The file arrived damaged and was discarded.".into());
                return;
            }
        };
        match blob_url(&transfer.chunks) {
            Ok(url) => self.update(key, |row| {
                row.state = TransferState::Done;
                row.bytes = size;
                row.sha256 = Some(verified);
                row.url = Some(url);
            }),
            Err(err) => self.fail(key, format!("The file could not be kept ({err}).")),
        }
    }

    // ----- cancelling -------------------------------------------------------------------------

    /// The person pressed Cancel on a row.
    pub fn cancel(&self, (direction, id): TransferKey) {
        match direction {
            Direction::Outgoing => {
                if let Some(stop) = self.sending.borrow_mut().remove(&id) {
                    stop.set(true);
                }
                self.send_control(&Control::Cancel {
                    id,
                    by: Side::Sender,
                    reason: CancelReason::Cancelled,
                });
            }
            Direction::Incoming => {
                self.receiving.borrow_mut().remove(&id);
                self.send_control(&Control::Cancel {
                    id,
                    by: Side::Receiver,
                    reason: CancelReason::Cancelled,
                });
            }
        }
        self.end_row(
            (direction, id),
            TransferState::Cancelled,
            "You cancelled it.",
        );
    }

    fn cancelled_by_peer(&self, id: u32, by: Side, reason: CancelReason) {
        match by {
            // The other side stops sending us its transfer `id`.
            Side::Sender => {
                self.receiving.borrow_mut().remove(&id);
                let key = (Direction::Incoming, id);
                match reason {
                    CancelReason::Cancelled => self.end_row(
                        key,
                        TransferState::Cancelled,
                        "The other person cancelled it.",
                    ),
                    _ => self.fail(key, "The other person could not finish sending it.".into()),
                }
            }
            // The other side no longer receives our transfer `id`.
            Side::Receiver => {
                if let Some(stop) = self.sending.borrow_mut().remove(&id) {
                    stop.set(true);
                }
                let key = (Direction::Outgoing, id);
                let (state, note) = match reason {
                    CancelReason::Cancelled => {
                        (TransferState::Cancelled, "The other person cancelled it.")
                    }
                    CancelReason::TooLarge => (
                        TransferState::Failed,
                        "The other person's browser refused it: too large.",
                    ),
                    CancelReason::Damaged => (
                        TransferState::Failed,
                        "It arrived damaged at the other end.",
                    ),
                    CancelReason::Other => (TransferState::Failed, "The other person stopped it."),
                };
                // A file already "Sent" may still be refused: the last bytes can be in flight.
                self.update(key, |row| {
                    if row.state.is_active() || row.state == TransferState::Done {
                        row.state = state;
                        row.note = Some(note.into());
                    }
                });
            }
        }
    }

    // ----- the end of the channel or call -------------------------------------------------------

    /// The file channel closed: unfinished transfers fail.
    pub fn channel_closed(&self) {
        self.stop_all();
        for key in self.active_keys() {
            self.fail(
                key,
                "The connection closed before the transfer finished.".into(),
            );
        }
    }

    /// The call ended: stops everything, revokes every `blob:` URL and empties the list.
    pub fn reset(&self) {
        self.stop_all();
        let rows = self.list.try_update(std::mem::take).unwrap_or_default();
        for url in rows.iter().filter_map(|row| row.url.as_deref()) {
            if let Err(err) = Url::revoke_object_url(url) {
                warn!(
                    "files: could not revoke a URL: {}",
                    js_error::describe(&err)
                );
            }
        }
    }

    fn stop_all(&self) {
        for (_, stop) in self.sending.borrow_mut().drain() {
            stop.set(true);
        }
        self.receiving.borrow_mut().clear();
        *self.sender.borrow_mut() = None;
    }

    // ----- rows ---------------------------------------------------------------------------------

    fn send_control(&self, control: &Control) {
        let sender = self.sender.borrow().clone();
        match sender {
            Some(sender) => {
                if let Err(err) = sender.send_text(&control.to_json()) {
                    warn!("files: could not send a control message: {err}");
                }
            }
            None => warn!("files: no file channel for a control message"),
        }
    }

    fn has_row(&self, key: TransferKey) -> bool {
        self.list
            .with_untracked(|rows| rows.iter().any(|row| row.key() == key))
    }

    fn active_keys(&self) -> Vec<TransferKey> {
        self.list.with_untracked(|rows| {
            rows.iter()
                .filter(|row| row.state.is_active())
                .map(TransferView::key)
                .collect()
        })
    }

    fn update(&self, key: TransferKey, change: impl FnOnce(&mut TransferView)) {
        self.list.update(|rows| {
            if let Some(row) = rows.iter_mut().find(|row| row.key() == key) {
                change(row);
            }
        });
    }

    /// Moves an unfinished row to its final `state` with `note`.
    fn end_row(&self, key: TransferKey, state: TransferState, note: &str) {
        self.update(key, |row| {
            if row.state.is_active() {
                row.state = state;
                row.note = Some(note.into());
            }
        });
    }

    fn fail(&self, key: TransferKey, note: String) {
        self.end_row(key, TransferState::Failed, &note);
    }

    /// Records progress, publishing only when the shown percentage or the state changes, so
    /// a large file re-renders its row about a hundred times rather than once per chunk.
    fn progress(&self, key: TransferKey, bytes: u64, state: TransferState) {
        let changed = self.list.with_untracked(|rows| {
            rows.iter().find(|row| row.key() == key).is_some_and(|row| {
                row.state.is_active()
                    && (row.state != state || percent(bytes, row.size) != row.percent())
            })
        });
        if changed {
            self.update(key, |row| {
                row.bytes = bytes;
                row.state = state;
            });
        }
    }
}

/// Joins the chunks into one Blob and gives its `blob:` URL. The type is always the generic
/// binary one, whatever the sender announced: a received `text/html` file opened from a
/// same-origin `blob:` URL would otherwise run as a page of this site.
fn blob_url(chunks: &js_sys::Array) -> Result<String, String> {
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = Blob::new_with_u8_array_sequence_and_options(chunks, &options)
        .map_err(|err| js_error::describe(&err))?;
    Url::create_object_url_with_blob(&blob).map_err(|err| js_error::describe(&err))
}
