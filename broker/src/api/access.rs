//! Per-resource authorization for request handlers: one request's
//! principal asking the authorizer about the topics, groups,
//! transactional ids and cluster it names, and the error code Kafka's
//! `KafkaApis` answers for each kind of resource it refuses
//! (TOPIC_/GROUP_/TRANSACTIONAL_ID_/CLUSTER_AUTHORIZATION_FAILED).
//!
//! A refusal is an answer for that resource only (a partition, a topic, a
//! group, a config resource); the rest of the request goes on. Handlers
//! that list resources (ListGroups, ListTransactions, OffsetFetch of every
//! committed offset) leave out what the principal may not describe instead.

use kafka_protocol::error::ResponseError;

use crate::network::frame::Request;
use crate::security::acl::{Operation, ResourceType, CLUSTER_NAME};
use crate::security::authorizer::{Authorizer, Session};
use crate::server::Broker;

/// Who sent a request, and the authorizer that judges them.
pub struct Access<'a> {
    authorizer: &'a Authorizer,
    session: Session,
}

impl<'a> Access<'a> {
    pub fn of(broker: &'a Broker, req: &Request) -> Access<'a> {
        Access {
            authorizer: &broker.authorizer,
            session: super::session(req),
        }
    }

    /// Whether the principal may do `op` on resource `name` of type `t`.
    pub fn allows(&self, op: Operation, t: ResourceType, name: &str) -> bool {
        self.authorizer.authorize(&self.session, op, t, name)
    }

    /// `op` on topic `name`, else TOPIC_AUTHORIZATION_FAILED: the answer for
    /// each of its partitions (or for the topic where results are per topic).
    pub fn topic(&self, op: Operation, name: &str) -> Result<(), ResponseError> {
        self.check(
            op,
            ResourceType::Topic,
            name,
            ResponseError::TopicAuthorizationFailed,
        )
    }

    /// `op` on group `name`, else GROUP_AUTHORIZATION_FAILED.
    pub fn group(&self, op: Operation, name: &str) -> Result<(), ResponseError> {
        self.check(
            op,
            ResourceType::Group,
            name,
            ResponseError::GroupAuthorizationFailed,
        )
    }

    /// `op` on transactional id `id`, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
    pub fn transactional_id(&self, op: Operation, id: &str) -> Result<(), ResponseError> {
        self.check(
            op,
            ResourceType::TransactionalId,
            id,
            ResponseError::TransactionalIdAuthorizationFailed,
        )
    }

    /// `op` on the cluster, else CLUSTER_AUTHORIZATION_FAILED.
    pub fn cluster(&self, op: Operation) -> Result<(), ResponseError> {
        self.check(
            op,
            ResourceType::Cluster,
            CLUSTER_NAME,
            ResponseError::ClusterAuthorizationFailed,
        )
    }

    fn check(
        &self,
        op: Operation,
        t: ResourceType,
        name: &str,
        refused: ResponseError,
    ) -> Result<(), ResponseError> {
        if self.allows(op, t, name) {
            Ok(())
        } else {
            Err(refused)
        }
    }
}

/// Kafka's message for an authorization error (`Errors.message()`), for
/// responses that carry one beside the code; `None` for other errors.
pub fn refusal_message(e: ResponseError) -> Option<&'static str> {
    Some(match e {
        ResponseError::TopicAuthorizationFailed => "Topic authorization failed.",
        ResponseError::GroupAuthorizationFailed => "Group authorization failed.",
        ResponseError::ClusterAuthorizationFailed => "Cluster authorization failed.",
        ResponseError::TransactionalIdAuthorizationFailed => {
            "Transactional Id authorization failed."
        }
        _ => return None,
    })
}
