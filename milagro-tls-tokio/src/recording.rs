//! The recording reader under `LazyConfigAcceptor`: every byte rustls reads
//! before its ClientHello is complete also goes to the same
//! [`ClientHelloRecorder`] the synchronous accept path uses, so both paths
//! parse exactly the bytes rustls parsed (docs/protocol.md §8.4.4).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use milagro_tls::tls::{ClientHelloError, ClientHelloRecorder, ParsedClientHello, Progress};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The transport wrapped while the ClientHello is read. Reads fail (and
/// rustls stops) as soon as the recorder refuses the bytes, or when rustls
/// asks for more after the recorder saw a complete ClientHello (a parser
/// differential, refused like the synchronous path does).
#[derive(Debug)]
pub(crate) struct Recording<IO> {
    io: IO,
    recorder: ClientHelloRecorder,
    hello: Option<ParsedClientHello>,
    error: Option<ClientHelloError>,
}

impl<IO> Recording<IO> {
    pub(crate) fn new(io: IO) -> Self {
        Self {
            io,
            recorder: ClientHelloRecorder::new(),
            hello: None,
            error: None,
        }
    }

    /// The parsed ClientHello, once complete.
    pub(crate) fn take_hello(&mut self) -> Option<ParsedClientHello> {
        self.hello.take()
    }

    /// Why the recorder refused the bytes, if it did.
    pub(crate) fn error(&self) -> Option<&ClientHelloError> {
        self.error.as_ref()
    }

    pub(crate) fn into_inner(self) -> IO {
        self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Recording<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = &this.error {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e.clone())));
        }
        if this.hello.is_some() {
            // rustls wants more although the ClientHello is complete.
            let e = ClientHelloError::AlreadyComplete;
            this.error = Some(e.clone());
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let fresh = buf.filled().get(before..).unwrap_or_default();
        if fresh.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match this.recorder.feed(fresh) {
            Ok(Progress::NeedMore) => Poll::Ready(Ok(())),
            Ok(Progress::Complete(hello)) => {
                this.hello = Some(hello);
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                this.error = Some(e.clone());
                Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)))
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Recording<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
