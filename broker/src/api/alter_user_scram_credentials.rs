//! AlterUserScramCredentials (KIP-554): upsert or delete users' SCRAM
//! credentials. The client salts and hashes (it sends the salted password,
//! never the password), the broker derives the stored and server keys and
//! writes them to `/config/users/<user>`. Checks and error codes are
//! Kafka's: too few or too many iterations, an unknown mechanism, a user
//! named twice, a deletion of a credential that does not exist.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;
use runnel_common::security::scram::ScramCredential;

use crate::security::credentials::{self, mechanism_from_byte, Change};
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    // Each user's changes, or the first reason they are refused.
    let mut per_user: BTreeMap<String, Result<Vec<Change>, (ResponseError, String)>> =
        BTreeMap::new();
    let mut seen: BTreeMap<(String, i8), usize> = BTreeMap::new();
    let deletions = request
        .deletions
        .iter()
        .map(|d| (&d.name, d.mechanism, None));
    let upsertions = request
        .upsertions
        .iter()
        .map(|u| (&u.name, u.mechanism, Some(u)));
    for (name, mechanism, upsert) in deletions.chain(upsertions) {
        let user = name.to_string();
        *seen.entry((user.clone(), mechanism)).or_default() += 1;
        let change = check(&user, mechanism, upsert);
        let entry = per_user.entry(user).or_insert_with(|| Ok(Vec::new()));
        match (entry.as_mut(), change) {
            (Ok(changes), Ok(c)) => changes.push(c),
            (Ok(_), Err(e)) => *entry = Err(e),
            (Err(_), _) => {}
        }
    }
    for ((user, _), count) in seen {
        if count > 1 {
            per_user.insert(
                user,
                Err((
                    ResponseError::DuplicateResource,
                    "A user credential cannot be altered twice in the same request".into(),
                )),
            );
        }
    }
    let mut results = Vec::new();
    for (user, changes) in per_user {
        let outcome = match changes {
            Err(e) => Err(e),
            Ok(changes) => match credentials::alter(broker, &user, changes).await {
                Ok(true) => Ok(()),
                Ok(false) => Err((
                    ResponseError::ResourceNotFound,
                    "Attempt to delete a user credential that does not exist".into(),
                )),
                Err(e) => Err((ResponseError::UnknownServerError, e.to_string())),
            },
        };
        let result =
            AlterUserScramCredentialsResult::default().with_user(StrBytes::from_string(user));
        results.push(match outcome {
            Ok(()) => result,
            Err((code, message)) => result
                .with_error_code(code.code())
                .with_error_message(Some(StrBytes::from_string(message))),
        });
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

fn check(
    user: &str,
    mechanism: i8,
    upsert: Option<
        &kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion,
    >,
) -> Result<Change, (ResponseError, String)> {
    if user.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Username must not be empty".into(),
        ));
    }
    let m = mechanism_from_byte(mechanism).ok_or_else(|| {
        (
            ResponseError::UnsupportedSaslMechanism,
            "Unknown SCRAM mechanism".into(),
        )
    })?;
    let Some(u) = upsert else {
        return Ok(Change::Delete(m));
    };
    let iterations = u32::try_from(u.iterations).unwrap_or(0);
    if iterations < m.min_iterations() {
        return Err((
            ResponseError::UnacceptableCredential,
            format!("Too few iterations (minimum {})", m.min_iterations()),
        ));
    }
    if iterations > m.max_iterations() {
        return Err((
            ResponseError::UnacceptableCredential,
            format!("Too many iterations (maximum {})", m.max_iterations()),
        ));
    }
    if u.salt.is_empty() || u.salted_password.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Salt and salted password must not be empty".into(),
        ));
    }
    Ok(Change::Upsert(
        m,
        ScramCredential::from_salted_password(m, &u.salted_password, &u.salt, iterations),
    ))
}
