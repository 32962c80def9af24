//! The tower `Service`.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};

use super::future::ResponseFuture;
use super::handle::RequestResources;
use super::layer_state::LayerState;
use super::request::RequestState;
use crate::sampler::Sampler;

/// A service wrapped by [`ResourceTraceLayer`](super::ResourceTraceLayer).
#[derive(Clone, Debug)]
pub struct ResourceTrace<S> {
    inner: S,
    shared: Arc<LayerState>,
}

impl<S> ResourceTrace<S> {
    /// Wraps `inner`, reading `sampler`, with the settings of
    /// [`ResourceTraceLayer::new`](super::ResourceTraceLayer::new).
    pub fn new(inner: S, sampler: &Sampler) -> Self {
        Self::with_shared(inner, Arc::new(LayerState::new(sampler)))
    }

    pub(crate) fn with_shared(inner: S, shared: Arc<LayerState>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for ResourceTrace<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: 'static,
    ResBody: http_body::Body,
{
    type Response = Response<super::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        super::subscriber_check::check_once();
        let shared = &self.shared;
        let resources = RequestResources::new(&shared.sampler);
        let adopted = if shared.in_current_span {
            crate::layer::adopt_current(resources.start())
        } else {
            None
        };
        let state = RequestState::new(&req, shared.clone(), resources.start().clone(), adopted);
        req.extensions_mut().insert(resources);
        let inner = {
            let _entered = state.enter();
            self.inner.call(req)
        };
        ResponseFuture {
            inner,
            state: Some(state),
        }
    }
}
