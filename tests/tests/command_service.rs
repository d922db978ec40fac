//! The command service as an operator and a gRPC tool see it: reflection for old and new
//! clients, its own metrics and health endpoints, error messages without internals.

use reqwest::StatusCode;
use serde_json::json;
use shopcore_e2e::TestApp;
use shopcore_proto::customer::v1 as pb;
use shopcore_proto::customer::v1::customer_commands_client::CustomerCommandsClient;
use tonic_reflection::pb::{v1, v1alpha};

const SERVICE: &str = "shopcore.customer.v1.CustomerCommands";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_answers_v1_and_v1alpha_clients() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;

    // grpcurl asks v1.
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.message().await?.expect("a reply");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.message_response
    else {
        anyhow::bail!("v1: not a service list: {reply:?}");
    };
    assert!(list.service.iter().any(|s| s.name == SERVICE), "{list:?}");

    // grpcio-reflection, Postman and older tools ask v1alpha.
    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                SERVICE.to_owned(),
            ),
        ),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.message().await?.expect("a reply");
    assert!(
        matches!(
            reply.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref files))
                if !files.file_descriptor_proto.is_empty()
        ),
        "v1alpha: {reply:?}"
    );
    app.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_service_serves_metrics_health_and_plain_errors() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let created = app
        .http
        .post(app.url("/customers"))
        .json(&json!({"email": "ops@example.com", "firstName": "Op", "lastName": "S"}))
        .send()
        .await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await?["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let metrics = app
        .http
        .get(format!("{}/metrics", app.commands_ops_url))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("shopcore_commands_total{command=\"customer.register\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shopcore_command_duration_seconds_bucket"),
        "{metrics}"
    );
    for path in ["/healthz", "/readyz"] {
        let response = app
            .http
            .get(format!("{}{path}", app.commands_ops_url))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }

    // A version conflict says which versions, in words, not Rust's debug formatting.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))?
        .connect()
        .await?;
    let status = CustomerCommandsClient::new(channel)
        .update_profile(app.grpc(pb::UpdateProfileRequest {
            customer_id: id,
            first_name: Some("Late".into()),
            options: Some(shopcore_proto::common::v1::CommandOptions {
                expected_version: Some(7),
                idempotency_key: String::new(),
            }),
            ..Default::default()
        }))
        .await
        .expect_err("version 7 is not the customer's");
    assert_eq!(status.code(), tonic::Code::Aborted);
    assert_eq!(
        status.message(),
        "expected version 7, but the aggregate is at version 1"
    );
    app.cleanup().await
}
