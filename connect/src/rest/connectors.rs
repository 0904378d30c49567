//! `/connectors`: Kafka's `ConnectorsResource`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::{empty, flag, json_response, ok, query_params, JsonBody, Shared};
use crate::error::ConnectError;
use crate::herder::Target;
use crate::plugins::Config;

/// A config object from a request body: Kafka takes string values and
/// coerces other scalars to strings; a null value is left out.
fn config_of(v: &Value) -> Result<Config, ConnectError> {
    let Some(o) = v.as_object() else {
        return Err(ConnectError::BadRequest(
            "Connector configuration must be a JSON object".into(),
        ));
    };
    let mut config = Config::new();
    for (k, v) in o {
        let s = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            _ => {
                return Err(ConnectError::BadRequest(format!(
                    "Connector configuration value of {k} must be a string"
                )))
            }
        };
        config.insert(k.clone(), s);
    }
    Ok(config)
}

/// The config's `name` must be the connector's, when it is given.
fn check_name(config: &Config, name: &str) -> Result<(), ConnectError> {
    match config.get("name") {
        Some(n) if n != name => Err(ConnectError::BadRequest(format!(
            "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

pub async fn list(
    State(s): State<Shared>,
    RawQuery(q): RawQuery,
) -> Result<Response, ConnectError> {
    let params = query_params(q.as_deref());
    let expand: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.as_str())
        .collect();
    let names = s.herder.names().await;
    if expand.is_empty() {
        return Ok(ok(&names));
    }
    let mut out = Map::new();
    for name in names {
        let mut entry = Map::new();
        for e in &expand {
            // A connector deleted meanwhile is left out, as Kafka does.
            let v = match *e {
                "status" => s.herder.status(&name).await,
                "info" => s.herder.info(&name).await,
                _ => continue,
            };
            if let Ok(v) = v {
                entry.insert((*e).to_string(), v);
            }
        }
        out.insert(name, Value::Object(entry));
    }
    Ok(ok(&out))
}

pub async fn create(
    State(s): State<Shared>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ConnectError> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ConnectError::BadRequest("Connector name cannot be null".into()))?
        .trim()
        .to_string();
    let config = config_of(body.get("config").unwrap_or(&Value::Null))?;
    check_name(&config, &name)?;
    let initial = match body.get("initial_state").and_then(Value::as_str) {
        None => None,
        Some(st) => Some(match st.to_ascii_uppercase().as_str() {
            "RUNNING" => Target::Started,
            "PAUSED" => Target::Paused,
            "STOPPED" => Target::Stopped,
            _ => {
                return Err(ConnectError::BadRequest(format!(
                    "Invalid initial state {st}: expected RUNNING, PAUSED or STOPPED"
                )))
            }
        }),
    };
    let (mut info, _) = s.herder.put(&name, config, false).await?;
    if let Some(target) = initial.filter(|t| *t != Target::Started) {
        s.herder.set_target(&name, target).await?;
        info = s.herder.info(&name).await?;
    }
    Ok(json_response(StatusCode::CREATED, &info))
}

pub async fn info(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    Ok(ok(&s.herder.info(&name).await?))
}

pub async fn delete(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    s.herder.delete(&name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn config(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    Ok(ok(&s.herder.config(&name).await?))
}

pub async fn put_config(
    State(s): State<Shared>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ConnectError> {
    let config = config_of(&body)?;
    check_name(&config, &name)?;
    let (info, created) = s.herder.put(&name, config, true).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &info))
}

pub async fn status(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    Ok(ok(&s.herder.status(&name).await?))
}

pub async fn tasks(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    Ok(ok(&s.herder.tasks(&name).await?))
}

fn task_id(name: &str, task: &str) -> Result<usize, ConnectError> {
    task.parse()
        .map_err(|_| ConnectError::NotFound(format!("No status found for task {name}-{task}")))
}

pub async fn task_status(
    State(s): State<Shared>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, ConnectError> {
    let id = task_id(&name, &task)?;
    Ok(ok(&s.herder.task_status(&name, id).await?))
}

pub async fn restart_task(
    State(s): State<Shared>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, ConnectError> {
    let id = task
        .parse()
        .map_err(|_| ConnectError::NotFound(format!("Task {name}-{task} not found")))?;
    s.herder.restart_task(&name, id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn target(s: &Shared, name: &str, target: Target) -> Result<Response, ConnectError> {
    s.herder.set_target(name, target).await?;
    Ok(empty(StatusCode::ACCEPTED))
}

pub async fn pause(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    target(&s, &name, Target::Paused).await
}

pub async fn resume(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    target(&s, &name, Target::Started).await
}

pub async fn stop(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    target(&s, &name, Target::Stopped).await
}

pub async fn restart(
    State(s): State<Shared>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ConnectError> {
    let params = query_params(q.as_deref());
    let include_tasks = flag(&params, "includeTasks");
    let only_failed = flag(&params, "onlyFailed");
    match s.herder.restart(&name, include_tasks, only_failed).await? {
        None => Ok(empty(StatusCode::NO_CONTENT)),
        Some(status) => Ok(json_response(StatusCode::ACCEPTED, &status)),
    }
}

pub async fn offsets(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    Ok(ok(&s.herder.offsets(&name).await?))
}

pub async fn alter_offsets(
    State(s): State<Shared>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ConnectError> {
    Ok(ok(&s.herder.alter_offsets(&name, &body).await?))
}

pub async fn reset_offsets(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ConnectError> {
    Ok(ok(&s.herder.reset_offsets(&name).await?))
}
