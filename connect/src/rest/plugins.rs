//! `/connector-plugins`: Kafka's `ConnectorPluginsResource`.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::{flag, ok, query_params, JsonBody, Shared};
use crate::convert;
use crate::error::ConnectError;
use crate::plugins::{self, Plugin};
use crate::transforms;
use crate::KAFKA_VERSION;

/// Connectors, and with `connectorsOnly=false` the converters,
/// transformations and predicates too.
pub async fn list(State(_): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let params = query_params(q.as_deref());
    let connectors_only = !params
        .iter()
        .any(|(k, v)| k == "connectorsOnly" && v.eq_ignore_ascii_case("false"))
        || flag(&params, "connectorsOnly");
    let mut out: Vec<Value> = Plugin::ALL.iter().map(|p| p.info()).collect();
    if !connectors_only {
        out.extend(
            convert::CLASSES
                .iter()
                .map(|c| json!({"class": c, "type": "converter", "version": KAFKA_VERSION})),
        );
        out.extend(
            transforms::CLASSES.iter().map(
                |(c, kind)| json!({"class": c, "type": kind.name(), "version": KAFKA_VERSION}),
            ),
        );
    }
    ok(&out)
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's config keys.
pub async fn config_defs(
    State(_): State<Shared>,
    Path(plugin): Path<String>,
) -> Result<Response, ConnectError> {
    let p = Plugin::find(&plugin)
        .ok_or_else(|| ConnectError::NotFound(format!("Unknown plugin {plugin}.")))?;
    let (infos, _) = plugins::validate(p, &plugins::Config::new());
    let defs: Vec<Value> = infos["configs"]
        .as_array()
        .map(|c| c.iter().map(|e| e["definition"].clone()).collect())
        .unwrap_or_default();
    Ok(ok(&defs))
}

/// `PUT /connector-plugins/{plugin}/config/validate`: Kafka's
/// `ConfigInfos`, one entry per key with its errors.
pub async fn validate(
    State(_): State<Shared>,
    Path(plugin): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ConnectError> {
    let Some(o) = body.as_object() else {
        return Err(ConnectError::BadRequest(
            "Connector configuration must be a JSON object".into(),
        ));
    };
    let mut config = plugins::Config::new();
    for (k, v) in o {
        match v {
            Value::String(s) => {
                config.insert(k.clone(), s.clone());
            }
            Value::Null => {}
            other => {
                config.insert(k.clone(), other.to_string());
            }
        }
    }
    let requested = Plugin::named(&plugin)?;
    if let Some(class) = config.get("connector.class") {
        if Plugin::find(class) != Some(requested) {
            return Err(ConnectError::BadRequest(format!(
                "Included connector type {class} does not match request type {plugin}"
            )));
        }
    } else {
        config.insert("connector.class".into(), plugin.clone());
    }
    let (infos, _) = plugins::validate(requested, &config);
    Ok(ok(&infos))
}
