//! The response future: runs the inner service's future inside the request's span and hands
//! the request's bookkeeping to the response body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::request::RequestState;

pin_project! {
    /// Response future of [`ResourceTrace`](super::ResourceTrace).
    ///
    /// Dropped before it completes (the client disconnected, a timeout fired), it still ends
    /// the request's span with its end figures, marked `resmon.cancelled`.
    pub struct ResponseFuture<F> {
        #[pin]
        pub(crate) inner: F,
        pub(crate) state: Option<RequestState>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    E: 'static,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _entered = this.state.as_ref().and_then(|s| s.enter());
            this.inner.poll(cx)
        };
        let result = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let mut state = this.state.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(s) = state.as_mut() {
                    s.on_response(&response);
                }
                Ok(response.map(|body| ResponseBody::new(body, state)))
            }
            Err(error) => {
                if let Some(s) = state.as_mut() {
                    s.on_error(&error);
                }
                Err(error)
            }
        })
    }
}
