//! Sending one file: read block by block into Rust memory (for the hash), then streamed over
//! the file channel chunk by chunk with backpressure, reporting what has left the browser.

use std::cell::Cell;
use std::rc::Weak;

use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use visavis_client_core::files::{
    encode_chunk, Direction, Outgoing, TransferState, CHUNK_PAYLOAD_BYTES, HIGH_WATER_BYTES,
    READ_BLOCK_BYTES,
};

use super::{Stop, Transfers};
use crate::browser::js_error;
use crate::peer::file_channel::FileSender;

/// Streams `file` as transfer `id`: reads it block by block, hashes it, and sends it chunk by
/// chunk, waiting whenever the channel's buffer is above the high-water mark. Gives the file's
/// SHA-256 once every byte has been handed to the channel.
pub(super) async fn pump(
    transfers: &Weak<Transfers>,
    sender: &FileSender,
    file: &File,
    id: u32,
    stop: &Cell<bool>,
) -> Result<String, Stop> {
    let size = file.size() as u64;
    let mut outgoing = Outgoing::new(size);
    while !outgoing.is_complete() {
        let start = outgoing.sent();
        let end = (start + READ_BLOCK_BYTES as u64).min(size);
        let block = read_block(file, start, end).await.map_err(Stop::Failed)?;
        if stop.get() {
            return Err(Stop::Stopped);
        }
        if block.len() as u64 != end - start {
            return Err(Stop::Failed(
                "The file changed while it was being sent.".into(),
            ));
        }
        outgoing.add(&block);
        for piece in block.chunks(CHUNK_PAYLOAD_BYTES) {
            // Backpressure: never queue more than the high-water mark in the channel.
            while sender.is_open() && !stop.get() && sender.buffered_amount() > HIGH_WATER_BYTES {
                sender.wait_for_low().await;
            }
            if stop.get() {
                return Err(Stop::Stopped);
            }
            sender
                .send_bytes(&encode_chunk(id, piece))
                .map_err(|err| Stop::Failed(format!("The connection broke ({err}).")))?;
        }
        let Some(transfers) = transfers.upgrade() else {
            return Err(Stop::Stopped);
        };
        // What has left this browser, not just what was queued.
        let delivered = outgoing
            .sent()
            .saturating_sub(u64::from(sender.buffered_amount()));
        transfers.progress((Direction::Outgoing, id), delivered, TransferState::Sending);
    }
    Ok(outgoing.finish())
}

/// Reads bytes `start..end` of `file` into Rust memory (they are needed there for the hash).
async fn read_block(file: &File, start: u64, end: u64) -> Result<Vec<u8>, String> {
    let slice = file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|err| format!("The file could not be read ({}).", js_error::describe(&err)))?;
    let buffer = JsFuture::from(slice.array_buffer())
        .await
        .map_err(|err| format!("The file could not be read ({}).", js_error::describe(&err)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}
