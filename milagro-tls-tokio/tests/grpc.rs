//! A tonic unary call over CS on real loopback sockets: the client is
//! tonic's `Channel` on [`MilagroHttpsConnector`] (ALPN `h2`), the server
//! [`serve_connection`] running a `tonic::server::Grpc` handler, which
//! reads the client's [`AuthenticatedIdentity`] from the request. A wrong
//! PIN fails the channel's connection with `CredentialRefused`, found by
//! walking the tonic error's `source()` chain.
//!
//! No code generation: the two messages implement `prost::Message` by hand
//! (one string field each), and the method is routed by its path.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin as StdPin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use hyper::body::Incoming;
use milagro_tls::MilagroError;
use milagro_tls_tokio::http::{ALPN_H2, HttpsConnectError, MilagroHttpsConnector};
use milagro_tls_tokio::{AuthenticatedIdentity, ConnectError, MilagroConnector};
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};
use tokio::time::timeout;
use tonic::codec::ProstCodec;
use tonic::transport::Endpoint;

mod common;
use common::{LIMIT, PIN, cs_alpn, find, start};

const SAY_HELLO: &str = "/milagro.test.Greeter/SayHello";

/// `message HelloRequest { string name = 1; }` and
/// `message HelloReply { string message = 1; }`: one string field, tag 1.
macro_rules! one_string_message {
    ($name:ident, $field:ident) => {
        #[derive(Debug, Clone, Default, PartialEq)]
        struct $name {
            $field: String,
        }

        impl prost::Message for $name {
            fn encode_raw(&self, buf: &mut impl BufMut) {
                if !self.$field.is_empty() {
                    prost::encoding::string::encode(1, &self.$field, buf);
                }
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: WireType,
                buf: &mut impl Buf,
                ctx: DecodeContext,
            ) -> Result<(), prost::DecodeError> {
                match tag {
                    1 => prost::encoding::string::merge(wire_type, &mut self.$field, buf, ctx),
                    _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
                }
            }

            fn encoded_len(&self) -> usize {
                if self.$field.is_empty() {
                    0
                } else {
                    prost::encoding::string::encoded_len(1, &self.$field)
                }
            }

            fn clear(&mut self) {
                self.$field.clear();
            }
        }
    };
}

one_string_message!(HelloRequest, name);
one_string_message!(HelloReply, message);

/// The Greeter's one method: answers with the caller's authenticated
/// identity and suite, as the handler sees them in the request.
#[derive(Clone)]
struct SayHello;

impl tower_service::Service<tonic::Request<HelloRequest>> for SayHello {
    type Response = tonic::Response<HelloReply>;
    type Error = tonic::Status;
    type Future = std::future::Ready<Result<Self::Response, tonic::Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), tonic::Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::Request<HelloRequest>) -> Self::Future {
        let reply = match req.extensions().get::<AuthenticatedIdentity>() {
            Some(who) => Ok(tonic::Response::new(HelloReply {
                message: format!(
                    "hello {} from {} over {}",
                    req.get_ref().name,
                    who.identity(),
                    who.suite()
                ),
            })),
            None => Err(tonic::Status::unauthenticated("no Milagro identity")),
        };
        std::future::ready(reply)
    }
}

/// The gRPC server: routes `SAY_HELLO` to [`SayHello`], anything else is
/// `UNIMPLEMENTED`.
#[derive(Clone)]
struct Greeter;

impl tower_service::Service<http::Request<Incoming>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = StdPin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Incoming>) -> Self::Future {
        Box::pin(async move {
            if req.uri().path() != SAY_HELLO {
                return Ok(tonic::Status::unimplemented(req.uri().path()).into_http());
            }
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
            Ok(grpc.unary(SayHello, req).await)
        })
    }
}

/// A tonic channel to `addr` over `connector` (what
/// `Endpoint::connect_with_connector` gives), within [`LIMIT`].
async fn connect(
    addr: std::net::SocketAddr,
    connector: MilagroConnector,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(format!("https://localhost:{}", addr.port())).unwrap();
    timeout(
        LIMIT,
        endpoint.connect_with_connector(MilagroHttpsConnector::new(connector)),
    )
    .await
    .expect("in time")
}

async fn say_hello(
    channel: tonic::transport::Channel,
    name: &str,
) -> Result<tonic::Response<HelloReply>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(HelloRequest {
            name: name.to_owned(),
        }),
        PathAndQuery::from_static(SAY_HELLO),
        ProstCodec::<HelloRequest, HelloReply>::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_unary_call_over_cs_reaches_the_handler_with_the_identity() {
    let (acceptor, connector) = cs_alpn(PIN, &[ALPN_H2], &[ALPN_H2]);
    let (addr, handshakes) = start(acceptor, Greeter).await;
    let channel = connect(addr, connector).await.expect("connected");
    for name in ["first", "second"] {
        let reply = timeout(LIMIT, say_hello(channel.clone(), name))
            .await
            .expect("in time")
            .expect("the call succeeds");
        assert_eq!(
            reply.get_ref().message,
            format!("hello {name} from alice@example.com over CS")
        );
    }
    // An unknown method is the server's UNIMPLEMENTED, on the same connection.
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let status = grpc
        .unary::<HelloRequest, HelloReply, _>(
            tonic::Request::new(HelloRequest::default()),
            PathAndQuery::from_static("/milagro.test.Greeter/Nope"),
            ProstCodec::default(),
        )
        .await
        .expect_err("no such method");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    // Every call went over the one HTTP/2 connection.
    assert_eq!(handshakes.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_is_credential_refused_through_the_tonic_error() {
    let (acceptor, connector) = cs_alpn("9999", &[ALPN_H2], &[ALPN_H2]);
    let (addr, handshakes) = start(acceptor, Greeter).await;
    let err = connect(addr, connector).await.expect_err("refused");
    match find::<HttpsConnectError>(&err) {
        Some(HttpsConnectError::Handshake(ConnectError::Milagro(
            MilagroError::CredentialRefused,
        ))) => {}
        other => panic!("expected CredentialRefused, got {other:?} from {err:?}"),
    }
    assert_eq!(handshakes.load(Ordering::SeqCst), 0);
}
