//! The response body: the request ends (span, metrics, report) when the body ends, so a
//! streaming response is measured to its last byte.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::request::RequestState;

pin_project! {
    /// Response body of [`ResourceTrace`](super::ResourceTrace).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        state: Option<RequestState>,
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, mut state: Option<RequestState>) -> Self {
        if inner.is_end_stream() || state.as_ref().is_some_and(RequestState::bodiless) {
            // Nothing to stream (or nothing the protocol sends): the request is complete now.
            if let Some(s) = state.as_mut() {
                s.finish();
            }
            state = None;
        }
        Self { inner, state }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        // Inside the span: tracing-opentelemetry ends the OTel span at its last exit, so the
        // span lasts until the body's last frame.
        let polled = {
            let _entered = this.state.as_ref().and_then(|s| s.enter());
            this.inner.as_mut().poll_frame(cx)
        };
        match &polled {
            Poll::Pending => {}
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(s) = this.state.as_mut() {
                    if let Some(data) = frame.data_ref() {
                        s.add_response_bytes(data.remaining() as u64);
                    }
                    if let Some(trailers) = frame.trailers_ref() {
                        s.grpc_status(trailers);
                    }
                }
                // Servers stop polling once the body says it has ended (hyper does after the
                // last frame of a sized body): that is the end of the request.
                if this.inner.is_end_stream() || this.inner.size_hint().exact() == Some(0) {
                    if let Some(mut s) = this.state.take() {
                        s.finish();
                    }
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                if let Some(mut s) = this.state.take() {
                    s.finish();
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
