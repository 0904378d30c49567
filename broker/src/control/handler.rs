//! A broker receiving an internal request.
//!
//! LeaderAndIsr and UpdateMetadata put the controller's partition states
//! into the metadata cache (keeping whichever is newer, the cache's or the
//! pushed one) and wake the replica manager, which becomes leader or stops
//! leading at once instead of waiting for its coord watch. StopReplica with
//! `delete` drops the topic from the cache so its logs are deleted.
//! ControlledShutdown goes to this broker's controller task.
//!
//! Requests from a controller whose epoch is older than the newest this
//! broker has seen are refused with STALE_CONTROLLER_EPOCH (Kafka's code 11).

use kafka_protocol::error::ResponseError;
use tracing::{debug, warn};

use super::message::{decode_request, encode_response, Ack, InternalKey, InternalRequest};
use crate::api::Reply;
use crate::metadata::controller_store::PartitionUpdate;
use crate::network::frame::Request;
use crate::server::Broker;

/// Decodes and handles one internal request; an undecodable one closes
/// the connection, as any bad frame does.
pub async fn handle(broker: &Broker, key: InternalKey, req: &Request) -> Reply {
    let request = match decode_request(key, req.version(), &req.body) {
        Ok(r) => r,
        Err(e) => return Reply::Close(format!("{key:?}: {e}")),
    };
    let correlation_id = req.header.correlation_id;
    let ack = |code: i16| Reply::Send(encode_response(correlation_id, &Ack { error_code: code }));
    let stale = ResponseError::StaleControllerEpoch.code();
    match request {
        InternalRequest::LeaderAndIsr(update) | InternalRequest::UpdateMetadata(update) => {
            if !broker.controller.observe_epoch(update.controller_epoch) {
                warn!(
                    controller_id = update.controller_id,
                    controller_epoch = update.controller_epoch,
                    "{key:?} from a stale controller refused"
                );
                return ack(stale);
            }
            let updates: Vec<PartitionUpdate> = update.partitions.iter().map(Into::into).collect();
            let applied = broker.metadata.apply_partition_updates(&updates);
            debug!(
                controller_epoch = update.controller_epoch,
                partitions = updates.len(),
                applied,
                "{key:?} from controller {}",
                update.controller_id
            );
            ack(0)
        }
        InternalRequest::StopReplica(stop) => {
            if !broker.controller.observe_epoch(stop.controller_epoch) {
                return ack(stale);
            }
            if stop.delete {
                let mut topics: Vec<(String, [u8; 16])> = stop
                    .partitions
                    .iter()
                    .map(|p| (p.topic.clone(), p.topic_id))
                    .collect();
                topics.dedup();
                let removed = broker.metadata.forget_topics(&topics);
                debug!(
                    removed,
                    "StopReplica (delete) from controller {}", stop.controller_id
                );
            }
            // Without delete there is nothing to do: the replica manager
            // already closes logs of partitions this broker does not lead.
            ack(0)
        }
        InternalRequest::ControlledShutdown(request) => {
            let response = broker.controller.shutdown_broker(request.broker_id).await;
            Reply::Send(encode_response(correlation_id, &response))
        }
    }
}
