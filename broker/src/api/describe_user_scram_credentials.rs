//! DescribeUserScramCredentials (KIP-554): each user's SCRAM mechanisms
//! and iteration counts (never salts or keys); all users when none are named.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, RequestHeader,
};
use kafka_protocol::protocol::StrBytes;

use crate::security::credentials::{self, mechanism_byte};
use crate::server::Broker;

pub async fn handle(
    broker: &Broker,
    _header: &RequestHeader,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let named = request.users.as_ref().filter(|u| !u.is_empty());
    let users = match named {
        Some(users) => users.iter().map(|u| u.name.to_string()).collect(),
        None => match credentials::users(broker).await {
            Ok(users) => users,
            Err(e) => {
                return DescribeUserScramCredentialsResponse::default()
                    .with_error_code(ResponseError::UnknownServerError.code())
                    .with_error_message(Some(StrBytes::from_string(e.to_string())))
            }
        },
    };
    let mut results = Vec::new();
    for user in users {
        let result = DescribeUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(user.clone()));
        let result = match credentials::describe(broker, &user).await {
            Ok(infos) if !infos.is_empty() => result.with_credential_infos(
                infos
                    .into_iter()
                    .map(|(m, iterations)| {
                        CredentialInfo::default()
                            .with_mechanism(mechanism_byte(m))
                            .with_iterations(iterations as i32)
                    })
                    .collect(),
            ),
            // Listing everyone skips users whose config has no credential.
            Ok(_) if named.is_none() => continue,
            Ok(_) => result
                .with_error_code(ResponseError::ResourceNotFound.code())
                .with_error_message(Some(StrBytes::from_static_str(
                    "Attempt to describe a user credential that does not exist",
                ))),
            Err(e) => result
                .with_error_code(ResponseError::UnknownServerError.code())
                .with_error_message(Some(StrBytes::from_string(e.to_string()))),
        };
        results.push(result);
    }
    DescribeUserScramCredentialsResponse::default().with_results(results)
}
